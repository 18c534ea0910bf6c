//! Every text stemkaart shows in Discord, in Dutch and English.
//!
//! Facilitators get replies in Dutch unless their Discord client is English; statement
//! messages are in the deck's language, since participants read them.

use crate::domain::session::{PostError, RoundResult, Tally};
use crate::domain::{quoted, Language, OnlineCount, Round, Session};
use crate::workshop::{ChatFailure, Closed, Ended, Posted, WorkshopError};
use std::fmt::Write;

/// Discord's limit on a message's content, in characters.
pub const MAX_CONTENT: usize = 2000;

/// Keep a reply within Discord's limit: cut at a line break and end with "…".
pub fn fit(text: String) -> String {
    if text.chars().count() <= MAX_CONTENT {
        return text;
    }
    let cut: String = text.chars().take(MAX_CONTENT - 2).collect();
    let end = cut.rfind('\n').filter(|i| *i > 0).unwrap_or(cut.len());
    format!("{}\n…", &cut[..end])
}

/// The language of a reply, from the interaction's locale ("en-US", "en-GB" → English).
pub fn reply_language(locale: &str) -> Language {
    if locale.starts_with("en") {
        Language::En
    } else {
        Language::Nl
    }
}

/// The Dutch or the English text.
pub fn pick(lang: Language, nl: &str, en: &str) -> String {
    match lang {
        Language::Nl => nl.to_string(),
        Language::En => en.to_string(),
    }
}

fn statement_word(lang: Language) -> &'static str {
    match lang {
        Language::Nl => "Stelling",
        Language::En => "Statement",
    }
}

/// The message participants vote on.
pub fn statement_message(lang: Language, position: u32, size: u32, text: &str) -> String {
    let how = pick(
        lang,
        "Stem met een reactie: 🟩 eens · 🟥 oneens",
        "Vote with a reaction: 🟩 agree · 🟥 disagree",
    );
    format!(
        "**{} {position}/{size}**\n{text}\n\n{how}",
        statement_word(lang)
    )
}

/// The statement message after its round closed: marked closed, with the result.
pub fn closed_statement_message(lang: Language, round: &Round) -> String {
    let closed = pick(lang, "gesloten", "closed");
    let mut out = format!(
        "**{} {}/{}** · {closed}\n{}\n\n",
        statement_word(lang),
        round.position,
        round.deck_size,
        round.text
    );
    if let Some(result) = round.result() {
        out.push_str(&pick(lang, "Uitslag: ", "Result: "));
        out.push_str(&result_text(lang, &result));
    }
    out
}

fn pct(tally: Tally) -> String {
    match tally.pct_agree() {
        Some(p) => format!("{p:.0}%"),
        None => "–".into(),
    }
}

/// `🟩 13 · 🟥 7 · n=20 (65% eens)`, then the online and room parts when a room count exists,
/// then the ambiguous votes when there are any.
pub fn result_text(lang: Language, result: &RoundResult) -> String {
    let total = result.total();
    let agree_word = pick(lang, "eens", "agree");
    let mut out = format!(
        "🟩 {} · 🟥 {} · n={}",
        total.agree,
        total.disagree,
        total.n()
    );
    if total.n() > 0 {
        let _ = write!(out, " ({} {agree_word})", pct(total));
    }
    if let Some(room) = result.room {
        let online = result.online_tally();
        let (online_word, room_word) = match lang {
            Language::Nl => ("online", "zaal"),
            Language::En => ("online", "room"),
        };
        let _ = write!(
            out,
            "\n{online_word}: 🟩 {} · 🟥 {} · n={} — {room_word}: 🟩 {} · 🟥 {} · n={}",
            online.agree,
            online.disagree,
            online.n(),
            room.agree,
            room.disagree,
            room.n()
        );
    }
    out.push_str(&ambiguous_note(lang, &result.online));
    out
}

