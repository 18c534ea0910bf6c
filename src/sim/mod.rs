//! A Discord-compatible server on 127.0.0.1 for tests and the demo.
//!
//! [`Sim::start`] binds one port for both the REST API (`/api/v10/...`) and the gateway
//! websocket (`/gateway`). The bot under test is pointed at [`Sim::base_url`] (serenity:
//! `HttpBuilder::new(token).proxy(base_url).ratelimiter_disabled(true)`) and believes it is
//! talking to Discord; the test drives users (slash commands, autocomplete, reactions) and
//! inspects what the bot did (messages, reactions, registered commands, every REST call).
//!
//! Layout:
//! - `mod.rs` (this file): the public test API — [`Sim`], [`SimConfig`], [`SimUser`],
//!   [`Reply`], [`SimMessage`], [`SimFile`], [`Call`], [`perms`].
//! - `state.rs`: the world (guild, users, channels, messages, reactions, commands,
//!   interactions, gateway session) behind one mutex; snowflakes and timestamps.
//! - `gateway.rs`: the websocket — HELLO/IDENTIFY/READY/GUILD_CREATE, heartbeats, RESUME
//!   refused with op 9 unless `outage.rs` accepts it, dispatch queueing.
//! - `outage.rs`: gateway faults on demand — RESUME accepted with the missed events replayed,
//!   heartbeats left unacknowledged, reconnects and REST requests held — and a log of what
//!   happened on the gateway.
//! - `rest.rs`: the REST routes, auth, Discord-shaped errors, call recording.
//! - `messages.rs`: message bodies (JSON or multipart), validation and edit semantics,
//!   Discord's `enforce_nonce`, and who a message would notify.
//! - `commands.rs`: command registration validation and building interactions from the
//!   registered definitions.
//! - `origin.rs`: interactions from a member of another guild or from a DM ([`Origin`]).
//! - `payloads.rs`: the JSON objects on the wire (user, member, guild, message, interaction).
//! - `faults.rs`: injected REST failures (429, 500, 502) and message deletion.
//! - `bulk.rs`: load-test traffic — many reaction changes or interactions queued at once,
//!   each stamped when it actually left the server ([`Sim::react_bulk`],
//!   [`Sim::commands_bulk`]).
//!
//! Typical use (a serenity client in-process; the demo runs the real bot binary instead):
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use stemkaart::sim::Sim;
//!
//! let sim = Sim::start().await?;
//! let channel = sim.new_channel("stemmen");
//! // ... start the bot with DISCORD_API_URL = sim.base_url(), token = sim.token() ...
//! sim.wait_ready(1, Duration::from_secs(30)).await?;
//! sim.wait_commands(Duration::from_secs(30)).await?;
//! let host = sim.user("host").permissions(stemkaart::sim::perms::ADMINISTRATOR);
//! let reply = sim
//!     .command(channel, &host, "session start", serde_json::json!({"municipality": "Arnhem"}))
//!     .await?;
//! let poll = sim.messages(channel).last().map(|m| m.id).unwrap_or(reply.message_id);
//! sim.react(channel, poll, &sim.user("kiezer"), "🟩").await?;
//! # Ok(())
//! # }
//! ```
//!
//! What is deliberately *not* simulated: rate limits (no 429s unless injected with
//! [`Sim::fail_next`]), zlib/ETF encodings, sharding, message content of users (the bot has no
//! message intent), voice, threads. DMs and other guilds exist only as the origin of an
//! interaction ([`Origin`], `origin.rs`).

mod bulk;
mod commands;
mod faults;
mod gateway;
mod messages;
mod origin;
mod outage;
mod payloads;
mod rest;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use faults::Fault;
pub use origin::Origin;

/// Who Discord would notify for `content` with these `allowed_mentions` (see
/// [`SimMessage::pings`]).
pub fn pings_of(content: &str, allowed_mentions: Option<&Value>) -> Vec<String> {
    messages::pings(content, allowed_mentions)
}

pub use bulk::{BulkCommand, BulkReaction, BulkSend};
use state::{random_hex, snowflake_ms, ChannelRec, InteractionRec, Out, RoleRec, State, UserRec};

