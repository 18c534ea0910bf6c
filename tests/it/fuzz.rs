//! Fuzzing what people type: deck files and every slash-command option.
//!
//! Properties: nothing panics, and every rejection is a clear message — not empty, naming
//! the option or the file and line, without Rust debug output (`Some(`, `Err(` …) outside
//! what the person typed and the message quotes, and short enough for Discord. Accepted input must be valid (a deck with a title and valid
//! statements; options within their limits).
//!
//! `cargo test --test it fuzz::` runs 2,000 cases per target. The long run (RELIABILITY.md):
//! `PROPTEST_CASES=100000 cargo test --test it fuzz:: -- --nocapture`; each target
//! prints its cases, acceptances and rejections.

use proptest::prelude::*;
use serde_json::{json, Value};
use serenity::all::CommandDataOption;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use stemkaart::decks::{self, DeckSet};
use stemkaart::discord::commands::{self, Command};
use stemkaart::domain::{session, Language};
use stemkaart::messages;
use stemkaart::workshop::{self, WorkshopError};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Failures are shrunk and reported by the test; no regression files for these.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Counts for the report printed at the end of each target.
struct Counts {
    accepted: AtomicU64,
    rejected: AtomicU64,
}

impl Counts {
    const fn new() -> Counts {
        Counts {
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }
    fn report(&self, target: &str) {
        let accepted = self.accepted.load(Ordering::Relaxed);
        let rejected = self.rejected.load(Ordering::Relaxed);
        println!(
            "fuzz {target}: {} cases, 0 panics, {accepted} accepted, {rejected} rejected with a clear message",
            accepted + rejected
        );
    }
}

/// What a clear message is not.
const NOISE: [&str; 8] = [
    "Some(",
    "None",
    "Err(",
    "Ok(",
    "\\u{",
    "Error {",
    "Span",
    "TomlError",
];

/// A rejection a person can act on: not empty, no debug output, names `what` (one of
/// several acceptable words), fits `max` characters.
fn check_clear(text: &str, what: &[&str], max: usize) -> Result<(), TestCaseError> {
    check_clear_echoing(text, &[], what, max)
}

/// [`check_clear`] for a message that may quote what was typed (`typed`): debug output is
/// looked for in the rest of the message only.
fn check_clear_echoing(
    text: &str,
    typed: &[String],
    what: &[&str],
    max: usize,
) -> Result<(), TestCaseError> {
    prop_assert!(!text.trim().is_empty(), "empty message");
    let mut ours = text.to_string();
    for typed in typed.iter().filter(|t| t.chars().count() >= 3) {
        ours = ours.replace(typed.as_str(), "…");
    }
    for noise in NOISE {
        prop_assert!(!ours.contains(noise), "`{noise}` in: {text}");
    }
    prop_assert!(
        what.iter().any(|w| text.contains(w)),
        "none of {what:?} in: {text}"
    );
    prop_assert!(
        text.chars().count() <= max,
        "{} characters: {text}",
        text.chars().count()
    );
    Ok(())
}

// ----- deck files --------------------------------------------------------------------------

const SHIPPED: &str = include_str!("../../statements/vertrouwen.toml");

static DECK_COUNTS: Counts = Counts::new();

/// Parse a deck file's text; accepted decks must be valid, problems clear.
fn check_deck(text: &str, counts: &Counts) -> Result<(), TestCaseError> {
    let path = Path::new("statements/proef.toml");
    match decks::parse_deck(path, text) {
        Ok(deck) => {
            counts.accepted.fetch_add(1, Ordering::Relaxed);
            prop_assert!(!deck.title.trim().is_empty());
            prop_assert!(!deck.statements.is_empty());
            for statement in &deck.statements {
                prop_assert!(stemkaart::domain::deck::is_valid_id(&statement.id));
                let chars = statement.text.trim().chars().count();
                prop_assert!((1..=stemkaart::domain::deck::MAX_STATEMENT_CHARS).contains(&chars));
            }
        }
        Err(problems) => {
            counts.rejected.fetch_add(1, Ordering::Relaxed);
            prop_assert!(!problems.is_empty(), "rejected without a problem");
            let lines = text.lines().count().max(1) + 1;
            for problem in &problems {
                let shown = problem.to_string();
                // Up to five problems are shown in one Discord message of 2,000 characters.
                check_clear(&shown, &["statements/proef.toml"], 390)?;
                prop_assert!(!problem.message.trim().is_empty());
                if let Some(line) = problem.line {
                    prop_assert!((1..=lines).contains(&line), "line {line} of {lines}");
                }
            }
            // What /session start shows for a deck with problems.
            let set = DeckSet {
                decks: Default::default(),
                problems,
            };
            let err = workshop::find_deck(&set, "proef").unwrap_err();
            for lang in [Language::Nl, Language::En] {
                check_clear(
                    &messages::error(lang, &err),
                    &["proef"],
                    messages::MAX_CONTENT,
                )?;
            }
        }
    }
    Ok(())
}

/// One edit of a deck file that keeps it close to valid.
#[derive(Clone, Debug)]
enum Edit {
    DeleteRange(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    DropLine(usize),
    SwapLines(usize, usize),
    ReplaceToken(usize, &'static str),
}

fn edit() -> impl Strategy<Value = Edit> {
    let token = prop::sample::select(vec![
        "=",
        "\"",
        "'''",
        "\"\"\"",
        "[[statement]]",
        "[statement]",
        "]]",
        "[",
        "\n",
        "#",
        "\\",
        "id",
        "text",
        "tekst",
        "title",
        "language",
        "source",
        "\"en\"",
        "\"fr\"",
        "1",
        "true",
        "\"\"",
        "\"Ab C\"",
        "\"-\"",
        "\u{0}",
        "\u{feff}",
        "é",
        "🟩",
        "[[statement]]\nid = \"x\"",
    ]);
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::DeleteRange(a, n)),
        (any::<usize>(), "\\PC{0,8}|[\\[\\]=\"'#\\n]{1,4}").prop_map(|(a, s)| Edit::Insert(a, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        any::<usize>().prop_map(Edit::DropLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), token).prop_map(|(a, t)| Edit::ReplaceToken(a, t)),
    ]
}

/// Apply an edit at positions taken modulo the text's length (on character boundaries).
fn apply(text: &str, edit: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |n: usize| {
        if chars.is_empty() {
            0
        } else {
            n % (chars.len() + 1)
        }
    };
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let line = |n: usize| if lines.is_empty() { 0 } else { n % lines.len() };
    match edit {
        Edit::DeleteRange(a, n) => {
            let start = at(*a);
            let end = (start + n).min(chars.len());
            chars[..start].iter().chain(&chars[end..]).collect()
        }
        Edit::Insert(a, s) => {
            let at = at(*a);
            let mut out: String = chars[..at].iter().collect();
            out.push_str(s);
            out.extend(&chars[at..]);
            out
        }
        Edit::ReplaceToken(a, token) => {
            // Replace the word (or symbol) at the position with the token.
            let start = at(*a);
            let end = chars[start..]
                .iter()
                .position(|c| c.is_whitespace())
                .map_or(chars.len(), |p| start + p.max(1));
            let mut out: String = chars[..start].iter().collect();
            out.push_str(token);
            out.extend(&chars[end.min(chars.len())..]);
            out
        }
        Edit::DuplicateLine(n) if !lines.is_empty() => {
            let i = line(*n);
            lines.insert(i, lines[i].clone());
            lines.join("\n")
        }
        Edit::DropLine(n) if !lines.is_empty() => {
            lines.remove(line(*n));
            lines.join("\n")
        }
        Edit::SwapLines(a, b) if !lines.is_empty() => {
            let (a, b) = (line(*a), line(*b));
            lines.swap(a, b);
            lines.join("\n")
        }
        _ => text.to_string(),
    }
}

#[test]
fn fuzz_deck_files() {
    let mut runner = proptest::test_runner::TestRunner::new(config());
    // Arbitrary text, arbitrary bytes (as the loader reads them), and the shipped deck with
    // one to eight edits.
    let input = prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..2048)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        prop::collection::vec(edit(), 1..8).prop_map(|edits| {
            edits
                .iter()
                .fold(SHIPPED.to_string(), |text, e| apply(&text, e))
        }),
    ];
    let result = runner.run(&input, |text| check_deck(&text, &DECK_COUNTS));
    if let Err(err) = result {
        panic!("{err}");
    }
    DECK_COUNTS.report("deck files");
    assert!(
        DECK_COUNTS.accepted.load(Ordering::Relaxed) > 0,
        "nothing valid was generated"
    );
}

