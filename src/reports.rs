//! Charts and the CSV written to files from the store: what `stemkaart charts` and the demo
//! write, with stable, readable file names.

use crate::charts::data::{self, CompareError, Style};
use crate::charts::{self, ChartError};
use crate::decks::DeckSet;
use crate::domain::{export, Language, Round, Session};
use crate::store::Store;
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::charts::data::slug;

/// How written files are marked: the chart style, and a file-name prefix.
#[derive(Clone, Debug)]
pub struct Mark {
    pub style: Style,
    pub prefix: &'static str,
    /// Session file names carry the session's date (the demo's sessions all happen in one
    /// run, so its file names leave the date out and a rerun overwrites the last one).
    pub dated: bool,
}

impl Mark {
    pub fn plain(language: Language) -> Mark {
        Mark {
            style: Style {
                language,
                simulated: false,
            },
            prefix: "",
            dated: true,
        }
    }

    /// Simulated data: `demo-` file names and "gesimuleerde gegevens" on every chart.
    pub fn demo(language: Language) -> Mark {
        Mark {
            style: Style {
                language,
                simulated: true,
            },
            prefix: "demo-",
            dated: false,
        }
    }
}

/// A file that was written.
#[derive(Clone, Debug)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: usize,
    pub what: String,
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  ({}, {:.0} KB)",
            self.path.display(),
            self.what,
            self.bytes as f64 / 1024.0
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot draw {what}")]
    Chart { what: String, source: ChartError },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no deck `{0}` in the stored sessions or the statements folder")]
    UnknownDeck(String),
}

/// The charts of every session with a closed statement, and the comparisons of every deck
/// (or only of `deck`): the whole deck, and each statement alone.
pub fn write_charts(
    store: &Store,
    decks: &DeckSet,
    deck: Option<&str>,
    out: &Path,
    mark: &Mark,
) -> Result<Vec<Written>, ReportError> {
    let sessions = store.sessions_with_rounds()?;
    let deck_ids: BTreeSet<&str> = sessions.iter().map(|(s, _)| s.deck_id.as_str()).collect();
    if let Some(wanted) = deck {
        if !deck_ids.contains(wanted) && decks.get(wanted).is_none() {
            return Err(ReportError::UnknownDeck(wanted.to_string()));
        }
    }
    let mut written = Vec::new();
    let mut names = HashSet::new();
    for (session, rounds) in &sessions {
        if deck.is_some_and(|d| d != session.deck_id) {
            continue;
        }
        let Some(chart) = data::session_chart(session, rounds, &mark.style) else {
            continue;
        };
        let what = format!("result of {}", session.municipality);
        let png = charts::render_session(&chart).map_err(|source| ReportError::Chart {
            what: what.clone(),
            source,
        })?;
        let mut name = session_file_name(session, mark.prefix, mark.dated);
        if !names.insert(name.clone()) {
            name = name.replace(".png", &format!("-{}.png", session.id.0));
            names.insert(name.clone());
        }
        written.push(write(out, &name, &png, what)?);
    }
    for deck_id in deck_ids {
        if deck.is_some_and(|d| d != deck_id) {
            continue;
        }
        let current = decks.get(deck_id);
        let whole = match data::compare_chart(deck_id, current, &sessions, None, &mark.style) {
            Ok(chart) => chart,
            Err(CompareError::NoSessions(_)) => continue,
            Err(other) => unreachable!("a whole-deck comparison has no statement filter: {other}"),
        };
        let what = format!("comparison of deck {deck_id}");
        let png = charts::render_compare(&whole).map_err(|source| ReportError::Chart {
            what: what.clone(),
            source,
        })?;
        let base = format!("{}vergelijking-{}", mark.prefix, slug(deck_id));
        written.push(write(out, &format!("{base}.png"), &png, what)?);
        for position in whole.groups.iter().filter_map(|g| g.position) {
            let Ok(chart) =
                data::compare_chart(deck_id, current, &sessions, Some(position), &mark.style)
            else {
                continue;
            };
            let what = format!("statement {position} of deck {deck_id} across sessions");
            let png = charts::render_compare(&chart).map_err(|source| ReportError::Chart {
                what: what.clone(),
                source,
            })?;
            written.push(write(
                out,
                &format!("{base}-stelling-{position}.png"),
                &png,
                what,
            )?);
        }
    }
    Ok(written)
}

/// The charts and the CSV export.
pub fn write_all(
    store: &Store,
    decks: &DeckSet,
    out: &Path,
    mark: &Mark,
) -> Result<Vec<Written>, ReportError> {
    let mut written = write_charts(store, decks, None, out, mark)?;
    let csv = export::csv(&store.sessions_with_rounds()?);
    let rows = csv.lines().count() - 1;
    let name = format!("{}export.csv", mark.prefix);
    written.push(write(
        out,
        &name,
        csv.as_bytes(),
        format!("CSV, {rows} rows"),
    )?);
    Ok(written)
}

/// `sessie-2026-11-29-sudwest-fryslan-raadsavond.png`: date, municipality, label.
pub fn session_file_name(session: &Session, prefix: &str, dated: bool) -> String {
    let mut name = format!("{prefix}sessie-");
    if dated {
        name.push_str(&session.started_at.date_iso());
        name.push('-');
    }
    name.push_str(&slug(session.municipality.as_str()));
    if let Some(label) = &session.label {
        name.push('-');
        name.push_str(&slug(label));
    }
    name.push_str(".png");
    name
}

fn write(out: &Path, name: &str, bytes: &[u8], what: String) -> Result<Written, ReportError> {
    let path = out.join(name);
    crate::cli::write_file(&path, bytes).map_err(|err| ReportError::Write {
        path: path.clone(),
        source: std::io::Error::other(format!("{err:#}")),
    })?;
    Ok(Written {
        path,
        bytes: bytes.len(),
        what,
    })
}

/// Sessions and rounds as the bot's `/results` needs them, rendered off the async runtime.
pub async fn render_session_png(
    session: Session,
    rounds: Vec<Round>,
    style: Style,
) -> Result<Option<Vec<u8>>, ChartError> {
    tokio::task::spawn_blocking(move || {
        data::session_chart(&session, &rounds, &style)
            .map(|chart| charts::render_session(&chart))
            .transpose()
    })
    .await
    .map_err(|err| ChartError::Draw(format!("the drawing task failed: {err}")))?
}

/// Render a comparison off the async runtime.
pub async fn render_compare_png(chart: charts::CompareChart) -> Result<Vec<u8>, ChartError> {
    tokio::task::spawn_blocking(move || charts::render_compare(&chart))
        .await
        .map_err(|err| ChartError::Draw(format!("the drawing task failed: {err}")))?
}
