//! [`Chat`] over serenity's HTTP client: the Discord calls the workshop makes.

use crate::tally::ListedUser;
use crate::workshop::{Chat, ChatError};
use serenity::all::{
    ChannelId, CreateMessage, EditMessage, Http, HttpError, MessageId, Nonce, ReactionType,
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

fn chat_error(err: serenity::Error) -> ChatError {
    ChatError(describe(&err))
}

pub fn unicode(emoji: &str) -> ReactionType {
    ReactionType::Unicode(emoji.to_string())
}

impl Chat for SerenityChat {
    async fn post(&self, channel: u64, content: &str) -> Result<u64, ChatError> {
        let message = ChannelId::new(channel)
            .send_message(&self.http, CreateMessage::new().content(content))
            .await
            .map_err(chat_error)?;
        Ok(message.id.get())
    }

    async fn post_once(&self, channel: u64, content: &str, nonce: &str) -> Result<u64, ChatError> {
        let create = CreateMessage::new()
            .content(content)
            .nonce(Nonce::String(nonce.to_string()))
            .enforce_nonce(true);
        let message = ChannelId::new(channel)
            .send_message(&self.http, create)
            .await
            .map_err(chat_error)?;
        Ok(message.id.get())
    }

    async fn edit(&self, channel: u64, message: u64, content: &str) -> Result<(), ChatError> {
        ChannelId::new(channel)
            .edit_message(
                &self.http,
                MessageId::new(message),
                EditMessage::new().content(content),
            )
            .await
            .map_err(chat_error)?;
        Ok(())
    }

    async fn react(&self, channel: u64, message: u64, emoji: &str) -> Result<(), ChatError> {
        self.http
            .create_reaction(
                ChannelId::new(channel),
                MessageId::new(message),
                &unicode(emoji),
            )
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
            let page = self
                .http
                .get_reaction_users(
                    ChannelId::new(channel),
                    MessageId::new(message),
                    &emoji,
                    PAGE,
                    after,
                )
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
