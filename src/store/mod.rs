//! The store: everything stemkaart keeps, in an embedded sled database. The only code that
//! touches sled.
//!
//! Layout (trees; ids are big-endian u64 so keys sort by id):
//!
//! | tree            | key                          | value                       |
//! |-----------------|------------------------------|-----------------------------|
//! | (default)       | `schema_version`             | u32 BE                      |
//! | (default)       | `voter_key_check`            | 32 bytes, see [`VoterKey`]  |
//! | `sessions`      | session id                   | [`Session`] as JSON         |
//! | `rounds`        | round id                     | [`Round`] as JSON           |
//! | `session_rounds`| session id ++ round id       | empty (rounds of a session) |
//! | `open_sessions` | channel id                   | session id                  |
//! | `open_rounds`   | message id                   | round id                    |
//! | `voters`        | round id ++ pseudonym        | one [`VoterState`] byte     |
//! | `pending_posts` | channel id                   | [`PendingPost`] as JSON     |
//!
//! Invariants: per-voter records exist only for open rounds (closing a round or ending a
//! session removes them, and [`Store::open`] sweeps leftovers of an interrupted close); at most
//! one open session per channel; an open round is indexed by its message id.
//!
//! Durability: every method that changes something flushes before it returns (sled otherwise
//! flushes only every 500 ms), so what it reports is on disk. [`Store::apply_votes`] is the
//! group commit for votes: many votes, one flush.
//!
//! A newer database is refused without being touched: sled rewrites files whenever it opens a
//! database, so the schema version is also kept in a plain file `stemkaart-schema` inside the
//! database folder and read before sled opens it. An existing database is checked in a
//! temporary copy before sled may write to it, and a count of changes to sessions and rounds,
//! kept both in sled and in a plain file `stemkaart-mark`, tells a log that was cut short.

use crate::domain::{
    session::{RoundId, SessionId, Tally},
    Language, Municipality, OnlineCount, Round, Session, Timestamp, VoterState, Wording,
};
use crate::voter_key::{Pseudonym, VoterKey};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The schema this build writes and understands.
pub const SCHEMA_VERSION: u32 = 1;
const SCHEMA_FILE: &str = "stemkaart-schema";
const SCHEMA_KEY: &[u8] = b"schema_version";
const KEY_CHECK: &[u8] = b"voter_key_check";
/// How many changes of sessions and rounds were made; also kept in [`MARK_FILE`].
const MARK_KEY: &[u8] = b"write_mark";
const MARK_FILE: &str = "stemkaart-mark";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another stemkaart process is using {0}; stop it first (while the bot runs, use /export in Discord)")]
    Locked(PathBuf),
    #[error("the database {path} was written by a newer stemkaart (schema {found}; this build understands up to {supported}); it was not changed — upgrade stemkaart")]
    Newer {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the database {path} is damaged ({detail}); restore it from a backup, or move it aside to start a new one")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path} is not a stemkaart database ({detail})")]
    NotADatabase { path: PathBuf, detail: String },
    #[error("the voter key from {origin} is not the key the open rounds of this database were counted with; use the original key (STEMKAART_VOTER_KEY or the key file next to the database)")]
    WrongVoterKey { origin: String },
    #[error("cannot write to the database {path} ({detail}): the disk is full or the folder is not writable; make room or give the bot's user write access to the folder, then restart the bot (votes on open statements are read back from Discord's reactions)")]
    CannotWrite { path: PathBuf, detail: String },
    #[error("database error in {path}: {detail}")]
    Sled { path: PathBuf, detail: String },
    #[error("a session is already open in this channel: {municipality}")]
    ChannelBusy {
        session: SessionId,
        municipality: String,
    },
    #[error("no session {0:?}")]
    NoSuchSession(SessionId),
    #[error("no round {0:?}")]
    NoSuchRound(RoundId),
    #[error("round {0:?} is already closed")]
    RoundClosed(RoundId),
    #[error("round {0:?} is still open; close it first")]
    RoundOpen(RoundId),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One record of [`Store::dump`]: tree name, key, value.
pub type Record = (Vec<u8>, Vec<u8>, Vec<u8>);

