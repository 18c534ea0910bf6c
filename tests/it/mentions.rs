//! What a facilitator types is quoted back in public replies (the municipality, the label) and
//! in refusals (an unknown deck): it must never notify anyone, whatever the bot's permissions.

use crate::harness::Harness;
use serde_json::json;
use stemkaart::sim::SimMessage;

const TYPED: &str = "@everyone @here <@123456789012345678> <@&987654321098765432>";

#[test]
fn mentions_are_found_by_the_server() {
    // The check below relies on the server seeing these as notifications when allowed.
    let pings = stemkaart::sim::pings_of(TYPED, None);
    assert_eq!(pings.len(), 4, "{pings:?}");
    assert!(stemkaart::sim::pings_of(TYPED, Some(&json!({"parse": []}))).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_mentions_never_notify() {
    let mut h = Harness::start().await;
    let refused = h
        .facilitate(
            "session start",
            json!({"municipality": "Assen", "deck": TYPED}),
        )
        .await;
    assert!(refused.content.contains("@everyone"), "{}", refused.content);
    let started = h
        .facilitate(
            "session start",
            json!({"municipality": TYPED, "deck": "vertrouwen", "label": TYPED}),
        )
        .await;
    assert!(started.content.contains("<@&"), "{}", started.content);
    h.facilitate("statement next", json!({})).await;
    h.facilitate("statement close", json!({})).await;
    h.facilitate("results", json!({})).await;
    h.facilitate("session end", json!({})).await;

    let mut messages: Vec<SimMessage> = h.sim.messages(h.channel);
    messages.extend(h.sim.message(refused.message_id)); // private, so not in the channel list
    let quoting = messages
        .iter()
        .filter(|m| m.content.contains("@everyone"))
        .count();
    assert!(
        quoting >= 2,
        "the typed text is quoted in {quoting} messages"
    );
    for message in &messages {
        assert!(
            message.pings.is_empty(),
            "message {} would notify {:?}: {}",
            message.id,
            message.pings,
            message.content
        );
    }
    h.stop();
    h.check_log();
}
