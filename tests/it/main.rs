//! Integration tests: the real `stemkaart` binary and library, one test binary.

mod bot;
mod charts;
mod cli;
mod demo;
mod harness;
mod load;
mod sim;
