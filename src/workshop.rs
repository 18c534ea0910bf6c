//! What a facilitator can do, as async operations over the store, the vote task and a
//! [`Chat`] (the few Discord calls the workshop needs). No serenity here: the Discord layer
//! implements [`Chat`] and turns the results into replies; tests use an in-memory chat.
//!
//! Operations on one channel run one at a time (a lock per channel), so two facilitators
//! pressing `/statement next` together cannot post two statements or close a round twice.

use crate::decks::{self, DeckSet, DecksError};
use crate::domain::session::{self, PostError, Tally};
use crate::domain::{Colour, Deck, Municipality, Round, Session, Timestamp};
use crate::store::{NewSession, PendingPost, Store, StoreError};
use crate::tally::{ListedUser, ReactionLists, TallyError, TallyHandle};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A refusal from Discord (or a Discord-compatible server), in words a facilitator can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct ChatError {
    /// Discord's answer in words (status, message, code).
    pub text: String,
    pub kind: ChatFailure,
}

/// What kind of refusal, for what to tell the facilitator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChatFailure {
    /// Any other refusal.
    #[default]
    Refused,
    /// Discord stayed rate limited or unavailable (429, 5xx) after the retries.
    Unavailable,
    /// The message is gone (deleted by someone): 404, code 10008.
    UnknownMessage,
    /// The bot lacks a permission in the channel: 403, code 50013 (or 50001, no access).
    MissingPermissions,
}

impl ChatError {
    pub fn new(kind: ChatFailure, text: impl Into<String>) -> ChatError {
        ChatError {
            text: text.into(),
            kind,
        }
    }
}

/// The Discord calls the workshop makes.
pub trait Chat: Send + Sync + 'static {
    /// Post a message; returns its id.
    fn post(
        &self,
        channel: u64,
        content: &str,
    ) -> impl Future<Output = std::result::Result<u64, ChatError>> + Send;
    /// Post a message at most once per `nonce` (Discord's `enforce_nonce`: a second post with
    /// the same nonce within minutes returns the first message); returns its id.
    fn post_once(
        &self,
        channel: u64,
        content: &str,
        nonce: &str,
    ) -> impl Future<Output = std::result::Result<u64, ChatError>> + Send {
        let _ = nonce;
        self.post(channel, content)
    }
    fn edit(
        &self,
        channel: u64,
        message: u64,
        content: &str,
    ) -> impl Future<Output = std::result::Result<(), ChatError>> + Send;
    /// Add the bot's own reaction.
    fn react(
        &self,
        channel: u64,
        message: u64,
        emoji: &str,
    ) -> impl Future<Output = std::result::Result<(), ChatError>> + Send;
    /// Everyone who reacted with `emoji` (all pages).
    fn reactions(
        &self,
        channel: u64,
        message: u64,
        emoji: &str,
    ) -> impl Future<Output = std::result::Result<Vec<ListedUser>, ChatError>> + Send;
}

/// Which statement to post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Next,
    Position(u32),
}

