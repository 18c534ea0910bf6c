//! Load benchmarks of the real bot against the in-repo Discord-compatible server:
//!
//! 1. **Burst of facilitators**: `BURST_CHANNELS` (50) channels, each with its own session;
//!    one `/statement next` in every channel at once, twice (the second wave also closes the
//!    statement of the first). Per interaction: from INTERACTION_CREATE leaving the server to
//!    the first response callback arriving (Discord's limit: 3 s), and to the final answer.
//! 2. **Vote ingestion, end to end**: `INGEST_ROUNDS` (10) channels, each with a session and an
//!    open statement; `INGEST_EVENTS` (100 000) reaction adds/removes from `INGEST_USERS`
//!    (5000) members spread over the rounds, pushed as fast as the server can
//!    ([`Sim::react_bulk`], which stamps when each event left the server). The bot appends
//!    `<unix-nanos> <events-durable>` after each group commit (`STEMKAART_DURABLE_LOG`, see
//!    `src/tally.rs`), which gives events/s and per-event latency to durable. Then the bot is
//!    SIGKILLed and the database checked voter by voter against the server's reaction lists
//!    (votes lost must be 0).
//! 3. **Ceiling**: this binary re-executed with `--ceiling`: a bare serenity client that only
//!    counts reaction events, fed the same stream by a fresh server.
//!
//! The channels of the stream give the bot no Manage Messages, so it never removes an older
//! colour itself and the server sends exactly the pushed stream (with it, every change of mind
//! would add a REST call and a removal event).
//!
//! Steps 2 and 3 are repeated `INGEST_RUNS` (3) times, each with a fresh server, database and
//! bot, alternating bot and ceiling so both see the same machine; the summary gives every run
//! and the medians (on a shared machine single runs vary).
//!
//! Run: `cargo bench --bench ingest`; smaller: `INGEST_EVENTS=5000 INGEST_USERS=500
//! BURST_CHANNELS=5 INGEST_RUNS=1 cargo bench --bench ingest`. `INGEST_SEED` changes the
//! stream; `INGEST_PERF=<file>` records a `perf` profile of the bot during the stream.

mod common;

use common::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stemkaart::domain::{Colour, OnlineCount, Presence, Vote, VoterState};
use stemkaart::sim::{perms, BulkCommand, BulkReaction, Sim, SimUser};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--ceiling") {
        let n: u64 = args[i + 3].parse().expect("event count");
        return ceiling(&args[i + 1], &args[i + 2], n);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run());
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn ms(nanos: f64) -> f64 {
    nanos / 1e6
}