fn ambiguous_note(lang: Language, online: &OnlineCount) -> String {
    match (online.ambiguous, lang) {
        (0, _) => String::new(),
        (1, Language::Nl) => "\n1 stem niet geteld: beide kleuren gegeven terwijl de bot de volgorde niet kon zien.".into(),
        (n, Language::Nl) => format!("\n{n} stemmen niet geteld: beide kleuren gegeven terwijl de bot de volgorde niet kon zien."),
        (1, Language::En) => "\n1 vote not counted: both colours were given while the bot could not see their order.".into(),
        (n, Language::En) => format!("\n{n} votes not counted: both colours were given while the bot could not see their order."),
    }
}

fn round_line(lang: Language, round: &Round) -> String {
    let head = format!(
        "{} {}/{}",
        statement_word(lang),
        round.position,
        round.deck_size
    );
    match round.result() {
        Some(result) => format!("{head}: {}", result_text(lang, &result)),
        None => format!("{head}: {}", pick(lang, "nog open", "still open")),
    }
}

pub fn guild_only(lang: Language) -> String {
    pick(
        lang,
        "Gebruik stemkaart in een kanaal van een server.",
        "Use stemkaart in a server channel.",
    )
}

/// An interaction from a server the bot was not set up for, or about another server's session.
pub fn other_server(lang: Language) -> String {
    pick(
        lang,
        "Deze bot is niet voor deze server ingesteld; hier kan hij niets tonen of veranderen.",
        "This bot is not set up for this server; it cannot show or change anything here.",
    )
}

/// An interaction the bot cannot parse: its registration is older than the bot.
pub fn not_understood(lang: Language, detail: &str) -> String {
    match lang {
        Language::Nl => format!("Dit commando begrijp ik niet ({detail}). Misschien is de registratie verouderd: herstart de bot."),
        Language::En => format!("I do not understand this command ({detail}). The registration may be out of date: restart the bot."),
    }
}

pub fn not_a_facilitator(lang: Language) -> String {
    pick(
        lang,
        "Alleen gespreksleiders kunnen dit doen (Server beheren of de gespreksleidersrol). Stemmen doe je met 🟩 of 🟥 onder de stelling.",
        "Only facilitators can do this (Manage Server or the facilitator role). To vote, react with 🟩 or 🟥 under the statement.",
    )
}

pub fn session_started(lang: Language, session: &Session, statements: u32) -> String {
    let label = session
        .label
        .as_ref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    match lang {
        Language::Nl => format!(
            "Sessie gestart: **{}**{label} met deck `{}` — {} ({statements} stellingen). Post de eerste stelling met /statement next.",
            session.municipality, session.deck_id, session.deck_title
        ),
        Language::En => format!(
            "Session started: **{}**{label} with deck `{}` — {} ({statements} statements). Post the first statement with /statement next.",
            session.municipality, session.deck_id, session.deck_title
        ),
    }
}

pub fn posted(lang: Language, posted: &Posted) -> String {
    let mut out = String::new();
    if let Some(closed) = &posted.closed {
        out.push_str(&pick(lang, "Gesloten — ", "Closed — "));
        out.push_str(&round_line(lang, &closed.round));
        out.push_str(&unchecked_note(lang, closed));
        out.push('\n');
    }
    let round = &posted.round;
    let _ = write!(
        out,
        "{} {}/{} {}",
        statement_word(lang),
        round.position,
        round.deck_size,
        pick(lang, "staat open voor stemmen.", "is open for votes.")
    );
    out.push(' ');
    out.push_str(&if round.position < round.deck_size {
        pick(
            lang,
            "Sluit met /statement close of ga door met /statement next.",
            "Close it with /statement close or go on with /statement next.",
        )
    } else {
        pick(
            lang,
            "Dit is de laatste: sluit met /statement close of /session end (voer de zaaltelling in met /room).",
            "This is the last one: close it with /statement close or /session end (enter the room count with /room).",
        )
    });
    if let Some(err) = &posted.reactions_missing {
        let _ = write!(
            out,
            "\n{}: {err}",
            pick(
                lang,
                "Let op: de bot kon 🟩/🟥 niet zelf toevoegen (geef hem Add Reactions); deelnemers kunnen ze wel zelf kiezen",
                "Note: the bot could not add 🟩/🟥 itself (give it Add Reactions); participants can still pick them",
            )
        );
    }
    out
}

