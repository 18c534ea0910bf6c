//! Workshop flows against an in-memory chat and a real sled store.

use super::*;
use crate::tally::RawReaction;
use crate::voter_key::VoterKey;
use std::path::Path;

const GUILD: u64 = 1;
const CHANNEL: u64 = 10;
const BOT: u64 = 99;

/// An in-memory chat: messages and who reacted with what.
#[derive(Default)]
struct FakeChat {
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    next_id: u64,
    messages: HashMap<u64, String>,
    edits: HashMap<u64, usize>,
    reactions: HashMap<(u64, String), Vec<ListedUser>>,
    fail_reactions_read: bool,
    fail_posts: bool,
}

impl FakeChat {
    fn content(&self, message: u64) -> String {
        self.state.lock().unwrap().messages[&message].clone()
    }

    /// A participant reacts on "Discord": the list changes (the event is sent separately).
    fn set(&self, message: u64, emoji: &str, user: u64, present: bool) {
        let mut state = self.state.lock().unwrap();
        let list = state.reactions.entry((message, emoji.into())).or_default();
        list.retain(|u| u.id != user);
        if present {
            list.push(ListedUser {
                id: user,
                bot: user == BOT,
            });
        }
    }
}

impl Chat for FakeChat {
    async fn post(&self, _channel: u64, content: &str) -> std::result::Result<u64, ChatError> {
        // Like a real request, give other tasks a turn (so concurrent commands interleave).
        tokio::task::yield_now().await;
        let mut state = self.state.lock().unwrap();
        if state.fail_posts {
            return Err(ChatError::new(
                ChatFailure::MissingPermissions,
                "403 Missing Permissions (code 50013)",
            ));
        }
        state.next_id += 1;
        let id = 1_000 + state.next_id;
        state.messages.insert(id, content.to_string());
        Ok(id)
    }

    async fn edit(
        &self,
        _channel: u64,
        message: u64,
        content: &str,
    ) -> std::result::Result<(), ChatError> {
        let mut state = self.state.lock().unwrap();
        state.messages.insert(message, content.to_string());
        *state.edits.entry(message).or_default() += 1;
        Ok(())
    }

    async fn react(
        &self,
        _channel: u64,
        message: u64,
        emoji: &str,
    ) -> std::result::Result<(), ChatError> {
        self.set(message, emoji, BOT, true);
        Ok(())
    }

    async fn reactions(
        &self,
        _channel: u64,
        message: u64,
        emoji: &str,
    ) -> std::result::Result<Vec<ListedUser>, ChatError> {
        let state = self.state.lock().unwrap();
        if state.fail_reactions_read {
            return Err(ChatError::new(
                ChatFailure::Unavailable,
                "503 Service Unavailable",
            ));
        }
        Ok(state
            .reactions
            .get(&(message, emoji.to_string()))
            .cloned()
            .unwrap_or_default())
    }
}

fn setup(dir: &Path) -> Workshop<FakeChat> {
    let store = Store::open(&dir.join("db")).unwrap();
    let key = VoterKey::load(Path::new("unused"), Some("workshop test key, long")).unwrap();
    let round_keys = std::sync::Arc::new(crate::round_keys::RoundKeys::open(store.path()).unwrap());
    let tally = TallyHandle::start(store.clone(), key, round_keys, None).unwrap();
    tally.ready(BOT);
    let statements = Path::new(env!("CARGO_MANIFEST_DIR")).join("statements");
    Workshop::new(store, tally, FakeChat::default(), statements)
}

/// A participant reacts: Discord's list changes and the event goes to the vote task.
fn vote(w: &Workshop<FakeChat>, message: u64, user: u64, emoji: &str, added: bool) {
    w.chat().set(message, emoji, user, added);
    w.tally().reaction(RawReaction {
        channel_id: CHANNEL,
        message_id: message,
        user_id: user,
        user_is_bot: false,
        emoji: emoji.into(),
        added,
    });
}

/// `/statement next` at time `at`, which must succeed.
async fn next(w: &Workshop<FakeChat>, at: i64) -> Posted {
    w.post_statement(CHANNEL, Which::Next, Timestamp(at))
        .await
        .unwrap()
}

async fn start(w: &Workshop<FakeChat>) -> Session {
    w.start_session(
        GUILD,
        CHANNEL,
        " Súdwest Fryslân ",
        "vertrouwen",
        Some("Raadsavond"),
        Timestamp(1),
    )
    .await
    .unwrap()
    .0
}

