//! Gateway faults for the reliability tests: sessions that can be resumed, heartbeats left
//! unacknowledged, and a log of what happened on the gateway.
//!
//! By default the simulator refuses every RESUME (op 9, `d: false`), so a client that lost its
//! connection IDENTIFYs again and misses what happened meanwhile — Discord's behaviour when a
//! session cannot be resumed. With [`Sim::accept_resumes`] on, it behaves like Discord with a
//! resumable session instead: when the connection ends, the session is kept; dispatches made
//! while nobody is connected are queued for it (with their sequence numbers); a RESUME with the
//! session's id gets every dispatch after the client's sequence number replayed, then RESUMED.
//!
//! With [`Sim::ack_heartbeats`] off, heartbeats (op 1) get no ACK (op 11): a client that
//! checks for the ACK should notice and reconnect.
//!
//! With [`Sim::hold_reconnects`] on, an IDENTIFY or RESUME is left unanswered until it is
//! turned off again, so a test can make things happen while the bot is certainly offline.
//! [`Sim::hold_requests`] does the same to REST requests (e.g. the command registration the bot
//! makes when it is ready), so a test can act at a precise moment of the bot's start-up.

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

use super::state::{Out, Session, State};
use super::{Shared, Sim};

/// What the gateway does differently for fault tests, and what it saw.
pub(crate) struct GatewayFaults {
    accept_resume: bool,
    hold_reconnects: bool,
    /// REST requests whose `METHOD path` contains this wait until it is cleared.
    hold_requests: Option<String>,
    /// The same, for the response: the request has had its effect, the client waits.
    hold_responses: Option<String>,
    requests_waiting: usize,
    ack_heartbeats: bool,
    /// Every dispatch of the current (or detached) session while resumes are accepted:
    /// `(sequence number, event name, frame)`.
    replay: Vec<(u64, String, String)>,
    /// The session whose connection ended, kept for a RESUME.
    detached: Option<Detached>,
    log: Vec<String>,
    unacked_heartbeats: usize,
    resumes_accepted: usize,
}

struct Detached {
    session_id: String,
    seq: u64,
    intents: u64,
}

impl Default for GatewayFaults {
    fn default() -> Self {
        GatewayFaults {
            accept_resume: false,
            hold_reconnects: false,
            hold_requests: None,
            hold_responses: None,
            requests_waiting: 0,
            ack_heartbeats: true,
            replay: Vec::new(),
            detached: None,
            log: Vec::new(),
            unacked_heartbeats: 0,
            resumes_accepted: 0,
        }
    }
}

impl GatewayFaults {
    pub(crate) fn note(&mut self, what: impl Into<String>) {
        self.log.push(what.into());
    }

    /// Whether to answer a heartbeat; counts the ones left unanswered.
    pub(crate) fn ack_heartbeat(&mut self) -> bool {
        if !self.ack_heartbeats {
            self.unacked_heartbeats += 1;
            self.note("HEARTBEAT not acknowledged");
        }
        self.ack_heartbeats
    }

    /// A dispatch was sent on the session: keep it for a replay.
    pub(crate) fn sent(&mut self, seq: u64, t: &str, frame: &str) {
        if self.accept_resume {
            self.replay.push((seq, t.to_string(), frame.to_string()));
        }
    }

    /// A new IDENTIFY: earlier sessions can no longer be resumed.
    pub(crate) fn identified(&mut self) {
        self.replay.clear();
        self.detached = None;
        self.note("IDENTIFY → READY");
    }
}

/// Before an IDENTIFY or RESUME (`frame`) is handled: wait while reconnects are held.
pub(crate) async fn wait_while_reconnects_held(shared: &Shared, frame: &str) {
    let op = serde_json::from_str::<Value>(frame)
        .ok()
        .and_then(|v| v["op"].as_u64());
    if !matches!(op, Some(2 | 6)) {
        return;
    }
    loop {
        let released = shared.changed.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        if !shared.lock().outage.hold_reconnects {
            return;
        }
        released.await;
    }
}

/// Before a REST request is handled: wait while requests like it are held.
pub(crate) async fn wait_while_request_held(shared: &Shared, method: &str, path: &str) {
    wait_while_held(shared, method, path, |f| &f.hold_requests).await;
}

/// After a REST request is handled, before it is answered: wait while responses to requests
/// like it are held.
pub(crate) async fn wait_while_response_held(shared: &Shared, method: &str, path: &str) {
    wait_while_held(shared, method, path, |f| &f.hold_responses).await;
}

async fn wait_while_held(
    shared: &Shared,
    method: &str,
    path: &str,
    which: fn(&GatewayFaults) -> &Option<String>,
) {
    let request = format!("{method} {path}");
    let held = |shared: &Shared| {
        which(&shared.lock().outage)
            .as_ref()
            .is_some_and(|f| request.contains(f.as_str()))
    };
    if !held(shared) {
        return;
    }
    shared.lock().outage.requests_waiting += 1;
    shared.notify();
    loop {
        let released = shared.changed.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        if !held(shared) {
            break;
        }
        released.await;
    }
    shared.lock().outage.requests_waiting -= 1;
    shared.notify();
}

impl State {
    /// The bot's session loses its connection: with resumes accepted the session is kept (and
    /// dispatches queue up for it); otherwise it is gone.
    pub(crate) fn end_session(&mut self) -> Option<Session> {
        let session = self.session.take()?;
        if self.outage.accept_resume {
            self.outage.detached = Some(Detached {
                session_id: session.session_id.clone(),
                seq: session.seq,
                intents: session.intents,
            });
            self.outage.note(format!(
                "connection lost at seq {} (resumable)",
                session.seq
            ));
        } else {
            self.outage
                .note(format!("connection lost at seq {}", session.seq));
        }
        Some(session)
    }

