//! A damaged, foreign or newer database: `stemkaart run` and every command-line command that
//! reads the database refuse it with a clear message and leave every file byte for byte as it
//! was.
//!
//! The database is a real one: the bot ran a session against the Discord-compatible server
//! (one closed and one open statement, votes), so the folder holds sled's files, the schema
//! file, the voter-key file and the round-key file.

use crate::harness::{files, Harness};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A `data/` folder written by the real bot: stopped with a closed and an open round.
async fn real_data() -> tempfile::TempDir {
    let mut h = Harness::start().await;
    let message = h.first_statement("Gouda").await;
    let people = h.people(6);
    for (i, person) in people.iter().enumerate() {
        let emoji = if i % 3 == 0 { "🟥" } else { "🟩" };
        h.sim
            .react(h.channel, message, person, emoji)
            .await
            .unwrap();
    }
    h.facilitate("statement next", serde_json::json!({})).await;
    let second = crate::harness::last_statement(&h).id;
    h.sim
        .react(h.channel, second, &people[0], "🟩")
        .await
        .unwrap();
    h.stop();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&h.dir.path().join("data"), &copy.path().join("data"));
    copy
}

/// Run stemkaart in `dir` (default database `data/stemkaart.db`); a run that has not ended
/// after a generous time is killed (it would mean the database was accepted).
fn stemkaart(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemkaart"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DISCORD_TOKEN", "not-a-token")
        // Nothing listens there: a bot that got past the database would fail or hang here.
        .env("DISCORD_API_URL", "http://127.0.0.1:9")
        .env("STEMKAART_GUILD_ID", "1")
        .env(
            "STEMKAART_STATEMENTS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("statements"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The commands that open the database.
const COMMANDS: [&[&str]; 4] = [&["run"], &["sessions"], &["export"], &["charts"]];

/// Every command refuses with a message containing `expected` (and the database's path), in
/// plain words, and no file changes.
fn check_refused(scenario: &str, dir: &Path, expected: &str) {
    let before = files(dir);
    for args in COMMANDS {
        let out = stemkaart(dir, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{scenario}: `stemkaart {}` succeeded:\n{stderr}",
            args[0]
        );
        assert!(
            stderr.contains(expected) && stderr.contains("data/stemkaart.db"),
            "{scenario}: `stemkaart {}` said:\n{stderr}",
            args[0]
        );
        for noise in ["Some(", "Err(", "Error {", "Os {", "kind:", "panicked"] {
            assert!(
                !stderr.contains(noise),
                "{scenario}: `stemkaart {}` showed `{noise}`:\n{stderr}",
                args[0]
            );
        }
        let after = files(dir);
        let changed: Vec<_> = before
            .iter()
            .filter(|f| !after.contains(f))
            .map(|(p, _)| p.display().to_string())
            .chain(
                after
                    .iter()
                    .filter(|f| !before.iter().any(|b| b.0 == f.0))
                    .map(|(p, _)| format!("{} (new)", p.display())),
            )
            .collect();
        assert!(
            changed.is_empty(),
            "{scenario}: `stemkaart {}` changed {changed:?}",
            args[0]
        );
    }
}

/// A fresh copy of the real data in its own folder.
fn scenario(template: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&template.join("data"), &dir.path().join("data"));
    dir
}

fn db_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data/stemkaart.db/db")
}

/// The log position sled's last snapshot covers (its file is `snap.<lsn in hex>`).
fn snapshot_lsn(dir: &Path) -> Option<usize> {
    std::fs::read_dir(dir.join("data/stemkaart.db"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            usize::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
        })
        .max()
}

