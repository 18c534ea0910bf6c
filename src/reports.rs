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

/// What [`write_charts`] did: the files written, and the charts that could not be drawn (one
/// chart that cannot be drawn does not keep the others from being written).
#[derive(Debug, Default)]
pub struct Charts {
    pub written: Vec<Written>,
    pub failed: Vec<ReportError>,
}

impl Charts {
    /// Render with `render`; a chart that cannot be drawn is noted, the others go on.
    fn add(
        &mut self,
        out: &Path,
        name: &str,
        what: String,
        render: impl FnOnce() -> Result<Vec<u8>, ChartError>,
    ) -> Result<(), ReportError> {
        match render() {
            Ok(png) => self.written.push(write(out, name, &png, what)?),
            Err(source) => self.failed.push(ReportError::Chart { what, source }),
        }
        Ok(())
    }
}

/// The charts of every session with a closed statement, and the comparisons of every deck
/// (or only of `deck`): the whole deck, and each statement alone. Fails only when nothing can
/// be read or a file cannot be written.
pub fn write_charts(
    store: &Store,
    decks: &DeckSet,
    deck: Option<&str>,
    out: &Path,
    mark: &Mark,
) -> Result<Charts, ReportError> {
    let sessions = store.sessions_with_rounds()?;
    let deck_ids: BTreeSet<&str> = sessions.iter().map(|(s, _)| s.deck_id.as_str()).collect();
    if let Some(wanted) = deck {
        if !deck_ids.contains(wanted) && decks.get(wanted).is_none() {
            return Err(ReportError::UnknownDeck(wanted.to_string()));
        }
    }
    let mut done = Charts::default();
    let mut names = HashSet::new();
    for (session, rounds) in &sessions {
        if deck.is_some_and(|d| d != session.deck_id) {
            continue;
        }
        let Some(chart) = data::session_chart(session, rounds, &mark.style) else {
            continue;
        };
        let what = format!("result of {}", session.municipality);
        let mut name = session_file_name(session, mark.prefix, mark.dated);
        if !names.insert(name.clone()) {
            name = name.replace(".png", &format!("-{}.png", session.id.0));
            names.insert(name.clone());
        }
        done.add(out, &name, what, || charts::render_session(&chart))?;
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
        let base = format!("{}vergelijking-{}", mark.prefix, slug(deck_id));
        done.add(out, &format!("{base}.png"), what, || {
            charts::render_compare(&whole)
        })?;
        for position in whole.groups.iter().filter_map(|g| g.position) {
            let Ok(chart) =
                data::compare_chart(deck_id, current, &sessions, Some(position), &mark.style)
            else {
                continue;
            };
            let what = format!("statement {position} of deck {deck_id} across sessions");
            done.add(
                out,
                &format!("{base}-stelling-{position}.png"),
                what,
                || charts::render_compare(&chart),
            )?;
        }
    }
    Ok(done)
}

/// The charts and the CSV export.
pub fn write_all(
    store: &Store,
    decks: &DeckSet,
    out: &Path,
    mark: &Mark,
) -> Result<Vec<Written>, ReportError> {
    let Charts {
        mut written,
        failed,
    } = write_charts(store, decks, None, out, mark)?;
    if let Some(first) = failed.into_iter().next() {
        return Err(first);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_that_cannot_be_drawn_is_noted_and_the_others_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut charts = Charts::default();
        charts
            .add(dir.path(), "te-groot.png", "result of Ede".into(), || {
                Err(ChartError::TooLarge { height: 60_407 })
            })
            .unwrap();
        charts
            .add(dir.path(), "arnhem.png", "result of Arnhem".into(), || {
                Ok(b"png bytes".to_vec())
            })
            .unwrap();
        assert_eq!(charts.written.len(), 1);
        assert_eq!(charts.written[0].path, dir.path().join("arnhem.png"));
        assert!(!dir.path().join("te-groot.png").exists());
        let failed: Vec<String> = charts.failed.iter().map(|e| e.to_string()).collect();
        assert_eq!(failed, ["cannot draw result of Ede"]);
        assert!(matches!(
            charts.failed[0],
            ReportError::Chart {
                source: ChartError::TooLarge { height: 60_407 },
                ..
            }
        ));
    }
}
