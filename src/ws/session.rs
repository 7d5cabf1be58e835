//! One WebSocket session: reads frames, enforces the per-connection limits (size, rate,
//! idle), authenticates, runs requests through the core, and delivers subscribed
//! events. A single writer task owns the socket's sending half and is fed by a bounded
//! queue: replies and state events wait for room, probe events are dropped (and counted,
//! then reported as `events_dropped`) when the client does not keep up.
//!
//! Why a session holds streams rather than asking the service: events are pushed to it
//! as they happen (the bus is a broadcast), which no request/reply call can express.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tokio_util::sync::CancellationToken;

use super::legacy::LegacyMonitors;
use super::protocol::{
    self, ErrorCode, EventType, Incoming, MAX_TEXT, Request, Subscription, WsError, allowed_unauthenticated,
};
use crate::config::Secret;
use crate::core::{Caller, Service};
use crate::domain::now_ms;
use crate::events::{NoticeEvent, ProbeEvent, StateEvent};

/// Depth of the outgoing queue (messages).
const QUEUE: usize = 1024;
/// How long closing waits for the writer before abandoning a stuck socket.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Longest gap between protocol Pings.
const MAX_PING_EVERY: Duration = Duration::from_secs(30);
/// Messages up to this size are parsed for their `request_id` even when rate-limited.
const RID_PARSE_LIMIT: usize = 64 << 10;

/// What a session needs from the server.
pub(super) struct Params {
    pub(super) service: Service,
    pub(super) token: Option<Secret>,
    pub(super) authed: bool,
    /// Held while unauthenticated (one of the few slots such sessions may take).
    pub(super) unauth_permit: Option<OwnedSemaphorePermit>,
    pub(super) auth_timeout: Duration,
    pub(super) peer: IpAddr,
    pub(super) guard: Arc<super::AuthGuard>,
    pub(super) rate: u32,
    pub(super) idle: Duration,
    pub(super) shutdown: CancellationToken,
    pub(super) clients: Arc<AtomicUsize>,
    pub(super) started: Instant,
    pub(super) legacy_total: Arc<AtomicUsize>,
}

