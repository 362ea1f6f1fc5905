//! End-to-end tests of the signing server and `relyard sign`: a relyard server (auth, on a test
//! database) checks the Hawk credentials of token requests, signing servers run on 127.0.0.1:0,
//! and every signature is checked with an independent tool (gpg, minisign, sha256sum, the PyPI
//! `mar`; scripts/test installs them and puts its venv on PATH).

mod access;
mod api;
mod batch;
mod client;
mod common;
mod startup;
