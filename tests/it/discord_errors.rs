//! Fault 3, Discord errors: the real bot against the server answering 429, 500 and 502 on the
//! calls a facilitator's commands make, a deleted statement message, and missing permissions.
//! The facilitator gets a clear message, the bot retries where it may, and no vote is lost.

use crate::harness::{last_statement, totals, Crowd, Harness};
use serde_json::json;
use std::time::Duration;
use stemkaart::sim::{perms, Call, Fault, SimUser};

const POST_MESSAGE: &str = "/channels/*/messages";
const OWN_REACTION: &str = "/channels/*/messages/*/reactions/*/@me";
const REACTION_LIST: &str = "/channels/*/messages/*/reactions/*";
const CALLBACK: &str = "/interactions/*/*/callback";
const EDIT_REPLY: &str = "/webhooks/*/*/messages/@original";

/// Everyone votes once, some change their mind.
async fn vote(crowd: &mut Crowd, h: &Harness, message: u64, people: &[SimUser]) {
    for (i, p) in people.iter().enumerate() {
        match i % 3 {
            0 => crowd.add(h, message, p, "🟩").await,
            1 => crowd.add(h, message, p, "🟥").await,
            _ => {
                crowd.add(h, message, p, "🟥").await;
                crowd.add(h, message, p, "🟩").await;
            }
        }
    }
}

/// The calls answered with `status` whose path contains `part`, and the call after each.
fn retried(calls: &[Call], method: &str, part: &str, status: u16) -> Vec<(Call, Call)> {
    let matching: Vec<&Call> = calls
        .iter()
        .filter(|c| c.method == method && c.path.contains(part))
        .collect();
    matching
        .windows(2)
        .filter(|w| w[0].status == status)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect()
}

