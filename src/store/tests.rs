//! Store tests against a real sled database in a temporary folder.

use super::*;
use crate::domain::Colour;

fn new_session(channel: u64, municipality: &str) -> NewSession {
    NewSession {
        municipality: Municipality::parse(municipality).unwrap(),
        label: Some("Raadsavond".into()),
        deck_id: "vertrouwen".into(),
        deck_title: "Werken aan meer vertrouwen".into(),
        language: crate::domain::Language::Nl,
        guild_id: 7,
        channel_id: channel,
        started_at: Timestamp(1_000),
    }
}

fn new_round(session: SessionId, position: u32, message_id: u64) -> NewRound {
    NewRound {
        session_id: session,
        statement_id: format!("s{position}"),
        position,
        deck_size: 3,
        text: format!("Stelling {position}"),
        wording: Wording::of(&format!("Stelling {position}")),
        channel_id: 55,
        message_id,
        opened_at: Timestamp(2_000),
    }
}

const ROUND_SECRET: [u8; 32] = [9; 32];

fn key() -> VoterKey {
    VoterKey::load(Path::new("unused"), Some("test key, long enough")).unwrap()
}

/// Every file under `dir` with its bytes, sorted by path.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn everything_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stemkaart.db");
    let key = key();
    let (session, round) = {
        let store = Store::open(&path).unwrap();
        let session = store
            .create_session(new_session(55, "Súdwest Fryslân"))
            .unwrap();
        let round = store.open_round(new_round(session.id, 1, 900)).unwrap();
        store
            .apply_votes(&[
                (
                    round.id,
                    key.pseudonym(&ROUND_SECRET, 1),
                    VoterState::One(Colour::Agree),
                ),
                (
                    round.id,
                    key.pseudonym(&ROUND_SECRET, 2),
                    VoterState::Both {
                        latest: Colour::Disagree,
                    },
                ),
            ])
            .await
            .unwrap();
        store.set_room(round.id, Tally::new(4, 2)).unwrap();
        (session, round)
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.sessions().unwrap(), vec![session.clone()]);
    assert_eq!(store.open_session(55).unwrap(), Some(session.clone()));
    let open = store.open_rounds().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].room, Some(Tally::new(4, 2)));
    let mut states = store.voter_states(round.id).unwrap();
    states.sort_by_key(|(v, _)| *v);
    let mut expected = vec![
        (
            key.pseudonym(&ROUND_SECRET, 1),
            VoterState::One(Colour::Agree),
        ),
        (
            key.pseudonym(&ROUND_SECRET, 2),
            VoterState::Both {
                latest: Colour::Disagree,
            },
        ),
    ];
    expected.sort_by_key(|(v, _)| *v);
    assert_eq!(states, expected);
    assert_eq!(store.rounds_of(session.id).unwrap(), open);
}

#[tokio::test]
async fn closing_and_ending_remove_voter_records_and_keep_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let key = key();
    let session = store.create_session(new_session(55, "Arnhem")).unwrap();
    let first = store.open_round(new_round(session.id, 1, 901)).unwrap();
    let voters: Vec<_> = (0..10)
        .map(|i| {
            (
                first.id,
                key.pseudonym(&ROUND_SECRET, i),
                VoterState::One(Colour::Agree),
            )
        })
        .collect();
    store.apply_votes(&voters).await.unwrap();
    let online = OnlineCount {
        agree: 10,
        disagree: 0,
        ambiguous: 0,
    };
    let closed = store
        .close_round(first.id, online, Timestamp(3_000))
        .unwrap();
    assert_eq!(closed.online, Some(online));
    assert_eq!(store.voter_record_count(), 0);
    assert!(store.open_rounds().unwrap().is_empty());
    assert!(matches!(
        store.close_round(first.id, online, Timestamp(3_001)),
        Err(StoreError::RoundClosed(_))
    ));

    // A session with an open round cannot end: only the vote task closes rounds.
    let second = store.open_round(new_round(session.id, 2, 902)).unwrap();
    store
        .apply_votes(&[(
            second.id,
            key.pseudonym(&ROUND_SECRET, 1),
            VoterState::One(Colour::Disagree),
        )])
        .await
        .unwrap();
    assert!(matches!(
        store.end_session(session.id, Timestamp(4_000)),
        Err(StoreError::RoundOpen(_))
    ));
    assert_eq!(
        store.open_session(55).unwrap().map(|s| s.id),
        Some(session.id)
    );
    let second_online = OnlineCount {
        agree: 0,
        disagree: 1,
        ambiguous: 0,
    };
    store
        .close_round(second.id, second_online, Timestamp(3_500))
        .unwrap();
    let ended = store.end_session(session.id, Timestamp(4_000)).unwrap();
    assert_eq!(ended.ended_at, Some(Timestamp(4_000)));
    assert_eq!(store.voter_record_count(), 0);
    assert_eq!(store.open_session(55).unwrap(), None);
    let rounds = store.rounds_of(session.id).unwrap();
    assert_eq!(rounds[0].online, Some(online));
    assert_eq!(rounds[1].online, Some(second_online));
    // The channel is free for the next session.
    store.create_session(new_session(55, "Eindhoven")).unwrap();
}

