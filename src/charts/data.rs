//! What goes into each bar: chart models built from stored sessions and rounds (plain data in,
//! plain data out — tested without drawing anything).

use super::{Cell, CompareChart, CompareGroup, Labels, SessionBar, SessionChart};
use crate::domain::{Deck, Language, Round, Session, Tally, Wording};
use std::collections::{BTreeMap, HashMap};

/// How a chart is worded and marked.
#[derive(Clone, Debug)]
pub struct Style {
    pub language: Language,
    /// Demo data: said in the subtitle of every chart.
    pub simulated: bool,
}

impl Style {
    pub fn labels(&self) -> Labels {
        match self.language {
            Language::Nl => Labels::dutch(),
            Language::En => Labels::english(),
        }
    }

    fn pick(&self, nl: &str, en: &str) -> String {
        match self.language {
            Language::Nl => nl.to_string(),
            Language::En => en.to_string(),
        }
    }

    fn simulated_mark(&self) -> Option<String> {
        self.simulated
            .then(|| self.pick("gesimuleerde gegevens (demo)", "simulated data (demo)"))
    }
}

/// The result chart of one session: its closed rounds in deck order. `None` when no round has
/// closed yet.
pub fn session_chart(session: &Session, rounds: &[Round], style: &Style) -> Option<SessionChart> {
    let mut closed: Vec<&Round> = rounds.iter().filter(|r| !r.is_open()).collect();
    if closed.is_empty() {
        return None;
    }
    closed.sort_by_key(|r| (r.position, r.opened_at));
    let bars = closed
        .iter()
        .map(|round| {
            let result = round.result().expect("closed rounds have a result");
            let ambiguous = result.online.ambiguous;
            SessionBar {
                position: round.position,
                text: round.text.clone(),
                online: result.online_tally(),
                room: result.room,
                note: (ambiguous > 0).then(|| match (ambiguous, style.language) {
                    (1, Language::Nl) => "1 stem niet te bepalen".to_string(),
                    (n, Language::Nl) => format!("{n} stemmen niet te bepalen"),
                    (1, Language::En) => "1 vote undetermined".to_string(),
                    (n, Language::En) => format!("{n} votes undetermined"),
                }),
            }
        })
        .collect::<Vec<_>>();
    let count = bars.len();
    let mut subtitle: Vec<String> = Vec::new();
    subtitle.extend(session.label.clone());
    subtitle.push(session.started_at.date_nl());
    subtitle.push(format!("deck {}", session.deck_id));
    subtitle.push(match (count, style.language) {
        (1, Language::Nl) => "1 stelling".into(),
        (n, Language::Nl) => format!("{n} stellingen"),
        (1, Language::En) => "1 statement".into(),
        (n, Language::En) => format!("{n} statements"),
    });
    subtitle.extend(style.simulated_mark());
    let open: Vec<String> = rounds
        .iter()
        .filter(|r| r.is_open())
        .map(|r| r.position.to_string())
        .collect();
    let footnote = (!open.is_empty()).then(|| {
        style.pick(
            &format!(
                "Stelling {} staat nog open en is niet meegeteld.",
                open.join(", ")
            ),
            &format!(
                "Statement {} is still open and not included.",
                open.join(", ")
            ),
        )
    });
    Some(SessionChart {
        title: style.pick(
            &format!("Uitslag sessie {}", session.municipality),
            &format!("Result of session {}", session.municipality),
        ),
        subtitle: subtitle.join(" · "),
        labels: style.labels(),
        bars,
        footnote,
    })
}

/// Why a comparison cannot be drawn.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    #[error("no session of deck `{0}` has a closed statement yet")]
    NoSessions(String),
    #[error("deck `{deck}` has no statement {position}")]
    NoStatement { deck: String, position: u32 },
    #[error("statement {position} of deck `{deck}` has not closed in any session")]
    NeverAsked { deck: String, position: u32 },
}

/// One statement as compared: its id, deck position, the reference wording and its text.
struct Row {
    id: String,
    position: Option<u32>,
    text: String,
    wording: Option<Wording>,
}

/// The most sessions a whole-deck comparison shows (the latest ones); one statement alone
/// shows them all.
pub const MAX_DECK_SESSIONS: usize = 24;

