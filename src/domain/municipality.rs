//! Municipality (*gemeente*) names: kept as typed, compared without regard to case and spaces.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A municipality name as the facilitator typed it ("Súdwest Fryslân"), trimmed.
///
/// Two names are the same municipality when they are equal after trimming, folding runs of
/// whitespace to one space and lowercasing: "  súdwest  fryslân " is "Súdwest Fryslân".
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Municipality {
    display: String,
    key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MunicipalityError {
    #[error("the municipality name is empty")]
    Empty,
    #[error("the municipality name is longer than {max} characters")]
    TooLong { max: usize },
}

impl Municipality {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(name: &str) -> Result<Municipality, MunicipalityError> {
        let display = name.trim();
        if display.is_empty() {
            return Err(MunicipalityError::Empty);
        }
        if display.chars().count() > Self::MAX_CHARS {
            return Err(MunicipalityError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        let key = display
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        Ok(Municipality {
            display: display.to_string(),
            key,
        })
    }

    /// The name as typed (trimmed).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The comparison key: what makes two spellings the same municipality.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl PartialEq for Municipality {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Municipality {}

impl std::hash::Hash for Municipality {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl fmt::Display for Municipality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl TryFrom<String> for Municipality {
    type Error = MunicipalityError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Municipality::parse(&value)
    }
}

impl From<Municipality> for String {
    fn from(value: Municipality) -> Self {
        value.display
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_as_typed_compared_loosely() {
        let a = Municipality::parse("  Súdwest Fryslân ").unwrap();
        let b = Municipality::parse("súdwest   FRYSLÂN").unwrap();
        assert_eq!(a.as_str(), "Súdwest Fryslân");
        assert_eq!(a, b);
        assert_ne!(a, Municipality::parse("Arnhem").unwrap());
    }

    #[test]
    fn rejects_empty_and_overlong() {
        assert_eq!(Municipality::parse("   "), Err(MunicipalityError::Empty));
        let long = "a".repeat(101);
        assert!(matches!(
            Municipality::parse(&long),
            Err(MunicipalityError::TooLong { .. })
        ));
    }
}
