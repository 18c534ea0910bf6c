//! Message bodies: validating and applying what the bot sends when it creates or edits a
//! message (channel messages, interaction responses, webhook follow-ups), the way Discord
//! does — length limits (50035), empty messages (50006), attachment limits (40005),
//! `attachments` keep/new semantics on edits, `attachment://` references in embeds, and the
//! normalisation Discord applies to embeds (`type: "rich"`, `inline: false`).

use serde_json::{json, Map, Value};

use super::payloads;
use super::rest::ApiError;
use super::state::{msg_flags, AttachmentRec, MessageRec, State};

/// One uploaded multipart file.
#[derive(Clone, Debug)]
pub(crate) struct Upload {
    /// The multipart field name (`files[0]`, `file`, ...).
    pub field: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl Upload {
    /// The placeholder index: `files[N]` → N.
    fn index(&self) -> Option<u64> {
        self.field
            .strip_prefix("files[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse().ok())
    }
}

/// Collects Discord-style form errors (`{"field": {"_errors": [{code, message}]}}`).
#[derive(Default)]
pub(crate) struct FormErrors(Vec<(Vec<String>, String, String)>);

impl FormErrors {
    pub(crate) fn add(&mut self, path: &[String], code: &str, message: impl Into<String>) {
        self.0
            .push((path.to_vec(), code.to_string(), message.into()));
    }

    pub(crate) fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut root = Map::new();
        for (path, code, message) in self.0 {
            let mut node = &mut root;
            for key in &path {
                node = node
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("error tree node");
            }
            let errs = node
                .entry("_errors")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(a) = errs.as_array_mut() {
                a.push(json!({"code": code, "message": message}));
            }
        }
        Err(ApiError::invalid_form(Value::Object(root)))
    }
}

pub(crate) fn p(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

fn max_len(errs: &mut FormErrors, path: &[String], v: &Value, max: usize) -> usize {
    match v {
        Value::String(s) => {
            let n = char_len(s);
            if n > max {
                errs.add(
                    path,
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Must be {max} or fewer in length."),
                );
            }
            n
        }
        Value::Null => 0,
        _ => {
            errs.add(
                path,
                "BASE_TYPE_STRING",
                "Could not interpret value as string.",
            );
            0
        }
    }
}

/// Validate one embed; returns the number of characters counting towards the 6000 limit.
fn validate_embed(errs: &mut FormErrors, idx: usize, e: &Value) -> usize {
    let base = vec!["embeds".to_string(), idx.to_string()];
    let at = |k: &[&str]| {
        let mut v = base.clone();
        v.extend(k.iter().map(|s| s.to_string()));
        v
    };
    let Some(o) = e.as_object() else {
        errs.add(
            &base,
            "MODEL_TYPE_CONVERT",
            "Only dictionaries may be used in a ModelType",
        );
        return 0;
    };
    let mut total = 0;
    if let Some(t) = o.get("title") {
        total += max_len(errs, &at(&["title"]), t, 256);
    }
    if let Some(d) = o.get("description") {
        total += max_len(errs, &at(&["description"]), d, 4096);
    }
    if let Some(c) = o.get("color") {
        if !c.is_null() && c.as_u64().is_none_or(|v| v > 0xFF_FFFF) {
            errs.add(
                &at(&["color"]),
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 16777215.",
            );
        }
    }
    if let Some(fields) = o.get("fields").and_then(Value::as_array) {
        if fields.len() > 25 {
            errs.add(
                &at(&["fields"]),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            );
        }
        for (i, f) in fields.iter().enumerate() {
            let i = i.to_string();
            for (key, max) in [("name", 256), ("value", 1024)] {
                match f.get(key) {
                    Some(Value::String(s)) if !s.is_empty() => {
                        total += max_len(errs, &at(&["fields", &i, key]), &f[key], max);
                    }
                    _ => errs.add(
                        &at(&["fields", &i, key]),
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    ),
                }
            }
        }
    }
    if let Some(footer) = o.get("footer").filter(|f| !f.is_null()) {
        match footer.get("text") {
            Some(t @ Value::String(_)) => total += max_len(errs, &at(&["footer", "text"]), t, 2048),
            _ => errs.add(
                &at(&["footer", "text"]),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            ),
        }
    }
    if let Some(author) = o.get("author").filter(|a| !a.is_null()) {
        match author.get("name") {
            Some(n @ Value::String(_)) => total += max_len(errs, &at(&["author", "name"]), n, 256),
            _ => errs.add(
                &at(&["author", "name"]),
                "BASE_TYPE_REQUIRED",
                "This field is required",
            ),
        }
    }
    for key in ["image", "thumbnail"] {
        if let Some(img) = o.get(key).filter(|i| !i.is_null()) {
            match img.get("url").and_then(Value::as_str) {
                Some(u)
                    if u.starts_with("http://")
                        || u.starts_with("https://")
                        || u.starts_with("attachment://") => {}
                Some(_) => errs.add(
                    &at(&[key, "url"]),
                    "URL_TYPE_INVALID_URL",
                    "Not a well formed URL.",
                ),
                None => errs.add(
                    &at(&[key, "url"]),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ),
            }
        }
    }
    total
}

/// Discord's normalisation of a stored embed, resolving `attachment://` URLs.
fn normalize_embed(st: &State, channel_id: u64, e: &Value, atts: &[AttachmentRec]) -> Value {
    let mut e = e.clone();
    let Some(o) = e.as_object_mut() else {
        return e;
    };
    o.retain(|_, v| !v.is_null());
    o.entry("type").or_insert_with(|| json!("rich"));
    if let Some(fields) = o.get_mut("fields").and_then(Value::as_array_mut) {
        for f in fields {
            if let Some(fo) = f.as_object_mut() {
                fo.entry("inline").or_insert(json!(false));
            }
        }
    }
    for key in ["image", "thumbnail"] {
        let Some(img) = o.get_mut(key).and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(name) = img
            .get("url")
            .and_then(Value::as_str)
            .and_then(|u| u.strip_prefix("attachment://"))
            .map(str::to_string)
        else {
            continue;
        };
        if let Some(a) = atts.iter().find(|a| a.filename == name) {
            let url = payloads::attachment_url(st, channel_id, a);
            img.insert(
                "proxy_url".into(),
                json!(url.replacen("/attachments/", "/media-proxy/attachments/", 1)),
            );
            img.insert("url".into(), json!(url));
            if let (Some(w), Some(h)) = (a.width, a.height) {
                img.insert("width".into(), json!(w));
                img.insert("height".into(), json!(h));
            }
            if let Some(ct) = &a.content_type {
                img.insert("content_type".into(), json!(ct));
            }
            img.insert("flags".into(), json!(0));
        }
    }
    e
}

fn guess_content_type(filename: &str) -> Option<String> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(
        match ext.as_str() {
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "gif" => "image/gif",
            "webp" => "image/webp",
            "svg" => "image/svg+xml",
            "txt" => "text/plain; charset=utf-8",
            "csv" => "text/csv; charset=utf-8",
            "json" => "application/json; charset=utf-8",
            "pdf" => "application/pdf",
            _ => return None,
        }
        .to_string(),
    )
}

fn new_attachment(st: &mut State, up: &Upload, meta: Option<&Value>) -> AttachmentRec {
    let filename = meta
        .and_then(|m| m.get("filename"))
        .and_then(Value::as_str)
        .unwrap_or(&up.filename)
        .to_string();
    let content_type = up
        .content_type
        .clone()
        .filter(|c| c != "application/octet-stream")
        .or_else(|| guess_content_type(&filename))
        .or_else(|| up.content_type.clone());
    let size = payloads::png_size(&up.bytes);
    AttachmentRec {
        id: st.next_id(),
        filename,
        description: meta
            .and_then(|m| m.get("description"))
            .and_then(Value::as_str)
            .map(str::to_string),
        content_type,
        bytes: up.bytes.clone(),
        width: size.map(|s| s.0),
        height: size.map(|s| s.1),
    }
}

fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// What kind of write this is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// A new message; `ephemeral_allowed` for interaction responses and follow-ups.
    Create { ephemeral_allowed: bool },
    /// An edit of an existing message.
    Edit,
}

