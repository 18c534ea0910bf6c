//! Loading decks from the statements folder: one TOML file per deck, the file stem is its id.
//!
//! Every problem in every file is collected (with file and line), and a broken file never
//! stops the valid ones from loading. The format:
//!
//! ```toml
//! title = "Werken aan meer vertrouwen en minder onbehagen"   # required
//! language = "nl"                                             # optional: nl (default) or en
//! [[statement]]
//! id = "vertrouwen-afgenomen"   # required, unique, lowercase letters, digits, '-'
//! text = "Ik ervaar dat ..."    # required, 1..=1000 characters after trimming
//! source = "..."                # optional
//! ```

use crate::domain::deck::{is_valid_id, Deck, Language, Statement, MAX_STATEMENT_CHARS};
use crate::domain::quoted;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml_edit::{ImDocument, Item, Table};

/// One thing wrong in one deck file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every deck of a statements folder that loaded, and every problem found.
#[derive(Clone, Debug, Default)]
pub struct DeckSet {
    pub decks: BTreeMap<String, Deck>,
    pub problems: Vec<Problem>,
}

impl DeckSet {
    pub fn get(&self, id: &str) -> Option<&Deck> {
        self.decks.get(id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecksError {
    #[error("the statements folder {0} does not exist (set --statements or STEMKAART_STATEMENTS)")]
    Missing(PathBuf),
    #[error("cannot read the statements folder {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Load every `*.toml` file in `folder`, sorted by file name.
pub fn load_folder(folder: &Path) -> Result<DeckSet, DecksError> {
    if !folder.is_dir() {
        return Err(DecksError::Missing(folder.to_path_buf()));
    }
    let unreadable = |source| DecksError::Unreadable {
        path: folder.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(unreadable)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml") && path.is_file())
        .collect();
    files.sort();

    let mut set = DeckSet::default();
    for file in files {
        match std::fs::read(&file) {
            Err(err) => set.problems.push(Problem {
                file,
                line: None,
                message: format!("cannot read the file: {err}"),
            }),
            Ok(bytes) => match String::from_utf8(bytes) {
                Err(err) => set.problems.push(Problem {
                    file,
                    line: None,
                    message: format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        err.utf8_error().valid_up_to()
                    ),
                }),
                Ok(text) => match parse_deck(&file, &text) {
                    Ok(deck) => {
                        set.decks.insert(deck.id.clone(), deck);
                    }
                    Err(problems) => set.problems.extend(problems),
                },
            },
        }
    }
    Ok(set)
}

/// Parse one deck file. `path` gives the deck id (file stem) and names the file in problems.
pub fn parse_deck(path: &Path, text: &str) -> Result<Deck, Vec<Problem>> {
    let mut check = Checker {
        file: path.to_path_buf(),
        text,
        problems: Vec::new(),
    };
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !is_valid_id(&id) {
        check.problem(
            None,
            format!("the file name gives the deck id `{}`; a deck id may only have lowercase letters, digits and '-'", quoted(&id)),
        );
    }
    let document = match ImDocument::parse(text) {
        Ok(document) => document,
        Err(err) => {
            let message = format!("not valid TOML: {}", err.message().trim());
            check.problem(err.span(), message);
            return Err(check.problems);
        }
    };
    let root = document.as_table();
    check.unknown_keys(root, &["title", "language", "statement"], "at the top");

    let title = check.required_string(root, "title", "at the top", None);
    if let Some((title, span)) = &title {
        if title.trim().is_empty() {
            check.problem(span.clone(), "`title` is empty".to_string());
        }
    }
    let language = match check.optional_string(root, "language", "at the top") {
        None => Language::default(),
        Some((code, span)) => Language::parse(&code).unwrap_or_else(|| {
            check.problem(
                span,
                format!(
                    "unknown language `{}` (use \"nl\" or \"en\")",
                    quoted(&code)
                ),
            );
            Language::default()
        }),
    };

    let mut statements = Vec::new();
    match root.get("statement") {
        None => check.problem(
            None,
            "no statements: add at least one [[statement]] table".to_string(),
        ),
        Some(item) => match item.as_array_of_tables() {
            None => check.problem(
                item.span(),
                "`statement` must be [[statement]] tables".to_string(),
            ),
            Some(tables) => {
                let mut seen: HashMap<String, usize> = HashMap::new();
                for (index, table) in tables.iter().enumerate() {
                    if let Some(statement) = check.statement(table, index + 1, &mut seen) {
                        statements.push(statement);
                    }
                }
            }
        },
    }

    match (check.problems.is_empty(), title) {
        (true, Some((title, _))) => Ok(Deck {
            id,
            title: title.trim().to_string(),
            language,
            statements,
        }),
        _ => Err(check.problems),
    }
}

struct Checker<'a> {
    file: PathBuf,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, span: Option<Range<usize>>, message: String) {
        let line = span.map(|span| line_of(self.text, span.start));
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            message,
        });
    }

