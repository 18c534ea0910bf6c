//! Best-effort removal of a participant's older colour, so a statement message shows one vote
//! per person. Off the counting path: the vote task only drops requests into a bounded queue;
//! this task works through them at Discord's pace, and a full queue just loses requests.

use super::chat::{describe, error_code, unicode};
use super::retry::{retry, Patience};
use crate::tally::{Cleanup, TallyHandle};
use serenity::all::{ChannelId, Http, MessageId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Discord's "Missing Permissions".
const MISSING_PERMISSIONS: isize = 50013;

/// Which channels the bot may manage messages in, as far as it knows: learned from the
/// `app_permissions` of interactions, and from refusals.
#[derive(Clone, Default)]
pub struct ManageMessages {
    // A std mutex: only map lookups and inserts while held, never an await.
    channels: Arc<Mutex<HashMap<u64, bool>>>,
}

impl ManageMessages {
    pub fn set(&self, channel: u64, allowed: bool) {
        self.channels
            .lock()
            .expect("poisoned")
            .insert(channel, allowed);
    }

    /// Unknown channels are tried (and learned from the answer).
    pub fn allowed(&self, channel: u64) -> bool {
        self.channels
            .lock()
            .expect("poisoned")
            .get(&channel)
            .copied()
            .unwrap_or(true)
    }
}

pub async fn run(
    http: Arc<Http>,
    tally: TallyHandle,
    manage: ManageMessages,
    mut requests: mpsc::Receiver<Cleanup>,
) {
    while let Some(request) = requests.recv().await {
        if !manage.allowed(request.channel_id) {
            continue;
        }
        // They may have changed their mind again since the request was queued.
        if !tally
            .still_superseded(request.clone())
            .await
            .unwrap_or(false)
        {
            continue;
        }
        let emoji = unicode(request.colour.emoji());
        let result = retry("removing an older reaction", Patience::CHAT, || {
            http.delete_reaction(
                ChannelId::new(request.channel_id),
                MessageId::new(request.message_id),
                UserId::new(request.user_id),
                &emoji,
            )
        })
        .await;
        if let Err(err) = result {
            if error_code(&err) == Some(MISSING_PERMISSIONS) {
                tracing::info!(
                    "no Manage Messages permission in channel {}: older reactions stay on the message (votes count the same)",
                    request.channel_id
                );
                manage.set(request.channel_id, false);
            } else {
                tracing::debug!("could not remove an older reaction: {}", describe(&err));
            }
        }
    }
}
