//! The REST API under `/api/v10` (plus the fake CDN under `/attachments/...`).
//!
//! One fallback handler routes on the raw path so that every request — including unknown
//! routes (404 `{"message": "404: Not Found", "code": 0}`) and wrong methods (405) — is
//! answered in Discord's JSON error shape and recorded as a [`Call`]. Waiters in the test API
//! are only woken after the call is recorded, so a test that sees an effect also sees the call.
//!
//! Auth: `Authorization: Bot <token>` is required (401 otherwise) except on `GET /gateway`
//! and on the interaction/webhook-token routes, which Discord authenticates by the token in
//! the path (a wrong `Authorization` header is still refused there).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{FromRequest, Multipart, Request, State as AxumState};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::commands;
use super::messages::{self, p, FormErrors, Upload, Write};
use super::payloads;
use super::perms;
use super::state::{msg_flags, now_ms, InteractionMeta, ReactError, Response as IResponse, State};
use super::{Call, Shared};

/// Largest request body accepted (Discord's own limit is in this order of magnitude).
pub(crate) const MAX_BODY: usize = 64 << 20;
/// Interaction tokens stay valid this long after the interaction was created.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// An error answered in Discord's JSON error shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: u64, message: &str) -> Self {
        ApiError {
            status,
            body: payloads::error(code, message, None),
        }
    }
    pub(crate) fn invalid_form(errors: Value) -> Self {
        ApiError {
            status: 400,
            body: payloads::error(50035, "Invalid Form Body", Some(errors)),
        }
    }
    fn not_found() -> Self {
        Self::new(404, 0, "404: Not Found")
    }
    fn unauthorized() -> Self {
        Self::new(401, 0, "401: Unauthorized")
    }
    fn method_not_allowed() -> Self {
        Self::new(405, 0, "405: Method Not Allowed")
    }
    fn unknown_channel() -> Self {
        Self::new(404, 10003, "Unknown Channel")
    }
    fn unknown_message() -> Self {
        Self::new(404, 10008, "Unknown Message")
    }
    fn unknown_webhook() -> Self {
        Self::new(404, 10015, "Unknown Webhook")
    }
    fn unknown_interaction() -> Self {
        Self::new(404, 10062, "Unknown interaction")
    }
    fn unknown_command() -> Self {
        Self::new(404, 10063, "Unknown application command")
    }
    fn unknown_emoji() -> Self {
        Self::new(400, 10014, "Unknown Emoji")
    }
    fn missing_access() -> Self {
        Self::new(403, 50001, "Missing Access")
    }
    fn missing_permissions() -> Self {
        Self::new(403, 50013, "Missing Permissions")
    }
    fn already_acknowledged() -> Self {
        Self::new(400, 40060, "Interaction has already been acknowledged.")
    }
    fn invalid_json() -> Self {
        Self::new(400, 50109, "The request body contains invalid JSON.")
    }
    fn from_react(e: ReactError) -> Self {
        match e {
            ReactError::UnknownMessage => Self::unknown_message(),
            ReactError::MaxReactions => {
                Self::new(400, 30010, "Maximum number of reactions reached (20)")
            }
        }
    }
}

/// A successful answer.
enum Ok_ {
    Json(u16, Value),
    NoContent,
    Bytes(String, Vec<u8>),
}

type Result<T> = std::result::Result<T, ApiError>;

/// A parsed request body.
struct Body {
    json: Value,
    uploads: Vec<Upload>,
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `?&limit=100&after=1` → pairs (serenity writes a leading `&`; empty pieces are skipped).
fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect()
}

fn snowflake(s: &str, field: &str) -> Result<u64> {
    s.parse::<u64>().map_err(|_| {
        ApiError::invalid_form(json!({field: {"_errors": [{
            "code": "NUMBER_TYPE_COERCE",
            "message": format!("Value \"{s}\" is not snowflake."),
        }]}}))
    })
}

/// Canonical emoji key from a path segment: `🟩` or `name:id`.
fn emoji_key(seg: &str) -> Result<String> {
    if let Some((name, id)) = payloads::split_custom_emoji(seg) {
        if name.is_empty() && id == 0 {
            return Err(ApiError::unknown_emoji());
        }
        return Ok(format!("{name}:{id}"));
    }
    if seg.is_empty() || seg.contains(':') || seg.chars().any(char::is_whitespace) || seg.is_ascii()
    {
        return Err(ApiError::unknown_emoji());
    }
    Ok(seg.to_string())
}

