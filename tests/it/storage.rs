//! Fault 4, a full disk and a database folder the bot may not write to: the real bot with a
//! real file size limit (`RLIMIT_FSIZE`, so sled's writes fail with EFBIG as on a full disk)
//! and a real read-only folder. The bot says it cannot store votes, reports no result it
//! could not store, and after a restart with room again every vote comes back from Discord.

use crate::harness::{last_statement, limited, Crowd, Harness};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use stemkaart::sim::SimUser;

/// What the bot says in the channel when storing fails.
const NOTICE: &str = "De bot kan op dit moment geen stemmen opslaan";
/// What a facilitator's command gets meanwhile.
const CANNOT_STORE: &str = "De bot kan niets meer opslaan: de schijf is vol";

fn db_dir(h: &Harness) -> PathBuf {
    h.dir.path().join("data/stemkaart.db")
}

/// Lower (or raise) a running process's soft file size limit; the hard limit stays.
fn set_file_size_limit(pid: u32, bytes: u64) {
    let pid = pid as libc::pid_t;
    // SAFETY: prlimit with valid pointers to plain structs.
    unsafe {
        let mut old = std::mem::zeroed::<libc::rlimit>();
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, std::ptr::null(), &mut old),
            0
        );
        let new = libc::rlimit {
            rlim_cur: bytes as libc::rlim_t,
            rlim_max: old.rlim_max,
        };
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, &new, std::ptr::null_mut()),
            0,
            "prlimit: {}",
            std::io::Error::last_os_error()
        );
    }
}

async fn vote_changing_minds(crowd: &mut Crowd, h: &Harness, message: u64, people: &[SimUser]) {
    for (i, p) in people.iter().enumerate() {
        match i % 4 {
            0 => crowd.add(h, message, p, "🟩").await,
            1 => crowd.add(h, message, p, "🟥").await,
            2 => {
                crowd.add(h, message, p, "🟩").await;
                crowd.add(h, message, p, "🟥").await;
            }
            _ => {
                crowd.add(h, message, p, "🟥").await;
                crowd.remove(h, message, p, "🟥").await;
            }
        }
    }
}

/// Wait until the bot has removed the older colour of everyone who changed their mind: the
/// message then shows each vote unambiguously, also to a bot that restarts.
async fn one_colour_each(h: &Harness, statement: u64, people: &[SimUser]) {
    h.eventually("one colour per person", |sim| {
        let agree = sim.reaction_users(statement, "🟩");
        let disagree = sim.reaction_users(statement, "🟥");
        people
            .iter()
            .all(|p| !(agree.contains(&p.id) && disagree.contains(&p.id)))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_nothing_is_pretended_and_no_vote_is_lost() {
    let mut h = Harness::start().await;
    let statement = h.first_statement("Zutphen").await;
    let people = h.people(24);
    let mut crowd = Crowd::default();
    vote_changing_minds(&mut crowd, &h, statement, &people[..8]).await;
    one_colour_each(&h, statement, &people[..8]).await;

    // Restart the bot with SIGXFSZ ignored, then fill the disk: from now on no write to a
    // file succeeds (sled writes its log into segments it may reuse, inside the file).
    h.stop();
    h.file_size_limit = Some(u64::MAX);
    h.spawn_bot().await;
    set_file_size_limit(h.bot_pid(), 0);

    vote_changing_minds(&mut crowd, &h, statement, &people[8..]).await;
    h.eventually("the storage notice in the channel", |sim| {
        sim.messages(h.channel)
            .iter()
            .any(|m| m.content.contains(NOTICE))
    })
    .await;

    // No result that could not be stored; the facilitator is told what to do.
    for (command, options) in [
        ("statement close", json!({})),
        ("statement next", json!({})),
        ("room", json!({"agree": 3, "disagree": 1})),
        ("session end", json!({})),
    ] {
        let reply = h.facilitate(command, options).await;
        assert!(
            reply.content.starts_with(CANNOT_STORE) && reply.content.contains("herstarten"),
            "/{command}: {}",
            reply.content
        );
        assert!(!reply.content.contains("n="), "{}", reply.content);
    }
    assert_eq!(
        last_statement(&h).id,
        statement,
        "no statement posted meanwhile"
    );
    assert!(h.log_text().contains("File too large"), "{}", h.log_text());

    // The older colours were removed from the message (the cleanup does not need the disk),
    // so Discord's reactions show each vote unambiguously.
    one_colour_each(&h, statement, &people).await;

    // Room again: restart without the limit; the reconciliation reads every vote back.
    h.kill9();
    h.file_size_limit = None;
    h.spawn_bot().await;
    h.close_and_check(&crowd).await;
    let reply = h.facilitate("statement next", json!({})).await;
    assert!(reply.content.contains("Stelling 2/3"), "{}", reply.content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_or_read_only_folder_at_start_up_is_a_clear_error() {
    let mut h = Harness::start().await;
    let statement = h.first_statement("Brummen").await;
    let mut crowd = Crowd::default();
    let people = h.people(6);
    vote_changing_minds(&mut crowd, &h, statement, &people).await;
    one_colour_each(&h, statement, &people).await;
    h.stop();

    // No file may grow.
    let output = limited(&h.bot_command(), 0).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot write to the database data/stemkaart.db (file too large: the file size limit is reached")
            && stderr.contains("): the disk is full or the folder is not writable; make room"),
        "{stderr}"
    );

    // A read-only folder. Root ignores file modes, so as root the bot runs as `nobody`.
    let db = db_dir(&h);
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(h.dir.path(), 0o755);
    mode(&h.dir.path().join("data"), 0o755);
    // As root the bot runs as `nobody`, who then owns the data, so that only the folder's
    // mode (not the files' owner) stands in its way.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        chown_all(&h.dir.path().join("data"), 65534);
    }
    mode(&db, 0o555);
    // `nobody` must reach the binary and the decks wherever the repository was cloned (a home
    // folder may be private), so it runs copies of them from the test's folder.
    let template = h.bot_command();
    let bin = h.dir.path().join("stemkaart-copy");
    std::fs::copy(template.get_program(), &bin).unwrap();
    mode(&bin, 0o755);
    let decks = h.dir.path().join("statements-copy");
    std::fs::create_dir(&decks).unwrap();
    for deck in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("statements")).unwrap()
    {
        let deck = deck.unwrap().path();
        let copy = decks.join(deck.file_name().unwrap());
        std::fs::copy(&deck, &copy).unwrap();
        mode(&copy, 0o644);
    }
    mode(&decks, 0o755);
    let mut command = Command::new(&bin);
    command
        .args(template.get_args())
        .current_dir(h.dir.path())
        .env_clear();
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    command.env("STEMKAART_STATEMENTS", &decks);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            if libc::geteuid() == 0
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command.output().unwrap();
    mode(&db, 0o755);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot write to the database data/stemkaart.db (permission denied): the disk is full or the folder is not writable"),
        "{stderr}"
    );

    // Nothing was lost by the refused starts.
    h.spawn_bot().await;
    h.close_and_check(&crowd).await;
}

/// `chown -R uid:uid path`.
fn chown_all(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_all(&entry.unwrap().path(), uid);
        }
    }
}
