//! A large online event: thousands of participants react within seconds. The real bot binary
//! (release build) runs against the in-repo Discord-compatible server; every participant adds
//! a colour, a tenth change their mind; then the facilitator closes the statement.
//!
//! Prints how long the server took to send all reaction events, how long until the close
//! answered (the bot has then applied every event before it, reconciled with the reaction
//! lists and made the result durable), and checks the result.
//!
//! Run: `cargo bench --bench burst` (`BURST_PARTICIPANTS=10000` for another size).

use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use stemkaart::sim::{perms, Sim, SimConfig};

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let participants: usize = std::env::var("BURST_PARTICIPANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(burst(participants));
}

async fn burst(participants: usize) {
    let sim = Sim::start_with(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let statements = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("statements");
    let mut bot = Command::new(env!("CARGO_BIN_EXE_stemkaart"))
        .arg("run")
        .env("DISCORD_TOKEN", sim.token())
        .env("DISCORD_API_URL", sim.base_url())
        .env("STEMKAART_GUILD_ID", sim.guild_id().to_string())
        .env("STEMKAART_DB", dir.path().join("db"))
        .env("STEMKAART_STATEMENTS", statements)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    sim.wait_ready(1, Duration::from_secs(60)).await.unwrap();
    sim.wait_commands(Duration::from_secs(60)).await.unwrap();
    let channel = sim.new_channel("groot-evenement");
    let host = sim
        .user("host")
        .permissions(perms::MEMBER_DEFAULT | perms::MANAGE_GUILD);
    // The ready handler registers commands, then reconciles: retry until it answers.
    let mut started = sim
        .command(
            channel,
            &host,
            "session start",
            json!({"municipality": "Utrecht", "deck": "vertrouwen"}),
        )
        .await;
    for _ in 0..100 {
        if started.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        started = sim
            .command(
                channel,
                &host,
                "session start",
                json!({"municipality": "Utrecht", "deck": "vertrouwen"}),
            )
            .await;
    }
    started.unwrap();
    sim.command(channel, &host, "statement next", json!({}))
        .await
        .unwrap();
    let message = sim
        .messages(channel)
        .into_iter()
        .rev()
        .find(|m| m.author_id == sim.bot_user_id())
        .unwrap()
        .id;
    let people: Vec<_> = (0..participants)
        .map(|i| sim.user(&format!("p{i}")))
        .collect();

    let start = Instant::now();
    let mut agree = 0;
    let mut events = 0;
    for (i, person) in people.iter().enumerate() {
        let first = if i % 2 == 0 { "🟩" } else { "🟥" };
        sim.react(channel, message, person, first).await.unwrap();
        events += 1;
        if i % 10 == 0 {
            let other = if first == "🟩" { "🟥" } else { "🟩" };
            sim.react(channel, message, person, other).await.unwrap();
            events += 1;
            agree += usize::from(other == "🟩");
        } else {
            agree += usize::from(first == "🟩");
        }
    }
    let sent = start.elapsed();
    let reply = sim
        .command(channel, &host, "statement close", json!({}))
        .await
        .unwrap();
    let closed = start.elapsed();
    let expected = format!(
        "🟩 {agree} · 🟥 {} · n={participants}",
        participants - agree
    );
    assert!(
        reply.content.contains(&expected),
        "expected {expected}, got {}",
        reply.content
    );
    println!(
        "burst: {participants} participants, {events} reaction events ({} changes of mind)",
        events - participants
    );
    println!(
        "  server sent every event in {:.0} ms ({:.0} events/s)",
        sent.as_secs_f64() * 1000.0,
        events as f64 / sent.as_secs_f64()
    );
    println!(
        "  close answered {:.0} ms after the first reaction ({:.0} events/s end to end), result {expected} ✓",
        closed.as_secs_f64() * 1000.0,
        events as f64 / closed.as_secs_f64()
    );
    let _ = bot.kill();
    let _ = bot.wait();
}