/// What a new session needs; the store gives it its id.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub municipality: Municipality,
    pub label: Option<String>,
    pub deck_id: String,
    pub deck_title: String,
    pub language: Language,
    pub guild_id: u64,
    pub channel_id: u64,
    pub started_at: Timestamp,
}

/// What a new round needs; the store gives it its id.
#[derive(Clone, Debug)]
pub struct NewRound {
    pub session_id: SessionId,
    pub statement_id: String,
    pub position: u32,
    pub deck_size: u32,
    pub text: String,
    pub wording: Wording,
    pub channel_id: u64,
    pub message_id: u64,
    pub opened_at: Timestamp,
}

/// A statement about to be posted: stored before the message is sent, removed when its round
/// is recorded. One left over means the bot stopped in between; the post is completed on the
/// next ready (the nonce makes Discord return the message already sent instead of a new one).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingPost {
    pub nonce: String,
    pub content: String,
    pub session_id: SessionId,
    pub statement_id: String,
    pub position: u32,
    pub deck_size: u32,
    pub text: String,
    pub wording: Wording,
    pub channel_id: u64,
    pub opened_at: Timestamp,
}

impl PendingPost {
    /// The round it becomes once the message is there.
    pub fn round(&self, message_id: u64) -> NewRound {
        NewRound {
            session_id: self.session_id,
            statement_id: self.statement_id.clone(),
            position: self.position,
            deck_size: self.deck_size,
            text: self.text.clone(),
            wording: self.wording.clone(),
            channel_id: self.channel_id,
            message_id,
            opened_at: self.opened_at,
        }
    }
}

/// A handle to the database; cheap to clone (an `Arc` inside), safe to share between tasks.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    db: sled::Db,
    sessions: sled::Tree,
    rounds: sled::Tree,
    session_rounds: sled::Tree,
    open_sessions: sled::Tree,
    open_rounds: sled::Tree,
    voters: sled::Tree,
    pending_posts: sled::Tree,
    flushes: AtomicU64,
    /// Why writing failed, while it does (see [`Store::write_failure`]).
    write_failure: tokio::sync::watch::Sender<Option<String>>,
}

impl Store {
    /// Open the database at `path`, creating it when missing. Refuses a newer or damaged
    /// database and one that another process holds, with a message naming the path.
    /// Durable on return: the schema version of a new database.
    pub fn open(path: &Path) -> Result<Store> {
        let known = check_schema_file(path)?;
        if path.join("db").exists() {
            check_on_copy(path, known)?;
        }
        let db = sled::open(path).map_err(|err| open_error(path, err))?;
        let store = Store::from_db(path, db)?;
        store.check_schema(known)?;
        store.sweep_voters()?;
        Ok(store)
    }

    /// Open the database only if it exists (read-only use from the command line: nothing is
    /// created for a database that is not there).
    pub fn open_existing(path: &Path) -> Result<Option<Store>> {
        if path.exists() {
            Store::open(path).map(Some)
        } else {
            Ok(None)
        }
    }

