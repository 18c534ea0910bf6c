//! JSON payload builders: the objects Discord puts on the wire (users, members, roles,
//! channels, the guild of GUILD_CREATE, READY, messages, interactions), filled in as
//! completely as Discord does, so that serenity 0.12 deserializes every one of them.
//!
//! Snowflakes are strings, permissions are decimal strings, timestamps are ISO 8601 with
//! `+00:00` — as on the real API.

use serde_json::{json, Map, Value};

use super::state::{
    iso_timestamp, snowflake_ms, AttachmentRec, ChannelRec, MessageRec, RoleRec, State, UserRec,
};

/// A user object as Discord sends it to bots. `bot` is only present when true (as on Discord;
/// serenity defaults it to false).
pub(crate) fn user(u: &UserRec) -> Value {
    let mut v = json!({
        "id": u.id.to_string(),
        "username": u.name,
        "avatar": null,
        "discriminator": u.discriminator,
        "public_flags": 0,
        "flags": 0,
        "banner": null,
        "accent_color": null,
        "global_name": u.global_name,
        "avatar_decoration_data": null,
        "collectibles": null,
        "banner_color": null,
        "clan": null,
        "primary_guild": null,
    });
    if u.bot {
        v["bot"] = json!(true);
    }
    v
}

/// A guild member object; `with_permissions` adds the `permissions` field that interactions
/// carry.
pub(crate) fn member(st: &State, u: &UserRec, with_permissions: bool) -> Value {
    let mut v = json!({
        "user": user(u),
        "roles": u.roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "premium_since": null,
        "pending": false,
        "nick": null,
        "mute": false,
        "joined_at": iso_timestamp(u.joined_ms),
        "flags": 0,
        "deaf": false,
        "communication_disabled_until": null,
        "banner": null,
        "avatar": null,
        "unusual_dm_activity_until": null,
    });
    if with_permissions {
        v["permissions"] = json!(st.member_permissions(u).to_string());
    }
    v
}

/// Parse an emoji key (`🟩` or `name:id`) into Discord's partial emoji object.
pub(crate) fn emoji(key: &str) -> Value {
    match split_custom_emoji(key) {
        Some((name, id)) => json!({"id": id.to_string(), "name": name, "animated": false}),
        None => json!({"id": null, "name": key}),
    }
}

/// `name:id` → `(name, id)`.
pub(crate) fn split_custom_emoji(key: &str) -> Option<(&str, u64)> {
    let (name, id) = key.rsplit_once(':')?;
    let id = id.parse::<u64>().ok()?;
    let name = name.strip_prefix("a:").unwrap_or(name);
    Some((name, id))
}

pub(crate) fn role(r: &RoleRec) -> Value {
    let mut v = json!({
        "id": r.id.to_string(),
        "name": r.name,
        "description": null,
        "permissions": r.permissions.to_string(),
        "position": r.position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "managed": r.managed_by_bot.is_some(),
        "mentionable": false,
        "icon": null,
        "unicode_emoji": null,
        "flags": 0,
    });
    if let Some(bot) = r.managed_by_bot {
        v["tags"] = json!({"bot_id": bot.to_string()});
    }
    v
}

/// A guild text channel. A non-default bot permission set is expressed as a member overwrite
/// for the bot (which is how it would look in a real guild).
pub(crate) fn channel(st: &State, c: &ChannelRec) -> Value {
    let mut overwrites = Vec::new();
    if c.bot_permissions != super::perms::BOT_DEFAULT {
        overwrites.push(json!({
            "id": st.bot_id.to_string(),
            "type": 1,
            "allow": c.bot_permissions.to_string(),
            "deny": (super::perms::ALL & !c.bot_permissions).to_string(),
        }));
    }
    let mut v = channel_base(st, c);
    v["permission_overwrites"] = json!(overwrites);
    v["icon_emoji"] = Value::Null;
    v["theme_color"] = Value::Null;
    v["version"] = json!(snowflake_ms(c.id));
    v
}

/// The fields every channel object has.
fn channel_base(st: &State, c: &ChannelRec) -> Value {
    json!({
        "id": c.id.to_string(),
        "type": 0,
        "guild_id": st.guild_id.to_string(),
        "name": c.name,
        "position": c.position,
        "parent_id": null,
        "topic": null,
        "nsfw": false,
        "rate_limit_per_user": 0,
        "last_message_id": c.last_message_id.map(|m| m.to_string()),
        "flags": 0,
    })
}

