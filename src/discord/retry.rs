//! Retrying Discord calls that failed for a passing reason: 429 (rate limited) and 5xx
//! (Discord or Cloudflare having trouble), a bounded number of times, waiting as long as
//! Discord asks when the bot can read how long that is.
//!
//! What serenity 0.12 does with such an answer, and so what is left for us:
//!
//! - Against Discord itself its rate limiter is on: it waits before a call when a bucket is
//!   empty and, on a 429 with a `Retry-After` header (Discord always sends one), sleeps that
//!   long and sends the call again, as often as needed. A 5xx is handed back as an error.
//! - Against a Discord-compatible server (tests, the demo) the rate limiter is off (it would
//!   call discord.com, see `discord::run`): a 429 comes back from serenity's methods as
//!   `HttpError::UnsuccessfulRequest` with the status only. serenity keeps neither the headers
//!   nor the body's `retry_after`: it decodes the body as `{code, message}`, and Discord's 429
//!   body has no `code`, so the decoded error says "Could not decode json" with code -1.
//!
//! So the calls a facilitator's command makes (interaction answers, statement messages,
//! reactions, reaction lists, removing an older colour) go through [`Rest`]: serenity's own
//! request (and rate limiter, when on), but the bot reads a failed answer itself and honours
//! `retry_after` (the body's, exact; else the `Retry-After` header). Where it cannot be read, a
//! 429 waits [`Patience::rate_limit_wait`]. 500/502/503/504 and a connection that failed back
//! off exponentially. The bot gives up after [`Patience::attempts`] or when Discord asks for a
//! longer wait than [`Patience::longest_wait`]: the caller then tells the facilitator. Calls
//! that create something are not repeated blindly after a 5xx — Discord may have done it
//! anyway: statements are posted with a nonce and `enforce_nonce` (`SerenityChat::post_once`),
//! other messages are looked up before they are posted again (`SerenityChat::post`). (Registering the commands at
//! start-up and answering autocomplete still use serenity's methods, without retries.)

use super::chat::{describe, redact_ids};
use serenity::all::{Http, HttpError};
use serenity::http::Request;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long to keep trying one call.
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait after the first 5xx; doubled after each further one (at most 2 s).
    pub backoff: Duration,
    /// The wait after a 429 whose `retry_after` could not be read.
    pub rate_limit_wait: Duration,
    /// A 429 asking to wait longer than this is not waited for.
    pub longest_wait: Duration,
}

impl Patience {
    /// Channel messages, reactions, reaction lists: 4 attempts, each wait at most 5 s.
    pub const CHAT: Patience = Patience {
        attempts: 4,
        backoff: Duration::from_millis(250),
        rate_limit_wait: Duration::from_secs(1),
        longest_wait: Duration::from_secs(5),
    };

    /// The first answer to an interaction must reach Discord within 3 s of the event: 3
    /// attempts, at most 0.5 s of waiting twice.
    pub const CALLBACK: Patience = Patience {
        attempts: 3,
        backoff: Duration::from_millis(200),
        rate_limit_wait: Duration::from_millis(500),
        longest_wait: Duration::from_millis(500),
    };

    /// The wait before attempt `attempt + 1` after `err` on attempt `attempt`, or `None`: give
    /// up (not a passing failure, no attempts left, or Discord asks for too long a wait).
    pub fn wait(&self, err: &CallError, attempt: u32) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        match err.transient()? {
            Transient::RateLimited => {
                let wait = err.retry_after().unwrap_or(self.rate_limit_wait);
                (wait <= self.longest_wait).then_some(wait)
            }
            Transient::Unavailable => {
                Some((self.backoff * 2u32.saturating_pow(attempt - 1)).min(Duration::from_secs(2)))
            }
        }
    }
}

/// Why a call may succeed when tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transient {
    /// 429: nothing was done.
    RateLimited,
    /// 5xx or no answer: it may or may not have been done.
    Unavailable,
}

/// A Discord call that failed.
#[derive(Debug)]
pub enum CallError {
    /// From serenity (its methods, or no answer at all); boxed, it is large.
    Serenity(Box<serenity::Error>),
    /// An answer the bot read itself (see [`Rest`]).
    Answer(Answer),
}

/// A failed answer as Discord sent it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Discord's JSON error code, when the body had one.
    pub code: Option<isize>,
    pub message: String,
    /// How long Discord asked to wait (a 429).
    pub retry_after: Option<Duration>,
}

impl From<serenity::Error> for CallError {
    fn from(err: serenity::Error) -> Self {
        CallError::Serenity(Box::new(err))
    }
}

