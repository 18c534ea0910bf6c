//! Retrying Discord calls that failed for a passing reason: 429 (rate limited) and 5xx
//! (Discord or Cloudflare having trouble), a bounded number of times.
//!
//! What serenity 0.12 does with such an answer, and so what is left for us:
//!
//! - Against Discord itself its rate limiter is on: it waits before a call when a bucket is
//!   empty and, on a 429 with a `Retry-After` header (Discord always sends one), sleeps that
//!   long and sends the call again, as often as needed. A 5xx is handed back as an error.
//! - Against a Discord-compatible server (tests, the demo) the rate limiter is off (it would
//!   call discord.com, see `discord::run`): a 429 comes back as
//!   `HttpError::UnsuccessfulRequest` with the status only. serenity keeps neither the headers
//!   nor the body's `retry_after`: it decodes the body as `{code, message}`, and Discord's 429
//!   body has no `code`, so the decoded error says "Could not decode json" with code -1.
//!
//! So this layer sees 429s only where serenity could not read the wait, and then waits a fixed
//! [`Patience::rate_limit_wait`]; it backs off exponentially on 500/502/503/504 and on a
//! connection that failed. After [`Patience::attempts`] the error goes to the caller, who
//! tells the facilitator. Calls that create something (posting a message) are not simply
//! repeated after a 5xx — Discord may have done it anyway — see `chat::SerenityChat::post`.

use super::chat::describe;
use serenity::all::HttpError;
use std::future::Future;
use std::time::Duration;

/// How long to keep trying one call.
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait after the first 5xx; doubled after each further one.
    pub backoff: Duration,
    /// The wait after a 429 whose `retry_after` serenity did not pass on.
    pub rate_limit_wait: Duration,
}

impl Patience {
    /// Channel messages, reactions, reaction lists: 4 attempts, at most 1 s + 2 s + 2 s of
    /// waiting (5xx: 0.25 + 0.5 + 1 s).
    pub const CHAT: Patience = Patience {
        attempts: 4,
        backoff: Duration::from_millis(250),
        rate_limit_wait: Duration::from_secs(1),
    };

    /// The first answer to an interaction must reach Discord within 3 s of the event: 3
    /// attempts, at most 0.5 s of waiting twice.
    pub const CALLBACK: Patience = Patience {
        attempts: 3,
        backoff: Duration::from_millis(200),
        rate_limit_wait: Duration::from_millis(500),
    };

    /// The wait before attempt `attempt + 1` after `err` on attempt `attempt`, or `None`: give
    /// up (not a passing failure, or no attempts left).
    pub fn wait(&self, err: &serenity::Error, attempt: u32) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        let backoff = self.backoff * 2u32.saturating_pow(attempt - 1);
        match transient(err)? {
            Transient::RateLimited => Some(self.rate_limit_wait),
            Transient::Unavailable => Some(backoff.min(Duration::from_secs(2))),
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

/// Is `err` a failure that may pass?
pub fn transient(err: &serenity::Error) -> Option<Transient> {
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            match response.status_code.as_u16() {
                429 => Some(Transient::RateLimited),
                500 | 502 | 503 | 504 => Some(Transient::Unavailable),
                _ => None,
            }
        }
        serenity::Error::Http(HttpError::Request(request))
            if request.is_timeout() || request.is_connect() =>
        {
            Some(Transient::Unavailable)
        }
        _ => None,
    }
}

/// Call `call` until it succeeds, fails for good, or `patience` runs out. Each retry is
/// logged (at WARN, with `what` and Discord's answer, snowflakes redacted).
pub async fn retry<T, F, Fut>(
    what: &str,
    patience: Patience,
    mut call: F,
) -> Result<T, serenity::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, serenity::Error>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(err) => {
                let Some(wait) = patience.wait(&err, attempt) else {
                    return Err(err);
                };
                tracing::warn!(
                    "{what}: Discord answered {}; trying again in {} ms (attempt {} of {})",
                    describe(&err),
                    wait.as_millis(),
                    attempt + 1,
                    patience.attempts
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}