/// Discord permission bits used by the simulator (same values as serenity's `Permissions`).
pub mod perms {
    pub const CREATE_INSTANT_INVITE: u64 = 1 << 0;
    pub const KICK_MEMBERS: u64 = 1 << 1;
    pub const BAN_MEMBERS: u64 = 1 << 2;
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_CHANNELS: u64 = 1 << 4;
    pub const MANAGE_GUILD: u64 = 1 << 5;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const USE_EXTERNAL_EMOJIS: u64 = 1 << 18;
    pub const MANAGE_ROLES: u64 = 1 << 28;
    pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
    pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
    /// Every permission serenity knows (what Discord sends for an administrator).
    pub const ALL: u64 = serenity::model::permissions::Permissions::all().bits();
    /// An ordinary member: see, talk, react, read history.
    pub const MEMBER_DEFAULT: u64 =
        VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS | READ_MESSAGE_HISTORY;
    /// What a polling bot needs in a channel (the default for every channel).
    pub const BOT_DEFAULT: u64 = VIEW_CHANNEL
        | SEND_MESSAGES
        | SEND_MESSAGES_IN_THREADS
        | MANAGE_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | USE_EXTERNAL_EMOJIS
        | USE_APPLICATION_COMMANDS;

    /// ADMINISTRATOR implies everything.
    pub fn expand_admin(bits: u64) -> u64 {
        if bits & ADMINISTRATOR != 0 {
            ALL
        } else {
            bits
        }
    }
}

/// Settings for [`Sim::start_with`]; [`SimConfig::default`] is what [`Sim::start`] uses.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The bot token (REST `Authorization: Bot <token>`, gateway IDENTIFY). Default `sim-token`.
    pub token: String,
    /// The bot user's username.
    pub bot_name: String,
    pub guild_name: String,
    /// `preferred_locale` of the guild and `guild_locale` of interactions. Default `nl`.
    pub guild_locale: String,
    /// Owner of the guild (default: a made-up user that is not a member you created).
    pub guild_owner_id: Option<u64>,
    /// Discord's 3 s limit for the first interaction callback.
    pub interaction_deadline: Duration,
    /// How long [`Sim::command`] waits for the `@original` edit after a deferral.
    pub defer_timeout: Duration,
    /// HELLO's `heartbeat_interval` (Discord: 41250 ms).
    pub heartbeat_interval_ms: u64,
    /// Whether IDENTIFY may ask for privileged intents (else close 4014, like an app without
    /// them enabled in the developer portal).
    pub allow_privileged_intents: bool,
    /// Refuse [`Sim::command`] for users lacking the command's `default_member_permissions`
    /// (Discord does not show such commands to them).
    pub enforce_command_permissions: bool,
    /// Max bytes per attachment (Discord's default 10 MiB); larger → 413, code 40005.
    pub attachment_size_limit: u64,
    /// Distinct emoji per message (Discord: 20; more → 400, code 30010).
    pub max_reactions_per_message: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            token: "sim-token".into(),
            bot_name: "stemkaart".into(),
            guild_name: "Werkplaats".into(),
            guild_locale: "nl".into(),
            guild_owner_id: None,
            interaction_deadline: Duration::from_secs(3),
            defer_timeout: Duration::from_secs(60),
            heartbeat_interval_ms: 41_250,
            allow_privileged_intents: false,
            enforce_command_permissions: true,
            attachment_size_limit: 10 * 1024 * 1024,
            max_reactions_per_message: 20,
        }
    }
}

/// A guild member the test acts as. Build with [`Sim::user`] and the builder methods.
#[derive(Clone, Debug)]
pub struct SimUser {
    pub id: u64,
    pub name: String,
    /// Guild permission bits (default [`perms::MEMBER_DEFAULT`]).
    pub permissions: u64,
    pub roles: Vec<u64>,
    /// The Discord client's locale, sent as the interaction's `locale` (default `nl`).
    pub locale: String,
    pub bot: bool,
}