#[tokio::test]
async fn one_open_session_per_channel() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    store.create_session(new_session(1, "Arnhem")).unwrap();
    store.create_session(new_session(2, "Delft")).unwrap();
    match store.create_session(new_session(1, "Breda")) {
        Err(StoreError::ChannelBusy { municipality, .. }) => assert_eq!(municipality, "Arnhem"),
        other => panic!("expected ChannelBusy, got {other:?}"),
    }
    assert_eq!(store.sessions().unwrap().len(), 2);
}

#[tokio::test]
async fn raw_user_ids_never_reach_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let key = key();
    // Realistic Discord snowflakes.
    let users: Vec<u64> = (0..50)
        .map(|i| 1_180_000_000_000_000_000 + i * 7_919)
        .collect();
    {
        let store = Store::open(&path).unwrap();
        let session = store.create_session(new_session(55, "Arnhem")).unwrap();
        let round = store.open_round(new_round(session.id, 1, 903)).unwrap();
        let changes: Vec<_> = users
            .iter()
            .map(|u| {
                (
                    round.id,
                    key.pseudonym(&ROUND_SECRET, *u),
                    VoterState::One(Colour::Agree),
                )
            })
            .collect();
        store.apply_votes(&changes).await.unwrap();
        assert_eq!(store.voter_record_count(), users.len());
    }
    let all: Vec<u8> = files(&path)
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect();
    for user in &users {
        for needle in [
            user.to_string().into_bytes(),
            user.to_be_bytes().to_vec(),
            user.to_le_bytes().to_vec(),
        ] {
            assert!(
                !all.windows(needle.len()).any(|w| w == needle.as_slice()),
                "user id {user} found in the database files"
            );
        }
    }
    // ...while the pseudonyms are there, so the scan can see what it looks for.
    let pseudonym = key.pseudonym(&ROUND_SECRET, users[0]).0;
    assert!(all.windows(32).any(|w| w == pseudonym));
}

#[test]
fn a_newer_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        store.create_session(new_session(1, "Arnhem")).unwrap();
        // What a future stemkaart would leave behind.
        store
            .inner
            .db
            .insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes())
            .unwrap();
        store.flush().unwrap();
        std::fs::write(path.join(SCHEMA_FILE), format!("{}\n", SCHEMA_VERSION + 1)).unwrap();
    }
    let before = files(&path);
    let err = Store::open(&path)
        .err()
        .expect("newer database must be refused");
    assert!(
        matches!(
            err,
            StoreError::Newer {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("newer stemkaart") && message.contains("not changed"),
        "{message}"
    );
    assert_eq!(files(&path), before, "the files changed");

    // Without the plain schema file the version key still refuses it.
    std::fs::remove_file(path.join(SCHEMA_FILE)).unwrap();
    assert!(matches!(Store::open(&path), Err(StoreError::Newer { .. })));
}

#[test]
fn a_damaged_database_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        store.create_session(new_session(1, "Arnhem")).unwrap();
    }
    let db_file = path.join("db");
    let mut bytes = std::fs::read(&db_file).unwrap();
    for b in bytes.iter_mut().take(4096) {
        *b = 0xAB;
    }
    std::fs::write(&db_file, bytes).unwrap();
    let err = Store::open(&path)
        .err()
        .expect("damaged database must be refused");
    assert!(err.to_string().contains("is damaged"), "{err}");

    let file = dir.path().join("plain-file");
    std::fs::write(&file, "hello").unwrap();
    let err = Store::open(&file).err().expect("a file is not a database");
    assert!(
        err.to_string().contains("not a stemkaart database"),
        "{err}"
    );
}

