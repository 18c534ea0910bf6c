//! Decks and statements as plain data, and the wording fingerprint.
//!
//! Loading decks from TOML files lives in [`crate::decks`]; this file only knows what a valid
//! deck is.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A deck: a named set of statements, one TOML file in `statements/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deck {
    /// The file stem, e.g. `vertrouwen`.
    pub id: String,
    pub title: String,
    pub language: Language,
    pub statements: Vec<Statement>,
}

impl Deck {
    /// The statement at a 1-based position.
    pub fn statement(&self, position: u32) -> Option<&Statement> {
        let index = usize::try_from(position).ok()?.checked_sub(1)?;
        self.statements.get(index)
    }

    pub fn len(&self) -> u32 {
        u32::try_from(self.statements.len()).unwrap_or(u32::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The 1-based position of a statement id.
    pub fn position_of(&self, statement_id: &str) -> Option<u32> {
        self.statements
            .iter()
            .position(|s| s.id == statement_id)
            .map(|i| i as u32 + 1)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Stable id, so that sessions in different municipalities can be compared.
    pub id: String,
    pub text: String,
    pub source: Option<String>,
}

impl Statement {
    pub fn wording(&self) -> Wording {
        Wording::of(&self.text)
    }
}

/// The language participants see a deck in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    #[default]
    Nl,
    En,
}

impl Language {
    pub const ALL: [(&'static str, Language); 2] = [("nl", Language::Nl), ("en", Language::En)];

    pub fn parse(code: &str) -> Option<Language> {
        Self::ALL.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Nl => "nl",
            Language::En => "en",
        }
    }
}

/// A short stable fingerprint of a statement's wording: the first 8 hex digits of the SHA-256
/// of the text with runs of whitespace made one space. Stored with every round, so answers to
/// different wordings of one statement id are never silently merged. Re-wrapping a line in the
/// TOML file does not change it; changing a word does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Wording(String);

impl Wording {
    pub fn of(text: &str) -> Wording {
        let normalized = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let digest = Sha256::digest(normalized.as_bytes());
        Wording(hex::encode(&digest[..4]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Wording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The rule for statement ids and deck ids: lowercase ASCII letters, digits and '-', not empty,
/// not starting or ending with '-'.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Statement text limits, counted in characters after trimming.
pub const MAX_STATEMENT_CHARS: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_ignores_whitespace_layout_only() {
        let a = Wording::of("Ik ervaar dat het vertrouwen\n  is afgenomen");
        let b = Wording::of(" Ik ervaar dat het vertrouwen is afgenomen ");
        let c = Wording::of("Ik ervaar dat het vertrouwen is toegenomen");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str().len(), 8);
    }

    #[test]
    fn wording_is_stable_across_releases() {
        // Stored in databases: changing the function would split every comparison.
        assert_eq!(Wording::of("abc").as_str(), "ba7816bf");
    }

    #[test]
    fn ids() {
        for ok in ["vertrouwen", "stelling-1", "a", "2026-raad"] {
            assert!(is_valid_id(ok), "{ok}");
        }
        for bad in ["", "Vertrouwen", "stelling 1", "-a", "a-", "ë", "a_b"] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn positions_are_one_based() {
        let deck = Deck {
            id: "d".into(),
            title: "t".into(),
            language: Language::Nl,
            statements: vec![
                Statement {
                    id: "a".into(),
                    text: "A".into(),
                    source: None,
                },
                Statement {
                    id: "b".into(),
                    text: "B".into(),
                    source: None,
                },
            ],
        };
        assert_eq!(deck.statement(1).unwrap().id, "a");
        assert_eq!(deck.statement(2).unwrap().id, "b");
        assert!(deck.statement(0).is_none());
        assert!(deck.statement(3).is_none());
        assert_eq!(deck.position_of("b"), Some(2));
    }
}
