//! Scale of history: a database with `HISTORY_SESSIONS` (500) ended sessions of a
//! `HISTORY_STATEMENTS`-statement (10) deck, written with the library's Store API into a
//! temporary folder (with the deck in a temporary statements folder); crowd sizes, leanings,
//! room counts and sessions that stopped early vary. Then, as a user runs them:
//!
//! - `stemkaart charts` and `stemkaart export` (the release binary cargo built for the bench);
//! - `stemkaart run` against the in-repo Discord-compatible server: time to ready, idle RSS
//!   with the history loaded, and `/compare` (the whole deck, and one statement) from the
//!   interaction leaving the server to the reply with the PNG.
//!
//! The PNGs of `/compare` are kept in `target/history-bench/` to look at.
//!
//! Run: `cargo bench --bench history` (`HISTORY_SESSIONS=50` for a quick run).

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use stemkaart::domain::{Municipality, OnlineCount, Tally, Timestamp};
use stemkaart::sim::{perms, Sim};
use stemkaart::store::{NewRound, NewSession, Store};

const DECK: &str = "geschiedenis";

const TOWNS: [&str; 40] = [
    "Súdwest-Fryslân",
    "Amsterdam",
    "Rotterdam",
    "'s-Hertogenbosch",
    "Utrecht",
    "Groningen",
    "Eindhoven",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Apeldoorn",
    "Haarlem",
    "Arnhem",
    "Enschede",
    "Amersfoort",
    "Zaanstad",
    "Haarlemmermeer",
    "Zwolle",
    "Leiden",
    "Maastricht",
    "Dordrecht",
    "Zoetermeer",
    "Ede",
    "Leeuwarden",
    "Alphen aan den Rijn",
    "Westland",
    "Alkmaar",
    "Emmen",
    "Delft",
    "Venlo",
    "Deventer",
    "Sittard-Geleen",
    "Helmond",
    "Oss",
    "Hilversum",
    "Heerlen",
    "Nissewaard",
    "Hoeksche Waard",
    "Noardeast-Fryslân",
];

const THEMES: [&str; 10] = [
    "Ik heb vertrouwen in de gemeenteraad van mijn gemeente",
    "De gemeente luistert naar wat inwoners inbrengen, ook als het ongemakkelijk is",
    "Ik weet bij wie ik terecht kan als ik een probleem heb met de gemeente",
    "Inwoners moeten vaker zelf beslissen over hun eigen buurt, ook als dat langzamer gaat",
    "De gemeente legt voldoende uit waarom een besluit is genomen",
    "Ik vind dat de gemeente te veel afhankelijk is van het Rijk",
    "Lokale media zijn belangrijk voor het vertrouwen in de gemeente",
    "Ik voel me vertegenwoordigd door de mensen in de gemeenteraad",
    "De gemeente doet wat ze belooft",
    "Ik zou zelf meedoen aan een burgerberaad als ik werd gevraagd",
];

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run());
}

fn write_deck(folder: &Path, statements: usize) {
    std::fs::create_dir_all(folder).unwrap();
    let mut toml =
        String::from("title = \"Vertrouwen in de lokale overheid (tour)\"\nlanguage = \"nl\"\n");
    for i in 0..statements {
        let theme = THEMES[i % THEMES.len()];
        let text = if i < THEMES.len() {
            theme.to_string()
        } else {
            format!("{theme} ({})", i + 1)
        };
        toml.push_str(&format!(
            "\n[[statement]]\nid = \"stelling-{}\"\ntext = \"{text}\"\n",
            i + 1
        ));
    }
    std::fs::write(folder.join(format!("{DECK}.toml")), toml).unwrap();
}

