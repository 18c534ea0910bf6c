//! The simulator's mutable world: guild, users, roles, channels, messages with their
//! reactions, registered application commands, interactions in flight, the gateway
//! connection that events go to, and the recorded REST calls and dispatches.
//!
//! Everything lives in one [`State`] behind a `std::sync::Mutex` (never held across an
//! `.await`). Operations that change what the bot would be told about (reactions, channels,
//! roles) queue the matching gateway dispatch while the lock is held, so the order of events
//! on the socket always equals the order of the state changes.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

use super::payloads;
use super::{perms, Call, SimConfig};

/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds.
pub(crate) const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Gateway intents the simulator knows about.
pub(crate) mod intents {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MEMBERS: u64 = 1 << 1;
    pub const GUILD_PRESENCES: u64 = 1 << 8;
    pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
    pub const PRIVILEGED: u64 = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT;
}

/// Message flags used by the simulator.
pub(crate) mod msg_flags {
    pub const SUPPRESS_EMBEDS: u64 = 1 << 2;
    pub const EPHEMERAL: u64 = 1 << 6;
    pub const LOADING: u64 = 1 << 7;
    pub const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;
    pub const IS_COMPONENTS_V2: u64 = 1 << 15;
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(DISCORD_EPOCH_MS)
}

pub(crate) fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    if getrandom::getrandom(&mut buf).is_err() {
        // Fall back to the clock; uniqueness is all that matters here.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return nanos ^ 0x9E37_79B9_7F4A_7C15;
    }
    u64::from_le_bytes(buf)
}

pub(crate) fn random_hex(len: usize) -> String {
    let mut s = String::with_capacity(len);
    while s.len() < len {
        s.push_str(&format!("{:016x}", random_u64()));
    }
    s.truncate(len);
    s
}

/// Unix milliseconds encoded in a snowflake.
pub(crate) fn snowflake_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

/// Discord-style ISO 8601 timestamp (`2024-05-01T12:34:56.789000+00:00`).
pub(crate) fn iso_timestamp(unix_ms: u64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "2015-01-01T00:00:00.000000+00:00".to_string())
}

/// Increasing snowflake ids: `(ms since Discord epoch) << 22 | worker << 12 | increment`.
pub(crate) struct Snowflakes {
    last: u64,
    worker: u64,
}

impl Snowflakes {
    pub(crate) fn new() -> Self {
        Snowflakes {
            last: 0,
            worker: random_u64() & 0x3FF,
        }
    }

    pub(crate) fn next(&mut self) -> u64 {
        let ms = now_ms().saturating_sub(DISCORD_EPOCH_MS);
        let candidate = (ms << 22) | (self.worker << 12) | (random_u64() & 0x3F);
        self.last = if candidate > self.last {
            candidate
        } else {
            self.last + 1
        };
        self.last
    }

