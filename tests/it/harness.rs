//! Runs the real `stemkaart` binary against the in-repo Discord-compatible server.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stemkaart::sim::{Reply, Sim, SimConfig, SimUser};

/// What the bot logs when serenity could not read a gateway payload.
pub const DROPPED: &str = "not understood by serenity";
/// What the bot logs when it is ready (commands registered, open rounds reconciled).
pub const READY: &str = "ready:";

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Harness {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    pub channel: u64,
    pub facilitator: SimUser,
    pub extra_env: Vec<(String, String)>,
    /// Start the bot with this `RLIMIT_FSIZE` (bytes, rounded down to 512-byte blocks;
    /// `u64::MAX`: unlimited) and SIGXFSZ ignored: a write past it fails with EFBIG, as on a
    /// full disk.
    pub file_size_limit: Option<u64>,
    child: Option<Child>,
    /// Reads the running bot's stderr into `log`; joined when the bot ends, so that `log`
    /// then holds all it wrote.
    reader: Option<std::thread::JoinHandle<()>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    /// A server whose command list does not hide commands from ordinary members (so the
    /// bot's own refusal is what is tested), a channel, a facilitator, and the bot running.
    pub async fn start() -> Harness {
        Self::start_env(Vec::new()).await
    }

    pub async fn start_env(extra_env: Vec<(String, String)>) -> Harness {
        Self::start_with(SimConfig::default(), extra_env).await
    }

    /// [`Harness::start_env`] with the server configured by `config` (commands are never
    /// hidden from ordinary members, whatever it says).
    pub async fn start_with(config: SimConfig, extra_env: Vec<(String, String)>) -> Harness {
        let config = SimConfig {
            enforce_command_permissions: false,
            ..config
        };
        let sim = Sim::start_with(config).await.expect("start the server");
        let channel = sim.new_channel("workshop");
        let facilitator = sim.user("gespreksleider").permissions(
            stemkaart::sim::perms::MEMBER_DEFAULT | stemkaart::sim::perms::MANAGE_GUILD,
        );
        let mut harness = Harness {
            sim,
            dir: tempfile::tempdir().unwrap(),
            channel,
            facilitator,
            extra_env,
            file_size_limit: None,
            child: None,
            reader: None,
            log: Arc::default(),
        };
        harness.spawn_bot().await;
        harness
    }

    /// The `stemkaart run` command with this harness's environment.
    pub fn bot_command(&self) -> Command {
        let statements = Path::new(env!("CARGO_MANIFEST_DIR")).join("statements");
        let mut command = Command::new(env!("CARGO_BIN_EXE_stemkaart"));
        command
            .arg("run")
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DISCORD_TOKEN", self.sim.token())
            .env("DISCORD_API_URL", self.sim.base_url())
            .env("STEMKAART_GUILD_ID", self.sim.guild_id().to_string())
            .env("STEMKAART_STATEMENTS", statements)
            .env("RUST_LOG", "info");
        for (k, v) in &self.extra_env {
            // An empty value unsets the variable (e.g. no STEMKAART_GUILD_ID: global commands).
            if v.is_empty() {
                command.env_remove(k);
            } else {
                command.env(k, v);
            }
        }
        command
    }

    /// Start the bot process and wait until it is ready (reactions forwarded, commands
    /// registered, open rounds reconciled).
    pub async fn spawn_bot(&mut self) {
        let readies = self.log_count(READY);
        self.launch_bot();
        self.wait_log(READY, readies + 1).await;
    }

    /// Start the bot process without waiting for anything.
    pub fn launch_bot(&mut self) {
        assert!(self.child.is_none(), "the bot is already running");
        let mut command = self.bot_command();
        if let Some(limit) = self.file_size_limit {
            command = limited(&command, limit);
        }
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start stemkaart run");
        let stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        self.reader = Some(std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        }));
        self.child = Some(child);
    }

    /// The bot's database folder.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("data").join("stemkaart.db")
    }

    /// Wait for the ended bot's stderr to be read to the end.
    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// Wait until the bot has logged `needle` at least `n` times.
    pub async fn wait_log(&mut self, needle: &str, n: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.log_count(needle) >= n {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "the bot exited ({status}) before `{needle}`:\n{}",
                        self.log_text()
                    );
                }
            }
            if Instant::now() > deadline {
                panic!("no `{needle}` #{n} in the bot's log:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The running bot's process id.
    pub fn bot_pid(&self) -> u32 {
        self.child.as_ref().expect("the bot is running").id()
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("the bot is running");
        child.kill().unwrap();
        child.wait().unwrap();
        self.join_reader();
    }

    /// A polite stop (SIGTERM), waiting for the process to end.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("the bot is running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = child.wait().unwrap();
        self.join_reader();
        assert!(
            status.success(),
            "the bot ended with {status}:\n{}",
            self.log_text()
        );
    }

    pub async fn run(&self, user: &SimUser, command: &str, options: Value) -> Reply {
        match self.sim.command(self.channel, user, command, options).await {
            Ok(reply) => reply,
            Err(err) => panic!("/{command}: {err:#}\nbot log:\n{}", self.log_text()),
        }
    }

    /// As the facilitator.
    pub async fn facilitate(&self, command: &str, options: Value) -> Reply {
        self.run(&self.facilitator, command, options).await
    }

    /// Start a session in `municipality` with the shipped deck and post its first statement;
    /// returns the statement message's id.
    /// `/session start` with the shipped deck in the harness's channel.
    pub async fn start_session(&self, municipality: &str) -> Reply {
        self.facilitate(
            "session start",
            serde_json::json!({"municipality": municipality, "deck": "vertrouwen"}),
        )
        .await
    }

    pub async fn first_statement(&self, municipality: &str) -> u64 {
        self.start_session(municipality).await;
        self.facilitate("statement next", serde_json::json!({}))
            .await;
        last_statement(self).id
    }

    /// `n` new members.
    pub fn people(&self, n: usize) -> Vec<SimUser> {
        (0..n).map(|i| self.sim.user(&format!("p{i}"))).collect()
    }

    /// Close the open statement; its totals must be what the crowd gave.
    pub async fn close_and_check(&self, crowd: &Crowd) -> Reply {
        let reply = self
            .facilitate("statement close", serde_json::json!({}))
            .await;
        let (agree, disagree) = crowd.expected();
        assert_eq!(
            totals(&reply.content),
            (agree, disagree, agree + disagree),
            "{}",
            reply.content
        );
        reply
    }

    /// The bot never logged a payload serenity dropped, nor an error.
    pub fn check_log(&self) {
        let log = self.log_text();
        assert!(!log.contains(DROPPED), "serenity dropped a payload:\n{log}");
        assert!(!log.contains(" ERROR "), "the bot logged an error:\n{log}");
    }

    pub async fn eventually(&self, what: &str, mut done: impl FnMut(&Sim) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.sim) {
            if Instant::now() > deadline {
                panic!("{what} did not happen; bot log:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `command` run through `sh` with a file size limit; an ignored signal stays ignored across
/// `exec`, so the bot sees EFBIG instead of being killed by SIGXFSZ.
pub fn limited(command: &Command, bytes: u64) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {}; exec \"$0\" \"$@\"",
            if bytes == u64::MAX {
                "unlimited".to_string()
            } else {
                (bytes / 512).to_string()
            }
        ))
        .arg(command.get_program())
        .args(command.get_args())
        .env_clear();
    if let Some(dir) = command.get_current_dir() {
        sh.current_dir(dir);
    }
    for (k, v) in command.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    sh
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- bot log ----\n{}", self.log_text());
        }
    }
}