    fn from_db(path: &Path, db: sled::Db) -> Result<Store> {
        let tree = |name: &str| db.open_tree(name).map_err(|e| sled_error(path, e));
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                sessions: tree("sessions")?,
                rounds: tree("rounds")?,
                session_rounds: tree("session_rounds")?,
                open_sessions: tree("open_sessions")?,
                open_rounds: tree("open_rounds")?,
                voters: tree("voters")?,
                pending_posts: tree("pending_posts")?,
                db,
                flushes: AtomicU64::new(0),
                write_failure: tokio::sync::watch::Sender::new(None),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// `known`: the plain schema file said this is a stemkaart database, so it must have its
    /// schema key (sled opens some damaged files as empty databases).
    fn check_schema(&self, known: bool) -> Result<()> {
        let found = match schema_of(&self.inner.db, self.path(), known)? {
            Some(found) => found,
            None => {
                self.inner
                    .db
                    .insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(|e| self.err(e))?;
                self.flush()?;
                SCHEMA_VERSION
            }
        };
        write_schema_file(self.path(), found).map_err(|e| {
            if cannot_write(&e) {
                StoreError::CannotWrite {
                    path: self.path().to_path_buf(),
                    detail: format!("{SCHEMA_FILE}: {}", io_words(&e)),
                }
            } else {
                StoreError::Sled {
                    path: self.path().to_path_buf(),
                    detail: format!("cannot write {SCHEMA_FILE}: {e}"),
                }
            }
        })
    }

    /// Tie the database to a voter key: the key is remembered (as a check value); a different
    /// key later is refused while rounds are open (their voters could not be recognised), and
    /// taken over when none is. Durable on return.
    pub fn check_voter_key(&self, key: &VoterKey) -> Result<()> {
        let check = key.check_value();
        match self.inner.db.get(KEY_CHECK).map_err(|e| self.err(e))? {
            Some(stored) if stored.as_ref() == check => Ok(()),
            Some(_) if !self.open_rounds()?.is_empty() => Err(StoreError::WrongVoterKey {
                origin: key.origin().to_string(),
            }),
            _ => {
                self.inner
                    .db
                    .insert(KEY_CHECK, &check)
                    .map_err(|e| self.err(e))?;
                self.flush()
            }
        }
    }

    // ----- sessions -------------------------------------------------------------------------

    /// Start a session, unless one is open in the channel. Durable on return.
    pub fn create_session(&self, new: NewSession) -> Result<Session> {
        let id = SessionId(self.next_id()?);
        let session = Session {
            id,
            municipality: new.municipality,
            label: new.label,
            deck_id: new.deck_id,
            deck_title: new.deck_title,
            language: new.language,
            guild_id: new.guild_id,
            channel_id: new.channel_id,
            started_at: new.started_at,
            ended_at: None,
        };
        let json = serde_json::to_vec(&session).expect("sessions serialize");
        let channel = new.channel_id.to_be_bytes();
        // Claim the channel and write the session in one transaction: a crash in between
        // must not leave a channel claimed by a session that does not exist.
        let result = (&self.inner.open_sessions, &self.inner.sessions).transaction(
            |(open_sessions, sessions)| {
                if let Some(existing) = open_sessions.get(channel)? {
                    return Err(ConflictableTransactionError::Abort(decode_id(&existing)));
                }
                open_sessions.insert(&channel, &id.0.to_be_bytes())?;
                sessions.insert(&id.0.to_be_bytes(), json.as_slice())?;
                Ok(())
            },
        );
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(existing)) => {
                let other = existing
                    .map(SessionId)
                    .and_then(|id| self.session(id).ok().flatten());
                return Err(StoreError::ChannelBusy {
                    session: other.as_ref().map_or(SessionId(0), |s| s.id),
                    municipality: other.map_or_else(String::new, |s| s.municipality.to_string()),
                });
            }
            Err(TransactionError::Storage(err)) => return Err(self.err(err)),
        }
        self.flush_marked()?;
        Ok(session)
    }

    /// End a session: it gets its end time, the channel is free again, and the per-voter
    /// records of its rounds are removed (results stay). Refused while one of its rounds is
    /// open: only the vote task can close a round correctly. Durable on return.
    pub fn end_session(&self, id: SessionId, at: Timestamp) -> Result<Session> {
        let mut session = self.session(id)?.ok_or(StoreError::NoSuchSession(id))?;
        let rounds = self.rounds_of(id)?;
        if let Some(open) = rounds.iter().find(|r| r.is_open()) {
            return Err(StoreError::RoundOpen(open.id));
        }
        for round in &rounds {
            self.remove_voters(round.id)?;
        }
        if session.ended_at.is_none() {
            session.ended_at = Some(at);
        }
        let json = serde_json::to_vec(&session).expect("sessions serialize");
        let channel = session.channel_id.to_be_bytes();
        (&self.inner.open_sessions, &self.inner.sessions)
            .transaction(|(open_sessions, sessions)| {
                sessions.insert(&id.0.to_be_bytes(), json.as_slice())?;
                if open_sessions.get(channel)?.as_deref() == Some(&id.0.to_be_bytes()[..]) {
                    open_sessions.remove(&channel)?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| self.tx_err(e))?;
        self.flush_marked()?;
        Ok(session)
    }

    pub fn session(&self, id: SessionId) -> Result<Option<Session>> {
        self.inner
            .sessions
            .get(id.0.to_be_bytes())
            .map_err(|e| self.err(e))?
            .map(|bytes| self.decode("session", &bytes))
            .transpose()
    }

    /// The open session of a channel.
    pub fn open_session(&self, channel_id: u64) -> Result<Option<Session>> {
        match self
            .inner
            .open_sessions
            .get(channel_id.to_be_bytes())
            .map_err(|e| self.err(e))?
        {
            Some(id) => match decode_id(&id) {
                Some(id) => self.session(SessionId(id)),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// The open session of a channel, or else the one that started last there.
    pub fn current_or_latest_session(&self, channel_id: u64) -> Result<Option<Session>> {
        if let Some(open) = self.open_session(channel_id)? {
            return Ok(Some(open));
        }
        Ok(self
            .sessions()?
            .into_iter()
            .filter(|s| s.channel_id == channel_id)
            .max_by_key(|s| (s.started_at, s.id)))
    }

    /// Every session, oldest first.
    pub fn sessions(&self) -> Result<Vec<Session>> {
        let mut sessions = self
            .inner
            .sessions
            .iter()
            .values()
            .map(|bytes| {
                let bytes = bytes.map_err(|e| self.err(e))?;
                self.decode("session", &bytes)
            })
            .collect::<Result<Vec<Session>>>()?;
        sessions.sort_by_key(|s| (s.started_at, s.id));
        Ok(sessions)
    }

    /// Every session (oldest first) with its rounds in posting order.
    pub fn sessions_with_rounds(&self) -> Result<Vec<(Session, Vec<Round>)>> {
        self.sessions()?
            .into_iter()
            .map(|session| {
                let rounds = self.rounds_of(session.id)?;
                Ok((session, rounds))
            })
            .collect()
    }

    // ----- rounds ---------------------------------------------------------------------------

    /// Record a posted statement as an open round. Durable on return.
    pub fn open_round(&self, new: NewRound) -> Result<Round> {
        let round = Round {
            id: RoundId(self.next_id()?),
            session_id: new.session_id,
            statement_id: new.statement_id,
            position: new.position,
            deck_size: new.deck_size,
            text: new.text,
            wording: new.wording,
            channel_id: new.channel_id,
            message_id: new.message_id,
            opened_at: new.opened_at,
            closed_at: None,
            online: None,
            room: None,
        };
        let json = serde_json::to_vec(&round).expect("rounds serialize");
        let id = round.id.0.to_be_bytes();
        // All three or none: a round must never exist without its indexes; and the post it
        // completes is no longer pending.
        (
            &self.inner.rounds,
            &self.inner.session_rounds,
            &self.inner.open_rounds,
            &self.inner.pending_posts,
        )
            .transaction(|(rounds, session_rounds, open_rounds, pending_posts)| {
                rounds.insert(&id, json.as_slice())?;
                session_rounds.insert(&pair_key(round.session_id.0, round.id.0), &[])?;
                open_rounds.insert(&round.message_id.to_be_bytes(), &id)?;
                pending_posts.remove(&round.channel_id.to_be_bytes())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| self.tx_err(e))?;
        self.flush_marked()?;
        Ok(round)
    }

    /// Remember a statement about to be posted (replacing any earlier one of its channel).
    /// Durable on return.
    pub fn begin_post(&self, post: &PendingPost) -> Result<()> {
        let json = serde_json::to_vec(post).expect("pending posts serialize");
        self.inner
            .pending_posts
            .insert(post.channel_id.to_be_bytes(), json)
            .map_err(|e| self.err(e))?;
        self.flush()
    }

    /// Forget a channel's pending post (it failed, or it cannot be completed). Durable on
    /// return.
    pub fn drop_post(&self, channel_id: u64) -> Result<()> {
        self.inner
            .pending_posts
            .remove(channel_id.to_be_bytes())
            .map_err(|e| self.err(e))?;
        self.flush()
    }

    /// Posts begun and not recorded as rounds (the bot stopped in between).
    pub fn pending_posts(&self) -> Result<Vec<PendingPost>> {
        self.inner
            .pending_posts
            .iter()
            .values()
            .map(|bytes| {
                let bytes = bytes.map_err(|e| self.err(e))?;
                self.decode("pending post", &bytes)
            })
            .collect()
    }

    /// Close a round with its final online count; its per-voter records are removed.
    /// Durable on return.
    pub fn close_round(&self, id: RoundId, online: OnlineCount, at: Timestamp) -> Result<Round> {
        let round = self.round(id)?.ok_or(StoreError::NoSuchRound(id))?;
        if !round.is_open() {
            return Err(StoreError::RoundClosed(id));
        }
        let round = self.finish_round(round, online, at)?;
        self.remove_voters(id)?;
        self.flush_marked()?;
        Ok(round)
    }

    fn finish_round(&self, mut round: Round, online: OnlineCount, at: Timestamp) -> Result<Round> {
        round.closed_at = Some(at);
        round.online = Some(online);
        let json = serde_json::to_vec(&round).expect("rounds serialize");
        (&self.inner.rounds, &self.inner.open_rounds)
            .transaction(|(rounds, open_rounds)| {
                rounds.insert(&round.id.0.to_be_bytes(), json.as_slice())?;
                open_rounds.remove(&round.message_id.to_be_bytes())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| self.tx_err(e))?;
        Ok(round)
    }

    /// Set (not add) the room count of a round. Durable on return.
    pub fn set_room(&self, id: RoundId, room: Tally) -> Result<Round> {
        let mut round = self.round(id)?.ok_or(StoreError::NoSuchRound(id))?;
        round.room = Some(room);
        self.put_round(&round)?;
        self.flush_marked()?;
        Ok(round)
    }

    pub fn round(&self, id: RoundId) -> Result<Option<Round>> {
        self.inner
            .rounds
            .get(id.0.to_be_bytes())
            .map_err(|e| self.err(e))?
            .map(|bytes| self.decode("round", &bytes))
            .transpose()
    }

    /// The rounds of a session in posting order.
    pub fn rounds_of(&self, session: SessionId) -> Result<Vec<Round>> {
        self.inner
            .session_rounds
            .scan_prefix(session.0.to_be_bytes())
            .keys()
            .filter_map(|key| match key {
                Ok(key) => decode_id(&key[8..]).map(|id| Ok(RoundId(id))),
                Err(e) => Some(Err(self.err(e))),
            })
            .map(|id| {
                let id = id?;
                self.round(id)?.ok_or(StoreError::NoSuchRound(id))
            })
            .collect()
    }

    /// Every open round, in any channel.
    pub fn open_rounds(&self) -> Result<Vec<Round>> {
        let mut rounds = Vec::new();
        for entry in self.inner.open_rounds.iter() {
            let (_, id) = entry.map_err(|e| self.err(e))?;
            if let Some(round) = decode_id(&id).map(RoundId).map(|id| self.round(id)) {
                rounds.extend(round?);
            }
        }
        Ok(rounds)
    }

    fn put_round(&self, round: &Round) -> Result<()> {
        let json = serde_json::to_vec(round).expect("rounds serialize");
        self.inner
            .rounds
            .insert(round.id.0.to_be_bytes(), json)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    // ----- votes ----------------------------------------------------------------------------

    /// Store voter states (the group commit): all writes go in one batch and one flush. A vote
    /// counts once this returns: then it is on disk. `VoterState::Nothing` removes the record.
    pub async fn apply_votes(&self, changes: &[(RoundId, Pseudonym, VoterState)]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (round, voter, state) in changes {
            let key = voter_key(*round, voter);
            match state {
                VoterState::Nothing => batch.remove(&key[..]),
                state => batch.insert(&key[..], &[state.to_byte()]),
            }
        }
        self.inner
            .voters
            .apply_batch(batch)
            .map_err(|e| self.err(e))?;
        self.inner
            .voters
            .flush_async()
            .await
            .map_err(|e| self.err(e))?;
        self.inner.flushes.fetch_add(1, Ordering::Relaxed);
        self.writes_work();
        Ok(())
    }

    /// Why the database cannot be written, when the last write failed for that reason (a full
    /// disk, a read-only folder). sled keeps refusing every write after one failed, until the
    /// process restarts: nothing counted after this can be made durable.
    pub fn write_failure(&self) -> Option<String> {
        self.inner.write_failure.borrow().clone()
    }

    /// Changes of [`Store::write_failure`].
    pub fn watch_write_failure(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.inner.write_failure.subscribe()
    }

    fn writes_work(&self) {
        self.inner
            .write_failure
            .send_if_modified(|failure| failure.take().is_some());
    }

    /// The stored voter states of a round.
    pub fn voter_states(&self, round: RoundId) -> Result<Vec<(Pseudonym, VoterState)>> {
        self.inner
            .voters
            .scan_prefix(round.0.to_be_bytes())
            .map(|entry| {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                let voter: [u8; 32] = key[8..].try_into().map_err(|_| self.damaged("voter key"))?;
                let state = value
                    .first()
                    .and_then(|b| VoterState::from_byte(*b))
                    .ok_or_else(|| self.damaged("voter state"))?;
                Ok((Pseudonym(voter), state))
            })
            .collect()
    }

    /// Whether a voter key has been tied to this database.
    pub fn has_voter_key(&self) -> Result<bool> {
        Ok(self
            .inner
            .db
            .get(KEY_CHECK)
            .map_err(|e| self.err(e))?
            .is_some())
    }

    /// Every record of every tree, as `(tree, key, value)` in tree and key order: a logical
    /// dump, to compare two states of a database regardless of how sled laid out its files.
    pub fn dump(&self) -> Result<Vec<Record>> {
        let mut names = self.inner.db.tree_names();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let tree = self.inner.db.open_tree(&name).map_err(|e| self.err(e))?;
            for entry in tree.iter() {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                out.push((name.to_vec(), key.to_vec(), value.to_vec()));
            }
        }
        Ok(out)
    }

    /// How many per-voter records exist (all rounds).
    pub fn voter_record_count(&self) -> usize {
        self.inner.voters.len()
    }

    /// How many flushes votes have cost so far (to see that group commit groups).
    pub fn vote_flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }

    fn remove_voters(&self, round: RoundId) -> Result<()> {
        let mut batch = sled::Batch::default();
        for key in self.inner.voters.scan_prefix(round.0.to_be_bytes()).keys() {
            batch.remove(key.map_err(|e| self.err(e))?);
        }
        self.inner
            .voters
            .apply_batch(batch)
            .map_err(|e| self.err(e))
    }

    /// Remove per-voter records of rounds that are no longer open (left by an interrupted
    /// close).
    fn sweep_voters(&self) -> Result<()> {
        let open: std::collections::HashSet<u64> =
            self.open_rounds()?.iter().map(|r| r.id.0).collect();
        let mut batch = sled::Batch::default();
        let mut stale = false;
        for key in self.inner.voters.iter().keys() {
            let key = key.map_err(|e| self.err(e))?;
            if !decode_id(&key[..8]).is_some_and(|id| open.contains(&id)) {
                batch.remove(key);
                stale = true;
            }
        }
        if stale {
            self.inner
                .voters
                .apply_batch(batch)
                .map_err(|e| self.err(e))?;
            self.flush()?;
        }
        Ok(())
    }

    // ----- plumbing -------------------------------------------------------------------------

    fn next_id(&self) -> Result<u64> {
        // sled ids start at 0 and never repeat, also across restarts.
        Ok(self.inner.db.generate_id().map_err(|e| self.err(e))? + 1)
    }

    /// After a change of sessions or rounds: count the change in the database, flush, and
    /// then note the count in a file outside sled, so an open can tell a log that lost
    /// changes (see [`check_on_copy`]). The file is only a check: when it cannot be written,
    /// the change still stands.
    fn flush_marked(&self) -> Result<()> {
        let mark = self
            .inner
            .db
            .update_and_fetch(MARK_KEY, |old| {
                let n = old.and_then(decode_id).unwrap_or(0) + 1;
                Some(n.to_be_bytes().to_vec())
            })
            .map_err(|e| self.err(e))?
            .and_then(|v| decode_id(&v))
            .unwrap_or(0);
        self.flush()?;
        if let Err(err) = write_mark_file(self.path(), mark) {
            tracing::warn!(
                "cannot write {MARK_FILE} in {}: {err}",
                self.path().display()
            );
        }
        Ok(())
    }

    /// Flush everything to disk.
    pub fn flush(&self) -> Result<()> {
        self.inner.db.flush().map_err(|e| self.err(e))?;
        self.writes_work();
        Ok(())
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, what: &str, bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            path: self.path().to_path_buf(),
            detail: format!("a {what} record cannot be read: {e}"),
        })
    }

    fn damaged(&self, what: &str) -> StoreError {
        StoreError::Corrupt {
            path: self.path().to_path_buf(),
            detail: format!("a {what} cannot be read"),
        }
    }

    fn tx_err(&self, err: TransactionError<()>) -> StoreError {
        match err {
            TransactionError::Storage(err) => self.err(err),
            TransactionError::Abort(()) => unreachable!("these transactions never abort"),
        }
    }

    fn err(&self, err: sled::Error) -> StoreError {
        let err = sled_error(self.path(), err);
        if let StoreError::CannotWrite { detail, .. } = &err {
            let detail = detail.clone();
            self.inner.write_failure.send_if_modified(|failure| {
                let first = failure.is_none();
                failure.get_or_insert(detail);
                first
            });
        }
        err
    }
}

fn voter_key(round: RoundId, voter: &Pseudonym) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(&round.0.to_be_bytes());
    key[8..].copy_from_slice(&voter.0);
    key
}

fn pair_key(a: u64, b: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&a.to_be_bytes());
    key[8..].copy_from_slice(&b.to_be_bytes());
    key
}

fn decode_id(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

/// The schema version a sled database says it has: `None` for a new, empty database; refuses
/// a newer one, one that lost its records, and one of another program. Reads only.
fn schema_of(db: &sled::Db, path: &Path, known: bool) -> Result<Option<u32>> {
    let found =
        match db.get(SCHEMA_KEY).map_err(|e| sled_error(path, e))? {
            Some(bytes) => u32::from_be_bytes(bytes.as_ref().try_into().map_err(|_| {
                StoreError::NotADatabase {
                    path: path.to_path_buf(),
                    detail: "its schema version is unreadable".into(),
                }
            })?),
            None if known => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: "its records cannot be found although it was written by stemkaart"
                        .into(),
                })
            }
            None => {
                let mut empty = db.is_empty();
                for name in db.tree_names() {
                    let tree = db.open_tree(&name).map_err(|e| sled_error(path, e))?;
                    empty &= tree.is_empty();
                }
                if empty {
                    return Ok(None);
                }
                return Err(StoreError::NotADatabase {
                    path: path.to_path_buf(),
                    detail: "it has data but no schema version".into(),
                });
            }
        };
    if found > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(Some(found))
}

