//! Integration tests: the real `stemkaart` binary and library, one test binary.

mod cli;
mod sim;
