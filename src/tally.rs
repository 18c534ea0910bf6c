//! The vote pipeline: reaction events in gateway order → voter states → group commit.
//!
//! One task owns the votes of every open round. Everything that changes them arrives on one
//! queue, in order: reaction events (forwarded synchronously, in gateway order, by the Discord
//! layer), statements being posted and rounds opened, reconciliations with Discord's reaction
//! lists, and closes. Because a single task applies them one after another, two reactions of
//! one person are never applied out of order, and a close sees exactly the events queued
//! before it.
//!
//! The task takes whatever is queued (up to [`MAX_BATCH`]; when reactions are among it, after
//! letting more gather for [`COMMIT_WINDOW`]), applies it in memory, then writes all changed
//! voter states with one flush ([`Store::apply_votes`]): durability costs one fsync per batch,
//! not per vote. A vote counts once that flush returned.
//!
//! Reconciling with Discord's reaction lists is done in two steps so that the lists are never
//! applied to a state newer than they are: [`TallyHandle::hold`] is queued *before* the lists
//! are fetched; events of that round queued after it are held back; then
//! [`TallyHandle::resync`] (the round stays open) or [`TallyHandle::close`] applies the lists
//! to the state as of the hold and replays what was held. Replaying a reaction the lists
//! already show changes nothing but its order, which the replay gets right. (Applying lists
//! read earlier to a later state would mistake a colour removed in between for one added.)
//!
//! Reactions can come before the bot knows the message is a statement (a participant taps
//! while the round is still being recorded): [`TallyHandle::posting`] is queued before the
//! message is posted, and events on unknown messages of that channel are kept until
//! [`TallyHandle::opened`] says which message it was.
//!
//! **Durability log (opt-in, for benchmarks).** With `STEMKAART_DURABLE_LOG=<file>` set, the
//! task appends a line `<unix-nanos> <events-durable>` to that file after every group commit
//! that made events durable: the first `events-durable` vote events it was given
//! ([`TallyHandle::reaction`] and [`TallyHandle::event`] calls, i.e. every reaction event the
//! Discord layer forwarded, in gateway order, whether it changed a vote or not) are applied and
//! on disk as of `unix-nanos` (wall clock, taken after the flush returned). A line is written
//! only when no event is held back (by a reconciliation or a statement being posted), so every
//! counted event has really been applied. No ids of any kind go into the file. See
//! `benches/ingest.rs`.
//!
//! Raw user ids live only in memory here: they are turned into pseudonyms (with the round's
//! secret, see [`crate::round_keys`]) before anything is stored, and passed on, never stored,
//! to the best-effort cleanup of superseded reactions.

use crate::domain::{
    Colour, OnlineCount, Presence, Reaction, Round, RoundId, RoundVotes, Timestamp, VoterState,
};
use crate::round_keys::{RoundKeyError, RoundKeys, RoundSecret};
use crate::store::{Store, StoreError};
use crate::voter_key::{Pseudonym, VoterKey};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most queued messages applied in one batch (one flush).
pub const MAX_BATCH: usize = 4096;

/// How long the task lets reaction events gather once one has arrived, before it applies the
/// batch and flushes. Under a stream of reactions the bot otherwise flushed every handful of
/// events, and the flushes, not the votes, took the time: with the window, 100 000 events cost
/// some hundreds of flushes instead of about ten thousand, the bot keeps up better and the
/// latency to durable went down, not up (`cargo bench --bench ingest`, BENCHMARKS.md). A lone
/// vote is durable about a millisecond later. Batches of commands alone do not wait.
pub const COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(1);

/// The variable naming the durability log file (see the module doc).
pub const DURABLE_LOG_ENV: &str = "STEMKAART_DURABLE_LOG";