/// The most sessions a single-statement comparison shows one by one; with more, it shows one
/// bar per municipality (its sessions added up).
pub const MAX_STATEMENT_SESSIONS: usize = 100;

/// Compare every session of a deck, statement by statement. `deck` is the deck as it is now
/// (for order, texts and the reference wording); without it (the file is gone) the rounds
/// themselves give order and text. `statement`: only that deck position, sessions sorted by
/// % agree.
pub fn compare_chart(
    deck_id: &str,
    deck: Option<&Deck>,
    sessions: &[(Session, Vec<Round>)],
    statement: Option<u32>,
    style: &Style,
) -> Result<CompareChart, CompareError> {
    let sessions: Vec<(&Session, Vec<&Round>)> = sessions
        .iter()
        .filter(|(s, _)| s.deck_id == deck_id)
        .map(|(s, rounds)| {
            (
                s,
                rounds.iter().filter(|r| !r.is_open()).collect::<Vec<_>>(),
            )
        })
        .filter(|(_, rounds)| !rounds.is_empty())
        .collect();
    if sessions.is_empty() {
        return Err(CompareError::NoSessions(deck_id.to_string()));
    }
    // The whole deck for hundreds of sessions would be tens of thousands of pixels tall:
    // only the latest sessions, and the chart and the reply say so (one statement alone still
    // shows every session).
    let total_sessions = sessions.len();
    let mut sessions = sessions;
    if statement.is_none() && sessions.len() > MAX_DECK_SESSIONS {
        sessions.sort_by_key(|(s, _)| std::cmp::Reverse((s.started_at, s.id)));
        sessions.truncate(MAX_DECK_SESSIONS);
        sessions.sort_by_key(|(s, _)| (s.started_at, s.id));
    }
    let left_out = total_sessions - sessions.len();
    let mut rows = statement_rows(deck, &sessions);
    if let Some(position) = statement {
        rows.retain(|row| row.position == Some(position));
        if rows.is_empty() {
            return Err(CompareError::NoStatement {
                deck: deck_id.to_string(),
                position,
            });
        }
    }
    let names = series_names(&sessions.iter().map(|(s, _)| *s).collect::<Vec<_>>());
    let cell = |rounds: &[&Round], row: &Row| -> Cell {
        // The latest closed round of this statement in the session.
        match rounds
            .iter()
            .filter(|r| r.statement_id == row.id)
            .max_by_key(|r| r.closed_at)
        {
            None => Cell::NotAsked,
            Some(round) => Cell::Answered {
                tally: round.result().expect("closed").total(),
                other_wording: row.wording.as_ref().is_some_and(|w| *w != round.wording),
            },
        }
    };
    let mut series = names;
    let mut colours: Vec<usize> = (0..series.len()).collect();
    let mut groups: Vec<CompareGroup> = rows
        .iter()
        .map(|row| CompareGroup {
            position: row.position,
            text: row.text.clone(),
            cells: sessions
                .iter()
                .map(|(_, rounds)| cell(rounds, row))
                .collect(),
        })
        .collect();

    let session_count = sessions.len();
    let mut merged_sessions = None;
    let (title, mut subtitle) = if let Some(position) = statement {
        // One statement: only the sessions that answered it, highest % agree first.
        let group = &mut groups[0];
        let mut order: Vec<usize> = (0..series.len())
            .filter(|i| matches!(group.cells[*i], Cell::Answered { .. }))
            .collect();
        let pct = |i: usize| match &group.cells[i] {
            Cell::Answered { tally, .. } => tally.pct_agree().unwrap_or(-1.0),
            Cell::NotAsked => -2.0,
        };
        order.sort_by(|a, b| pct(*b).total_cmp(&pct(*a)).then(a.cmp(b)));
        if order.is_empty() {
            return Err(CompareError::NeverAsked {
                deck: deck_id.to_string(),
                position,
            });
        }
        let not_asked = series.len() - order.len();
        let answered = order.len();
        let mut subtitle = if answered > MAX_STATEMENT_SESSIONS {
            // Hundreds of bars make a strip nobody reads: one bar per municipality, all its
            // sessions added up (different wordings kept apart).
            let merged = per_municipality(&sessions, &group.cells, &order);
            merged_sessions = Some(answered);
            series = merged
                .iter()
                .map(|m| match (style.language, m.sessions) {
                    (Language::Nl, 1) => format!("{} · 1 sessie", m.name),
                    (Language::Nl, n) => format!("{} · {n} sessies", m.name),
                    (Language::En, 1) => format!("{} · 1 session", m.name),
                    (Language::En, n) => format!("{} · {n} sessions", m.name),
                })
                .collect();
            group.cells = merged
                .iter()
                .map(|m| Cell::Answered {
                    tally: m.tally,
                    other_wording: m.other_wording,
                })
                .collect();
            colours = (0..series.len()).collect();
            vec![style.pick(
                &format!(
                    "% eens per gemeente, alle sessies opgeteld, hoogste eerst · {answered} sessies in {} gemeenten · deck {deck_id}",
                    merged.iter().map(|m| m.key.as_str()).collect::<std::collections::BTreeSet<_>>().len()
                ),
                &format!(
                    "% agree per municipality, all sessions added up, highest first · {answered} sessions in {} municipalities · deck {deck_id}",
                    merged.iter().map(|m| m.key.as_str()).collect::<std::collections::BTreeSet<_>>().len()
                ),
            )]
        } else {
            group.cells = order.iter().map(|i| group.cells[*i].clone()).collect();
            series = order.iter().map(|i| series[*i].clone()).collect();
            colours = order.clone();
            vec![style.pick(
                &format!(
                    "% eens per sessie, hoogste eerst · {} sessies · deck {deck_id}",
                    series.len()
                ),
                &format!(
                    "% agree per session, highest first · {} sessions · deck {deck_id}",
                    series.len()
                ),
            )]
        };
        if not_asked > 0 {
            subtitle.push(style.pick(
                &format!("{not_asked} sessie(s) stelden deze stelling niet"),
                &format!("{not_asked} session(s) did not ask this statement"),
            ));
        }
        let title = if merged_sessions.is_some() {
            style.pick(
                &format!("Stelling {position} per gemeente"),
                &format!("Statement {position} per municipality"),
            )
        } else {
            style.pick(
                &format!("Stelling {position} in alle gemeenten"),
                &format!("Statement {position} across municipalities"),
            )
        };
        (title, subtitle)
    } else {
        (
            style.pick(
                "Vergelijking tussen gemeenten",
                "Comparison between municipalities",
            ),
            vec![if left_out > 0 {
                style.pick(
                    &format!("% eens per stelling · de laatste {session_count} van {total_sessions} sessies · n = aantal stemmen op die stelling · deck {deck_id}"),
                    &format!("% agree per statement · the latest {session_count} of {total_sessions} sessions · n = votes on that statement · deck {deck_id}"),
                )
            } else {
                style.pick(
                    &format!("% eens per stelling · {session_count} sessies · n = aantal stemmen op die stelling · deck {deck_id}"),
                    &format!("% agree per statement · {session_count} sessions · n = votes on that statement · deck {deck_id}"),
                )
            }],
        )
    };
    subtitle.extend(style.simulated_mark());
    let other_wordings = groups.iter().flat_map(|g| &g.cells).any(|c| {
        matches!(
            c,
            Cell::Answered {
                other_wording: true,
                ..
            }
        )
    });
    let footnote = other_wordings.then(|| {
        style.pick(
            "Andere formulering: die sessie kreeg een andere tekst van deze stelling dan het deck nu heeft.",
            "Other wording: that session was shown a different text of this statement than the deck has now.",
        )
    });
    let mut labels = style.labels();
    if merged_sessions.is_some() {
        labels.pct_agree_axis = style.pick("% eens per gemeente", "% agree per municipality");
    }
    Ok(CompareChart {
        title,
        subtitle: subtitle.join(" · "),
        labels,
        series,
        colours,
        groups,
        footnote,
        left_out,
        merged_sessions,
    })
}