    fn unknown_keys(&mut self, table: &Table, allowed: &[&str], place: &str) {
        for (key, item) in table.iter() {
            if !allowed.contains(&key) {
                let span = table
                    .key(key)
                    .and_then(|k| k.span())
                    .or_else(|| item.span());
                self.problem(
                    span,
                    format!(
                        "unknown key `{}` {place} (allowed: {})",
                        quoted(key),
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// A string value, with the span of the value (or of the table, for a missing key).
    fn required_string(
        &mut self,
        table: &Table,
        key: &str,
        place: &str,
        table_span: Option<Range<usize>>,
    ) -> Option<(String, Option<Range<usize>>)> {
        match table.get(key) {
            None => {
                self.problem(table_span, format!("`{key}` is missing {place}"));
                None
            }
            Some(item) => self.string_value(item, key, place),
        }
    }

    fn optional_string(
        &mut self,
        table: &Table,
        key: &str,
        place: &str,
    ) -> Option<(String, Option<Range<usize>>)> {
        table
            .get(key)
            .and_then(|item| self.string_value(item, key, place))
    }

    fn string_value(
        &mut self,
        item: &Item,
        key: &str,
        place: &str,
    ) -> Option<(String, Option<Range<usize>>)> {
        match item.as_str() {
            Some(value) => Some((value.to_string(), item.span())),
            None => {
                self.problem(
                    item.span(),
                    format!("`{key}` {place} must be a text in quotes"),
                );
                None
            }
        }
    }

    fn statement(
        &mut self,
        table: &Table,
        number: usize,
        seen: &mut HashMap<String, usize>,
    ) -> Option<Statement> {
        let place = format!("in statement {number}");
        let span = table.span();
        self.unknown_keys(table, &["id", "text", "source"], &place);
        let before = self.problems.len();
        let id = self.required_string(table, "id", &place, span.clone());
        if let Some((id, id_span)) = &id {
            let line = id_span.as_ref().map(|s| line_of(self.text, s.start));
            if !is_valid_id(id) {
                self.problem(
                    id_span.clone(),
                    format!(
                        "statement id `{}` may only have lowercase letters, digits and '-'",
                        quoted(id)
                    ),
                );
            } else if let Some(first) = seen.get(id) {
                let message = format!("statement id `{id}` is used twice (first on line {first})");
                self.problem(id_span.clone(), message);
            } else {
                seen.insert(id.clone(), line.unwrap_or(0));
            }
        }
        let text = self.required_string(table, "text", &place, span);
        if let Some((text, text_span)) = &text {
            let chars = text.trim().chars().count();
            if chars == 0 {
                self.problem(text_span.clone(), format!("`text` {place} is empty"));
            } else if chars > MAX_STATEMENT_CHARS {
                self.problem(
                    text_span.clone(),
                    format!(
                        "`text` {place} has {chars} characters; at most {MAX_STATEMENT_CHARS} fit"
                    ),
                );
            }
        }
        let source = self.optional_string(table, "source", &place);
        if self.problems.len() > before {
            return None;
        }
        Some(Statement {
            id: id?.0,
            text: text?.0.trim().to_string(),
            source: source
                .map(|(s, _)| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        })
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(name: &str, text: &str) -> Vec<String> {
        parse_deck(Path::new(name), text)
            .expect_err("should be refused")
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    const GOOD: &str = r#"title = "Deck"
[[statement]]
id = "een"
text = "Eén stelling"
"#;

    #[test]
    fn a_good_deck_loads() {
        let deck = parse_deck(Path::new("d/mijn-deck.toml"), GOOD).unwrap();
        assert_eq!(deck.id, "mijn-deck");
        assert_eq!(deck.title, "Deck");
        assert_eq!(deck.language, Language::Nl);
        assert_eq!(deck.statements[0].text, "Eén stelling");
    }

    #[test]
    fn syntax_error_has_its_line() {
        let text = "title = \"Deck\"\n[[statement]]\nid = \"een\ntext = \"x\"\n";
        let found = problems("x.toml", text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("x.toml:3: not valid TOML"),
            "{found:?}"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = r#"title = "Deck"
colour = "green"
[[statement]]
id = "Een"
text = "   "
[[statement]]
id = "twee"
txt = "typo"
[[statement]]
id = "twee"
text = "dubbel"
"#;
        let found = problems("decks/broken.toml", text);
        let expected = [
            "decks/broken.toml:2: unknown key `colour` at the top (allowed: title, language, statement)",
            "decks/broken.toml:4: statement id `Een` may only have lowercase letters, digits and '-'",
            "decks/broken.toml:5: `text` in statement 1 is empty",
            "decks/broken.toml:8: unknown key `txt` in statement 2 (allowed: id, text, source)",
            "decks/broken.toml:6: `text` is missing in statement 2",
            "decks/broken.toml:10: statement id `twee` is used twice (first on line 7)",
        ];
        assert_eq!(found, expected);
    }

    #[test]
    fn missing_title_wrong_types_language_and_length() {
        let long = "woord ".repeat(200);
        let text =
            format!("language = \"fr\"\n[[statement]]\nid = 7\ntext = \"{long}\"\nsource = 3\n");
        let found = problems("lang.toml", &text);
        assert_eq!(
            found,
            [
                "lang.toml: `title` is missing at the top",
                "lang.toml:1: unknown language `fr` (use \"nl\" or \"en\")",
                "lang.toml:3: `id` in statement 1 must be a text in quotes",
                "lang.toml:4: `text` in statement 1 has 1199 characters; at most 1000 fit",
                "lang.toml:5: `source` in statement 1 must be a text in quotes",
            ]
        );
    }

    #[test]
    fn no_statements_and_bad_file_name() {
        assert_eq!(
            problems("Mijn Deck.toml", "title = \"t\"\n"),
            [
                "Mijn Deck.toml: the file name gives the deck id `Mijn Deck`; a deck id may only have lowercase letters, digits and '-'",
                "Mijn Deck.toml: no statements: add at least one [[statement]] table",
            ]
        );
        assert_eq!(
            problems("x.toml", "title = \"t\"\nstatement = \"a\"\n"),
            ["x.toml:2: `statement` must be [[statement]] tables"]
        );
    }

    #[test]
    fn the_shipped_deck_loads_word_for_word() {
        let set = load_folder(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("statements")
                .as_path(),
        )
        .unwrap();
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        let deck = set.get("vertrouwen").expect("vertrouwen deck");
        assert_eq!(deck.title, "Werken aan meer vertrouwen en minder onbehagen");
        let texts: Vec<&str> = deck.statements.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Ik ervaar dat het vertrouwen van inwoners in de gemeente of lokale institutie de afgelopen jaren is afgenomen",
                "Ik vind dat we als lokale overheid aan inwoners laten zien dat we betrouwbaar zijn",
                "Ik vind dat we door Rijksbeleid lokaal onvoldoende betrouwbaar kunnen zijn",
            ]
        );
    }

    #[test]
    fn a_broken_deck_does_not_stop_the_others() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("goed.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("kapot.toml"), "title = \n").unwrap();
        std::fs::write(dir.path().join("leesmij.txt"), "not a deck").unwrap();
        std::fs::write(dir.path().join("binair.toml"), [0xff, 0xfe, 0x00]).unwrap();
        let set = load_folder(dir.path()).unwrap();
        assert_eq!(set.decks.keys().collect::<Vec<_>>(), ["goed"]);
        let files: Vec<String> = set
            .problems
            .iter()
            .map(|p| p.file.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["binair.toml", "kapot.toml"]);
        assert!(load_folder(&dir.path().join("nope")).is_err());
    }
}