/// A reaction event as it came from the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawReaction {
    pub channel_id: u64,
    pub message_id: u64,
    pub user_id: u64,
    /// From the event's member object; `false` when the event has none (removals).
    pub user_is_bot: bool,
    /// The emoji's name: "🟩", "🟥", or anything else (ignored).
    pub emoji: String,
    pub added: bool,
}

/// A gateway event that changes votes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoteEvent {
    Reaction(RawReaction),
    /// Someone removed all reactions of the message (`emoji: None`) or all of one emoji.
    Cleared {
        channel_id: u64,
        message_id: u64,
        emoji: Option<String>,
    },
}

impl VoteEvent {
    fn channel_id(&self) -> u64 {
        match self {
            VoteEvent::Reaction(r) => r.channel_id,
            VoteEvent::Cleared { channel_id, .. } => *channel_id,
        }
    }

    fn message_id(&self) -> u64 {
        match self {
            VoteEvent::Reaction(r) => r.message_id,
            VoteEvent::Cleared { message_id, .. } => *message_id,
        }
    }
}

/// One user in a reaction list (`GET .../reactions/{emoji}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedUser {
    pub id: u64,
    pub bot: bool,
}

/// Discord's reaction lists of a statement message: who has 🟩 and who has 🟥 on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReactionLists {
    pub agree: Vec<ListedUser>,
    pub disagree: Vec<ListedUser>,
}

/// Ask the Discord layer to remove a participant's older colour (best effort).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cleanup {
    pub channel_id: u64,
    pub message_id: u64,
    pub user_id: u64,
    pub colour: Colour,
}

enum Msg {
    Ready {
        bot_user_id: u64,
    },
    Event(VoteEvent),
    Posting {
        channel_id: u64,
    },
    PostFailed {
        channel_id: u64,
    },
    Opened(Round),
    Hold(RoundId),
    Resync(RoundId, Option<ReactionLists>),
    Close {
        round: RoundId,
        lists: Option<ReactionLists>,
        at: Timestamp,
        reply: oneshot::Sender<Result<Round, TallyError>>,
    },
    Count(RoundId, oneshot::Sender<Option<OnlineCount>>),
    Superseded(Cleanup, oneshot::Sender<bool>),
    Barrier(oneshot::Sender<()>),
}

/// Sends work to the vote task; cheap to clone. Sending never blocks.
#[derive(Clone)]
pub struct TallyHandle {
    tx: mpsc::UnboundedSender<Msg>,
}

#[derive(Debug, thiserror::Error)]
pub enum TallyError {
    #[error("the vote task has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    RoundKeys(#[from] RoundKeyError),
    #[error("cannot open the durability log {path}: {source}")]
    DurableLog {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The opt-in durability log: `<unix-nanos> <events-durable>` lines (see the module doc).
struct DurableLog {
    file: std::io::BufWriter<std::fs::File>,
    last: u64,
}

impl DurableLog {
    fn open(path: &std::path::Path) -> std::io::Result<DurableLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(DurableLog {
            file: std::io::BufWriter::new(file),
            last: 0,
        })
    }

    /// Note that the first `events` events are durable now (nothing when none are new).
    fn durable(&mut self, events: u64) {
        use std::io::Write;
        if events == self.last {
            return;
        }
        self.last = events;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let written = writeln!(self.file, "{nanos} {events}").and_then(|()| self.file.flush());
        if let Err(err) = written {
            tracing::warn!("could not write the durability log: {err}");
        }
    }
}

impl TallyHandle {
    /// Start the vote task with the open rounds and voter states in `store`, and their
    /// secrets in `round_keys`. Requests to remove superseded reactions go to `cleanup` when
    /// given (dropped when it is full: best effort).
    pub fn start(
        store: Store,
        key: VoterKey,
        round_keys: Arc<RoundKeys>,
        cleanup: Option<mpsc::Sender<Cleanup>>,
    ) -> Result<TallyHandle, TallyError> {
        Self::start_logged(store, key, round_keys, cleanup, None)
    }

