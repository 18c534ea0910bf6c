//! End-to-end: the real bot binary runs whole workshops against the Discord-compatible server.

use crate::harness::{last_statement, totals, Crowd, Harness};
use serde_json::json;
use stemkaart::sim::{perms, SimUser};

const STATEMENT_1: &str = "Ik ervaar dat het vertrouwen van inwoners in de gemeente of lokale institutie de afgelopen jaren is afgenomen";

/// One participant's actions on a statement, by pattern.
async fn act(crowd: &mut Crowd, h: &Harness, message: u64, user: &SimUser, pattern: usize) {
    match pattern % 7 {
        0 => crowd.add(h, message, user, "🟩").await,
        1 => crowd.add(h, message, user, "🟥").await,
        2 => {
            // change of mind
            crowd.add(h, message, user, "🟩").await;
            crowd.add(h, message, user, "🟥").await;
        }
        3 => {
            crowd.add(h, message, user, "🟥").await;
            crowd.add(h, message, user, "🟩").await;
        }
        4 => {
            // withdrawal
            crowd.add(h, message, user, "🟩").await;
            crowd.remove(h, message, user, "🟩").await;
        }
        5 => {
            crowd.add(h, message, user, "🟥").await;
            crowd.remove(h, message, user, "🟥").await;
            crowd.add(h, message, user, "🟩").await;
        }
        _ => {
            // a foreign emoji, then a vote
            crowd.add(h, message, user, "👍").await;
            crowd.add(h, message, user, "🟥").await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_workshop() {
    let h = Harness::start().await;
    let commands = h.sim.commands();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "session",
            "statement",
            "room",
            "results",
            "compare",
            "export"
        ]
    );
    assert!(commands
        .iter()
        .all(|c| c["name_localizations"]["nl"].is_string()));

    let people: Vec<SimUser> = (0..25)
        .map(|i| h.sim.user(&format!("deelnemer-{i}")))
        .collect();
    let other_bot = h.sim.user("andere-bot").bot();

    let reply = h
        .facilitate("session start", json!({"municipality": "Súdwest Fryslân", "deck": "vertrouwen", "label": "Raadsavond 27 november"}))
        .await;
    assert!(
        reply
            .content
            .contains("Sessie gestart: **Súdwest Fryslân**"),
        "{}",
        reply.content
    );
    assert!(!reply.ephemeral);

    let mut results = Vec::new();
    for statement in 0..3usize {
        let reply = h.facilitate("statement next", json!({})).await;
        assert!(reply.ephemeral, "posting is acknowledged privately");
        let message = last_statement(&h);
        assert!(
            message
                .content
                .contains(&format!("Stelling {}/3", statement + 1)),
            "{}",
            message.content
        );
        if statement == 0 {
            assert!(
                message.content.contains(STATEMENT_1),
                "verbatim text: {}",
                message.content
            );
        }
        // The bot adds both colours itself.
        h.eventually("the bot's own 🟩 and 🟥", |sim| {
            let bot = sim.bot_user_id();
            sim.reaction_users(message.id, "🟩").contains(&bot)
                && sim.reaction_users(message.id, "🟥").contains(&bot)
        })
        .await;

        let mut crowd = Crowd::default();
        for (i, person) in people.iter().enumerate() {
            act(&mut crowd, &h, message.id, person, i + statement).await;
        }
        crowd.add(&h, message.id, &other_bot, "🟩").await;
        let (agree, disagree) = crowd.expected();

        let (room, reply) = match statement {
            0 => (None, h.facilitate("statement close", json!({})).await),
            1 => {
                // Typed twice: the second corrects the first (set, not add).
                h.facilitate("room", json!({"agree": 12, "disagree": 5}))
                    .await;
                let reply = h
                    .facilitate("room", json!({"agree": 10, "disagree": 4}))
                    .await;
                assert!(
                    reply.content.contains("zaaltelling opgeslagen"),
                    "{}",
                    reply.content
                );
                // Posting the next statement closes this one first.
                (
                    Some((10, 4)),
                    h.facilitate("statement next", json!({})).await,
                )
            }
            _ => (None, h.facilitate("session end", json!({})).await),
        };
        let (room_agree, room_disagree) = room.unwrap_or((0, 0));
        let text = match statement {
            1 => reply.content.lines().next().unwrap().to_string(),
            _ => reply.content.clone(),
        };
        let text_for_round = if statement == 2 {
            reply
                .content
                .lines()
                .find(|l| l.starts_with("Stelling 3/3"))
                .unwrap()
                .to_string()
        } else {
            text
        };
        assert_eq!(
            totals(&text_for_round),
            (
                agree + room_agree,
                disagree + room_disagree,
                agree + disagree + room_agree + room_disagree
            ),
            "statement {}: {}",
            statement + 1,
            reply.content
        );
        if statement == 1 {
            assert!(
                reply
                    .content
                    .contains(&format!("online: 🟩 {agree} · 🟥 {disagree}"))
                    && reply.content.contains("zaal: 🟩 10 · 🟥 4"),
                "{}",
                reply.content
            );
        }
        results.push((agree + room_agree, disagree + room_disagree));

        // The message shows it is closed, with its result.
        let closed = h.sim.message(message.id).unwrap();
        assert!(
            closed.edited && closed.content.contains("gesloten"),
            "{}",
            closed.content
        );
        // A reaction after close does not count.
        if statement == 0 {
            crowd.add(&h, message.id, &people[4], "🟥").await;
            let refused = h.facilitate("statement post", json!({"number": 1})).await;
            assert!(
                refused.ephemeral && refused.content.contains("al gesloten"),
                "{}",
                refused.content
            );
        }
    }

    let export = h.facilitate("export", json!({})).await;
    assert!(export.ephemeral);
    assert_eq!(export.files.len(), 1);
    let csv = String::from_utf8(export.files[0].bytes.clone()).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3, "{csv}");
    for (row, (agree, disagree)) in rows.iter().zip(&results) {
        // agree, disagree are columns 13 and 14 (0-based 12, 13).
        assert_eq!(
            (
                row[12].parse::<u32>().unwrap(),
                row[13].parse::<u32>().unwrap()
            ),
            (*agree, *disagree),
            "{csv}"
        );
    }
    for person in &people {
        assert!(!csv.contains(&person.id.to_string()));
    }
    let log = h.log_text();
    for person in &people {
        assert!(
            !log.contains(&person.id.to_string()),
            "a user id reached the log"
        );
    }
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_mind_leaves_one_colour_on_the_message() {
    let h = Harness::start().await;
    let message = h.first_statement("Arnhem").await;
    let person = h.sim.user("twijfelaar");
    let mut crowd = Crowd::default();
    crowd.add(&h, message, &person, "🟩").await;
    crowd.add(&h, message, &person, "🟥").await;
    h.eventually("the older 🟩 is removed by the bot", |sim| {
        !sim.reaction_users(message, "🟩").contains(&person.id)
    })
    .await;
    assert!(h.sim.reaction_users(message, "🟥").contains(&person.id));
    assert_eq!(crowd.expected(), (0, 1));
    h.close_and_check(&crowd).await;
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_manage_messages_removing_the_newer_colour_falls_back() {
    let h = Harness::start().await;
    h.sim
        .set_bot_permissions(h.channel, perms::BOT_DEFAULT & !perms::MANAGE_MESSAGES);
    let message = h.first_statement("Delft").await;
    let person = h.sim.user("twijfelaar");
    let mut crowd = Crowd::default();
    crowd.add(&h, message, &person, "🟩").await;
    crowd.add(&h, message, &person, "🟥").await;
    crowd.remove(&h, message, &person, "🟥").await;
    assert_eq!(crowd.expected(), (1, 0));
    h.close_and_check(&crowd).await;
    assert!(
        h.sim.reaction_users(message, "🟩").contains(&person.id),
        "nothing removed"
    );
    assert!(
        !h.sim.calls().iter().any(|c| c.method == "DELETE"),
        "the bot knew it lacks Manage Messages and did not try"
    );
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_without_rights_are_refused_and_nothing_changes() {
    let h = Harness::start().await;
    let member = h.sim.user("deelnemer");
    for (command, options) in [
        (
            "session start",
            json!({"municipality": "Arnhem", "deck": "vertrouwen"}),
        ),
        ("statement next", json!({})),
        ("room", json!({"agree": 1, "disagree": 1})),
        ("export", json!({})),
    ] {
        let reply = h.run(&member, command, options).await;
        assert!(reply.ephemeral && !reply.deferred, "/{command}");
        assert!(
            reply.content.contains("Alleen gespreksleiders"),
            "{}",
            reply.content
        );
    }
    let calls_before = h.sim.calls().len();
    assert!(h.sim.messages(h.channel).is_empty(), "nothing was posted");
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(reply.ephemeral);
    assert_eq!(
        reply.content,
        "Er loopt geen sessie in dit kanaal — start er een met /session start."
    );
    assert!(h.sim.calls().len() > calls_before);
    let store_sessions = {
        // The bot holds the database; look at what it said instead: no session was started.
        h.facilitate("session end", json!({})).await
    };
    assert!(store_sessions.content.contains("Er loopt geen sessie"));
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facilitator_role_and_english_replies() {
    let mut h = Harness::start().await;
    let role = h.sim.new_role("gespreksleiding", 0);
    h.stop();
    h.extra_env = vec![("STEMKAART_FACILITATOR_ROLE".into(), role.to_string())];
    h.spawn_bot().await;
    let host = h.sim.user("host").role(role).locale("en-US");
    let reply = h
        .run(
            &host,
            "session start",
            json!({"municipality": "Eindhoven", "deck": "vertrouwen"}),
        )
        .await;
    assert!(
        reply.content.starts_with("Session started: **Eindhoven**"),
        "{}",
        reply.content
    );
    let choices = h
        .sim
        .autocomplete(
            h.channel,
            &host,
            "session start",
            json!({"municipality": "x", "deck": "vert"}),
            "deck",
        )
        .await
        .unwrap();
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0]["value"], "vertrouwen");
    let reply = h.run(&host, "statement post", json!({"number": 9})).await;
    assert!(
        reply.ephemeral && reply.content.contains("pick a number from 1 to 3"),
        "{}",
        reply.content
    );
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_made_while_the_bot_was_stopped_count_after_restart() {
    let mut h = Harness::start().await;
    let message = h.first_statement("Heerlen").await;
    let people = h.people(12);
    let mut crowd = Crowd::default();
    for person in &people[..6] {
        crowd.add(&h, message, person, "🟩").await;
    }
    h.stop();
    // While the bot is down: new votes, a withdrawal, a change by remove-and-add.
    for person in &people[6..] {
        crowd.add(&h, message, person, "🟥").await;
    }
    crowd.remove(&h, message, &people[0], "🟩").await;
    crowd.remove(&h, message, &people[1], "🟩").await;
    crowd.add(&h, message, &people[1], "🟥").await;
    h.spawn_bot().await;
    // A change of mind after the restart: the 🟥 added while the bot was down is the older
    // colour only if the restart reconciled it.
    crowd.add(&h, message, &people[6], "🟩").await;
    assert_eq!(crowd.expected(), (5, 6));
    h.close_and_check(&crowd).await;
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_voting_loses_nothing() {
    let mut h = Harness::start().await;
    let message = h.first_statement("Breda").await;
    let people = h.people(60);
    let mut crowd = Crowd::default();
    for (i, person) in people.iter().enumerate() {
        match i % 3 {
            0 => crowd.add(&h, message, person, "🟩").await,
            1 => crowd.add(&h, message, person, "🟥").await,
            _ => {
                crowd.add(&h, message, person, "🟥").await;
                crowd.remove(&h, message, person, "🟥").await;
                crowd.add(&h, message, person, "🟩").await;
            }
        }
        if i == 30 {
            h.kill9();
        }
    }
    // More while down, then back.
    crowd.remove(&h, message, &people[0], "🟩").await;
    h.spawn_bot().await;
    for person in &people[..5] {
        crowd.add(&h, message, person, "🟥").await;
    }
    h.close_and_check(&crowd).await;
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_a_new_session_reconciles() {
    let mut h = Harness::start().await;
    let message = h.first_statement("Delft").await;
    let people = h.people(6);
    let mut crowd = Crowd::default();
    crowd.add(&h, message, &people[0], "🟩").await;
    crowd.add(&h, message, &people[1], "🟩").await;
    h.sim.drop_gateway().await;
    // Missed while disconnected: no events are replayed after the new IDENTIFY.
    crowd.remove(&h, message, &people[0], "🟩").await;
    for person in &people[2..] {
        crowd.add(&h, message, person, "🟥").await;
    }
    h.wait_log(crate::harness::READY, 2).await;
    assert!(h.sim.ready_count() >= 2);
    crowd.add(&h, message, &people[2], "🟩").await;
    assert_eq!(crowd.expected(), (2, 3));
    h.close_and_check(&crowd).await;
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_and_compare_come_as_png_attachments() {
    let h = Harness::start().await;
    let reply = h.facilitate("results", json!({})).await;
    assert!(reply.ephemeral && reply.files.is_empty());
    assert!(
        reply.content.contains("nog geen sessie"),
        "{}",
        reply.content
    );

    h.facilitate(
        "session start",
        json!({"municipality": "Súdwest Fryslân", "deck": "vertrouwen"}),
    )
    .await;
    let reply = h.facilitate("results", json!({})).await;
    assert!(
        reply.ephemeral && reply.content.contains("nog geen gesloten stelling"),
        "{}",
        reply.content
    );
    let people = h.people(8);
    for round in 0..2 {
        h.facilitate("statement next", json!({})).await;
        let message = last_statement(&h).id;
        let mut crowd = Crowd::default();
        for (i, person) in people.iter().enumerate() {
            let emoji = if (i + round) % 3 == 0 { "🟥" } else { "🟩" };
            crowd.add(&h, message, person, emoji).await;
        }
        h.facilitate("room", json!({"agree": 5, "disagree": 2}))
            .await;
        h.facilitate("statement close", json!({})).await;
    }

    let reply = h.facilitate("results", json!({})).await;
    assert!(!reply.ephemeral && reply.deferred);
    assert!(
        reply
            .content
            .starts_with("Uitslag Súdwest Fryslân: 2 stelling(en), 30 stemmen"),
        "{}",
        reply.content
    );
    assert_eq!(reply.files.len(), 1);
    assert!(
        reply.files[0].filename.ends_with("-sudwest-fryslan.png"),
        "{}",
        reply.files[0].filename
    );
    let image = crate::charts::decode("results", &reply.files[0].bytes);
    assert!(
        image.count(crate::charts::AGREE) > 1000 && image.count(crate::charts::DISAGREE) > 1000
    );

    let reply = h.facilitate("compare", json!({})).await;
    assert!(
        reply
            .content
            .starts_with("Vergelijking tussen gemeenten: 1 sessie(s), 3 stelling(en)"),
        "{}",
        reply.content
    );
    crate::charts::decode("compare", &reply.files[0].bytes);
    let reply = h
        .facilitate("compare", json!({"deck": "vertrouwen", "statement": 2}))
        .await;
    assert!(
        reply.content.starts_with("Stelling 2 in alle gemeenten"),
        "{}",
        reply.content
    );
    crate::charts::decode("compare-2", &reply.files[0].bytes);
    let reply = h.facilitate("compare", json!({"statement": 9})).await;
    assert!(
        reply.ephemeral && reply.content.contains("heeft geen stelling 9"),
        "{}",
        reply.content
    );
    let reply = h.facilitate("compare", json!({"deck": "onbekend"})).await;
    assert!(
        reply.ephemeral && reply.content.contains("deck `onbekend`"),
        "{}",
        reply.content
    );
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_user_id_reaches_the_log_even_at_debug_level() {
    let h = Harness::start_env(vec![(
        "RUST_LOG".into(),
        "debug,serenity::http=trace".into(),
    )])
    .await;
    let message = h.first_statement("Ede").await;
    let people = h.people(5);
    let mut crowd = Crowd::default();
    for person in &people {
        crowd.add(&h, message, person, "🟩").await;
        crowd.add(&h, message, person, "🟥").await; // the bot deletes the 🟩 by user id
    }
    h.eventually("the older colours are removed", |sim| {
        sim.reaction_users(message, "🟩") == vec![sim.bot_user_id()]
    })
    .await;
    h.close_and_check(&crowd).await;
    let log = h.log_text();
    assert!(log.contains("DEBUG"), "the bot did log at debug level");
    for person in &people {
        assert!(
            !log.contains(&person.id.to_string()),
            "user id {} in the log:\n{log}",
            person.id
        );
    }
    h.check_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_voter_key_is_not_replaced_while_rounds_are_open() {
    let mut h = Harness::start().await;
    h.first_statement("Zwolle").await;
    h.stop();
    let key_file = h.dir.path().join("data").join("stemkaart.voter-key");
    std::fs::remove_file(&key_file).unwrap();
    let output = h.bot_command().output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stemkaart.voter-key is missing and this database has open rounds"),
        "{stderr}"
    );
    assert!(!key_file.exists(), "no new key was made");
}
