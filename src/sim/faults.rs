//! Injected REST failures and message deletion, for fault tests.
//!
//! [`Sim::fail_next`] makes the next `n` requests that match a method and a path pattern answer
//! with a failure as Discord sends it, instead of being handled:
//!
//! - [`Fault::RateLimited`]: 429 with Discord's body
//!   `{"message": "You are being rate limited.", "retry_after": 0.3, "global": false}` and the
//!   headers `Retry-After`, `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0`,
//!   `X-RateLimit-Reset`, `X-RateLimit-Reset-After`, `X-RateLimit-Bucket`, `X-RateLimit-Scope`
//!   (and `X-RateLimit-Global: true` for a global limit);
//! - [`Fault::ServerError`]: 500 with `{"message": "500: Internal Server Error", "code": 0}`;
//! - [`Fault::BadGateway`]: 502 with an HTML body (what Cloudflare answers when Discord's
//!   backend is down; not JSON);
//! - [`Fault::DoneButServerError`]: the request is carried out, then answered with that 500
//!   (the answer was lost: the client cannot know it worked).
//!
//! Except for the last, a failed request changes nothing and is recorded as a [`super::Call`] with its status, like
//! every other request. Patterns are matched segment by segment against the decoded path after
//! `/api/v10`, `*` matching any one segment: `/channels/*/messages/*/reactions/*/@me`.
//!
//! [`Sim::delete_message`] deletes a message as a moderator would: later reads of it answer
//! 404 `Unknown Message` (code 10008), and MESSAGE_DELETE is dispatched to a bot that asked
//! for the GUILD_MESSAGES intent.

use super::{Shared, Sim};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Mutex;

/// The GUILD_MESSAGES gateway intent (MESSAGE_CREATE/UPDATE/DELETE in guilds).
const GUILD_MESSAGES: u64 = 1 << 9;

/// How an injected failure answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 Too Many Requests; `retry_after` in seconds.
    RateLimited { retry_after: f64, global: bool },
    /// 500 Internal Server Error (Discord's JSON error body).
    ServerError,
    /// 502 Bad Gateway (an HTML body, as Cloudflare sends it).
    BadGateway,
    /// The request is carried out, but its answer is lost: 500 (as when Discord's backend
    /// did the work and then failed; the client cannot tell).
    DoneButServerError,
}

impl Fault {
    /// A per-route 429 asking to retry after `seconds`.
    pub fn rate_limited(seconds: f64) -> Fault {
        Fault::RateLimited {
            retry_after: seconds,
            global: false,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Fault::RateLimited { .. } => 429,
            Fault::ServerError | Fault::DoneButServerError => 500,
            Fault::BadGateway => 502,
        }
    }

    /// Whether the request is carried out before the failure is answered.
    pub(crate) fn done_anyway(&self) -> bool {
        matches!(self, Fault::DoneButServerError)
    }

    pub(crate) fn response(&self) -> Response {
        let json_type = HeaderValue::from_static("application/json");
        match self {
            Fault::RateLimited {
                retry_after,
                global,
            } => {
                let body = json!({
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": global,
                });
                let mut r = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
                let reset = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64())
                    + retry_after;
                let h = r.headers_mut();
                h.insert(header::CONTENT_TYPE, json_type);
                let mut put = |name: &'static str, value: String| {
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        h.insert(HeaderName::from_static(name), v);
                    }
                };
                // Discord's Retry-After header is whole seconds, rounded up; the body is exact.
                put("retry-after", format!("{}", retry_after.ceil().max(1.0)));
                put("x-ratelimit-limit", "5".into());
                put("x-ratelimit-remaining", "0".into());
                put("x-ratelimit-reset", format!("{reset:.3}"));
                put("x-ratelimit-reset-after", format!("{retry_after:.3}"));
                put("x-ratelimit-bucket", "sim-bucket".into());
                if *global {
                    put("x-ratelimit-global", "true".into());
                    put("x-ratelimit-scope", "global".into());
                } else {
                    put("x-ratelimit-scope", "user".into());
                }
                r
            }
            Fault::ServerError | Fault::DoneButServerError => {
                let body = json!({"message": "500: Internal Server Error", "code": 0});
                let mut r = (StatusCode::INTERNAL_SERVER_ERROR, body.to_string()).into_response();
                r.headers_mut().insert(header::CONTENT_TYPE, json_type);
                r
            }
            Fault::BadGateway => {
                let body = "<html><head><title>502 Bad Gateway</title></head>\
                            <body><center><h1>502 Bad Gateway</h1></center>\
                            <hr><center>cloudflare</center></body></html>";
                let mut r = (StatusCode::BAD_GATEWAY, body).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                r
            }
        }
    }
}

