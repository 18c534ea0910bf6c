//! Best-effort removal of a participant's older colour, so a statement message shows one vote
//! per person. Off the counting path: the vote task only drops requests into a bounded queue;
//! this task works through them at Discord's pace, and a full queue just loses requests.

use super::chat::{SerenityChat, MISSING_PERMISSIONS};
use crate::tally::{Cleanup, TallyHandle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

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
    chat: SerenityChat,
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
        let result = chat
            .remove_reaction(
                request.channel_id,
                request.message_id,
                request.user_id,
                request.colour.emoji(),
            )
            .await;
        if let Err(err) = result {
            if err.code() == Some(MISSING_PERMISSIONS) {
                tracing::info!(
                    "no Manage Messages permission in channel {}: older reactions stay on the message (votes count the same)",
                    request.channel_id
                );
                manage.set(request.channel_id, false);
            } else {
                tracing::debug!("could not remove an older reaction: {}", err.describe());
            }
        }
    }
}