/// Everything that can stop an operation, each with what to do about it (see `messages`).
#[derive(Debug, thiserror::Error)]
pub enum WorkshopError {
    #[error("no session is open in this channel")]
    NoSession,
    #[error("a session is already open in this channel ({municipality})")]
    SessionOpen { municipality: String },
    #[error("invalid municipality: {0}")]
    Municipality(#[from] crate::domain::municipality::MunicipalityError),
    #[error("the label is longer than {max} characters")]
    LabelTooLong { max: usize },
    #[error("no deck `{id}`")]
    UnknownDeck {
        id: String,
        available: Vec<String>,
        problems: Vec<String>,
    },
    #[error(transparent)]
    Post(#[from] PostError),
    #[error("no statement is open")]
    NoOpenRound,
    #[error("no statement has been posted in this session yet")]
    NoRoundYet,
    #[error("no session has been held in this channel yet")]
    NoSessionInChannel,
    #[error("no statement of the session in {municipality} has closed yet")]
    NothingClosed { municipality: String },
    #[error(transparent)]
    Compare(#[from] crate::charts::data::CompareError),
    #[error("several decks have sessions; pick one: {}", .0.join(", "))]
    PickDeck(Vec<String>),
    #[error(transparent)]
    Chart(#[from] crate::charts::ChartError),
    #[error("Discord refused: {0}")]
    Chat(#[from] ChatError),
    /// Posting the statement failed after the open round was closed.
    #[error("Discord refused the statement: {error}")]
    PostFailed {
        closed: Option<Box<Closed>>,
        error: ChatError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Decks(#[from] DecksError),
    #[error(transparent)]
    Tally(#[from] TallyError),
}

pub type Result<T> = std::result::Result<T, WorkshopError>;

impl WorkshopError {
    /// The database cannot be written (a full disk, a read-only folder).
    pub fn cannot_write(&self) -> bool {
        matches!(
            self,
            WorkshopError::Store(StoreError::CannotWrite { .. })
                | WorkshopError::Tally(TallyError::Store(StoreError::CannotWrite { .. }))
        )
    }
}

/// A round that was just closed.
#[derive(Clone, Debug)]
pub struct Closed {
    pub round: Round,
    /// Why Discord's reaction lists could not be read at close, if they could not: the
    /// result then counts the reactions the bot saw.
    pub unchecked: Option<ChatError>,
}

/// A statement was posted (after closing the round that was open, if any).
#[derive(Clone, Debug)]
pub struct Posted {
    pub session: Session,
    pub round: Round,
    pub closed: Option<Closed>,
    /// The bot could not add its own 🟩/🟥 (participants can still react themselves).
    pub reactions_missing: Option<ChatError>,
}

/// A session ended.
#[derive(Clone, Debug)]
pub struct Ended {
    pub session: Session,
    pub closed: Option<Closed>,
    pub rounds: Vec<Round>,
}

/// The facilitator's operations; cheap to clone.
pub struct Workshop<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for Workshop<C> {
    fn clone(&self) -> Self {
        Workshop {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<C> {
    store: Store,
    tally: TallyHandle,
    chat: C,
    statements: PathBuf,
    // A std mutex: held only to look up or insert a channel's lock, never across an await.
    channels: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
}

pub const MAX_LABEL_CHARS: usize = 100;

/// The clock, read at the edge (the domain has time passed in).
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
}

impl<C: Chat> Workshop<C> {
    pub fn new(store: Store, tally: TallyHandle, chat: C, statements: PathBuf) -> Workshop<C> {
        Workshop {
            inner: Arc::new(Inner {
                store,
                tally,
                chat,
                statements,
                channels: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn tally(&self) -> &TallyHandle {
        &self.inner.tally
    }

    pub fn chat(&self) -> &C {
        &self.inner.chat
    }

    /// The decks as they are on disk now (decks can be edited while the bot runs).
    pub fn decks(&self) -> Result<DeckSet> {
        Ok(decks::load_folder(&self.inner.statements)?)
    }

    async fn lock(&self, channel: u64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut channels = self.inner.channels.lock().expect("channel locks poisoned");
            channels.entry(channel).or_default().clone()
        };
        lock.lock_owned().await
    }

    fn deck(&self, id: &str) -> Result<Deck> {
        find_deck(&self.decks()?, id)
    }

    fn open_session(&self, channel: u64) -> Result<Session> {
        self.inner
            .store
            .open_session(channel)?
            .ok_or(WorkshopError::NoSession)
    }

    // ----- checks: cheap, local, no Discord calls; run before deferring a reply ------------

    /// Refuses what would change the database while it cannot be written: nothing would be
    /// stored, so nothing may look done.
    fn check_writable(&self) -> Result<()> {
        match self.inner.store.write_failure() {
            Some(detail) => Err(WorkshopError::Store(StoreError::CannotWrite {
                path: self.inner.store.path().to_path_buf(),
                detail,
            })),
            None => Ok(()),
        }
    }

    /// Can a session start here with this municipality and deck?
    pub fn check_start(
        &self,
        channel: u64,
        municipality: &str,
        deck: &str,
        label: Option<&str>,
    ) -> Result<(Municipality, Deck)> {
        self.check_writable()?;
        if let Some(open) = self.inner.store.open_session(channel)? {
            return Err(WorkshopError::SessionOpen {
                municipality: open.municipality.to_string(),
            });
        }
        check_start_options(&self.decks()?, municipality, deck, label)
    }

    /// Which position would be posted, or why not.
    pub fn check_post(&self, channel: u64, which: Which) -> Result<(Session, Deck, u32)> {
        self.check_writable()?;
        let session = self.open_session(channel)?;
        let deck = self.deck(&session.deck_id)?;
        let rounds = self.inner.store.rounds_of(session.id)?;
        let position = match which {
            Which::Next => session::next_position(&deck, &rounds)?,
            Which::Position(p) => p,
        };
        session::check_post(&deck, &rounds, position)?;
        Ok((session, deck, position))
    }

    /// The open round of the channel's session.
    pub fn check_close(&self, channel: u64) -> Result<(Session, Round)> {
        self.check_writable()?;
        let session = self.open_session(channel)?;
        let round = self
            .inner
            .store
            .rounds_of(session.id)?
            .into_iter()
            .find(Round::is_open)
            .ok_or(WorkshopError::NoOpenRound)?;
        Ok((session, round))
    }

    /// The round a room count goes to: the open one, else the last closed one — of the
    /// channel's open session, or else of its latest (so the cards can still be typed right
    /// after `/session end`).
    pub fn check_room(&self, channel: u64) -> Result<(Session, Round)> {
        self.check_writable()?;
        let session = self
            .inner
            .store
            .current_or_latest_session(channel)?
            .ok_or(WorkshopError::NoSession)?;
        let rounds = self.inner.store.rounds_of(session.id)?;
        let round = session::room_target(&rounds)
            .cloned()
            .ok_or(WorkshopError::NoRoundYet)?;
        Ok((session, round))
    }

    pub fn check_end(&self, channel: u64) -> Result<Session> {
        self.check_writable()?;
        let session = self.open_session(channel)?;
        Ok(session)
    }

    // ----- operations -----------------------------------------------------------------------

    pub async fn start_session(
        &self,
        guild: u64,
        channel: u64,
        municipality: &str,
        deck: &str,
        label: Option<&str>,
        now: Timestamp,
    ) -> Result<(Session, Deck)> {
        let _guard = self.lock(channel).await;
        let (municipality, deck) = self.check_start(channel, municipality, deck, label)?;
        let session = self
            .inner
            .store
            .create_session(NewSession {
                municipality,
                label: label
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
                deck_id: deck.id.clone(),
                deck_title: deck.title.clone(),
                language: deck.language,
                guild_id: guild,
                channel_id: channel,
                started_at: now,
            })
            .map_err(|err| match err {
                StoreError::ChannelBusy { municipality, .. } => {
                    WorkshopError::SessionOpen { municipality }
                }
                other => other.into(),
            })?;
        Ok((session, deck))
    }

    /// Post a statement: close the open round first, post the message, record the round,
    /// add 🟩 and 🟥.
    pub async fn post_statement(
        &self,
        channel: u64,
        which: Which,
        now: Timestamp,
    ) -> Result<Posted> {
        let _guard = self.lock(channel).await;
        let (session, deck, position) = self.check_post(channel, which)?;
        let closed = match self.open_round_of(&session)? {
            Some(open) => Some(self.close_round(&session, open, now).await?),
            None => None,
        };
        let statement = deck
            .statement(position)
            .expect("position was checked")
            .clone();
        let content = crate::messages::statement_message(
            session.language,
            position,
            deck.len(),
            &statement.text,
        );
        // Remembered before it is sent: if the bot stops before the round is recorded, the
        // next ready completes the post (the nonce gets the same message back, not a second).
        // The same statement after a post that Discord may have made despite an error (5xx)
        // is sent again with the same nonce.
        let earlier = self.inner.store.pending_posts()?.into_iter().find(|p| {
            p.channel_id == channel
                && p.session_id == session.id
                && p.position == position
                && p.content == content
        });
        let pending = PendingPost {
            nonce: earlier.map_or_else(new_nonce, |p| p.nonce),
            content,
            session_id: session.id,
            statement_id: statement.id.clone(),
            position,
            deck_size: deck.len(),
            text: statement.text.clone(),
            wording: statement.wording(),
            channel_id: channel,
            opened_at: now,
        };
        self.inner.store.begin_post(&pending)?;
        let message_id = match self.send_post(&pending).await {
            Ok(id) => id,
            Err(error) => {
                // After a 5xx or no answer Discord may have posted it: the pending post keeps
                // its nonce for the facilitator's next try (or the next ready). A refusal
                // posted nothing.
                if error.kind != ChatFailure::Unavailable {
                    if let Err(err) = self.inner.store.drop_post(channel) {
                        tracing::warn!("could not forget a statement post that failed: {err}");
                    }
                }
                return Err(WorkshopError::PostFailed {
                    closed: closed.map(Box::new),
                    error,
                });
            }
        };
        let (round, reactions_missing) = self.record_post(&session, &pending, message_id).await?;
        Ok(Posted {
            session,
            round,
            closed,
            reactions_missing,
        })
    }

    /// Send a pending statement post (with its nonce). Reactions may come before the round is
    /// recorded: the vote task keeps them until [`Workshop::record_post`] or a failure.
    async fn send_post(&self, pending: &PendingPost) -> std::result::Result<u64, ChatError> {
        let channel = pending.channel_id;
        self.inner.tally.posting(channel);
        let sent = self
            .inner
            .chat
            .post_once(channel, &pending.content, &pending.nonce)
            .await;
        if sent.is_err() {
            self.inner.tally.post_failed(channel);
        }
        sent
    }

    /// Record a posted statement as an open round and add 🟩 and 🟥 (best effort: the second
    /// value is why they are missing).
    async fn record_post(
        &self,
        session: &Session,
        pending: &PendingPost,
        message_id: u64,
    ) -> Result<(Round, Option<ChatError>)> {
        let channel = pending.channel_id;
        let round = match self.inner.store.open_round(pending.round(message_id)) {
            Ok(round) => round,
            Err(err) => {
                self.inner.tally.post_failed(channel);
                let _ = self.inner.store.drop_post(channel);
                // Nobody should vote on a statement that is not recorded.
                let void = crate::messages::unrecorded_statement(session.language);
                let _ = self.inner.chat.edit(channel, message_id, &void).await;
                return Err(err.into());
            }
        };
        self.inner.tally.opened(round.clone());
        let mut reactions_missing = None;
        for colour in Colour::BOTH {
            if let Err(err) = self
                .inner
                .chat
                .react(channel, message_id, colour.emoji())
                .await
            {
                tracing::warn!(
                    "could not add {} to statement message {message_id}: {err}",
                    colour.emoji()
                );
                reactions_missing = Some(err);
                break;
            }
        }
        Ok((round, reactions_missing))
    }

    /// Complete the posts the bot began but did not record (it stopped in between): post
    /// again with the same nonce — Discord returns the message already sent, so people's
    /// votes on it count — and record the round. Run on ready, before the open rounds are held
    /// and reconciled. Returns how many were completed; one that cannot be posted now stays
    /// pending for the next ready.
    pub async fn complete_pending_posts(&self) -> Result<usize> {
        let mut completed = 0;
        for pending in self.inner.store.pending_posts()? {
            let channel = pending.channel_id;
            let _guard = self.lock(channel).await;
            // A command in this channel may have finished or given up the post meanwhile.
            let still_pending = self
                .inner
                .store
                .pending_posts()?
                .iter()
                .any(|p| p.channel_id == channel && p.nonce == pending.nonce);
            if !still_pending {
                continue;
            }
            let session = self
                .inner
                .store
                .open_session(channel)?
                .filter(|s| s.id == pending.session_id);
            let Some(session) = session else {
                self.inner.store.drop_post(channel)?;
                continue;
            };
            if self.open_round_of(&session)?.is_some() {
                self.inner.store.drop_post(channel)?;
                continue;
            }
            let message_id = match self.send_post(&pending).await {
                Ok(id) => id,
                Err(err) => {
                    tracing::warn!(
                        "could not complete the statement posted before the bot stopped: {err}"
                    );
                    continue;
                }
            };
            self.record_post(&session, &pending, message_id).await?;
            completed += 1;
        }
        Ok(completed)
    }

    /// Close the open round: reconcile with Discord's reaction lists, store the result, mark
    /// the statement message closed.
    pub async fn close_statement(&self, channel: u64, now: Timestamp) -> Result<(Session, Closed)> {
        let _guard = self.lock(channel).await;
        let (session, round) = self.check_close(channel)?;
        let closed = self.close_round(&session, round, now).await?;
        Ok((session, closed))
    }

    /// Set the room count of the open round, or else of the last closed one.
    pub async fn set_room(&self, channel: u64, room: Tally) -> Result<(Session, Round)> {
        let _guard = self.lock(channel).await;
        let (session, round) = self.check_room(channel)?;
        let round = self.inner.store.set_room(round.id, room)?;
        if !round.is_open() {
            self.show_closed(&session, &round).await;
        }
        Ok((session, round))
    }

    /// End the session: close the open round (reconciled), then the session.
    pub async fn end_session(&self, channel: u64, now: Timestamp) -> Result<Ended> {
        let _guard = self.lock(channel).await;
        let session = self.open_session(channel)?;
        let closed = match self.open_round_of(&session)? {
            Some(open) => Some(self.close_round(&session, open, now).await?),
            None => None,
        };
        let session = self.inner.store.end_session(session.id, now)?;
        let rounds = self.inner.store.rounds_of(session.id)?;
        Ok(Ended {
            session,
            closed,
            rounds,
        })
    }

    /// Hold back the reactions of every open round until [`Workshop::reconcile_open_rounds`]
    /// has applied Discord's reaction lists. Call when the bot becomes ready, *before*
    /// reactions are forwarded again: a reaction applied to the state from before the bot was
    /// away, and then the lists, would make a colour given while it was away look newer than
    /// the one given after it came back.
    pub fn hold_open_rounds(&self) -> Result<()> {
        for round in self.inner.store.open_rounds()? {
            self.inner.tally.hold(round.id);
        }
        Ok(())
    }

    /// Bring every open round in line with Discord's reaction lists: reactions made while
    /// the bot was offline count, reactions removed while it was offline do not. Run whenever
    /// the bot becomes ready (after [`Workshop::hold_open_rounds`] and the reaction forwarding).
    pub async fn reconcile_open_rounds(&self) -> Result<usize> {
        let rounds = self.inner.store.open_rounds()?;
        let mut first_error = None;
        for round in &rounds {
            // The channel's lock keeps a facilitator's close from interleaving with this
            // reconciliation (each must apply its lists to the state as of its own hold).
            let _guard = self.lock(round.channel_id).await;
            match self.inner.store.round(round.id) {
                Ok(Some(r)) if r.is_open() => {}
                // Closed meanwhile: the close applied and released what was held.
                Ok(_) => continue,
                Err(err) => {
                    // Never leave a round held: its live votes would wait until its close.
                    self.inner.tally.resync(round.id, None);
                    first_error.get_or_insert(err);
                    continue;
                }
            }
            // Queue the hold before reading the lists (again, when the ready hold is still on:
            // holds add up to one): reactions arriving meanwhile are replayed after the lists
            // are applied.
            self.inner.tally.hold(round.id);
            let lists = self.fetch_lists(round).await.ok();
            self.inner.tally.resync(round.id, lists);
        }
        self.inner.tally.barrier().await?;
        match first_error {
            Some(err) => Err(err.into()),
            None => Ok(rounds.len()),
        }
    }

    fn open_round_of(&self, session: &Session) -> Result<Option<Round>> {
        Ok(self
            .inner
            .store
            .rounds_of(session.id)?
            .into_iter()
            .find(Round::is_open))
    }

    async fn close_round(&self, session: &Session, round: Round, now: Timestamp) -> Result<Closed> {
        self.inner.tally.hold(round.id);
        let (lists, unchecked) = match self.fetch_lists(&round).await {
            Ok(lists) => (Some(lists), None),
            Err(err) => (None, Some(err)),
        };
        let closed = self.inner.tally.close(round.id, lists, now).await?;
        // A deleted statement message cannot be marked closed.
        if !unchecked
            .as_ref()
            .is_some_and(|e| e.kind == ChatFailure::UnknownMessage)
        {
            self.show_closed(session, &closed).await;
        }
        Ok(Closed {
            round: closed,
            unchecked,
        })
    }

    /// Edit the statement message to show it is closed, with its result (best effort: the
    /// result is stored either way).
    async fn show_closed(&self, session: &Session, round: &Round) {
        let content = crate::messages::closed_statement_message(session.language, round);
        if let Err(err) = self
            .inner
            .chat
            .edit(round.channel_id, round.message_id, &content)
            .await
        {
            tracing::warn!(
                "could not mark statement message {} closed: {err}",
                round.message_id
            );
        }
    }

    /// Discord's reaction lists of a round's message; an error (and a warning) when Discord
    /// cannot be asked — the states the bot knows then stand.
    async fn fetch_lists(&self, round: &Round) -> std::result::Result<ReactionLists, ChatError> {
        let chat = &self.inner.chat;
        let (channel, message) = (round.channel_id, round.message_id);
        let agree = chat
            .reactions(channel, message, Colour::Agree.emoji())
            .await;
        let disagree = chat
            .reactions(channel, message, Colour::Disagree.emoji())
            .await;
        match (agree, disagree) {
            (Ok(agree), Ok(disagree)) => Ok(ReactionLists { agree, disagree }),
            (Err(err), _) | (_, Err(err)) => {
                tracing::warn!(
                    "could not read the reactions of statement message {message}; counting the votes seen: {err}"
                );
                Err(err)
            }
        }
    }

    /// The session `/results` shows: the open one in the channel, else the latest there; it
    /// needs a closed statement.
    pub fn results_of(&self, channel: u64) -> Result<(Session, Vec<Round>)> {
        let session = self
            .inner
            .store
            .current_or_latest_session(channel)?
            .ok_or(WorkshopError::NoSessionInChannel)?;
        let rounds = self.inner.store.rounds_of(session.id)?;
        if rounds.iter().all(Round::is_open) {
            return Err(WorkshopError::NothingClosed {
                municipality: session.municipality.to_string(),
            });
        }
        Ok((session, rounds))
    }

    /// The comparison `/compare` shows: of `deck`, else of this channel's (latest) session's
    /// deck, else of the only deck with sessions; `statement`: that deck position alone.
    /// Only sessions held in `guild` are compared: a server sees its own sessions (the
    /// command line exports and draws everything).
    pub fn compare_of(
        &self,
        guild: u64,
        channel: u64,
        deck: Option<&str>,
        statement: Option<u32>,
        style: &crate::charts::data::Style,
    ) -> Result<crate::charts::CompareChart> {
        let store = &self.inner.store;
        let sessions = self.sessions_of_guild(guild)?;
        let deck_id = match deck {
            Some(deck) => deck.trim().to_string(),
            None => match store.current_or_latest_session(channel)? {
                Some(session) => session.deck_id,
                None => {
                    let ids: std::collections::BTreeSet<&str> =
                        sessions.iter().map(|(s, _)| s.deck_id.as_str()).collect();
                    match ids.len() {
                        0 => return Err(WorkshopError::NoSessionInChannel),
                        1 => ids.into_iter().next().expect("one").to_string(),
                        _ => {
                            return Err(WorkshopError::PickDeck(
                                ids.into_iter().map(String::from).collect(),
                            ))
                        }
                    }
                }
            },
        };
        let decks = self.decks().unwrap_or_default();
        Ok(crate::charts::data::compare_chart(
            &deck_id,
            decks.get(&deck_id),
            &sessions,
            statement,
            style,
        )?)
    }

    /// The CSV export of every closed round of the sessions held in `guild`.
    pub fn export(&self, guild: u64) -> Result<String> {
        Ok(crate::domain::export::csv(&self.sessions_of_guild(guild)?))
    }

    fn sessions_of_guild(&self, guild: u64) -> Result<Vec<(Session, Vec<Round>)>> {
        let mut sessions = self.inner.store.sessions_with_rounds()?;
        sessions.retain(|(s, _)| s.guild_id == guild);
        Ok(sessions)
    }
}

/// The options of `/session start` checked against the decks: what a facilitator typed
/// becomes a municipality and a deck, or the reason it cannot. Pure, so it can be fuzzed.
pub fn check_start_options(
    decks: &DeckSet,
    municipality: &str,
    deck: &str,
    label: Option<&str>,
) -> Result<(Municipality, Deck)> {
    if label.is_some_and(|l| l.trim().chars().count() > MAX_LABEL_CHARS) {
        return Err(WorkshopError::LabelTooLong {
            max: MAX_LABEL_CHARS,
        });
    }
    let municipality = Municipality::parse(municipality)?;
    Ok((municipality, find_deck(decks, deck.trim())?))
}

/// A deck by id, or why there is none (with the problems of a file of that name).
pub fn find_deck(set: &DeckSet, id: &str) -> Result<Deck> {
    if let Some(deck) = set.get(id) {
        return Ok(deck.clone());
    }
    let problems = set
        .problems
        .iter()
        .filter(|p| p.file.file_stem().is_some_and(|s| s == id))
        .map(|p| p.to_string())
        .collect();
    Err(WorkshopError::UnknownDeck {
        id: id.to_string(),
        available: set.decks.keys().cloned().collect(),
        problems,
    })
}

#[cfg(test)]
mod tests;

/// A message nonce (Discord: at most 25 characters): 24 hex digits.
fn new_nonce() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    hex::encode(bytes)
}