impl CallError {
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Serenity(err) => match err.as_ref() {
                serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
                    Some(r.status_code.as_u16())
                }
                _ => None,
            },
            CallError::Answer(answer) => Some(answer.status),
        }
    }

    /// Discord's JSON error code.
    pub fn code(&self) -> Option<isize> {
        match self {
            CallError::Serenity(err) => match err.as_ref() {
                serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => Some(r.error.code),
                _ => None,
            },
            CallError::Answer(answer) => answer.code,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Answer(answer) => answer.retry_after,
            CallError::Serenity(_) => None,
        }
    }

    /// Is this a failure that may pass?
    pub fn transient(&self) -> Option<Transient> {
        match self.status() {
            Some(429) => Some(Transient::RateLimited),
            Some(500 | 502 | 503 | 504) => Some(Transient::Unavailable),
            Some(_) => None,
            None => match self {
                CallError::Serenity(err) => match err.as_ref() {
                    serenity::Error::Http(HttpError::Request(request))
                        if request.is_timeout() || request.is_connect() =>
                    {
                        Some(Transient::Unavailable)
                    }
                    _ => None,
                },
                CallError::Answer(_) => None,
            },
        }
    }

    /// In words, snowflakes redacted (logged and shown to facilitators).
    pub fn describe(&self) -> String {
        match self {
            CallError::Serenity(err) => describe(err),
            CallError::Answer(answer) => redact_ids(&match answer.code {
                Some(code) => format!("{} {} (code {code})", answer.status, answer.message),
                None => format!("{} {}", answer.status, answer.message),
            }),
        }
    }
}

/// Call `call` until it succeeds, fails for good, or `patience` runs out. Each retry is
/// logged (at WARN, with `what` and Discord's answer, snowflakes redacted).
pub async fn retry<T, E, F, Fut>(
    what: &str,
    patience: Patience,
    mut call: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Into<CallError>,
{
    let mut attempt = 1;
    loop {
        let err = match call().await {
            Ok(value) => return Ok(value),
            Err(err) => err.into(),
        };
        let Some(wait) = patience.wait(&err, attempt) else {
            return Err(err);
        };
        log_retry(what, &err, wait, attempt + 1, patience);
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

pub fn log_retry(what: &str, err: &CallError, wait: Duration, attempt: u32, patience: Patience) {
    tracing::warn!(
        "{what}: Discord answered {}; trying again in {} ms (attempt {attempt} of {})",
        err.describe(),
        wait.as_millis(),
        patience.attempts
    );
}

/// Discord requests sent with serenity's request builder (and its rate limiter, when on) whose
/// failed answers the bot reads itself, `retry_after` included.
#[derive(Clone)]
pub struct Rest {
    pub http: Arc<Http>,
    /// The client `http` was built with (serenity does not hand its own out).
    pub client: reqwest::Client,
}

impl Rest {
    /// Send `request`; the body of a successful answer.
    pub async fn send(&self, request: Request<'_>) -> Result<Vec<u8>, CallError> {
        let response = match &self.http.ratelimiter {
            Some(ratelimiter) => ratelimiter.perform(request).await?,
            None => {
                let built = request
                    .build(&self.client, self.http.token(), self.http.proxy.as_deref())?
                    .build()
                    .map_err(serenity::Error::from)?;
                self.client
                    .execute(built)
                    .await
                    .map_err(serenity::Error::from)?
            }
        };
        let status = response.status().as_u16();
        let header_wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        let body = response
            .bytes()
            .await
            .map_err(serenity::Error::from)?
            .to_vec();
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        // The body's retry_after is exact; the header is whole seconds.
        let retry_after = json["retry_after"]
            .as_f64()
            .or(header_wait)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let message = match json["message"].as_str() {
            Some(message) => message.to_string(),
            None => reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_string(),
        };
        Err(CallError::Answer(Answer {
            status,
            code: json["code"].as_i64().map(|c| c as isize),
            message,
            retry_after,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<f64>) -> CallError {
        CallError::Answer(Answer {
            status,
            code: None,
            message: String::new(),
            retry_after: retry_after.map(Duration::from_secs_f64),
        })
    }

    fn ms(ms: u64) -> Option<Duration> {
        Some(Duration::from_millis(ms))
    }

    #[test]
    fn rate_limits_wait_as_asked_within_bounds() {
        let chat = Patience::CHAT;
        assert_eq!(chat.wait(&answer(429, Some(0.3)), 1), ms(300));
        assert_eq!(
            chat.wait(&answer(429, None), 1),
            ms(1000),
            "unknown: the fallback"
        );
        assert_eq!(
            chat.wait(&answer(429, Some(30.0)), 1),
            None,
            "too long to wait"
        );
        assert_eq!(Patience::CALLBACK.wait(&answer(429, Some(1.0)), 1), None);
    }

    #[test]
    fn server_errors_back_off_and_give_up() {
        let chat = Patience::CHAT;
        let waits: Vec<Option<Duration>> =
            (1..=4).map(|a| chat.wait(&answer(502, None), a)).collect();
        assert_eq!(waits, [ms(250), ms(500), ms(1000), None]);
        assert_eq!(chat.wait(&answer(403, None), 1), None, "a refusal is final");
        assert_eq!(chat.wait(&answer(404, None), 1), None);
    }
}