async fn run() {
    let events_n = param("INGEST_EVENTS", 100_000);
    let users_n = param("INGEST_USERS", 5_000);
    let rounds_n = param("INGEST_ROUNDS", 10);
    let burst_n = param("BURST_CHANNELS", 50);
    let seed = param("INGEST_SEED", 20261129) as u64;
    let runs_n = param("INGEST_RUNS", 3).max(1);
    let mut summary = machine();
    summary.push(format!(
        "command:  cargo bench --bench ingest  (INGEST_EVENTS={events_n} INGEST_USERS={users_n} \
         INGEST_ROUNDS={rounds_n} INGEST_RUNS={runs_n} BURST_CHANNELS={burst_n} INGEST_SEED={seed})"
    ));
    summary.push(format!("bot:      {}", stemkaart_bin().display()));
    for line in &summary {
        println!("{line}");
    }

    let stream = Stream::generate(events_n, users_n, rounds_n, seed);
    let statements = Path::new(env!("CARGO_MANIFEST_DIR")).join("statements");
    let mut runs = Vec::new();
    for run in 1..=runs_n {
        // Every run: a fresh server, database and bot; then the ceiling on its own server.
        let sim = Sim::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("stemkaart.db");
        let durable = dir.path().join("durable.log");
        let bot = Bot::start(
            &sim,
            &db,
            &statements,
            &[("STEMKAART_DURABLE_LOG", durable.display().to_string())],
        )
        .await;
        let host = sim
            .user("gespreksleider")
            .permissions(perms::MEMBER_DEFAULT | perms::MANAGE_GUILD);
        if run == 1 && burst_n > 0 {
            summary.push(String::new());
            summary.extend(burst(&sim, &host, burst_n).await);
        }
        println!("run {run} of {runs_n}");
        let ours = ingest(&sim, &host, bot, &db, &durable, &stream).await;
        let ceiling = ceiling_run(&stream).await;
        if run == 1 {
            summary.push(String::new());
            summary.push(format!(
                "ingest:   {events_n} reaction events ({} adds, {} removes) from {users_n} members over \
                 {rounds_n} open rounds; run 1 of {runs_n} in full:",
                stream.events.iter().filter(|e| e.added).count(),
                stream.events.iter().filter(|e| !e.added).count(),
            ));
            summary.extend(ours.lines.clone());
            summary.extend(ceiling.lines.clone());
            summary.push(String::new());
        }
        runs.push((ours, ceiling));
    }
    summary.push(
        "runs:     bot events/s | ceiling events/s | ratio | latency p50 / p99 | votes lost"
            .to_string(),
    );
    for (i, (ours, ceiling)) in runs.iter().enumerate() {
        summary.push(format!(
            "  run {}: {:>6.0} | {:>6.0} | {:>3.0} % | {:.0} / {:.0} ms | {}",
            i + 1,
            ours.rate,
            ceiling.rate,
            100.0 * ours.rate / ceiling.rate,
            ours.p50,
            ours.p99,
            ours.lost
        ));
    }
    let ratios = sorted(runs.iter().map(|(o, c)| 100.0 * o.rate / c.rate).collect());
    let rates = sorted(runs.iter().map(|(o, _)| o.rate).collect());
    let ceilings = sorted(runs.iter().map(|(_, c)| c.rate).collect());
    summary.push(format!(
        "ratio:    median of {runs_n} runs: bot {:.0} / ceiling {:.0} events/s; median ratio {:.0} % \
         of the ceiling (goal >= 80 %)",
        quantile(&rates, 0.5),
        quantile(&ceilings, 0.5),
        quantile(&ratios, 0.5)
    ));

    println!();
    println!("===== summary (paste into BENCHMARKS.md) =====");
    for line in &summary {
        println!("{line}");
    }
    println!("==============================================");
    let lost: usize = runs.iter().map(|(o, _)| o.lost).sum();
    assert_eq!(lost, 0, "votes were lost");
}

// ------------------------------------------------------------------ burst of facilitators

async fn burst(sim: &Sim, host: &SimUser, n: usize) -> Vec<String> {
    let channels: Vec<u64> = (0..n)
        .map(|i| sim.new_channel(&format!("werkplaats-{i}")))
        .collect();
    for (i, &channel) in channels.iter().enumerate() {
        sim.command(
            channel,
            host,
            "session start",
            json!({"municipality": format!("Gemeente {i}"), "deck": "vertrouwen"}),
        )
        .await
        .unwrap();
    }
    let mut lines = vec![format!(
        "burst:    {n} channels with a session each; /statement next in all of them at once"
    )];
    for wave in 1..=2 {
        let commands: Vec<BulkCommand> = channels
            .iter()
            .map(|&channel_id| BulkCommand {
                channel_id,
                user: host.clone(),
                command: "statement next".into(),
                options: json!({}),
            })
            .collect();
        let (ids, sent) = sim.commands_bulk(&commands).unwrap();
        sent.wait_sent(Duration::from_secs(30)).await.unwrap();
        let answers = futures::future::join_all(ids.iter().map(|&id| async move {
            let reply = sim.answer(id, Duration::from_secs(120)).await;
            (reply, unix_nanos())
        }))
        .await;
        let stamps = sent.stamps();
        let mut first = Vec::new();
        let mut finals = Vec::new();
        let mut failed = 0;
        for ((id, (reply, done)), sent_at) in ids.iter().zip(answers).zip(stamps) {
            match sim.first_callback_at(*id) {
                Some(at) => {
                    let at = at.duration_since(UNIX_EPOCH).unwrap().as_nanos() as f64;
                    first.push(ms(at - sent_at as f64));
                }
                None => failed += 1,
            }
            match reply {
                Ok(reply) if reply.content.contains("Stelling") => {
                    finals.push(ms(done as f64 - sent_at as f64))
                }
                Ok(reply) => panic!("unexpected answer: {}", reply.content),
                Err(err) => {
                    eprintln!("wave {wave}: {err:#}");
                    failed += 1;
                }
            }
        }
        let first = sorted(first);
        let finals = sorted(finals);
        let late = first.iter().filter(|&&t| t > 3000.0).count();
        let what = if wave == 1 {
            "posts statement 1"
        } else {
            "closes it, posts statement 2"
        };
        lines.push(format!(
            "  wave {wave} ({what}): first callback p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; \
             later than 3 s: {late} of {n}; final answer p50 {:.0} ms, max {:.0} ms; failed: {failed}",
            quantile(&first, 0.5),
            quantile(&first, 0.99),
            first.last().copied().unwrap_or(f64::NAN),
            quantile(&finals, 0.5),
            finals.last().copied().unwrap_or(f64::NAN),
        ));
    }
    for line in &lines {
        println!("{line}");
    }
    lines
}