/// One municipality's sessions added up (for one statement and one wording).
struct Merged {
    key: String,
    name: String,
    other_wording: bool,
    tally: Tally,
    sessions: usize,
}

/// The answered cells (`order`: indices into `sessions` and `cells`) added up per municipality
/// and wording, highest % agree first.
fn per_municipality(
    sessions: &[(&Session, Vec<&Round>)],
    cells: &[Cell],
    order: &[usize],
) -> Vec<Merged> {
    // One spelling per municipality: the first, as in the session names.
    let mut spelling: HashMap<&str, &str> = HashMap::new();
    for (session, _) in sessions {
        spelling
            .entry(session.municipality.key())
            .or_insert(session.municipality.as_str());
    }
    let mut merged: Vec<Merged> = Vec::new();
    for &i in order {
        let Cell::Answered {
            tally,
            other_wording,
        } = &cells[i]
        else {
            continue;
        };
        let municipality = &sessions[i].0.municipality;
        let key = municipality.key();
        match merged
            .iter_mut()
            .find(|m| m.key == key && m.other_wording == *other_wording)
        {
            Some(m) => {
                m.tally = m.tally.plus(*tally);
                m.sessions += 1;
            }
            None => merged.push(Merged {
                key: key.to_string(),
                name: spelling[key].to_string(),
                other_wording: *other_wording,
                tally: *tally,
                sessions: 1,
            }),
        }
    }
    let pct = |m: &Merged| m.tally.pct_agree().unwrap_or(-1.0);
    merged.sort_by(|a, b| pct(b).total_cmp(&pct(a)).then(a.name.cmp(&b.name)));
    merged
}

