//! Sessions, rounds, room counts and results as plain data, with the rules that decide which
//! statement comes next.

use super::deck::{Deck, Wording};

use super::municipality::Municipality;
use super::time::Timestamp;
use super::vote::OnlineCount;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoundId(pub u64);

/// One workshop in one municipality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub municipality: Municipality,
    pub label: Option<String>,
    pub deck_id: String,
    /// The deck's title when the session started (decks can be renamed later).
    pub deck_title: String,
    /// The deck's language: statement messages are written in it.
    #[serde(default)]
    pub language: super::deck::Language,
    pub guild_id: u64,
    pub channel_id: u64,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

impl Session {
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// One statement posted in a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub id: RoundId,
    pub session_id: SessionId,
    pub statement_id: String,
    /// 1-based position in the deck ("Stelling N/M").
    pub position: u32,
    /// M: the number of statements in the deck when posted.
    pub deck_size: u32,
    /// The wording as posted: part of the record.
    pub text: String,
    pub wording: Wording,
    pub channel_id: u64,
    pub message_id: u64,
    pub opened_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    /// Online votes, fixed when the round closes.
    pub online: Option<OnlineCount>,
    /// Cards counted in the room, typed by the facilitator.
    pub room: Option<Tally>,
}

impl Round {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// The result of a closed round; `None` while it is open.
    pub fn result(&self) -> Option<RoundResult> {
        self.online.map(|online| RoundResult {
            online,
            room: self.room,
        })
    }
}

/// Agree/disagree counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub agree: u32,
    pub disagree: u32,
}

impl Tally {
    pub fn new(agree: u32, disagree: u32) -> Tally {
        Tally { agree, disagree }
    }

    pub fn n(&self) -> u32 {
        self.agree + self.disagree
    }

    /// Percentage agree, `None` when nobody voted.
    pub fn pct_agree(&self) -> Option<f64> {
        (self.n() > 0).then(|| f64::from(self.agree) * 100.0 / f64::from(self.n()))
    }

    pub fn plus(self, other: Tally) -> Tally {
        Tally::new(self.agree + other.agree, self.disagree + other.disagree)
    }
}

impl From<OnlineCount> for Tally {
    fn from(count: OnlineCount) -> Tally {
        Tally::new(count.agree, count.disagree)
    }
}

/// The result of a round: online, room and total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundResult {
    pub online: OnlineCount,
    pub room: Option<Tally>,
}

impl RoundResult {
    pub fn online_tally(&self) -> Tally {
        self.online.into()
    }

    pub fn room_tally(&self) -> Tally {
        self.room.unwrap_or_default()
    }

    pub fn total(&self) -> Tally {
        self.online_tally().plus(self.room_tally())
    }
}

/// Why a statement cannot be posted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("the deck has {deck_size} statements; there is no number {position}")]
    NoSuchPosition { position: u32, deck_size: u32 },
    #[error("statement {position} is already closed in this session")]
    AlreadyClosed { position: u32 },
    #[error("statement {position} is open right now")]
    AlreadyOpen { position: u32 },
    #[error("every statement after number {last} has been posted")]
    NoneLeft { last: u32, skipped: Vec<u32> },
}

/// Which statement `/statement next` posts: the first statement after the last posted one that
/// has not been posted in this session. `rounds` are the session's rounds in posting order.
pub fn next_position(deck: &Deck, rounds: &[Round]) -> Result<u32, PostError> {
    let posted = |p: u32| rounds.iter().any(|r| r.position == p);
    let last = rounds.last().map_or(0, |r| r.position);
    (last + 1..=deck.len())
        .find(|p| !posted(*p))
        .ok_or_else(|| PostError::NoneLeft {
            last,
            skipped: (1..=deck.len()).filter(|p| !posted(*p)).collect(),
        })
}

/// Check that the statement at `position` may be posted (by `/statement post` or `next`).
/// A statement already closed in this session is refused; so is the one that is open.
pub fn check_post(deck: &Deck, rounds: &[Round], position: u32) -> Result<(), PostError> {
    if position == 0 || position > deck.len() {
        return Err(PostError::NoSuchPosition {
            position,
            deck_size: deck.len(),
        });
    }
    match rounds.iter().find(|r| r.position == position) {
        Some(round) if round.is_open() => Err(PostError::AlreadyOpen { position }),
        Some(_) => Err(PostError::AlreadyClosed { position }),
        None => Ok(()),
    }
}