fn truncated(template: &Path, keep: usize) -> tempfile::TempDir {
    let dir = scenario(template);
    let bytes = std::fs::read(db_file(&dir)).unwrap();
    std::fs::write(db_file(&dir), &bytes[..keep.min(bytes.len())]).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_foreign_and_newer_databases_are_refused_untouched() {
    let fresh = real_data().await;
    // sled writes a snapshot of what is on disk each time it opens a database and notices a
    // cut in what a snapshot covers; a database the bot has just written has none yet for
    // that run's records (see `truncation_of_a_just_written_database`). Opened once:
    let template = scenario(fresh.path());
    let out = stemkaart(template.path(), &["sessions"]);
    // The untouched copy opens: the checks below are about the damage, not the setup.
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Gouda"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lsn = snapshot_lsn(template.path()).expect("sled wrote a snapshot when it opened");
    for keep in [0, 1, 512, lsn / 2, lsn - 1] {
        check_refused(
            &format!("db truncated to {keep} bytes (snapshot covers {lsn})"),
            truncated(template.path(), keep).path(),
            "is damaged",
        );
    }
    // Just written, no snapshot: the change count kept outside sled tells what is missing.
    let fresh_len = std::fs::metadata(db_file(&fresh)).unwrap().len() as usize;
    for percent in [10, 50, 90] {
        check_refused(
            &format!("db of a running bot cut to {percent} %"),
            truncated(fresh.path(), fresh_len * percent / 100).path(),
            "is damaged",
        );
    }
    let db_len = std::fs::metadata(db_file(&template)).unwrap().len() as usize;

    let dir = scenario(template.path());
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let garbage: Vec<u8> = (0..db_len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    std::fs::write(db_file(&dir), garbage).unwrap();
    check_refused("garbage db file", dir.path(), "is damaged");

    // Another program's folder.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data/stemkaart.db");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("notes.txt"), "boodschappen\n").unwrap();
    std::fs::write(folder.join("index.sqlite"), b"SQLite format 3\0").unwrap();
    check_refused(
        "another program's folder",
        dir.path(),
        "not a stemkaart database",
    );

    // Another program's sled database (sled's own files, other records, no schema).
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data/stemkaart.db");
    {
        let db = sled::open(&folder).unwrap();
        db.insert(b"user:1", b"alice").unwrap();
        db.open_tree("orders").unwrap().insert(b"1", b"x").unwrap();
        db.flush().unwrap();
    }
    check_refused(
        "another program's sled database",
        dir.path(),
        "not a stemkaart database",
    );

    // A newer stemkaart: the plain schema file, or only the schema key (file gone).
    let dir = scenario(template.path());
    std::fs::write(dir.path().join("data/stemkaart.db/stemkaart-schema"), "2\n").unwrap();
    check_refused(
        "newer schema file",
        dir.path(),
        "written by a newer stemkaart (schema 2",
    );

    let dir = scenario(template.path());
    let folder = dir.path().join("data/stemkaart.db");
    {
        let db = sled::open(&folder).unwrap();
        db.insert(b"schema_version", &3u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    std::fs::remove_file(folder.join("stemkaart-schema")).unwrap();
    check_refused(
        "newer schema key",
        dir.path(),
        "written by a newer stemkaart (schema 3",
    );

    // A schema file that is not a number.
    let dir = scenario(template.path());
    std::fs::write(
        dir.path().join("data/stemkaart.db/stemkaart-schema"),
        "\u{0}\u{ff}x",
    )
    .unwrap();
    check_refused(
        "unreadable schema file",
        dir.path(),
        "not a stemkaart database",
    );
}

/// A measurement, not a check: cut the `db` file of a database the bot has just written (no
/// sled snapshot covers that run's records yet) at every 2 % of its length and see what
/// `stemkaart sessions` makes of it. `-- --ignored --nocapture` prints the table for
/// RELIABILITY.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn truncation_of_a_just_written_database() {
    let fresh = real_data().await;
    let len = std::fs::metadata(db_file(&fresh)).unwrap().len() as usize;
    println!("| cut at | of {len} bytes | `stemkaart sessions` |\n|---|---|---|");
    for step in 0..50 {
        let keep = len * step / 50;
        let dir = truncated(fresh.path(), keep);
        let out = stemkaart(dir.path(), &["sessions"]);
        let said = if out.status.success() {
            let stdout = String::from_utf8_lossy(&out.stdout);
            format!(
                "accepted: {}",
                stdout
                    .lines()
                    .last()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().last().unwrap_or("").to_string();
            format!("refused: {}", last.split(" (").next().unwrap_or(""))
        };
        println!("| {keep} | {}% | {said} |", step * 2);
    }
}

/// A measurement, not a check: what the copy check costs when a database with a long history
/// is opened (500 sessions × 10 closed rounds, like the history benchmark).
/// `cargo test --test it open_cost -- --ignored --nocapture`.
#[test]
#[ignore]
fn open_cost_with_a_long_history() {
    use stemkaart::domain::{Language, Municipality, OnlineCount, Timestamp, Wording};
    use stemkaart::store::{NewRound, NewSession, Store};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stemkaart.db");
    {
        let store = Store::open(&path).unwrap();
        for s in 0..500u64 {
            let session = store
                .create_session(NewSession {
                    municipality: Municipality::parse(&format!("Gemeente {s}")).unwrap(),
                    label: None,
                    deck_id: "vertrouwen".into(),
                    deck_title: "Werken aan meer vertrouwen".into(),
                    language: Language::Nl,
                    guild_id: 1,
                    channel_id: 1000 + s,
                    started_at: Timestamp(1_000),
                })
                .unwrap();
            for r in 0..10u32 {
                let text =
                    format!("Stelling {r} met een tekst van gewone lengte, zoals in het deck");
                let round = store
                    .open_round(NewRound {
                        session_id: session.id,
                        statement_id: format!("s{r}"),
                        position: r + 1,
                        deck_size: 10,
                        text: text.clone(),
                        wording: Wording::of(&text),
                        channel_id: 1000 + s,
                        message_id: s * 100 + u64::from(r) + 1,
                        opened_at: Timestamp(2_000),
                    })
                    .unwrap();
                let online = OnlineCount {
                    agree: 7,
                    disagree: 5,
                    ambiguous: 0,
                };
                store
                    .close_round(round.id, online, Timestamp(3_000))
                    .unwrap();
            }
            store.end_session(session.id, Timestamp(4_000)).unwrap();
        }
    }
    let bytes: u64 = files(&path).iter().map(|(_, b)| b.len() as u64).sum();
    for attempt in 1..=3 {
        let start = Instant::now();
        let store = Store::open(&path).unwrap();
        let opened = start.elapsed();
        assert_eq!(store.sessions().unwrap().len(), 500);
        drop(store);
        println!(
            "open #{attempt}: {:.1} ms for a database of {:.1} MB (500 sessions × 10 rounds), copy check included",
            opened.as_secs_f64() * 1000.0,
            bytes as f64 / 1e6
        );
    }
}