/// The HTTP entry point for everything that is not the websocket.
pub(crate) async fn handle(AxumState(shared): AxumState<Arc<Shared>>, req: Request) -> Response {
    let at = SystemTime::now();
    let since_start = shared.started.elapsed();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    super::outage::wait_while_request_held(&shared, &method, &path).await;
    if let Some(fault) = shared.faults.take(&method, &path) {
        if fault.done_anyway() {
            let _ = route(&shared, req).await;
        }
        let status = fault.status();
        shared.lock().record_call(Call {
            method,
            path,
            query,
            status,
            at,
            since_start,
        });
        shared.notify();
        return fault.response();
    }
    let result = route(&shared, req).await;
    super::outage::wait_while_response_held(&shared, &method, &path).await;
    let (status, response) = match result {
        Ok(Ok_::Json(status, v)) => (status, json_response(status, &v)),
        Ok(Ok_::NoContent) => (204, StatusCode::NO_CONTENT.into_response()),
        Ok(Ok_::Bytes(ct, bytes)) => {
            let mut r = bytes.into_response();
            if let Ok(v) = HeaderValue::from_str(&ct) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            (200, r)
        }
        Err(e) => (e.status, json_response(e.status, &e.body)),
    };
    tracing::debug!(target: "stemkaart::sim", "{method} {path}?{query} → {status}");
    shared.lock().record_call(Call {
        method,
        path,
        query,
        status,
        at,
        since_start,
    });
    shared.notify();
    response
}

fn json_response(status: u16, v: &Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        v.to_string(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn read_body(req: Request) -> Result<Body> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let bad = |_| ApiError::new(400, 50035, "Invalid Form Body");
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|_| ApiError::new(400, 50035, "Invalid Form Body"))?;
        let mut json = Value::Null;
        let mut fields = serde_json::Map::new();
        let mut uploads = Vec::new();
        while let Some(field) = mp.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or("").to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let bytes = field
                .bytes()
                .await
                .map_err(|_| ApiError::new(413, 40005, "Request entity too large"))?;
            if name == "payload_json" {
                json = serde_json::from_slice(&bytes).map_err(|_| ApiError::invalid_json())?;
            } else if let Some(filename) = filename {
                uploads.push(Upload {
                    field: name,
                    filename,
                    content_type,
                    bytes: bytes.to_vec(),
                });
            } else {
                fields.insert(name, json!(String::from_utf8_lossy(&bytes)));
            }
        }
        if json.is_null() && !fields.is_empty() {
            json = Value::Object(fields);
        }
        Ok(Body { json, uploads })
    } else {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::new(413, 40005, "Request entity too large"))?;
        let json = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| ApiError::invalid_json())?
        };
        Ok(Body {
            json,
            uploads: Vec::new(),
        })
    }
}

