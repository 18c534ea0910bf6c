//! Integration tests: the real `stemkaart` binary and library, one test binary.

mod bot;
mod charts;
mod cli;
mod demo;
mod discord_errors;
mod harness;
mod sim;
#[cfg(target_os = "linux")] // prlimit
mod storage;
