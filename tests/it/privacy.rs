//! No raw user id anywhere: after a whole workshop driven through the Discord-compatible
//! server, a byte scan of the database folder (sled's files, the schema, voter-key and
//! round-key files), the bot's debug log, the Discord attachments, and the CSV and charts
//! of the command line finds no participant's id in any encoding we could think of. After
//! `/session end` no per-voter record is left and the round secrets are forgotten.
//!
//! `cargo test --test it privacy -- --nocapture` prints the figures RELIABILITY.md shows.

use crate::harness::{files, last_statement, Harness};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use stemkaart::voter_key::VoterKey;

fn base64(bytes: &[u8], url: bool) -> String {
    let alphabet: &[u8] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A user id as it could end up in a file: decimal text (also UTF-16), the 8 bytes little-
/// and big-endian, those bytes as hex and base64 (unpadded; only when they start a base64
/// run at a multiple of 3 bytes).
fn encodings(id: u64) -> Vec<(String, Vec<u8>)> {
    let decimal = id.to_string();
    let mut out = vec![
        ("decimal".to_string(), decimal.clone().into_bytes()),
        (
            "decimal UTF-16LE".to_string(),
            decimal
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes())
                .collect(),
        ),
    ];
    for (order, bytes) in [("LE", id.to_le_bytes()), ("BE", id.to_be_bytes())] {
        out.push((format!("u64 {order}"), bytes.to_vec()));
        out.push((format!("hex {order}"), hex::encode(bytes).into_bytes()));
        out.push((
            format!("HEX {order}"),
            hex::encode_upper(bytes).into_bytes(),
        ));
        out.push((
            format!("base64 {order}"),
            base64(&bytes, false).into_bytes(),
        ));
        out.push((
            format!("base64url {order}"),
            base64(&bytes, true).into_bytes(),
        ));
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_workshop_leaves_no_user_id_anywhere() {
    assert_eq!(base64(b"Man", false), "TWFu");
    assert_eq!(base64(&[0xfb, 0xff], true), "-_8");
    let mut h = Harness::start_env(vec![("RUST_LOG".into(), "debug".into())]).await;
    let people = h.people(12);
    let data = h.dir.path().join("data");
    let mut attachments: Vec<(String, Vec<u8>)> = Vec::new();
    let mut secrets: Vec<[u8; 32]> = Vec::new();

    h.facilitate(
        "session start",
        json!({"municipality": "Leeuwarden", "deck": "vertrouwen", "label": "Privacy"}),
    )
    .await;
    for statement in 0..3usize {
        h.facilitate("statement next", json!({})).await;
        let message = last_statement(&h).id;
        for (i, person) in people.iter().enumerate() {
            let sim = &h.sim;
            match (i + statement) % 4 {
                0 => sim.react(h.channel, message, person, "🟩").await.unwrap(),
                1 => {
                    // A change of mind: the bot removes the older 🟩 by user id.
                    sim.react(h.channel, message, person, "🟩").await.unwrap();
                    sim.react(h.channel, message, person, "🟥").await.unwrap();
                }
                2 => {
                    sim.react(h.channel, message, person, "🟥").await.unwrap();
                    sim.unreact(h.channel, message, person, "🟥").await.unwrap();
                }
                _ => sim.react(h.channel, message, person, "🟥").await.unwrap(),
            }
        }
        // The open round's secret, as the bot keeps it (to find its pseudonyms later); it
        // is made when the round's first reaction arrives.
        let known = secrets.len();
        let deadline = std::time::Instant::now() + crate::harness::WAIT;
        while secrets.len() == known {
            assert!(std::time::Instant::now() < deadline, "no new round secret");
            let keys =
                std::fs::read_to_string(data.join("stemkaart.round-keys")).unwrap_or_default();
            for line in keys.lines().filter(|l| !l.starts_with('#')) {
                let hex_secret = line.split_whitespace().nth(1).unwrap();
                let secret: [u8; 32] = hex::decode(hex_secret).unwrap().try_into().unwrap();
                if !secrets.contains(&secret) {
                    secrets.push(secret);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        h.facilitate("room", json!({"agree": 4 + statement, "disagree": 2}))
            .await;
        if statement < 2 {
            h.facilitate("statement close", json!({})).await;
        }
    }
    assert_eq!(secrets.len(), 3, "one secret per round");
    for command in ["results", "compare", "export"] {
        let reply = h.facilitate(command, json!({})).await;
        assert_eq!(reply.files.len(), 1, "/{command}: {}", reply.content);
        attachments.extend(
            reply
                .files
                .into_iter()
                .map(|f| (format!("/{command} {}", f.filename), f.bytes)),
        );
    }
    let ended = h.facilitate("session end", json!({})).await;
    assert!(ended.content.contains("afgesloten"), "{}", ended.content);
    h.stop();

    // The command line: the CSV and the charts.
    for args in [
        &["export", "--out", "export.csv"][..],
        &["charts", "--out", "charts"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stemkaart"))
            .args(args)
            .current_dir(h.dir.path())
            .env_clear()
            .env(
                "STEMKAART_STATEMENTS",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("statements"),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // After /session end: no per-voter record, no round secret.
    let db = data.join("stemkaart.db");
    let key = VoterKey::existing(&db, None)
        .unwrap()
        .expect("the key file");
    let stale = |label: &str| {
        let bytes: Vec<u8> = files(&db).into_iter().flat_map(|(_, b)| b).collect();
        let pseudonyms: Vec<_> = secrets
            .iter()
            .flat_map(|s| people.iter().map(|p| key.pseudonym(s, p.id).0))
            .collect();
        let left = pseudonyms
            .iter()
            .filter(|p| contains(&bytes, &p[..]))
            .count();
        println!(
            "{label}: {left} of {} pseudonyms of the ended session still present as stale bytes in sled's files ({} bytes)",
            pseudonyms.len(),
            bytes.len()
        );
    };
    stale("after the bot stopped");
    {
        let store = stemkaart::store::Store::open(&db).unwrap();
        assert_eq!(store.voter_record_count(), 0, "per-voter records left");
        assert!(
            !store
                .dump()
                .unwrap()
                .iter()
                .any(|(tree, _, _)| tree == b"voters"),
            "a record in the voters tree"
        );
    }
    stale("after one more open");
    let keys = std::fs::read_to_string(data.join("stemkaart.round-keys")).unwrap();
    assert!(
        keys.lines().all(|l| l.starts_with('#')),
        "round secrets left: {keys}"
    );
    for secret in &secrets {
        assert!(!keys.contains(&hex::encode(secret)));
    }

    // The byte scan.
    let mut haystacks: Vec<(String, Vec<u8>)> = files(h.dir.path())
        .into_iter()
        .map(|(p, b)| {
            (
                p.strip_prefix(h.dir.path()).unwrap().display().to_string(),
                b,
            )
        })
        .collect();
    assert!(haystacks.iter().any(|(p, _)| p.starts_with("charts/")));
    assert!(haystacks.iter().any(|(p, _)| p == "export.csv"));
    assert!(haystacks
        .iter()
        .any(|(p, _)| p.ends_with("stemkaart.db/db")));
    haystacks.push(("bot log (RUST_LOG=debug)".into(), h.log_text().into_bytes()));
    haystacks.extend(attachments);
    let ids: Vec<u64> = people
        .iter()
        .map(|p| p.id)
        .chain([h.facilitator.id])
        .collect();
    let mut found = Vec::new();
    let mut needles = 0;
    for id in &ids {
        for (encoding, needle) in encodings(*id) {
            needles += 1;
            for (name, bytes) in &haystacks {
                if contains(bytes, &needle) {
                    found.push(format!("{encoding} of a user id in {name}"));
                }
            }
        }
    }
    let total: usize = haystacks.iter().map(|(_, b)| b.len()).sum();
    println!(
        "byte scan: {} user ids × {} encodings = {needles} needles in {} files and streams ({total} bytes): {} found",
        ids.len(),
        needles / ids.len(),
        haystacks.len(),
        found.len()
    );
    for (name, bytes) in &haystacks {
        println!("  scanned {name} ({} bytes)", bytes.len());
    }
    assert!(found.is_empty(), "{found:#?}");
}
