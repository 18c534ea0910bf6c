//! Gateway faults: the server drops the connection (and accepts or refuses the RESUME), stops
//! acknowledging heartbeats, and people react while the bot is offline. In each case the bot
//! recovers on its own and, after reconciliation, the closed round's result is what the
//! reactions on the message say.

use crate::harness::{totals, Crowd, Harness, READY};
use serde_json::json;
use std::time::Instant;
use stemkaart::sim::SimConfig;

/// The number in a gateway log line `RESUME from seq S accepted: N event(s) replayed`.
fn replayed(line: &str) -> usize {
    line.split("accepted: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no replay count in {line:?}"))
}

fn count(log: &[String], needle: &str) -> usize {
    log.iter().filter(|l| l.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_resumed_and_what_was_missed_is_replayed() {
    let h = Harness::start().await;
    h.sim.accept_resumes(true);
    let message = h.first_statement("Assen").await;
    let people = h.people(8);
    let mut crowd = Crowd::default();
    crowd.add(&h, message, &people[0], "🟩").await;
    crowd.add(&h, message, &people[1], "🟥").await;
    crowd.add(&h, message, &people[2], "🟩").await;

    h.sim.hold_reconnects(true);
    h.sim.drop_gateway().await;
    // While the bot is offline. The order of two colours given now is known only from the
    // replayed events: without them these votes would be ambiguous (not counted) at close.
    crowd.remove(&h, message, &people[0], "🟩").await;
    crowd.add(&h, message, &people[3], "🟩").await;
    crowd.add(&h, message, &people[4], "🟩").await;
    crowd.add(&h, message, &people[4], "🟥").await;
    crowd.add(&h, message, &people[5], "🟥").await;
    crowd.add(&h, message, &people[5], "🟩").await;
    crowd.add(&h, message, &people[2], "🟥").await;
    assert!(!h.sim.is_connected(), "the outage lasted");
    h.sim.hold_reconnects(false);

    h.eventually("an accepted RESUME", |sim| sim.resumes_accepted() == 1)
        .await;
    let log = h.sim.gateway_log();
    let resume = log
        .iter()
        .find(|l| l.contains("accepted"))
        .expect("a RESUME line");
    assert!(replayed(resume) >= 7, "the 7 missed events: {log:?}");
    assert_eq!(count(&log, "IDENTIFY"), 1, "no new session: {log:?}");
    assert_eq!(h.sim.ready_count(), 1);
    assert!(h.sim.dispatched().iter().any(|(_, t)| t == "RESUMED"));
    // The replayed changes of mind were applied in order: the bot removes the older colours.
    h.eventually("the older colours removed after the replay", |sim| {
        !sim.reaction_users(message, "🟩").contains(&people[4].id)
            && !sim.reaction_users(message, "🟥").contains(&people[5].id)
            && !sim.reaction_users(message, "🟩").contains(&people[2].id)
    })
    .await;

    crowd.add(&h, message, &people[6], "🟩").await;
    assert_eq!(crowd.expected(), (3, 3));
    h.close_and_check(&crowd).await;
    assert_eq!(h.log_count(READY), 1, "a resume is not a new ready");
    eprintln!("resume accepted: gateway log {:?}", h.sim.gateway_log());
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_resume_identifies_again_and_reconciles() {
    let mut h = Harness::start().await;
    let message = h.first_statement("Emmen").await;
    let people = h.people(6);
    let mut crowd = Crowd::default();
    crowd.add(&h, message, &people[0], "🟩").await;
    crowd.add(&h, message, &people[1], "🟩").await;
    crowd.add(&h, message, &people[2], "🟥").await;

    h.sim.hold_reconnects(true);
    h.sim.drop_gateway().await;
    // Missed: Discord does not replay these after a new IDENTIFY; the reaction lists the bot
    // reads when it is ready again bring them in.
    crowd.remove(&h, message, &people[0], "🟩").await;
    crowd.add(&h, message, &people[3], "🟥").await;
    // A change of mind: the bot knew 🟩, so the 🟥 it finds next to it is the newer one.
    crowd.add(&h, message, &people[1], "🟥").await;
    // Both colours given while offline: the order is unknowable, so by the rules the vote is
    // not counted, and the result says so.
    crowd.add(&h, message, &people[4], "🟩").await;
    crowd.add(&h, message, &people[4], "🟥").await;
    assert!(!h.sim.is_connected(), "the outage lasted");
    let readies = h.log_count(READY);
    h.sim.hold_reconnects(false);

    h.wait_log(READY, readies + 1).await;
    let log = h.sim.gateway_log();
    assert_eq!(h.sim.resumes_accepted(), 0);
    assert!(count(&log, "RESUME refused (op 9)") >= 1, "{log:?}");
    assert_eq!(count(&log, "IDENTIFY"), 2, "{log:?}");
    assert_eq!(h.sim.ready_count(), 2);

    crowd.add(&h, message, &people[5], "🟩").await;
    // Person 3's 🟥 (given while offline) is the older colour only if the new session's
    // ready reconciled it; the close alone would take the 🟩 for the older one.
    crowd.add(&h, message, &people[3], "🟩").await;
    // The crowd says (2, 3) counting person 4's 🟥; the bot cannot know that order.
    assert_eq!(crowd.expected(), (2, 3));
    let reply = h.facilitate("statement close", json!({})).await;
    assert_eq!(totals(&reply.content), (2, 2, 4), "{}", reply.content);
    assert!(
        reply.content.contains("1 stem niet geteld"),
        "{}",
        reply.content
    );
    eprintln!("resume refused: gateway log {:?}", h.sim.gateway_log());
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_heartbeats_make_the_bot_reconnect_and_reconcile() {
    let config = SimConfig {
        heartbeat_interval_ms: 300,
        ..SimConfig::default()
    };
    let mut h = Harness::start_with(config, Vec::new()).await;
    let message = h.first_statement("Hoogeveen").await;
    let people = h.people(5);
    let mut crowd = Crowd::default();
    crowd.add(&h, message, &people[0], "🟩").await;
    crowd.add(&h, message, &people[1], "🟩").await;

    // Keep the bot offline once it gives up on the silent connection (held before the
    // silence starts, so a quick reconnect cannot slip through), then react.
    h.sim.hold_reconnects(true);
    h.sim.ack_heartbeats(false);
    h.eventually("a heartbeat left unanswered", |sim| {
        sim.unacked_heartbeats() >= 1
    })
    .await;
    let silent = Instant::now();
    h.sim.ack_heartbeats(true);
    h.eventually("the silent connection closed", |sim| {
        sim.gateway_log()
            .iter()
            .any(|l| l.starts_with("connection lost"))
    })
    .await;
    crowd.remove(&h, message, &people[1], "🟩").await;
    crowd.add(&h, message, &people[2], "🟥").await;
    crowd.add(&h, message, &people[3], "🟩").await;
    h.sim.hold_reconnects(false);

    h.wait_log(READY, 2).await;
    eprintln!(
        "heartbeat scenario: new session ready {:?} after the first unanswered heartbeat",
        silent.elapsed()
    );
    let log = h.sim.gateway_log();
    let silent_at = log
        .iter()
        .position(|l| l.contains("HEARTBEAT not acknowledged"))
        .expect("logged");
    assert!(
        log[silent_at..].iter().any(|l| l.contains("IDENTIFY")),
        "a new IDENTIFY after the silence: {log:?}"
    );

    crowd.add(&h, message, &people[4], "🟥").await;
    // Person 2's 🟥 was missed: it is the older colour only if the new session's ready
    // reconciled it.
    crowd.add(&h, message, &people[2], "🟩").await;
    assert_eq!(crowd.expected(), (3, 1));
    h.close_and_check(&crowd).await;
    eprintln!("heartbeats: gateway log {:?}", h.sim.gateway_log());
    h.check_log();
}
