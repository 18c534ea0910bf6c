//! Where an interaction comes from: the server's own guild, another guild, or a DM.
//!
//! The server simulates one guild. To test that a bot keeps guilds apart and refuses DMs,
//! an interaction can be dressed as coming from elsewhere; the command itself is still
//! built from the registered definitions and answered through the same callback routes.
//!
//! - [`Origin::OtherGuild`]: the interaction carries another `guild_id` (also in `guild`,
//!   `channel.guild_id` and `authorizing_integration_owners`), and the member has every
//!   permission there (an administrator of that guild). Real Discord never sends a channel
//!   of one guild with another guild's id; sending this guild's channels with a foreign
//!   `guild_id` is the worst case a bot's own checks must survive. Create channels "of the
//!   other guild" with [`Sim::new_channel`]: only their `guild_id` on the wire differs.
//! - [`Origin::Dm`]: Discord's shape for a command used in a DM with the bot
//!   (interactions/receiving-and-responding, "Interaction Object"): `user` instead of
//!   `member`, no `guild_id`/`guild`/`guild_locale`, `context` 1 (BOT_DM), a `channel` of
//!   type 1 (DM) with the user as recipient, and `authorizing_integration_owners` `{"0": "0"}`
//!   (installed to a guild, used in a DM).
//!
//! Commands from other origins skip [`super::SimConfig::enforce_command_permissions`]:
//! the point is what the bot does when such an interaction reaches it anyway.

use serde_json::{json, Value};

use super::payloads;
use super::state::{ChannelRec, State, UserRec};
use super::{perms, Reply, Sim, SimUser};

/// Where an interaction comes from (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The simulated guild (what [`Sim::command`] sends).
    Guild,
    /// Another guild with this id, where the user is an administrator.
    OtherGuild(u64),
    /// A DM with the bot.
    Dm,
}

impl Origin {
    /// Rewrite an interaction payload built for the simulated guild.
    pub(crate) fn apply(
        self,
        mut v: Value,
        st: &State,
        channel: &ChannelRec,
        u: &UserRec,
    ) -> Value {
        match self {
            Origin::Guild => {}
            Origin::OtherGuild(guild) => {
                let guild = guild.to_string();
                v["guild_id"] = json!(guild);
                v["guild"]["id"] = json!(guild);
                v["channel"]["guild_id"] = json!(guild);
                v["authorizing_integration_owners"] = json!({ "0": guild });
                v["member"]["permissions"] = json!(perms::ALL.to_string());
            }
            Origin::Dm => {
                let o = v.as_object_mut().expect("an interaction is an object");
                for key in ["member", "guild_id", "guild", "guild_locale"] {
                    o.remove(key);
                }
                o.insert("user".into(), payloads::user(u));
                o.insert("context".into(), json!(1));
                o.insert("authorizing_integration_owners".into(), json!({ "0": "0" }));
                o.insert(
                    "channel".into(),
                    json!({
                        "id": channel.id.to_string(),
                        "type": 1,
                        "last_message_id": null,
                        "flags": 0,
                        "recipients": [payloads::user(u)],
                        "permissions": st.member_permissions(u).to_string(),
                    }),
                );
            }
        }
        v
    }
}

impl Sim {
    /// [`Sim::command`] from `origin`.
    pub async fn command_from(
        &self,
        origin: Origin,
        channel_id: u64,
        user: &SimUser,
        command: &str,
        options: Value,
    ) -> anyhow::Result<Reply> {
        let timeout = self.lock().config.defer_timeout;
        self.command_at(origin, channel_id, user, command, options, timeout)
            .await
    }

    /// [`Sim::autocomplete`] from `origin`.
    pub async fn autocomplete_from(
        &self,
        origin: Origin,
        channel_id: u64,
        user: &SimUser,
        command: &str,
        options: Value,
        focused: &str,
    ) -> anyhow::Result<Vec<Value>> {
        self.autocomplete_at(origin, channel_id, user, command, options, focused)
            .await
    }

    /// A fresh id for another guild (for [`Origin::OtherGuild`]).
    pub fn other_guild(&self) -> u64 {
        self.lock().next_id()
    }
}
