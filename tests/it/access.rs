//! Who may do what: every command × every kind of actor, end to end with the real bot.
//!
//! Allowed actors (administrator, Manage Server, facilitator role) run a whole workshop, and
//! every command must really succeed. Everyone else (a plain member, an administrator of
//! another guild, a DM) sends every command where a facilitator's would succeed; each must be
//! refused, and the database (a logical dump of every sled tree) and the voter-key and
//! round-key files must be byte-for-byte the same afterwards.
//!
//! `cargo test --test it permission_matrix -- --nocapture` prints the matrix that
//! RELIABILITY.md shows.

use crate::harness::Harness;
use serde_json::{json, Value};
use stemkaart::sim::{perms, Origin, Reply, SimUser};

/// The commands, in workshop order: (name shown in the matrix, command path, options).
fn commands() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "/session start",
            "session start",
            json!({"municipality": "Arnhem", "deck": "vertrouwen"}),
        ),
        ("/statement next", "statement next", json!({})),
        ("/statement post", "statement post", json!({"number": 2})),
        ("/room", "room", json!({"agree": 3, "disagree": 1})),
        ("/statement close", "statement close", json!({})),
        ("/results", "results", json!({})),
        ("/compare", "compare", json!({})),
        ("/export", "export", json!({})),
        ("/session end", "session end", json!({})),
    ]
}

const AUTOCOMPLETE: &str = "autocomplete (deck)";

/// What an interaction produced, as far as the matrix cares.
enum Outcome {
    Reply(Reply),
    Choices(Vec<Value>),
}

/// Did the command do what a facilitator asked? (Judged the same way for every actor.)
fn succeeded(name: &str, outcome: &Outcome, statements_before: usize, statements: usize) -> bool {
    let reply = match outcome {
        Outcome::Choices(choices) => return !choices.is_empty(),
        Outcome::Reply(reply) => reply,
    };
    let text = &reply.content;
    match name {
        "/session start" => text.starts_with("Sessie gestart"),
        "/statement next" | "/statement post" => {
            text.contains("staat open voor stemmen") && statements > statements_before
        }
        "/room" => text.contains("zaaltelling opgeslagen"),
        "/statement close" => text.contains("gesloten") && text.contains("n="),
        "/results" => text.starts_with("Uitslag") && reply.files.len() == 1,
        "/compare" => text.starts_with("Vergelijking") && reply.files.len() == 1,
        "/export" => {
            reply.files.len() == 1
                && String::from_utf8_lossy(&reply.files[0].bytes)
                    .lines()
                    .count()
                    > 1
        }
        "/session end" => text.contains("afgesloten"),
        other => panic!("unknown command {other}"),
    }
}

/// The bot's statement messages in a channel.
fn statements(h: &Harness, channel: u64) -> usize {
    h.sim
        .messages(channel)
        .iter()
        .filter(|m| m.author_id == h.sim.bot_user_id() && m.content.contains("/3**"))
        .count()
}

async fn send(
    h: &Harness,
    origin: Origin,
    channel: u64,
    user: &SimUser,
    name: &str,
    path: &str,
    options: Value,
) -> Outcome {
    let result = if name == AUTOCOMPLETE {
        h.sim
            .autocomplete_from(
                origin,
                channel,
                user,
                "session start",
                json!({"municipality": "x", "deck": "vert"}),
                "deck",
            )
            .await
            .map(Outcome::Choices)
    } else {
        h.sim
            .command_from(origin, channel, user, path, options)
            .await
            .map(Outcome::Reply)
    };
    result.unwrap_or_else(|err| panic!("{name}: {err:#}\nbot log:\n{}", h.log_text()))
}

