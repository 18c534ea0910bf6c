//! The `stemkaart` command line: parse flags, load settings, call into the library, print.

use crate::config::{self, FileConfig};
use crate::decks;
use crate::domain::{export, Language};
use crate::store::Store;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Live green/red card polling for hybrid workshops on Discord.
#[derive(Debug, Parser)]
#[command(name = "stemkaart", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The database folder [default: data/stemkaart.db]
    #[arg(long, global = true, env = "STEMKAART_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The folder with the deck files [default: statements]
    #[arg(long, global = true, env = "STEMKAART_STATEMENTS", value_name = "DIR")]
    pub statements: Option<PathBuf>,
    /// A TOML config file [default: stemkaart.toml when present]
    #[arg(long, global = true, env = "STEMKAART_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the decks in the statements folder and check them; exits non-zero on any problem.
    Decks,
    /// List the stored sessions.
    Sessions,
    /// Run the Discord bot (needs DISCORD_TOKEN).
    Run(RunArgs),
    /// Write the result chart of every session and the comparison charts of every deck (PNG).
    Charts {
        /// Only this deck's sessions and comparisons.
        #[arg(long, value_name = "DECK")]
        deck: Option<String>,
        /// The folder to write to.
        #[arg(long, value_name = "DIR", default_value = "charts")]
        out: PathBuf,
        /// The language of the charts: nl or en.
        #[arg(long, value_name = "LANG", default_value = "nl", value_parser = parse_language)]
        lang: Language,
    },
    /// Play a simulated workshop tour of four municipalities against the in-repo
    /// Discord-compatible server (no Discord account needed); writes charts and CSV.
    Demo {
        /// The folder to write the charts and the CSV to.
        #[arg(long, value_name = "DIR", default_value = "charts")]
        out: PathBuf,
    },
    /// Serve the in-repo Discord-compatible server on 127.0.0.1 until stopped, and print how
    /// to point `stemkaart run` at it.
    Sim,
    /// Write the results of every closed round as CSV (counts only).
    Export {
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of a Discord-compatible API instead of Discord, e.g. http://127.0.0.1:8080
    #[arg(long, env = "DISCORD_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// Register the commands in this guild only (shows instantly) instead of globally
    #[arg(long, env = "STEMKAART_GUILD_ID", value_name = "ID")]
    pub guild_id: Option<u64>,
    /// Members with this role id may run the commands (besides Manage Server / Administrator)
    #[arg(long, env = "STEMKAART_FACILITATOR_ROLE", value_name = "ROLE_ID")]
    pub facilitator_role: Option<u64>,
}

/// Settings every subcommand shares, resolved: flag, then variable, then file, then default.
pub struct Paths {
    pub db: PathBuf,
    pub statements: PathBuf,
    pub file: FileConfig,
}

impl Common {
    pub fn resolve(&self) -> anyhow::Result<Paths> {
        let file = FileConfig::load(self.config.as_deref())?;
        Ok(Paths {
            db: self
                .db
                .clone()
                .or_else(|| file.db.clone())
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DB)),
            statements: self
                .statements
                .clone()
                .or_else(|| file.statements.clone())
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_STATEMENTS)),
            file,
        })
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        init_logging("warn");
    }
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Crates whose DEBUG logs carry user ids (gateway payloads, URLs of reaction requests).
const PAYLOAD_LOGGERS: [&str; 8] = [
    "serenity",
    "tungstenite",
    "tokio_tungstenite",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "axum",
];

