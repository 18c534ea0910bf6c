//! Integration tests: the real `stemkaart` binary and library, one test binary.

mod access;
mod bot;
mod charts;
mod cli;
mod corrupt;
mod crash;
mod demo;
mod discord_errors;
mod fuzz;
mod gateway_faults;
mod harness;
mod load;
mod mentions;
mod privacy;
mod sim;
#[cfg(target_os = "linux")] // prlimit
mod storage;