/// The statements to compare: the deck's, in deck order, then any the rounds have that the
/// deck no longer has (by first position seen).
fn statement_rows(deck: Option<&Deck>, sessions: &[(&Session, Vec<&Round>)]) -> Vec<Row> {
    let mut rows: Vec<Row> = deck
        .map(|deck| {
            deck.statements
                .iter()
                .enumerate()
                .map(|(i, s)| Row {
                    id: s.id.clone(),
                    position: Some(i as u32 + 1),
                    text: s.text.clone(),
                    wording: Some(s.wording()),
                })
                .collect()
        })
        .unwrap_or_default();
    // Statements only the rounds know: ordered by position, text and wording of the latest.
    let mut extra: BTreeMap<String, &Round> = BTreeMap::new();
    for round in sessions.iter().flat_map(|(_, rounds)| rounds.iter()) {
        if rows.iter().any(|row| row.id == round.statement_id) {
            continue;
        }
        let entry = extra.entry(round.statement_id.clone()).or_insert(round);
        if round.closed_at > entry.closed_at {
            *entry = round;
        }
    }
    let mut extra: Vec<&Round> = extra.into_values().collect();
    extra.sort_by_key(|r| (r.position, r.statement_id.clone()));
    let in_deck = deck.is_some();
    rows.extend(extra.into_iter().map(|round| Row {
        id: round.statement_id.clone(),
        // Without the deck, the round's position is the best order we have; with the deck, a
        // position would clash with the deck's own numbering.
        position: (!in_deck).then_some(round.position),
        text: round.text.clone(),
        wording: Some(round.wording.clone()),
    }));
    rows
}

/// Legend names: the municipality (spelled as in its first session); with the date when a
/// municipality has several sessions; with the label too (or a number) when that is still
/// ambiguous.
pub fn series_names(sessions: &[&Session]) -> Vec<String> {
    let mut spelling: HashMap<&str, &str> = HashMap::new();
    let mut per_municipality: HashMap<&str, usize> = HashMap::new();
    for s in sessions {
        spelling
            .entry(s.municipality.key())
            .or_insert(s.municipality.as_str());
        *per_municipality.entry(s.municipality.key()).or_default() += 1;
    }
    let dated: Vec<String> = sessions
        .iter()
        .map(|s| {
            let name = spelling[s.municipality.key()];
            if per_municipality[s.municipality.key()] > 1 {
                format!("{name} · {}", s.started_at.date_nl())
            } else {
                name.to_string()
            }
        })
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for name in &dated {
        *seen.entry(name).or_default() += 1;
    }
    let mut numbered: HashMap<&str, usize> = HashMap::new();
    dated
        .iter()
        .zip(sessions)
        .map(|(name, s)| {
            if seen[name.as_str()] == 1 {
                return name.clone();
            }
            match &s.label {
                Some(label) => format!("{name} · {label}"),
                None => {
                    let n = numbered.entry(name).or_default();
                    *n += 1;
                    format!("{name} #{n}")
                }
            }
        })
        .collect()
}

