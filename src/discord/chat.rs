//! [`Chat`] over Discord's REST API — the calls the workshop makes — and the answers to
//! interactions: serenity's requests, sent by [`Rest`] so that failed answers are read in full
//! and retried where Discord says so (see `retry`).

use super::retry::{log_retry, retry, CallError, Patience, Rest, Transient};
use crate::tally::ListedUser;
use crate::workshop::{Chat, ChatError, ChatFailure};
use serenity::all::{
    ApplicationId, ChannelId, CreateAttachment, CreateInteractionResponse, Http, HttpError,
    InteractionId, MessageId, ReactionType, UserId,
};
use serenity::http::{LightMethod, Multipart, MultipartUpload, Request, Route};
use std::sync::Arc;

/// Discord's page size limit for reaction lists.
const PAGE: u8 = 100;

#[derive(Clone)]
pub struct SerenityChat {
    rest: Rest,
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

/// Discord's "Unknown Message".
const UNKNOWN_MESSAGE: isize = 10008;
/// Discord's "Missing Access" and "Missing Permissions".
const MISSING_ACCESS: isize = 50001;
pub const MISSING_PERMISSIONS: isize = 50013;
/// Discord's "Interaction has already been acknowledged".
const ALREADY_ACKNOWLEDGED: isize = 40060;

fn chat_error(err: CallError) -> ChatError {
    let kind = match (err.code(), err.transient()) {
        (_, Some(_)) => ChatFailure::Unavailable,
        (Some(UNKNOWN_MESSAGE), _) => ChatFailure::UnknownMessage,
        (Some(MISSING_ACCESS | MISSING_PERMISSIONS), _) => ChatFailure::MissingPermissions,
        _ => ChatFailure::Refused,
    };
    ChatError::new(kind, err.describe())
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

/// An emoji as a path segment (percent-encoded, as serenity does).
fn emoji_path(emoji: &str) -> String {
    unicode(emoji).as_data()
}

/// A snowflake field of a JSON object (Discord sends them as strings).
fn snowflake(value: &serde_json::Value) -> Option<u64> {
    value.as_str()?.parse().ok()
}

fn decode(body: &[u8]) -> Result<serde_json::Value, CallError> {
    serde_json::from_slice(body).map_err(|e| CallError::from(serenity::Error::Json(e)))
}

fn json_body(value: &serde_json::Value) -> Option<Vec<u8>> {
    Some(value.to_string().into_bytes())
}

impl SerenityChat {
    pub fn new(http: Arc<Http>, client: reqwest::Client) -> SerenityChat {
        SerenityChat {
            rest: Rest { http, client },
        }
    }

    /// Remove a participant's reaction (needs Manage Messages).
    pub async fn remove_reaction(
        &self,
        channel: u64,
        message: u64,
        user: u64,
        emoji: &str,
    ) -> Result<(), CallError> {
        let emoji = emoji_path(emoji);
        retry("removing an older reaction", Patience::CHAT, || {
            self.rest.send(Request::new(
                Route::ChannelMessageReaction {
                    channel_id: ChannelId::new(channel),
                    message_id: MessageId::new(message),
                    user_id: UserId::new(user),
                    reaction: &emoji,
                },
                LightMethod::Delete,
            ))
        })
        .await?;
        Ok(())
    }

    /// The first answer to an interaction (a message or a deferral). It must reach Discord
    /// within 3 s of the event, hence the short patience.
    pub async fn answer_interaction(
        &self,
        interaction: u64,
        token: &str,
        answer: &CreateInteractionResponse,
    ) -> Result<(), CallError> {
        let body =
            serde_json::to_vec(answer).map_err(|e| CallError::from(serenity::Error::Json(e)))?;
        let mut attempts = 0;
        let result = retry("answering a command", Patience::CALLBACK, || {
            attempts += 1;
            self.rest.send(
                Request::new(
                    Route::InteractionResponse {
                        interaction_id: InteractionId::new(interaction),
                        token,
                    },
                    LightMethod::Post,
                )
                .body(Some(body.clone())),
            )
        })
        .await;
        match result {
            // A retry after a lost answer: the first attempt had arrived.
            Err(err) if attempts > 1 && err.code() == Some(ALREADY_ACKNOWLEDGED) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Replace the (deferred) answer to an interaction with `text` and maybe a file.
    pub async fn edit_answer(
        &self,
        application: u64,
        token: &str,
        text: &str,
        file: Option<&(Vec<u8>, String)>,
    ) -> Result<(), CallError> {
        let mut payload = serde_json::json!({
            "content": text,
            "allowed_mentions": {"parse": []},
        });
        if let Some((_, name)) = file {
            payload["attachments"] = serde_json::json!([{"id": 0, "filename": name}]);
        }
        retry("answering a command", Patience::CHAT, || {
            let request = Request::new(
                Route::WebhookOriginalInteractionResponse {
                    application_id: ApplicationId::new(application),
                    token,
                },
                LightMethod::Patch,
            );
            let request = match file {
                Some((bytes, name)) => request.multipart(Some(Multipart {
                    upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                        bytes.clone(),
                        name.clone(),
                    )]),
                    payload_json: Some(payload.to_string()),
                    fields: Vec::new(),
                })),
                None => request.body(json_body(&payload)),
            };
            self.rest.send(request)
        })
        .await?;
        Ok(())
    }

    /// The bot's own message with `content`, newer than `since`, among the channel's latest.
    async fn posted_since(&self, channel: u64, since: u64, content: &str) -> Option<u64> {
        let me = self.rest.http.get_current_user().await.ok()?.id.get();
        let body = retry("looking for a posted message", Patience::CHAT, || {
            self.rest.send(
                Request::new(
                    Route::ChannelMessages {
                        channel_id: ChannelId::new(channel),
                    },
                    LightMethod::Get,
                )
                .params(Some(vec![("limit", "10".to_string())])),
            )
        })
        .await
        .ok()?;
        let latest = decode(&body).ok()?;
        latest.as_array()?.iter().find_map(|m| {
            let id = snowflake(&m["id"])?;
            (snowflake(&m["author"]["id"]) == Some(me)
                && id > since
                && m["content"].as_str() == Some(content))
            .then_some(id)
        })
    }
}

impl Chat for SerenityChat {
    /// Posting is not simply repeated after a 5xx or a lost answer: Discord may have posted
    /// the message anyway, and a second statement message would split the votes. Before
    /// trying again the bot looks for its own message with this content, posted since the
    /// first attempt, among the channel's latest messages, and takes that one.
    async fn post(&self, channel: u64, content: &str) -> Result<u64, ChatError> {
        let since = snowflake_now();
        let body = json_body(&serde_json::json!({
            "content": content,
            "allowed_mentions": {"parse": []},
        }));
        let mut attempt = 1;
        loop {
            let request = Request::new(
                Route::ChannelMessages {
                    channel_id: ChannelId::new(channel),
                },
                LightMethod::Post,
            )
            .body(body.clone());
            let err = match self.rest.send(request).await.and_then(|b| decode(&b)) {
                Ok(message) => {
                    return snowflake(&message["id"]).ok_or_else(|| {
                        ChatError::new(ChatFailure::Refused, "Discord's answer has no message id")
                    })
                }
                Err(err) => err,
            };
            let Some(wait) = Patience::CHAT.wait(&err, attempt) else {
                return Err(chat_error(err));
            };
            log_retry("posting a message", &err, wait, attempt + 1, Patience::CHAT);
            tokio::time::sleep(wait).await;
            attempt += 1;
            if err.transient() == Some(Transient::Unavailable) {
                if let Some(id) = self.posted_since(channel, since, content).await {
                    tracing::info!("the message had been posted after all; not posting it again");
                    return Ok(id);
                }
            }
        }
    }

