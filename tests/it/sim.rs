//! End-to-end tests of the Discord simulator (`stemkaart::sim`) against a real serenity 0.12
//! client running in-process over loopback. Every test records all gateway events the client
//! parsed and fails on any `Event::Unknown` (= a payload serenity could not deserialize).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use serenity::all::{
    ChannelId, Client, ClientBuilder, CollectorCallback, Command, CommandDataOptionValue,
    CommandInteraction, CommandOptionType, Context, CreateAttachment, CreateAutocompleteResponse,
    CreateCommand, CreateCommandOption, CreateEmbed, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    EditInteractionResponse, EditMessage, Event, GatewayIntents, GuildId, Http, HttpBuilder,
    Interaction, MessageId, Permissions, RawEventHandler, ReactionType, UserId,
};
use serenity::async_trait;
use stemkaart::sim::{perms, Sim, SimConfig};
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(30);

/// Records every event serenity hands to handlers.
///
/// serenity runs each handler call in its own task, so `events` is NOT in socket order. The
/// shard runner feeds collectors synchronously, in socket order: `ordered` is filled by a
/// collector registered on every READY (collectors live per shard runner, i.e. per session).
#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
    ordered: Arc<Mutex<Vec<Event>>>,
    changed: Arc<Notify>,
}

#[async_trait]
impl RawEventHandler for Recorder {
    async fn raw_event(&self, ctx: Context, ev: Event) {
        if matches!(ev, Event::Ready(_)) {
            let (ordered, changed) = (self.ordered.clone(), self.changed.clone());
            ctx.shard
                .add_collector(CollectorCallback(Box::new(move |e| {
                    ordered.lock().unwrap().push(e.clone());
                    changed.notify_waiters();
                    true
                })));
        }
        self.events.lock().unwrap().push(ev);
        self.changed.notify_waiters();
    }
}

impl Recorder {
    fn snapshot(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// Wait until `f` finds something in the events so far (any order).
    async fn wait<T>(&self, what: &str, f: impl FnMut(&[Event]) -> Option<T>) -> T {
        self.wait_in(false, what, f).await
    }

    /// Wait until `f` finds something in the events seen by the collector (socket order).
    async fn wait_ordered<T>(&self, what: &str, f: impl FnMut(&[Event]) -> Option<T>) -> T {
        self.wait_in(true, what, f).await
    }

    async fn wait_in<T>(
        &self,
        ordered: bool,
        what: &str,
        mut f: impl FnMut(&[Event]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.assert_no_unknown();
            {
                let log = if ordered { &self.ordered } else { &self.events };
                if let Some(v) = f(&log.lock().unwrap()) {
                    return v;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let names: Vec<String> = self
                    .snapshot()
                    .iter()
                    .map(|e| e.name().unwrap_or_else(|| "UNKNOWN".into()))
                    .collect();
                panic!("timed out waiting for {what}; events so far: {names:?}");
            }
        }
    }

    fn assert_no_unknown(&self) {
        for e in self.snapshot() {
            if let Event::Unknown(u) = &e {
                panic!("serenity could not parse a {} payload: {}", u.kind, u.value);
            }
        }
    }

    fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.lock().unwrap().iter().filter(|e| f(e)).count()
    }

    /// The n-th (0-based) command interaction received (in socket order).
    async fn command(&self, n: usize) -> CommandInteraction {
        self.wait_ordered("a command interaction", |evs| {
            evs.iter()
                .filter_map(|e| match e {
                    Event::InteractionCreate(i) => match &i.interaction {
                        Interaction::Command(c) => Some(c.clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .nth(n)
        })
        .await
    }
}

struct Bot {
    http: Arc<Http>,
    rec: Recorder,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `RUST_LOG=serenity=debug cargo test --test it -- --nocapture` shows what serenity thinks.
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
}

async fn start_bot(sim: &Sim) -> Bot {
    init_tracing();
    let http = HttpBuilder::new(sim.token())
        .proxy(sim.base_url())
        .ratelimiter_disabled(true)
        .build();
    let rec = Recorder::default();
    let intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGE_REACTIONS;
    let mut client: Client = ClientBuilder::new_with_http(http, intents)
        .raw_event_handler(rec.clone())
        .await
        .expect("client");
    let http = client.http.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = client.start().await {
            eprintln!("client stopped: {e:?}");
        }
    });
    // The application id is learnt from READY.
    rec.wait("READY", |evs| {
        evs.iter()
            .any(|e| matches!(e, Event::Ready(_)))
            .then_some(())
    })
    .await;
    Bot { http, rec, task }
}

fn discord_code(e: &serenity::Error) -> Option<(u16, isize)> {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r)) => {
            Some((r.status_code.as_u16(), r.error.code))
        }
        _ => None,
    }
}