#[test]
fn a_second_open_gets_the_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let _first = Store::open(&path).unwrap();
    let err = Store::open(&path).err().expect("second open must fail");
    assert_eq!(
        err.to_string(),
        format!(
            "another stemkaart process is using {}; stop it first (while the bot runs, use /export in Discord)",
            path.display()
        )
    );
}

#[test]
fn open_existing_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    assert!(Store::open_existing(&path).unwrap().is_none());
    assert!(!path.exists());
}

#[tokio::test]
async fn interrupted_close_leftovers_are_swept_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let key = key();
    {
        let store = Store::open(&path).unwrap();
        let session = store.create_session(new_session(1, "Arnhem")).unwrap();
        let round = store.open_round(new_round(session.id, 1, 904)).unwrap();
        store
            .apply_votes(&[(
                round.id,
                key.pseudonym(&ROUND_SECRET, 1),
                VoterState::One(Colour::Agree),
            )])
            .await
            .unwrap();
        // Close without removing the voter records, as a crash half-way would.
        let round = store.round(round.id).unwrap().unwrap();
        store
            .finish_round(round, OnlineCount::default(), Timestamp(5))
            .unwrap();
        store.flush().unwrap();
        assert_eq!(store.voter_record_count(), 1);
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.voter_record_count(), 0);
}

#[test]
fn a_folder_with_other_files_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = Store::open(dir.path()).err().expect("refused");
    assert!(
        err.to_string().contains("a folder with other files in it"),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "nothing was written");
    // An empty folder is fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    Store::open(&empty).unwrap();
}

#[test]
fn a_different_voter_key_is_taken_over_when_no_round_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    store.check_voter_key(&key()).unwrap();
    let other = VoterKey::load(Path::new("unused"), Some("some other long key")).unwrap();
    store.check_voter_key(&other).unwrap();
    let session = store.create_session(new_session(1, "Arnhem")).unwrap();
    store.open_round(new_round(session.id, 1, 905)).unwrap();
    assert!(matches!(
        store.check_voter_key(&key()),
        Err(StoreError::WrongVoterKey { .. })
    ));
}

#[test]
fn a_pending_post_survives_a_reopen_and_goes_with_its_round() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stemkaart.db");
    let store = Store::open(&path).unwrap();
    let session = store.create_session(new_session(55, "Arnhem")).unwrap();
    let round = new_round(session.id, 1, 900);
    let pending = PendingPost {
        nonce: "abc123".into(),
        content: "**Stelling 1/3**".into(),
        session_id: session.id,
        statement_id: round.statement_id.clone(),
        position: round.position,
        deck_size: round.deck_size,
        text: round.text.clone(),
        wording: round.wording.clone(),
        channel_id: 55,
        opened_at: round.opened_at,
    };
    store.begin_post(&pending).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.pending_posts().unwrap(),
        std::slice::from_ref(&pending)
    );
    let opened = store.open_round(pending.round(900)).unwrap();
    assert_eq!((opened.message_id, opened.position), (900, 1));
    assert!(
        store.pending_posts().unwrap().is_empty(),
        "recorded with its round"
    );
    store.begin_post(&pending).unwrap();
    store.drop_post(55).unwrap();
    assert!(store.pending_posts().unwrap().is_empty());
}