    /// With `enforce_nonce` Discord answers a repeated post with the message it already has,
    /// so a post that failed for a passing reason (or whose answer was lost) is sent again.
    async fn post_once(&self, channel: u64, content: &str, nonce: &str) -> Result<u64, ChatError> {
        let body = json_body(&serde_json::json!({
            "content": content,
            "allowed_mentions": {"parse": []},
            "nonce": nonce,
            "enforce_nonce": true,
        }));
        let answer = retry("posting a statement", Patience::CHAT, || {
            self.rest.send(
                Request::new(
                    Route::ChannelMessages {
                        channel_id: ChannelId::new(channel),
                    },
                    LightMethod::Post,
                )
                .body(body.clone()),
            )
        })
        .await
        .and_then(|b| decode(&b))
        .map_err(chat_error)?;
        snowflake(&answer["id"]).ok_or_else(|| {
            ChatError::new(ChatFailure::Refused, "Discord's answer has no message id")
        })
    }

    async fn edit(&self, channel: u64, message: u64, content: &str) -> Result<(), ChatError> {
        let body = json_body(&serde_json::json!({
            "content": content,
            "allowed_mentions": {"parse": []},
        }));
        retry("editing a message", Patience::CHAT, || {
            self.rest.send(
                Request::new(
                    Route::ChannelMessage {
                        channel_id: ChannelId::new(channel),
                        message_id: MessageId::new(message),
                    },
                    LightMethod::Patch,
                )
                .body(body.clone()),
            )
        })
        .await
        .map_err(chat_error)?;
        Ok(())
    }

    async fn react(&self, channel: u64, message: u64, emoji: &str) -> Result<(), ChatError> {
        let emoji = emoji_path(emoji);
        retry("adding the bot's reaction", Patience::CHAT, || {
            self.rest.send(Request::new(
                Route::ChannelMessageReactionMe {
                    channel_id: ChannelId::new(channel),
                    message_id: MessageId::new(message),
                    reaction: &emoji,
                },
                LightMethod::Put,
            ))
        })
        .await
        .map_err(chat_error)?;
        Ok(())
    }

    async fn reactions(
        &self,
        channel: u64,
        message: u64,
        emoji: &str,
    ) -> Result<Vec<ListedUser>, ChatError> {
        let emoji = emoji_path(emoji);
        let mut users = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut params = vec![("limit", PAGE.to_string())];
            if let Some(after) = after {
                params.push(("after", after.to_string()));
            }
            let body = retry("reading a reaction list", Patience::CHAT, || {
                self.rest.send(
                    Request::new(
                        Route::ChannelMessageReactionEmoji {
                            channel_id: ChannelId::new(channel),
                            message_id: MessageId::new(message),
                            reaction: &emoji,
                        },
                        LightMethod::Get,
                    )
                    .params(Some(params.clone())),
                )
            })
            .await
            .map_err(chat_error)?;
            let page = decode(&body).map_err(chat_error)?;
            // Anything but a list must not read as "nobody reacted": that would withdraw
            // every vote at close.
            let page = page.as_array().ok_or_else(|| {
                ChatError::new(ChatFailure::Refused, "a reaction list that is not a list")
            })?;
            let full = page.len() == usize::from(PAGE);
            for user in page {
                let id = snowflake(&user["id"]).ok_or_else(|| {
                    ChatError::new(ChatFailure::Refused, "a reaction list without user ids")
                })?;
                users.push(ListedUser {
                    id,
                    bot: user["bot"].as_bool().unwrap_or(false),
                });
                after = Some(id);
            }
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