#[tokio::test]
async fn a_whole_round_from_post_to_close() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    let session = start(&w).await;
    assert_eq!(session.municipality.as_str(), "Súdwest Fryslân");
    let posted = next(&w, 2).await;
    let message = posted.round.message_id;
    assert_eq!(posted.round.position, 1);
    assert!(posted.closed.is_none());
    let content = w.chat().content(message);
    assert!(content.contains("Stelling 1/3"), "{content}");
    assert!(content.contains("Ik ervaar dat het vertrouwen van inwoners in de gemeente of lokale institutie de afgelopen jaren is afgenomen"));

    vote(&w, message, 1, "🟩", true);
    vote(&w, message, 2, "🟩", true);
    vote(&w, message, 2, "🟥", true); // change of mind
    vote(&w, message, 3, "🟥", true);
    vote(&w, message, 3, "🟥", false); // withdrawn
    vote(&w, message, 4, "👍", true); // other emoji

    let (_, closed) = w.close_statement(CHANNEL, Timestamp(3)).await.unwrap();
    let online = closed.round.online.unwrap();
    assert_eq!((online.agree, online.disagree, online.ambiguous), (1, 1, 0));
    let content = w.chat().content(message);
    assert!(
        content.contains("gesloten") && content.contains("🟩 1 · 🟥 1 · n=2"),
        "{content}"
    );
    assert!(closed.unchecked.is_none());
    // A reaction after close changes nothing: no record, no count.
    vote(&w, message, 5, "🟩", true);
    w.tally().barrier().await.unwrap();
    assert_eq!(w.store().voter_record_count(), 0);
    assert_eq!(w.tally().count(closed.round.id).await.unwrap(), None);
    let stored = w.store().round(closed.round.id).unwrap().unwrap();
    assert_eq!(stored.online, Some(online));
    assert!(matches!(
        w.close_statement(CHANNEL, Timestamp(4)).await,
        Err(WorkshopError::NoOpenRound)
    ));
}

#[tokio::test]
async fn posting_closes_the_open_round_and_refuses_closed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    let first = w
        .post_statement(CHANNEL, Which::Position(2), Timestamp(2))
        .await
        .unwrap();
    vote(&w, first.round.message_id, 1, "🟥", true);
    let second = next(&w, 3).await;
    assert_eq!(second.round.position, 3);
    let closed = second.closed.expect("the open round is closed first");
    assert_eq!(closed.round.position, 2);
    assert_eq!(closed.round.online.unwrap().disagree, 1);
    assert!(matches!(
        w.post_statement(CHANNEL, Which::Position(2), Timestamp(4))
            .await,
        Err(WorkshopError::Post(PostError::AlreadyClosed {
            position: 2
        }))
    ));
    assert!(matches!(
        w.post_statement(CHANNEL, Which::Position(3), Timestamp(4))
            .await,
        Err(WorkshopError::Post(PostError::AlreadyOpen { position: 3 }))
    ));
    assert!(matches!(
        w.post_statement(CHANNEL, Which::Next, Timestamp(4)).await,
        Err(WorkshopError::Post(PostError::NoneLeft { last: 3, .. }))
    ));
    let third = w
        .post_statement(CHANNEL, Which::Position(1), Timestamp(5))
        .await
        .unwrap();
    assert_eq!(third.closed.unwrap().round.position, 3);
}

#[tokio::test]
async fn room_counts_are_set_not_added() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    assert!(matches!(
        w.set_room(CHANNEL, Tally::new(1, 1)).await,
        Err(WorkshopError::NoRoundYet)
    ));
    let posted = next(&w, 2).await;
    vote(&w, posted.round.message_id, 1, "🟩", true);
    w.set_room(CHANNEL, Tally::new(10, 2)).await.unwrap();
    let (_, closed) = w.close_statement(CHANNEL, Timestamp(3)).await.unwrap();
    assert_eq!(closed.round.result().unwrap().total(), Tally::new(11, 2));
    // Typed again on the closed round: corrected, and the message shows it.
    let (_, corrected) = w.set_room(CHANNEL, Tally::new(7, 3)).await.unwrap();
    assert_eq!(corrected.result().unwrap().total(), Tally::new(8, 3));
    let content = w.chat().content(posted.round.message_id);
    assert!(content.contains("🟩 8 · 🟥 3 · n=11"), "{content}");
}

#[tokio::test]
async fn ending_closes_the_open_round_and_frees_the_channel() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    let posted = next(&w, 2).await;
    vote(&w, posted.round.message_id, 1, "🟩", true);
    w.tally().barrier().await.unwrap();
    assert_eq!(w.store().voter_record_count(), 1);
    let ended = w.end_session(CHANNEL, Timestamp(3)).await.unwrap();
    assert_eq!(ended.closed.unwrap().round.online.unwrap().agree, 1);
    assert_eq!(ended.session.ended_at, Some(Timestamp(3)));
    assert_eq!(w.store().voter_record_count(), 0);
    assert!(matches!(
        w.check_end(CHANNEL),
        Err(WorkshopError::NoSession)
    ));
    assert!(matches!(
        w.post_statement(CHANNEL, Which::Next, Timestamp(4)).await,
        Err(WorkshopError::NoSession)
    ));
    start(&w).await;
}