async fn route(shared: &Shared, req: Request) -> Result<Ok_> {
    let raw_path = req.uri().path().to_string();
    let query = query_pairs(req.uri().query().unwrap_or(""));
    let method = req.method().clone();
    let segs: Vec<String> = raw_path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();

    // The fake CDN.
    if let ["attachments" | "media-proxy", ..] = segs.as_slice() {
        return cdn(shared, &method, &segs);
    }
    let api: &[&str] = match segs.as_slice() {
        ["api", "v10", rest @ ..] => rest,
        _ => return Err(ApiError::not_found()),
    };

    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token_route = matches!(api.first(), Some(&"interactions") | Some(&"webhooks"));
    let public = api == ["gateway"];
    let expected = format!("Bot {}", shared.lock().config.token);
    let auth_ok = auth.as_deref() == Some(expected.as_str());
    let token_in_path = token_route && auth.is_none();
    if !(public || auth_ok || token_in_path) {
        return Err(ApiError::unauthorized());
    }
    let body = read_body(req).await?;
    let mut st = shared.lock();
    let st = &mut *st;
    let get = method == Method::GET;
    let post = method == Method::POST;
    let put = method == Method::PUT;
    let patch = method == Method::PATCH;
    let delete = method == Method::DELETE;
    let m405 = || Err(ApiError::method_not_allowed());

    match api {
        ["gateway"] if get => Ok(Ok_::Json(200, json!({"url": ws_url(st)}))),
        ["gateway", "bot"] if get => Ok(Ok_::Json(
            200,
            json!({
                "url": ws_url(st),
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 1000 - st.ready_count.min(999), "reset_after": 86_400_000, "max_concurrency": 1},
            }),
        )),
        ["gateway"] | ["gateway", "bot"] => m405(),
        ["users", "@me"] if get => {
            let mut u = payloads::user(st.bot());
            u["verified"] = json!(true);
            u["mfa_enabled"] = json!(false);
            u["email"] = Value::Null;
            u["locale"] = json!("en-US");
            Ok(Ok_::Json(200, u))
        }
        ["oauth2", "applications", "@me"] | ["applications", "@me"] if get => {
            Ok(Ok_::Json(200, payloads::application(st)))
        }
        ["users", id] if get => {
            let id = snowflake(id, "user_id")?;
            let u = st
                .users
                .get(&id)
                .ok_or_else(|| ApiError::new(404, 10013, "Unknown User"))?;
            Ok(Ok_::Json(200, payloads::user(u)))
        }
        ["users", _] => m405(),

        // ---- application commands
        ["applications", app, "commands"] => {
            let scope = command_scope(st, app, None)?;
            commands_collection(st, &method, scope, &body)
        }
        ["applications", app, "commands", id] => {
            let scope = command_scope(st, app, None)?;
            command_one(st, &method, scope, id, &body)
        }
        ["applications", app, "guilds", g, "commands"] => {
            let scope = command_scope(st, app, Some(g))?;
            commands_collection(st, &method, scope, &body)
        }
        ["applications", app, "guilds", g, "commands", id] => {
            let scope = command_scope(st, app, Some(g))?;
            command_one(st, &method, scope, id, &body)
        }

        // ---- guild
        ["guilds", g] if get => {
            guild_check(st, g)?;
            Ok(Ok_::Json(200, payloads::guild_base(st)))
        }
        ["guilds", g, "channels"] if get => {
            guild_check(st, g)?;
            let v: Vec<Value> = st
                .channels
                .iter()
                .map(|c| payloads::channel(st, c))
                .collect();
            Ok(Ok_::Json(200, json!(v)))
        }
        ["guilds", g, "roles"] if get => {
            guild_check(st, g)?;
            let v: Vec<Value> = st.roles.iter().map(payloads::role).collect();
            Ok(Ok_::Json(200, json!(v)))
        }
        ["guilds", g, "members", u] if get => {
            guild_check(st, g)?;
            let id = snowflake(u, "user_id")?;
            let u = st
                .users
                .get(&id)
                .ok_or_else(|| ApiError::new(404, 10007, "Unknown Member"))?;
            Ok(Ok_::Json(200, payloads::member(st, u, false)))
        }
        ["guilds", _] | ["guilds", _, "channels" | "roles"] | ["guilds", _, "members", _] => m405(),

        // ---- channels and messages
        ["channels", c] if get => {
            let c = channel_check(st, c)?;
            let ch = st.channel(c).expect("checked");
            Ok(Ok_::Json(200, payloads::channel(st, ch)))
        }
        ["channels", _] => m405(),
        ["channels", c, "messages"] if post => {
            let c = channel_check(st, c)?;
            let bits = st.bot_channel_permissions(c);
            if bits & perms::SEND_MESSAGES == 0
                || (!body.uploads.is_empty() && bits & perms::ATTACH_FILES == 0)
            {
                return Err(ApiError::missing_permissions());
            }
            if let Some(sent) = messages::sent_with_nonce(st, c, &body.json) {
                return Ok(Ok_::Json(200, sent));
            }
            let mut msg = messages::blank(st, c);
            messages::apply(
                st,
                &mut msg,
                &body.json,
                &body.uploads,
                Write::Create {
                    ephemeral_allowed: false,
                },
            )?;
            let v = payloads::message(st, &msg);
            st.insert_message(msg);
            Ok(Ok_::Json(200, v))
        }
        ["channels", c, "messages"] if get => {
            let c = channel_check(st, c)?;
            history_check(st, c)?;
            list_messages(st, c, &query)
        }
        ["channels", _, "messages"] => m405(),
        ["channels", c, "messages", m] => {
            let c = channel_check(st, c)?;
            let m = snowflake(m, "message_id")?;
            if get {
                history_check(st, c)?;
                let msg = st
                    .visible_message(c, m)
                    .ok_or_else(ApiError::unknown_message)?;
                Ok(Ok_::Json(200, payloads::message(st, msg)))
            } else if patch {
                let mut msg = st
                    .visible_message(c, m)
                    .cloned()
                    .ok_or_else(ApiError::unknown_message)?;
                if msg.author_id != st.bot_id {
                    return Err(ApiError::new(
                        403,
                        50005,
                        "Cannot edit a message authored by another user",
                    ));
                }
                messages::apply(st, &mut msg, &body.json, &body.uploads, Write::Edit)?;
                msg.edited_ms = Some(now_ms());
                let v = payloads::message(st, &msg);
                st.messages.insert(m, msg);
                Ok(Ok_::Json(200, v))
            } else if delete {
                let msg = st
                    .visible_message(c, m)
                    .ok_or_else(ApiError::unknown_message)?;
                if msg.author_id != st.bot_id
                    && st.bot_channel_permissions(c) & perms::MANAGE_MESSAGES == 0
                {
                    return Err(ApiError::missing_permissions());
                }
                delete_message(st, m);
                Ok(Ok_::NoContent)
            } else {
                m405()
            }
        }

        // ---- reactions
        ["channels", c, "messages", m, "reactions"] if delete => {
            let c = channel_check(st, c)?;
            let m = snowflake(m, "message_id")?;
            if st.bot_channel_permissions(c) & perms::MANAGE_MESSAGES == 0 {
                return Err(ApiError::missing_permissions());
            }
            st.clear_reactions(c, m, None)
                .map_err(ApiError::from_react)?;
            Ok(Ok_::NoContent)
        }
        ["channels", _, "messages", _, "reactions"] => m405(),
        ["channels", c, "messages", m, "reactions", e] => {
            let c = channel_check(st, c)?;
            let m = snowflake(m, "message_id")?;
            let e = emoji_key(e)?;
            if get {
                history_check(st, c)?;
                reaction_users(st, c, m, &e, &query)
            } else if delete {
                if st.bot_channel_permissions(c) & perms::MANAGE_MESSAGES == 0 {
                    return Err(ApiError::missing_permissions());
                }
                st.clear_reactions(c, m, Some(&e))
                    .map_err(ApiError::from_react)?;
                Ok(Ok_::NoContent)
            } else {
                m405()
            }
        }
        ["channels", c, "messages", m, "reactions", e, who] => {
            let c = channel_check(st, c)?;
            let m = snowflake(m, "message_id")?;
            let e = emoji_key(e)?;
            history_check(st, c)?;
            let bot = st.bot_id;
            if put && *who == "@me" {
                let exists = st
                    .visible_message(c, m)
                    .ok_or_else(ApiError::unknown_message)?
                    .reactions
                    .iter()
                    .any(|(k, _)| *k == e);
                if !exists && st.bot_channel_permissions(c) & perms::ADD_REACTIONS == 0 {
                    return Err(ApiError::missing_permissions());
                }
                st.add_reaction(c, m, &e, bot)
                    .map_err(ApiError::from_react)?;
                Ok(Ok_::NoContent)
            } else if delete {
                let user = if *who == "@me" {
                    bot
                } else {
                    snowflake(who, "user_id")?
                };
                if user != bot && st.bot_channel_permissions(c) & perms::MANAGE_MESSAGES == 0 {
                    return Err(ApiError::missing_permissions());
                }
                st.remove_reaction(c, m, &e, user)
                    .map_err(ApiError::from_react)?;
                Ok(Ok_::NoContent)
            } else {
                m405()
            }
        }

        // ---- interactions
        ["interactions", id, token, "callback"] if post => {
            let r = interaction_callback(st, id, token, &body, &query);
            if let (Err(e), Ok(iid)) = (&r, id.parse::<u64>()) {
                note_error(st, iid, "POST callback", e);
            }
            r
        }
        ["interactions", _, _, "callback"] => m405(),
        ["webhooks", app, token] if post => {
            let iid = webhook_interaction(st, app, token)?;
            let r = followup(st, iid, &body);
            if let Err(e) = &r {
                note_error(st, iid, "POST follow-up", e);
            }
            r
        }
        ["webhooks", _, _] => m405(),
        ["webhooks", app, token, "messages", which] => {
            let iid = webhook_interaction(st, app, token)?;
            let r = webhook_message(st, &method, iid, which, &body);
            if let Err(e) = &r {
                note_error(st, iid, &format!("{method} messages/{which}"), e);
            }
            r
        }

        _ => Err(ApiError::not_found()),
    }
}