// ------------------------------------------------------------------ the stream

struct Event {
    round: usize,
    user: usize,
    colour: Colour,
    added: bool,
}

/// A deterministic stream of valid reaction changes (each changes something on the server),
/// and what every member should have at the end.
struct Stream {
    users: usize,
    rounds: usize,
    events: Vec<Event>,
    /// Per (round, user): the state the events lead to under the vote rules.
    expected: Vec<VoterState>,
    /// Per (round, user) and colour: index of the latest add of that colour still on the
    /// message (an independent record of "most recent colour still there").
    last_add: Vec<[Option<usize>; 2]>,
}

fn ci(colour: Colour) -> usize {
    match colour {
        Colour::Agree => 0,
        Colour::Disagree => 1,
    }
}

impl Stream {
    fn generate(n: usize, users: usize, rounds: usize, seed: u64) -> Stream {
        let mut rng = Rng::new(seed);
        let mut expected = vec![VoterState::Nothing; users * rounds];
        let mut last_add = vec![[None, None]; users * rounds];
        let mut events = Vec::with_capacity(n);
        for i in 0..n {
            let round = rng.below(rounds as u64) as usize;
            let user = rng.below(users as u64) as usize;
            let slot = round * users + user;
            let state = expected[slot];
            // Rounds lean differently: from 30 % to 70 % agree.
            let lean = 0.3 + 0.4 * round as f64 / (rounds.max(2) - 1) as f64;
            let (colour, added) = match state {
                VoterState::Nothing => {
                    let c = if rng.chance(lean) {
                        Colour::Agree
                    } else {
                        Colour::Disagree
                    };
                    (c, true)
                }
                // A change of mind (tap the other colour), or taking the vote back.
                VoterState::One(c) if rng.chance(0.65) => (c.other(), true),
                VoterState::One(c) => (c, false),
                // Usually the older colour is taken off; sometimes the newer one.
                VoterState::Both { latest } if rng.chance(0.8) => (latest.other(), false),
                VoterState::Both { latest } => (latest, false),
                VoterState::BothUnknownOrder => unreachable!("the stream is seen in order"),
            };
            expected[slot] = if added {
                state.added(colour)
            } else {
                state.removed(colour)
            };
            last_add[slot][ci(colour)] = added.then_some(i);
            events.push(Event {
                round,
                user,
                colour,
                added,
            });
        }
        Stream {
            users,
            rounds,
            events,
            expected,
            last_add,
        }
    }

    fn bulk(&self, channels: &[u64], messages: &[u64], users: &[SimUser]) -> Vec<BulkReaction> {
        self.events
            .iter()
            .map(|e| BulkReaction {
                channel_id: channels[e.round],
                message_id: messages[e.round],
                user_id: users[e.user].id,
                emoji: e.colour.emoji().to_string(),
                added: e.added,
            })
            .collect()
    }

    /// Members in the same order and with the same names on every server.
    fn members(&self, sim: &Sim) -> Vec<SimUser> {
        (0..self.users)
            .map(|i| sim.user(&format!("deelnemer-{i}")))
            .collect()
    }
}

// ------------------------------------------------------------------ ingestion by the bot

struct Outcome {
    rate: f64,
    p50: f64,
    p99: f64,
    lost: usize,
    lines: Vec<String>,
}

fn reaction_events(sim: &Sim) -> usize {
    sim.dispatched()
        .iter()
        .filter(|(_, t)| t.starts_with("MESSAGE_REACTION"))
        .count()
}

