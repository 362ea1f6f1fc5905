//! End-to-end tests of `relyard ci check` / `relyard ci run`: fixture repositories made into real
//! git repositories, and the built binary run on them (its embedded server and workers, or a test
//! server on SQLite / PostgreSQL with a real `relyard worker` beside it).

mod check;
mod common;
mod remote;
mod run;