fn ws_url(st: &State) -> String {
    format!("{}/gateway", st.base_url.replacen("http", "ws", 1))
}

fn cdn(shared: &Shared, method: &Method, segs: &[&str]) -> Result<Ok_> {
    let segs = if segs.first() == Some(&"media-proxy") {
        &segs[1..]
    } else {
        segs
    };
    let not_found = || ApiError::new(404, 0, "This content is no longer available.");
    if *method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let ["attachments", c, a, _name] = segs else {
        return Err(not_found());
    };
    let (Ok(c), Ok(a)) = (c.parse::<u64>(), a.parse::<u64>()) else {
        return Err(not_found());
    };
    let st = shared.lock();
    st.messages
        .values()
        .filter(|m| m.channel_id == c && !m.deleted)
        .flat_map(|m| m.attachments.iter())
        .find(|x| x.id == a)
        .map(|x| {
            Ok_::Bytes(
                x.content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into()),
                x.bytes.clone(),
            )
        })
        .ok_or_else(not_found)
}

fn guild_check(st: &State, g: &str) -> Result<()> {
    if snowflake(g, "guild_id")? != st.guild_id {
        return Err(ApiError::new(404, 10004, "Unknown Guild"));
    }
    Ok(())
}

/// The channel exists and the bot can see it.
fn channel_check(st: &State, c: &str) -> Result<u64> {
    let c = snowflake(c, "channel_id")?;
    if st.channel(c).is_none() {
        return Err(ApiError::unknown_channel());
    }
    if st.bot_channel_permissions(c) & perms::VIEW_CHANNEL == 0 {
        return Err(ApiError::missing_access());
    }
    Ok(c)
}