/// Sum of total votes over closed rounds (for one-line summaries).
pub fn total_votes(rounds: &[Round]) -> u32 {
    rounds
        .iter()
        .filter_map(Round::result)
        .map(|r| r.total().n())
        .sum()
}

/// Turn a text into a readable file-name part: `Súdwest Fryslân` → `sudwest-fryslan`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = fold(c);
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::{RoundId, SessionId};
    use crate::domain::{Municipality, OnlineCount, Statement, Tally, Timestamp};

    const DAY: i64 = 86_400_000;

    fn deck() -> Deck {
        Deck {
            id: "vertrouwen".into(),
            title: "Vertrouwen".into(),
            language: Language::Nl,
            statements: ["Eerste stelling", "Tweede stelling", "Derde stelling"]
                .iter()
                .enumerate()
                .map(|(i, text)| Statement {
                    id: format!("s{}", i + 1),
                    text: text.to_string(),
                    source: None,
                })
                .collect(),
        }
    }

    fn session(id: u64, municipality: &str, day: i64, label: Option<&str>) -> Session {
        Session {
            id: SessionId(id),
            municipality: Municipality::parse(municipality).unwrap(),
            label: label.map(String::from),
            deck_id: "vertrouwen".into(),
            deck_title: "Vertrouwen".into(),
            language: Language::Nl,
            guild_id: 1,
            channel_id: id,
            started_at: Timestamp(1_790_000_000_000 + day * DAY),
            ended_at: None,
        }
    }

    /// A closed round of deck statement `position` with the deck's wording (or `text`).
    fn round(
        session: u64,
        position: u32,
        text: Option<&str>,
        online: (u32, u32, u32),
        room: Option<(u32, u32)>,
    ) -> Round {
        let deck = deck();
        let statement = deck.statement(position).unwrap();
        let text = text.unwrap_or(&statement.text).to_string();
        Round {
            id: RoundId(session * 10 + u64::from(position)),
            session_id: SessionId(session),
            statement_id: statement.id.clone(),
            position,
            deck_size: 3,
            wording: Wording::of(&text),
            text,
            channel_id: session,
            message_id: session * 100 + u64::from(position),
            opened_at: Timestamp(1),
            closed_at: Some(Timestamp(2)),
            online: Some(OnlineCount {
                agree: online.0,
                disagree: online.1,
                ambiguous: online.2,
            }),
            room: room.map(|(a, d)| Tally::new(a, d)),
        }
    }

    fn dutch() -> Style {
        Style {
            language: Language::Nl,
            simulated: false,
        }
    }

    fn answered(agree: u32, disagree: u32, other_wording: bool) -> Cell {
        Cell::Answered {
            tally: Tally::new(agree, disagree),
            other_wording,
        }
    }

    #[test]
    fn a_whole_deck_comparison_shows_the_latest_sessions_and_says_so() {
        let n = MAX_DECK_SESSIONS as u64 + 6;
        // Created out of date order: the latest by start date are kept, in date order.
        let sessions: Vec<(Session, Vec<Round>)> = (1..=n)
            .map(|i| {
                let day = ((i * 7) % n) as i64;
                (
                    session(i, &format!("Gemeente {day}"), day, None),
                    vec![round(i, 1, None, (3, 1, 0), None)],
                )
            })
            .collect();
        let chart = compare_chart("vertrouwen", Some(&deck()), &sessions, None, &dutch()).unwrap();
        assert_eq!(chart.series.len(), MAX_DECK_SESSIONS);
        assert_eq!(chart.left_out, 6);
        assert_eq!(chart.series[0], "Gemeente 6");
        assert_eq!(chart.series.last().unwrap(), &format!("Gemeente {}", n - 1));
        assert!(
            chart.subtitle.contains("de laatste 24 van 30 sessies"),
            "{}",
            chart.subtitle
        );
        // One statement alone still covers every session.
        let one = compare_chart("vertrouwen", Some(&deck()), &sessions, Some(1), &dutch()).unwrap();
        assert_eq!((one.series.len(), one.left_out), (n as usize, 0));
    }

    #[test]
    fn one_statement_in_very_many_sessions_is_added_up_per_municipality() {
        let n = MAX_STATEMENT_SESSIONS as u64 + 20;
        let sessions: Vec<(Session, Vec<Round>)> = (1..=n)
            .map(|i| {
                let (town, online, text) = match i % 3 {
                    0 => ("Arnhem", (3, 1, 0), None),
                    1 => ("Delft", (1, 3, 0), None),
                    // Two of Ede's sessions answered another wording: kept apart.
                    _ if i < 6 => ("Ede", (2, 0, 0), Some("Een oudere tekst")),
                    _ => (" ede", (1, 1, 0), None),
                };
                (
                    session(i, town, i as i64, None),
                    vec![round(i, 1, text, online, None)],
                )
            })
            .collect();
        let chart =
            compare_chart("vertrouwen", Some(&deck()), &sessions, Some(1), &dutch()).unwrap();
        assert_eq!(chart.merged_sessions, Some(n as usize));
        assert_eq!(
            chart.series,
            [
                "Ede · 2 sessies",
                "Arnhem · 40 sessies",
                "Ede · 38 sessies",
                "Delft · 40 sessies"
            ]
        );
        assert_eq!(
            chart.groups[0].cells,
            [
                answered(4, 0, true),
                answered(120, 40, false),
                answered(38, 38, false),
                answered(40, 120, false),
            ]
        );
        assert_eq!(chart.title, "Stelling 1 per gemeente");
        assert_eq!(chart.labels.pct_agree_axis, "% eens per gemeente");
    }

    #[test]
    fn session_bars_hold_online_room_and_notes() {
        let s = session(1, "Súdwest Fryslân", 0, Some("Raadsavond"));
        let mut open = round(1, 3, None, (0, 0, 0), None);
        open.closed_at = None;
        open.online = None;
        let rounds = vec![
            round(1, 2, None, (5, 3, 2), Some((10, 1))),
            round(1, 1, None, (0, 0, 0), None),
            open,
        ];
        let chart = session_chart(&s, &rounds, &dutch()).unwrap();
        assert_eq!(chart.title, "Uitslag sessie Súdwest Fryslân");
        assert_eq!(
            chart.subtitle,
            "Raadsavond · 21-09-2026 · deck vertrouwen · 2 stellingen"
        );
        assert_eq!(chart.bars.len(), 2, "the open round is left out");
        assert_eq!(chart.bars[0].position, 1, "deck order");
        assert_eq!(
            chart.bars[0].online,
            Tally::new(0, 0),
            "zero votes stay a bar"
        );
        let second = &chart.bars[1];
        assert_eq!(
            (second.online, second.room),
            (Tally::new(5, 3), Some(Tally::new(10, 1)))
        );
        assert_eq!(second.note.as_deref(), Some("2 stemmen niet te bepalen"));
        assert_eq!(
            chart.footnote.as_deref(),
            Some("Stelling 3 staat nog open en is niet meegeteld.")
        );
        assert!(session_chart(&s, &[], &dutch()).is_none());
        let simulated = Style {
            language: Language::En,
            simulated: true,
        };
        let chart = session_chart(&s, &rounds, &simulated).unwrap();
        assert!(
            chart.subtitle.ends_with("simulated data (demo)"),
            "{}",
            chart.subtitle
        );
    }

    #[test]
    fn comparison_cells_missing_statements_and_other_wordings() {
        let sessions = vec![
            (
                session(1, "Arnhem", 0, None),
                vec![
                    round(1, 1, None, (3, 1, 0), Some((2, 2))),
                    round(1, 2, None, (1, 1, 0), None),
                ],
            ),
            // Did not pose statement 2; answered statement 3 in an older wording.
            (
                session(2, "Delft", 1, None),
                vec![
                    round(2, 1, None, (0, 0, 0), None),
                    round(2, 3, Some("Derde stelling, oude tekst"), (4, 0, 0), None),
                ],
            ),
            // Nothing closed: not in the comparison.
            (session(3, "Breda", 2, None), vec![]),
        ];
        let chart = compare_chart("vertrouwen", Some(&deck()), &sessions, None, &dutch()).unwrap();
        assert_eq!(chart.series, ["Arnhem", "Delft"]);
        assert_eq!(chart.colours, [0, 1]);
        let cells: Vec<&Vec<Cell>> = chart.groups.iter().map(|g| &g.cells).collect();
        assert_eq!(
            cells[0],
            &vec![answered(5, 3, false), answered(0, 0, false)]
        );
        assert_eq!(cells[1], &vec![answered(1, 1, false), Cell::NotAsked]);
        assert_eq!(cells[2], &vec![Cell::NotAsked, answered(4, 0, true)]);
        assert_eq!(
            chart.groups[2].text, "Derde stelling",
            "the deck's current wording"
        );
        assert!(chart.footnote.unwrap().starts_with("Andere formulering"));
    }

    #[test]
    fn one_session_and_a_vanished_deck() {
        let sessions = vec![(
            session(1, "Arnhem", 0, None),
            vec![round(1, 2, None, (2, 2, 0), None)],
        )];
        let chart = compare_chart("vertrouwen", None, &sessions, None, &dutch()).unwrap();
        assert_eq!(chart.series, ["Arnhem"]);
        assert_eq!(
            chart.groups.len(),
            1,
            "without the deck, the rounds give the statements"
        );
        assert_eq!(chart.groups[0].position, Some(2));
        assert_eq!(chart.groups[0].cells, vec![answered(2, 2, false)]);
        assert_eq!(
            compare_chart("ander-deck", None, &sessions, None, &dutch()).unwrap_err(),
            CompareError::NoSessions("ander-deck".into())
        );
    }

    #[test]
    fn a_single_statement_is_sorted_by_agreement_keeping_colours() {
        let sessions = vec![
            (
                session(1, "Arnhem", 0, None),
                vec![round(1, 1, None, (1, 3, 0), None)],
            ),
            (
                session(2, "Delft", 1, None),
                vec![round(2, 1, None, (3, 1, 0), None)],
            ),
            (
                session(3, "Breda", 2, None),
                vec![round(3, 2, None, (3, 1, 0), None)],
            ),
            (
                session(4, "Ede", 3, None),
                vec![round(4, 1, None, (0, 0, 0), None)],
            ),
        ];
        let chart =
            compare_chart("vertrouwen", Some(&deck()), &sessions, Some(1), &dutch()).unwrap();
        assert_eq!(chart.title, "Stelling 1 in alle gemeenten");
        assert_eq!(
            chart.series,
            ["Delft", "Arnhem", "Ede"],
            "highest first, no votes last, not asked left out"
        );
        assert_eq!(chart.colours, [1, 0, 3], "each session keeps its colour");
        assert_eq!(chart.groups.len(), 1);
        assert!(
            chart
                .subtitle
                .contains("1 sessie(s) stelden deze stelling niet"),
            "{}",
            chart.subtitle
        );
        assert_eq!(
            compare_chart("vertrouwen", Some(&deck()), &sessions, Some(7), &dutch()).unwrap_err(),
            CompareError::NoStatement {
                deck: "vertrouwen".into(),
                position: 7
            }
        );
        assert_eq!(
            compare_chart("vertrouwen", Some(&deck()), &sessions, Some(3), &dutch()).unwrap_err(),
            CompareError::NeverAsked {
                deck: "vertrouwen".into(),
                position: 3
            }
        );
    }

    #[test]
    fn series_names_tell_sessions_apart() {
        let a = session(1, "Arnhem", 0, Some("Middag"));
        let b = session(2, "arnhem ", 0, Some("Avond"));
        let c = session(3, "Arnhem", 5, None);
        let d = session(4, "Delft", 0, None);
        assert_eq!(
            series_names(&[&a, &b, &c, &d]),
            [
                "Arnhem · 21-09-2026 · Middag",
                "Arnhem · 21-09-2026 · Avond",
                "Arnhem · 26-09-2026",
                "Delft"
            ]
        );
    }

    #[test]
    fn slugs_are_readable_file_names() {
        assert_eq!(slug("Súdwest Fryslân"), "sudwest-fryslan");
        assert_eq!(
            slug("Raadsavond 27 november (gesimuleerd)"),
            "raadsavond-27-november-gesimuleerd"
        );
        assert_eq!(slug("  ?? "), "x");
    }
}
