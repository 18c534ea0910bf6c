//! Load-test traffic: many reaction changes, or many slash commands, queued on the gateway at
//! once, each stamped with the wall-clock time its frame is handed to the bot's socket.
//!
//! [`Sim::react_bulk`] applies reaction changes to the state exactly like [`Sim::react`] and
//! [`Sim::unreact`] (a change that changes nothing is not dispatched, as on Discord), but in
//! chunks under one lock each, serialising every dispatch straight to its frame (each user's
//! member object once per call) and queueing a chunk as one batch on the connection. The
//! connection task writes the frames one by one, one websocket message each as Discord sends
//! them, and stamps each right after its write returned: that is when the event left the
//! server. [`Sim::commands_bulk`] does the same for INTERACTION_CREATE.
//!
//! Unlike [`Sim::react`], the bulk path does not check the members' permissions: load tests
//! act as ordinary members.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail};
use serde_json::Value;
use tokio::sync::Notify;

use super::state::{intents, Out, State};
use super::{normalize_emoji, payloads, prepare_interaction, Origin, Reply, Sim, SimUser};

/// Reactions per chunk: one lock and one queued batch each.
const CHUNK: usize = 256;

/// One reaction change for [`Sim::react_bulk`].
#[derive(Clone, Debug)]
pub struct BulkReaction {
    pub channel_id: u64,
    pub message_id: u64,
    pub user_id: u64,
    /// `🟩` or `name:id`.
    pub emoji: String,
    /// Added (MESSAGE_REACTION_ADD) or removed (MESSAGE_REACTION_REMOVE).
    pub added: bool,
}

/// One slash command for [`Sim::commands_bulk`].
#[derive(Clone, Debug)]
pub struct BulkCommand {
    pub channel_id: u64,
    pub user: SimUser,
    /// Space-separated path, as for [`Sim::command`].
    pub command: String,
    pub options: Value,
}

/// When each queued frame left the server (Unix nanoseconds; 0: not yet, or never sent).
#[derive(Debug)]
pub struct Stamps {
    at: Vec<AtomicU64>,
    /// Frames written plus items that were never going to be sent.
    done: AtomicUsize,
    notify: Notify,
}

impl Stamps {
    fn new(n: usize) -> Stamps {
        Stamps {
            at: (0..n).map(|_| AtomicU64::new(0)).collect(),
            done: AtomicUsize::new(0),
            notify: Notify::new(),
        }
    }

    /// Frame `index` is being handed to the socket now.
    pub(crate) fn mark(&self, index: usize) {
        self.at[index].store(unix_nanos(), Ordering::Release);
        self.finish_one();
    }

    /// Item `index` is not sent (it changed nothing).
    fn skip(&self) {
        self.finish_one();
    }

    fn finish_one(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.at.len() {
            self.notify.notify_waiters();
        }
    }
}

/// The frames queued by one bulk call; see [`BulkSend::wait_sent`] and [`BulkSend::stamps`].
pub struct BulkSend {
    stamps: Arc<Stamps>,
    /// Indices of the items that changed nothing and were not dispatched.
    pub skipped: Vec<usize>,
}

impl BulkSend {
    /// Number of items in the call (sent or skipped).
    pub fn len(&self) -> usize {
        self.stamps.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stamps.at.is_empty()
    }

    /// Wait until every frame has been written to the socket.
    pub async fn wait_sent(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.stamps.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let done = self.stamps.done.load(Ordering::Acquire);
            if done >= self.len() {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!(
                    "only {done} of {} frames sent within {timeout:?}",
                    self.len()
                );
            }
        }
    }

    /// Per item (in call order): when its frame left the server, in Unix nanoseconds; 0 for
    /// an item not (yet) sent.
    pub fn stamps(&self) -> Vec<u64> {
        self.stamps
            .at
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .collect()
    }
}

