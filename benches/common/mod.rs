//! Shared by the load benches (`ingest`, `history`): the machine, the bot process, figures.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stemkaart::sim::Sim;

/// A fixed voter key, so the bench can recompute pseudonyms to check the stored votes.
pub const VOTER_KEY: &str = "bench-voter-key-0123456789abcdef";

/// What the bot logs when serenity could not read a gateway payload.
pub const DROPPED: &str = "not understood by serenity";

/// An env var as a number, or the default.
pub fn param(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

/// `nproc`, CPU model, RAM, kernel, rustc and the date, one line each.
pub fn machine() -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let rustc = run_text("rustc", &["--version"]);
    let date = run_text("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    vec![
        format!(
            "machine:  {cores} cores (nproc), {model}, {:.1} GiB RAM, Linux {kernel}",
            mem_kb as f64 / 1048576.0
        ),
        format!("rustc:    {rustc}"),
        format!(
            "date:     {date}; load average before the run {}",
            load.join(" ")
        ),
    ]
}

fn run_text(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// The `stemkaart` binary cargo built for this bench (the bench profile: release).
pub fn stemkaart_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stemkaart"))
}

/// `VmHWM` (peak RSS) and `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time (user + system) a process has used so far, in seconds (`/proc/<pid>/stat`;
/// `None` for the calling process itself).
pub fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    let hz = 100.0;
    (ticks(11) + ticks(12)) / hz
}

/// The real bot (`stemkaart run`) against the server, its log kept in memory.
pub struct Bot {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Bot {
    /// Start `stemkaart run` on `db` with the shipped (or given) statements and wait until it
    /// is ready (commands registered, open rounds reconciled).
    pub async fn start(sim: &Sim, db: &Path, statements: &Path, extra: &[(&str, String)]) -> Bot {
        let mut command = Command::new(stemkaart_bin());
        command
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DISCORD_TOKEN", sim.token())
            .env("DISCORD_API_URL", sim.base_url())
            .env("STEMKAART_GUILD_ID", sim.guild_id().to_string())
            .env("STEMKAART_DB", db)
            .env("STEMKAART_STATEMENTS", statements)
            .env("STEMKAART_VOTER_KEY", VOTER_KEY)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start stemkaart run");
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut bot = Bot { child, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while bot.count("ready:") == 0 {
            if let Ok(Some(status)) = bot.child.try_wait() {
                panic!("the bot exited ({status}):\n{}", bot.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "bot not ready:\n{}",
                bot.log_text()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bot
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn count(&self, needle: &str) -> usize {
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

    /// SIGKILL: no chance to flush or close anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The `q` quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

/// A small deterministic generator (xorshift64*), so every run pushes the same stream.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}