    /// A dispatch while no connection is identified: queued for a detached session that may
    /// still be resumed, else dropped (as Discord does after the session is gone). Returns
    /// whether it was delivered (never: nobody is connected).
    pub(crate) fn dispatch_detached(&mut self, t: &str, d: Value, intent: Option<u64>) -> bool {
        let Some(detached) = self.outage.detached.as_mut() else {
            return false;
        };
        if intent.is_some_and(|i| detached.intents & i == 0) {
            return false;
        }
        detached.seq += 1;
        let seq = detached.seq;
        let frame = json!({"op": 0, "s": seq, "t": t, "d": d}).to_string();
        self.outage.replay.push((seq, t.to_string(), frame));
        false
    }

    /// Handle RESUME (op 6) on connection `conn_id`. Returns whether it was accepted; if so,
    /// the missed dispatches and RESUMED are queued on `tx`.
    pub(crate) fn resume(&mut self, conn_id: u64, tx: &UnboundedSender<Out>, d: &Value) -> bool {
        let sent_token = d["token"].as_str().unwrap_or("");
        let token_ok = sent_token.strip_prefix("Bot ").unwrap_or(sent_token) == self.config.token;
        let session_id = d["session_id"].as_str().unwrap_or("");
        let client_seq = d["seq"].as_u64().unwrap_or(0);
        if !self.outage.accept_resume || !token_ok {
            self.outage.note("RESUME refused (op 9)");
            return false;
        }
        // Discord accepts a RESUME of a session whose old connection it has not yet noticed
        // dead, and closes the old one.
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.session_id == session_id)
        {
            if let Some(old) = self.end_session() {
                let _ = old.tx.send(Out::Abort);
            }
        }
        let Some(detached) = self
            .outage
            .detached
            .take_if(|s| s.session_id == session_id && client_seq <= s.seq)
        else {
            self.outage.note(format!(
                "RESUME of an unknown session at seq {client_seq} refused (op 9)"
            ));
            return false;
        };
        let oldest = self.outage.replay.first().map_or(detached.seq + 1, |r| r.0);
        if client_seq + 1 < oldest {
            self.outage.note(format!(
                "RESUME from seq {client_seq}: events no longer kept, refused (op 9)"
            ));
            return false;
        }
        let mut replayed = 0;
        for (seq, t, frame) in &self.outage.replay {
            if *seq > client_seq {
                let _ = tx.send(Out::Text(frame.clone()));
                self.dispatched.push((*seq, t.clone()));
                replayed += 1;
            }
        }
        self.session = Some(Session {
            conn_id,
            session_id: detached.session_id,
            seq: detached.seq,
            intents: detached.intents,
            tx: tx.clone(),
        });
        self.outage.resumes_accepted += 1;
        self.outage.note(format!(
            "RESUME from seq {client_seq} accepted: {replayed} event(s) replayed, RESUMED"
        ));
        self.dispatch(
            "RESUMED",
            json!({"_trace": ["[\"stemkaart-sim\",{\"micros\":0}]"]}),
            None,
        );
        true
    }
}

impl Sim {
    /// Accept RESUMEs (like Discord with a resumable session): see the module doc. Off by
    /// default: every RESUME is refused with op 9.
    pub fn accept_resumes(&self, accept: bool) {
        let mut st = self.lock();
        st.outage.accept_resume = accept;
        if !accept {
            st.outage.replay.clear();
            st.outage.detached = None;
        }
    }

    /// Leave IDENTIFYs and RESUMEs unanswered (`true`) until called with `false`: the bot
    /// stays offline meanwhile.
    pub fn hold_reconnects(&self, hold: bool) {
        self.lock().outage.hold_reconnects = hold;
        self.shared().notify();
    }

    /// Hold REST requests whose `METHOD path` contains `fragment` (e.g. `"PUT /api/v10/applications/"`)
    /// until called with `None`.
    pub fn hold_requests(&self, fragment: Option<&str>) {
        self.lock().outage.hold_requests = fragment.map(String::from);
        self.shared().notify();
    }

    /// Handle REST requests whose `METHOD path` contains `fragment` but hold their responses
    /// until called with `None` (the client waits for an answer to something already done).
    pub fn hold_responses(&self, fragment: Option<&str>) {
        self.lock().outage.hold_responses = fragment.map(String::from);
        self.shared().notify();
    }

    /// How many REST requests are waiting because of [`Sim::hold_requests`] or
    /// [`Sim::hold_responses`].
    pub fn requests_waiting(&self) -> usize {
        self.lock().outage.requests_waiting
    }

    /// Answer heartbeats with op 11 (the default) or leave them unanswered.
    pub fn ack_heartbeats(&self, ack: bool) {
        self.lock().outage.ack_heartbeats = ack;
    }

    /// How many RESUMEs were accepted.
    pub fn resumes_accepted(&self) -> usize {
        self.lock().outage.resumes_accepted
    }

    /// How many heartbeats were left without an ACK.
    pub fn unacked_heartbeats(&self) -> usize {
        self.lock().outage.unacked_heartbeats
    }

    /// What happened on the gateway, oldest first: IDENTIFYs, lost connections, RESUMEs
    /// (accepted with how many events replayed, or refused), unanswered heartbeats.
    pub fn gateway_log(&self) -> Vec<String> {
        self.lock().outage.log.clone()
    }
}