/// sled repairs what it can when it opens a database, writing to its files (a truncated `db`
/// file is rewritten, for instance). A damaged, foreign or newer database must be refused as
/// it was, so an existing database is first opened and checked in a temporary copy; only one
/// that passes is opened in place. While the copy is taken the database file is locked the
/// way sled locks it, so a database in use is reported as such, not as a half-written copy.
fn check_on_copy(path: &Path, known: bool) -> Result<()> {
    use fs2::FileExt;
    let io = |what: &str, e: std::io::Error| StoreError::Sled {
        path: path.to_path_buf(),
        detail: format!("{what}: {e}"),
    };
    let file = std::fs::File::open(path.join("db")).map_err(|e| io("cannot read it", e))?;
    if file.try_lock_exclusive().is_err() {
        return Err(StoreError::Locked(path.to_path_buf()));
    }
    // A full disk or a file size limit stops the copy as it would stop the bot's writes.
    let copy_failed = |e: std::io::Error| {
        if cannot_write(&e) {
            StoreError::CannotWrite {
                path: path.to_path_buf(),
                detail: format!(
                    "{}, while checking a copy in {}",
                    io_words(&e),
                    std::env::temp_dir().display()
                ),
            }
        } else {
            io("cannot make a temporary copy", e)
        }
    };
    let copy = tempfile::tempdir().map_err(copy_failed)?;
    let copy_path = copy.path().join("db");
    copy_folder(path, &copy_path).map_err(copy_failed)?;
    // Open without the database's own lock (taken above): a second process would wait on it.
    let result = sled::open(&copy_path)
        .map_err(|err| open_error(path, err))
        .and_then(|db| {
            schema_of(&db, path, known)?;
            // sled opens a log that was cut short after its last snapshot as if a crash had
            // torn its tail; changes the mark file saw durable must still be there.
            let in_db = db
                .get(MARK_KEY)
                .map_err(|e| sled_error(path, e))?
                .and_then(|v| decode_id(&v))
                .unwrap_or(0);
            if read_mark_file(path).is_some_and(|noted| noted > in_db) {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: "changes it stored are missing: its db file was cut short".into(),
                });
            }
            // Read every record once: damage sled notices only when it reads a page.
            for name in db.tree_names() {
                let tree = db.open_tree(&name).map_err(|e| sled_error(path, e))?;
                for entry in tree.iter() {
                    entry.map_err(|e| match e {
                        sled::Error::Corruption { .. } => corrupt_log(path),
                        e => sled_error(path, e),
                    })?;
                }
            }
            Ok(())
        });
    let _ = FileExt::unlock(&file);
    result
}