/// What to do after handling something.
enum Flow {
    Continue,
    /// End the session, sending this close frame first (if any).
    End(Option<(u16, &'static str)>),
}

type ProbeRx = Option<broadcast::Receiver<Arc<ProbeEvent>>>;
type StateRx = Option<broadcast::Receiver<Arc<StateEvent>>>;

struct Session {
    service: Service,
    token: Option<Secret>,
    authed: bool,
    unauth_permit: Option<OwnedSemaphorePermit>,
    peer: IpAddr,
    guard: Arc<super::AuthGuard>,
    clients: Arc<AtomicUsize>,
    started: Instant,
    limiter: Option<DefaultDirectRateLimiter>,
    shutdown: CancellationToken,
    tx: mpsc::Sender<Message>,
    sub: Subscription,
    /// Probe events this client has lost since it was last told.
    dropped: u64,
    /// Telegram notices (bot removed from a chat, chat migrated): sent to sessions that
    /// subscribe to state events.
    notice_rx: Option<broadcast::Receiver<Arc<NoticeEvent>>>,
    legacy: LegacyMonitors,
}

/// Runs one session to its end.
pub(super) async fn run(socket: WebSocket, p: Params) {
    tracing::info!(authenticated = p.authed, "WS session opened");
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer = tokio::spawn(write_loop(sink, rx));
    let shutdown = p.shutdown.clone();
    let auth_deadline = Instant::now() + p.auth_timeout;
    let legacy = LegacyMonitors::new(p.service.clone(), p.legacy_total);
    let mut s = Session {
        service: p.service,
        token: p.token,
        authed: p.authed,
        unauth_permit: p.unauth_permit,
        peer: p.peer,
        guard: p.guard,
        clients: p.clients,
        started: p.started,
        limiter: NonZeroU32::new(p.rate).map(|r| RateLimiter::direct(Quota::per_second(r))),
        shutdown: p.shutdown,
        tx,
        sub: Subscription::default(),
        dropped: 0,
        notice_rx: None,
        legacy,
    };
    let mut probe_rx: ProbeRx = None;
    let mut state_rx: StateRx = None;
    let ping_every = (p.idle / 3).clamp(Duration::from_millis(100), MAX_PING_EVERY);
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut last_in = Instant::now();

    let end = loop {
        let flow = tokio::select! {
            biased;
            () = shutdown.cancelled() => Flow::End(Some((1001, "server shutting down"))),
            () = tokio::time::sleep_until(last_in + p.idle) => Flow::End(Some((1000, "idle timeout"))),
            // Only while a token is required and not yet given.
            () = tokio::time::sleep_until(auth_deadline), if !s.authed => {
                tracing::info!("WS session closed: not authenticated in time");
                Flow::End(Some((1008, "authentication timeout")))
            }
            () = s.tx.closed() => Flow::End(None),
            frame = stream.next() => match frame {
                None => Flow::End(None),
                Some(Err(e)) => read_failed(e),
                Some(Ok(msg)) => {
                    last_in = Instant::now();
                    s.on_frame(msg, &mut probe_rx, &mut state_rx).await
                }
            },
            ev = recv(&mut state_rx) => s.on_state(ev, &mut state_rx).await,
            ev = recv(&mut s.notice_rx) => s.on_notice(ev).await,
            ev = recv(&mut probe_rx) => s.on_probe(ev, &mut probe_rx),
            _ = ping.tick() => {
                let _ = s.tx.try_send(Message::Ping(Default::default()));
                Flow::Continue
            }
        };
        if let Flow::End(close) = flow {
            break close;
        }
    };

    s.legacy.shutdown();
    if let Some((code, reason)) = end {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = tokio::time::timeout(CLOSE_WAIT, s.tx.send(frame)).await;
    }
    drop(s);
    let abort = writer.abort_handle();
    if tokio::time::timeout(CLOSE_WAIT, writer).await.is_err() {
        // The peer stopped reading and the TCP window is full: abandon the socket.
        abort.abort();
    }
    tracing::info!(close = ?end, "WS session closed");
}

/// Ends the session after a read error; a message over the hard cap gets close code 1009.
fn read_failed(e: axum::Error) -> Flow {
    let inner = e.into_inner();
    let too_big = matches!(
        inner.downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    );
    tracing::debug!(error = %inner, "WS read ended");
    if too_big {
        Flow::End(Some((1009, "message too big (hard limit 4 MiB)")))
    } else {
        Flow::End(None)
    }
}

/// Receives from an optional broadcast receiver; pending forever when there is none.
async fn recv<T: Clone>(rx: &mut Option<broadcast::Receiver<T>>) -> Result<T, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The only task that writes to the socket; flushes when the queue runs dry.
async fn write_loop(mut sink: SplitSink<WebSocket, Message>, mut rx: mpsc::Receiver<Message>) {
    while let Some(msg) = rx.recv().await {
        let close = matches!(msg, Message::Close(_));
        if sink.feed(msg).await.is_err() {
            return;
        }
        if (close || rx.is_empty()) && sink.flush().await.is_err() {
            return;
        }
        if close {
            break;
        }
    }
    let _ = sink.close().await;
}

impl Session {
    /// Queues a message, waiting for room (but not past shutdown).
    async fn send(&self, text: String) {
        tokio::select! {
            _ = self.tx.send(Message::Text(text.into())) => {}
            () = self.shutdown.cancelled() => {}
        }
    }

    async fn reply(&self, ty: &str, request_id: Option<&Value>, data: impl serde::Serialize) {
        self.send(protocol::message(ty, request_id, data, now_ms())).await;
    }

    async fn error(&self, request_id: Option<&Value>, err: &WsError) {
        tracing::debug!(code = err.code.as_str(), message = %err.message, "WS request refused");
        self.send(protocol::error_message(request_id, err, now_ms())).await;
    }

    fn rate_ok(&self) -> bool {
        self.limiter.as_ref().is_none_or(|l| l.check().is_ok())
    }

    async fn on_frame(&mut self, msg: Message, probe_rx: &mut ProbeRx, state_rx: &mut StateRx) -> Flow {
        match msg {
            Message::Text(text) => {
                if !self.rate_ok() {
                    let rid = (text.len() <= RID_PARSE_LIMIT)
                        .then(|| protocol::classify(text.as_str()).ok())
                        .flatten()
                        .and_then(|i| match i {
                            Incoming::Envelope(e) => e.request_id,
                            Incoming::Legacy(_) => None,
                        });
                    let err = WsError::new(
                        ErrorCode::RateLimitExceeded,
                        "too many messages per second on this connection (UPBOT_WS_RATE); slow down",
                    );
                    self.error(rid.as_ref(), &err).await;
                    return Flow::Continue;
                }
                self.on_text(text.as_str(), probe_rx, state_rx).await
            }
            Message::Binary(_) => {
                let err = if self.rate_ok() {
                    WsError::new(
                        ErrorCode::InvalidMessageFormat,
                        "binary frames are not supported: send JSON in text frames",
                    )
                } else {
                    WsError::new(
                        ErrorCode::RateLimitExceeded,
                        "too many messages per second on this connection (UPBOT_WS_RATE); slow down",
                    )
                };
                self.error(None, &err).await;
                Flow::Continue
            }
            // tungstenite answers Pings itself; either kind only proves the peer is alive.
            Message::Ping(_) | Message::Pong(_) => Flow::Continue,
            Message::Close(_) => Flow::End(None),
        }
    }

    async fn on_text(&mut self, text: &str, probe_rx: &mut ProbeRx, state_rx: &mut StateRx) -> Flow {
        if text.len() > MAX_TEXT {
            let err = WsError::new(
                ErrorCode::InvalidMessageFormat,
                format!("message is {} bytes; the limit is 1 MiB ({MAX_TEXT} bytes)", text.len()),
            );
            self.error(None, &err).await;
            return Flow::Continue;
        }
        let env = match protocol::classify(text) {
            Err(rej) => {
                self.error(rej.request_id.as_ref(), &rej.error).await;
                return Flow::Continue;
            }
            Ok(Incoming::Legacy(obj)) => {
                if !self.authed {
                    self.error(None, &auth_required()).await;
                } else {
                    let reply = self.legacy.handle(&obj, &self.tx);
                    self.send(reply).await;
                }
                return Flow::Continue;
            }
            Ok(Incoming::Envelope(env)) => env,
        };
        let rid = env.request_id.as_ref();
        if !self.authed && !allowed_unauthenticated(&env.ty) {
            self.error(rid, &auth_required()).await;
            return Flow::Continue;
        }
        let req = match protocol::parse_request(&env) {
            Ok(r) => r,
            Err(e) => {
                self.error(rid, &e).await;
                return Flow::Continue;
            }
        };
        match req {
            Request::Command(cmd) => match self.service.execute(&Caller::Operator, cmd).await {
                Ok(reply) => {
                    let (ty, data) = protocol::reply_data(reply);
                    self.reply(ty, rid, data).await;
                }
                Err(e) => self.error(rid, &WsError::from(e)).await,
            },
            Request::Subscribe(req) => {
                self.sub.subscribe(&req);
                self.sync_receivers(probe_rx, state_rx);
                self.reply("subscribed", rid, self.sub.to_json()).await;
            }
            Request::Unsubscribe(types) => {
                self.sub.unsubscribe(&types);
                self.sync_receivers(probe_rx, state_rx);
                self.reply("unsubscribed", rid, self.sub.to_json()).await;
            }
            Request::Ping => self.reply("pong", rid, protocol::pong_data(now_ms())).await,
            Request::ClientInfo => {
                let data = protocol::connection_status_data(
                    self.clients.load(Ordering::Relaxed),
                    self.started.elapsed(),
                    now_ms(),
                );
                self.reply("connection_status", rid, data).await;
            }
            Request::Auth(token) => self.auth(rid, &token).await,
        }
        Flow::Continue
    }

    /// Checks an `auth` message's token, throttled per peer address like the bearer
    /// header.
    async fn auth(&mut self, rid: Option<&Value>, token: &str) {
        let Some(expected) = &self.token else {
            self.authed = true;
            self.reply("authenticated", rid, protocol::authenticated_data()).await;
            return;
        };
        if let Err(wait) = self.guard.check(self.peer) {
            let err = WsError::new(
                ErrorCode::RateLimitExceeded,
                format!(
                    "too many failed token attempts from this address; try again in {}",
                    crate::domain::duration::human(Duration::from_secs(wait.as_secs().max(1)))
                ),
            );
            self.error(rid, &err).await;
            return;
        }
        if !super::token_matches(token, expected.expose()) {
            tracing::warn!("WS auth message with a wrong token");
            self.guard.failed(self.peer);
            let err = WsError::new(ErrorCode::PermissionDenied, "wrong token (UPBOT_WS_TOKEN)");
            self.error(rid, &err).await;
            return;
        }
        if !self.authed {
            tracing::info!("WS session authenticated by message");
        }
        self.authed = true;
        // Now an authenticated session: give back the unauthenticated slot.
        self.unauth_permit = None;
        self.reply("authenticated", rid, protocol::authenticated_data()).await;
    }

    /// Holds exactly the bus receivers the subscription needs (an unneeded probe receiver
    /// would make the scheduler build events nobody reads).
    fn sync_receivers(&mut self, probe_rx: &mut ProbeRx, state_rx: &mut StateRx) {
        if self.sub.wants(EventType::Probe) {
            if probe_rx.is_none() {
                *probe_rx = Some(self.service.events().subscribe().probe);
            }
        } else {
            *probe_rx = None;
            self.dropped = 0;
        }
        if self.sub.wants(EventType::State) {
            if state_rx.is_none() {
                *state_rx = Some(self.service.events().subscribe().state);
                self.notice_rx = Some(self.service.events().subscribe_notices());
            }
        } else {
            *state_rx = None;
            self.notice_rx = None;
        }
    }

    /// Delivers a probe event without ever waiting: a full queue drops and counts it.
    fn on_probe(&mut self, ev: Result<Arc<ProbeEvent>, broadcast::error::RecvError>, rx: &mut ProbeRx) -> Flow {
        let ev = match ev {
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                self.dropped = self.dropped.saturating_add(n);
                return Flow::Continue;
            }
            Err(broadcast::error::RecvError::Closed) => {
                *rx = None;
                return Flow::Continue;
            }
        };
        if !self.sub.matches(ev.monitor_id, ev.chat_id) {
            return Flow::Continue;
        }
        let now = now_ms();
        if self.dropped > 0 {
            let notice = Message::Text(protocol::events_dropped(self.dropped, now).into());
            if self.tx.try_send(notice).is_err() {
                self.dropped = self.dropped.saturating_add(1);
                return Flow::Continue;
            }
            self.dropped = 0;
        }
        // Checked first so a client that is far behind costs no serialisation.
        if self.tx.capacity() == 0
            || self
                .tx
                .try_send(Message::Text(protocol::probe_event(&ev, now).into()))
                .is_err()
        {
            self.dropped = self.dropped.saturating_add(1);
        }
        Flow::Continue
    }

    /// Delivers a state event, waiting for room: state events are never dropped.
    async fn on_state(&mut self, ev: Result<Arc<StateEvent>, broadcast::error::RecvError>, rx: &mut StateRx) -> Flow {
        let ev = match ev {
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                // Only a client that read nothing through tens of thousands of changes
                // gets here; it cannot be told what it missed, so it must re-list.
                tracing::warn!(lost = n, "WS client too slow for state events; closing");
                return Flow::End(Some((1013, "too slow for state events; reconnect and list again")));
            }
            Err(broadcast::error::RecvError::Closed) => {
                *rx = None;
                return Flow::Continue;
            }
        };
        if !self.sub.matches(ev.monitor_id, ev.chat_id) {
            return Flow::Continue;
        }
        let now = now_ms();
        if self.dropped > 0 {
            self.send(protocol::events_dropped(self.dropped, now)).await;
            self.dropped = 0;
        }
        self.send(protocol::state_event(&ev, now)).await;
        Flow::Continue
    }
}

impl Session {
    /// Delivers a Telegram notice (waiting for room, like state events) when the
    /// subscription's filters match its chat or one of its monitors.
    async fn on_notice(&mut self, ev: Result<Arc<NoticeEvent>, broadcast::error::RecvError>) -> Flow {
        let ev = match ev {
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(lost = n, "WS client missed notices");
                return Flow::Continue;
            }
            Err(broadcast::error::RecvError::Closed) => {
                self.notice_rx = None;
                return Flow::Continue;
            }
        };
        let chat = Some(ev.chat_id);
        let wanted = if ev.monitor_ids.is_empty() {
            self.sub.matches_chat(chat)
        } else {
            ev.monitor_ids.iter().any(|id| self.sub.matches(*id, chat))
        };
        if wanted {
            self.send(protocol::notice_event(&ev, now_ms())).await;
        }
        Flow::Continue
    }
}

fn auth_required() -> WsError {
    WsError::new(
        ErrorCode::AuthenticationRequired,
        "this server needs a token: connect with \"Authorization: Bearer <token>\" or send \
         {\"type\":\"auth\",\"data\":{\"token\":\"…\"}} first",
    )
}