/// Added to a posted statement's reply when the bot may not remove reactions in the channel.
pub fn no_manage_messages(lang: Language) -> String {
    pick(
        lang,
        "\nTip: de bot mag hier geen reacties weghalen. Geef hem Manage Messages (Berichten beheren) in dit kanaal, dan haalt hij de oude kleur weg als iemand van mening verandert. De stemmen tellen hoe dan ook goed: de laatst gekozen kleur telt.",
        "\nTip: the bot may not remove reactions here. Give it Manage Messages in this channel and it removes the older colour when someone changes their mind. Votes count correctly either way: the colour chosen last counts.",
    )
}

pub fn closed(lang: Language, closed: &Closed) -> String {
    let round = &closed.round;
    let mut out = format!(
        "{} {}/{} {}: ",
        statement_word(lang),
        round.position,
        round.deck_size,
        pick(lang, "gesloten", "closed")
    );
    if let Some(result) = round.result() {
        out.push_str(&result_text(lang, &result));
    }
    out.push_str(&unchecked_note(lang, closed));
    out
}

/// Said when Discord's reaction lists could not be read at close.
fn unchecked_note(lang: Language, closed: &Closed) -> String {
    match &closed.unchecked {
        None => String::new(),
        Some(err) if err.kind == ChatFailure::UnknownMessage => pick(
            lang,
            "\nLet op: het stellingbericht is verwijderd, met zijn reacties. Deze uitslag telt de stemmen die de bot tot dan zag; ga verder met /statement next.",
            "\nNote: the statement message was deleted, with its reactions. This result counts the votes the bot saw until then; go on with /statement next.",
        ),
        Some(err) => match lang {
            Language::Nl => format!("\nLet op: Discord gaf de reactielijsten niet ({err}); deze uitslag telt de reacties die de bot zag."),
            Language::En => format!("\nNote: Discord did not give the reaction lists ({err}); this result counts the reactions the bot saw."),
        },
    }
}

/// What a statement message says when the statement could not be recorded.
pub fn unrecorded_statement(lang: Language) -> String {
    pick(
        lang,
        "~~Deze stelling kon niet worden vastgelegd~~ — stem hier niet; de gespreksleider plaatst hem opnieuw.",
        "~~This statement could not be recorded~~ — do not vote here; the facilitator will post it again.",
    )
}

pub fn room_set(lang: Language, round: &Round) -> String {
    let head = format!(
        "{} {}/{} — {}",
        statement_word(lang),
        round.position,
        round.deck_size,
        pick(lang, "zaaltelling opgeslagen.", "room count saved.")
    );
    let room = round.room.unwrap_or_default();
    match round.result() {
        Some(result) => format!("{head}\n{}", result_text(lang, &result)),
        None => format!(
            "{head} {} 🟩 {} · 🟥 {} · n={}; {}",
            pick(lang, "Zaal:", "Room:"),
            room.agree,
            room.disagree,
            room.n(),
            pick(
                lang,
                "de uitslag volgt bij het sluiten.",
                "the result follows when the statement closes."
            )
        ),
    }
}

pub fn session_ended(lang: Language, ended: &Ended) -> String {
    let session = &ended.session;
    let mut out = match lang {
        Language::Nl => format!("Sessie **{}** afgesloten.", session.municipality),
        Language::En => format!("Session **{}** ended.", session.municipality),
    };
    if ended.rounds.is_empty() {
        out.push_str(&pick(
            lang,
            " Er zijn geen stellingen gesteld.",
            " No statements were posted.",
        ));
    }
    if let Some(closed) = &ended.closed {
        out.push_str(&unchecked_note(lang, closed));
    }
    for round in &ended.rounds {
        out.push('\n');
        out.push_str(&round_line(lang, round));
    }
    out.push('\n');
    out.push_str(&pick(
        lang,
        "Grafiek: /results · vergelijking met andere gemeenten: /compare · cijfers: /export",
        "Chart: /results · comparison with other municipalities: /compare · numbers: /export",
    ));
    out
}