/// The `d` of GUILD_CREATE (guild object plus the gateway extra fields).
pub(crate) fn guild_create(st: &State) -> Value {
    let bot = st.bot();
    let mut v = guild_base(st);
    let extra = json!({
        "joined_at": iso_timestamp(bot.joined_ms),
        "large": false,
        "unavailable": false,
        "member_count": st.users.len(),
        "voice_states": [],
        "members": [member(st, bot, false)],
        "channels": st.channels.iter().map(|c| {
            let mut ch = channel(st, c);
            // Channels inside GUILD_CREATE carry no guild_id on Discord.
            if let Some(o) = ch.as_object_mut() { o.remove("guild_id"); }
            ch
        }).collect::<Vec<_>>(),
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "activity_instances": [],
        "application_command_counts": {},
        "lazy": true,
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

/// Guild fields shared by GUILD_CREATE and `GET /guilds/{id}`.
pub(crate) fn guild_base(st: &State) -> Value {
    let mut v = json!({
        "id": st.guild_id.to_string(),
        "name": st.config.guild_name,
        "icon": null,
        "icon_hash": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": owner_id(st).to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "widget_enabled": false,
        "widget_channel_id": null,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": st.roles.iter().map(role).collect::<Vec<_>>(),
    });
    let more = json!({
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": st.channels.first().map(|c| c.id.to_string()),
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "max_presences": null,
        "max_members": 500000,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": st.config.guild_locale,
        "public_updates_channel_id": null,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "nsfw_level": 0,
        "nsfw": false,
        "premium_progress_bar_enabled": false,
        "safety_alerts_channel_id": null,
        "incidents_data": null,
        "hub_type": null,
        "latest_onboarding_question_id": null,
        "home_header": null,
        "version": st.guild_created_ms,
    });
    if let (Some(o), Value::Object(m)) = (v.as_object_mut(), more) {
        o.extend(m);
    }
    v
}

/// The `d` of READY.
pub(crate) fn ready(st: &State, session_id: &str, shard: Option<&Value>) -> Value {
    let mut bot = user(st.bot());
    if let Some(o) = bot.as_object_mut() {
        o.insert("verified".into(), json!(true));
        o.insert("mfa_enabled".into(), json!(false));
        o.insert("email".into(), Value::Null);
    }
    let mut v = json!({
        "v": 10,
        "user_settings": {},
        "user": bot,
        "session_type": "normal",
        "session_id": session_id,
        "resume_gateway_url": format!("{}/gateway", st.base_url.replacen("http", "ws", 1)),
        "relationships": [],
        "private_channels": [],
        "presences": [],
        "guilds": [{"id": st.guild_id.to_string(), "unavailable": true}],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["rotterdam", "frankfurt", "madrid", "milan", "london"],
        "auth": {},
        "application": {"id": st.app_id.to_string(), "flags": 1u64 << 23},
        "_trace": ["[\"stemkaart-sim\",{\"micros\":0}]"],
    });
    if let Some(shard) = shard {
        v["shard"] = shard.clone();
    }
    v
}

pub(crate) fn attachment(st: &State, channel_id: u64, ephemeral: bool, a: &AttachmentRec) -> Value {
    let url = attachment_url(st, channel_id, a);
    let mut v = json!({
        "id": a.id.to_string(),
        "filename": a.filename,
        "size": a.bytes.len(),
        "url": url,
        "proxy_url": url.replacen("/attachments/", "/media-proxy/attachments/", 1),
        "content_type": a.content_type,
    });
    if let Some(d) = &a.description {
        v["description"] = json!(d);
    }
    if let (Some(w), Some(h)) = (a.width, a.height) {
        v["width"] = json!(w);
        v["height"] = json!(h);
        v["placeholder_version"] = json!(1);
    }
    if ephemeral {
        v["ephemeral"] = json!(true);
    }
    v
}

pub(crate) fn attachment_url(st: &State, channel_id: u64, a: &AttachmentRec) -> String {
    format!(
        "{}/attachments/{}/{}/{}",
        st.base_url, channel_id, a.id, a.filename
    )
}

/// The application (`GET /oauth2/applications/@me`, `GET /applications/@me`).
pub(crate) fn application(st: &State) -> Value {
    let owner = owner_id(st);
    json!({
        "id": st.app_id.to_string(),
        "name": st.config.bot_name,
        "icon": null,
        "description": "",
        "summary": "",
        "type": null,
        "hook": true,
        "bot_public": false,
        "bot_require_code_grant": false,
        "verify_key": format!("{:016x}{:016x}{:016x}{:016x}", st.app_id, st.guild_id, st.app_id ^ st.guild_id, st.bot_id.rotate_left(7)),
        "flags": 1u64 << 23,
        "owner": {
            "id": owner.to_string(),
            "username": "eigenaar",
            "avatar": null,
            "discriminator": "0",
            "public_flags": 0,
            "flags": 0,
            "global_name": "Eigenaar",
        },
        "team": null,
        "is_monetized": false,
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "role_connections_verification_url": null,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "integration_types_config": {"0": {}},
        "tags": [],
        "rpc_origins": [],
        "bot": user(st.bot()),
    })
}

/// The guild (and application) owner.
pub(crate) fn owner_id(st: &State) -> u64 {
    st.owner_id
}

/// A message object as returned by the REST API (no `guild_id`/`member`, like Discord's REST).
pub(crate) fn message(st: &State, m: &MessageRec) -> Value {
    let author = st
        .users
        .get(&m.author_id)
        .map(user)
        .unwrap_or_else(|| json!({"id": m.author_id.to_string(), "username": "unknown", "discriminator": "0", "avatar": null, "global_name": null}));
    let ephemeral = m.ephemeral();
    let bot_id = st.bot_id;
    let mut v = json!({
        "type": m.kind,
        "content": m.content,
        "mentions": [],
        "mention_roles": [],
        "attachments": m.attachments.iter().map(|a| attachment(st, m.channel_id, ephemeral, a)).collect::<Vec<_>>(),
        "embeds": m.embeds,
        "timestamp": iso_timestamp(snowflake_ms(m.id)),
        "edited_timestamp": m.edited_ms.map(iso_timestamp),
        "flags": m.flags,
        "components": m.components,
        "id": m.id.to_string(),
        "channel_id": m.channel_id.to_string(),
        "author": author,
        "pinned": false,
        "mention_everyone": false,
        "tts": m.tts,
    });
    let o = v.as_object_mut().expect("object");
    if !m.reactions.is_empty() {
        let reactions: Vec<Value> = m
            .reactions
            .iter()
            .map(|(e, users)| {
                json!({
                    "emoji": emoji(e),
                    "count": users.len(),
                    "count_details": {"burst": 0, "normal": users.len()},
                    "burst_colors": [],
                    "me_burst": false,
                    "burst_me": false,
                    "me": users.contains(&bot_id),
                    "burst_count": 0,
                })
            })
            .collect();
        o.insert("reactions".into(), json!(reactions));
    }
    if let Some(n) = &m.nonce {
        o.insert("nonce".into(), n.clone());
    }
    if let Some(r) = &m.message_reference {
        o.insert("message_reference".into(), r.clone());
    }
    if let Some(w) = m.webhook_id {
        o.insert("webhook_id".into(), json!(w.to_string()));
        o.insert("application_id".into(), json!(st.app_id.to_string()));
    }
    if let Some(i) = &m.interaction {
        let u = st.users.get(&i.user_id).map(user).unwrap_or(Value::Null);
        let mut meta = json!({
            "id": i.id.to_string(),
            "type": 2,
            "user": u,
            "authorizing_integration_owners": {"0": st.guild_id.to_string()},
            "name": i.name,
            "command_type": 1,
        });
        if let Some(orig) = i.original_response_message_id {
            meta["original_response_message_id"] = json!(orig.to_string());
        }
        o.insert("interaction_metadata".into(), meta);
        o.insert(
            "interaction".into(),
            json!({"id": i.id.to_string(), "type": 2, "name": i.name, "user": u}),
        );
    }
    v
}

/// The `d` of INTERACTION_CREATE for an application command (`kind` 2) or autocomplete (4).
pub(crate) fn interaction(
    st: &State,
    id: u64,
    token: &str,
    kind: u64,
    channel: &ChannelRec,
    u: &UserRec,
    data: Value,
) -> Value {
    let app_permissions = st.bot_channel_permissions(channel.id);
    let mut ch = channel_partial(st, channel);
    ch["permissions"] = json!(st.member_permissions(u).to_string());
    json!({
        "version": 1,
        "type": kind,
        "token": token,
        "member": member(st, u, true),
        "locale": u.locale,
        "id": id.to_string(),
        "guild_locale": st.config.guild_locale,
        "guild_id": st.guild_id.to_string(),
        "guild": {"id": st.guild_id.to_string(), "locale": st.config.guild_locale, "features": []},
        "entitlements": [],
        "entitlement_sku_ids": [],
        "data": data,
        "context": 0,
        "channel_id": channel.id.to_string(),
        "channel": ch,
        "authorizing_integration_owners": {"0": st.guild_id.to_string()},
        "attachment_size_limit": st.config.attachment_size_limit,
        "application_id": st.app_id.to_string(),
        "app_permissions": app_permissions.to_string(),
    })
}

/// The channel object inside interactions and `resolved.channels`.
pub(crate) fn channel_partial(st: &State, c: &ChannelRec) -> Value {
    let mut v = channel_base(st, c);
    v["permissions"] = json!(st.bot_channel_permissions(c.id).to_string());
    v
}

/// `{"message": ..., "code": ...}` plus optional `errors`.
pub(crate) fn error(code: u64, message: &str, errors: Option<Value>) -> Value {
    let mut v = Map::new();
    v.insert("message".into(), json!(message));
    v.insert("code".into(), json!(code));
    if let Some(e) = errors {
        v.insert("errors".into(), e);
    }
    Value::Object(v)
}

/// Width/height of a PNG (from its IHDR chunk), as Discord reports for images.
pub(crate) fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((w, h))
}