/// Write `sessions` ended sessions with their closed rounds; returns the number of rounds.
fn write_history(db: &Path, statements_dir: &Path, guild: u64, sessions: usize) -> usize {
    let decks = stemkaart::decks::load_folder(statements_dir).unwrap();
    let deck = decks.get(DECK).expect("the deck").clone();
    let store = Store::open(db).unwrap();
    let mut rng = Rng::new(5);
    let mut rounds = 0;
    // Two years of workshops, about one a day, from 2025-01-06 on.
    let start_ms: i64 = 1_736_150_400_000;
    for i in 0..sessions {
        let town = TOWNS[(rng.below(TOWNS.len() as u64)) as usize];
        let at = start_ms + i as i64 * 86_400_000 + rng.below(10 * 3_600_000) as i64;
        let label = match rng.below(4) {
            0 => None,
            1 => Some(format!("avond {}", 1 + i / TOWNS.len())),
            2 => Some("raadsleden".to_string()),
            _ => Some(format!("wijk {}", 1 + rng.below(12))),
        };
        let channel = 1_000_000 + i as u64;
        let session = store
            .create_session(NewSession {
                municipality: Municipality::parse(town).unwrap(),
                label,
                deck_id: deck.id.clone(),
                deck_title: deck.title.clone(),
                language: deck.language,
                guild_id: guild,
                channel_id: channel,
                started_at: Timestamp::from_millis(at),
            })
            .unwrap();
        // Crowd size: mostly 10–80 online, some large (up to ~600), a few tiny.
        let crowd = match rng.below(10) {
            0 => 1 + rng.below(5),
            1 | 2 => 100 + rng.below(500),
            _ => 10 + rng.below(70),
        } as u32;
        let lean = 0.15 + 0.7 * (rng.below(1000) as f64 / 1000.0);
        // One in eight sessions stops early.
        let posed = if rng.below(8) == 0 {
            3 + rng.below(deck.len() as u64 - 3) as usize
        } else {
            deck.len() as usize
        };
        for (j, statement) in deck.statements.iter().take(posed).enumerate() {
            let opened = at + 60_000 * (5 + 7 * j as i64);
            let round = store
                .open_round(NewRound {
                    session_id: session.id,
                    statement_id: statement.id.clone(),
                    position: j as u32 + 1,
                    deck_size: deck.len(),
                    text: statement.text.clone(),
                    wording: statement.wording(),
                    channel_id: channel,
                    message_id: 10_000_000 + (i * 100 + j) as u64,
                    opened_at: Timestamp::from_millis(opened),
                })
                .unwrap();
            let voters = crowd - rng.below(u64::from(crowd) / 5 + 1) as u32;
            let p = (lean + (rng.below(400) as f64 - 200.0) / 1000.0).clamp(0.0, 1.0);
            let agree = (f64::from(voters) * p).round() as u32;
            let online = OnlineCount {
                agree,
                disagree: voters - agree,
                ambiguous: u32::from(rng.below(40) == 0),
            };
            store
                .close_round(round.id, online, Timestamp::from_millis(opened + 240_000))
                .unwrap();
            if rng.below(3) == 0 {
                let room = 5 + rng.below(40) as u32;
                let room_agree = (f64::from(room) * p).round() as u32;
                store
                    .set_room(round.id, Tally::new(room_agree, room - room_agree))
                    .unwrap();
            }
            rounds += 1;
        }
        store
            .end_session(session.id, Timestamp::from_millis(at + 7_200_000))
            .unwrap();
    }
    store.flush().unwrap();
    rounds
}

fn timed(command: &mut Command) -> (Duration, std::process::Output) {
    let start = Instant::now();
    let output = command.output().expect("run stemkaart");
    let took = start.elapsed();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (took, output)
}

