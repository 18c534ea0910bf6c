//! [`Chat`] over serenity's HTTP client: the Discord calls the workshop makes.

use super::retry::{retry, transient, Patience, Transient};
use crate::tally::ListedUser;
use crate::workshop::{Chat, ChatError, ChatFailure};
use serenity::all::{
    ChannelId, CreateMessage, EditMessage, GetMessages, Http, HttpError, MessageId, ReactionType,
};
use std::sync::Arc;

/// Discord's page size limit for reaction lists.
const PAGE: u8 = 100;

#[derive(Clone)]
pub struct SerenityChat {
    pub http: Arc<Http>,
}

/// A serenity error in words: Discord's own message and code when there is one. Long digit
/// runs (snowflakes, e.g. a user id in a request URL) are replaced by `<id>`: these texts are
/// logged and shown to facilitators.
pub fn describe(err: &serenity::Error) -> String {
    let text = match err {
        // serenity could not read the body (a 429's has no `code`; a 502 from Cloudflare is
        // HTML): the status says it.
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response))
            if response.error.code == -1 =>
        {
            format!(
                "{} {}",
                response.status_code.as_u16(),
                response.status_code.canonical_reason().unwrap_or("")
            )
        }
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => format!(
            "{} {} (code {})",
            response.status_code.as_u16(),
            response.error.message,
            response.error.code
        ),
        other => other.to_string(),
    };
    redact_ids(&text)
}

/// Replace every run of 15 or more digits by `<id>`.
pub fn redact_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 15 {
            out.push_str("<id>");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// Discord's JSON error code of a failed request, if it was one.
pub fn error_code(err: &serenity::Error) -> Option<isize> {
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            Some(response.error.code)
        }
        _ => None,
    }
}

/// Discord's "Unknown Message".
const UNKNOWN_MESSAGE: isize = 10008;
/// Discord's "Missing Access" and "Missing Permissions".
const MISSING_ACCESS: isize = 50001;
const MISSING_PERMISSIONS: isize = 50013;

fn chat_error(err: serenity::Error) -> ChatError {
    let kind = match (error_code(&err), transient(&err)) {
        (_, Some(_)) => ChatFailure::Unavailable,
        (Some(UNKNOWN_MESSAGE), _) => ChatFailure::UnknownMessage,
        (Some(MISSING_ACCESS | MISSING_PERMISSIONS), _) => ChatFailure::MissingPermissions,
        _ => ChatFailure::Refused,
    };
    ChatError::new(kind, describe(&err))
}

/// The snowflake of this moment: messages created from now on have larger ids.
fn snowflake_now() -> u64 {
    const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ms.saturating_sub(DISCORD_EPOCH_MS) << 22
}

pub fn unicode(emoji: &str) -> ReactionType {
    ReactionType::Unicode(emoji.to_string())
}

impl SerenityChat {
    /// The bot's own message with `content`, newer than `since`, among the channel's latest.
    async fn posted_since(&self, channel: ChannelId, since: u64, content: &str) -> Option<u64> {
        let me = self.http.get_current_user().await.ok()?.id;
        let latest = retry("looking for a posted message", Patience::CHAT, || {
            channel.messages(&self.http, GetMessages::new().limit(10))
        })
        .await
        .ok()?;
        latest
            .into_iter()
            .find(|m| m.author.id == me && m.id.get() > since && m.content == content)
            .map(|m| m.id.get())
    }
}

impl Chat for SerenityChat {
    /// Posting is not simply repeated after a 5xx or a lost answer: Discord may have posted
    /// the message anyway, and a second statement message would split the votes. Before
    /// trying again the bot looks for its own message with this content, posted since the
    /// first attempt, among the channel's latest messages, and takes that one.
    async fn post(&self, channel: u64, content: &str) -> Result<u64, ChatError> {
        let channel = ChannelId::new(channel);
        let since = snowflake_now();
        let mut attempt = 1;
        loop {
            let err = match channel
                .send_message(&self.http, CreateMessage::new().content(content))
                .await
            {
                Ok(message) => return Ok(message.id.get()),
                Err(err) => err,
            };
            let Some(wait) = Patience::CHAT.wait(&err, attempt) else {
                return Err(chat_error(err));
            };
            tracing::warn!(
                "posting a message: Discord answered {}; trying again in {} ms (attempt {} of {})",
                describe(&err),
                wait.as_millis(),
                attempt + 1,
                Patience::CHAT.attempts
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
            if transient(&err) == Some(Transient::Unavailable) {
                if let Some(id) = self.posted_since(channel, since, content).await {
                    tracing::info!("the message had been posted after all; not posting it again");
                    return Ok(id);
                }
            }
        }
    }

    async fn edit(&self, channel: u64, message: u64, content: &str) -> Result<(), ChatError> {
        retry("editing a message", Patience::CHAT, || {
            ChannelId::new(channel).edit_message(
                &self.http,
                MessageId::new(message),
                EditMessage::new().content(content),
            )
        })
        .await
        .map_err(chat_error)?;
        Ok(())
    }

    async fn react(&self, channel: u64, message: u64, emoji: &str) -> Result<(), ChatError> {
        let emoji = unicode(emoji);
        retry("adding the bot's reaction", Patience::CHAT, || {
            self.http
                .create_reaction(ChannelId::new(channel), MessageId::new(message), &emoji)
        })
        .await
        .map_err(chat_error)
    }

    async fn reactions(
        &self,
        channel: u64,
        message: u64,
        emoji: &str,
    ) -> Result<Vec<ListedUser>, ChatError> {
        let emoji = unicode(emoji);
        let mut users = Vec::new();
        let mut after = None;
        loop {
            let page = retry("reading a reaction list", Patience::CHAT, || {
                self.http.get_reaction_users(
                    ChannelId::new(channel),
                    MessageId::new(message),
                    &emoji,
                    PAGE,
                    after,
                )
            })
            .await
            .map_err(chat_error)?;
            let full = page.len() == usize::from(PAGE);
            after = page.last().map(|u| u.id.get());
            users.extend(page.into_iter().map(|u| ListedUser {
                id: u.id.get(),
                bot: u.bot,
            }));
            if !full {
                return Ok(users);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_ids;

    #[test]
    fn snowflakes_are_redacted() {
        assert_eq!(
            redact_ids("DELETE /channels/1277233891937741737/messages/12/reactions/x/1277233892000000001 failed: 404"),
            "DELETE /channels/<id>/messages/12/reactions/x/<id> failed: 404"
        );
    }
}