/// A 2×1 PNG (valid signature and IHDR).
fn tiny_png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend_from_slice(&2u32.to_be_bytes());
    v.extend_from_slice(&1u32.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0x1d, 0x5b, 0x4a, 0x1c]);
    v.extend_from_slice(b"\x00\x00\x00\x00IEND\xaeB`\x82");
    v
}

/// A raw HTTP/1.1 request (for what serenity would never send).
async fn raw_http(sim: &Sim, method: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = sim.base_url().trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn session_commands() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("session")
            .description("Beheer een stemsessie")
            .default_member_permissions(Permissions::MANAGE_GUILD)
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    "start",
                    "Start een sessie",
                )
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::String, "municipality", "Gemeente")
                        .required(true)
                        .set_autocomplete(true),
                )
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::Integer, "rounds", "Rondes")
                        .min_int_value(1)
                        .max_int_value(10),
                )
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::String, "deck", "Kaartset")
                        .add_string_choice("Vertrouwen", "vertrouwen")
                        .add_string_choice("Wonen", "wonen"),
                ),
            )
            .add_option(CreateCommandOption::new(
                CommandOptionType::SubCommand,
                "stop",
                "Stop de sessie",
            )),
        CreateCommand::new("chart").description("Toon de grafiek"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_guild_create_commands_and_interactions() {
    let sim = Sim::start().await.unwrap();
    let channel = sim.new_channel("stemmen");
    let bot = start_bot(&sim).await;
    let guild = GuildId::new(sim.guild_id());

    // READY and a GUILD_CREATE serenity accepted, with the channel and roles inside.
    let g = bot
        .rec
        .wait("GUILD_CREATE", |evs| {
            evs.iter().find_map(|e| match e {
                Event::GuildCreate(g) => Some(g.guild.clone()),
                _ => None,
            })
        })
        .await;
    assert_eq!(g.id, guild);
    assert!(
        g.channels.contains_key(&ChannelId::new(channel)),
        "channel parsed"
    );
    assert_eq!(g.roles.len(), 2, "@everyone and the bot's role");
    assert_eq!(g.members.len(), 1, "the bot itself");
    let ready = bot
        .rec
        .wait("READY", |evs| {
            evs.iter().find_map(|e| match e {
                Event::Ready(r) => Some(r.ready.clone()),
                _ => None,
            })
        })
        .await;
    assert_eq!(ready.user.id.get(), sim.bot_user_id());
    assert!(ready.user.bot);
    assert_eq!(ready.application.id.get(), sim.application_id());
    let app = bot
        .http
        .get_current_application_info()
        .await
        .expect("application info");
    assert_eq!(app.id.get(), sim.application_id());
    let me = bot.http.get_current_user().await.expect("users/@me");
    assert_eq!(me.id.get(), sim.bot_user_id());
    assert_eq!(sim.ready_count(), 1);
    assert!(sim.is_connected());
    let seqs: Vec<u64> = sim.dispatched().iter().map(|d| d.0).collect();
    assert_eq!(&seqs[..2], &[1, 2]);

    // Registration: guild commands (bulk PUT) and a global one (POST).
    let registered = guild
        .set_commands(&bot.http, session_commands())
        .await
        .expect("set_commands");
    assert_eq!(registered.len(), 2);
    assert_eq!(registered[0].guild_id, Some(guild));
    Command::create_global_command(&bot.http, CreateCommand::new("help").description("Uitleg"))
        .await
        .expect("global command");
    let cmds = sim.wait_commands(WAIT).await.unwrap();
    assert_eq!(cmds.len(), 3);
    let again = guild.get_commands(&bot.http).await.unwrap();
    assert_eq!(again[0].id, registered[0].id, "ids are stable");
    // Re-registering the same set keeps ids and versions.
    let twice = guild
        .set_commands(&bot.http, session_commands())
        .await
        .unwrap();
    assert_eq!(twice[0].id, registered[0].id);
    assert_eq!(twice[0].version, registered[0].version);

    // Invalid registration → 50035.
    let bad = guild
        .create_command(&bot.http, CreateCommand::new("Bad Name").description("x"))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&bad), Some((400, 50035)));

    // Roles and channels created while the bot is online are dispatched (and parse).
    let host_role = sim.new_role("gastheer", perms::MANAGE_GUILD);
    let results = sim.new_channel("uitslagen");
    bot.rec
        .wait("GUILD_ROLE_CREATE and CHANNEL_CREATE", |evs| {
            let role = evs
                .iter()
                .any(|e| matches!(e, Event::GuildRoleCreate(r) if r.role.id.get() == host_role));
            let chan = evs
                .iter()
                .any(|e| matches!(e, Event::ChannelCreate(c) if c.channel.id.get() == results));
            (role && chan).then_some(())
        })
        .await;
    let host = sim.user("host").role(host_role);
    let guest = sim.user("guest").locale("en-GB");

    // The registration contract: unknown commands/options and wrong types are refused.
    assert!(sim
        .command(channel, &host, "nope", json!({}))
        .await
        .is_err());
    assert!(sim
        .command(channel, &host, "session start", json!({"city": "Arnhem"}))
        .await
        .is_err());
    assert!(sim
        .command(channel, &host, "session start", json!({"municipality": 3}))
        .await
        .is_err());
    assert!(sim
        .command(channel, &host, "session start", json!({}))
        .await
        .is_err());
    assert!(sim
        .command(
            channel,
            &host,
            "session start",
            json!({"municipality": "A", "deck": "x"})
        )
        .await
        .is_err());
    assert!(sim
        .command(channel, &host, "session", json!({}))
        .await
        .is_err());
    // default_member_permissions = MANAGE_GUILD: a plain member does not get the command.
    assert!(sim
        .command(
            channel,
            &guest,
            "session start",
            json!({"municipality": "Arnhem"})
        )
        .await
        .is_err());

    // 1) Type 4, ephemeral.
    let http = bot.http.clone();
    let rec = bot.rec.clone();
    let answer = tokio::spawn(async move {
        let cmd = rec.command(0).await;
        assert_eq!(cmd.data.name, "session");
        assert_eq!(cmd.locale, "nl");
        assert_eq!(cmd.member.as_ref().unwrap().user.name, "host");
        assert_eq!(cmd.member.as_ref().unwrap().roles[0].get(), host_role);
        assert!(cmd
            .member
            .as_ref()
            .unwrap()
            .permissions
            .unwrap()
            .manage_guild());
        assert!(cmd.app_permissions.unwrap().manage_messages());
        let CommandDataOptionValue::SubCommand(opts) = &cmd.data.options[0].value else {
            panic!("expected a subcommand: {:?}", cmd.data.options);
        };
        assert_eq!(cmd.data.options[0].name, "start");
        assert_eq!(opts[0].name, "municipality");
        assert_eq!(opts[0].value.as_str(), Some("Arnhem"));
        assert_eq!(opts[1].name, "rounds");
        assert_eq!(opts[1].value.as_i64(), Some(3));
        assert_eq!(opts[2].value.as_str(), Some("wonen"));
        cmd.create_response(
            &http,
            CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content("Sessie gestart voor Arnhem")
                    .ephemeral(true),
            ),
        )
        .await
        .expect("callback");
        // A second callback is refused like on Discord.
        let again = cmd
            .create_response(
                &http,
                CreateInteractionResponse::Message(
                    CreateInteractionResponseMessage::new().content("twice"),
                ),
            )
            .await
            .unwrap_err();
        assert_eq!(discord_code(&again), Some((400, 40060)));
        let original = cmd.get_response(&http).await.expect("GET @original");
        assert_eq!(original.content, "Sessie gestart voor Arnhem");
        let followup = cmd
            .create_followup(
                &http,
                CreateInteractionResponseFollowup::new().content("nog iets"),
            )
            .await
            .expect("follow-up");
        assert_eq!(followup.content, "nog iets");
        let edited = cmd
            .edit_followup(
                &http,
                followup.id,
                CreateInteractionResponseFollowup::new().content("nog iets (bewerkt)"),
            )
            .await
            .expect("PATCH follow-up");
        assert!(edited.edited_timestamp.is_some());
    });
    let reply = sim
        .command(
            channel,
            &host,
            "session start",
            json!({"municipality": "Arnhem", "rounds": 3, "deck": "wonen"}),
        )
        .await
        .expect("reply");
    assert!(!reply.deferred);
    assert!(reply.ephemeral);
    assert_eq!(reply.content, "Sessie gestart voor Arnhem");
    answer.await.expect("bot side");
    let followups = sim.followups(reply.interaction_id);
    assert_eq!(followups.len(), 1);
    assert_eq!(followups[0].content, "nog iets (bewerkt)");
    assert!(followups[0].edited);
    assert!(
        sim.messages(channel)
            .iter()
            .all(|m| m.id != reply.message_id),
        "ephemeral replies are not channel messages"
    );

    // 2) Defer, then edit @original with a PNG (multipart) and an embed using it.
    let png = tiny_png();
    let http = bot.http.clone();
    let rec = bot.rec.clone();
    let png2 = png.clone();
    let answer = tokio::spawn(async move {
        let cmd = rec.command(1).await;
        assert_eq!(cmd.data.name, "chart");
        assert_eq!(cmd.locale, "en-GB");
        cmd.defer(&http).await.expect("defer");
        let msg = cmd
            .edit_response(
                &http,
                EditInteractionResponse::new()
                    .content("De grafiek")
                    .embed(
                        CreateEmbed::new()
                            .title("Stand")
                            .image("attachment://chart.png"),
                    )
                    .new_attachment(CreateAttachment::bytes(png2, "chart.png")),
            )
            .await
            .expect("edit @original");
        assert_eq!(msg.attachments.len(), 1);
        assert_eq!(msg.attachments[0].width, Some(2));
        assert!(msg.embeds[0]
            .image
            .as_ref()
            .unwrap()
            .url
            .contains("/attachments/"));
        let bytes = msg.attachments[0]
            .download()
            .await
            .expect("download from the fake CDN");
        assert_eq!(bytes, tiny_png());
    });
    let reply = sim
        .command(channel, &guest, "chart", json!({}))
        .await
        .expect("reply");
    answer.await.expect("bot side");
    assert!(reply.deferred);
    assert!(!reply.ephemeral);
    assert_eq!(reply.content, "De grafiek");
    assert_eq!(reply.files.len(), 1);
    assert_eq!(reply.files[0].filename, "chart.png");
    assert_eq!(reply.files[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(reply.files[0].bytes, png);
    assert_eq!(reply.embeds[0]["title"], "Stand");
    assert!(reply.text().contains("Stand"));
    let public = sim.messages(channel);
    assert_eq!(
        public.len(),
        2,
        "the public follow-up and the non-ephemeral reply"
    );
    assert_eq!(public[1].id, reply.message_id);

    // 3) Autocomplete (type 4 → callback type 8).
    let http = bot.http.clone();
    let rec = bot.rec.clone();
    let answer = tokio::spawn(async move {
        let ac = rec
            .wait("autocomplete", |evs| {
                evs.iter().find_map(|e| match e {
                    Event::InteractionCreate(i) => match &i.interaction {
                        Interaction::Autocomplete(a) => Some(a.clone()),
                        _ => None,
                    },
                    _ => None,
                })
            })
            .await;
        let focused = ac.data.autocomplete().expect("focused option");
        assert_eq!(focused.name, "municipality");
        assert_eq!(focused.value, "Arn");
        ac.create_response(
            &http,
            CreateInteractionResponse::Autocomplete(
                CreateAutocompleteResponse::new()
                    .add_string_choice("Arnhem", "Arnhem")
                    .add_string_choice("Arnemuiden", "Arnemuiden"),
            ),
        )
        .await
        .expect("autocomplete callback");
    });
    let choices = sim
        .autocomplete(
            channel,
            &host,
            "session start",
            json!({"municipality": "Arn"}),
            "municipality",
        )
        .await
        .expect("choices");
    answer.await.unwrap();
    assert_eq!(choices.len(), 2);
    assert_eq!(choices[0]["value"], "Arnhem");

    // Everything above was recorded; nothing hit an unknown route.
    let calls = sim.calls();
    assert!(calls
        .iter()
        .any(|c| c.method == "POST" && c.path.ends_with("/callback") && c.status == 204));
    assert!(
        calls.iter().all(|c| c.status != 404 && c.status != 405),
        "{calls:#?}"
    );
    bot.rec.assert_no_unknown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_events_and_pagination() {
    let sim = Sim::start().await.unwrap();
    let channel = sim.new_channel("stemmen");
    let bot = start_bot(&sim).await;
    let ch = ChannelId::new(channel);
    let green = ReactionType::Unicode("🟩".into());
    let red = ReactionType::Unicode("🟥".into());

    let msg = ch
        .send_message(
            &bot.http,
            CreateMessage::new().content("Stelling 1").embed(
                CreateEmbed::new()
                    .title("Vertrouwen")
                    .field("Ja", "🟩", true),
            ),
        )
        .await
        .expect("send_message");
    assert_eq!(msg.author.id.get(), sim.bot_user_id());
    bot.http
        .create_reaction(ch, msg.id, &green)
        .await
        .expect("react 🟩");
    bot.http
        .create_reaction(ch, msg.id, &red)
        .await
        .expect("react 🟥");

    let alice = sim.user("alice");
    let bob = sim.user("bob");
    let other_bot = sim.user("andere-bot").bot();
    let m = msg.id.get();
    sim.react(channel, m, &alice, "🟩").await.unwrap();
    sim.react(channel, m, &bob, "🟥").await.unwrap();
    sim.react(channel, m, &alice, "🟩").await.unwrap(); // no change, no event
    sim.react(channel, m, &other_bot, "🟩").await.unwrap();
    sim.unreact(channel, m, &alice, "🟩").await.unwrap();
    sim.unreact(channel, m, &alice, "🟩").await.unwrap(); // no change, no event
    sim.react(channel, m, &alice, "🟥").await.unwrap();

    let expected: Vec<(&str, &str, u64, Option<bool>)> = vec![
        ("add", "🟩", sim.bot_user_id(), Some(true)),
        ("add", "🟥", sim.bot_user_id(), Some(true)),
        ("add", "🟩", alice.id, Some(false)),
        ("add", "🟥", bob.id, Some(false)),
        ("add", "🟩", other_bot.id, Some(true)),
        ("remove", "🟩", alice.id, None),
        ("add", "🟥", alice.id, Some(false)),
    ];
    let got = bot
        .rec
        .wait_ordered("7 reaction events", |evs| {
            let r: Vec<(&str, String, u64, Option<bool>)> = evs
                .iter()
                .filter_map(|e| match e {
                    Event::ReactionAdd(a) => Some((
                        "add",
                        a.reaction.emoji.to_string(),
                        a.reaction.user_id.unwrap().get(),
                        a.reaction.member.as_ref().map(|m| m.user.bot),
                    )),
                    Event::ReactionRemove(r) => Some((
                        "remove",
                        r.reaction.emoji.to_string(),
                        r.reaction.user_id.unwrap().get(),
                        r.reaction.member.as_ref().map(|m| m.user.bot),
                    )),
                    _ => None,
                })
                .collect();
            (r.len() >= expected.len()).then_some(r)
        })
        .await;
    let got: Vec<(&str, &str, u64, Option<bool>)> = got
        .iter()
        .map(|(k, e, u, b)| (*k, e.as_str(), *u, *b))
        .collect();
    assert_eq!(got, expected);
    // Every event carries the message and guild.
    for e in bot.rec.snapshot() {
        if let Event::ReactionAdd(a) = e {
            assert_eq!(a.reaction.message_id, msg.id);
            assert_eq!(a.reaction.guild_id.unwrap().get(), sim.guild_id());
        }
    }

    assert_eq!(
        sim.reaction_users(m, "🟥"),
        vec![sim.bot_user_id(), bob.id, alice.id]
    );
    assert_eq!(
        sim.reaction_users(m, "🟩"),
        vec![sim.bot_user_id(), other_bot.id]
    );
    let stored = sim.message(m).unwrap();
    assert_eq!(stored.content, "Stelling 1");
    assert_eq!(stored.embeds[0]["type"], "rich");

    // The REST view of the message: counts and `me`.
    let fetched = ch.message(&bot.http, msg.id).await.expect("GET message");
    let red_count = fetched
        .reactions
        .iter()
        .find(|r| r.reaction_type == red)
        .unwrap();
    assert_eq!(red_count.count, 3);
    assert!(red_count.me);
    let edited = ch
        .edit_message(
            &bot.http,
            msg.id,
            EditMessage::new().content("Stelling 1 (gesloten)"),
        )
        .await
        .expect("edit");
    assert!(edited.edited_timestamp.is_some());
    assert_eq!(edited.embeds.len(), 1, "embeds kept when not sent");
    assert!(sim.message(m).unwrap().edited);

    // Multipart message with a file; a custom emoji reaction (`name:id`).
    let with_file = ch
        .send_message(
            &bot.http,
            CreateMessage::new()
                .content("Uitslag")
                .add_file(CreateAttachment::bytes(tiny_png(), "uitslag.png")),
        )
        .await
        .expect("multipart send_message");
    assert_eq!(with_file.attachments[0].filename, "uitslag.png");
    let stored = sim.message(with_file.id.get()).unwrap();
    assert_eq!(stored.files[0].bytes, tiny_png());
    let custom = ReactionType::Custom {
        animated: false,
        id: serenity::all::EmojiId::new(112233445566778899),
        name: Some("stemkaart".into()),
    };
    bot.http
        .create_reaction(ch, with_file.id, &custom)
        .await
        .expect("custom emoji");
    assert_eq!(
        sim.reaction_users(with_file.id.get(), "stemkaart:112233445566778899"),
        vec![sim.bot_user_id()]
    );
    let users = bot
        .http
        .get_reaction_users(ch, with_file.id, &custom, 10, None)
        .await
        .unwrap();
    assert_eq!(users.len(), 1);

    // GET reactions pagination: 250 users + the bot, pages of 100 with `after`.
    let mut voters = Vec::new();
    for i in 0..250 {
        let u = sim.user(&format!("kiezer{i}"));
        sim.react(channel, m, &u, "🟩").await.unwrap();
        voters.push(u.id);
    }
    let mut all = Vec::new();
    let mut after: Option<UserId> = None;
    let mut pages = 0;
    loop {
        let page = ch
            .reaction_users(&bot.http, msg.id, green.clone(), Some(100), after)
            .await
            .expect("reaction_users");
        pages += 1;
        let n = page.len();
        after = page.last().map(|u| u.id);
        all.extend(page);
        if n < 100 {
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut want = vec![sim.bot_user_id(), other_bot.id];
    want.extend(&voters);
    want.sort_unstable();
    let ids: Vec<u64> = all.iter().map(|u| u.id.get()).collect();
    assert_eq!(ids, want, "all users, sorted by id, no duplicates");
    assert!(all.iter().find(|u| u.id.get() == other_bot.id).unwrap().bot);
    assert!(!all.iter().find(|u| u.id.get() == voters[0]).unwrap().bot);
    // Default limit is 25.
    let page = bot
        .http
        .get_reaction_users(ch, msg.id, &green, 25, None)
        .await
        .unwrap();
    assert_eq!(page.len(), 25);
    assert!(sim
        .calls()
        .iter()
        .any(|c| c.path.contains("/reactions/%F0%9F%9F%A9") && c.query.starts_with('&')));

    bot.rec
        .wait("all 250 extra reaction events", |evs| {
            let n = evs
                .iter()
                .filter(|e| matches!(e, Event::ReactionAdd(_)))
                .count();
            (n == 7 + 250).then_some(())
        })
        .await;
    bot.rec.assert_no_unknown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_users_reaction_needs_manage_messages() {
    let sim = Sim::start().await.unwrap();
    let channel = sim.new_channel("stemmen");
    let bot = start_bot(&sim).await;
    let ch = ChannelId::new(channel);
    let green = ReactionType::Unicode("🟩".into());
    let msg = ch
        .send_message(&bot.http, CreateMessage::new().content("Stelling"))
        .await
        .unwrap();
    let carol = sim.user("carol");
    sim.react(channel, msg.id.get(), &carol, "🟩")
        .await
        .unwrap();

    sim.set_bot_permissions(channel, perms::BOT_DEFAULT & !perms::MANAGE_MESSAGES);
    let err = ch
        .delete_reaction(
            &bot.http,
            msg.id,
            Some(UserId::new(carol.id)),
            green.clone(),
        )
        .await
        .unwrap_err();
    assert_eq!(discord_code(&err), Some((403, 50013)));
    assert_eq!(sim.reaction_users(msg.id.get(), "🟩"), vec![carol.id]);

    sim.set_bot_permissions(channel, perms::BOT_DEFAULT);
    ch.delete_reaction(&bot.http, msg.id, Some(UserId::new(carol.id)), green)
        .await
        .expect("delete with MANAGE_MESSAGES");
    assert!(sim.reaction_users(msg.id.get(), "🟩").is_empty());
    bot.rec
        .wait("REMOVE for carol", |evs| {
            evs.iter()
                .any(|e| matches!(e, Event::ReactionRemove(r) if r.reaction.user_id == Some(UserId::new(carol.id))))
                .then_some(())
        })
        .await;
    // Unknown message → 10008; bad emoji → 10014.
    let err = bot
        .http
        .create_reaction(
            ch,
            MessageId::new(12345),
            &ReactionType::Unicode("🟩".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(discord_code(&err), Some((404, 10008)));
    let err = bot
        .http
        .create_reaction(ch, msg.id, &ReactionType::Unicode("green".into()))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&err), Some((400, 10014)));
    // CHANNEL_UPDATE events from set_bot_permissions parsed fine too.
    assert_eq!(bot.rec.count(|e| matches!(e, Event::ChannelUpdate(_))), 2);
    bot.rec.assert_no_unknown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_interaction_callback_gets_10062() {
    let sim = Sim::start().await.unwrap();
    let channel = sim.new_channel("stemmen");
    let bot = start_bot(&sim).await;
    GuildId::new(sim.guild_id())
        .set_commands(&bot.http, session_commands())
        .await
        .unwrap();
    let user = sim.user("traag");
    let http = bot.http.clone();
    let rec = bot.rec.clone();
    let empty = tokio::spawn(async move {
        let cmd = rec.command(1).await;
        cmd.create_response(
            &http,
            CreateInteractionResponse::Message(CreateInteractionResponseMessage::new()),
        )
        .await
        .unwrap_err()
    });
    let http = bot.http.clone();
    let rec = bot.rec.clone();
    let late = tokio::spawn(async move {
        let cmd = rec.command(0).await;
        tokio::time::sleep(Duration::from_millis(3300)).await;
        cmd.create_response(
            &http,
            CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new().content("te laat"),
            ),
        )
        .await
        .unwrap_err()
    });
    let (late_reply, empty_reply) = tokio::join!(
        sim.command(channel, &user, "chart", json!({})),
        sim.command(channel, &user, "chart", json!({})),
    );
    let err = late_reply.unwrap_err();
    let err_bot = late.await.unwrap();
    // An invalid callback is refused (50006) and explained in Sim::command's error.
    assert_eq!(discord_code(&empty.await.unwrap()), Some((400, 50006)));
    let text = format!("{:#}", empty_reply.unwrap_err());
    assert!(text.contains("50006"), "{text}");
    assert_eq!(discord_code(&err_bot), Some((404, 10062)));
    let text = format!("{err:#}");
    assert!(
        text.contains("did not respond") || text.contains("10062"),
        "{text}"
    );
    assert!(sim.messages(channel).is_empty());
    bot.rec.assert_no_unknown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_gets_a_new_session_and_no_replay() {
    let sim = Sim::start().await.unwrap();
    let channel = sim.new_channel("stemmen");
    let bot = start_bot(&sim).await;
    sim.wait_ready(1, WAIT).await.unwrap();
    let first_session = sim.session_id().unwrap();
    let msg = ChannelId::new(channel)
        .send_message(&bot.http, CreateMessage::new().content("Stelling"))
        .await
        .unwrap();
    let m = msg.id.get();
    let early = sim.user("vroeg");
    let missed = sim.user("gemist");
    let late = sim.user("laat");
    sim.react(channel, m, &early, "🟩").await.unwrap();
    bot.rec
        .wait("the first reaction", |evs| {
            evs.iter()
                .any(|e| matches!(e, Event::ReactionAdd(_)))
                .then_some(())
        })
        .await;

    sim.drop_gateway().await;
    assert!(!sim.is_connected());
    // Made while the bot is away: stored, never delivered.
    sim.react(channel, m, &missed, "🟥").await.unwrap();
    assert_eq!(
        sim.ready_count(),
        1,
        "still disconnected when the reaction happened"
    );

    sim.wait_ready(2, WAIT).await.unwrap();
    assert!(sim.resume_attempts() >= 1, "serenity tried to RESUME first");
    let sessions = bot
        .rec
        .wait("a second READY", |evs| {
            let s: Vec<String> = evs
                .iter()
                .filter_map(|e| match e {
                    Event::Ready(r) => Some(r.ready.session_id.clone()),
                    _ => None,
                })
                .collect();
            (s.len() >= 2).then_some(s)
        })
        .await;
    assert_ne!(sessions[0], sessions[1]);
    assert_eq!(sessions[0], first_session);
    assert_eq!(sim.session_id().as_deref(), Some(sessions[1].as_str()));
    // Sequence numbers restart with the new session.
    let d = sim.dispatched();
    let second_ready = d.iter().rposition(|(_, t)| t == "READY").unwrap();
    assert_eq!(d[second_ready].0, 1);

    // Events flow again; the missed one is not replayed before it.
    sim.react(channel, m, &late, "🟩").await.unwrap();
    bot.rec
        .wait_ordered("the reaction after reconnecting", |evs| {
            evs.iter()
                .any(|e| matches!(e, Event::ReactionAdd(a) if a.reaction.user_id == Some(UserId::new(late.id))))
                .then_some(())
        })
        .await;
    let missed_events = |e: &Event| matches!(e, Event::ReactionAdd(a) if a.reaction.user_id == Some(UserId::new(missed.id)));
    assert_eq!(bot.rec.count(missed_events), 0);
    assert!(!bot.rec.ordered.lock().unwrap().iter().any(missed_events));
    let users = ChannelId::new(channel)
        .reaction_users(
            &bot.http,
            msg.id,
            ReactionType::Unicode("🟥".into()),
            Some(100),
            None,
        )
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].id.get(), missed.id);
    bot.rec.assert_no_unknown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_unknown_routes_and_gateway_token() {
    let sim = Sim::start().await.unwrap();
    let (status, body) = raw_http(&sim, "GET", "/api/v10/users/@me", None).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        json!({"message": "401: Unauthorized", "code": 0})
    );
    let auth = format!("Bot {}", sim.token());
    let (status, body) = raw_http(&sim, "GET", "/api/v10/nowhere", Some(&auth)).await;
    assert_eq!(status, 404);
    assert!(body.contains("404: Not Found"));
    let (status, _) = raw_http(&sim, "GET", "/api/v10/gateway", None).await;
    assert_eq!(status, 200);
    let (status, _) = raw_http(&sim, "DELETE", "/api/v10/gateway/bot", Some(&auth)).await;
    assert_eq!(status, 405);
    let calls = sim.calls();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        vec![401, 404, 200, 405]
    );
    assert_eq!(calls[1].path, "/api/v10/nowhere");

    // A client with the wrong token is refused on the gateway (close 4004) and on REST.
    let http = HttpBuilder::new("wrong")
        .proxy(sim.base_url())
        .ratelimiter_disabled(true)
        .build();
    let err = http.get_current_user().await.unwrap_err();
    assert_eq!(discord_code(&err), Some((401, 0)));
    let mut client = ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
        .await
        .unwrap();
    let res = tokio::time::timeout(WAIT, client.start())
        .await
        .expect("client gives up");
    assert!(res.is_err(), "invalid authentication ends the client");
    assert_eq!(sim.ready_count(), 0);

    // Privileged intents are refused (close 4014) unless allowed.
    let sim2 = Sim::start_with(SimConfig::default()).await.unwrap();
    let http = HttpBuilder::new(sim2.token())
        .proxy(sim2.base_url())
        .ratelimiter_disabled(true)
        .build();
    let mut client = ClientBuilder::new_with_http(http, GatewayIntents::GUILD_MEMBERS)
        .await
        .unwrap();
    let res = tokio::time::timeout(WAIT, client.start())
        .await
        .expect("client gives up");
    assert!(res.is_err());
    assert_eq!(sim2.ready_count(), 0);
}

/// The test API's futures can be spawned (they hold no lock across `.await`).
#[allow(dead_code)]
fn sim_futures_are_send(sim: Sim, user: stemkaart::sim::SimUser) {
    fn send<T: Send + 'static>(_: T) {}
    send(async move {
        let _ = sim.wait_ready(1, WAIT).await;
        let _ = sim.wait_commands(WAIT).await;
        let _ = sim.command(1, &user, "x", json!({})).await;
        let _ = sim.autocomplete(1, &user, "x", json!({}), "y").await;
        let _ = sim.react(1, 2, &user, "🟩").await;
        let _ = sim.unreact(1, 2, &user, "🟩").await;
        sim.drop_gateway().await;
    });
}
