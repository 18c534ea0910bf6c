//! Gateway events: ready, interactions (slash commands and autocomplete), and the reaction
//! forwarding that keeps votes in gateway order.

use super::chat::{describe, SerenityChat};
use super::cleanup::ManageMessages;
use super::commands::{self, Command};
use super::Settings;
use crate::charts::data::Style;
use crate::domain::session::Tally;
use crate::domain::Language;
use crate::messages::{self, reply_language};
use crate::reports;
use crate::tally::{RawReaction, VoteEvent};
use crate::workshop::{now, Which, Workshop, WorkshopError};
use serenity::all::{
    CollectorCallback, CommandInteraction, Context, CreateAllowedMentions,
    CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage, Event,
    EventHandler, GuildId, Interaction, Permissions, Reaction, ReactionType, Ready,
};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

#[derive(Clone)]
pub struct Bot {
    /// Set once, before the client starts: the workshop needs the client's HTTP handle, and
    /// the client needs this handler.
    slot: Arc<OnceLock<Workshop<SerenityChat>>>,
    guild_id: Option<u64>,
    facilitator_role: Option<u64>,
    pub manage: ManageMessages,
    /// Which reaction forwarder is current: each ready installs a new one and retires the
    /// one before (which may still be attached to a resumed shard).
    forwarder: Arc<AtomicU64>,
}

/// A reply: text and maybe a file.
pub struct Reply {
    pub text: String,
    pub file: Option<(Vec<u8>, String)>,
}

impl Reply {
    fn text(text: String) -> Reply {
        Reply { text, file: None }
    }
}