/// Participants' reactions as Discord keeps them, to compute what the result must be: a
/// participant's vote is the most recently added of their 🟩/🟥 still on the message.
#[derive(Default)]
pub struct Crowd {
    present: std::collections::BTreeMap<(u64, String), u64>,
    clock: u64,
    bots: std::collections::BTreeSet<u64>,
}

impl Crowd {
    pub async fn add(&mut self, h: &Harness, message: u64, user: &SimUser, emoji: &str) {
        h.sim.react(h.channel, message, user, emoji).await.unwrap();
        self.clock += 1;
        self.present
            .entry((user.id, emoji.into()))
            .or_insert(self.clock);
        if user.bot {
            self.bots.insert(user.id);
        }
    }

    pub async fn remove(&mut self, h: &Harness, message: u64, user: &SimUser, emoji: &str) {
        h.sim
            .unreact(h.channel, message, user, emoji)
            .await
            .unwrap();
        self.present.remove(&(user.id, emoji.into()));
    }

    /// (agree, disagree) by the rules.
    pub fn expected(&self) -> (u32, u32) {
        let mut latest: std::collections::BTreeMap<u64, (u64, bool)> = Default::default();
        for ((user, emoji), at) in &self.present {
            let agree = match emoji.as_str() {
                "🟩" => true,
                "🟥" => false,
                _ => continue,
            };
            if self.bots.contains(user) {
                continue;
            }
            let entry = latest.entry(*user).or_insert((*at, agree));
            if *at > entry.0 {
                *entry = (*at, agree);
            }
        }
        let agree = latest.values().filter(|(_, a)| *a).count() as u32;
        (agree, latest.len() as u32 - agree)
    }
}

/// The totals in a result text: `🟩 a · 🟥 d · n=N`.
pub fn totals(text: &str) -> (u32, u32, u32) {
    let line = text
        .lines()
        .find(|l| l.contains("n="))
        .unwrap_or_else(|| panic!("no result in: {text}"));
    let number_after = |marker: &str| -> u32 {
        let start = line
            .find(marker)
            .unwrap_or_else(|| panic!("no `{marker}` in: {line}"))
            + marker.len();
        line[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("no number after `{marker}` in: {line}"))
    };
    (number_after("🟩 "), number_after("🟥 "), number_after("n="))
}

/// The statement message the bot posted last in the channel.
pub fn last_statement(h: &Harness) -> stemkaart::sim::SimMessage {
    h.sim
        .messages(h.channel)
        .into_iter()
        .rev()
        .find(|m| m.author_id == h.sim.bot_user_id() && m.content.contains("/3**"))
        .expect("a statement message")
}

/// Every file under `dir` with its bytes, sorted by path.
pub fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
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