/// Validate `body` (+ `uploads`) and apply it to `msg`. On error nothing is changed.
pub(crate) fn apply(
    st: &mut State,
    msg: &mut MessageRec,
    body: &Value,
    uploads: &[Upload],
    write: Write,
) -> Result<(), ApiError> {
    let empty = Map::new();
    let o = match body {
        Value::Object(o) => o,
        Value::Null => &empty,
        _ => {
            return Err(ApiError::invalid_form(json!({"_errors": [{
                "code": "MODEL_TYPE_CONVERT", "message": "Only dictionaries may be used in a ModelType"}]})))
        }
    };
    let mut errs = FormErrors::default();
    let creating = matches!(write, Write::Create { .. });

    // content
    let content = match o.get("content") {
        Some(v @ Value::String(s)) => {
            max_len(&mut errs, &p(&["content"]), v, 2000);
            Some(s.clone())
        }
        Some(Value::Null) => Some(String::new()),
        Some(_) => {
            errs.add(
                &p(&["content"]),
                "BASE_TYPE_STRING",
                "Could not interpret value as string.",
            );
            None
        }
        None => None,
    };

    // embeds (the singular `embed` is long gone from v10)
    let embeds = match o.get("embeds") {
        Some(Value::Array(a)) => {
            if a.len() > 10 {
                errs.add(
                    &p(&["embeds"]),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 10 or fewer in length.",
                );
            }
            let total: usize = a
                .iter()
                .enumerate()
                .map(|(i, e)| validate_embed(&mut errs, i, e))
                .sum();
            if total > 6000 {
                errs.add(
                    &p(&["embeds"]),
                    "MAX_EMBED_SIZE_EXCEEDED",
                    "Embed size exceeds maximum size of 6000",
                );
            }
            Some(a.clone())
        }
        Some(Value::Null) => Some(Vec::new()),
        Some(_) => {
            errs.add(
                &p(&["embeds"]),
                "BASE_TYPE_LIST",
                "Could not interpret value as list.",
            );
            None
        }
        None => None,
    };

    let components = match o.get("components") {
        Some(Value::Array(a)) => {
            if a.len() > 5
                && o.get("flags").and_then(Value::as_u64).unwrap_or(0) & msg_flags::IS_COMPONENTS_V2
                    == 0
            {
                errs.add(
                    &p(&["components"]),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 5 or fewer in length.",
                );
            }
            Some(a.clone())
        }
        Some(Value::Null) => Some(Vec::new()),
        Some(_) => {
            errs.add(
                &p(&["components"]),
                "BASE_TYPE_LIST",
                "Could not interpret value as list.",
            );
            None
        }
        None => None,
    };

    let flags_in = match o.get("flags") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::Null) | None => None,
        Some(_) => {
            errs.add(&p(&["flags"]), "NUMBER_TYPE_COERCE", "Value is not int.");
            None
        }
    };

    // attachments: new uploads and (on edit) which existing ones to keep
    let limit = st.config.attachment_size_limit;
    if uploads.iter().any(|u| u.bytes.len() as u64 > limit) {
        return Err(ApiError::new(413, 40005, "Request entity too large"));
    }
    let meta = o.get("attachments").and_then(Value::as_array);
    if o.get("attachments")
        .is_some_and(|a| !a.is_null() && !a.is_array())
    {
        errs.add(
            &p(&["attachments"]),
            "BASE_TYPE_LIST",
            "Could not interpret value as list.",
        );
    }
    let mut keep: Option<Vec<u64>> = None;
    let mut new_meta: Vec<(usize, Option<Value>)> = Vec::new();
    let mut used = vec![false; uploads.len()];
    if let Some(meta) = meta {
        let mut kept = Vec::new();
        for (i, m) in meta.iter().enumerate() {
            let Some(id) = m.get("id").and_then(id_of) else {
                errs.add(
                    &p(&["attachments", &i.to_string(), "id"]),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                );
                continue;
            };
            if let Some(ui) = uploads.iter().position(|u| u.index() == Some(id)) {
                used[ui] = true;
                new_meta.push((ui, Some(m.clone())));
            } else if msg.attachments.iter().any(|a| a.id == id) && !creating {
                kept.push(id);
            } else {
                errs.add(
                    &p(&["attachments", &i.to_string(), "id"]),
                    "ATTACHMENT_NOT_FOUND",
                    format!("Attachment data not found for id {id}"),
                );
            }
        }
        keep = Some(kept);
    }
    for (ui, u) in used.iter().enumerate() {
        if !u {
            new_meta.push((ui, None));
        }
    }
    let kept_count = match &keep {
        Some(k) => k.len(),
        None if creating => 0,
        None => msg.attachments.len(),
    };
    if kept_count + new_meta.len() > 10 {
        errs.add(
            &p(&["attachments"]),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        );
    }

    // reply reference
    let mut reference = None;
    if creating {
        if let Some(r) = o.get("message_reference").filter(|r| !r.is_null()) {
            let target = r.get("message_id").and_then(id_of);
            let exists = target
                .and_then(|t| st.visible_message(msg.channel_id, t))
                .is_some();
            let fail = r
                .get("fail_if_not_exists")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            match (target, exists) {
                (Some(t), true) => {
                    reference = Some(json!({
                        "type": 0,
                        "channel_id": msg.channel_id.to_string(),
                        "message_id": t.to_string(),
                        "guild_id": st.guild_id.to_string(),
                    }))
                }
                (_, false) if fail => errs.add(
                    &p(&["message_reference"]),
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                ),
                _ => {}
            }
        }
    }

    errs.into_result()?;

    // Everything is valid: compute the new state, check it is not empty, then commit.
    let mut attachments: Vec<AttachmentRec> = match &keep {
        Some(k) => msg
            .attachments
            .iter()
            .filter(|a| k.contains(&a.id))
            .cloned()
            .collect(),
        None if creating => Vec::new(),
        None => msg.attachments.clone(),
    };
    for (ui, m) in &new_meta {
        let a = new_attachment(st, &uploads[*ui], m.as_ref());
        attachments.push(a);
    }
    let new_content = content.unwrap_or_else(|| {
        if creating {
            String::new()
        } else {
            msg.content.clone()
        }
    });
    let raw_embeds = embeds;
    let new_components = components.unwrap_or_else(|| {
        if creating {
            Vec::new()
        } else {
            msg.components.clone()
        }
    });
    let embeds_empty = match &raw_embeds {
        Some(e) => e.is_empty(),
        None => creating || msg.embeds.is_empty(),
    };
    let has_extras = o
        .get("sticker_ids")
        .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()))
        || o.get("poll").is_some_and(|p| !p.is_null());
    if new_content.is_empty()
        && embeds_empty
        && attachments.is_empty()
        && new_components.is_empty()
        && !has_extras
    {
        return Err(ApiError::new(400, 50006, "Cannot send an empty message"));
    }

    // Stricter than Discord (which notifies on creation, and when a deferred answer is
    // filled in): every write's mentions are kept.
    for ping in pings(&new_content, o.get("allowed_mentions")) {
        if !msg.pings.contains(&ping) {
            msg.pings.push(ping);
        }
    }
    msg.content = new_content;
    if let Some(e) = raw_embeds {
        msg.embeds = e
            .iter()
            .map(|e| normalize_embed(st, msg.channel_id, e, &attachments))
            .collect();
    } else if !creating && !new_meta.is_empty() {
        msg.embeds = msg
            .embeds
            .iter()
            .map(|e| normalize_embed(st, msg.channel_id, e, &attachments))
            .collect();
    }
    msg.components = new_components;
    msg.attachments = attachments;
    match write {
        Write::Create { ephemeral_allowed } => {
            let mut allowed = msg_flags::SUPPRESS_EMBEDS
                | msg_flags::SUPPRESS_NOTIFICATIONS
                | msg_flags::IS_COMPONENTS_V2;
            if ephemeral_allowed {
                allowed |= msg_flags::EPHEMERAL;
            }
            msg.flags = (msg.flags & !allowed) | (flags_in.unwrap_or(0) & allowed);
            msg.tts = o.get("tts").and_then(Value::as_bool).unwrap_or(false);
            msg.nonce = o.get("nonce").filter(|n| !n.is_null()).cloned();
            if let Some(r) = reference {
                msg.message_reference = Some(r);
                if msg.kind == 0 {
                    msg.kind = 19;
                }
            }
        }
        Write::Edit => {
            if let Some(f) = flags_in {
                let toggle = msg_flags::SUPPRESS_EMBEDS;
                msg.flags = (msg.flags & !toggle) | (f & toggle);
            }
        }
    }
    Ok(())
}

