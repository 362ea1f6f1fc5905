// Each test binary uses only part of the helpers.
#![allow(dead_code)]

pub mod fake_github;
pub mod setup;