/// The one-line summary with a `/results` chart.
pub fn results_summary(lang: Language, session: &Session, rounds: &[Round]) -> String {
    let closed = rounds.iter().filter(|r| !r.is_open()).count();
    let votes = crate::charts::data::total_votes(rounds);
    let label = session
        .label
        .as_ref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    match lang {
        Language::Nl => format!(
            "Uitslag {}{label}: {closed} stelling(en), {votes} stemmen (online en zaal).",
            session.municipality
        ),
        Language::En => format!(
            "Result {}{label}: {closed} statement(s), {votes} votes (online and room).",
            session.municipality
        ),
    }
}

/// The one-line summary with a `/compare` chart.
pub fn compare_summary(lang: Language, chart: &crate::charts::CompareChart) -> String {
    let sessions = chart.series.len();
    let statements = chart.groups.len();
    let total = sessions + chart.left_out;
    if let Some(merged) = chart.merged_sessions {
        return match lang {
            Language::Nl => format!("{}: {merged} sessies, per gemeente opgeteld ({sessions} balken). n = stemmen online en in de zaal.", chart.title),
            Language::En => format!("{}: {merged} sessions, added up per municipality ({sessions} bars). n = votes online and in the room.", chart.title),
        };
    }
    match (lang, chart.left_out) {
        (Language::Nl, 0) => format!("{}: {sessions} sessie(s), {statements} stelling(en). n = stemmen online en in de zaal.", chart.title),
        (Language::En, 0) => format!("{}: {sessions} session(s), {statements} statement(s). n = votes online and in the room.", chart.title),
        (Language::Nl, _) => format!("{}: de laatste {sessions} van {total} sessies, {statements} stelling(en). n = stemmen online en in de zaal. Eén stelling over alle {total} sessies: /compare statement:<nummer>.", chart.title),
        (Language::En, _) => format!("{}: the latest {sessions} of {total} sessions, {statements} statement(s). n = votes online and in the room. One statement across all {total} sessions: /compare statement:<number>.", chart.title),
    }
}

pub fn export_ready(lang: Language, rows: usize) -> String {
    match lang {
        Language::Nl => {
            format!("Export van alle uitslagen: {rows} rijen (alleen aantallen, geen deelnemers).")
        }
        Language::En => {
            format!("Export of all results: {rows} rows (counts only, no participants).")
        }
    }
}

