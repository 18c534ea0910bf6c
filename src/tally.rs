//! The vote pipeline: reaction events in gateway order → voter states → group commit.
//!
//! One task owns the votes of every open round. Everything that changes them arrives on one
//! queue, in order: reactions (forwarded synchronously, in gateway order, by the Discord layer),
//! rounds being opened, reconciliations with Discord's reaction lists, and closes. Because a
//! single task applies them one after another, two reactions of one person are never applied
//! out of order, and a close sees exactly the reactions queued before it.
//!
//! The task takes whatever is queued (up to [`MAX_BATCH`]), applies it in memory, then writes
//! all changed voter states with one flush ([`Store::apply_votes`]): durability costs one
//! fsync per batch, not per vote. A vote counts once that flush returned.
//!
//! Reconciling with Discord's reaction lists is done in two steps so that the lists are never
//! applied to a state newer than they are: [`TallyHandle::hold`] is queued *before* the lists
//! are fetched; reactions of that round queued after it are held back; then
//! [`TallyHandle::resync`] (the round stays open) or [`TallyHandle::close`] applies the lists
//! to the state as of the hold and replays what was held. Replaying a reaction the lists
//! already show changes nothing but its order, which the replay gets right. (Applying lists
//! read earlier to a later state would mistake a colour removed in between for one added.)
//!
//! Raw user ids live only in memory here: they are turned into pseudonyms before anything is
//! stored, and passed on (never stored) to the best-effort cleanup of superseded reactions.

use crate::domain::{
    Colour, OnlineCount, Presence, Reaction, Round, RoundId, RoundVotes, Timestamp, VoterState,
};
use crate::store::{Store, StoreError};
use crate::voter_key::{Pseudonym, VoterKey};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// The most queued messages applied in one batch (one flush).
pub const MAX_BATCH: usize = 4096;

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
    Reaction(RawReaction),
    Opened(Round),
    Hold(RoundId),
    Resync(RoundId, Option<ReactionLists>),
    Close {
        round: RoundId,
        lists: Option<ReactionLists>,
        at: Timestamp,
        reply: oneshot::Sender<Result<Round, StoreError>>,
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
}

impl TallyHandle {
    /// Start the vote task with the open rounds and voter states in `store`. Requests to remove
    /// superseded reactions go to `cleanup` when given (dropped when it is full: best effort).
    pub fn start(
        store: Store,
        key: VoterKey,
        cleanup: Option<mpsc::Sender<Cleanup>>,
    ) -> Result<TallyHandle, StoreError> {
        let mut task = Task {
            store,
            key,
            cleanup,
            bot_user_id: None,
            open: HashMap::new(),
            votes: HashMap::new(),
            held: HashMap::new(),
            unsaved: Vec::new(),
        };
        for round in task.store.open_rounds()? {
            let states = task.store.voter_states(round.id)?;
            task.open.insert(round.message_id, round.id);
            task.votes.insert(round.id, RoundVotes::from_states(states));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(task.run(rx));
        Ok(TallyHandle { tx })
    }

    /// The bot's own user id: its reactions never count.
    pub fn ready(&self, bot_user_id: u64) {
        let _ = self.tx.send(Msg::Ready { bot_user_id });
    }

    /// Queue a reaction event. Call in gateway order (it is applied in the order queued).
    pub fn reaction(&self, reaction: RawReaction) {
        let _ = self.tx.send(Msg::Reaction(reaction));
    }

    /// A round was stored as open: its reactions count from now on.
    pub fn opened(&self, round: Round) {
        let _ = self.tx.send(Msg::Opened(round));
    }

    /// Hold back the round's reactions until [`TallyHandle::resync`]; queue this before
    /// fetching the reaction lists.
    pub fn hold(&self, round: RoundId) {
        let _ = self.tx.send(Msg::Hold(round));
    }

    /// Apply the reaction lists fetched after [`TallyHandle::hold`] (or nothing, when fetching
    /// failed), then the reactions held back.
    pub fn resync(&self, round: RoundId, lists: Option<ReactionLists>) {
        let _ = self.tx.send(Msg::Resync(round, lists));
    }

    /// Close a round: apply the reaction lists (fetched after [`TallyHandle::hold`]; `None`
    /// when Discord could not be asked: the known states count) and the reactions held since,
    /// then store the result. Reactions queued after this do not count. Returns the closed
    /// round once it is durable.
    pub async fn close(
        &self,
        round: RoundId,
        lists: Option<ReactionLists>,
        at: Timestamp,
    ) -> Result<Round, TallyError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Close {
                round,
                lists,
                at,
                reply,
            })
            .map_err(|_| TallyError::Stopped)?;
        Ok(answer.await.map_err(|_| TallyError::Stopped)??)
    }

    /// The current online count of an open round (`None` when it is not open).
    pub async fn count(&self, round: RoundId) -> Result<Option<OnlineCount>, TallyError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Count(round, reply))
            .map_err(|_| TallyError::Stopped)?;
        answer.await.map_err(|_| TallyError::Stopped)
    }

    /// Is `cleanup.colour` still the older of the participant's two colours? (Checked just
    /// before removing it: they may have changed their mind again meanwhile.)
    pub async fn still_superseded(&self, cleanup: Cleanup) -> Result<bool, TallyError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Superseded(cleanup, reply))
            .map_err(|_| TallyError::Stopped)?;
        answer.await.map_err(|_| TallyError::Stopped)
    }

    /// Wait until everything queued before is applied and durable.
    pub async fn barrier(&self) -> Result<(), TallyError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Barrier(reply))
            .map_err(|_| TallyError::Stopped)?;
        answer.await.map_err(|_| TallyError::Stopped)
    }
}