impl SimUser {
    /// Replace the member's guild permissions (e.g. `perms::MEMBER_DEFAULT | perms::MANAGE_GUILD`).
    pub fn permissions(mut self, bits: u64) -> Self {
        self.permissions = bits;
        self
    }
    /// Give the member a role (see [`Sim::new_role`]); the role's permissions add up.
    pub fn role(mut self, role_id: u64) -> Self {
        if !self.roles.contains(&role_id) {
            self.roles.push(role_id);
        }
        self
    }
    pub fn locale(mut self, l: &str) -> Self {
        self.locale = l.to_string();
        self
    }
    /// Mark the user as a bot account (`user.bot = true`).
    pub fn bot(mut self) -> Self {
        self.bot = true;
        self
    }
}

/// An uploaded file as the server stored it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimFile {
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// A message as stored by the server.
#[derive(Clone, Debug)]
pub struct SimMessage {
    pub id: u64,
    pub channel_id: u64,
    pub author_id: u64,
    pub content: String,
    pub embeds: Vec<Value>,
    pub edited: bool,
    /// `(emoji, users in the order they reacted)`, emoji in order of first reaction. Custom
    /// emoji are `name:id`.
    pub reactions: Vec<(String, Vec<u64>)>,
    pub components: Vec<Value>,
    pub files: Vec<SimFile>,
    pub flags: u64,
    pub ephemeral: bool,
    /// Set for interaction responses and follow-ups.
    pub interaction_id: Option<u64>,
    /// Mentions in the content that would notify someone (`@everyone`, `<@id>`, `<@&id>`),
    /// given the message's `allowed_mentions`.
    pub pings: Vec<String>,
}

/// The final answer to a slash command (see [`Sim::command`]).
#[derive(Clone, Debug)]
pub struct Reply {
    pub interaction_id: u64,
    /// The `@original` response message.
    pub message_id: u64,
    /// Answered with a type-5 deferral first.
    pub deferred: bool,
    pub ephemeral: bool,
    pub content: String,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub files: Vec<SimFile>,
    /// Follow-up messages that existed when the answer arrived (usually none; see
    /// [`Sim::followups`] for later ones).
    pub followups: Vec<SimMessage>,
}

impl Reply {
    /// Content plus embed titles, descriptions, field names/values and footers, one per line —
    /// handy for `contains` assertions.
    pub fn text(&self) -> String {
        let mut out = vec![self.content.clone()];
        for e in &self.embeds {
            for key in ["title", "description"] {
                if let Some(s) = e[key].as_str() {
                    out.push(s.to_string());
                }
            }
            for f in e["fields"].as_array().into_iter().flatten() {
                out.push(format!(
                    "{}: {}",
                    f["name"].as_str().unwrap_or(""),
                    f["value"].as_str().unwrap_or("")
                ));
            }
            if let Some(s) = e["footer"]["text"].as_str() {
                out.push(s.to_string());
            }
        }
        out.retain(|s| !s.is_empty());
        out.join("\n")
    }
}

/// One REST request the server answered.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// The raw path as requested (percent-encoded, e.g. `.../reactions/%F0%9F%9F%A9/@me`).
    pub path: String,
    /// The raw query string without `?` (serenity's starts with `&`).
    pub query: String,
    pub status: u16,
    /// Wall-clock arrival time.
    pub at: SystemTime,
    /// Arrival time relative to [`Sim::start`].
    pub since_start: Duration,
}

/// State shared by the server tasks and the [`Sim`] handles.
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Notify,
    started: Instant,
    /// Injected REST failures (see `faults.rs`).
    pub(crate) faults: faults::Faults,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Wake everything waiting for a state change.
    pub(crate) fn notify(&self) {
        self.changed.notify_waiters();
    }
}

struct Inner {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.abort();
        let st = self.shared.lock();
        for tx in st.open_conns.values() {
            let _ = tx.send(Out::Abort);
        }
    }
}

/// The simulated Discord. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("base_url", &self.base_url())
            .finish()
    }
}

/// Extra time granted to the server to record a callback that arrived in time.
const CALLBACK_GRACE: Duration = Duration::from_millis(750);