/// What went wrong, and what to do next.
pub fn error(lang: Language, err: &WorkshopError) -> String {
    use WorkshopError as E;
    if err.cannot_write() {
        return cannot_store(lang);
    }
    match (err, lang) {
        (E::NoSession, Language::Nl) => "Er loopt geen sessie in dit kanaal — start er een met /session start.".into(),
        (E::NoSession, Language::En) => "There is no session in this channel — start one with /session start.".into(),
        (E::SessionOpen { municipality }, Language::Nl) => format!("Er loopt al een sessie in dit kanaal ({municipality}) — sluit die eerst af met /session end."),
        (E::SessionOpen { municipality }, Language::En) => format!("A session is already running in this channel ({municipality}) — end it first with /session end."),
        (E::Municipality(_), Language::Nl) => format!("Vul de naam van de gemeente in (1 tot {} tekens).", crate::domain::Municipality::MAX_CHARS),
        (E::Municipality(_), Language::En) => format!("Fill in the municipality's name (1 to {} characters).", crate::domain::Municipality::MAX_CHARS),
        (E::LabelTooLong { max }, Language::Nl) => format!("Het label is te lang: hoogstens {max} tekens."),
        (E::LabelTooLong { max }, Language::En) => format!("The label is too long: at most {max} characters."),
        (E::UnknownDeck { id, available, problems }, _) => unknown_deck(lang, id, available, problems),
        (E::Post(post), _) => post_error(lang, post),
        (E::NoOpenRound, Language::Nl) => "Er staat geen stelling open — post er een met /statement next.".into(),
        (E::NoOpenRound, Language::En) => "No statement is open — post one with /statement next.".into(),
        (E::NoRoundYet, Language::Nl) => "Er is in deze sessie nog geen stelling gesteld — post er een met /statement next en voer daarna de zaaltelling in.".into(),
        (E::NoRoundYet, Language::En) => "No statement has been posted in this session yet — post one with /statement next, then enter the room count.".into(),
        (E::NoSessionInChannel, Language::Nl) => "In dit kanaal is nog geen sessie gehouden — start er een met /session start, of kies een deck bij /compare.".into(),
        (E::NoSessionInChannel, Language::En) => "No session has been held in this channel yet — start one with /session start, or pick a deck in /compare.".into(),
        (E::NothingClosed { municipality }, Language::Nl) => format!("De sessie in {municipality} heeft nog geen gesloten stelling — sluit er een met /statement close."),
        (E::NothingClosed { municipality }, Language::En) => format!("The session in {municipality} has no closed statement yet — close one with /statement close."),
        (E::Compare(crate::charts::data::CompareError::NoSessions(deck)), Language::Nl) => format!("Er is nog geen sessie met deck `{}` met een gesloten stelling om te vergelijken.", quoted(deck)),
        (E::Compare(crate::charts::data::CompareError::NoSessions(deck)), Language::En) => format!("No session of deck `{}` has a closed statement to compare yet.", quoted(deck)),
        (E::Compare(crate::charts::data::CompareError::NoStatement { deck, position }), Language::Nl) => format!("Deck `{}` heeft geen stelling {position}.", quoted(deck)),
        (E::Compare(crate::charts::data::CompareError::NoStatement { deck, position }), Language::En) => format!("Deck `{}` has no statement {position}.", quoted(deck)),
        (E::Compare(crate::charts::data::CompareError::NeverAsked { position, .. }), Language::Nl) => format!("Stelling {position} is nog in geen enkele sessie gesloten."),
        (E::Compare(crate::charts::data::CompareError::NeverAsked { position, .. }), Language::En) => format!("Statement {position} has not been closed in any session yet."),
        (E::PickDeck(decks), Language::Nl) => format!("Er zijn sessies met meerdere decks; kies er een bij /compare deck: {}.", decks.join(", ")),
        (E::PickDeck(decks), Language::En) => format!("There are sessions with several decks; pick one in /compare deck: {}.", decks.join(", ")),
        (E::PostFailed { closed, error }, _) => {
            let mut out = String::new();
            if let Some(closed) = closed {
                out.push_str(&self::closed(lang, closed));
                out.push('\n');
            }
            out.push_str(&self::error(lang, &E::Chat(error.clone())));
            out
        }
        (E::Chat(chat), Language::Nl) if chat.kind == ChatFailure::Unavailable => format!("Discord is even niet bereikbaar ({chat}); de bot heeft het een paar keer geprobeerd. Er is niets verloren gegaan — probeer het over een minuut opnieuw."),
        (E::Chat(chat), Language::En) if chat.kind == ChatFailure::Unavailable => format!("Discord is unavailable for the moment ({chat}); the bot tried a few times. Nothing was lost — try again in a minute."),
        (E::Chat(chat), Language::Nl) => format!("Discord weigerde dit: {chat}. Kijk of de bot in dit kanaal mag schrijven en reageren (Send Messages, Add Reactions, Read Message History)."),
        (E::Chat(chat), Language::En) => format!("Discord refused this: {chat}. Check that the bot may write and react in this channel (Send Messages, Add Reactions, Read Message History)."),
        (other, Language::Nl) => format!("Dat lukte niet door een fout aan de kant van de bot: {other}. Gesloten uitslagen blijven bewaard; vraag de beheerder de logs te bekijken voor je het opnieuw probeert."),
        (other, Language::En) => format!("That failed because of an error on the bot's side: {other}. Closed results are kept; ask the operator to check the logs before you try again."),
    }
}