/// `(unix-nanos, events-durable)` lines of the durability log.
fn durable_lines(path: &Path) -> Vec<(u64, usize)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (t, n) = l.split_once(' ')?;
            Some((t.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}

async fn wait_durable(path: &Path, n: usize, timeout: Duration) -> Vec<(u64, usize)> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let lines = durable_lines(path);
        if lines.last().is_some_and(|&(_, c)| c >= n) {
            return lines;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {:?} of {n} events durable after {timeout:?}",
            lines.last()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The bot's statement message in a channel: its latest message with reactions.
fn statement_message(sim: &Sim, channel: u64) -> u64 {
    sim.messages(channel)
        .into_iter()
        .rev()
        .find(|m| m.author_id == sim.bot_user_id() && !m.reactions.is_empty())
        .expect("a statement message")
        .id
}

async fn ingest(
    sim: &Sim,
    host: &SimUser,
    bot: Bot,
    db: &Path,
    durable: &Path,
    stream: &Stream,
) -> Outcome {
    let channels: Vec<u64> = (0..stream.rounds)
        .map(|r| {
            let channel = sim.new_channel(&format!("stroom-{r}"));
            sim.set_bot_permissions(channel, perms::BOT_DEFAULT & !perms::MANAGE_MESSAGES);
            channel
        })
        .collect();
    let mut messages = Vec::new();
    for (r, &channel) in channels.iter().enumerate() {
        sim.command(
            channel,
            host,
            "session start",
            json!({"municipality": format!("Stad {r}"), "deck": "vertrouwen"}),
        )
        .await
        .unwrap();
        sim.command(channel, host, "statement next", json!({}))
            .await
            .unwrap();
        messages.push(statement_message(sim, channel));
    }
    let users = stream.members(sim);
    let bulk = stream.bulk(&channels, &messages, &users);
    // Everything forwarded so far (the bot's own reactions) must be durable first.
    let before = reaction_events(sim);
    wait_durable(durable, before, Duration::from_secs(30)).await;

    // INGEST_PERF=<file>: record a CPU profile of the bot during the stream (needs `perf`).
    let perf = std::env::var("INGEST_PERF").ok().map(|out| {
        let child = Command::new("perf")
            .args([
                "record",
                "-F",
                "999",
                "--call-graph",
                "dwarf,16384",
                "-o",
                &out,
                "-p",
            ])
            .arg(bot.pid().to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("perf record");
        std::thread::sleep(Duration::from_millis(300));
        child
    });
    let (bot_cpu, server_cpu) = (cpu_seconds(Some(bot.pid())), cpu_seconds(None));
    let sent = sim.react_bulk(&bulk).unwrap();
    assert!(
        sent.skipped.is_empty(),
        "the stream has no-op changes: {:?}",
        &sent.skipped[..sent.skipped.len().min(5)]
    );
    sent.wait_sent(Duration::from_secs(300)).await.unwrap();
    let lines = wait_durable(durable, before + bulk.len(), Duration::from_secs(300)).await;
    let bot_cpu = cpu_seconds(Some(bot.pid())) - bot_cpu;
    let server_cpu = cpu_seconds(None) - server_cpu;
    if let Some(mut perf) = perf {
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
    let (peak_kib, rss_kib) = rss_kib(bot.pid());
    let dropped = bot.count(DROPPED);
    let stamps = sent.stamps();

    // Per event: the first log line that covers it.
    let mut latencies = Vec::with_capacity(stamps.len());
    let mut line = 0;
    for (i, &stamp) in stamps.iter().enumerate() {
        let needed = before + i + 1;
        while lines[line].1 < needed {
            line += 1;
        }
        latencies.push(ms(lines[line].0 as f64 - stamp as f64));
    }
    let first_sent = *stamps.iter().min().unwrap();
    let last_sent = *stamps.iter().max().unwrap();
    let last_durable = lines.last().unwrap().0;
    let flushes = lines
        .iter()
        .filter(|&&(_, c)| c > before && c <= before + bulk.len())
        .count();
    let latencies = sorted(latencies);
    let span = (last_durable - first_sent) as f64 / 1e9;
    let rate = bulk.len() as f64 / span;
    let server_rate = bulk.len() as f64 / ((last_sent - first_sent) as f64 / 1e9);

    let mut lines = vec![
        format!(
            "  server sent every event in {:.0} ms ({server_rate:.0} events/s)",
            (last_sent - first_sent) as f64 / 1e6
        ),
        format!(
            "  bot: every event durable {:.0} ms after the first left the server: {rate:.0} events/s \
             ({flushes} group commits)",
            span * 1e3
        ),
        format!(
            "  latency, event leaving the server -> its vote durable: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            quantile(&latencies, 0.5),
            quantile(&latencies, 0.99),
            latencies.last().unwrap()
        ),
        format!(
            "  CPU time per event: bot {:.1} us, server (this process) {:.1} us",
            bot_cpu * 1e6 / bulk.len() as f64,
            server_cpu * 1e6 / bulk.len() as f64
        ),
        format!(
            "  bot peak RSS (VmHWM) {:.1} MiB (VmRSS at the end {:.1} MiB); payloads serenity dropped: {dropped}",
            peak_kib as f64 / 1024.0,
            rss_kib as f64 / 1024.0
        ),
    ];
    for l in &lines {
        println!("{l}");
    }
    // No chance to close or reconcile anything: what is on disk now is what counted.
    bot.kill9();
    let (lost, unexpected, tallies) = check_store(sim, db, stream, &messages, &users);

    let check = format!(
        "  after SIGKILL, database vs the server's reaction lists: {lost} votes lost or wrong, \
         {unexpected} unexpected voter records; tallies {tallies}"
    );
    println!("{check}");
    lines.push(check);
    Outcome {
        rate,
        p50: quantile(&latencies, 0.5),
        p99: quantile(&latencies, 0.99),
        lost,
        lines,
    }
}

/// Open the database the killed bot left and compare every member's stored state in every
/// round with the server's reaction lists under the vote rules. Returns (lost or wrong,
/// unexpected records, a short description of the tallies).
fn check_store(
    sim: &Sim,
    db: &Path,
    stream: &Stream,
    messages: &[u64],
    users: &[SimUser],
) -> (usize, usize, String) {
    let store = stemkaart::store::Store::open(db).expect("open the database");
    let key = stemkaart::voter_key::VoterKey::load(db, Some(VOTER_KEY)).unwrap();
    let round_keys = stemkaart::round_keys::RoundKeys::open(db).unwrap();
    let open: HashMap<u64, stemkaart::domain::RoundId> = store
        .open_rounds()
        .unwrap()
        .into_iter()
        .map(|r| (r.message_id, r.id))
        .collect();
    let mut lost = 0;
    let mut unexpected = 0;
    let mut tallies_ok = 0;
    for (r, &message) in messages.iter().enumerate() {
        let round = open[&message];
        assert!(
            round_keys.rounds().contains(&round.0),
            "no secret for round {round:?}"
        );
        let secret = round_keys.get_or_create(round.0).unwrap();
        let mut stored: HashMap<[u8; 32], VoterState> = store
            .voter_states(round)
            .unwrap()
            .into_iter()
            .map(|(p, s)| (p.0, s))
            .collect();
        let agree: HashSet<u64> = sim.reaction_users(message, "🟩").into_iter().collect();
        let disagree: HashSet<u64> = sim.reaction_users(message, "🟥").into_iter().collect();
        let mut expected_states = Vec::new();
        let mut stored_states = Vec::new();
        for (u, user) in users.iter().enumerate() {
            let slot = r * stream.users + u;
            let present = Presence {
                agree: agree.contains(&user.id),
                disagree: disagree.contains(&user.id),
            };
            // The bench's own model must match the server.
            assert_eq!(present, stream.expected[slot].presence(), "model vs server");
            // The rule: the most recently added colour still on the message.
            let adds = stream.last_add[slot];
            let vote = [Colour::Agree, Colour::Disagree]
                .into_iter()
                .filter(|&c| present.has(c))
                .max_by_key(|&c| adds[ci(c)].expect("present colours were added"))
                .map_or(Vote::None, Vote::Counted);
            let state = stored
                .remove(&key.pseudonym(&secret, user.id).0)
                .unwrap_or_default();
            if state.presence() != present || state.vote() != vote {
                lost += 1;
            }
            expected_states.push(stream.expected[slot]);
            stored_states.push(state);
        }
        unexpected += stored.len();
        if OnlineCount::of(stored_states) == OnlineCount::of(expected_states) {
            tallies_ok += 1;
        }
    }
    (
        lost,
        unexpected,
        format!("{tallies_ok} of {} equal", messages.len()),
    )
}

// ------------------------------------------------------------------ the ceiling

struct Ceiling {
    rate: f64,
    lines: Vec<String>,
}

/// A fresh server with the same channels, statement messages and members, and a bare serenity
/// client (this binary with `--ceiling`) fed the same stream.
async fn ceiling_run(stream: &Stream) -> Ceiling {
    let sim = Sim::start().await.unwrap();
    let host = sim.user("gespreksleider");
    let channels: Vec<u64> = (0..stream.rounds)
        .map(|r| sim.new_channel(&format!("stroom-{r}")))
        .collect();
    let messages: Vec<u64> = channels
        .iter()
        .map(|&c| sim.post_as(c, &host, "Stelling 1/3").unwrap())
        .collect();
    let users = stream.members(&sim);
    let bulk = stream.bulk(&channels, &messages, &users);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ceiling",
            &sim.base_url(),
            &sim.token(),
            &bulk.len().to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    wait_line(&mut rx, "ready").await;
    let (client_cpu, server_cpu) = (cpu_seconds(Some(child.id())), cpu_seconds(None));
    let sent = sim.react_bulk(&bulk).unwrap();
    assert!(sent.skipped.is_empty());
    sent.wait_sent(Duration::from_secs(300)).await.unwrap();
    let done: u64 = wait_line(&mut rx, "done").await.parse().unwrap();
    let client_cpu = cpu_seconds(Some(child.id())) - client_cpu;
    let server_cpu = cpu_seconds(None) - server_cpu;
    let (peak_kib, _) = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let stamps = sent.stamps();
    let first_sent = *stamps.iter().min().unwrap();
    let last_sent = *stamps.iter().max().unwrap();
    let span = (done - first_sent) as f64 / 1e9;
    let rate = bulk.len() as f64 / span;
    let lines = vec![
        format!(
            "ceiling:  a bare serenity client that only counts reaction events, same stream, fresh server"
        ),
        format!(
            "  server sent every event in {:.0} ms ({:.0} events/s)",
            (last_sent - first_sent) as f64 / 1e6,
            bulk.len() as f64 / ((last_sent - first_sent) as f64 / 1e9)
        ),
        format!(
            "  client counted every event {:.0} ms after the first left the server: {rate:.0} events/s; peak RSS {:.1} MiB",
            span * 1e3,
            peak_kib as f64 / 1024.0
        ),
        format!(
            "  CPU time per event: client {:.1} us, server (this process) {:.1} us",
            client_cpu * 1e6 / bulk.len() as f64,
            server_cpu * 1e6 / bulk.len() as f64
        ),
    ];
    for l in &lines {
        println!("{l}");
    }
    Ceiling { rate, lines }
}

/// The rest of the first line from the ceiling client that starts with `prefix`.
async fn wait_line(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>, prefix: &str) -> String {
    tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            let line = rx.recv().await.expect("the ceiling client ended");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_string();
            }
        }
    })
    .await
    .expect("the ceiling client did not answer")
}

