//! The command line as a new user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn stemkaart(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stemkaart"))
        .args(args)
        .current_dir(dir)
        .env_remove("STEMKAART_DB")
        .env_remove("STEMKAART_STATEMENTS")
        .env_remove("STEMKAART_CONFIG")
        .output()
        .expect("run stemkaart")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const HEADER: &str = "deck,statement_id,statement_position,statement_text,wording,municipality,session_label,session_start,agree_online,disagree_online,agree_room,disagree_room,agree,disagree,n,pct_agree";

fn shipped_decks() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("statements")
}

#[test]
fn decks_lists_the_shipped_deck() {
    let dir = tempfile::tempdir().unwrap();
    let folder = shipped_decks();
    let out = stemkaart(
        dir.path(),
        &["decks", "--statements", folder.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("vertrouwen") && stdout.contains("3 statements"),
        "{stdout}"
    );
    assert!(stdout.contains("Werken aan meer vertrouwen en minder onbehagen"));
}

#[test]
fn a_broken_deck_beside_it_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let statements = dir.path().join("statements");
    std::fs::create_dir(&statements).unwrap();
    std::fs::copy(
        shipped_decks().join("vertrouwen.toml"),
        statements.join("vertrouwen.toml"),
    )
    .unwrap();
    std::fs::write(
        statements.join("kapot.toml"),
        "title = \"Kapot\"\n[[statement]]\nid = \"een\"\ntekst = \"typo\"\n",
    )
    .unwrap();
    std::fs::write(statements.join("half.toml"), "title = \"Half\n").unwrap();
    // Run as a new user would: from the folder, with the default statements path.
    let out = stemkaart(dir.path(), &["decks"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        stdout.contains("vertrouwen"),
        "valid deck still listed: {stdout}"
    );
    assert!(
        stderr.contains(
            "statements/kapot.toml:4: unknown key `tekst` in statement 1 (allowed: id, text, source)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("statements/kapot.toml:2: `text` is missing in statement 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("statements/half.toml:1: not valid TOML"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 problems in 2 files; 1 deck loaded"),
        "{stderr}"
    );
}

#[test]
fn a_missing_statements_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = stemkaart(dir.path(), &["decks", "--statements", "nope"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("the statements folder nope does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn export_on_an_empty_database_prints_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let out = stemkaart(dir.path(), &["export"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{HEADER}\n"));
    assert!(
        !dir.path().join("data").exists(),
        "export created a database"
    );

    // An existing but empty database too, and --out writes the file.
    stemkaart::store::Store::open(&dir.path().join("empty.db")).unwrap();
    let out = stemkaart(
        dir.path(),
        &["--db", "empty.db", "export", "--out", "out/r.csv"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/r.csv")).unwrap(),
        format!("{HEADER}\n")
    );
}

#[test]
fn a_second_process_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("stemkaart.db");
    let _held = stemkaart::store::Store::open(&db).unwrap();
    for args in [&["sessions"][..], &["export"][..]] {
        let out = stemkaart(dir.path(), args);
        assert!(!out.status.success());
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("another stemkaart process is using data/stemkaart.db"),
            "{stderr}"
        );
    }
}

#[test]
fn a_newer_database_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    drop(stemkaart::store::Store::open(&db).unwrap());
    std::fs::write(db.join("stemkaart-schema"), "7\n").unwrap();
    let out = stemkaart(dir.path(), &["--db", "new.db", "sessions"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("new.db was written by a newer stemkaart (schema 7"),
        "{stderr}"
    );
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for sub in [
        "decks", "sessions", "export", "charts", "demo", "run", "sim",
    ] {
        let out = stemkaart(dir.path(), &[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help");
        assert!(text(&out.stdout).contains("Usage: stemkaart"), "{sub}");
    }
}

#[test]
fn settings_come_from_the_config_file_and_wrong_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stemkaart.toml"),
        "statements = \"decks\"\n",
    )
    .unwrap();
    let out = stemkaart(dir.path(), &["decks"]);
    assert!(
        text(&out.stderr).contains("the statements folder decks does not exist"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(dir.path().join("stemkaart.toml"), "statement = \"decks\"\n").unwrap();
    let out = stemkaart(dir.path(), &["decks"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown field `statement`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn charts_writes_session_and_comparison_pngs_with_readable_names() {
    use stemkaart::domain::{Language, Municipality, OnlineCount, Timestamp, Wording};
    use stemkaart::store::{NewRound, NewSession, Store};
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&dir.path().join("data/stemkaart.db")).unwrap();
        for (i, name) in ["Súdwest Fryslân", "Arnhem"].iter().enumerate() {
            let session = store
                .create_session(NewSession {
                    municipality: Municipality::parse(name).unwrap(),
                    label: Some("Raadsavond".into()),
                    deck_id: "vertrouwen".into(),
                    deck_title: "Vertrouwen".into(),
                    language: Language::Nl,
                    guild_id: 1,
                    channel_id: 10 + i as u64,
                    started_at: Timestamp(1_795_000_000_000),
                })
                .unwrap();
            let text = "Ik vind dat we als lokale overheid aan inwoners laten zien dat we betrouwbaar zijn";
            let round = store
                .open_round(NewRound {
                    session_id: session.id,
                    statement_id: "laten-zien-betrouwbaar".into(),
                    position: 2,
                    deck_size: 3,
                    text: text.into(),
                    wording: Wording::of(text),
                    channel_id: 10 + i as u64,
                    message_id: 100 + i as u64,
                    opened_at: Timestamp(1_795_000_000_000),
                })
                .unwrap();
            let online = OnlineCount {
                agree: 7 + i as u32,
                disagree: 3,
                ambiguous: 0,
            };
            store
                .close_round(round.id, online, Timestamp(1_795_000_100_000))
                .unwrap();
        }
    }
    let statements = shipped_decks();
    let out = stemkaart(
        dir.path(),
        &[
            "charts",
            "--statements",
            statements.to_str().unwrap(),
            "--out",
            "grafieken",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("grafieken"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "sessie-2026-11-18-arnhem-raadsavond.png",
            "sessie-2026-11-18-sudwest-fryslan-raadsavond.png",
            "vergelijking-vertrouwen-stelling-2.png",
            "vergelijking-vertrouwen.png",
        ],
        "{stdout}"
    );
    for name in &names {
        assert!(
            stdout.contains(&format!("wrote grafieken/{name}")),
            "{stdout}"
        );
        crate::charts::decode(
            name,
            &std::fs::read(dir.path().join("grafieken").join(name)).unwrap(),
        );
    }
    let out = stemkaart(dir.path(), &["charts", "--deck", "onbekend"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no deck `onbekend`"),
        "{}",
        text(&out.stderr)
    );
}
