//! Integration tests: the real `stemkaart` binary and library, one test binary.

mod bot;
mod charts;
mod cli;
mod crash;
mod demo;
mod gateway_faults;
mod harness;
mod sim;