    /// A snowflake from some time in the past (`min_days`..`max_days` ago), for things that
    /// existed before the simulation started (guild, application, bot user).
    pub(crate) fn past(min_days: u64, max_days: u64) -> u64 {
        let span = (max_days - min_days).max(1) * 86_400_000;
        let ago = min_days * 86_400_000 + random_u64() % span;
        let ms = now_ms()
            .saturating_sub(ago)
            .saturating_sub(DISCORD_EPOCH_MS);
        (ms << 22) | (random_u64() & 0x3F_FFFF)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct UserRec {
    pub id: u64,
    pub name: String,
    pub global_name: Option<String>,
    pub discriminator: String,
    pub bot: bool,
    pub permissions: u64,
    pub roles: Vec<u64>,
    pub locale: String,
    pub joined_ms: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct RoleRec {
    pub id: u64,
    pub name: String,
    pub permissions: u64,
    pub position: u64,
    pub managed_by_bot: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct ChannelRec {
    pub id: u64,
    pub name: String,
    pub position: u64,
    pub bot_permissions: u64,
    pub last_message_id: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct AttachmentRec {
    pub id: u64,
    pub filename: String,
    pub description: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Clone, Debug)]
pub(crate) struct InteractionMeta {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub original_response_message_id: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct MessageRec {
    pub id: u64,
    pub channel_id: u64,
    pub author_id: u64,
    pub content: String,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub attachments: Vec<AttachmentRec>,
    pub tts: bool,
    pub flags: u64,
    pub kind: u64,
    pub nonce: Option<Value>,
    pub message_reference: Option<Value>,
    pub edited_ms: Option<u64>,
    /// `(emoji key, users in the order they reacted)`, emoji in order of first reaction.
    pub reactions: Vec<(String, Vec<u64>)>,
    pub webhook_id: Option<u64>,
    pub interaction: Option<InteractionMeta>,
    pub deleted: bool,
    /// Who Discord would notify for this message's content (`@everyone`, `<@id>`, `<@&id>`),
    /// given its `allowed_mentions`; edits do not notify again.
    pub pings: Vec<String>,
}

impl MessageRec {
    pub(crate) fn ephemeral(&self) -> bool {
        self.flags & msg_flags::EPHEMERAL != 0
    }
}

#[derive(Clone, Debug)]
pub(crate) struct CommandRec {
    pub id: u64,
    pub guild_id: Option<u64>,
    /// The full command object as Discord would return it.
    pub value: Value,
}

impl CommandRec {
    pub(crate) fn name(&self) -> &str {
        self.value["name"].as_str().unwrap_or("")
    }
    pub(crate) fn kind(&self) -> u64 {
        self.value["type"].as_u64().unwrap_or(1)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Response {
    /// Type 4: a message.
    Message,
    /// Type 5: deferred; `@original` is a loading message until edited.
    Deferred,
    /// Type 8: autocomplete choices.
    Autocomplete(Vec<Value>),
    /// Type 9: a modal (stored, not interpreted).
    Modal(Value),
}

#[derive(Clone, Debug)]
pub(crate) struct InteractionRec {
    pub id: u64,
    pub token: String,
    /// 2 = application command, 4 = autocomplete.
    pub kind: u64,
    pub channel_id: u64,
    pub user_id: u64,
    pub command_name: String,
    pub dispatched_at: Instant,
    pub response: Option<Response>,
    /// A callback came after the deadline and was refused with 10062.
    pub expired: bool,
    pub original_message_id: Option<u64>,
    /// Deferred and not yet edited.
    pub loading: bool,
    /// The final answer exists (type 4 message, or first edit after a defer).
    pub answered: bool,
    pub followups: Vec<u64>,
    /// Refused calls for this interaction (`"POST callback → 400 {...}"`), for diagnostics.
    pub errors: Vec<String>,
}

/// What a connection task writes to its websocket.
#[derive(Debug)]
pub(crate) enum Out {
    Text(String),
    /// Dispatch frames queued in bulk (see `bulk.rs`): `(index, frame)`; each index is
    /// stamped in `stamps` once its frame was written to the socket.
    Batch {
        frames: Vec<(usize, String)>,
        stamps: std::sync::Arc<super::bulk::Stamps>,
    },
    Close(u16, String),
    Abort,
}

/// The identified bot connection that dispatches go to.
pub(crate) struct Session {
    pub conn_id: u64,
    pub session_id: String,
    pub seq: u64,
    pub intents: u64,
    pub tx: UnboundedSender<Out>,
}

pub(crate) struct State {
    pub config: SimConfig,
    pub base_url: String,
    pub guild_id: u64,
    pub app_id: u64,
    pub bot_id: u64,
    /// Owner of the guild and the application (not a member the tests act as).
    pub owner_id: u64,
    pub guild_created_ms: u64,
    pub snowflakes: Snowflakes,
    pub users: HashMap<u64, UserRec>,
    pub roles: Vec<RoleRec>,
    pub channels: Vec<ChannelRec>,
    pub messages: HashMap<u64, MessageRec>,
    pub channel_messages: HashMap<u64, Vec<u64>>,
    pub commands: Vec<CommandRec>,
    pub interactions: HashMap<u64, InteractionRec>,
    pub interaction_tokens: HashMap<String, u64>,
    pub calls: Vec<Call>,
    pub dispatched: Vec<(u64, String)>,
    pub session: Option<Session>,
    pub open_conns: HashMap<u64, UnboundedSender<Out>>,
    pub next_conn_id: u64,
    pub ready_count: usize,
    pub resume_attempts: usize,
    pub identify_payloads: Vec<Value>,
    pub outage: super::outage::GatewayFaults,
}

/// Why a reaction could not be added/removed.
#[derive(Debug)]
pub(crate) enum ReactError {
    UnknownMessage,
    MaxReactions,
}

impl State {
    pub(crate) fn new(config: SimConfig, base_url: String) -> State {
        let guild_id = Snowflakes::past(400, 1500);
        let app_id = Snowflakes::past(30, 300);
        let bot_id = app_id; // bots created with an application share its id
        let owner_id = config
            .guild_owner_id
            .unwrap_or_else(|| Snowflakes::past(1500, 3000));
        let mut st = State {
            config,
            base_url,
            guild_id,
            app_id,
            bot_id,
            owner_id,
            guild_created_ms: snowflake_ms(guild_id),
            snowflakes: Snowflakes::new(),
            users: HashMap::new(),
            roles: Vec::new(),
            channels: Vec::new(),
            messages: HashMap::new(),
            channel_messages: HashMap::new(),
            commands: Vec::new(),
            interactions: HashMap::new(),
            interaction_tokens: HashMap::new(),
            calls: Vec::new(),
            dispatched: Vec::new(),
            session: None,
            open_conns: HashMap::new(),
            next_conn_id: 1,
            ready_count: 0,
            resume_attempts: 0,
            identify_payloads: Vec::new(),
            outage: Default::default(),
        };
        let bot_name = st.config.bot_name.clone();
        let joined = now_ms().saturating_sub(86_400_000);
        st.users.insert(
            bot_id,
            UserRec {
                id: bot_id,
                name: bot_name.clone(),
                global_name: None,
                discriminator: format!("{:04}", 1000 + random_u64() % 9000),
                bot: true,
                permissions: perms::BOT_DEFAULT,
                roles: Vec::new(),
                locale: "en-US".into(),
                joined_ms: joined,
            },
        );
        // @everyone (id = guild id) and the bot's managed integration role.
        st.roles.push(RoleRec {
            id: guild_id,
            name: "@everyone".into(),
            permissions: perms::MEMBER_DEFAULT,
            position: 0,
            managed_by_bot: None,
        });
        let bot_role = Snowflakes::past(30, 300);
        st.roles.push(RoleRec {
            id: bot_role,
            name: bot_name,
            permissions: perms::BOT_DEFAULT,
            position: 1,
            managed_by_bot: Some(bot_id),
        });
        if let Some(bot) = st.users.get_mut(&bot_id) {
            bot.roles.push(bot_role);
        }
        st
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.snowflakes.next()
    }

    pub(crate) fn bot(&self) -> &UserRec {
        &self.users[&self.bot_id]
    }

    pub(crate) fn channel(&self, id: u64) -> Option<&ChannelRec> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The user's effective guild permissions (own bits | their roles' bits; ADMINISTRATOR
    /// expands to every permission, as Discord sends it).
    pub(crate) fn member_permissions(&self, user: &UserRec) -> u64 {
        let mut bits = user.permissions;
        for role in &self.roles {
            if user.roles.contains(&role.id) {
                bits |= role.permissions;
            }
        }
        perms::expand_admin(bits)
    }

    pub(crate) fn bot_channel_permissions(&self, channel_id: u64) -> u64 {
        self.channel(channel_id)
            .map(|c| perms::expand_admin(c.bot_permissions))
            .unwrap_or(0)
    }

    /// Queue a dispatch on the bot's session (if one is identified and has the intent).
    /// Returns whether it was sent.
    pub(crate) fn dispatch(&mut self, t: &str, d: Value, intent: Option<u64>) -> bool {
        let Some(session) = self.session.as_mut() else {
            return self.dispatch_detached(t, d, intent);
        };
        if let Some(intent) = intent {
            if session.intents & intent == 0 {
                return false;
            }
        }
        session.seq += 1;
        let seq = session.seq;
        let frame = json!({"op": 0, "s": seq, "t": t, "d": d}).to_string();
        self.outage.sent(seq, t, &frame);
        if session.tx.send(Out::Text(frame)).is_err() {
            return false;
        }
        self.dispatched.push((seq, t.to_string()));
        true
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| self.open_conns.contains_key(&s.conn_id))
    }

    pub(crate) fn record_call(&mut self, call: Call) {
        self.calls.push(call);
    }

    pub(crate) fn visible_message(&self, channel_id: u64, message_id: u64) -> Option<&MessageRec> {
        self.messages
            .get(&message_id)
            .filter(|m| m.channel_id == channel_id && !m.deleted && !m.ephemeral())
    }

    pub(crate) fn insert_message(&mut self, msg: MessageRec) {
        let (id, channel) = (msg.id, msg.channel_id);
        if !msg.ephemeral() {
            self.channel_messages.entry(channel).or_default().push(id);
            if let Some(c) = self.channels.iter_mut().find(|c| c.id == channel) {
                c.last_message_id = Some(id);
            }
        }
        self.messages.insert(id, msg);
    }

    /// Add (`added`) or remove `user_id`'s reaction in the state only, without any dispatch.
    /// Returns the message's author when something changed, `None` when it was a no-op
    /// (adding a reaction the user has, removing one they do not have).
    pub(crate) fn change_reaction(
        &mut self,
        channel_id: u64,
        message_id: u64,
        emoji: &str,
        user_id: u64,
        added: bool,
    ) -> Result<Option<u64>, ReactError> {
        let limit = self.config.max_reactions_per_message;
        let msg = self
            .messages
            .get_mut(&message_id)
            .filter(|m| m.channel_id == channel_id && !m.deleted && !m.ephemeral())
            .ok_or(ReactError::UnknownMessage)?;
        let author = msg.author_id;
        let pos = msg.reactions.iter().position(|(e, _)| e == emoji);
        if added {
            match pos {
                Some(pos) => {
                    let users = &mut msg.reactions[pos].1;
                    if users.contains(&user_id) {
                        return Ok(None);
                    }
                    users.push(user_id);
                }
                None => {
                    if msg.reactions.len() >= limit {
                        return Err(ReactError::MaxReactions);
                    }
                    msg.reactions.push((emoji.to_string(), vec![user_id]));
                }
            }
        } else {
            let Some(pos) = pos else {
                return Ok(None);
            };
            let users = &mut msg.reactions[pos].1;
            let Some(upos) = users.iter().position(|u| *u == user_id) else {
                return Ok(None);
            };
            users.remove(upos);
            if users.is_empty() {
                msg.reactions.remove(pos);
            }
        }
        Ok(Some(author))
    }

    /// Add `user_id`'s reaction; dispatches MESSAGE_REACTION_ADD when something changed.
    pub(crate) fn add_reaction(
        &mut self,
        channel_id: u64,
        message_id: u64,
        emoji: &str,
        user_id: u64,
    ) -> Result<bool, ReactError> {
        let Some(author) = self.change_reaction(channel_id, message_id, emoji, user_id, true)?
        else {
            return Ok(false);
        };
        let member = self
            .users
            .get(&user_id)
            .map(|u| payloads::member(self, u, false));
        let mut d = json!({
            "user_id": user_id.to_string(),
            "type": 0,
            "message_id": message_id.to_string(),
            "message_author_id": author.to_string(),
            "emoji": payloads::emoji(emoji),
            "channel_id": channel_id.to_string(),
            "burst": false,
            "burst_colors": [],
            "guild_id": self.guild_id.to_string(),
        });
        if let Some(member) = member {
            d["member"] = member;
        }
        self.dispatch(
            "MESSAGE_REACTION_ADD",
            d,
            Some(intents::GUILD_MESSAGE_REACTIONS),
        );
        Ok(true)
    }

    /// Remove `user_id`'s reaction; dispatches MESSAGE_REACTION_REMOVE when something changed.
    pub(crate) fn remove_reaction(
        &mut self,
        channel_id: u64,
        message_id: u64,
        emoji: &str,
        user_id: u64,
    ) -> Result<bool, ReactError> {
        if self
            .change_reaction(channel_id, message_id, emoji, user_id, false)?
            .is_none()
        {
            return Ok(false);
        }
        let d = json!({
            "user_id": user_id.to_string(),
            "type": 0,
            "message_id": message_id.to_string(),
            "emoji": payloads::emoji(emoji),
            "channel_id": channel_id.to_string(),
            "burst": false,
            "guild_id": self.guild_id.to_string(),
        });
        self.dispatch(
            "MESSAGE_REACTION_REMOVE",
            d,
            Some(intents::GUILD_MESSAGE_REACTIONS),
        );
        Ok(true)
    }

    /// Remove all reactions (`emoji = None`) or all reactions of one emoji.
    pub(crate) fn clear_reactions(
        &mut self,
        channel_id: u64,
        message_id: u64,
        emoji: Option<&str>,
    ) -> Result<(), ReactError> {
        let msg = self
            .messages
            .get_mut(&message_id)
            .filter(|m| m.channel_id == channel_id && !m.deleted && !m.ephemeral())
            .ok_or(ReactError::UnknownMessage)?;
        let guild = self.guild_id.to_string();
        match emoji {
            None => {
                if msg.reactions.is_empty() {
                    return Ok(());
                }
                msg.reactions.clear();
                let d = json!({
                    "message_id": message_id.to_string(),
                    "channel_id": channel_id.to_string(),
                    "guild_id": guild,
                });
                self.dispatch(
                    "MESSAGE_REACTION_REMOVE_ALL",
                    d,
                    Some(intents::GUILD_MESSAGE_REACTIONS),
                );
            }
            Some(emoji) => {
                let before = msg.reactions.len();
                msg.reactions.retain(|(e, _)| e != emoji);
                if msg.reactions.len() == before {
                    return Ok(());
                }
                let d = json!({
                    "message_id": message_id.to_string(),
                    "channel_id": channel_id.to_string(),
                    "guild_id": guild,
                    "emoji": payloads::emoji(emoji),
                });
                self.dispatch(
                    "MESSAGE_REACTION_REMOVE_EMOJI",
                    d,
                    Some(intents::GUILD_MESSAGE_REACTIONS),
                );
            }
        }
        Ok(())
    }
}