struct Task {
    store: Store,
    key: VoterKey,
    cleanup: Option<mpsc::Sender<Cleanup>>,
    bot_user_id: Option<u64>,
    /// message id → open round
    open: HashMap<u64, RoundId>,
    votes: HashMap<RoundId, RoundVotes<Pseudonym>>,
    /// Reactions held back while a round is being reconciled.
    held: HashMap<RoundId, Vec<RawReaction>>,
    /// Voter states whose write failed; retried with the next batch.
    unsaved: Vec<(RoundId, Pseudonym, VoterState)>,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let mut changes = std::mem::take(&mut self.unsaved);
            let mut after_flush: Vec<oneshot::Sender<()>> = Vec::new();
            for msg in batch.drain(..) {
                match msg {
                    Msg::Ready { bot_user_id } => self.bot_user_id = Some(bot_user_id),
                    Msg::Reaction(reaction) => self.reaction(reaction, &mut changes),
                    Msg::Opened(round) => {
                        self.open.insert(round.message_id, round.id);
                        self.votes.entry(round.id).or_default();
                    }
                    Msg::Hold(round) => {
                        if self.votes.contains_key(&round) {
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
                        let _ = reply.send(self.votes.get(&round).map(RoundVotes::count));
                    }
                    Msg::Superseded(cleanup, reply) => {
                        let _ = reply.send(self.superseded(&cleanup));
                    }
                    Msg::Barrier(reply) => after_flush.push(reply),
                }
            }
            if let Err(err) = self.store.apply_votes(&changes).await {
                tracing::error!(
                    "could not store {} vote changes, retrying with the next batch: {err}",
                    changes.len()
                );
                self.unsaved = changes;
            }
            for reply in after_flush {
                let _ = reply.send(());
            }
        }
    }

    fn reaction(
        &mut self,
        reaction: RawReaction,
        changes: &mut Vec<(RoundId, Pseudonym, VoterState)>,
    ) {
        let Some(&round) = self.open.get(&reaction.message_id) else {
            return; // not a statement message, or its round is closed: does not count
        };
        if let Some(held) = self.held.get_mut(&round) {
            held.push(reaction);
            return;
        }
        let by_bot = reaction.user_is_bot || Some(reaction.user_id) == self.bot_user_id;
        let voter = self.key.pseudonym(reaction.user_id);
        let votes = self.votes.entry(round).or_default();
        let Some((voter, state)) = votes.apply(Reaction {
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
        let voter = self.key.pseudonym(cleanup.user_id);
        self.votes
            .get(round)
            .is_some_and(|votes| votes.state(&voter).superseded() == Some(cleanup.colour))
    }

    fn release(&mut self, round: RoundId, changes: &mut Vec<(RoundId, Pseudonym, VoterState)>) {
        for reaction in self.held.remove(&round).unwrap_or_default() {
            self.reaction(reaction, changes);
        }
    }

    fn reconcile(
        &mut self,
        round: RoundId,
        lists: &ReactionLists,
        changes: &mut Vec<(RoundId, Pseudonym, VoterState)>,
    ) {
        let mut present: HashMap<Pseudonym, Presence> = HashMap::new();
        for (colour, users) in [
            (Colour::Agree, &lists.agree),
            (Colour::Disagree, &lists.disagree),
        ] {
            for user in users {
                if user.bot || Some(user.id) == self.bot_user_id {
                    continue;
                }
                let entry = present.entry(self.key.pseudonym(user.id)).or_default();
                *entry = entry.with(colour);
            }
        }
        if let Some(votes) = self.votes.get_mut(&round) {
            for (voter, state) in votes.reconcile(&present) {
                changes.push((round, voter, state));
            }
        }
    }

    fn close(
        &mut self,
        round: RoundId,
        lists: Option<ReactionLists>,
        at: Timestamp,
        changes: &mut Vec<(RoundId, Pseudonym, VoterState)>,
    ) -> Result<Round, StoreError> {
        if !self.votes.contains_key(&round) {
            return match self.store.round(round)? {
                Some(closed) if !closed.is_open() => Err(StoreError::RoundClosed(round)),
                _ => Err(StoreError::NoSuchRound(round)),
            };
        }
        // The lists were read after the hold: apply them to the state as of the hold, then
        // what arrived since (see the module doc).
        if let Some(lists) = &lists {
            self.reconcile(round, lists, changes);
        }
        self.release(round, changes);
        let count = self
            .votes
            .get(&round)
            .map(RoundVotes::count)
            .unwrap_or_default();
        let closed = self.store.close_round(round, count, at)?;
        // Voter records of a closed round are gone; none may be written after the close.
        changes.retain(|(r, _, _)| *r != round);
        self.votes.remove(&round);
        self.open.retain(|_, r| *r != round);
        Ok(closed)
    }
}

#[cfg(test)]
mod tests;