/// A fresh, empty message record authored by the bot.
pub(crate) fn blank(st: &mut State, channel_id: u64) -> MessageRec {
    MessageRec {
        pings: Vec::new(),
        id: st.next_id(),
        channel_id,
        author_id: st.bot_id,
        content: String::new(),
        embeds: Vec::new(),
        components: Vec::new(),
        attachments: Vec::new(),
        tts: false,
        flags: 0,
        kind: 0,
        nonce: None,
        message_reference: None,
        edited_ms: None,
        reactions: Vec::new(),
        webhook_id: None,
        interaction: None,
        deleted: false,
    }
}

/// The mentions in `content` that would notify someone, given `allowed_mentions` (absent:
/// Discord parses every kind; present: only the kinds in `parse` and the listed ids).
pub(crate) fn pings(content: &str, allowed: Option<&Value>) -> Vec<String> {
    let parse: Option<Vec<&str>> = allowed.map(|a| {
        a["parse"]
            .as_array()
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    });
    let listed = |kind: &str, id: &str| {
        allowed.is_some_and(|a| {
            a[kind]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|v| v.as_str() == Some(id)))
        })
    };
    let kind_allowed = |kind: &str| parse.as_ref().is_none_or(|p| p.contains(&kind));
    let mut found = Vec::new();
    for word in ["@everyone", "@here"] {
        if content.contains(word) && kind_allowed("everyone") {
            found.push(word.to_string());
        }
    }
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        let tail = &rest[start + 2..];
        let (role, tail) = match tail.strip_prefix('&') {
            Some(t) => (true, t),
            None => (false, tail.strip_prefix('!').unwrap_or(tail)),
        };
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && tail[digits.len()..].starts_with('>') {
            let kind = if role { "roles" } else { "users" };
            if kind_allowed(kind) || listed(kind, &digits) {
                found.push(format!("<@{}{digits}>", if role { "&" } else { "" }));
            }
        }
        rest = &rest[start + 2..];
    }
    found
}

/// Discord's `enforce_nonce`: a message the bot sent in the channel in the last few minutes
/// with the same nonce is returned instead of creating another.
pub(crate) fn sent_with_nonce(st: &State, channel_id: u64, body: &Value) -> Option<Value> {
    if body.get("enforce_nonce").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let nonce = body.get("nonce").filter(|n| !n.is_null())?;
    let recent = super::state::now_ms().saturating_sub(5 * 60 * 1000);
    st.channel_messages
        .get(&channel_id)?
        .iter()
        .rev()
        .filter_map(|id| st.messages.get(id))
        .find(|m| {
            !m.deleted
                && m.author_id == st.bot_id
                && m.nonce.as_ref() == Some(nonce)
                && super::state::snowflake_ms(m.id) >= recent
        })
        .map(|m| payloads::message(st, m))
}
