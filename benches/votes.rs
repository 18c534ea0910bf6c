//! Counting votes on a real sled database in a temporary folder (criterion):
//!
//! - `votes/group_commit_1000`: 1000 participants react through the vote task, arriving in
//!   bursts of 10 (the task runs between bursts, as it would between gateway frames); the
//!   task applies what is queued and flushes once per batch. Timed until all are durable.
//! - `votes/flush_per_vote_1000`: the same 1000 votes stored one by one, one flush each —
//!   what durability would cost without group commit.
//!
//! Run: `cargo bench --bench votes`. The ratio of the two is what group commit buys.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::path::Path;
use std::sync::Arc;
use stemkaart::domain::{Colour, Language, Municipality, Round, Timestamp, VoterState, Wording};
use stemkaart::round_keys::RoundKeys;
use stemkaart::store::{NewRound, NewSession, Store};
use stemkaart::tally::{RawReaction, TallyHandle};
use stemkaart::voter_key::VoterKey;

const VOTES: u64 = 1000;
const CHANNEL: u64 = 42;
const MESSAGE: u64 = 4242;

fn key() -> VoterKey {
    VoterKey::load(Path::new("unused"), Some("benchmark key, long enough")).unwrap()
}

fn setup() -> (tempfile::TempDir, Store, Round) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let session = store
        .create_session(NewSession {
            municipality: Municipality::parse("Arnhem").unwrap(),
            label: None,
            deck_id: "vertrouwen".into(),
            deck_title: "Vertrouwen".into(),
            language: Language::Nl,
            guild_id: 1,
            channel_id: CHANNEL,
            started_at: Timestamp(0),
        })
        .unwrap();
    let round = store
        .open_round(NewRound {
            session_id: session.id,
            statement_id: "s1".into(),
            position: 1,
            deck_size: 3,
            text: "Stelling".into(),
            wording: Wording::of("Stelling"),
            channel_id: CHANNEL,
            message_id: MESSAGE,
            opened_at: Timestamp(1),
        })
        .unwrap();
    (dir, store, round)
}

fn votes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("votes");
    group.sample_size(10);
    group.bench_function("group_commit_1000", |b| {
        b.iter_batched(
            || {
                let (dir, store, round) = setup();
                let round_keys = Arc::new(RoundKeys::open(store.path()).unwrap());
                let tally = rt
                    .block_on(async { TallyHandle::start(store.clone(), key(), round_keys, None) });
                (dir, store, round, tally.unwrap())
            },
            |(_dir, store, round, tally)| {
                rt.block_on(async {
                    for user in 0..VOTES {
                        tally.reaction(RawReaction {
                            channel_id: CHANNEL,
                            message_id: MESSAGE,
                            user_id: 1_180_000_000_000_000_000 + user,
                            user_is_bot: false,
                            emoji: if user % 3 == 0 { "🟥" } else { "🟩" }.into(),
                            added: true,
                        });
                        if user % 10 == 9 {
                            tokio::task::yield_now().await;
                        }
                    }
                    tally.barrier().await.unwrap();
                    let count = tally.count(round.id).await.unwrap().unwrap();
                    assert_eq!(u64::from(count.agree + count.disagree), VOTES);
                });
                store
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("flush_per_vote_1000", |b| {
        let key = key();
        b.iter_batched(
            setup,
            |(_dir, store, round)| {
                rt.block_on(async {
                    let secret = [7u8; 32];
                    for user in 0..VOTES {
                        let voter = key.pseudonym(&secret, 1_180_000_000_000_000_000 + user);
                        let state = VoterState::One(Colour::Agree);
                        store
                            .apply_votes(&[(round.id, voter, state)])
                            .await
                            .unwrap();
                    }
                });
                store
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, votes);
criterion_main!(benches);