fn statement_messages(h: &Harness) -> usize {
    h.sim
        .messages(h.channel)
        .iter()
        .filter(|m| m.author_id == h.sim.bot_user_id() && m.content.contains("/3**"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_and_the_commands_succeed() {
    let h = Harness::start().await;
    h.start_session("Zwolle").await;

    // /statement next: the acknowledgement, the statement and both reactions fail first.
    h.sim
        .fail_next("POST", CALLBACK, 1, Fault::rate_limited(0.3));
    h.sim
        .fail_next("POST", POST_MESSAGE, 1, Fault::rate_limited(1.2));
    h.sim.fail_next("POST", POST_MESSAGE, 1, Fault::ServerError);
    h.sim.fail_next("PUT", OWN_REACTION, 1, Fault::BadGateway);
    h.sim
        .fail_next("PUT", OWN_REACTION, 1, Fault::rate_limited(0.3));
    h.sim.fail_next("PATCH", EDIT_REPLY, 1, Fault::ServerError);
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(
        reply
            .content
            .contains("Stelling 1/3 staat open voor stemmen"),
        "{}",
        reply.content
    );
    assert!(!reply.content.contains("Let op"), "{}", reply.content);
    assert_eq!(statement_messages(&h), 1, "exactly one statement message");
    let statement = last_statement(&h);
    let bot = h.sim.bot_user_id();
    for emoji in ["🟩", "🟥"] {
        assert!(
            h.sim.reaction_users(statement.id, emoji).contains(&bot),
            "the bot's {emoji} is on the statement"
        );
    }

    let mut crowd = Crowd::default();
    vote(&mut crowd, &h, statement.id, &h.people(12)).await;

    // /statement close: both reaction lists and the reply fail first.
    h.sim.fail_next("GET", REACTION_LIST, 2, Fault::ServerError);
    h.sim
        .fail_next("GET", REACTION_LIST, 1, Fault::rate_limited(0.3));
    h.sim.fail_next("PATCH", EDIT_REPLY, 1, Fault::BadGateway);
    let reply = h.close_and_check(&crowd).await;
    assert!(!reply.content.contains("Let op"), "{}", reply.content);
    assert_eq!(h.sim.faults_left(), 0, "every injected failure was met");

    // A 429 is never retried sooner than Discord asked (the 1.2 s is longer than the wait the
    // bot falls back on when it cannot read retry_after: it was read).
    let calls = h.sim.calls();
    for (method, part, retry_after) in [
        ("POST", "/callback", 300),
        ("POST", "/messages", 1200),
        ("PUT", "/@me", 300),
        ("GET", "/reactions/", 300),
    ] {
        let limited = retried(&calls, method, part, 429);
        assert_eq!(limited.len(), 1, "{method} {part}: {limited:?}");
        let (first, again) = &limited[0];
        assert!(
            again.since_start - first.since_start >= Duration::from_millis(retry_after),
            "{method} {part} was retried before retry_after"
        );
    }
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_posted_despite_a_lost_answer_is_not_posted_twice() {
    let h = Harness::start().await;
    h.start_session("Deventer").await;
    h.sim
        .fail_next("POST", POST_MESSAGE, 1, Fault::DoneButServerError);
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(
        reply
            .content
            .contains("Stelling 1/3 staat open voor stemmen"),
        "{}",
        reply.content
    );
    assert_eq!(
        statement_messages(&h),
        1,
        "the statement was not posted twice"
    );
    let statement = last_statement(&h);
    let mut crowd = Crowd::default();
    vote(&mut crowd, &h, statement.id, &h.people(6)).await;
    // The acknowledgement arrives but its answer is lost: trying again is refused as already
    // acknowledged, which means it had worked.
    h.sim
        .fail_next("POST", CALLBACK, 1, Fault::DoneButServerError);
    h.close_and_check(&crowd).await;
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_discord_stays_unavailable_the_facilitator_is_told_and_no_vote_is_lost() {
    let h = Harness::start().await;
    h.start_session("Kampen").await;

    // Posting fails on every attempt: nothing posted, the facilitator may simply try again.
    h.sim.fail_next("POST", POST_MESSAGE, 4, Fault::ServerError);
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(
        reply
            .content
            .contains("Discord is even niet bereikbaar (500 500: Internal Server Error (code 0))")
            && reply
                .content
                .contains("probeer het over een minuut opnieuw"),
        "{}",
        reply.content
    );
    assert_eq!(statement_messages(&h), 0);
    assert_eq!(h.sim.faults_left(), 0);
    // A rate limit longer than the bot waits within a command: not waited for, said so.
    h.sim
        .fail_next("POST", POST_MESSAGE, 1, Fault::rate_limited(30.0));
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(
        reply
            .content
            .contains("Discord is even niet bereikbaar (429 You are being rate limited.)"),
        "{}",
        reply.content
    );
    assert_eq!(statement_messages(&h), 0);
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(reply.content.contains("Stelling 1/3"), "{}", reply.content);
    let statement = last_statement(&h);

    let mut crowd = Crowd::default();
    vote(&mut crowd, &h, statement.id, &h.people(9)).await;
    // The reaction lists cannot be read at close (4 attempts for each colour): the votes the
    // bot saw count, and the facilitator is told.
    h.sim.fail_next("GET", REACTION_LIST, 8, Fault::BadGateway);
    let reply = h.close_and_check(&crowd).await;
    assert!(
        reply
            .content
            .contains("Let op: Discord gaf de reactielijsten niet (502 Bad Gateway)"),
        "{}",
        reply.content
    );
    assert_eq!(h.sim.faults_left(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_statement_message_keeps_the_votes_seen_and_the_workshop_goes_on() {
    let h = Harness::start().await;
    let first = h.first_statement("Hattem").await;
    let mut crowd = Crowd::default();
    vote(&mut crowd, &h, first, &h.people(7)).await;
    // The reaction events are on the bot's socket before the close (one ordered stream).
    let seen = crowd.expected();
    assert!(h.sim.delete_message(h.channel, first));

    let reply = h.facilitate("statement close", json!({})).await;
    assert_eq!(
        totals(&reply.content),
        (seen.0, seen.1, seen.0 + seen.1),
        "{}",
        reply.content
    );
    assert!(
        reply
            .content
            .contains("het stellingbericht is verwijderd, met zijn reacties")
            && reply.content.contains("ga verder met /statement next"),
        "{}",
        reply.content
    );

    let reply = h.facilitate("statement next", json!({})).await;
    assert!(reply.content.contains("Stelling 2/3"), "{}", reply.content);
    let second = last_statement(&h).id;
    let mut crowd = Crowd::default();
    vote(&mut crowd, &h, second, &h.people(5)).await;
    h.close_and_check(&crowd).await;
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permissions_are_named_and_votes_still_count() {
    let h = Harness::start().await;
    h.sim.set_bot_permissions(
        h.channel,
        perms::BOT_DEFAULT & !perms::ADD_REACTIONS & !perms::MANAGE_MESSAGES,
    );
    h.start_session("Elburg").await;
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(
        reply
            .content
            .contains("de bot kon 🟩/🟥 niet zelf toevoegen (geef hem Add Reactions)")
            && reply.content.contains("Missing Permissions (code 50013)")
            && reply
                .content
                .contains("Geef hem Manage Messages (Berichten beheren)"),
        "{}",
        reply.content
    );
    let statement = last_statement(&h).id;
    assert!(h.sim.reaction_users(statement, "🟩").is_empty());

    // Changes of mind leave the older colour on the message (the bot may not remove it); the
    // colour chosen last counts.
    let mut crowd = Crowd::default();
    vote(&mut crowd, &h, statement, &h.people(12)).await;
    h.close_and_check(&crowd).await;
    assert!(
        h.sim
            .calls()
            .iter()
            .all(|c| !(c.method == "DELETE" && c.status < 300)),
        "no reaction was removed"
    );
    h.check_log();
}

/// Every attempt to post is carried out by Discord but answered with a 500: the facilitator is
/// told to try again, and trying again takes the message Discord already has (same nonce)
/// instead of posting a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_discord_made_despite_every_error_is_not_posted_again() {
    let h = Harness::start().await;
    h.start_session("Zutphen").await;
    h.sim
        .fail_next("POST", POST_MESSAGE, 4, Fault::DoneButServerError);
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(
        reply.content.contains("niet bereikbaar"),
        "{}",
        reply.content
    );
    assert_eq!(h.sim.faults_left(), 0);
    assert_eq!(statement_messages(&h), 1, "Discord made the post once");
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(
        reply
            .content
            .contains("Stelling 1/3 staat open voor stemmen"),
        "{}",
        reply.content
    );
    assert_eq!(
        statement_messages(&h),
        1,
        "the statement was not posted twice"
    );
    let statement = last_statement(&h);
    let mut crowd = Crowd::default();
    vote(&mut crowd, &h, statement.id, &h.people(4)).await;
    h.close_and_check(&crowd).await;
    h.check_log();
}