/// The round `/room` applies to: the open round, or else the last closed one.
pub fn room_target(rounds: &[Round]) -> Option<&Round> {
    rounds.iter().find(|r| r.is_open()).or_else(|| {
        rounds
            .iter()
            .filter(|r| !r.is_open())
            .max_by_key(|r| r.closed_at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deck::{Language, Statement};

    fn deck(n: u32) -> Deck {
        Deck {
            id: "d".into(),
            title: "Deck".into(),
            language: Language::Nl,
            statements: (1..=n)
                .map(|i| Statement {
                    id: format!("s{i}"),
                    text: format!("Stelling {i}"),
                    source: None,
                })
                .collect(),
        }
    }

    fn round(position: u32, closed: Option<i64>) -> Round {
        Round {
            id: RoundId(u64::from(position)),
            session_id: SessionId(1),
            statement_id: format!("s{position}"),
            position,
            deck_size: 5,
            text: String::new(),
            wording: Wording::of(""),
            channel_id: 1,
            message_id: 100 + u64::from(position),
            opened_at: Timestamp(0),
            closed_at: closed.map(Timestamp),
            online: closed.map(|_| OnlineCount::default()),
            room: None,
        }
    }

    #[test]
    fn next_is_first_unposted_after_last_posted() {
        let d = deck(5);
        assert_eq!(next_position(&d, &[]), Ok(1));
        assert_eq!(next_position(&d, &[round(1, Some(1))]), Ok(2));
        assert_eq!(
            next_position(&d, &[round(1, Some(1)), round(3, Some(2))]),
            Ok(4)
        );
        // Posted 4 first, then 1: next is 2 (after the last posted), skipping nothing posted.
        assert_eq!(
            next_position(&d, &[round(4, Some(1)), round(1, Some(2))]),
            Ok(2)
        );
        assert_eq!(
            next_position(
                &d,
                &[round(4, Some(1)), round(2, Some(2)), round(3, Some(3))]
            ),
            Ok(5)
        );
    }

    #[test]
    fn next_at_the_end_names_skipped_statements() {
        let d = deck(3);
        assert_eq!(
            next_position(&d, &[round(1, Some(1)), round(3, Some(2))]),
            Err(PostError::NoneLeft {
                last: 3,
                skipped: vec![2]
            })
        );
    }

    #[test]
    fn posting_checks() {
        let d = deck(3);
        let rounds = [round(1, Some(1)), round(2, None)];
        assert_eq!(check_post(&d, &rounds, 3), Ok(()));
        assert_eq!(
            check_post(&d, &rounds, 1),
            Err(PostError::AlreadyClosed { position: 1 })
        );
        assert_eq!(
            check_post(&d, &rounds, 2),
            Err(PostError::AlreadyOpen { position: 2 })
        );
        assert_eq!(
            check_post(&d, &rounds, 4),
            Err(PostError::NoSuchPosition {
                position: 4,
                deck_size: 3
            })
        );
        assert!(check_post(&d, &rounds, 0).is_err());
    }

    #[test]
    fn room_goes_to_open_round_else_last_closed() {
        let open = [round(1, Some(1)), round(2, None)];
        assert_eq!(room_target(&open).unwrap().position, 2);
        let closed = [round(2, Some(5)), round(1, Some(9))];
        assert_eq!(room_target(&closed).unwrap().position, 1);
        assert!(room_target(&[]).is_none());
    }

    #[test]
    fn results_add_online_and_room() {
        let result = RoundResult {
            online: OnlineCount {
                agree: 3,
                disagree: 1,
                ambiguous: 2,
            },
            room: Some(Tally::new(10, 6)),
        };
        assert_eq!(result.total(), Tally::new(13, 7));
        assert_eq!(result.total().n(), 20);
        assert_eq!(result.total().pct_agree(), Some(65.0));
        assert_eq!(Tally::default().pct_agree(), None);
    }
}
