//! The load path, small: a stream of reaction changes queued at once ([`Sim::react_bulk`]) is
//! stored exactly, the bot's durability log (`STEMKAART_DURABLE_LOG`) never claims an event
//! durable before it left the server, and after `kill -9` the database holds every vote.
//! (No timing here: `cargo bench --bench ingest` measures.)

use crate::harness::Harness;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stemkaart::domain::{Colour, VoterState};
use stemkaart::sim::{perms, BulkReaction};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_stream_is_durable_when_the_log_says_so_and_survives_kill_9() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("durable.log");
    let mut h = Harness::start_env(vec![(
        "STEMKAART_DURABLE_LOG".into(),
        log.display().to_string(),
    )])
    .await;
    // Without Manage Messages the bot leaves older colours on: the server sends exactly the
    // stream below.
    h.sim
        .set_bot_permissions(h.channel, perms::BOT_DEFAULT & !perms::MANAGE_MESSAGES);
    let message = h.first_statement("Arnhem").await;
    let people = h.people(60);

    // Every change changes something: adds, changes of mind (both colours on), withdrawals.
    let mut expected = vec![VoterState::Nothing; people.len()];
    let mut events = Vec::new();
    for step in 0..5 {
        for (i, person) in people.iter().enumerate() {
            let state = expected[i];
            let (colour, added) = match (state, (i + step) % 4) {
                (VoterState::Nothing, k) => (
                    if k % 2 == 0 {
                        Colour::Agree
                    } else {
                        Colour::Disagree
                    },
                    true,
                ),
                (VoterState::One(c), 0 | 1) => (c.other(), true),
                (VoterState::One(c), _) => (c, false),
                (VoterState::Both { latest }, 0..=2) => (latest.other(), false),
                (VoterState::Both { latest }, _) => (latest, false),
                (VoterState::BothUnknownOrder, _) => unreachable!(),
            };
            expected[i] = if added {
                state.added(colour)
            } else {
                state.removed(colour)
            };
            events.push(BulkReaction {
                channel_id: h.channel,
                message_id: message,
                user_id: person.id,
                emoji: colour.emoji().to_string(),
                added,
            });
        }
    }
    let before = h
        .sim
        .dispatched()
        .iter()
        .filter(|(_, t)| t.starts_with("MESSAGE_REACTION"))
        .count();
    let sent = h.sim.react_bulk(&events).unwrap();
    assert!(sent.skipped.is_empty(), "{:?}", sent.skipped);
    sent.wait_sent(Duration::from_secs(30)).await.unwrap();
    let stamps = sent.stamps();
    assert!(stamps.iter().all(|&s| s > 0));

    let deadline = std::time::Instant::now() + crate::harness::WAIT;
    let lines = loop {
        let lines: Vec<(u64, usize)> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (t, n) = l.split_once(' ').expect("<nanos> <events>");
                (t.parse().unwrap(), n.parse().unwrap())
            })
            .collect();
        if lines
            .last()
            .is_some_and(|&(_, n)| n >= before + events.len())
        {
            break lines;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every event durable within {:?}: {:?} (expected {})",
            crate::harness::WAIT,
            lines.last(),
            before + events.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Counts only grow, and an event is never durable before it left the server.
    assert!(lines
        .windows(2)
        .all(|w| w[0].1 < w[1].1 && w[0].0 <= w[1].0));
    assert_eq!(lines.last().unwrap().1, before + events.len());
    for (i, &stamp) in stamps.iter().enumerate() {
        let (at, _) = lines.iter().find(|&&(_, n)| n > before + i).unwrap();
        assert!(*at >= stamp, "event {i} durable at {at}, sent at {stamp}");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(lines.last().unwrap().0 <= now);

    // No close, no reconciliation: what is on disk is what counted.
    h.kill9();
    let db = h.dir.path().join("data/stemkaart.db");
    let store = stemkaart::store::Store::open(&db).unwrap();
    let key = stemkaart::voter_key::VoterKey::load(&db, None).unwrap();
    let round_keys = stemkaart::round_keys::RoundKeys::open(&db).unwrap();
    let round = store
        .open_rounds()
        .unwrap()
        .into_iter()
        .find(|r| r.message_id == message)
        .unwrap();
    assert!(round_keys.rounds().contains(&round.id.0));
    let secret = round_keys.get_or_create(round.id.0).unwrap();
    let stored: HashMap<[u8; 32], VoterState> = store
        .voter_states(round.id)
        .unwrap()
        .into_iter()
        .map(|(p, s)| (p.0, s))
        .collect();
    for (person, want) in people.iter().zip(&expected) {
        let have = stored
            .get(&key.pseudonym(&secret, person.id).0)
            .copied()
            .unwrap_or_default();
        assert_eq!(have, *want, "{}", person.name);
    }
    assert_eq!(
        stored.len(),
        expected
            .iter()
            .filter(|s| **s != VoterState::Nothing)
            .count()
    );
}
