//! stemkaart: live green/red card polling for hybrid workshops on Discord.

pub mod charts;
pub mod cli;
pub mod config;
pub mod decks;
pub mod demo;
pub mod discord;
pub mod domain;
pub mod messages;
pub mod reports;
pub mod round_keys;
pub mod sim;
pub mod store;
pub mod tally;
pub mod voter_key;
pub mod workshop;