struct Rule {
    method: String,
    pattern: Vec<String>,
    left: usize,
    fault: Fault,
}

/// The armed failures, consumed in the order they were armed.
#[derive(Default)]
pub(crate) struct Faults {
    // A std mutex: only list edits while held.
    rules: Mutex<Vec<Rule>>,
}

impl Faults {
    /// The failure to answer `method path` with, if one is armed (and count it down).
    pub(crate) fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let segments = api_segments(path)?;
        let rule = rules
            .iter_mut()
            .find(|r| r.left > 0 && r.method == method && matches(&r.pattern, &segments))?;
        rule.left -= 1;
        let fault = rule.fault.clone();
        rules.retain(|r| r.left > 0);
        Some(fault)
    }
}

/// The decoded segments after `/api/v10`; `None` for other paths (the CDN, the gateway).
fn api_segments(path: &str) -> Option<Vec<String>> {
    let decoded = super::rest::percent_decode(path);
    let rest = decoded.strip_prefix("/api/v10")?;
    Some(
        rest.trim_start_matches('/')
            .split('/')
            .map(str::to_string)
            .collect(),
    )
}

fn matches(pattern: &[String], segments: &[String]) -> bool {
    pattern.len() == segments.len()
        && pattern
            .iter()
            .zip(segments)
            .all(|(p, s)| p == "*" || p == s)
}

impl Sim {
    /// Answer the next `n` requests matching `method` and `pattern` (see the module doc) with
    /// `fault` instead of handling them.
    pub fn fail_next(&self, method: &str, pattern: &str, n: usize, fault: Fault) {
        let pattern = pattern
            .trim_start_matches('/')
            .split('/')
            .map(str::to_string)
            .collect();
        self.faults()
            .rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Rule {
                method: method.to_ascii_uppercase(),
                pattern,
                left: n,
                fault,
            });
    }

    /// How many armed failures have not been used yet.
    pub fn faults_left(&self) -> usize {
        self.faults()
            .rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|r| r.left)
            .sum()
    }

    fn faults(&self) -> &Faults {
        &self.shared().faults
    }

    /// Delete a message as a moderator would (its reactions go with it). MESSAGE_DELETE is
    /// dispatched only to a bot with the GUILD_MESSAGES intent. Returns whether it existed.
    pub fn delete_message(&self, channel_id: u64, message_id: u64) -> bool {
        let shared: &Shared = self.shared();
        let mut st = shared.lock();
        let Some(msg) = st
            .messages
            .get_mut(&message_id)
            .filter(|m| m.channel_id == channel_id && !m.deleted)
        else {
            return false;
        };
        msg.deleted = true;
        if let Some(list) = st.channel_messages.get_mut(&channel_id) {
            list.retain(|m| *m != message_id);
        }
        let d = json!({
            "id": message_id.to_string(),
            "channel_id": channel_id.to_string(),
            "guild_id": st.guild_id.to_string(),
        });
        st.dispatch("MESSAGE_DELETE", d, Some(GUILD_MESSAGES));
        drop(st);
        shared.notify();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        api_segments(p).unwrap()
    }

    #[test]
    fn patterns_match_whole_segments() {
        let pattern: Vec<String> = "channels/*/messages/*/reactions/*/@me"
            .split('/')
            .map(String::from)
            .collect();
        assert!(matches(
            &pattern,
            &segs("/api/v10/channels/1/messages/2/reactions/%F0%9F%9F%A9/@me")
        ));
        assert!(!matches(
            &pattern,
            &segs("/api/v10/channels/1/messages/2/reactions/%F0%9F%9F%A9/33")
        ));
        assert!(!matches(&pattern, &segs("/api/v10/channels/1/messages")));
        assert!(api_segments("/gateway").is_none());
    }

    #[test]
    fn faults_are_used_up_in_order() {
        let faults = Faults::default();
        faults.rules.lock().unwrap().push(Rule {
            method: "GET".into(),
            pattern: vec!["channels".into(), "*".into()],
            left: 2,
            fault: Fault::ServerError,
        });
        assert!(faults.take("POST", "/api/v10/channels/1").is_none());
        let first = faults.take("GET", "/api/v10/channels/1").unwrap();
        assert_eq!(first.response().status(), 500);
        assert!(faults.take("GET", "/api/v10/channels/1").is_some());
        assert!(faults.take("GET", "/api/v10/channels/1").is_none());
    }
}