/// The database cannot be written: nothing is stored, so nothing may look counted.
pub fn cannot_store(lang: Language) -> String {
    pick(
        lang,
        "De bot kan niets meer opslaan: de schijf is vol of de databasemap is niet schrijfbaar. Stemmen worden nu niet geteld, dus er is ook geen uitslag. Vraag de beheerder ruimte te maken (of de map schrijfbaar te maken) en de bot te herstarten: dan telt hij alle 🟩/🟥 die op Discord staan opnieuw. Deelnemers kunnen gewoon blijven stemmen.",
        "The bot cannot store anything: the disk is full or the database folder is not writable. Votes are not being counted now, so there is no result either. Ask the operator to make room (or make the folder writable) and restart the bot: it then counts every 🟩/🟥 on Discord again. Participants can keep voting.",
    )
}

/// Posted in a channel with an open statement when storing votes starts failing.
pub fn storage_notice(lang: Language) -> String {
    pick(
        lang,
        "⚠️ De bot kan op dit moment geen stemmen opslaan (de schijf is vol of niet schrijfbaar), dus ze worden nu niet geteld. Blijf gewoon stemmen: je 🟩/🟥 blijft hier staan en telt mee zodra de beheerder het probleem heeft opgelost en de bot opnieuw heeft gestart. Gespreksleider: sluit de stelling pas daarna.",
        "⚠️ The bot cannot store votes right now (the disk is full or not writable), so they are not being counted. Keep voting: your 🟩/🟥 stays here and counts as soon as the operator has fixed it and restarted the bot. Facilitator: close the statement only after that.",
    )
}

