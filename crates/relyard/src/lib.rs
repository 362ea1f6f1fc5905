//! The relyard server as a library: the binary's subcommands and the test helpers start it
//! through [`server::Server`].

pub mod config;
pub mod server;
pub mod tls;