fn copy_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_folder(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Read the plain schema file before sled touches anything. `Ok(true)`: it is there.
fn check_schema_file(path: &Path) -> Result<bool> {
    let file = path.join(SCHEMA_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(found) if found > SCHEMA_VERSION => Err(StoreError::Newer {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            }),
            Ok(_) => Ok(true),
            Err(_) => Err(StoreError::NotADatabase {
                path: path.to_path_buf(),
                detail: format!("{SCHEMA_FILE} does not hold a version number"),
            }),
        },
        Err(_) if path.exists() && !path.is_dir() => Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: "it is a file, not a database folder".into(),
        }),
        Err(_) if is_foreign_folder(path) => Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: "it is a folder with other files in it; nothing was written there".into(),
        }),
        Err(_) => Ok(false),
    }
}

/// A folder that has files but is not a sled database (sled keeps `conf` and `db` in it).
fn is_foreign_folder(path: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let sled_files = names.iter().any(|n| n == "conf") && names.iter().any(|n| n == "db");
    !names.is_empty() && !sled_files
}

/// The change count last noted outside sled; `None` when there is no readable mark (an older
/// database, or a write torn by a crash: then there is nothing to check against).
fn read_mark_file(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path.join(MARK_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn write_mark_file(path: &Path, mark: u64) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path.join(MARK_FILE))?;
    std::io::Write::write_all(&mut file, format!("{mark}\n").as_bytes())?;
    file.sync_all()
}