fn history_check(st: &State, c: u64) -> Result<()> {
    if st.bot_channel_permissions(c) & perms::READ_MESSAGE_HISTORY == 0 {
        return Err(ApiError::missing_access());
    }
    Ok(())
}

fn delete_message(st: &mut State, m: u64) {
    if let Some(msg) = st.messages.get_mut(&m) {
        msg.deleted = true;
        let c = msg.channel_id;
        if let Some(list) = st.channel_messages.get_mut(&c) {
            list.retain(|x| *x != m);
        }
    }
}

fn list_messages(st: &State, c: u64, query: &[(String, String)]) -> Result<Ok_> {
    let mut limit = 50usize;
    let mut before = None;
    let mut after = None;
    for (k, v) in query {
        match k.as_str() {
            "limit" => limit = parse_limit(v, 100)?,
            "before" => before = Some(snowflake(v, "before")?),
            "after" => after = Some(snowflake(v, "after")?),
            _ => {}
        }
    }
    let mut ids: Vec<u64> = st.channel_messages.get(&c).cloned().unwrap_or_default();
    ids.sort_unstable();
    let out: Vec<Value> = if let Some(a) = after {
        let mut v: Vec<u64> = ids.into_iter().filter(|i| *i > a).take(limit).collect();
        v.reverse();
        v.iter()
            .map(|i| payloads::message(st, &st.messages[i]))
            .collect()
    } else {
        ids.into_iter()
            .rev()
            .filter(|i| before.is_none_or_lt(*i))
            .take(limit)
            .map(|i| payloads::message(st, &st.messages[&i]))
            .collect()
    };
    Ok(Ok_::Json(200, json!(out)))
}

trait BeforeExt {
    fn is_none_or_lt(&self, id: u64) -> bool;
}
impl BeforeExt for Option<u64> {
    fn is_none_or_lt(&self, id: u64) -> bool {
        self.is_none_or(|b| id < b)
    }
}

fn parse_limit(v: &str, max: usize) -> Result<usize> {
    let err = |code: &str, msg: String| {
        ApiError::invalid_form(json!({"limit": {"_errors": [{"code": code, "message": msg}]}}))
    };
    let n: i64 = v
        .parse()
        .map_err(|_| err("NUMBER_TYPE_COERCE", format!("Value \"{v}\" is not int.")))?;
    if n < 1 {
        return Err(err(
            "NUMBER_TYPE_MIN",
            "int value should be greater than or equal to 1.".into(),
        ));
    }
    if n as usize > max {
        return Err(err(
            "NUMBER_TYPE_MAX",
            format!("int value should be less than or equal to {max}."),
        ));
    }
    Ok(n as usize)
}

fn reaction_users(st: &State, c: u64, m: u64, e: &str, query: &[(String, String)]) -> Result<Ok_> {
    let mut limit = 25usize;
    let mut after = 0u64;
    let mut burst = false;
    for (k, v) in query {
        match k.as_str() {
            "limit" => limit = parse_limit(v, 100)?,
            "after" => after = snowflake(v, "after")?,
            "type" => burst = v == "1",
            _ => {}
        }
    }
    let msg = st
        .visible_message(c, m)
        .ok_or_else(ApiError::unknown_message)?;
    let mut users: Vec<u64> = if burst {
        Vec::new()
    } else {
        msg.reactions
            .iter()
            .find(|(k, _)| k == e)
            .map(|(_, u)| u.clone())
            .unwrap_or_default()
    };
    users.sort_unstable();
    let out: Vec<Value> = users
        .into_iter()
        .filter(|u| *u > after)
        .take(limit)
        .filter_map(|u| st.users.get(&u).map(payloads::user))
        .collect();
    Ok(Ok_::Json(200, json!(out)))
}

// ---------------------------------------------------------------- commands