fn unknown_deck(lang: Language, id: &str, available: &[String], problems: &[String]) -> String {
    let mut out = match lang {
        Language::Nl => format!("Deck `{}` bestaat niet.", quoted(id)),
        Language::En => format!("There is no deck `{}`.", quoted(id)),
    };
    if !problems.is_empty() {
        out = match lang {
            Language::Nl => format!(
                "Deck `{}` heeft fouten en kan niet geladen worden:",
                quoted(id)
            ),
            Language::En => format!("Deck `{}` has problems and cannot be loaded:", quoted(id)),
        };
        for problem in problems.iter().take(5) {
            let _ = write!(out, "\n- {problem}");
        }
        return out;
    }
    let list = if available.is_empty() {
        "–".to_string()
    } else {
        available
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(out, " {} {list}", pick(lang, "Beschikbaar:", "Available:"));
    out
}

fn post_error(lang: Language, err: &PostError) -> String {
    use PostError as P;
    match (err, lang) {
        (P::NoSuchPosition { deck_size, .. }, Language::Nl) => format!("Het deck heeft {deck_size} stellingen: kies een nummer van 1 tot en met {deck_size}."),
        (P::NoSuchPosition { deck_size, .. }, Language::En) => format!("The deck has {deck_size} statements: pick a number from 1 to {deck_size}."),
        (P::AlreadyClosed { position }, Language::Nl) => format!("Stelling {position} is in deze sessie al gesloten; de uitslag staat vast. Kies een andere stelling of start een nieuwe sessie."),
        (P::AlreadyClosed { position }, Language::En) => format!("Statement {position} is already closed in this session; its result stands. Pick another statement or start a new session."),
        (P::AlreadyOpen { position }, Language::Nl) => format!("Stelling {position} staat nu open. Sluit hem met /statement close."),
        (P::AlreadyOpen { position }, Language::En) => format!("Statement {position} is open right now. Close it with /statement close."),
        (P::NoneLeft { skipped, .. }, _) if skipped.is_empty() => pick(
            lang,
            "Alle stellingen zijn gesteld. Sluit af met /session end.",
            "Every statement has been posted. Finish with /session end.",
        ),
        (P::NoneLeft { last, skipped }, Language::Nl) => format!(
            "Na stelling {last} zijn er geen stellingen meer. Overgeslagen: {} — post die met /statement post, of sluit af met /session end.",
            join_numbers(skipped)
        ),
        (P::NoneLeft { last, skipped }, Language::En) => format!(
            "There are no statements after number {last}. Skipped: {} — post one with /statement post, or finish with /session end.",
            join_numbers(skipped)
        ),
    }
}

fn join_numbers(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::{RoundId, SessionId};
    use crate::domain::{Timestamp, Wording};

    fn round(online: OnlineCount, room: Option<Tally>) -> Round {
        Round {
            id: RoundId(1),
            session_id: SessionId(1),
            statement_id: "s".into(),
            position: 2,
            deck_size: 3,
            text: "Ik vind dat we betrouwbaar zijn".into(),
            wording: Wording::of("x"),
            channel_id: 1,
            message_id: 2,
            opened_at: Timestamp(0),
            closed_at: Some(Timestamp(1)),
            online: Some(online),
            room,
        }
    }

    #[test]
    fn statement_message_has_position_and_verbatim_text() {
        let text = statement_message(
            Language::Nl,
            1,
            3,
            "Ik ervaar dat het vertrouwen is afgenomen",
        );
        assert!(text.contains("Stelling 1/3"));
        assert!(text.contains("Ik ervaar dat het vertrouwen is afgenomen"));
        assert!(text.contains("🟩 eens · 🟥 oneens"));
        assert!(statement_message(Language::En, 2, 5, "x").contains("Statement 2/5"));
    }

    #[test]
    fn results_show_totals_and_parts() {
        let online = OnlineCount {
            agree: 8,
            disagree: 5,
            ambiguous: 0,
        };
        let r = round(online, Some(Tally::new(4, 3)));
        let text = closed(
            Language::Nl,
            &Closed {
                round: r,
                unchecked: None,
            },
        );
        assert_eq!(
            text,
            "Stelling 2/3 gesloten: 🟩 12 · 🟥 8 · n=20 (60% eens)\nonline: 🟩 8 · 🟥 5 · n=13 — zaal: 🟩 4 · 🟥 3 · n=7"
        );
        let text = closed(
            Language::En,
            &Closed {
                round: round(
                    OnlineCount {
                        agree: 1,
                        disagree: 0,
                        ambiguous: 2,
                    },
                    None,
                ),
                unchecked: None,
            },
        );
        assert_eq!(
            text,
            "Statement 2/3 closed: 🟩 1 · 🟥 0 · n=1 (100% agree)\n2 votes not counted: both colours were given while the bot could not see their order."
        );
        let unchecked = Closed {
            round: round(OnlineCount::default(), None),
            unchecked: Some(crate::workshop::ChatError::new(
                crate::workshop::ChatFailure::Unavailable,
                "503",
            )),
        };
        let text = closed(Language::Nl, &unchecked);
        assert!(
            text.contains("n=0\nLet op: Discord gaf de reactielijsten niet"),
            "{text}"
        );
    }

    #[test]
    fn long_replies_fit_discord() {
        let line = "Stelling 1/15: 🟩 120 · 🟥 80 · n=200 (60% eens)\n".repeat(60);
        let fitted = fit(line.clone());
        assert!(fitted.chars().count() <= MAX_CONTENT);
        assert!(fitted.ends_with("(60% eens)\n…"), "cut at a line break");
        assert_eq!(fit("kort".into()), "kort");
    }

    #[test]
    fn locale_picks_the_reply_language() {
        assert_eq!(reply_language("en-US"), Language::En);
        assert_eq!(reply_language("en-GB"), Language::En);
        assert_eq!(reply_language("nl"), Language::Nl);
        assert_eq!(reply_language("de"), Language::Nl);
    }

    #[test]
    fn errors_say_what_to_do_next() {
        assert_eq!(
            error(Language::Nl, &WorkshopError::NoSession),
            "Er loopt geen sessie in dit kanaal — start er een met /session start."
        );
        let skipped = WorkshopError::Post(PostError::NoneLeft {
            last: 3,
            skipped: vec![2],
        });
        assert!(error(Language::Nl, &skipped).contains("Overgeslagen: 2"));
        let unknown = WorkshopError::UnknownDeck {
            id: "x".into(),
            available: vec!["vertrouwen".into()],
            problems: vec![],
        };
        assert_eq!(
            error(Language::Nl, &unknown),
            "Deck `x` bestaat niet. Beschikbaar: `vertrouwen`"
        );
    }
}