async fn run() {
    let sessions = param("HISTORY_SESSIONS", 500);
    let statements = param("HISTORY_STATEMENTS", 10);
    let mut summary = machine();
    summary.push(format!(
        "command:  cargo bench --bench history  (HISTORY_SESSIONS={sessions} HISTORY_STATEMENTS={statements})"
    ));
    summary.push(format!("binary:   {}", stemkaart_bin().display()));
    for line in &summary {
        println!("{line}");
    }

    let sim = Sim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stemkaart.db");
    let statements_dir = dir.path().join("statements");
    write_deck(&statements_dir, statements);
    let start = Instant::now();
    let rounds = write_history(&db, &statements_dir, sim.guild_id(), sessions);
    let db_bytes: u64 = walk_size(&db);
    summary.push(String::new());
    summary.push(format!(
        "history:  {sessions} ended sessions, {rounds} closed rounds of a {statements}-statement deck \
         (written in {:.1} s; database {:.1} MiB on disk)",
        start.elapsed().as_secs_f64(),
        db_bytes as f64 / 1048576.0
    ));

    // The command line, as a user runs it.
    let charts_dir = dir.path().join("charts");
    let (took, output) = timed(
        Command::new(stemkaart_bin())
            .args(["charts", "--out"])
            .arg(&charts_dir)
            .arg("--db")
            .arg(&db)
            .arg("--statements")
            .arg(&statements_dir),
    );
    let files: Vec<_> = std::fs::read_dir(&charts_dir)
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    let bytes: u64 = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    let printed = String::from_utf8_lossy(&output.stdout).lines().count();
    summary.push(format!(
        "  stemkaart charts: {:.2} s, {} PNG files ({:.1} MiB), {printed} lines printed",
        took.as_secs_f64(),
        files.len(),
        bytes as f64 / 1048576.0
    ));
    let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/history-bench");
    std::fs::create_dir_all(&keep).unwrap();
    for f in &files {
        let name = f.file_name().to_string_lossy().to_string();
        if name.contains("vergelijking") {
            let _ = std::fs::copy(f.path(), keep.join(format!("charts-{name}")));
        }
    }
    let csv = dir.path().join("export.csv");
    let (took, _) = timed(
        Command::new(stemkaart_bin())
            .args(["export", "--out"])
            .arg(&csv)
            .arg("--db")
            .arg(&db)
            .arg("--statements")
            .arg(&statements_dir),
    );
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    summary.push(format!(
        "  stemkaart export: {:.2} s, {rows} rows",
        took.as_secs_f64()
    ));

    // The bot with that history.
    let started = Instant::now();
    let bot = Bot::start(&sim, &db, &statements_dir, &[]).await;
    let ready = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (peak, rss) = rss_kib(bot.pid());
    summary.push(format!(
        "  stemkaart run: ready {:.2} s after start; idle RSS {:.1} MiB (peak {:.1} MiB)",
        ready.as_secs_f64(),
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    ));
    let channel = sim.new_channel("vergelijken");
    let host = sim
        .user("organisator")
        .permissions(perms::MEMBER_DEFAULT | perms::MANAGE_GUILD);
    for (what, options) in [
        ("/compare deck", json!({"deck": DECK})),
        (
            "/compare deck statement:3",
            json!({"deck": DECK, "statement": 3}),
        ),
    ] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..3 {
            let start = Instant::now();
            let reply = sim
                .command(channel, &host, "compare", options.clone())
                .await
                .unwrap();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            last = Some(reply);
        }
        let reply = last.unwrap();
        let times = sorted(times);
        let png = reply.files.first();
        let (w, h) = png.map_or((0, 0), |f| png_size(&f.bytes));
        if let Some(f) = png {
            let name = what.replace(['/', ' ', ':'], "-");
            std::fs::write(
                keep.join(format!("{}.png", name.trim_matches('-'))),
                &f.bytes,
            )
            .unwrap();
        }
        summary.push(format!(
            "  {what}: interaction -> reply with PNG: median {:.0} ms of 3 (min {:.0}, max {:.0}); \
             PNG {w}x{h} px, {:.2} MiB; text: {}",
            quantile(&times, 0.5),
            times[0],
            times[times.len() - 1],
            png.map_or(0.0, |f| f.bytes.len() as f64 / 1048576.0),
            reply.content.lines().next().unwrap_or("")
        ));
    }
    let (peak, rss) = rss_kib(bot.pid());
    summary.push(format!(
        "  bot RSS after the /compare calls {:.1} MiB (peak {:.1} MiB)",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    ));
    bot.kill9();

    println!();
    println!("===== summary (paste into BENCHMARKS.md) =====");
    for line in &summary {
        println!("{line}");
    }
    println!("==============================================");
    println!(
        "PNGs of /compare and the comparison charts: {}",
        keep.display()
    );
}

fn walk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| walk_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Width and height from a PNG's IHDR.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    if bytes.len() < 24 {
        return (0, 0);
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}