// ----- command options ---------------------------------------------------------------------

static OPTION_COUNTS: Counts = Counts::new();

fn shipped_decks() -> &'static DeckSet {
    static SET: OnceLock<DeckSet> = OnceLock::new();
    SET.get_or_init(|| {
        decks::load_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("statements")).unwrap()
    })
}

/// An option value of any type Discord sends, with its type number.
fn value() -> impl Strategy<Value = (u64, Value)> {
    prop_oneof![
        any::<String>().prop_map(|s| (3, json!(s))),
        "\\PC{0,120}".prop_map(|s| (3, json!(s))),
        prop::sample::select(vec![
            "",
            " ",
            "vertrouwen",
            " vertrouwen ",
            "VERTROUWEN",
            "onbekend",
            "Súdwest Fryslân",
            "@everyone",
            "`",
            "**",
            "\u{200b}",
            "\n",
        ])
        .prop_map(|s| (3, json!(s))),
        "[a-z]{101,140}".prop_map(|s| (3, json!(s))),
        // Discord allows 6,000 characters in a string option without max_length (deck).
        "[a-z`]{1000,6000}".prop_map(|s| (3, json!(s))),
        any::<i64>().prop_map(|n| (4, json!(n))),
        (-3i64..100_005).prop_map(|n| (4, json!(n))),
        prop::sample::select(vec![0i64, 1, 2, 3, 4, 65_535, 65_536, 100_000, 100_001, -1])
            .prop_map(|n| (4, json!(n))),
        any::<bool>().prop_map(|b| (5, json!(b))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| (10, json!(f))),
    ]
}

