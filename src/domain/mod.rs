//! The workshop domain as plain data and plain functions: decks, municipalities, sessions,
//! rounds, the vote rules, results and the CSV export.
//!
//! Invariant: nothing here does IO, reads the clock, or knows about sled or serenity.

pub mod deck;
pub mod export;
pub mod municipality;
pub mod session;
pub mod time;
pub mod vote;

pub use deck::{Deck, Language, Statement, Wording};
pub use municipality::Municipality;
pub use session::{Round, RoundId, RoundResult, Session, SessionId, Tally};
pub use time::Timestamp;
pub use vote::{Colour, OnlineCount, Presence, Reaction, RoundVotes, Vote, VoterState};
