//! The bot on Discord: serenity glue around the [`Workshop`](crate::workshop::Workshop).
//!
//! Invariant: only this module (and `sim`, which plays Discord's part) knows about serenity.
//!
//! - `commands`: registration and parsing of the slash commands;
//! - `handler`: ready (forward reactions, register commands, reconcile), interactions;
//! - `chat`: the workshop's Discord calls over serenity's HTTP client;
//! - `cleanup`: best-effort removal of superseded reactions;
//! - `retry`: retrying calls that failed for a passing reason (429, 5xx), bounded.

pub mod chat;
pub mod cleanup;
pub mod commands;
mod handler;
pub mod retry;

use crate::round_keys::RoundKeys;
use crate::store::Store;
use crate::tally::TallyHandle;
use crate::voter_key::VoterKey;
use crate::workshop::Workshop;
use anyhow::Context as _;
use serenity::all::{ClientBuilder, GatewayIntents, HttpBuilder};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the bot logs when serenity could not read a gateway payload (tests look for it).
pub const DROPPED_EVENT: &str = "not understood by serenity";

/// What `stemkaart run` needs.
#[derive(Clone, Debug)]
pub struct Settings {
    pub token: String,
    /// Base URL of a Discord-compatible API (tests, the demo); `None` for Discord itself.
    pub api_url: Option<String>,
    /// Register the commands in this guild only (instant) instead of globally.
    pub guild_id: Option<u64>,
    /// Members with this role may run the commands, besides Manage Server / Administrator.
    pub facilitator_role: Option<u64>,
    pub db: PathBuf,
    pub statements: PathBuf,
    /// `STEMKAART_VOTER_KEY`, when set.
    pub voter_key: Option<String>,
}

/// The only gateway intents the bot asks for: no privileged intent.
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGE_REACTIONS
}

/// Run the bot until it is stopped (Ctrl-C or SIGTERM) or Discord refuses it.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let store = Store::open(&settings.db)?;
    let key = voter_key(&store, &settings)?;
    let round_keys = Arc::new(RoundKeys::open(&settings.db)?);
    let decks = crate::decks::load_folder(&settings.statements)?;
    for problem in &decks.problems {
        tracing::warn!("deck problem (this deck cannot be used until fixed): {problem}");
    }
    tracing::info!(
        "database {}, {} deck(s) in {}",
        settings.db.display(),
        decks.decks.len(),
        settings.statements.display()
    );

    // Kept: the bot sends some requests with it itself, to read Discord's retry_after.
    let web = reqwest::Client::builder()
        .use_rustls_tls()
        .build()
        .context("cannot set up the HTTP client")?;
    let mut http = HttpBuilder::new(&settings.token).client(web.clone());
    if let Some(base) = &settings.api_url {
        // serenity's rate limiter builds its own URLs to discord.com and ignores the proxy, so
        // it is turned off only when talking to a Discord-compatible server.
        http = http.proxy(base.as_str()).ratelimiter_disabled(true);
        tracing::info!("using the Discord-compatible API at {base}");
    }
    let bot = handler::Bot::new(&settings);
    let mut client = ClientBuilder::new_with_http(http.build(), intents())
        .event_handler(bot.clone())
        .await
        .context("cannot set up the Discord client")?;
    let http = client.http.clone();

    let (cleanup_tx, cleanup_rx) = mpsc::channel(1024);
    // Opt-in, for benchmarks: when the first N reaction events were durable (see crate::tally).
    let durable_log = std::env::var_os(crate::tally::DURABLE_LOG_ENV).map(PathBuf::from);
    let tally = TallyHandle::start_logged(
        store.clone(),
        key,
        round_keys,
        Some(cleanup_tx),
        durable_log.as_deref(),
    )?;
    let chat = chat::SerenityChat::new(http.clone(), web);
    tokio::spawn(storage_notices(store.clone(), chat.clone()));
    let workshop = Workshop::new(
        store.clone(),
        tally.clone(),
        chat,
        settings.statements.clone(),
    );
    tokio::spawn(cleanup::run(
        workshop.chat().clone(),
        tally.clone(),
        bot.manage.clone(),
        cleanup_rx,
    ));
    // Events only flow once the client starts, below.
    bot.attach(workshop);

    let shards = client.shard_manager.clone();
    let result = tokio::select! {
        result = client.start() => result.map_err(|err| anyhow::anyhow!(
            "Discord connection ended: {err} (check DISCORD_TOKEN{})",
            if settings.api_url.is_some() { " and DISCORD_API_URL" } else { "" }
        )),
        () = shutdown_signal() => {
            tracing::info!("stopping");
            shards.shutdown_all().await;
            Ok(())
        }
    };
    // Everything counted so far is on disk before the process ends.
    tally.barrier().await.ok();
    store.flush()?;
    result
}

/// When the database stops taking writes, say so in every channel with an open statement:
/// participants keep voting, but nothing is counted until the bot can store again.
async fn storage_notices(store: Store, chat: chat::SerenityChat) {
    use crate::workshop::Chat as _;
    let mut failure = store.watch_write_failure();
    while failure.changed().await.is_ok() {
        let Some(detail) = failure.borrow_and_update().clone() else {
            continue;
        };
        tracing::warn!(
            "the database cannot be written ({detail}); telling the channels with an open statement"
        );
        let mut channels = std::collections::BTreeMap::new();
        for round in store.open_rounds().unwrap_or_default() {
            let language = store
                .session(round.session_id)
                .ok()
                .flatten()
                .map_or(crate::domain::Language::Nl, |s| s.language);
            channels.insert(round.channel_id, language);
        }
        for (channel, language) in channels {
            let notice = crate::messages::storage_notice(language);
            if let Err(err) = chat.post(channel, &notice).await {
                tracing::warn!("could not post the storage notice: {err}");
            }
        }
    }
}

/// The voter key: from the variable, or the key file (created on first use — but not when the
/// database has open rounds counted with a key that went missing).
fn voter_key(store: &Store, settings: &Settings) -> anyhow::Result<VoterKey> {
    let env = settings.voter_key.as_deref();
    let key = match VoterKey::existing(&settings.db, env)? {
        Some(key) => key,
        None if store.has_voter_key()? && !store.open_rounds()?.is_empty() => anyhow::bail!(
            "the voter key file {} is missing and this database has open rounds counted with it; \
             put the file back (or set STEMKAART_VOTER_KEY to the key)",
            crate::voter_key::key_file_for(&settings.db).display()
        ),
        None => VoterKey::load(&settings.db, env)?,
    };
    store.check_voter_key(&key)?;
    Ok(key)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