fn write_schema_file(path: &Path, version: u32) -> std::io::Result<()> {
    let file = path.join(SCHEMA_FILE);
    if std::fs::read_to_string(&file)
        .ok()
        .as_deref()
        .map(str::trim)
        == Some(&version.to_string())
    {
        return Ok(());
    }
    std::fs::write(file, format!("{version}\n"))
}

fn open_error(path: &Path, err: sled::Error) -> StoreError {
    match &err {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked(path.to_path_buf())
        }
        sled::Error::Corruption { .. } => corrupt_log(path),
        _ => sled_error(path, err),
    }
}

/// sled's own text for this is a debug dump of its internals; the operator gets plain words.
fn corrupt_log(path: &Path) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: "sled cannot read its log back: the file was cut short or overwritten".into(),
    }
}

fn sled_error(path: &Path, err: sled::Error) -> StoreError {
    match &err {
        sled::Error::Io(io) if cannot_write(io) => StoreError::CannotWrite {
            path: path.to_path_buf(),
            detail: io_words(io),
        },
        _ => StoreError::Sled {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
    }
}

/// A full disk (ENOSPC, EDQUOT, or EFBIG past a file size limit) or a folder or file system the
/// bot may not write to (EACCES, EPERM, EROFS).
fn cannot_write(err: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        err.kind(),
        K::StorageFull
            | K::QuotaExceeded
            | K::FileTooLarge
            | K::ReadOnlyFilesystem
            | K::PermissionDenied
    )
}

/// The cause in plain words (sled's copy of an IO error carries only its kind and debug text).
fn io_words(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::StorageFull => "no space left on the disk".into(),
        K::QuotaExceeded => "disk quota exceeded".into(),
        K::FileTooLarge => "file too large: the file size limit is reached".into(),
        K::ReadOnlyFilesystem => "the file system is read-only".into(),
        K::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests;