#[tokio::test]
async fn offline_reactions_count_after_reconciliation() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    let posted = next(&w, 2).await;
    let message = posted.round.message_id;
    vote(&w, message, 1, "🟩", true);
    vote(&w, message, 2, "🟩", true);
    w.tally().barrier().await.unwrap();
    // While "offline": the lists change, no events arrive.
    w.chat().set(message, "🟩", 1, false);
    w.chat().set(message, "🟥", 3, true);
    w.chat().set(message, "🟩", 4, true);
    w.chat().set(message, "🟥", 4, true);
    assert_eq!(w.reconcile_open_rounds().await.unwrap(), 1);
    let count = w.tally().count(posted.round.id).await.unwrap().unwrap();
    assert_eq!((count.agree, count.disagree, count.ambiguous), (1, 1, 1));
}

#[tokio::test]
async fn when_discord_cannot_be_read_the_seen_votes_stand() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    let posted = next(&w, 2).await;
    vote(&w, posted.round.message_id, 1, "🟥", true);
    w.chat().state.lock().unwrap().fail_reactions_read = true;
    let (_, closed) = w.close_statement(CHANNEL, Timestamp(3)).await.unwrap();
    assert_eq!(closed.round.online.unwrap().disagree, 1);
    assert!(
        closed.unchecked.is_some(),
        "the facilitator is told the lists were not read"
    );
}

#[tokio::test]
async fn wrong_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    match w
        .start_session(GUILD, CHANNEL, "Arnhem", "onbekend", None, Timestamp(1))
        .await
    {
        Err(WorkshopError::UnknownDeck { available, .. }) => assert_eq!(available, ["vertrouwen"]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.start_session(GUILD, CHANNEL, "   ", "vertrouwen", None, Timestamp(1))
            .await,
        Err(WorkshopError::Municipality(_))
    ));
    assert!(w.store().sessions().unwrap().is_empty());
    start(&w).await;
    assert!(matches!(
        w.start_session(GUILD, CHANNEL, "Delft", "vertrouwen", None, Timestamp(2))
            .await,
        Err(WorkshopError::SessionOpen { .. })
    ));
    assert!(matches!(
        w.post_statement(CHANNEL, Which::Position(4), Timestamp(2))
            .await,
        Err(WorkshopError::Post(PostError::NoSuchPosition {
            position: 4,
            deck_size: 3
        }))
    ));
    assert_eq!(w.store().sessions().unwrap().len(), 1);
    assert!(w.store().open_rounds().unwrap().is_empty());
}

#[tokio::test]
async fn two_facilitators_at_once_post_two_different_statements() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    let (a, b) = tokio::join!(
        w.post_statement(CHANNEL, Which::Next, Timestamp(2)),
        w.post_statement(CHANNEL, Which::Next, Timestamp(2))
    );
    let mut positions = [a.unwrap().round.position, b.unwrap().round.position];
    positions.sort();
    assert_eq!(positions, [1, 2]);
    let session = w.check_end(CHANNEL).unwrap();
    let rounds = w.store().rounds_of(session.id).unwrap();
    assert_eq!(rounds.iter().filter(|r| r.is_open()).count(), 1);
}

#[tokio::test]
async fn the_room_count_can_follow_the_end_of_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    next(&w, 2).await;
    w.end_session(CHANNEL, Timestamp(3)).await.unwrap();
    let (_, round) = w.set_room(CHANNEL, Tally::new(9, 4)).await.unwrap();
    assert_eq!(round.result().unwrap().total(), Tally::new(9, 4));
    assert!(matches!(
        setup(&dir.path().join("other"))
            .set_room(CHANNEL, Tally::new(1, 1))
            .await,
        Err(WorkshopError::NoSession)
    ));
}

#[tokio::test]
async fn a_refused_post_still_reports_the_round_it_closed() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    let first = next(&w, 2).await;
    vote(&w, first.round.message_id, 1, "🟩", true);
    w.chat().state.lock().unwrap().fail_posts = true;
    match w.post_statement(CHANNEL, Which::Next, Timestamp(3)).await {
        Err(WorkshopError::PostFailed {
            closed: Some(closed),
            error,
        }) => {
            assert_eq!(closed.round.online.unwrap().agree, 1);
            assert!(error.text.contains("50013"));
        }
        other => panic!("{other:?}"),
    }
    // Nothing half-done: statement 2 is still the next one.
    w.chat().state.lock().unwrap().fail_posts = false;
    let second = next(&w, 4).await;
    assert_eq!(second.round.position, 2);
    assert!(second.closed.is_none());
}

#[tokio::test]
async fn a_reaction_before_the_round_is_recorded_counts_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let w = setup(dir.path());
    start(&w).await;
    // The statement message will be 1001; a participant is faster than the bot.
    w.tally().posting(CHANNEL);
    vote(&w, 1_001, 1, "🟩", true);
    vote(&w, 1_002, 2, "🟩", true); // some other message in the channel: not a vote
    let posted = next(&w, 2).await;
    assert_eq!(posted.round.message_id, 1_001);
    vote(&w, 1_001, 1, "🟥", true); // then changes their mind
    let (_, closed) = w.close_statement(CHANNEL, Timestamp(3)).await.unwrap();
    let online = closed.round.online.unwrap();
    assert_eq!((online.agree, online.disagree, online.ambiguous), (0, 1, 0));
}