/// Log to standard error; `RUST_LOG` overrides the default level.
///
/// The libraries that talk to Discord are capped at INFO whatever `RUST_LOG` says, and their
/// spans are not shown: at DEBUG, and in their span fields, they carry gateway payloads and
/// request routes that hold raw user ids.
pub fn init_logging(default: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let wanted = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Allocation-free, and with the level hint of `wanted`: records of the `log` crate (which
    // tungstenite uses for every frame) have no callsite whose interest could be cached, so
    // without the hint every one of them would reach this filter; with it, `log` drops them
    // before they are even formatted.
    let hint =
        tracing_subscriber::layer::Filter::<tracing_subscriber::Registry>::max_level_hint(&wanted);
    let mut private = tracing_subscriber::filter::filter_fn(|meta| {
        let target = meta.target();
        let payloads = PAYLOAD_LOGGERS.iter().any(|crate_name| {
            target
                .strip_prefix(crate_name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        });
        !payloads || (!meta.is_span() && *meta.level() <= tracing::Level::INFO)
    });
    if let Some(hint) = hint {
        private = private.with_max_level_hint(hint);
    }
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(wanted)
        .with_filter(private);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = cli.common.resolve()?;
    match cli.command {
        Command::Run(args) => run_bot(paths, args),
        Command::Decks => list_decks(&paths.statements),
        Command::Sessions => list_sessions(&paths.db),
        Command::Export { out } => export_csv(&paths.db, out.as_deref()),
        Command::Charts { deck, out, lang } => write_charts(&paths, deck.as_deref(), &out, lang),
        Command::Sim => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let sim = crate::sim::Sim::start().await?;
                let channel = sim.new_channel("workshop");
                println!(
                    "Discord-compatible server on {} (Ctrl-C stops it)",
                    sim.base_url()
                );
                println!(
                    "guild {}, channel #workshop {channel}; run the bot against it with:",
                    sim.guild_id()
                );
                println!(
                    "  DISCORD_TOKEN={} DISCORD_API_URL={} STEMKAART_GUILD_ID={} stemkaart run",
                    sim.token(),
                    sim.base_url(),
                    sim.guild_id()
                );
                tokio::select! {
                    () = sim.serve_forever() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { out } => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(crate::demo::run(crate::demo::Options {
                out,
                statements: paths.statements,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_language(value: &str) -> Result<Language, String> {
    Language::parse(value).ok_or_else(|| format!("`{value}` is not a language here: use nl or en"))
}

fn write_charts(
    paths: &Paths,
    deck: Option<&str>,
    out: &Path,
    lang: Language,
) -> anyhow::Result<ExitCode> {
    let Some(store) = Store::open_existing(&paths.db)? else {
        println!(
            "No sessions yet ({} does not exist): nothing to draw.",
            paths.db.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    // Missing or broken deck files do not stop the charts: rounds carry their own texts.
    let decks = crate::decks::load_folder(&paths.statements).unwrap_or_default();
    let charts = crate::reports::write_charts(
        &store,
        &decks,
        deck,
        out,
        &crate::reports::Mark::plain(lang),
    )?;
    if charts.written.is_empty() && charts.failed.is_empty() {
        println!("No session has a closed statement yet: nothing to draw.");
    }
    for file in &charts.written {
        println!("wrote {file}");
    }
    for failure in &charts.failed {
        let mut text = failure.to_string();
        let mut source = std::error::Error::source(failure);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        eprintln!("error: {text}");
    }
    if charts.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} of {} charts could not be drawn; the others were written",
            charts.failed.len(),
            charts.failed.len() + charts.written.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Exit code for a missing or wrong setting.
const SETTINGS_EXIT: u8 = 2;

fn run_bot(paths: Paths, args: RunArgs) -> anyhow::Result<ExitCode> {
    let token = match std::env::var("DISCORD_TOKEN") {
        Ok(token) if !token.trim().is_empty() => token.trim().to_string(),
        _ => {
            eprintln!("error: DISCORD_TOKEN is not set: put the bot token of your Discord application in it (see README)");
            return Ok(ExitCode::from(SETTINGS_EXIT));
        }
    };
    let api_url = match args.api_url.or(paths.file.api_url.clone()) {
        Some(url) => match config::parse_api_url(&url) {
            Ok(url) => Some(url),
            Err(err) => {
                eprintln!("error: {err}");
                return Ok(ExitCode::from(SETTINGS_EXIT));
            }
        },
        None => None,
    };
    let settings = crate::discord::Settings {
        token,
        api_url,
        guild_id: args.guild_id.or(paths.file.guild_id),
        facilitator_role: args.facilitator_role.or(paths.file.facilitator_role),
        db: paths.db,
        statements: paths.statements,
        voter_key: std::env::var(crate::voter_key::KEY_ENV).ok(),
    };
    init_logging("info");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(crate::discord::run(settings))?;
    Ok(ExitCode::SUCCESS)
}

fn list_decks(folder: &Path) -> anyhow::Result<ExitCode> {
    let set = decks::load_folder(folder)?;
    let mut out = std::io::stdout().lock();
    if set.decks.is_empty() {
        writeln!(out, "No valid decks in {}.", folder.display())?;
    }
    let width = set
        .decks
        .keys()
        .map(|id| id.chars().count())
        .max()
        .unwrap_or(0);
    for deck in set.decks.values() {
        let count = deck.statements.len();
        let noun = if count == 1 {
            "statement"
        } else {
            "statements"
        };
        writeln!(
            out,
            "{:width$}  {count:>3} {noun:<10}  {}",
            deck.id, deck.title
        )?;
    }
    if set.problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut err = std::io::stderr().lock();
    for problem in &set.problems {
        writeln!(err, "{problem}")?;
    }
    let files: std::collections::BTreeSet<_> = set.problems.iter().map(|p| &p.file).collect();
    writeln!(
        err,
        "{} problem{} in {} file{}; {} deck{} loaded",
        set.problems.len(),
        plural(set.problems.len()),
        files.len(),
        plural(files.len()),
        set.decks.len(),
        plural(set.decks.len()),
    )?;
    Ok(ExitCode::FAILURE)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn list_sessions(db: &Path) -> anyhow::Result<ExitCode> {
    let Some(store) = Store::open_existing(db)? else {
        println!("No sessions yet ({} does not exist).", db.display());
        return Ok(ExitCode::SUCCESS);
    };
    let sessions = store.sessions_with_rounds()?;
    if sessions.is_empty() {
        println!("No sessions yet in {}.", db.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "municipality".to_string(),
        "label".into(),
        "date".into(),
        "deck".into(),
        "rounds".into(),
        "votes".into(),
        "status".into(),
    ]];
    for (session, rounds) in &sessions {
        let closed: Vec<_> = rounds.iter().filter_map(|r| r.result()).collect();
        let votes: u32 = closed.iter().map(|r| r.total().n()).sum();
        let open = rounds.len() - closed.len();
        rows.push([
            session.municipality.to_string(),
            session.label.clone().unwrap_or_else(|| "-".into()),
            session.started_at.date_nl(),
            session.deck_id.clone(),
            if open > 0 {
                format!("{} (+{open} open)", closed.len())
            } else {
                closed.len().to_string()
            },
            votes.to_string(),
            if session.is_open() { "open" } else { "ended" }.into(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(ExitCode::SUCCESS)
}

/// Left-aligned columns separated by two spaces.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn export_csv(db: &Path, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let text = match Store::open_existing(db)? {
        Some(store) => export::csv(&store.sessions_with_rounds()?),
        None => export::csv(&[]),
    };
    match out {
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
        Some(path) => {
            write_file(path, text.as_bytes())?;
            let rows = text.lines().count() - 1;
            eprintln!("wrote {} ({rows} row{})", path.display(), plural(rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Write a file whole or not at all (write a temporary file, then rename).
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the folder {}", parent.display()))?;
    }
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