fn option_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "municipality", "deck", "label", "number", "agree", "disagree", "statement",
        ])
        .prop_map(String::from),
        1 => "\\PC{0,12}",
    ]
}

fn options() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(
        (option_name(), value())
            .prop_map(|(name, (kind, value))| json!({"name": name, "type": kind, "value": value})),
        0..5,
    )
}

/// A command name with its options, as Discord nests subcommands.
fn interaction() -> impl Strategy<Value = (String, Vec<Value>)> {
    let command = prop_oneof![
        8 => prop::sample::select(vec![
            ("session", "start"), ("session", "end"), ("statement", "next"),
            ("statement", "post"), ("statement", "close"), ("room", ""), ("results", ""),
            ("compare", ""), ("export", ""), ("session", "nonsense"), ("poll", ""),
        ])
        .prop_map(|(a, b)| (a.to_string(), b.to_string())),
        1 => ("\\PC{0,10}", "\\PC{0,10}"),
    ];
    (command, options()).prop_map(|((name, sub), options)| {
        if sub.is_empty() {
            (name, options)
        } else {
            (
                name,
                vec![json!({"name": sub, "type": 1, "options": options})],
            )
        }
    })
}

/// Turn options into a command and its domain values the way the bot does; a rejection's
/// message must be clear.
/// Every name and text in the options, as typed and trimmed (what a message may quote).
fn typed(name: &str, options: &[Value]) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => {
                out.push(s.clone());
                out.push(s.trim().to_string());
                // As a refusal quotes a long text: its first 40 characters on one line.
                for s in [s.as_str(), s.trim()] {
                    out.push(
                        s.chars()
                            .take(40)
                            .map(|c| match c {
                                '`' => '\'',
                                c if c.is_control() => ' ',
                                c => c,
                            })
                            .collect(),
                    );
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = vec![name.to_string()];
    options.iter().for_each(|o| walk(o, &mut out));
    // Longest first, so a text is not cut up by a shorter one inside it.
    out.sort_by_key(|t| std::cmp::Reverse(t.len()));
    out
}

fn check_options(name: &str, options: Vec<Value>, counts: &Counts) -> Result<(), TestCaseError> {
    let typed = typed(name, &options);
    let options: Vec<CommandDataOption> =
        serde_json::from_value(Value::Array(options)).expect("serenity reads these options");
    let lang = Language::Nl;
    let rejected = |text: String, what: &[&str]| -> Result<(), TestCaseError> {
        let fitted = messages::fit(text.clone());
        check_clear_echoing(&fitted, &typed, what, messages::MAX_CONTENT)?;
        // The text before `fit` too: a refusal must fit without being cut.
        check_clear_echoing(&text, &typed, what, messages::MAX_CONTENT)
    };
    let command = match commands::parse(name, &options) {
        Ok(command) => command,
        Err(err) => {
            let what: Vec<String> = match &err {
                commands::ParseError::Unknown(_) => vec!["unknown command".into()],
                commands::ParseError::Missing(option)
                | commands::ParseError::OutOfRange { name: option, .. } => {
                    vec![format!("`{option}`")]
                }
            };
            let what: Vec<&str> = what.iter().map(String::as_str).collect();
            counts.rejected.fetch_add(1, Ordering::Relaxed);
            for lang in [Language::Nl, Language::En] {
                rejected(messages::not_understood(lang, &err.to_string()), &what)?;
            }
            return Ok(());
        }
    };
    let set = shipped_decks();
    let deck = set.get("vertrouwen").unwrap();
    let outcome: Result<(), (WorkshopError, &[&str])> = match &command {
        Command::SessionStart {
            municipality,
            deck,
            label,
        } => workshop::check_start_options(set, municipality, deck, label.as_deref())
            .map(|(m, d)| {
                assert!(!m.as_str().is_empty() && m.as_str().chars().count() <= 100);
                assert_eq!(d.id, "vertrouwen");
            })
            .map_err(|e| {
                (
                    e,
                    &["gemeente", "municipality", "label", "Deck", "deck"][..],
                )
            }),
        Command::StatementPost { number } => session::check_post(deck, &[], *number).map_err(|e| {
            (
                WorkshopError::Post(e),
                &["stelling", "Stelling", "statement", "Statement"][..],
            )
        }),
        Command::Room { agree, disagree } => {
            prop_assert!(*agree <= 100_000 && *disagree <= 100_000);
            Ok(())
        }
        Command::Compare { deck, statement } => {
            let id = deck.as_deref().unwrap_or("vertrouwen").trim().to_string();
            let style = stemkaart::charts::data::Style {
                language: lang,
                simulated: false,
            };
            // No sessions held yet: every /compare is refused, naming the deck.
            stemkaart::charts::data::compare_chart(&id, set.get(&id), &[], *statement, &style)
                .map(|_| ())
                .map_err(|e| {
                    (
                        WorkshopError::Compare(e),
                        &["deck", "Deck", "Stelling", "Statement"][..],
                    )
                })
        }
        _ => Ok(()),
    };
    match outcome {
        Ok(()) => {
            counts.accepted.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err((err, what)) => {
            counts.rejected.fetch_add(1, Ordering::Relaxed);
            for lang in [Language::Nl, Language::En] {
                rejected(messages::error(lang, &err), what)?;
            }
            Ok(())
        }
    }
}

#[test]
fn fuzz_command_options() {
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let result = runner.run(&interaction(), |(name, options)| {
        check_options(&name, options, &OPTION_COUNTS)
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    OPTION_COUNTS.report("command options");
    assert!(
        OPTION_COUNTS.accepted.load(Ordering::Relaxed) > 0,
        "nothing valid was generated"
    );
}

/// Found by the long run: a statement id written as a multi-line string was quoted whole
/// (518 characters over several lines) in the problem message.
#[test]
fn a_multi_line_statement_id_is_quoted_short() {
    let text = SHIPPED.replacen(
        "id = \"vertrouwen-afgenomen\"",
        "id = \"\"\"\nvertrouwen\nafgenomen, and a lot more text that goes on and on and on\"\"\"",
        1,
    );
    check_deck(&text, &Counts::new()).unwrap();
    let problems = decks::parse_deck(Path::new("statements/proef.toml"), &text).unwrap_err();
    assert!(
        problems[0]
            .message
            .starts_with("statement id `vertrouwen afgenomen, and a lot more"),
        "{}",
        problems[0].message
    );
}

/// Found by a long run: a message that quotes what was typed may contain anything typed;
/// only the rest of the message must be free of debug output.
#[test]
fn typed_text_that_looks_like_debug_output_is_quoted_not_judged() {
    let counts = Counts::new();
    check_options(
        "",
        vec![json!({"name": "\\u{", "type": 1, "options": []})],
        &counts,
    )
    .unwrap();
    check_options(
        "session",
        vec![json!({"name": "start", "type": 1, "options": [
            {"name": "municipality", "type": 3, "value": "Arnhem"},
            {"name": "deck", "type": 3, "value": "Some(deck)"}
        ]})],
        &counts,
    )
    .unwrap();
}

/// Found by the fuzzer once the deck option could be as long as Discord allows: the refusal
/// quoted all 6,000 characters and only `fit` kept it within Discord's limit, cutting off the
/// list of decks.
#[test]
fn a_deck_option_of_6000_characters_is_refused_in_one_short_message() {
    let counts = Counts::new();
    let deck = "a".repeat(6000);
    check_options(
        "compare",
        vec![json!({"name": "deck", "type": 3, "value": deck})],
        &counts,
    )
    .unwrap();
    check_options(
        "session",
        vec![json!({"name": "start", "type": 1, "options": [
            {"name": "municipality", "type": 3, "value": "Arnhem"},
            {"name": "deck", "type": 3, "value": deck}
        ]})],
        &counts,
    )
    .unwrap();
    assert_eq!(counts.rejected.load(Ordering::Relaxed), 2);
}