impl Sim {
    /// Start with [`SimConfig::default`]: 127.0.0.1 on a free port, token `sim-token`.
    pub async fn start() -> std::io::Result<Sim> {
        Sim::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> std::io::Result<Sim> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config, base_url)),
            changed: Notify::new(),
            started: Instant::now(),
            faults: faults::Faults::default(),
        });
        let app = axum::Router::new()
            .route("/gateway", axum::routing::get(gateway::upgrade))
            .fallback(rest::handle)
            .layer(axum::extract::DefaultBodyLimit::max(rest::MAX_BODY))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("sim server stopped: {e}");
            }
        });
        Ok(Sim {
            inner: Arc::new(Inner { shared, server }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared().lock()
    }

    /// Wait until `f` returns `Some`, re-checking on every state change; `None` on timeout.
    async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared().changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = f(&self.lock()) {
                return Some(v);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return f(&self.lock());
            }
        }
    }

    /// `http://127.0.0.1:PORT` — what the bot gets as its API base (`DISCORD_API_URL`).
    pub fn base_url(&self) -> String {
        self.lock().base_url.clone()
    }

    /// `ws://127.0.0.1:PORT/gateway`.
    pub fn gateway_url(&self) -> String {
        format!("{}/gateway", self.base_url().replacen("http", "ws", 1))
    }

    pub fn token(&self) -> String {
        self.lock().config.token.clone()
    }

    pub fn guild_id(&self) -> u64 {
        self.lock().guild_id
    }

    pub fn application_id(&self) -> u64 {
        self.lock().app_id
    }

    pub fn bot_user_id(&self) -> u64 {
        self.lock().bot_id
    }

    /// Create a text channel in the guild (CHANNEL_CREATE is dispatched if the bot is online).
    pub fn new_channel(&self, name: &str) -> u64 {
        let mut st = self.lock();
        let id = st.next_id();
        let position = st.channels.len() as u64;
        st.channels.push(ChannelRec {
            id,
            name: name.to_string(),
            position,
            bot_permissions: perms::BOT_DEFAULT,
            last_message_id: None,
        });
        let c = payloads::channel(&st, st.channel(id).expect("just added"));
        st.dispatch("CHANNEL_CREATE", c, Some(state::intents::GUILDS));
        drop(st);
        self.shared().notify();
        id
    }

    /// Set the bot's permissions in a channel (what `app_permissions` says and what REST
    /// enforces). Default: [`perms::BOT_DEFAULT`] (includes MANAGE_MESSAGES).
    pub fn set_bot_permissions(&self, channel_id: u64, bits: u64) {
        let mut st = self.lock();
        let Some(c) = st.channels.iter_mut().find(|c| c.id == channel_id) else {
            return;
        };
        c.bot_permissions = bits;
        let c = payloads::channel(&st, st.channel(channel_id).expect("exists"));
        st.dispatch("CHANNEL_UPDATE", c, Some(state::intents::GUILDS));
        drop(st);
        self.shared().notify();
    }

    /// Create a guild role (GUILD_ROLE_CREATE is dispatched if the bot is online).
    pub fn new_role(&self, name: &str, permissions: u64) -> u64 {
        let mut st = self.lock();
        let id = st.next_id();
        let position = st.roles.len() as u64;
        let role = RoleRec {
            id,
            name: name.to_string(),
            permissions,
            position,
            managed_by_bot: None,
        };
        let d = json!({"guild_id": st.guild_id.to_string(), "role": payloads::role(&role)});
        st.roles.push(role);
        st.dispatch("GUILD_ROLE_CREATE", d, Some(state::intents::GUILDS));
        drop(st);
        self.shared().notify();
        id
    }

    /// A new guild member with a fresh snowflake id (no event: member events need the
    /// privileged GUILD_MEMBERS intent).
    pub fn user(&self, name: &str) -> SimUser {
        let mut st = self.lock();
        let id = st.next_id();
        let u = SimUser {
            id,
            name: name.to_string(),
            permissions: perms::MEMBER_DEFAULT,
            roles: Vec::new(),
            locale: "nl".into(),
            bot: false,
        };
        sync_user(&mut st, &u);
        u
    }

    /// Wait until READY number `n` (1-based, counting every IDENTIFY) has been sent.
    pub async fn wait_ready(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for(timeout, |st| (st.ready_count >= n).then_some(()))
            .await
            .ok_or_else(|| {
                anyhow!(
                    "READY #{n} not sent within {timeout:?} (sent: {})",
                    self.ready_count()
                )
            })
    }

    pub fn ready_count(&self) -> usize {
        self.lock().ready_count
    }

    /// How many RESUMEs were received (refused with op 9 unless [`Sim::accept_resumes`]).
    pub fn resume_attempts(&self) -> usize {
        self.lock().resume_attempts
    }

    /// The `d` of every IDENTIFY received (token included), oldest first.
    pub fn identify_payloads(&self) -> Vec<Value> {
        self.lock().identify_payloads.clone()
    }

    /// The session id of the current gateway session (changes with every IDENTIFY).
    pub fn session_id(&self) -> Option<String> {
        self.lock().session.as_ref().map(|s| s.session_id.clone())
    }

    /// An identified bot connection is open.
    pub fn is_connected(&self) -> bool {
        self.lock().is_connected()
    }

    /// Abruptly close the bot's websocket (no close frame, like a dropped TCP connection).
    pub async fn drop_gateway(&self) {
        let conn = {
            let mut st = self.lock();
            let Some(session) = st.end_session() else {
                return;
            };
            let _ = session.tx.send(Out::Abort);
            session.conn_id
        };
        self.shared().notify();
        self.wait_for(Duration::from_secs(5), |st| {
            (!st.open_conns.contains_key(&conn)).then_some(())
        })
        .await;
    }

    /// Registered commands (global, then guild), as Discord returns them.
    pub fn commands(&self) -> Vec<Value> {
        let st = self.lock();
        let mut v: Vec<&state::CommandRec> = st.commands.iter().collect();
        v.sort_by_key(|c| c.guild_id.is_some());
        v.into_iter().map(|c| c.value.clone()).collect()
    }

    /// Wait until at least one command is registered.
    pub async fn wait_commands(&self, timeout: Duration) -> anyhow::Result<Vec<Value>> {
        self.wait_for(timeout, |st| (!st.commands.is_empty()).then_some(()))
            .await
            .ok_or_else(|| anyhow!("no application command registered within {timeout:?}"))?;
        Ok(self.commands())
    }

    fn start_interaction(
        &self,
        origin: Origin,
        channel_id: u64,
        user: &SimUser,
        command: &str,
        options: &Value,
        focused: Option<&str>,
    ) -> anyhow::Result<u64> {
        // An autocomplete (type 4) says which option is being typed; a command is type 2.
        let kind = if focused.is_some() { 4 } else { 2 };
        let mut st = self.lock();
        let (id, payload) = prepare_interaction(
            &mut st, origin, kind, channel_id, user, command, options, focused,
        )?;
        if !st.dispatch("INTERACTION_CREATE", payload, None) {
            bail!("/{command}: could not dispatch INTERACTION_CREATE");
        }
        if let Some(r) = st.interactions.get_mut(&id) {
            r.dispatched_at = Instant::now();
        }
        drop(st);
        self.shared().notify();
        Ok(id)
    }

    /// `"; refused: ..."` listing the interaction's refused calls, or `""`.
    fn interaction_errors(&self, id: u64) -> String {
        let st = self.lock();
        match st.interactions.get(&id) {
            Some(r) if !r.errors.is_empty() => format!("; refused: {}", r.errors.join("; ")),
            _ => String::new(),
        }
    }

    /// Wait for the first callback of interaction `id` (Discord's deadline plus a grace period
    /// for the server to record it).
    async fn wait_callback(&self, id: u64, command: &str) -> anyhow::Result<state::Response> {
        let deadline = self.lock().config.interaction_deadline + CALLBACK_GRACE;
        let (response, expired) = self
            .wait_for(deadline, |st| {
                let r = &st.interactions[&id];
                (r.response.is_some() || r.expired).then(|| (r.response.clone(), r.expired))
            })
            .await
            .unwrap_or((None, false));
        match response {
            Some(r) => Ok(r),
            None if expired => bail!(
                "/{command}: the callback came after Discord's deadline and was refused (10062)"
            ),
            None => bail!(
                "/{command}: no accepted interaction callback within {:?} (Discord: \"The application did not respond\"){}",
                deadline - CALLBACK_GRACE,
                self.interaction_errors(id)
            ),
        }
    }

    /// Send a slash command as `user` in `channel`. `command` is the space-separated path
    /// (`"session start"`, `"room"`); `options` a JSON object of option name → value.
    /// Option types and subcommand nesting come from the REGISTERED command definitions; an
    /// unregistered command/subcommand/option is an error. Returns the final answer: the
    /// type-4 callback, or — after a type-5 deferral — the first edit of `@original` (or the
    /// first follow-up, which Discord turns into that edit). Errors if there is no callback
    /// within 3 s, or no edit within [`SimConfig::defer_timeout`] after a deferral.
    pub async fn command(
        &self,
        channel_id: u64,
        user: &SimUser,
        command: &str,
        options: Value,
    ) -> anyhow::Result<Reply> {
        let timeout = self.lock().config.defer_timeout;
        self.command_with_timeout(channel_id, user, command, options, timeout)
            .await
    }

    /// [`Sim::command`] with an explicit wait for the edit after a deferral.
    pub async fn command_with_timeout(
        &self,
        channel_id: u64,
        user: &SimUser,
        command: &str,
        options: Value,
        defer_timeout: Duration,
    ) -> anyhow::Result<Reply> {
        self.command_at(
            Origin::Guild,
            channel_id,
            user,
            command,
            options,
            defer_timeout,
        )
        .await
    }

    async fn command_at(
        &self,
        origin: Origin,
        channel_id: u64,
        user: &SimUser,
        command: &str,
        options: Value,
        defer_timeout: Duration,
    ) -> anyhow::Result<Reply> {
        let id = self.start_interaction(origin, channel_id, user, command, &options, None)?;
        self.final_answer(id, command, defer_timeout).await
    }

    /// The final answer of command interaction `id` (see [`Sim::command`]).
    async fn final_answer(
        &self,
        id: u64,
        command: &str,
        defer_timeout: Duration,
    ) -> anyhow::Result<Reply> {
        let response = self.wait_callback(id, command).await?;
        let deferred = match response {
            state::Response::Message => false,
            state::Response::Deferred => {
                self.wait_for(defer_timeout, |st| st.interactions[&id].answered.then_some(()))
                    .await
                    .ok_or_else(|| {
                        anyhow!(
                            "/{command}: deferred, but @original was not edited within {defer_timeout:?}{}",
                            self.interaction_errors(id)
                        )
                    })?;
                true
            }
            state::Response::Autocomplete(_) => {
                bail!("/{command}: answered a command with an autocomplete result (type 8)")
            }
            state::Response::Modal(_) => bail!("/{command}: answered with a modal"),
        };
        let st = self.lock();
        let rec = &st.interactions[&id];
        let mid = rec
            .original_message_id
            .context("interaction without original message")?;
        let msg = st
            .messages
            .get(&mid)
            .context("original response message is gone")?;
        let followups = rec
            .followups
            .iter()
            .filter_map(|f| st.messages.get(f))
            .filter(|m| !m.deleted)
            .map(sim_message)
            .collect();
        Ok(Reply {
            interaction_id: id,
            message_id: mid,
            deferred,
            ephemeral: msg.ephemeral(),
            content: msg.content.clone(),
            embeds: msg.embeds.clone(),
            components: msg.components.clone(),
            files: files_of(msg),
            followups,
        })
    }

    /// Send an autocomplete interaction (type 4) with `focused` as the option being typed;
    /// returns the bot's choices (`[{"name": ..., "value": ...}]`).
    pub async fn autocomplete(
        &self,
        channel_id: u64,
        user: &SimUser,
        command: &str,
        options: Value,
        focused: &str,
    ) -> anyhow::Result<Vec<Value>> {
        self.autocomplete_at(Origin::Guild, channel_id, user, command, options, focused)
            .await
    }

    async fn autocomplete_at(
        &self,
        origin: Origin,
        channel_id: u64,
        user: &SimUser,
        command: &str,
        options: Value,
        focused: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let id =
            self.start_interaction(origin, channel_id, user, command, &options, Some(focused))?;
        match self.wait_callback(id, command).await? {
            state::Response::Autocomplete(choices) => Ok(choices),
            other => bail!("/{command}: autocomplete answered with {other:?} instead of type 8"),
        }
    }

    /// Follow-up messages of an interaction (in creation order).
    pub fn followups(&self, interaction_id: u64) -> Vec<SimMessage> {
        let st = self.lock();
        st.interactions
            .get(&interaction_id)
            .map(|r| {
                r.followups
                    .iter()
                    .filter_map(|f| st.messages.get(f))
                    .filter(|m| !m.deleted)
                    .map(sim_message)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Add a reaction as `user`. Changes the state; dispatches MESSAGE_REACTION_ADD when a
    /// bot is connected and something changed (reacting twice is a no-op, as on Discord).
    /// Returns after the event is queued on the socket.
    pub async fn react(
        &self,
        channel_id: u64,
        message_id: u64,
        user: &SimUser,
        emoji: &str,
    ) -> anyhow::Result<()> {
        let key = normalize_emoji(emoji)?;
        let mut st = self.lock();
        sync_user(&mut st, user);
        let u = st.users[&user.id].clone();
        let have = st.member_permissions(&u);
        if st.channel(channel_id).is_none() {
            bail!("unknown channel {channel_id}");
        }
        if have & perms::VIEW_CHANNEL == 0 || have & perms::READ_MESSAGE_HISTORY == 0 {
            bail!(
                "{} cannot see the messages of channel {channel_id}",
                user.name
            );
        }
        let exists = st
            .messages
            .get(&message_id)
            .is_some_and(|m| m.reactions.iter().any(|(e, _)| *e == key));
        if !exists && have & perms::ADD_REACTIONS == 0 {
            bail!("{} lacks ADD_REACTIONS for a new emoji", user.name);
        }
        let r = st.add_reaction(channel_id, message_id, &key, user.id);
        drop(st);
        self.shared().notify();
        r.map(|_| ())
            .map_err(|e| anyhow!("react {emoji} on {message_id}: {e:?}"))
    }

    /// Remove `user`'s reaction (MESSAGE_REACTION_REMOVE if it existed and a bot is connected).
    pub async fn unreact(
        &self,
        channel_id: u64,
        message_id: u64,
        user: &SimUser,
        emoji: &str,
    ) -> anyhow::Result<()> {
        let key = normalize_emoji(emoji)?;
        let mut st = self.lock();
        sync_user(&mut st, user);
        let r = st.remove_reaction(channel_id, message_id, &key, user.id);
        drop(st);
        self.shared().notify();
        r.map(|_| ())
            .map_err(|e| anyhow!("unreact {emoji} on {message_id}: {e:?}"))
    }

    /// The channel's (non-ephemeral, not deleted) messages in creation order.
    pub fn messages(&self, channel_id: u64) -> Vec<SimMessage> {
        let st = self.lock();
        st.channel_messages
            .get(&channel_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| st.messages.get(i))
                    .filter(|m| !m.deleted)
                    .map(sim_message)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Any message by id (also ephemeral interaction responses); `None` if unknown or deleted.
    pub fn message(&self, message_id: u64) -> Option<SimMessage> {
        let st = self.lock();
        st.messages
            .get(&message_id)
            .filter(|m| !m.deleted)
            .map(sim_message)
    }

    /// Users who reacted with `emoji` (`🟩` or `name:id`), in the order they reacted.
    pub fn reaction_users(&self, message_id: u64, emoji: &str) -> Vec<u64> {
        let Ok(key) = normalize_emoji(emoji) else {
            return Vec::new();
        };
        let st = self.lock();
        st.messages
            .get(&message_id)
            .and_then(|m| m.reactions.iter().find(|(e, _)| *e == key))
            .map(|(_, u)| u.clone())
            .unwrap_or_default()
    }

    /// Every REST call so far (in completion order).
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Every dispatch sent: `(sequence number within its session, event name)`.
    pub fn dispatched(&self) -> Vec<(u64, String)> {
        self.lock().dispatched.clone()
    }

    /// Run until the process ends (for a standalone demo server).
    pub async fn serve_forever(&self) {
        std::future::pending::<()>().await;
    }
}

/// Check and record a new interaction of `user` in `channel_id` (kind 2 = command,
/// 4 = autocomplete); returns its id and the INTERACTION_CREATE payload, not yet dispatched.
#[allow(clippy::too_many_arguments)]
fn prepare_interaction(
    st: &mut State,
    origin: Origin,
    kind: u64,
    channel_id: u64,
    user: &SimUser,
    command: &str,
    options: &Value,
    focused: Option<&str>,
) -> anyhow::Result<(u64, Value)> {
    sync_user(st, user);
    let channel = st
        .channel(channel_id)
        .cloned()
        .ok_or_else(|| anyhow!("unknown channel {channel_id}"))?;
    if !st.is_connected() {
        bail!("/{command}: no bot is connected to the gateway");
    }
    let inv = commands::invocation(st, command, options, focused)?;
    let urec = st.users[&user.id].clone();
    if st.config.enforce_command_permissions && origin == Origin::Guild {
        if let Some(required) = inv.default_member_permissions {
            let have = st.member_permissions(&urec);
            let ok = if required == 0 {
                have & perms::ADMINISTRATOR != 0
            } else {
                have & required == required
            };
            if !ok {
                bail!(
                    "/{command}: {} lacks the command's default_member_permissions {required} \
                     (Discord would not offer the command to them)",
                    user.name
                );
            }
        }
    }
    let id = st.next_id();
    let token = interaction_token(id);
    let payload = payloads::interaction(st, id, &token, kind, &channel, &urec, inv.data);
    let payload = origin.apply(payload, st, &channel, &urec);
    st.interactions.insert(
        id,
        InteractionRec {
            id,
            token: token.clone(),
            kind,
            channel_id,
            user_id: user.id,
            command_name: inv.name,
            dispatched_at: Instant::now(),
            response: None,
            expired: false,
            original_message_id: None,
            loading: false,
            answered: false,
            followups: Vec::new(),
            errors: Vec::new(),
        },
    );
    st.interaction_tokens.insert(token, id);
    Ok((id, payload))
}

/// Create or update the state's record of a test user.
fn sync_user(st: &mut State, u: &SimUser) {
    let joined = st
        .users
        .get(&u.id)
        .map(|x| x.joined_ms)
        .unwrap_or_else(|| snowflake_ms(u.id));
    st.users.insert(
        u.id,
        UserRec {
            id: u.id,
            name: u.name.clone(),
            global_name: Some(u.name.clone()),
            discriminator: "0".into(),
            bot: u.bot,
            permissions: u.permissions,
            roles: u.roles.clone(),
            locale: u.locale.clone(),
            joined_ms: joined,
        },
    );
}

fn normalize_emoji(e: &str) -> anyhow::Result<String> {
    let e = e.trim();
    if let Some((name, id)) = payloads::split_custom_emoji(e) {
        return Ok(format!("{name}:{id}"));
    }
    if e.is_empty() || e.is_ascii() {
        bail!("{e:?} is not an emoji (use the character, e.g. 🟩, or name:id)");
    }
    Ok(e.to_string())
}

fn files_of(m: &state::MessageRec) -> Vec<SimFile> {
    m.attachments
        .iter()
        .map(|a| SimFile {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            bytes: a.bytes.clone(),
        })
        .collect()
}

fn sim_message(m: &state::MessageRec) -> SimMessage {
    SimMessage {
        id: m.id,
        channel_id: m.channel_id,
        author_id: m.author_id,
        content: m.content.clone(),
        embeds: m.embeds.clone(),
        edited: m.edited_ms.is_some(),
        reactions: m.reactions.clone(),
        components: m.components.clone(),
        files: files_of(m),
        flags: m.flags,
        ephemeral: m.ephemeral(),
        interaction_id: m.interaction.as_ref().map(|i| i.id),
        pings: m.pings.clone(),
    }
}

/// Interaction tokens look like Discord's: url-safe base64 of `interaction:<id>:<random>`.
fn interaction_token(id: u64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let raw = format!("interaction:{id}:{}", random_hex(64));
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
