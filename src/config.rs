//! Settings: command-line flags, then environment variables, then an optional config file,
//! then defaults. A wrong setting is named in the error.
//!
//! The config file (TOML) is `--config FILE`, `STEMKAART_CONFIG`, or `stemkaart.toml` in the
//! working directory when it exists. It may hold `db`, `statements`, `api_url`, `guild_id` and
//! `facilitator_role`. Secrets (`DISCORD_TOKEN`, `STEMKAART_VOTER_KEY`) come from the
//! environment only, so they never end up in a file that might be shared.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_DB: &str = "data/stemkaart.db";
pub const DEFAULT_STATEMENTS: &str = "statements";
pub const DEFAULT_CONFIG: &str = "stemkaart.toml";

/// What the config file may hold.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub db: Option<PathBuf>,
    pub statements: Option<PathBuf>,
    pub api_url: Option<String>,
    pub guild_id: Option<u64>,
    pub facilitator_role: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{name} is not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name} is not valid: {message}")]
    Wrong { name: &'static str, message: String },
}

impl FileConfig {
    /// Load the config file: `explicit` (from `--config` / `STEMKAART_CONFIG`) must exist;
    /// otherwise `stemkaart.toml` is read when it is there.
    pub fn load(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None if Path::new(DEFAULT_CONFIG).is_file() => PathBuf::from(DEFAULT_CONFIG),
            None => return Ok(FileConfig::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        toml_edit::de::from_str(&text).map_err(|err| ConfigError::Invalid {
            path,
            message: err.to_string().trim().replace('\n', " "),
        })
    }
}

/// Check a Discord-compatible API base URL (`DISCORD_API_URL`): `http(s)://host[:port]`,
/// without a path; returns it without a trailing slash.
pub fn parse_api_url(value: &str) -> Result<String, ConfigError> {
    let url = value.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| ConfigError::Wrong {
            name: "DISCORD_API_URL",
            message: format!("`{value}` must start with http:// or https://"),
        })?;
    if rest.is_empty() || rest.contains('/') {
        return Err(ConfigError::Wrong {
            name: "DISCORD_API_URL",
            message: format!(
                "`{value}` must be a base URL like http://127.0.0.1:8080 (no path; /api/v10 is added)"
            ),
        });
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls() {
        assert_eq!(
            parse_api_url("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000"
        );
        assert!(parse_api_url("127.0.0.1:5000").is_err());
        let err = parse_api_url("http://h/api/v10").unwrap_err().to_string();
        assert!(err.starts_with("DISCORD_API_URL is not valid"), "{err}");
    }

    #[test]
    fn config_file_rejects_unknown_keys_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "db = \"x.db\"\nguild = 5\n").unwrap();
        let err = FileConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("unknown field `guild`"), "{err}");
        std::fs::write(&path, "db = \"x.db\"\nguild_id = 5\n").unwrap();
        let config = FileConfig::load(Some(&path)).unwrap();
        assert_eq!(config.db, Some(PathBuf::from("x.db")));
        assert_eq!(config.guild_id, Some(5));
        assert!(FileConfig::load(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