/// The bare client: counts MESSAGE_REACTION_ADD/REMOVE, prints `ready` and `done <unix-nanos>`.
fn ceiling(url: &str, token: &str, n: u64) {
    use serenity::all::{
        ClientBuilder, Context, EventHandler, GatewayIntents, HttpBuilder, Reaction, Ready,
    };

    struct Counter {
        n: u64,
        seen: AtomicU64,
    }

    impl Counter {
        fn count(&self) {
            if self.seen.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "done {}", unix_nanos());
                let _ = out.flush();
            }
        }
    }

    #[serenity::async_trait]
    impl EventHandler for Counter {
        async fn ready(&self, _: Context, _: Ready) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ready");
            let _ = out.flush();
        }
        async fn reaction_add(&self, _: Context, _: Reaction) {
            self.count();
        }
        async fn reaction_remove(&self, _: Context, _: Reaction) {
            self.count();
        }
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = HttpBuilder::new(token)
            .proxy(url)
            .ratelimiter_disabled(true)
            .build();
        let intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGE_REACTIONS;
        let mut client = ClientBuilder::new_with_http(http, intents)
            .event_handler(Counter {
                n,
                seen: AtomicU64::new(0),
            })
            .await
            .expect("client");
        client.start().await.expect("gateway");
    });
}