impl Bot {
    pub fn new(settings: &Settings) -> Bot {
        Bot {
            slot: Arc::new(OnceLock::new()),
            guild_id: settings.guild_id,
            facilitator_role: settings.facilitator_role,
            manage: ManageMessages::default(),
            forwarder: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn attach(&self, workshop: Workshop<SerenityChat>) {
        if self.slot.set(workshop).is_err() {
            panic!("the workshop is attached once");
        }
    }

    fn chat(&self) -> &SerenityChat {
        self.workshop().chat()
    }

    fn workshop(&self) -> &Workshop<SerenityChat> {
        self.slot
            .get()
            .expect("the workshop is attached before the client starts")
    }

    /// Forward reaction events to the vote task synchronously, in gateway order, before
    /// serenity dispatches them to handlers (which run each in their own task, unordered);
    /// and log gateway payloads serenity could not read.
    fn forward_reactions(&self, ctx: &Context) {
        let generation = self.forwarder.fetch_add(1, Ordering::SeqCst) + 1;
        let current = self.forwarder.clone();
        let workshop = self.workshop().clone();
        ctx.shard
            .add_collector(CollectorCallback(Box::new(move |event| {
                if current.load(Ordering::SeqCst) != generation {
                    return false;
                }
                match event {
                    Event::ReactionAdd(add) => forward(&workshop, &add.reaction, true),
                    Event::ReactionRemove(remove) => forward(&workshop, &remove.reaction, false),
                    // Someone with Manage Messages removed all reactions, or all of one emoji.
                    Event::ReactionRemoveAll(all) => workshop.tally().event(VoteEvent::Cleared {
                        channel_id: all.channel_id.get(),
                        message_id: all.message_id.get(),
                        emoji: None,
                    }),
                    Event::ReactionRemoveEmoji(removed) => {
                        let reaction = &removed.reaction;
                        workshop.tally().event(VoteEvent::Cleared {
                            channel_id: reaction.channel_id.get(),
                            message_id: reaction.message_id.get(),
                            emoji: Some(emoji_name(&reaction.emoji)),
                        })
                    }
                    // A payload serenity could not read becomes an unknown event and is
                    // dropped without running any handler, which would silently lose votes or
                    // commands. Only the event type: the payload may hold user ids. (Watched
                    // here, where every event passes anyway, rather than in a raw event
                    // handler, which would cost a copy of every event and a task.)
                    Event::Unknown(unknown) => tracing::warn!(
                        "gateway event {} {}; dropped",
                        unknown.kind,
                        super::DROPPED_EVENT
                    ),
                    _ => {}
                }
                true
            })));
    }

    async fn register_commands(&self, ctx: &Context) {
        let definitions = commands::definitions();
        let result = match self.guild_id {
            Some(guild) => GuildId::new(guild)
                .set_commands(&ctx.http, definitions)
                .await
                .map(|c| format!("{} commands registered in guild {guild}", c.len())),
            None => serenity::all::Command::set_global_commands(&ctx.http, definitions)
                .await
                .map(|c| {
                    format!(
                        "{} commands registered globally (Discord may take a while to show them)",
                        c.len()
                    )
                }),
        };
        match result {
            Ok(done) => tracing::info!("{done}"),
            Err(err) => {
                tracing::error!("could not register the slash commands: {}", describe(&err))
            }
        }
    }

    fn is_facilitator(&self, command: &CommandInteraction) -> bool {
        let Some(member) = &command.member else {
            return false;
        };
        let permissions = member.permissions.unwrap_or_else(Permissions::empty);
        permissions.manage_guild()
            || permissions.administrator()
            || self
                .facilitator_role
                .is_some_and(|role| member.roles.iter().any(|r| r.get() == role))
    }

    /// Who may act here: a facilitator, in a server channel, of the configured server, on
    /// this server's own sessions. `Ok(guild)` or the refusal to show.
    fn access(&self, command: &CommandInteraction) -> Result<u64, String> {
        let lang = reply_language(&command.locale);
        let Some(guild) = command.guild_id.map(|g| g.get()) else {
            return Err(messages::guild_only(lang));
        };
        // Commands are registered in the configured server only; anything else is foreign.
        if self.guild_id.is_some_and(|configured| configured != guild) {
            return Err(messages::other_server(lang));
        }
        if !self.is_facilitator(command) {
            return Err(messages::not_a_facilitator(lang));
        }
        // Discord never mixes one server's channel with another's id; should an interaction
        // do so anyway, a session of another server stays out of reach.
        let channel = command.channel_id.get();
        match self.workshop().store().current_or_latest_session(channel) {
            Ok(Some(session)) if session.guild_id != guild => Err(messages::other_server(lang)),
            Ok(_) => Ok(guild),
            // Whose session it is cannot be read: refuse rather than let it through.
            Err(err) => Err(messages::error(lang, &err.into())),
        }
    }

    async fn command(&self, command: CommandInteraction) {
        let lang = reply_language(&command.locale);
        let channel = command.channel_id.get();
        if let Some(permissions) = command.app_permissions {
            self.manage.set(channel, permissions.manage_messages());
        }
        let guild = match self.access(&command) {
            Ok(guild) => guild,
            Err(refusal) => return refuse(self.chat(), &command, refusal).await,
        };
        let parsed = match commands::parse(&command.data.name, &command.data.options) {
            Ok(parsed) => parsed,
            Err(err) => {
                tracing::warn!("unexpected command data: {err}");
                let text = messages::not_understood(lang, &err.to_string());
                return refuse(self.chat(), &command, text).await;
            }
        };
        let w = self.workshop();
        match parsed {
            Command::SessionStart {
                municipality,
                deck,
                label,
            } => {
                let check = w.check_start(channel, &municipality, &deck, label.as_deref());
                respond(self.chat(), &command, lang, false, check, |_| async {
                    let (session, deck) = w
                        .start_session(
                            guild,
                            channel,
                            &municipality,
                            &deck,
                            label.as_deref(),
                            now(),
                        )
                        .await?;
                    Ok(Reply::text(messages::session_started(
                        lang,
                        &session,
                        deck.len(),
                    )))
                })
                .await
            }
            Command::SessionEnd => {
                respond(
                    self.chat(),
                    &command,
                    lang,
                    false,
                    w.check_end(channel),
                    |_| async {
                        let ended = w.end_session(channel, now()).await?;
                        Ok(Reply::text(messages::session_ended(lang, &ended)))
                    },
                )
                .await
            }
            Command::StatementNext | Command::StatementPost { .. } => {
                let which = match parsed {
                    Command::StatementPost { number } => Which::Position(number),
                    _ => Which::Next,
                };
                respond(
                    self.chat(),
                    &command,
                    lang,
                    true,
                    w.check_post(channel, which),
                    |_| async {
                        let posted = w.post_statement(channel, which, now()).await?;
                        let mut text = messages::posted(lang, &posted);
                        if !self.manage.allowed(channel) {
                            text.push_str(&messages::no_manage_messages(lang));
                        }
                        Ok(Reply::text(text))
                    },
                )
                .await
            }
            Command::StatementClose => {
                respond(
                    self.chat(),
                    &command,
                    lang,
                    false,
                    w.check_close(channel),
                    |_| async {
                        let (_, closed) = w.close_statement(channel, now()).await?;
                        Ok(Reply::text(messages::closed(lang, &closed)))
                    },
                )
                .await
            }
            Command::Room { agree, disagree } => {
                respond(
                    self.chat(),
                    &command,
                    lang,
                    false,
                    w.check_room(channel),
                    |_| async {
                        let (_, round) = w.set_room(channel, Tally::new(agree, disagree)).await?;
                        Ok(Reply::text(messages::room_set(lang, &round)))
                    },
                )
                .await
            }
            Command::Results => {
                respond(
                    self.chat(),
                    &command,
                    lang,
                    false,
                    w.results_of(channel),
                    |(session, rounds)| async {
                        let summary = messages::results_summary(lang, &session, &rounds);
                        let name = reports::session_file_name(&session, "", true);
                        let style = Style {
                            language: lang,
                            simulated: false,
                        };
                        let png = reports::render_session_png(session, rounds, style)
                            .await?
                            .ok_or(WorkshopError::NoSessionInChannel)?;
                        Ok(Reply {
                            text: summary,
                            file: Some((png, name)),
                        })
                    },
                )
                .await
            }
            Command::Compare { deck, statement } => {
                let style = Style {
                    language: lang,
                    simulated: false,
                };
                let check = w.compare_of(guild, channel, deck.as_deref(), statement, &style);
                respond(
                    self.chat(),
                    &command,
                    lang,
                    false,
                    check,
                    |chart| async move {
                        let summary = messages::compare_summary(lang, &chart);
                        let name = match statement {
                            Some(n) => format!("vergelijking-stelling-{n}.png"),
                            None => "vergelijking.png".to_string(),
                        };
                        let png = reports::render_compare_png(chart).await?;
                        Ok(Reply {
                            text: summary,
                            file: Some((png, name)),
                        })
                    },
                )
                .await
            }
            Command::Export => {
                respond(self.chat(), &command, lang, true, Ok(()), |()| async {
                    let csv = w.export(guild)?;
                    let rows = csv.lines().count().saturating_sub(1);
                    let name = format!("stemkaart-export-{}.csv", now().date_iso());
                    Ok(Reply {
                        text: messages::export_ready(lang, rows),
                        file: Some((csv.into_bytes(), name)),
                    })
                })
                .await
            }
        }
    }

    async fn autocomplete(&self, ctx: &Context, command: CommandInteraction) {
        let Some(focused) = command.data.autocomplete() else {
            return;
        };
        let typed = focused.value.trim().to_lowercase();
        let mut response = CreateAutocompleteResponse::new();
        // Suggestions only for those who may use the command (no choices otherwise).
        if focused.name == "deck" && self.access(&command).is_ok() {
            if let Ok(set) = self.workshop().decks() {
                for deck in set
                    .decks
                    .values()
                    .filter(|d| d.id.contains(&typed) || d.title.to_lowercase().contains(&typed))
                    .take(25)
                {
                    let name: String = format!("{} — {} ({})", deck.id, deck.title, deck.len())
                        .chars()
                        .take(100)
                        .collect();
                    response = response.add_string_choice(name, deck.id.clone());
                }
            }
        }
        if let Err(err) = command
            .create_response(&ctx.http, CreateInteractionResponse::Autocomplete(response))
            .await
        {
            tracing::debug!("autocomplete answer failed: {}", describe(&err));
        }
    }
}

fn forward(workshop: &Workshop<SerenityChat>, reaction: &Reaction, added: bool) {
    let Some(user) = reaction.user_id else {
        return;
    };
    // Super reactions are listed apart by Discord (and only normal ones by the reaction
    // lists the bot reconciles with): only normal 🟩/🟥 reactions are votes.
    if reaction.burst {
        return;
    }
    workshop.tally().reaction(RawReaction {
        channel_id: reaction.channel_id.get(),
        message_id: reaction.message_id.get(),
        user_id: user.get(),
        user_is_bot: reaction.member.as_ref().is_some_and(|m| m.user.bot),
        emoji: emoji_name(&reaction.emoji),
        added,
    });
}

/// The emoji as the vote rules see it; custom emoji never count.
fn emoji_name(emoji: &ReactionType) -> String {
    match emoji {
        ReactionType::Unicode(name) => name.clone(),
        _ => String::new(),
    }
}

/// An immediate private answer (refusals and mistakes).
async fn refuse(chat: &SerenityChat, command: &CommandInteraction, text: String) {
    let message = CreateInteractionResponseMessage::new()
        .content(messages::fit(text))
        // What a facilitator typed may be quoted back: it never pings anyone.
        .allowed_mentions(CreateAllowedMentions::new())
        .ephemeral(true);
    let answer = CreateInteractionResponse::Message(message);
    if let Err(err) = chat
        .answer_interaction(command.id.get(), &command.token, &answer)
        .await
    {
        tracing::warn!(
            "could not answer /{}: {}",
            command.data.name,
            err.describe()
        );
    }
}

/// Answer a command: a failed `check` (cheap and local) is refused privately at once;
/// otherwise the answer is deferred (so slow work never misses Discord's 3 seconds) and the
/// result of `work` (given what the check found) replaces it — publicly, or privately when
/// `ephemeral`. Operations that change things check again under the channel's lock.
async fn respond<T, F>(
    chat: &SerenityChat,
    command: &CommandInteraction,
    lang: Language,
    ephemeral: bool,
    check: Result<T, WorkshopError>,
    work: impl FnOnce(T) -> F,
) where
    F: Future<Output = Result<Reply, WorkshopError>>,
{
    let checked = match check {
        Ok(checked) => checked,
        Err(err) => {
            log_if_internal(&err);
            return refuse(chat, command, messages::error(lang, &err)).await;
        }
    };
    let defer = CreateInteractionResponse::Defer(
        CreateInteractionResponseMessage::new().ephemeral(ephemeral),
    );
    if let Err(err) = chat
        .answer_interaction(command.id.get(), &command.token, &defer)
        .await
    {
        tracing::warn!(
            "could not acknowledge /{}: {}",
            command.data.name,
            err.describe()
        );
        return;
    }
    let reply = match work(checked).await {
        Ok(reply) => reply,
        Err(err) => {
            log_if_internal(&err);
            Reply::text(messages::error(lang, &err))
        }
    };
    let text = messages::fit(reply.text);
    if let Err(err) = chat
        .edit_answer(
            command.application_id.get(),
            &command.token,
            &text,
            reply.file.as_ref(),
        )
        .await
    {
        tracing::warn!(
            "could not answer /{}: {}",
            command.data.name,
            err.describe()
        );
    }
}

fn log_if_internal(err: &WorkshopError) {
    match err {
        WorkshopError::Store(_) | WorkshopError::Tally(_) | WorkshopError::Decks(_) => {
            tracing::error!("{err}")
        }
        WorkshopError::Chat(_) => tracing::warn!("{err}"),
        _ => {}
    }
}

#[serenity::async_trait]
impl EventHandler for Bot {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!("connected to Discord as {}", ready.user.name);
        self.workshop().tally().ready(ready.user.id.get());
        match self.workshop().complete_pending_posts().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "{n} statement(s) posted before the bot stopped recorded as open round(s)"
            ),
            Err(err) => tracing::error!("could not complete the pending statement posts: {err}"),
        }
        // Before reactions are forwarded again, so that none is applied to a state older than
        // the reaction lists the reconciliation below reads.
        if let Err(err) = self.workshop().hold_open_rounds() {
            tracing::error!("could not hold the open rounds for their reconciliation: {err}");
        }
        self.forward_reactions(&ctx);
        self.register_commands(&ctx).await;
        match self.workshop().reconcile_open_rounds().await {
            Ok(0) => tracing::info!("ready: no open rounds"),
            Ok(n) => {
                tracing::info!("ready: {n} open round(s) reconciled with Discord's reaction lists")
            }
            Err(err) => tracing::error!("could not reconcile the open rounds: {err}"),
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(command) => self.command(command).await,
            Interaction::Autocomplete(command) => self.autocomplete(&ctx, command).await,
            _ => {}
        }
    }
}