/// Every sled record plus the bytes of the key files, read while the bot is stopped.
fn snapshot(h: &Harness) -> (Vec<stemkaart::store::Record>, Vec<Vec<u8>>) {
    let data = h.dir.path().join("data");
    let store = stemkaart::store::Store::open(&data.join("stemkaart.db")).unwrap();
    let dump = store.dump().unwrap();
    let files = ["stemkaart.voter-key", "stemkaart.round-keys"]
        .iter()
        .map(|f| std::fs::read(data.join(f)).unwrap_or_default())
        .collect();
    (dump, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix() {
    let mut h = Harness::start().await;
    let role = h.sim.new_role("gespreksleiding", 0);
    h.stop();
    h.extra_env = vec![("STEMKAART_FACILITATOR_ROLE".into(), role.to_string())];
    h.spawn_bot().await;

    let admin = h
        .sim
        .user("beheerder")
        .permissions(perms::MEMBER_DEFAULT | perms::ADMINISTRATOR);
    let manager = h.facilitator.clone();
    let role_holder = h.sim.user("gespreksleider-rol").role(role);
    let member = h.sim.user("deelnemer");
    // Worst cases: an administrator of guild B who even holds this server's facilitator
    // role id, and an administrator of this server writing in a DM.
    let foreigner = h.sim.user("beheerder-elders").role(role);
    let dm_user = h
        .sim
        .user("beheerder-dm")
        .permissions(perms::MEMBER_DEFAULT | perms::ADMINISTRATOR);
    let other_guild = Origin::OtherGuild(h.sim.other_guild());
    let voters = h.people(4);

    let mut names: Vec<&str> = commands().iter().map(|c| c.0).collect();
    names.push(AUTOCOMPLETE);
    let mut rows: Vec<(String, Vec<&'static str>)> = Vec::new();

    // Allowed: each runs a whole workshop in a channel of its own; every step must succeed.
    for (label, user) in [
        ("administrator", &admin),
        ("Manage Server", &manager),
        ("facilitator role", &role_holder),
    ] {
        let channel = h.sim.new_channel(label);
        let mut cells = Vec::new();
        for (name, path, options) in commands() {
            let before = statements(&h, channel);
            let outcome = send(&h, Origin::Guild, channel, user, name, path, options).await;
            let after = statements(&h, channel);
            let ok = succeeded(name, &outcome, before, after);
            if let Outcome::Reply(reply) = &outcome {
                assert!(ok, "{label} {name}: {}", reply.content);
            }
            cells.push("ok");
            if name == "/statement next" || name == "/statement post" {
                let message = h.sim.messages(channel).last().unwrap().id;
                for (i, voter) in voters.iter().enumerate() {
                    let emoji = if i % 2 == 0 { "🟩" } else { "🟥" };
                    h.sim.react(channel, message, voter, emoji).await.unwrap();
                }
            }
        }
        let outcome = send(
            &h,
            Origin::Guild,
            channel,
            user,
            AUTOCOMPLETE,
            "",
            json!({}),
        )
        .await;
        assert!(
            succeeded(AUTOCOMPLETE, &outcome, 0, 0),
            "{label} autocomplete"
        );
        cells.push("ok");
        rows.push((label.to_string(), cells));
    }

    // A channel where every command of a facilitator would succeed: a session with one
    // closed statement (so /results, /compare and /export have something) and one open
    // statement with votes; and an empty channel for /session start.
    let busy = h.sim.new_channel("bezig");
    let empty = h.sim.new_channel("leeg");
    let guild_b_channel = h.sim.new_channel("kanaal-van-server-b");
    let dm = h.sim.new_channel("dm");
    for (path, options) in [
        (
            "session start",
            json!({"municipality": "Zwolle", "deck": "vertrouwen"}),
        ),
        ("statement next", json!({})),
        ("statement close", json!({})),
        ("statement next", json!({})),
    ] {
        h.sim
            .command(busy, &manager, path, options)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e:#}"));
        if path == "statement next" {
            let message = h.sim.messages(busy).last().unwrap().id;
            for voter in &voters {
                h.sim.react(busy, message, voter, "🟩").await.unwrap();
            }
        }
    }
    let others_before = |h: &Harness| {
        [busy, empty, guild_b_channel, dm]
            .iter()
            .map(|c| {
                h.sim
                    .messages(*c)
                    .into_iter()
                    .map(|m| (m.id, m.content, m.reactions, m.edited))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    // The votes just made may still be on their way; a restart reconciles them with the
    // server's reaction lists, so the state compared below is settled.
    h.stop();
    h.spawn_bot().await;
    h.stop();
    let before = snapshot(&h);
    assert!(!before.0.is_empty() && !before.1[1].is_empty());
    h.spawn_bot().await;
    let messages_before = others_before(&h);
    let calls_before = h.sim.calls().len();

    let not_a_facilitator = stemkaart::messages::not_a_facilitator(stemkaart::domain::Language::Nl);
    let other_server = stemkaart::messages::other_server(stemkaart::domain::Language::Nl);
    let guild_only = stemkaart::messages::guild_only(stemkaart::domain::Language::Nl);
    let mut unauthorised = 0;
    for (label, user, origin, own_channel, refusal) in [
        (
            "plain member",
            &member,
            Origin::Guild,
            None,
            &not_a_facilitator,
        ),
        (
            "admin of another guild, its channel",
            &foreigner,
            other_guild,
            Some(guild_b_channel),
            &other_server,
        ),
        (
            "admin of another guild, this guild's channel",
            &foreigner,
            other_guild,
            None,
            &other_server,
        ),
        ("DM", &dm_user, Origin::Dm, Some(dm), &guild_only),
    ] {
        let mut cells = Vec::new();
        for (name, path, options) in commands()
            .into_iter()
            .chain([(AUTOCOMPLETE, "", json!({}))])
        {
            let channel = own_channel.unwrap_or(if name == "/session start" {
                empty
            } else {
                busy
            });
            let before = statements(&h, channel);
            let outcome = send(&h, origin, channel, user, name, path, options).await;
            let after = statements(&h, channel);
            let refused = match &outcome {
                Outcome::Reply(reply) => {
                    reply.ephemeral
                        && !reply.deferred
                        && reply.files.is_empty()
                        && reply.content == *refusal
                }
                Outcome::Choices(choices) => choices.is_empty(),
            };
            let success = succeeded(name, &outcome, before, after);
            if success || !refused {
                unauthorised += 1;
                cells.push("UNAUTHORISED");
                if let Outcome::Reply(reply) = &outcome {
                    eprintln!("{label} {name}: {}", reply.content);
                }
            } else {
                cells.push("refused");
            }
        }
        rows.push((label.to_string(), cells));
    }
    let messages_after = others_before(&h);
    let refusal_calls: Vec<_> = h.sim.calls()[calls_before..]
        .iter()
        .filter(|c| !c.path.contains("/callback") && !c.path.contains("/commands"))
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    h.stop();
    let after = snapshot(&h);

    let mut table = format!("| actor | {} |\n|---|", names.join(" | "));
    table.push_str(&"---|".repeat(names.len()));
    for (label, cells) in &rows {
        table.push_str(&format!("\n| {label} | {} |", cells.join(" | ")));
    }
    println!("{table}");
    println!(
        "unauthorised successes: {unauthorised}; database records compared: {}",
        before.0.len()
    );
    assert_eq!(unauthorised, 0, "\n{table}");
    assert_eq!(
        messages_after, messages_before,
        "a refusal changed a message"
    );
    assert!(
        refusal_calls.is_empty(),
        "refusals made REST calls: {refusal_calls:?}"
    );
    let changed: Vec<String> = before
        .0
        .iter()
        .filter(|r| !after.0.contains(r))
        .chain(after.0.iter().filter(|r| !before.0.contains(r)))
        .map(|(tree, key, value)| {
            format!(
                "{} {} {}",
                String::from_utf8_lossy(tree),
                hex::encode(key),
                String::from_utf8_lossy(value)
            )
        })
        .collect();
    assert!(
        changed.is_empty(),
        "a refusal changed the database: {changed:#?}"
    );
    assert!(before.1 == after.1, "a refusal changed a key file");
    h.check_log();
}

async fn csv_of(h: &Harness, origin: Origin, channel: u64, user: &SimUser) -> String {
    let reply = h
        .sim
        .command_from(origin, channel, user, "export", json!({}))
        .await
        .unwrap();
    assert_eq!(reply.files.len(), 1, "{}", reply.content);
    String::from_utf8(reply.files[0].bytes.clone()).unwrap()
}

/// One bot serving several servers (no `STEMKAART_GUILD_ID`: global commands). A facilitator
/// of another server holds their own workshop, but never sees or changes this server's: not
/// in /export, /compare or /results, and not by sending this server's channel ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_one_bot_stay_apart() {
    let h = Harness::start_env(vec![("STEMKAART_GUILD_ID".into(), String::new())]).await;
    assert!(
        h.sim.commands().iter().all(|c| c["guild_id"].is_null()),
        "registered globally"
    );
    let voters = h.people(3);
    let a = h.first_statement("Assen").await;
    for voter in &voters {
        h.sim.react(h.channel, a, voter, "🟩").await.unwrap();
    }
    h.facilitate("statement close", json!({})).await;
    h.facilitate("statement next", json!({})).await;

    let b = Origin::OtherGuild(h.sim.other_guild());
    let b_admin = h
        .sim
        .user("beheerder-b")
        .permissions(perms::MEMBER_DEFAULT | perms::ADMINISTRATOR);
    let b_channel = h.sim.new_channel("kanaal-b");

    // Nothing of this server from the other one.
    let csv = csv_of(&h, b, b_channel, &b_admin).await;
    assert_eq!(csv.lines().count(), 1, "header only: {csv}");
    for (path, options) in [("results", json!({})), ("compare", json!({}))] {
        let reply = h
            .sim
            .command_from(b, b_channel, &b_admin, path, options)
            .await
            .unwrap();
        assert!(
            reply.ephemeral && reply.files.is_empty() && reply.content.contains("nog geen sessie"),
            "/{path}: {}",
            reply.content
        );
    }
    let reply = h
        .sim
        .command_from(
            b,
            b_channel,
            &b_admin,
            "compare",
            json!({"deck": "vertrouwen"}),
        )
        .await
        .unwrap();
    assert!(
        reply.files.is_empty() && reply.content.contains("nog geen sessie met deck"),
        "{}",
        reply.content
    );
    // This server's channel, with the other server's id: refused, whatever the command.
    let other_server = stemkaart::messages::other_server(stemkaart::domain::Language::Nl);
    for (_, path, options) in commands() {
        let reply = h
            .sim
            .command_from(b, h.channel, &b_admin, path, options)
            .await
            .unwrap();
        assert_eq!(reply.content, other_server, "/{path}");
    }

    // Their own workshop works, and stays theirs.
    for (path, options) in [
        (
            "session start",
            json!({"municipality": "Bergen", "deck": "vertrouwen"}),
        ),
        ("statement next", json!({})),
    ] {
        h.sim
            .command_from(b, b_channel, &b_admin, path, options)
            .await
            .unwrap();
    }
    let message = h.sim.messages(b_channel).last().unwrap().id;
    h.sim
        .react(b_channel, message, &voters[0], "🟥")
        .await
        .unwrap();
    let closed = h
        .sim
        .command_from(b, b_channel, &b_admin, "statement close", json!({}))
        .await
        .unwrap();
    assert!(closed.content.contains("n=1"), "{}", closed.content);
    let csv = csv_of(&h, b, b_channel, &b_admin).await;
    assert!(
        csv.lines().count() == 2 && csv.contains("Bergen") && !csv.contains("Assen"),
        "{csv}"
    );
    let csv = csv_of(&h, Origin::Guild, h.channel, &h.facilitator).await;
    assert!(
        csv.lines().count() == 2 && csv.contains("Assen") && !csv.contains("Bergen"),
        "{csv}"
    );
    let reply = h
        .sim
        .command_from(b, b_channel, &b_admin, "compare", json!({}))
        .await
        .unwrap();
    assert!(
        reply.content.contains(": 1 sessie(s)"),
        "only their own session: {}",
        reply.content
    );
    h.check_log();
}
