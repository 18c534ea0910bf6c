//! The gateway websocket (`ws://127.0.0.1:PORT/gateway?v=10&encoding=json`).
//!
//! Per connection: HELLO (op 10) → IDENTIFY (op 2, token checked, else close 4004) → READY and
//! GUILD_CREATE. Heartbeats (op 1) are ACKed (op 11). RESUME (op 6) is answered with op 9
//! `d: false`, so the client re-IDENTIFYs and gets a fresh session and nothing is replayed —
//! unless the test turned on resumes or silenced ACKs (`outage.rs`).
//! The most recently identified connection is the one dispatches go to ([`State::session`]).
//!
//! Each connection is one task owning its socket; everything it writes (replies and
//! dispatches) goes through its unbounded queue, so frames leave in the order they were queued.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxumState};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::payloads;
use super::state::{intents, random_hex, Out, Session};
use super::Shared;

/// Close codes Discord uses.
mod close {
    pub const UNKNOWN_OPCODE: u16 = 4001;
    pub const DECODE_ERROR: u16 = 4002;
    pub const NOT_AUTHENTICATED: u16 = 4003;
    pub const AUTHENTICATION_FAILED: u16 = 4004;
    pub const ALREADY_AUTHENTICATED: u16 = 4005;
    pub const INVALID_API_VERSION: u16 = 4012;
    pub const INVALID_INTENTS: u16 = 4013;
    pub const DISALLOWED_INTENTS: u16 = 4014;
}

pub(crate) async fn upgrade(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(params): Query<std::collections::HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let version_ok = params.get("v").is_none_or(|v| v == "10" || v == "9");
    let encoding_ok = params.get("encoding").is_none_or(|e| e == "json");
    ws.max_message_size(16 << 20)
        .on_upgrade(move |socket| run(shared, socket, version_ok && encoding_ok))
        .into_response()
}

fn frame(op: u8, d: Value) -> String {
    json!({"op": op, "s": null, "t": null, "d": d}).to_string()
}

async fn run(shared: Arc<Shared>, mut socket: WebSocket, params_ok: bool) {
    let (tx, mut rx) = unbounded_channel::<Out>();
    let conn_id = {
        let mut st = shared.lock();
        let id = st.next_conn_id;
        st.next_conn_id += 1;
        st.open_conns.insert(id, tx.clone());
        id
    };
    if !params_ok {
        let _ = tx.send(Out::Close(
            close::INVALID_API_VERSION,
            "Invalid API version".into(),
        ));
    } else {
        let interval = shared.lock().config.heartbeat_interval_ms;
        let _ = tx.send(Out::Text(frame(
            10,
            json!({"heartbeat_interval": interval, "_trace": ["[\"stemkaart-sim\",{\"micros\":0}]"]}),
        )));
    }
    let mut identified = false;
    loop {
        tokio::select! {
            biased;
            out = rx.recv() => match out {
                Some(Out::Text(text)) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Out::Batch { frames, stamps }) => {
                    let mut ok = true;
                    for (index, text) in frames {
                        // Stamped as it is handed to the socket: the bot cannot have read it
                        // before this moment (a stamp after `send` could come after the bot
                        // already acted on the frame).
                        stamps.mark(index);
                        if socket.send(Message::Text(text)).await.is_err() {
                            ok = false;
                            break;
                        }
                    }
                    if !ok {
                        break;
                    }
                }
                Some(Out::Close(code, reason)) => {
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame { code, reason: reason.into() })))
                        .await;
                    break;
                }
                // Abrupt: drop the socket without a closing handshake.
                Some(Out::Abort) | None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    super::outage::wait_while_reconnects_held(&shared, &text).await;
                    handle_frame(&shared, conn_id, &tx, &mut identified, &text);
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = tx.send(Out::Close(close::DECODE_ERROR, "Error while decoding payload.".into()));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            },
        }
    }
    drop(socket);
    let mut st = shared.lock();
    st.open_conns.remove(&conn_id);
    if st.session.as_ref().is_some_and(|s| s.conn_id == conn_id) {
        st.end_session();
    }
    drop(st);
    shared.notify();
}

fn handle_frame(
    shared: &Shared,
    conn_id: u64,
    tx: &UnboundedSender<Out>,
    identified: &mut bool,
    text: &str,
) {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        let _ = tx.send(Out::Close(
            close::DECODE_ERROR,
            "Error while decoding payload.".into(),
        ));
        return;
    };
    let op = msg["op"].as_u64();
    match op {
        Some(1) => {
            if shared.lock().outage.ack_heartbeat() {
                let _ = tx.send(Out::Text(frame(11, Value::Null)));
            }
        }
        Some(2) => {
            if *identified {
                let _ = tx.send(Out::Close(
                    close::ALREADY_AUTHENTICATED,
                    "Already authenticated.".into(),
                ));
                return;
            }
            if identify(shared, conn_id, tx, &msg["d"]) {
                *identified = true;
            }
        }
        Some(6) => {
            // Unless resumes are accepted (see `outage`), sessions are not resumable: the
            // client must IDENTIFY again, and events that happened in between are not
            // replayed (as after a new IDENTIFY on Discord).
            let mut st = shared.lock();
            st.resume_attempts += 1;
            let resumed = !*identified && st.resume(conn_id, tx, &msg["d"]);
            drop(st);
            shared.notify();
            if resumed {
                *identified = true;
            } else {
                let _ = tx.send(Out::Text(frame(9, json!(false))));
            }
        }
        Some(3 | 4 | 8 | 31) if *identified => {
            // Presence update, voice state, request guild members, soundboard: accepted, ignored.
        }
        Some(3 | 4 | 8 | 31) => {
            let _ = tx.send(Out::Close(
                close::NOT_AUTHENTICATED,
                "Not authenticated.".into(),
            ));
        }
        _ => {
            let _ = tx.send(Out::Close(close::UNKNOWN_OPCODE, "Unknown opcode.".into()));
        }
    }
}

/// Handle IDENTIFY; returns whether the connection is now identified.
fn identify(shared: &Shared, conn_id: u64, tx: &UnboundedSender<Out>, d: &Value) -> bool {
    let mut st = shared.lock();
    let sent = d["token"].as_str().unwrap_or("");
    let sent = sent.strip_prefix("Bot ").unwrap_or(sent);
    if sent != st.config.token {
        let _ = tx.send(Out::Close(
            close::AUTHENTICATION_FAILED,
            "Authentication failed.".into(),
        ));
        return false;
    }
    let Some(requested) = d["intents"].as_u64() else {
        let _ = tx.send(Out::Close(
            close::INVALID_INTENTS,
            "Invalid intent(s).".into(),
        ));
        return false;
    };
    if requested & intents::PRIVILEGED != 0 && !st.config.allow_privileged_intents {
        let _ = tx.send(Out::Close(
            close::DISALLOWED_INTENTS,
            "Disallowed intent(s).".into(),
        ));
        return false;
    }
    st.identify_payloads.push(d.clone());
    st.outage.identified();
    let session_id = random_hex(32);
    st.session = Some(Session {
        conn_id,
        session_id: session_id.clone(),
        seq: 0,
        intents: requested,
        tx: tx.clone(),
    });
    st.ready_count += 1;
    let ready = payloads::ready(&st, &session_id, d.get("shard"));
    st.dispatch("READY", ready, None);
    let guild = payloads::guild_create(&st);
    st.dispatch("GUILD_CREATE", guild, Some(intents::GUILDS));
    drop(st);
    shared.notify();
    true
}