fn command_scope(st: &State, app: &str, guild: Option<&&str>) -> Result<Option<u64>> {
    let app = snowflake(app, "application_id")?;
    if app != st.app_id {
        return Err(ApiError::missing_access());
    }
    match guild {
        None => Ok(None),
        Some(g) => {
            let g = snowflake(g, "guild_id")?;
            if g != st.guild_id {
                return Err(ApiError::missing_access());
            }
            Ok(Some(g))
        }
    }
}

fn scope_values(st: &State, scope: Option<u64>) -> Vec<Value> {
    st.commands
        .iter()
        .filter(|c| c.guild_id == scope)
        .map(|c| c.value.clone())
        .collect()
}

fn commands_collection(
    st: &mut State,
    method: &Method,
    scope: Option<u64>,
    body: &Body,
) -> Result<Ok_> {
    match *method {
        Method::GET => Ok(Ok_::Json(200, json!(scope_values(st, scope)))),
        Method::POST => {
            let v = commands::validate(&body.json, &[])?;
            let (name, kind) = (v["name"].clone(), v["type"].as_u64().unwrap_or(1));
            if let Some(pos) = st
                .commands
                .iter()
                .position(|c| c.guild_id == scope && c.value["name"] == name && c.kind() == kind)
            {
                let (id, old) = (st.commands[pos].id, st.commands[pos].value.clone());
                let version = commands::version_after(st, &old, &v, id);
                let full = commands::finish(st, v, id, version, scope);
                st.commands[pos].value = full.clone();
                return Ok(Ok_::Json(200, full));
            }
            let limit = if kind == 1 { 100 } else { 15 };
            if st
                .commands
                .iter()
                .filter(|c| c.guild_id == scope && c.kind() == kind)
                .count()
                >= limit
            {
                return Err(ApiError::new(
                    400,
                    30032,
                    "Maximum number of application commands reached",
                ));
            }
            let id = st.next_id();
            let full = commands::finish(st, v, id, id, scope);
            st.commands.push(super::state::CommandRec {
                id,
                guild_id: scope,
                value: full.clone(),
            });
            Ok(Ok_::Json(201, full))
        }
        Method::PUT => {
            let Some(list) = body.json.as_array() else {
                return Err(ApiError::invalid_form(json!({"_errors": [{
                    "code": "BASE_TYPE_LIST", "message": "Could not interpret value as list."}]})));
            };
            if list.len() > 200 {
                return Err(ApiError::invalid_form(json!({"_errors": [{
                    "code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 200 or fewer in length."}]})));
            }
            let mut validated = Vec::new();
            let mut errs_first: Option<ApiError> = None;
            for (i, c) in list.iter().enumerate() {
                match commands::validate(c, &[i.to_string()]) {
                    Ok(v) => validated.push(v),
                    Err(e) => {
                        errs_first.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = errs_first {
                return Err(e);
            }
            let mut dup = FormErrors::default();
            for (i, a) in validated.iter().enumerate() {
                if validated[..i]
                    .iter()
                    .any(|b| b["name"] == a["name"] && b["type"] == a["type"])
                {
                    dup.add(
                        &p(&[&i.to_string(), "name"]),
                        "APPLICATION_COMMANDS_DUPLICATE_NAME",
                        format!("Application command names must be unique: {}", a["name"]),
                    );
                }
            }
            dup.into_result()?;
            let old: Vec<super::state::CommandRec> = st
                .commands
                .iter()
                .filter(|c| c.guild_id == scope)
                .cloned()
                .collect();
            st.commands.retain(|c| c.guild_id != scope);
            let mut out = Vec::new();
            for v in validated {
                let prev = old
                    .iter()
                    .find(|c| c.value["name"] == v["name"] && c.value["type"] == v["type"]);
                let id = match prev {
                    Some(c) => c.id,
                    None => st.next_id(),
                };
                let version = match prev {
                    Some(c) if commands::same_definition(&c.value, &v) => c.value["version"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(id),
                    Some(_) => st.next_id(),
                    None => id,
                };
                let full = commands::finish(st, v, id, version, scope);
                out.push(full.clone());
                st.commands.push(super::state::CommandRec {
                    id,
                    guild_id: scope,
                    value: full,
                });
            }
            Ok(Ok_::Json(200, json!(out)))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn command_one(
    st: &mut State,
    method: &Method,
    scope: Option<u64>,
    id: &str,
    body: &Body,
) -> Result<Ok_> {
    let id = snowflake(id, "command_id")?;
    let pos = st
        .commands
        .iter()
        .position(|c| c.id == id && c.guild_id == scope)
        .ok_or_else(ApiError::unknown_command)?;
    match *method {
        Method::GET => Ok(Ok_::Json(200, st.commands[pos].value.clone())),
        Method::DELETE => {
            st.commands.remove(pos);
            Ok(Ok_::NoContent)
        }
        Method::PATCH => {
            let Some(changes) = body.json.as_object() else {
                return Err(ApiError::invalid_form(json!({"_errors": [{
                    "code": "MODEL_TYPE_CONVERT", "message": "Only dictionaries may be used in a ModelType"}]})));
            };
            let old = st.commands[pos].value.clone();
            let mut merged = old.clone();
            for (k, v) in changes {
                merged[k] = v.clone();
            }
            let v = commands::validate(&merged, &[])?;
            let version = commands::version_after(st, &old, &v, id);
            let full = commands::finish(st, v, id, version, scope);
            st.commands[pos].value = full.clone();
            Ok(Ok_::Json(200, full))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

// ---------------------------------------------------------------- interactions

/// Remember a refused interaction call, for [`super::Sim::command`]'s error messages.
fn note_error(st: &mut State, iid: u64, what: &str, e: &ApiError) {
    if let Some(r) = st.interactions.get_mut(&iid) {
        r.errors.push(format!("{what} → {} {}", e.status, e.body));
    }
}

fn interaction_callback(
    st: &mut State,
    id: &str,
    token: &str,
    body: &Body,
    query: &[(String, String)],
) -> Result<Ok_> {
    let id: u64 = id.parse().map_err(|_| ApiError::unknown_interaction())?;
    let deadline = st.config.interaction_deadline;
    let rec = st
        .interactions
        .get_mut(&id)
        .filter(|r| r.token == token)
        .ok_or_else(ApiError::unknown_interaction)?;
    if rec.response.is_some() {
        return Err(ApiError::already_acknowledged());
    }
    if rec.dispatched_at.elapsed() > deadline {
        rec.expired = true;
        return Err(ApiError::unknown_interaction());
    }
    let rec = rec.clone();
    let kind = body.json.get("type").and_then(Value::as_u64).unwrap_or(0);
    let data = body.json.get("data").cloned().unwrap_or(Value::Null);
    let invalid_type = || {
        ApiError::invalid_form(json!({"type": {"_errors": [{
            "code": "INTERACTION_RESPONSE_TYPE_INVALID",
            "message": "Interaction response type is invalid for this interaction type.",
        }]}}))
    };
    let mut message_id = None;
    let response = match (rec.kind, kind) {
        (2, 4) => {
            let mut msg = interaction_message(st, &rec);
            messages::apply(
                st,
                &mut msg,
                &data,
                &body.uploads,
                Write::Create {
                    ephemeral_allowed: true,
                },
            )
            .map_err(nest_under_data)?;
            message_id = Some(msg.id);
            st.insert_message(msg);
            IResponse::Message
        }
        (2, 5) => {
            let mut msg = interaction_message(st, &rec);
            let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
            msg.flags = msg_flags::LOADING | (flags & msg_flags::EPHEMERAL);
            message_id = Some(msg.id);
            st.insert_message(msg);
            IResponse::Deferred
        }
        (4, 8) => IResponse::Autocomplete(commands::validate_choices(&data)?),
        (2, 9) => {
            if data.get("custom_id").is_none() || data.get("title").is_none() {
                return Err(ApiError::invalid_form(json!({"data": {"_errors": [{
                    "code": "BASE_TYPE_REQUIRED", "message": "custom_id and title are required"}]}})));
            }
            IResponse::Modal(data)
        }
        _ => return Err(invalid_type()),
    };
    let answered = !matches!(response, IResponse::Deferred);
    let loading = matches!(response, IResponse::Deferred);
    let r = st.interactions.get_mut(&id).expect("exists");
    r.response = Some(response);
    r.original_message_id = message_id;
    r.loading = loading;
    r.answered = answered;
    if query
        .iter()
        .any(|(k, v)| k == "with_response" && v == "true")
    {
        let msg = message_id.and_then(|m| st.messages.get(&m));
        let mut v = json!({
            "interaction": {
                "id": id.to_string(),
                "type": rec.kind,
                "activity_instance_id": null,
                "response_message_id": message_id.map(|m| m.to_string()),
                "response_message_loading": loading,
                "response_message_ephemeral": msg.is_some_and(|m| m.ephemeral()),
            },
            "resource": {"type": kind},
        });
        if let Some(m) = msg {
            v["resource"]["message"] = payloads::message(st, m);
        }
        return Ok(Ok_::Json(200, v));
    }
    Ok(Ok_::NoContent)
}

/// Errors in a callback's message data are reported under `data`.
fn nest_under_data(mut e: ApiError) -> ApiError {
    if let Some(errors) = e.body.get("errors").cloned() {
        e.body["errors"] = json!({"data": errors});
    }
    e
}

fn interaction_message(
    st: &mut State,
    rec: &super::state::InteractionRec,
) -> super::state::MessageRec {
    let mut msg = messages::blank(st, rec.channel_id);
    msg.kind = 20;
    msg.webhook_id = Some(st.app_id);
    msg.interaction = Some(InteractionMeta {
        id: rec.id,
        user_id: rec.user_id,
        name: rec.command_name.clone(),
        original_response_message_id: None,
    });
    msg
}

fn webhook_interaction(st: &State, app: &str, token: &str) -> Result<u64> {
    if app.parse::<u64>().ok() != Some(st.app_id) {
        return Err(ApiError::unknown_webhook());
    }
    let id = *st
        .interaction_tokens
        .get(token)
        .ok_or_else(ApiError::unknown_webhook)?;
    let rec = &st.interactions[&id];
    if rec.dispatched_at.elapsed() > TOKEN_LIFETIME {
        return Err(ApiError::new(401, 50027, "Invalid Webhook Token"));
    }
    if rec.response.is_none() || rec.kind != 2 {
        return Err(ApiError::unknown_webhook());
    }
    Ok(id)
}

fn followup(st: &mut State, iid: u64, body: &Body) -> Result<Ok_> {
    let rec = st.interactions[&iid].clone();
    if rec.loading {
        // The first follow-up after a defer replaces the loading message (Discord keeps the
        // defer's ephemerality).
        let orig_id = rec
            .original_message_id
            .ok_or_else(ApiError::unknown_message)?;
        let orig = st.messages[&orig_id].clone();
        let mut msg = orig.clone();
        msg.content.clear();
        msg.embeds.clear();
        msg.components.clear();
        msg.attachments.clear();
        messages::apply(
            st,
            &mut msg,
            &body.json,
            &body.uploads,
            Write::Create {
                ephemeral_allowed: true,
            },
        )?;
        msg.flags = orig.flags & msg_flags::EPHEMERAL | (msg.flags & !msg_flags::EPHEMERAL);
        let v = payloads::message(st, &msg);
        st.messages.insert(orig_id, msg);
        let r = st.interactions.get_mut(&iid).expect("exists");
        r.loading = false;
        r.answered = true;
        return Ok(Ok_::Json(200, v));
    }
    let mut msg = interaction_message(st, &rec);
    msg.kind = 0;
    if let Some(i) = msg.interaction.as_mut() {
        i.original_response_message_id = rec.original_message_id;
    }
    messages::apply(
        st,
        &mut msg,
        &body.json,
        &body.uploads,
        Write::Create {
            ephemeral_allowed: true,
        },
    )?;
    let v = payloads::message(st, &msg);
    let id = msg.id;
    st.insert_message(msg);
    st.interactions
        .get_mut(&iid)
        .expect("exists")
        .followups
        .push(id);
    Ok(Ok_::Json(200, v))
}

fn webhook_message(
    st: &mut State,
    method: &Method,
    iid: u64,
    which: &str,
    body: &Body,
) -> Result<Ok_> {
    let rec = st.interactions[&iid].clone();
    let original = which == "@original";
    let mid = if original {
        rec.original_message_id
            .ok_or_else(ApiError::unknown_message)?
    } else {
        let m = snowflake(which, "message_id")?;
        if Some(m) != rec.original_message_id && !rec.followups.contains(&m) {
            return Err(ApiError::unknown_message());
        }
        m
    };
    let msg = st
        .messages
        .get(&mid)
        .filter(|m| !m.deleted)
        .cloned()
        .ok_or_else(ApiError::unknown_message)?;
    match *method {
        Method::GET => Ok(Ok_::Json(200, payloads::message(st, &msg))),
        Method::PATCH => {
            let mut msg = msg;
            messages::apply(st, &mut msg, &body.json, &body.uploads, Write::Edit)?;
            let was_loading = Some(mid) == rec.original_message_id && rec.loading;
            if was_loading {
                msg.flags &= !msg_flags::LOADING;
            } else {
                msg.edited_ms = Some(now_ms());
            }
            let v = payloads::message(st, &msg);
            st.messages.insert(mid, msg);
            if Some(mid) == rec.original_message_id {
                let r = st.interactions.get_mut(&iid).expect("exists");
                r.loading = false;
                r.answered = true;
            }
            Ok(Ok_::Json(200, v))
        }
        Method::DELETE => {
            delete_message(st, mid);
            Ok(Ok_::NoContent)
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}
