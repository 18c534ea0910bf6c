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

/// Text from a file or typed by someone, quoted back between backticks in a message: one line,
/// at most 40 characters (a deck option may be 6,000 characters long), no backticks of its own.
pub fn quoted(text: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = text
        .chars()
        .take(MAX)
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}