    /// [`TallyHandle::start`], appending `<unix-nanos> <events-durable>` lines to
    /// `durable_log` after each group commit (see the module doc). The file is created or
    /// appended to.
    pub fn start_logged(
        store: Store,
        key: VoterKey,
        round_keys: Arc<RoundKeys>,
        cleanup: Option<mpsc::Sender<Cleanup>>,
        durable_log: Option<&std::path::Path>,
    ) -> Result<TallyHandle, TallyError> {
        let durable_log = match durable_log {
            Some(path) => {
                Some(
                    DurableLog::open(path).map_err(|source| TallyError::DurableLog {
                        path: path.to_path_buf(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let mut task = Task {
            durable_log,
            events_received: 0,
            store,
            key,
            round_keys,
            cleanup,
            bot_user_id: None,
            open: HashMap::new(),
            rounds: HashMap::new(),
            held: HashMap::new(),
            posting: HashMap::new(),
            unsaved: Vec::new(),
            retrying: false,
        };
        let open = task.store.open_rounds()?;
        let ids: Vec<u64> = open.iter().map(|r| r.id.0).collect();
        task.round_keys.forget(&[], Some(&ids))?;
        for round in open {
            let had_secret = task.round_keys.rounds().contains(&round.id.0);
            let secret = task.round_keys.get_or_create(round.id.0)?;
            // Without its secret, a round's stored states belong to nobody we can recognise:
            // start from nothing; the reconciliation on ready reads presence from Discord.
            let states = if had_secret {
                task.store.voter_states(round.id)?
            } else {
                Vec::new()
            };
            task.open.insert(round.message_id, round.id);
            task.rounds.insert(round.id, OpenRound::new(secret, states));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(task.run(rx));
        Ok(TallyHandle { tx })
    }

    fn send(&self, msg: Msg) {
        let _ = self.tx.send(msg);
    }

    /// The bot's own user id: its reactions never count.
    pub fn ready(&self, bot_user_id: u64) {
        self.send(Msg::Ready { bot_user_id });
    }

    /// Queue a reaction event. Call in gateway order (events are applied in the order queued).
    pub fn reaction(&self, reaction: RawReaction) {
        self.send(Msg::Event(VoteEvent::Reaction(reaction)));
    }

    /// Queue a gateway event that changes votes, in gateway order.
    pub fn event(&self, event: VoteEvent) {
        self.send(Msg::Event(event));
    }

    /// A statement is about to be posted in `channel`: keep events on messages of that channel
    /// the task does not know yet, until [`TallyHandle::opened`] or
    /// [`TallyHandle::post_failed`].
    pub fn posting(&self, channel_id: u64) {
        self.send(Msg::Posting { channel_id });
    }

    /// Posting in `channel` failed: drop what was kept for it.
    pub fn post_failed(&self, channel_id: u64) {
        self.send(Msg::PostFailed { channel_id });
    }

    /// A round was stored as open: its reactions count from now on, including those kept
    /// since [`TallyHandle::posting`].
    pub fn opened(&self, round: Round) {
        self.send(Msg::Opened(round));
    }

    /// Hold back the round's events until [`TallyHandle::resync`] or [`TallyHandle::close`];
    /// queue this before fetching the reaction lists.
    pub fn hold(&self, round: RoundId) {
        self.send(Msg::Hold(round));
    }

    /// Apply the reaction lists fetched after [`TallyHandle::hold`] (or nothing, when fetching
    /// failed), then the events held back.
    pub fn resync(&self, round: RoundId, lists: Option<ReactionLists>) {
        self.send(Msg::Resync(round, lists));
    }

    /// Close a round: apply the reaction lists (fetched after [`TallyHandle::hold`]; `None`
    /// when Discord could not be asked: the known states count) and the events held since,
    /// then store the result and forget the round's secret. Events queued after this do not
    /// count. Returns the closed round once it is durable.
    pub async fn close(
        &self,
        round: RoundId,
        lists: Option<ReactionLists>,
        at: Timestamp,
    ) -> Result<Round, TallyError> {
        let (reply, answer) = oneshot::channel();
        self.send(Msg::Close {
            round,
            lists,
            at,
            reply,
        });
        answer.await.map_err(|_| TallyError::Stopped)?
    }

    /// The current online count of an open round (`None` when it is not open).
    pub async fn count(&self, round: RoundId) -> Result<Option<OnlineCount>, TallyError> {
        let (reply, answer) = oneshot::channel();
        self.send(Msg::Count(round, reply));
        answer.await.map_err(|_| TallyError::Stopped)
    }

    /// Is `cleanup.colour` still the older of the participant's two colours? (Checked just
    /// before removing it: they may have changed their mind again meanwhile.) Always `false`
    /// while the round is held: what is held may already have changed it.
    pub async fn still_superseded(&self, cleanup: Cleanup) -> Result<bool, TallyError> {
        let (reply, answer) = oneshot::channel();
        self.send(Msg::Superseded(cleanup, reply));
        answer.await.map_err(|_| TallyError::Stopped)
    }

    /// Wait until everything queued before is applied and durable.
    pub async fn barrier(&self) -> Result<(), TallyError> {
        let (reply, answer) = oneshot::channel();
        self.send(Msg::Barrier(reply));
        answer.await.map_err(|_| TallyError::Stopped)
    }
}

/// What the task keeps of an open round.
struct OpenRound {
    secret: RoundSecret,
    votes: RoundVotes<Pseudonym>,
}

impl OpenRound {
    fn new(secret: RoundSecret, states: Vec<(Pseudonym, VoterState)>) -> OpenRound {
        OpenRound {
            secret,
            votes: RoundVotes::from_states(states),
        }
    }
}

type Changes = Vec<(RoundId, Pseudonym, VoterState)>;

/// Only each voter's latest state, in the order of those: what waits for a write that failed
/// must not grow with every reaction while the disk stays full.
fn latest_only(changes: Changes) -> Changes {
    let mut seen = std::collections::HashSet::new();
    let mut latest: Changes = changes
        .into_iter()
        .rev()
        .filter(|(round, voter, _)| seen.insert((*round, *voter)))
        .collect();
    latest.reverse();
    latest
}

struct Task {
    /// The opt-in durability log, and how many vote events were received so far.
    durable_log: Option<DurableLog>,
    events_received: u64,
    store: Store,
    key: VoterKey,
    round_keys: Arc<RoundKeys>,
    cleanup: Option<mpsc::Sender<Cleanup>>,
    bot_user_id: Option<u64>,
    /// message id → open round
    open: HashMap<u64, RoundId>,
    rounds: HashMap<RoundId, OpenRound>,
    /// Events held back while a round is being reconciled.
    held: HashMap<RoundId, Vec<VoteEvent>>,
    /// Events on not-yet-known messages of channels where a statement is being posted.
    posting: HashMap<u64, Vec<VoteEvent>>,
    /// Voter states whose write failed; retried with the next batch.
    unsaved: Changes,
    /// This batch retries states whose write failed before.
    retrying: bool,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            self.retrying = !self.unsaved.is_empty();
            if batch.len() < MAX_BATCH && batch.iter().any(|m| matches!(m, Msg::Event(_))) {
                // Let a stream of reactions gather: one flush per window, not per handful.
                tokio::time::sleep(COMMIT_WINDOW).await;
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(msg) => batch.push(msg),
                        Err(_) => break,
                    }
                }
            }
            let mut changes = std::mem::take(&mut self.unsaved);
            let mut after_flush: Vec<oneshot::Sender<()>> = Vec::new();
            for msg in batch.drain(..) {
                match msg {
                    Msg::Ready { bot_user_id } => self.bot_user_id = Some(bot_user_id),
                    Msg::Event(event) => {
                        self.events_received += 1;
                        self.event(event, &mut changes)
                    }
                    Msg::Posting { channel_id } => {
                        self.posting.entry(channel_id).or_default();
                    }
                    Msg::PostFailed { channel_id } => {
                        self.posting.remove(&channel_id);
                    }
                    Msg::Opened(round) => self.opened(round, &mut changes),
                    Msg::Hold(round) => {
                        if self.rounds.contains_key(&round) {
                            self.held.entry(round).or_default();
                        }
                    }
                    Msg::Resync(round, lists) => {
                        if let Some(lists) = lists {
                            self.reconcile(round, &lists, &mut changes);
                        }
                        self.release(round, &mut changes);
                    }
                    Msg::Close {
                        round,
                        lists,
                        at,
                        reply,
                    } => {
                        let closed = self.close(round, lists, at, &mut changes);
                        let _ = reply.send(closed);
                    }
                    Msg::Count(round, reply) => {
                        let count = self.rounds.get(&round).map(|r| r.votes.count());
                        let _ = reply.send(count);
                    }
                    Msg::Superseded(cleanup, reply) => {
                        let _ = reply.send(self.superseded(&cleanup));
                    }
                    Msg::Barrier(reply) => after_flush.push(reply),
                }
            }
            let waiting = self.retrying;
            match self.store.apply_votes(&changes).await {
                Ok(()) => {
                    if waiting {
                        tracing::info!("stored {} vote changes that had waited", changes.len());
                    }
                    self.log_durable();
                }
                // Once: the retries with every batch fail the same way until it is fixed.
                Err(err) if !waiting => {
                    tracing::error!(
                        "could not store {} vote changes, retrying with every batch: {err}",
                        changes.len()
                    );
                    self.unsaved = latest_only(changes);
                }
                Err(err) => {
                    tracing::debug!("{} vote changes still not stored: {err}", changes.len());
                    self.unsaved = latest_only(changes);
                }
            }
            for reply in after_flush {
                let _ = reply.send(());
            }
        }
    }

    /// With a durability log (benchmarks): the events received so far are on disk, unless
    /// some are held back (being reconciled or waiting for their round).
    fn log_durable(&mut self) {
        if self.durable_log.is_none() {
            return;
        }
        let nothing_held =
            self.held.values().all(Vec::is_empty) && self.posting.values().all(Vec::is_empty);
        if nothing_held {
            let received = self.events_received;
            if let Some(log) = self.durable_log.as_mut() {
                log.durable(received);
            }
        }
    }

    fn opened(&mut self, round: Round, changes: &mut Changes) {
        let kept = self.posting.remove(&round.channel_id).unwrap_or_default();
        let secret = match self.round_keys.get_or_create(round.id.0) {
            Ok(secret) => secret,
            Err(err) => {
                // Counting goes on in memory; the close reconciles with Discord either way.
                tracing::error!(
                    "{err}; votes of round {:?} are kept in memory only",
                    round.id
                );
                [0; 32]
            }
        };
        self.open.insert(round.message_id, round.id);
        self.rounds
            .entry(round.id)
            .or_insert_with(|| OpenRound::new(secret, Vec::new()));
        for event in kept {
            if event.message_id() == round.message_id {
                self.event(event, changes);
            }
        }
    }

    fn event(&mut self, event: VoteEvent, changes: &mut Changes) {
        let Some(&round) = self.open.get(&event.message_id()) else {
            if let Some(kept) = self.posting.get_mut(&event.channel_id()) {
                kept.push(event); // maybe the statement being posted
            }
            return; // not a statement message, or its round is closed: does not count
        };
        if let Some(held) = self.held.get_mut(&round) {
            held.push(event);
            return;
        }
        match event {
            VoteEvent::Reaction(reaction) => self.reaction(round, reaction, changes),
            VoteEvent::Cleared { emoji, .. } => {
                if let Some(open) = self.rounds.get_mut(&round) {
                    for (voter, state) in open.votes.clear(emoji.as_deref()) {
                        changes.push((round, voter, state));
                    }
                }
            }
        }
    }

    fn reaction(&mut self, round: RoundId, reaction: RawReaction, changes: &mut Changes) {
        let by_bot = reaction.user_is_bot || Some(reaction.user_id) == self.bot_user_id;
        let Some(open) = self.rounds.get_mut(&round) else {
            return;
        };
        let voter = self.key.pseudonym(&open.secret, reaction.user_id);
        let Some((voter, state)) = open.votes.apply(Reaction {
            voter,
            by_bot,
            emoji: reaction.emoji,
            added: reaction.added,
        }) else {
            return;
        };
        changes.push((round, voter, state));
        if let (Some(colour), Some(cleanup)) = (state.superseded(), &self.cleanup) {
            // Best effort and off the counting path: a full queue drops the request.
            let _ = cleanup.try_send(Cleanup {
                channel_id: reaction.channel_id,
                message_id: reaction.message_id,
                user_id: reaction.user_id,
                colour,
            });
        }
    }

    fn superseded(&self, cleanup: &Cleanup) -> bool {
        let Some(round) = self.open.get(&cleanup.message_id) else {
            return false;
        };
        if self.held.contains_key(round) {
            return false;
        }
        self.rounds.get(round).is_some_and(|open| {
            let voter = self.key.pseudonym(&open.secret, cleanup.user_id);
            open.votes.state(&voter).superseded() == Some(cleanup.colour)
        })
    }

    fn release(&mut self, round: RoundId, changes: &mut Changes) {
        for event in self.held.remove(&round).unwrap_or_default() {
            self.event(event, changes);
        }
    }

    fn reconcile(&mut self, round: RoundId, lists: &ReactionLists, changes: &mut Changes) {
        let Some(open) = self.rounds.get_mut(&round) else {
            return;
        };
        let mut present: HashMap<Pseudonym, Presence> = HashMap::new();
        for (colour, users) in [
            (Colour::Agree, &lists.agree),
            (Colour::Disagree, &lists.disagree),
        ] {
            for user in users {
                if user.bot || Some(user.id) == self.bot_user_id {
                    continue;
                }
                let entry = present
                    .entry(self.key.pseudonym(&open.secret, user.id))
                    .or_default();
                *entry = entry.with(colour);
            }
        }
        for (voter, state) in open.votes.reconcile(&present) {
            changes.push((round, voter, state));
        }
    }

    fn close(
        &mut self,
        round: RoundId,
        lists: Option<ReactionLists>,
        at: Timestamp,
        changes: &mut Changes,
    ) -> Result<Round, TallyError> {
        if !self.rounds.contains_key(&round) {
            return match self.store.round(round)? {
                Some(closed) if !closed.is_open() => Err(StoreError::RoundClosed(round).into()),
                _ => Err(StoreError::NoSuchRound(round).into()),
            };
        }
        // The lists were read after the hold: apply them to the state as of the hold, then
        // what arrived since (see the module doc).
        if let Some(lists) = &lists {
            self.reconcile(round, lists, changes);
        }
        self.release(round, changes);
        let count = self.rounds[&round].votes.count();
        let closed = self.store.close_round(round, count, at)?;
        // Voter records of a closed round are gone; none may be written after the close.
        changes.retain(|(r, _, _)| *r != round);
        self.rounds.remove(&round);
        self.open.retain(|_, r| *r != round);
        // Without its secret, whatever sled still holds of the round's voters is unlinkable.
        if let Err(err) = self.round_keys.forget(&[round.0], None) {
            // The result is stored; the secret goes with the sweep at the next start.
            tracing::error!("{err}");
        }
        Ok(closed)
    }
}

#[cfg(test)]
mod tests;
