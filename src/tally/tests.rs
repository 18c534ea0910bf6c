//! The vote pipeline against a plain model of a Discord message, with a real sled store.

use super::*;
use crate::domain::Wording;
use crate::domain::{Municipality, SessionId};
use crate::round_keys::RoundKeys;
use crate::store::{NewRound, NewSession};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const BOT: u64 = 1_000;
const OTHER_BOT: u64 = 1_001;
const CHANNEL: u64 = 77;
const MESSAGE: u64 = 5_000;

/// What Discord keeps for one message: which user has which emoji on it, and when it was added.
#[derive(Default)]
struct Message {
    present: BTreeMap<(u64, String), u64>,
    clock: u64,
}

impl Message {
    /// A user adds or removes an emoji; returns the gateway event when something changed
    /// (Discord sends nothing for adding what is there or removing what is not).
    fn act(&mut self, user: u64, emoji: &str, added: bool) -> Option<RawReaction> {
        let key = (user, emoji.to_string());
        let changed = if added {
            if self.present.contains_key(&key) {
                false
            } else {
                self.clock += 1;
                self.present.insert(key, self.clock);
                true
            }
        } else {
            self.present.remove(&key).is_some()
        };
        changed.then(|| RawReaction {
            channel_id: CHANNEL,
            message_id: MESSAGE,
            user_id: user,
            // Like Discord: only additions carry the member (and its bot flag).
            user_is_bot: added && is_bot(user),
            emoji: emoji.to_string(),
            added,
        })
    }

    /// A property-test action: a reaction, or a moderator clearing reactions.
    fn apply(&mut self, a: &Action) -> Option<VoteEvent> {
        if !a.clear {
            return self.act(a.user, a.emoji, a.added).map(VoteEvent::Reaction);
        }
        // Clear everything (no emoji) or one emoji; Discord sends the event either way.
        let emoji = (!a.emoji.is_empty()).then(|| a.emoji.to_string());
        self.present
            .retain(|(_, e), _| emoji.as_ref().is_some_and(|only| e != only));
        Some(VoteEvent::Cleared {
            channel_id: CHANNEL,
            message_id: MESSAGE,
            emoji,
        })
    }

    fn lists(&self) -> ReactionLists {
        let users = |emoji: &str| {
            self.present
                .keys()
                .filter(|(_, e)| e == emoji)
                .map(|(u, _)| ListedUser {
                    id: *u,
                    bot: is_bot(*u),
                })
                .collect()
        };
        ReactionLists {
            agree: users("🟩"),
            disagree: users("🟥"),
        }
    }

    /// The reference rule: a participant's vote is their most recently added colour that is
    /// still on the message; bots never count.
    fn expected(&self) -> OnlineCount {
        let mut latest: BTreeMap<u64, (u64, Colour)> = BTreeMap::new();
        for ((user, emoji), at) in &self.present {
            let Some(colour) = Colour::from_emoji(emoji) else {
                continue;
            };
            if is_bot(*user) {
                continue;
            }
            let entry = latest.entry(*user).or_insert((*at, colour));
            if *at > entry.0 {
                *entry = (*at, colour);
            }
        }
        let mut count = OnlineCount::default();
        for (_, colour) in latest.values() {
            match colour {
                Colour::Agree => count.agree += 1,
                Colour::Disagree => count.disagree += 1,
            }
        }
        count
    }

    fn colours_of(&self, user: u64) -> Vec<Colour> {
        Colour::BOTH
            .into_iter()
            .filter(|c| self.present.contains_key(&(user, c.emoji().to_string())))
            .collect()
    }
}

fn is_bot(user: u64) -> bool {
    user == BOT || user == OTHER_BOT
}

/// The vote task on `store`, with the round key file next to it.
fn start(store: &Store, cleanup: Option<mpsc::Sender<Cleanup>>) -> TallyHandle {
    let round_keys = Arc::new(RoundKeys::open(store.path()).unwrap());
    TallyHandle::start(store.clone(), key(), round_keys, cleanup).unwrap()
}

fn key() -> VoterKey {
    VoterKey::load(Path::new("unused"), Some("tally test key, long enough")).unwrap()
}

/// A store with one open session and one open round on `MESSAGE`.
fn setup(dir: &Path) -> (Store, Round) {
    let store = Store::open(&dir.join("db")).unwrap();
    let session = store
        .create_session(NewSession {
            municipality: Municipality::parse("Arnhem").unwrap(),
            label: None,
            deck_id: "vertrouwen".into(),
            deck_title: "Vertrouwen".into(),
            language: crate::domain::Language::Nl,
            guild_id: 1,
            channel_id: CHANNEL,
            started_at: Timestamp(0),
        })
        .unwrap();
    let round = open_round(&store, session.id, MESSAGE);
    (store, round)
}