pub(crate) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Serialise a dispatch frame with the session's next sequence number and record it.
fn frame(st: &mut State, t: &str, d: &str) -> anyhow::Result<String> {
    let session = st
        .session
        .as_mut()
        .ok_or_else(|| anyhow!("no bot is connected to the gateway"))?;
    session.seq += 1;
    let seq = session.seq;
    st.dispatched.push((seq, t.to_string()));
    let frame = format!(r#"{{"op":0,"s":{seq},"t":"{t}","d":{d}}}"#);
    // Kept for a resume like every other dispatch (see `outage.rs`).
    st.outage.sent(seq, t, &frame);
    Ok(frame)
}

fn queue(st: &State, frames: Vec<(usize, String)>, stamps: &Arc<Stamps>) -> anyhow::Result<()> {
    if frames.is_empty() {
        return Ok(());
    }
    let session = st
        .session
        .as_ref()
        .ok_or_else(|| anyhow!("no bot is connected to the gateway"))?;
    session
        .tx
        .send(Out::Batch {
            frames,
            stamps: stamps.clone(),
        })
        .map_err(|_| anyhow!("the bot's gateway connection is gone"))
}

impl Sim {
    /// Apply many reaction changes and queue their MESSAGE_REACTION_ADD/REMOVE dispatches, in
    /// order, as fast as possible (see the module doc). Returns once everything is queued;
    /// [`BulkSend::stamps`] tells when each event left the server. A change that changes
    /// nothing (adding a reaction the user has, removing one they do not) is not dispatched
    /// and listed in [`BulkSend::skipped`]. Users must exist ([`Sim::user`]).
    pub fn react_bulk(&self, events: &[BulkReaction]) -> anyhow::Result<BulkSend> {
        let stamps = Arc::new(Stamps::new(events.len()));
        let mut skipped = Vec::new();
        let mut members: HashMap<u64, String> = HashMap::new();
        let mut emojis: HashMap<String, (String, String)> = HashMap::new();
        for (c, chunk) in events.chunks(CHUNK).enumerate() {
            let mut st = self.lock();
            if !st.is_connected() {
                bail!("no bot is connected to the gateway");
            }
            let subscribed = st
                .session
                .as_ref()
                .is_some_and(|s| s.intents & intents::GUILD_MESSAGE_REACTIONS != 0);
            if !subscribed {
                bail!("the bot's session has no GUILD_MESSAGE_REACTIONS intent");
            }
            let guild = st.guild_id;
            let mut frames = Vec::with_capacity(chunk.len());
            for (j, e) in chunk.iter().enumerate() {
                let index = c * CHUNK + j;
                if !emojis.contains_key(&e.emoji) {
                    let key = normalize_emoji(&e.emoji)?;
                    let json = payloads::emoji(&key).to_string();
                    emojis.insert(e.emoji.clone(), (key, json));
                }
                let (key, emoji) = &emojis[&e.emoji];
                let changed = st
                    .change_reaction(e.channel_id, e.message_id, key, e.user_id, e.added)
                    .map_err(|err| anyhow!("reaction on {}: {err:?}", e.message_id))?;
                let Some(author) = changed else {
                    skipped.push(index);
                    stamps.skip();
                    continue;
                };
                let (user, message, channel) = (e.user_id, e.message_id, e.channel_id);
                let d = if e.added {
                    let member = members.entry(user).or_insert_with(|| {
                        st.users
                            .get(&user)
                            .map(|u| payloads::member(&st, u, false).to_string())
                            .unwrap_or_default()
                    });
                    let member = match member.as_str() {
                        "" => String::new(),
                        m => format!(r#","member":{m}"#),
                    };
                    format!(
                        r#"{{"user_id":"{user}","type":0,"message_id":"{message}","message_author_id":"{author}","emoji":{emoji},"channel_id":"{channel}","burst":false,"burst_colors":[],"guild_id":"{guild}"{member}}}"#
                    )
                } else {
                    format!(
                        r#"{{"user_id":"{user}","type":0,"message_id":"{message}","emoji":{emoji},"channel_id":"{channel}","burst":false,"guild_id":"{guild}"}}"#
                    )
                };
                let t = if e.added {
                    "MESSAGE_REACTION_ADD"
                } else {
                    "MESSAGE_REACTION_REMOVE"
                };
                frames.push((index, frame(&mut st, t, &d)?));
            }
            queue(&st, frames, &stamps)?;
        }
        self.shared().notify();
        Ok(BulkSend { stamps, skipped })
    }

    /// Send many slash commands at once: every interaction is checked and recorded as by
    /// [`Sim::command`], then all INTERACTION_CREATE frames are queued together. Returns the
    /// interaction ids (in order) and when each frame left the server; get the answers with
    /// [`Sim::answer`] and the arrival of the first callback with [`Sim::first_callback_at`].
    pub fn commands_bulk(&self, commands: &[BulkCommand]) -> anyhow::Result<(Vec<u64>, BulkSend)> {
        let stamps = Arc::new(Stamps::new(commands.len()));
        let mut st = self.lock();
        let mut prepared = Vec::with_capacity(commands.len());
        for c in commands {
            prepared.push(prepare_interaction(
                &mut st,
                Origin::Guild,
                2,
                c.channel_id,
                &c.user,
                &c.command,
                &c.options,
                None,
            )?);
        }
        let mut ids = Vec::with_capacity(prepared.len());
        let mut frames = Vec::with_capacity(prepared.len());
        for (index, (id, payload)) in prepared.into_iter().enumerate() {
            frames.push((
                index,
                frame(&mut st, "INTERACTION_CREATE", &payload.to_string())?,
            ));
            ids.push(id);
        }
        let now = std::time::Instant::now();
        for id in &ids {
            if let Some(r) = st.interactions.get_mut(id) {
                r.dispatched_at = now;
            }
        }
        queue(&st, frames, &stamps)?;
        drop(st);
        self.shared().notify();
        Ok((
            ids,
            BulkSend {
                stamps,
                skipped: Vec::new(),
            },
        ))
    }

    /// The final answer to command interaction `id` (sent with [`Sim::commands_bulk`]), as
    /// [`Sim::command`] returns it: waits up to Discord's 3 s for the first callback, then up
    /// to `defer_timeout` for the edit after a deferral.
    pub async fn answer(
        &self,
        interaction_id: u64,
        defer_timeout: Duration,
    ) -> anyhow::Result<Reply> {
        let name = self
            .lock()
            .interactions
            .get(&interaction_id)
            .map(|r| r.command_name.clone())
            .ok_or_else(|| anyhow!("unknown interaction {interaction_id}"))?;
        self.final_answer(interaction_id, &name, defer_timeout)
            .await
    }

    /// When the first callback (`POST /interactions/{id}/{token}/callback`) of an interaction
    /// arrived at the server, whatever its outcome; `None` if none came yet.
    pub fn first_callback_at(&self, interaction_id: u64) -> Option<SystemTime> {
        let prefix = format!("/api/v10/interactions/{interaction_id}/");
        self.lock()
            .calls
            .iter()
            .filter(|c| {
                c.method == "POST" && c.path.starts_with(&prefix) && c.path.ends_with("/callback")
            })
            .map(|c| c.at)
            .min()
    }

    /// A member posts a plain message in a channel (no gateway event: the bot asks for no
    /// message intents). Returns its id.
    pub fn post_as(&self, channel_id: u64, user: &SimUser, content: &str) -> anyhow::Result<u64> {
        let mut st = self.lock();
        if st.channel(channel_id).is_none() {
            bail!("unknown channel {channel_id}");
        }
        super::sync_user(&mut st, user);
        let mut msg = super::messages::blank(&mut st, channel_id);
        msg.author_id = user.id;
        msg.content = content.to_string();
        let id = msg.id;
        st.insert_message(msg);
        drop(st);
        self.shared().notify();
        Ok(id)
    }
}