fn open_round(store: &Store, session: SessionId, message_id: u64) -> Round {
    store
        .open_round(NewRound {
            session_id: session,
            statement_id: "s1".into(),
            position: 1,
            deck_size: 3,
            text: "Stelling".into(),
            wording: Wording::of("Stelling"),
            channel_id: CHANNEL,
            message_id,
            opened_at: Timestamp(1),
        })
        .unwrap()
}

/// Run `test` on a fresh store with one open round, on a single-threaded runtime (so the vote
/// task only runs when the test awaits).
fn with_round<F, Fut>(test: F)
where
    F: FnOnce(Store, Round) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let (store, round) = setup(dir.path());
    runtime().block_on(test(store, round));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Clone, Debug)]
struct Action {
    user: u64,
    emoji: &'static str,
    added: bool,
    /// A moderator clears all reactions (`emoji` empty) or all of `emoji`.
    clear: bool,
}

fn action() -> impl Strategy<Value = Action> {
    (
        prop_oneof![8 => 1u64..=6, 1 => Just(BOT), 1 => Just(OTHER_BOT)],
        prop_oneof![5 => Just("🟩"), 5 => Just("🟥"), 1 => Just("👍"), 1 => Just("")],
        prop::bool::weighted(0.65),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(user, emoji, added, clear)| Action {
            user,
            // An empty emoji only means "everything" when clearing.
            emoji: if emoji.is_empty() && !clear {
                "👍"
            } else {
                emoji
            },
            added,
            clear,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random reactions by several users, the bot itself, another bot and other emoji, with a
    /// close in the middle, done as the bot does it: hold, read the lists while reactions keep
    /// coming, close. The stored result equals the reference model at the moment the close is
    /// applied, and nothing after it changes the result.
    #[test]
    fn stored_result_equals_the_reference(
        actions in prop::collection::vec(action(), 0..80),
        cuts in (0usize..80, 0usize..10, 0usize..10),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (store, round) = setup(dir.path());
        let rt = runtime();
        let (expected, closed, after) = rt.block_on(async {
            let tally = start(&store, None);
            tally.ready(BOT);
            let mut discord = Message::default();
            let hold_at = cuts.0.min(actions.len());
            let read_at = (hold_at + cuts.1).min(actions.len());
            let close_at = (read_at + cuts.2).min(actions.len());
            let send = |discord: &mut Message, range: std::ops::Range<usize>| {
                for a in &actions[range] {
                    if let Some(event) = discord.apply(a) {
                        tally.event(event);
                    }
                }
            };
            send(&mut discord, 0..hold_at);
            tally.hold(round.id);
            send(&mut discord, hold_at..read_at);
            let lists = discord.lists();
            send(&mut discord, read_at..close_at);
            let expected = discord.expected();
            let closed = tally.close(round.id, Some(lists), Timestamp(9)).await.unwrap();
            send(&mut discord, close_at..actions.len());
            tally.barrier().await.unwrap();
            (expected, closed, store.round(round.id).unwrap().unwrap())
        });
        prop_assert_eq!(closed.online, Some(expected));
        prop_assert_eq!(after.online, Some(expected));
        prop_assert_eq!(store.voter_record_count(), 0);
    }

    /// The same without the reaction lists at close: the order of events alone gives the
    /// reference result (the lists only matter for what the bot did not see).
    #[test]
    fn events_alone_give_the_reference(actions in prop::collection::vec(action(), 0..80)) {
        let dir = tempfile::tempdir().unwrap();
        let (store, round) = setup(dir.path());
        let rt = runtime();
        let (expected, closed) = rt.block_on(async {
            let tally = start(&store, None);
            tally.ready(BOT);
            let mut discord = Message::default();
            for a in &actions {
                if let Some(event) = discord.apply(a) {
                    tally.event(event);
                }
            }
            (discord.expected(), tally.close(round.id, None, Timestamp(9)).await.unwrap())
        });
        prop_assert_eq!(closed.online, Some(expected));
    }

    /// Part of the reactions happen while the bot is offline (their events never arrive); on
    /// coming back it holds, fetches the lists, resyncs; more live reactions follow, then the
    /// close. Whoever has one colour on the message at close is counted with exactly that
    /// colour; whoever has both is counted with one of them or as ambiguous; nobody else counts.
    #[test]
    fn offline_reactions_are_reconciled(
        before in prop::collection::vec(action(), 0..30),
        offline in prop::collection::vec(action(), 0..30),
        during_fetch in prop::collection::vec(action(), 0..10),
        after in prop::collection::vec(action(), 0..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (store, round) = setup(dir.path());
        let rt = runtime();
        let (discord, closed) = rt.block_on(async {
            let mut discord = Message::default();
            let tally = start(&store, None);
            tally.ready(BOT);
            for a in &before {
                if let Some(event) = discord.apply(a) {
                    tally.event(event);
                }
            }
            tally.barrier().await.unwrap();
            drop(tally);
            for a in &offline {
                discord.apply(a);
            }
            // Back online: a new task from what was stored.
            let tally = start(&store, None);
            tally.ready(BOT);
            tally.hold(round.id);
            // Reactions arriving while the lists are being fetched: some before the fetch
            // reads them (in the lists and as events), some after (events only).
            let split = during_fetch.len() / 2;
            for a in &during_fetch[..split] {
                if let Some(event) = discord.apply(a) {
                    tally.event(event);
                }
            }
            let lists = discord.lists();
            for a in &during_fetch[split..] {
                if let Some(event) = discord.apply(a) {
                    tally.event(event);
                }
            }
            tally.resync(round.id, Some(lists));
            for a in &after {
                if let Some(event) = discord.apply(a) {
                    tally.event(event);
                }
            }
            let closed = tally.close(round.id, Some(discord.lists()), Timestamp(9)).await.unwrap();
            (discord, closed)
        });
        let online = closed.online.unwrap();
        let mut least = OnlineCount::default();
        let mut both = 0;
        for user in 1..=6 {
            match discord.colours_of(user).as_slice() {
                [Colour::Agree] => least.agree += 1,
                [Colour::Disagree] => least.disagree += 1,
                [_, _] => both += 1,
                _ => {}
            }
        }
        prop_assert!(online.agree >= least.agree && online.disagree >= least.disagree);
        prop_assert_eq!(online.agree + online.disagree + online.ambiguous, least.agree + least.disagree + both);
        prop_assert!(online.ambiguous <= both);
    }
}

#[test]
fn many_votes_cost_few_flushes() {
    with_round(|store, round| async move {
        let tally = start(&store, None);
        tally.ready(BOT);
        let before = store.vote_flushes();
        for user in 0..2_000u64 {
            tally.reaction(RawReaction {
                channel_id: CHANNEL,
                message_id: MESSAGE,
                user_id: 10_000 + user,
                user_is_bot: false,
                emoji: if user % 3 == 0 { "🟥" } else { "🟩" }.into(),
                added: true,
            });
        }
        tally.barrier().await.unwrap();
        let flushes = store.vote_flushes() - before;
        assert!(flushes <= 2, "2000 votes took {flushes} flushes");
        let count = tally.count(round.id).await.unwrap().unwrap();
        assert_eq!((count.agree, count.disagree), (1_333, 667));
        // In the store, not only in the task's memory.
        assert_eq!(store.voter_states(round.id).unwrap().len(), 2_000);
    });
}

#[test]
fn a_change_of_mind_asks_to_remove_the_older_colour() {
    let dir = tempfile::tempdir().unwrap();
    let (store, round) = setup(dir.path());
    let rt = runtime();
    rt.block_on(async {
        let (cleanup_tx, mut cleanup_rx) = mpsc::channel(16);
        let tally = start(&store, Some(cleanup_tx));
        tally.ready(BOT);
        let mut discord = Message::default();
        for (emoji, added) in [("🟩", true), ("🟥", true)] {
            tally.reaction(discord.act(42, emoji, added).unwrap());
        }
        tally.barrier().await.unwrap();
        assert_eq!(
            cleanup_rx.try_recv().unwrap(),
            Cleanup {
                channel_id: CHANNEL,
                message_id: MESSAGE,
                user_id: 42,
                colour: Colour::Agree
            }
        );
        // The bot removes 🟩: the vote stays 🟥.
        tally.reaction(discord.act(42, "🟩", false).unwrap());
        let count = tally.count(round.id).await.unwrap().unwrap();
        assert_eq!((count.agree, count.disagree), (0, 1));
        assert!(cleanup_rx.try_recv().is_err());
    });
}

#[test]
fn a_full_cleanup_queue_never_blocks_counting() {
    with_round(|store, round| async move {
        // Nobody drains this queue of one.
        let (cleanup_tx, _cleanup_rx) = mpsc::channel(1);
        let tally = start(&store, Some(cleanup_tx));
        let mut discord = Message::default();
        for user in 0..500u64 {
            for emoji in ["🟩", "🟥"] {
                tally.reaction(discord.act(user, emoji, true).unwrap());
            }
        }
        let count = tally.count(round.id).await.unwrap().unwrap();
        assert_eq!((count.agree, count.disagree), (0, 500));
    });
}

#[test]
fn reactions_on_other_messages_and_closed_rounds_do_not_count() {
    with_round(|store, round| async move {
        let tally = start(&store, None);
        let mut other = Message::default();
        let mut event = other.act(1, "🟩", true).unwrap();
        event.message_id = MESSAGE + 1;
        tally.reaction(event);
        let closed = tally.close(round.id, None, Timestamp(5)).await.unwrap();
        assert_eq!(closed.online, Some(OnlineCount::default()));
        let mut discord = Message::default();
        tally.reaction(discord.act(2, "🟩", true).unwrap());
        tally.barrier().await.unwrap();
        assert_eq!(store.voter_record_count(), 0);
        assert!(matches!(
            tally.close(round.id, None, Timestamp(6)).await,
            Err(TallyError::Store(StoreError::RoundClosed(_)))
        ));
    });
}

#[test]
fn a_round_opened_later_counts_from_then_on() {
    with_round(|store, first| async move {
        let tally = start(&store, None);
        tally.close(first.id, None, Timestamp(2)).await.unwrap();
        let second = open_round(&store, first.session_id, MESSAGE + 10);
        tally.opened(second.clone());
        let mut discord = Message::default();
        let mut event = discord.act(3, "🟥", true).unwrap();
        event.message_id = second.message_id;
        tally.reaction(event);
        let count = tally.count(second.id).await.unwrap().unwrap();
        assert_eq!(count.disagree, 1);
    });
}

#[test]
fn the_cleanup_waits_while_the_round_is_held() {
    with_round(|store, round| async move {
        let tally = start(&store, None);
        let mut discord = Message::default();
        tally.reaction(discord.act(42, "🟩", true).unwrap());
        tally.reaction(discord.act(42, "🟥", true).unwrap());
        let request = Cleanup {
            channel_id: CHANNEL,
            message_id: MESSAGE,
            user_id: 42,
            colour: Colour::Agree,
        };
        assert!(tally.still_superseded(request.clone()).await.unwrap());
        tally.hold(round.id);
        // Held: the participant may just have taken 🟥 back, falling back to 🟩.
        tally.reaction(discord.act(42, "🟥", false).unwrap());
        assert!(!tally.still_superseded(request.clone()).await.unwrap());
        tally.resync(round.id, Some(discord.lists()));
        assert!(!tally.still_superseded(request).await.unwrap());
        let count = tally.count(round.id).await.unwrap().unwrap();
        assert_eq!((count.agree, count.disagree), (1, 0));
    });
}

#[test]
fn a_closed_round_forgets_its_secret() {
    with_round(|store, round| async move {
        let tally = start(&store, None);
        let mut discord = Message::default();
        tally.reaction(discord.act(42, "🟩", true).unwrap());
        tally.barrier().await.unwrap();
        let keys = RoundKeys::open(store.path()).unwrap();
        assert_eq!(keys.rounds(), [round.id.0]);
        let secret = hex::encode(keys.get_or_create(round.id.0).unwrap());
        tally
            .close(round.id, Some(discord.lists()), Timestamp(5))
            .await
            .unwrap();
        assert!(RoundKeys::open(store.path()).unwrap().rounds().is_empty());
        // Nowhere in the data folder: leftovers sled may keep cannot be linked to anyone.
        for entry in walk(store.path().parent().unwrap()) {
            let bytes = std::fs::read(&entry).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&secret),
                "the secret is still in {}",
                entry.display()
            );
        }
    });
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn what_waits_for_a_failed_write_keeps_only_each_voters_latest_state() {
    let (a, b) = (Pseudonym([1; 32]), Pseudonym([2; 32]));
    let (r1, r2) = (RoundId(1), RoundId(2));
    let agree = VoterState::default().added(Colour::Agree);
    let both = agree.added(Colour::Disagree);
    let none = both.removed(Colour::Disagree).removed(Colour::Agree);
    let changes = vec![
        (r1, a, agree),
        (r1, b, agree),
        (r1, a, both),
        (r2, a, agree),
        (r1, a, none),
    ];
    let latest: Vec<(RoundId, Pseudonym, u8)> = latest_only(changes)
        .into_iter()
        .map(|(r, v, s)| (r, v, s.to_byte()))
        .collect();
    assert_eq!(
        latest,
        [
            (r1, b, agree.to_byte()),
            (r2, a, agree.to_byte()),
            (r1, a, none.to_byte())
        ]
    );
}
