//! The Telegram front: every bot of the process (configured tokens, and tokens added
//! through the API and kept in the store), each with its own dispatcher and one send
//! path ([`send::Courier`]: per-chat queues, replies before alerts, paced), all sharing
//! one command core; the senders hold only the outbox handle the core gives them.
//!
//! Where things are: [`bot`] turns updates into commands and answers; [`send`] sends
//! every message; [`outbox`] feeds it the durable alerts; [`pace`] holds Telegram's
//! limits and the back-off; [`api`] makes the Bot API calls and classifies failures;
//! [`buttons`] are the ack/mute/pause buttons under alerts; [`access`] decides who
//! may do what; [`private`] keeps push URLs and secrets out of
//! groups; [`format`] writes the texts.
//!
//! [`Telegram::start`] launches the bots and registers the [`BotGateway`] the core uses
//! to resolve and check the bot of operator `add`s; [`Telegram::stop`] stops every
//! dispatcher (through its `ShutdownToken`) and sender. Bots are logged by username,
//! never by token.
//!
//! What the front holds of the core: the [`Service`] for commands, the outbox handle
//! for delivery, and two streams by nature: the event bus, into which a migration or a
//! removed bot is published for WS subscribers (a notice that no command returns), and
//! the metrics sink its updates and sends are counted into.

pub mod access;
pub mod api;
pub mod bot;
pub mod buttons;
pub mod commands;
pub mod format;
pub mod outbox;
pub mod pace;
pub mod pictures;
pub mod private;
pub mod send;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use teloxide::dispatching::ShutdownToken;
use teloxide::prelude::*;
use teloxide::types::{ChatMemberKind, Me};
use teloxide::{ApiError, RequestError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::core::{BotGateway, CoreError, ResolveFuture, Service};
use crate::events::{NoticeEvent, NoticeKind};
use crate::store::{Outbox, StoredBot};
use access::Access;
use api::Verdict;
use bot::BotCtx;
use pace::{Lane, Limits};
use send::Courier;

/// Long-poll timeout; below the HTTP client's 17 s total timeout.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long stopping waits for each dispatcher and task.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handlers and senders of every bot share.
pub struct Shared {
    /// The command core.
    pub service: Service,
    /// Allow-list and admin rules.
    pub access: Access,
    /// The durable outbox the senders deliver from.
    pub outbox: Outbox,
}

impl Shared {
    /// A group became a supergroup: move its monitors and pending alerts, keep it
    /// allowed under its new id, and tell WS subscribers. Idempotent.
    pub async fn chat_migrated(&self, bot: &str, old: i64, new: i64) -> Result<(), CoreError> {
        let ids = self.service.migrate_chat(old, new).await?;
        // The chat's settings (quiet, a mute of all) move too; the flush below covers it.
        self.service.move_chat_settings(old, new)?;
        let alerts = self.outbox.rechat(old, new).await?;
        if self.access.is_allowed(old) {
            self.access.allow(new).await?;
        }
        if ids.is_empty() && alerts == 0 {
            return Ok(());
        }
        tracing::warn!(
            bot,
            old_chat = old,
            new_chat = new,
            monitors = ids.len(),
            alerts,
            "group upgraded to a supergroup; monitors moved"
        );
        self.service.events().notice(NoticeEvent {
            kind: NoticeKind::ChatMigrated,
            bot: bot.to_string(),
            chat_id: old,
            new_chat_id: Some(new),
            monitor_ids: ids,
            message: format!("group {old} became supergroup {new}; {alerts} pending alerts moved"),
        });
        Ok(())
    }

    /// The bot can no longer post in `chat`: pause its monitors there, drop its alerts
    /// for that chat (they cannot be delivered), and tell WS subscribers and the log.
    pub async fn chat_gone(&self, bot: &str, chat: i64, why: &str) -> Result<(), CoreError> {
        let ids = self.service.pause_chat(bot, chat).await?;
        let dropped = self.outbox.drop_chat(bot, chat).await?;
        if ids.is_empty() && dropped == 0 {
            return Ok(());
        }
        tracing::warn!(
            bot,
            chat,
            reason = why,
            paused = ids.len(),
            dropped_alerts = dropped,
            "bot can no longer post in a chat; its monitors there are paused"
        );
        self.service.events().notice(NoticeEvent {
            kind: NoticeKind::BotRemoved,
            bot: bot.to_string(),
            chat_id: chat,
            new_chat_id: None,
            monitor_ids: ids,
            message: format!("{why}; monitors paused, {dropped} pending alerts dropped"),
        });
        Ok(())
    }
}

/// One started bot: checked with getMe and known to the core; polling and sending
/// while the front is active ([`Work`]).
struct RunningBot {
    bot: Bot,
    me: Me,
    /// The send path of the bot's current or last activity (one that never sends
    /// before the first: its pacer still paces the operator's "can it post?" checks).
    courier: Mutex<Arc<Courier>>,
    work: Mutex<Option<Work>>,
}

impl RunningBot {
    fn courier(&self) -> Arc<Courier> {
        lock(&self.courier).clone()
    }
}

/// What runs while a bot is active: its `getUpdates` polling (the dispatcher) and its
/// senders, ended by `stop`.
struct Work {
    stop: CancellationToken,
    courier: Arc<Courier>,
    shutdown: ShutdownToken,
    dispatch: JoinHandle<()>,
    sender: JoinHandle<()>,
}

struct Front {
    shared: Arc<Shared>,
    api_url: url::Url,
    /// Telegram's limits (off only in benchmarks against a fake Bot API).
    limits: Limits,
    /// Running bots by lower-case username.
    bots: Mutex<HashMap<String, Arc<RunningBot>>>,
    /// Serialises the check-and-start step of launches.
    launching: tokio::sync::Mutex<()>,
    /// Cancelled by [`Telegram::stop`]: senders and retry loops end.
    stop: CancellationToken,
    /// Retry loops of bots that could not start yet.
    pending: Mutex<Vec<JoinHandle<()>>>,
    /// Whether bots poll and send (changed under `launching`): always when upbot runs
    /// alone; in cluster mode only while this node leads.
    active: std::sync::atomic::AtomicBool,
}

/// Handle to the Telegram front.
pub struct Telegram {
    front: Arc<Front>,
}

/// Why a token could not be started.
#[derive(Debug, thiserror::Error)]
enum LaunchError {
    #[error("Telegram rejected the bot token")]
    InvalidToken,
    #[error("the bot has no username")]
    NoUsername,
    #[error("cannot reach the Bot API: {0}")]
    Unreachable(RequestError),
    #[error("upbot is shutting down")]
    Stopping,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Telegram {
    /// Starts every configured and remembered bot (a bot that cannot start is logged
    /// and retried; it never stops the server) and registers the bot gateway.
    pub async fn start(config: &Config, service: Service) -> anyhow::Result<Self> {
        Self::start_with(config, service, true).await
    }

    /// Like [`Telegram::start`], but the bots only answer the core (they neither poll
    /// nor send) until [`Telegram::activate`]: a cluster node that does not lead.
    pub async fn start_dormant(config: &Config, service: Service) -> anyhow::Result<Self> {
        Self::start_with(config, service, false).await
    }

    async fn start_with(config: &Config, service: Service, active: bool) -> anyhow::Result<Self> {
        let api_url: url::Url = config
            .telegram_api_url
            .parse()
            .map_err(|e| anyhow::anyhow!("UPBOT_TELEGRAM_API_URL: {e}"))?;
        let front = Arc::new(Front {
            shared: Arc::new(Shared {
                access: Access::new(config.allowed_chats.clone(), service.allow_list()),
                service: service.clone(),
                outbox: service.outbox(),
            }),
            api_url,
            limits: if config.telegram_pacing {
                Limits::TELEGRAM
            } else {
                Limits::UNLIMITED
            },
            bots: Mutex::new(HashMap::new()),
            launching: tokio::sync::Mutex::new(()),
            stop: CancellationToken::new(),
            pending: Mutex::new(Vec::new()),
            active: std::sync::atomic::AtomicBool::new(active),
        });
        let mut tokens: Vec<(String, &'static str)> = config
            .telegram_tokens
            .iter()
            .map(|t| (t.expose().to_string(), "config"))
            .collect();
        for b in service.stored_bots()? {
            if !tokens.iter().any(|(t, _)| *t == b.token) {
                tokens.push((b.token, "added through the API"));
            }
        }
        if tokens.is_empty() {
            tracing::warn!(
                "no Telegram bot configured (set UPBOT_TELEGRAM_TOKENS, or add one with bot=<token> on a WS add); \
                 alerts go to WS subscribers only"
            );
        }
        let launches = tokens.into_iter().enumerate().map(|(i, (token, origin))| {
            let front = front.clone();
            async move {
                match front.launch(&token).await {
                    Ok(b) => tracing::info!(bot = %b.me.username(), origin, "Telegram bot running"),
                    Err(LaunchError::Unreachable(e)) => {
                        tracing::warn!(token_no = i + 1, origin, error = %e, "Telegram bot cannot start yet; retrying in the background");
                        let retry = tokio::spawn(Front::retry_launch(Arc::downgrade(&front), token, front.stop.clone()));
                        lock(&front.pending).push(retry);
                    }
                    Err(e) => tracing::error!(token_no = i + 1, origin, error = %e, "Telegram bot not started"),
                }
            }
        });
        futures_util::future::join_all(launches).await;
        service.set_bot_gateway(Some(Arc::new(Gateway {
            front: Arc::downgrade(&front),
        })));
        Ok(Self { front })
    }

    /// Usernames of the running bots.
    pub fn bots(&self) -> Vec<String> {
        lock(&self.front.bots)
            .values()
            .map(|b| b.me.username().to_string())
            .collect()
    }

    /// Stops every dispatcher and sender (pending alerts stay in the outbox; answers
    /// still queued are dropped).
    pub async fn stop(&self) {
        self.front.shared.service.set_bot_gateway(None);
        self.front.stop.cancel();
        // Taking the launch lock means no launch in progress can add a bot after this.
        let bots: Vec<Arc<RunningBot>> = {
            let _no_more_launches = self.front.launching.lock().await;
            lock(&self.front.bots).drain().map(|(_, b)| b).collect()
        };
        let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
        let pending: Vec<JoinHandle<()>> = lock(&self.front.pending).drain(..).collect();
        futures_util::future::join_all(bots.iter().map(|b| Front::stop_work(b, deadline))).await;
        for mut h in pending {
            if tokio::time::timeout_at(deadline, &mut h).await.is_err() {
                h.abort();
                let _ = h.await;
            }
        }
        tracing::info!(bots = bots.len(), "Telegram bots stopped");
    }

    /// Starts every bot's polling and senders (cluster mode: this node now leads).
    pub async fn activate(&self) {
        let _one_at_a_time = self.front.launching.lock().await;
        if self.front.stop.is_cancelled() {
            return;
        }
        self.front.active.store(true, std::sync::atomic::Ordering::Release);
        let bots: Vec<Arc<RunningBot>> = lock(&self.front.bots).values().cloned().collect();
        for b in &bots {
            self.front.start_work(b);
        }
        tracing::info!(bots = bots.len(), "Telegram bots polling and sending");
    }

    /// Stops every bot's polling and senders, and returns once they have stopped
    /// (cluster mode: this node no longer leads). The bots stay known to the core.
    pub async fn deactivate(&self) {
        let bots: Vec<Arc<RunningBot>> = {
            let _one_at_a_time = self.front.launching.lock().await;
            self.front.active.store(false, std::sync::atomic::Ordering::Release);
            lock(&self.front.bots).values().cloned().collect()
        };
        let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
        futures_util::future::join_all(bots.iter().map(|b| Front::stop_work(b, deadline))).await;
        tracing::info!(bots = bots.len(), "Telegram bots no longer polling or sending");
    }

    /// Starts the bots the store knows that are not running yet (cluster mode: another
    /// node added one through the API).
    pub async fn launch_stored(&self) {
        let Ok(stored) = self.front.shared.service.stored_bots() else {
            return;
        };
        for b in stored {
            let known = lock(&self.front.bots).values().any(|r| r.bot.token() == b.token);
            if !known {
                match self.front.launch(&b.token).await {
                    Ok(r) => tracing::info!(bot = %r.me.username(), "Telegram bot running (added on another node)"),
                    Err(e) => {
                        tracing::warn!(bot = %b.username, error = %e, "a bot added on another node cannot start here")
                    }
                }
            }
        }
    }
}

impl Front {
    /// Starts one bot: getMe, setMyCommands, dispatcher, send path. A token whose
    /// bot already runs returns the running one.
    async fn launch(self: &Arc<Self>, token: &str) -> Result<Arc<RunningBot>, LaunchError> {
        if let Some(b) = lock(&self.bots).values().find(|b| b.bot.token() == token) {
            return Ok(b.clone());
        }
        let bot = Bot::new(token).set_api_url(self.api_url.clone());
        let me = match bot.get_me().await {
            Ok(me) => me,
            Err(RequestError::Api(ApiError::InvalidToken)) => return Err(LaunchError::InvalidToken),
            Err(e) => return Err(LaunchError::Unreachable(e)),
        };
        let Some(username) = me.user.username.clone() else {
            return Err(LaunchError::NoUsername);
        };
        let running = {
            // Check and start under one lock (no network inside), so one bot added twice
            // at once starts once.
            let _one_at_a_time = self.launching.lock().await;
            if self.stop.is_cancelled() {
                return Err(LaunchError::Stopping);
            }
            if let Some(b) = lock(&self.bots).values().find(|b| b.me.id == me.id) {
                if b.bot.token() != token {
                    // The same bot polled under two tokens would end each other's polls (409).
                    tracing::warn!(bot = %username, "this bot already runs under another token; not starting it twice");
                }
                return Ok(b.clone());
            }
            // Never sends: its stop token is cancelled from the start.
            let idle = CancellationToken::new();
            idle.cancel();
            let courier = Courier::new(bot.clone(), username.clone(), self.shared.clone(), self.limits, idle);
            let running = Arc::new(RunningBot {
                bot: bot.clone(),
                me,
                courier: Mutex::new(courier),
                work: Mutex::new(None),
            });
            if self.active.load(std::sync::atomic::Ordering::Acquire) {
                self.start_work(&running);
            }
            lock(&self.bots).insert(username.to_ascii_lowercase(), running.clone());
            running
        };
        // The menu in every language: English as the default, and one per language
        // code, which Telegram shows to users whose app is set to it.
        for lang in crate::i18n::Lang::ALL {
            let mut req = bot.set_my_commands(commands::bot_commands(lang));
            if lang != crate::i18n::Lang::En {
                req = req.language_code(lang.code());
            }
            if let Err(e) = req.await {
                tracing::warn!(bot = %username, lang = %lang, error = %e, "setMyCommands failed; the command menu may be stale");
            }
        }
        Ok(running)
    }

    /// Starts `b`'s polling and senders (no-op if they run).
    fn start_work(&self, b: &RunningBot) {
        let mut work = lock(&b.work);
        if work.is_some() {
            return;
        }
        let username = b.me.username().to_string();
        let stop = self.stop.child_token();
        let courier = Courier::new(
            b.bot.clone(),
            username.clone(),
            self.shared.clone(),
            self.limits,
            stop.clone(),
        );
        let ctx = Arc::new(BotCtx {
            shared: self.shared.clone(),
            username: username.clone(),
            courier: courier.clone(),
        });
        let dp = bot::dispatcher(b.bot.clone(), ctx);
        let shutdown = dp.shutdown_token();
        let dispatch = tokio::spawn(bot::run_dispatcher(b.bot.clone(), dp, username, stop.clone()));
        let sender = tokio::spawn(outbox::watch(courier.clone(), stop.clone()));
        *lock(&b.courier) = courier.clone();
        *work = Some(Work {
            stop,
            courier,
            shutdown,
            dispatch,
            sender,
        });
    }

    /// Stops `b`'s polling and senders (until `deadline`, then abandons them).
    async fn stop_work(b: &RunningBot, deadline: tokio::time::Instant) {
        let Some(w) = lock(&b.work).take() else { return };
        w.stop.cancel();
        let finished = || w.dispatch.is_finished();
        bot::shutdown(&w.shutdown, finished, deadline).await;
        w.courier.shutdown(deadline).await;
        for mut h in [w.dispatch, w.sender] {
            if tokio::time::timeout_at(deadline, &mut h).await.is_err() {
                h.abort();
                let _ = h.await;
            }
        }
    }

    /// Keeps trying to start a bot whose first start failed for lack of the Bot API.
    async fn retry_launch(front: Weak<Front>, token: String, stop: CancellationToken) {
        let mut failures = 1u32;
        loop {
            let wait = pace::retry_delay(None, failures).max(Duration::from_secs(5));
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            let Some(f) = front.upgrade() else { return };
            match f.launch(&token).await {
                Ok(b) => {
                    tracing::info!(bot = %b.me.username(), "Telegram bot running");
                    return;
                }
                Err(LaunchError::Stopping) => return,
                Err(LaunchError::Unreachable(e)) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, "Telegram bot still cannot start; retrying");
                }
                Err(e) => {
                    tracing::error!(error = %e, "Telegram bot not started");
                    return;
                }
            }
        }
    }

    /// The core's question: which bot alerts `chat`, and can it post there?
    async fn resolve(self: Arc<Self>, bot: Option<String>, chat: i64) -> Result<String, CoreError> {
        let invalid = |m: String| CoreError::Validation(m.into());
        let running: Vec<Arc<RunningBot>> = lock(&self.bots).values().cloned().collect();
        let names = || {
            let mut n: Vec<String> = running.iter().map(|b| format!("@{}", b.me.username())).collect();
            n.sort();
            n.join(", ")
        };
        let chosen = match bot.as_deref().map(str::trim) {
            None | Some("") => match running.as_slice() {
                [] => return Err(invalid(crate::core::service::NO_BOT.to_string())),
                [one] => one.clone(),
                _ => {
                    return Err(invalid(format!(
                        "several bots are running ({}); name one with bot",
                        names()
                    )));
                }
            },
            Some(b) if looks_like_token(b) => match self.launch(b).await {
                Ok(r) => {
                    let stored = StoredBot {
                        username: r.me.username().to_string(),
                        token: b.to_string(),
                    };
                    self.shared.service.remember_bot(&stored).await?;
                    r
                }
                Err(LaunchError::InvalidToken) => {
                    return Err(invalid(
                        "bot: Telegram rejected this bot token (getMe failed: invalid token)".into(),
                    ));
                }
                Err(LaunchError::NoUsername) => return Err(invalid("bot: this bot has no username".into())),
                Err(LaunchError::Stopping) => return Err(invalid("upbot is shutting down".into())),
                Err(LaunchError::Unreachable(e)) => {
                    return Err(invalid(format!(
                        "bot: cannot check the token, the Bot API is unreachable: {e}"
                    )));
                }
            },
            Some(b) => {
                let name = b.trim_start_matches('@');
                match running.iter().find(|r| r.me.username().eq_ignore_ascii_case(name)) {
                    Some(r) => r.clone(),
                    None if running.is_empty() => return Err(invalid(crate::core::service::NO_BOT.to_string())),
                    None => return Err(invalid(format!("unknown bot {name:?}; running: {}", names()))),
                }
            }
        };
        check_can_post(&chosen, chat).await?;
        self.shared.access.allow(chat).await?;
        Ok(chosen.me.username().to_string())
    }
}

/// `123456:ABC-def…`: digits, a colon, then the secret.
fn looks_like_token(s: &str) -> bool {
    s.split_once(':')
        .is_some_and(|(id, rest)| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty())
}

/// Checks that `b` can post in `chat`: in groups its own membership (getChatMember),
/// in private chats a typing indicator (fails if the user never started the bot).
async fn check_can_post(b: &RunningBot, chat: i64) -> Result<(), CoreError> {
    let who = format!("@{}", b.me.username());
    let refused = |why: String| CoreError::Validation(format!("bot {who} cannot post in chat {chat}: {why}").into());
    let failed = |f: api::Failure| match api::classify(&f) {
        Verdict::Retry(_) => CoreError::Validation(
            format!("cannot check chat {chat} with {who}: the Bot API is unreachable ({f})").into(),
        ),
        Verdict::Gone(t) if t.contains("chat not found") => {
            refused("chat not found (add the bot to the group, or send it /start in a private chat)".into())
        }
        Verdict::Migrated(new) => refused(format!("the group was upgraded; use chat_id {new}")),
        _ => refused(f.to_string()),
    };
    if chat > 0 {
        b.courier().pacer().acquire(chat, Lane::Reply).await;
        return api::typing(&b.bot, chat).await.map_err(failed);
    }
    let member = api::chat_member(&b.bot, chat, b.me.id.0).await.map_err(failed)?;
    match &member.kind {
        ChatMemberKind::Left | ChatMemberKind::Banned(_) => {
            Err(refused("the bot is not a member (add it to the group first)".into()))
        }
        ChatMemberKind::Restricted(r) if !r.can_send_messages => {
            Err(refused("the bot is not allowed to send messages there".into()))
        }
        _ => Ok(()),
    }
}

/// The [`BotGateway`] the core calls; weak, so the front can be dropped after stop.
struct Gateway {
    front: Weak<Front>,
}

impl BotGateway for Gateway {
    fn resolve(&self, bot: Option<String>, chat_id: i64) -> ResolveFuture {
        let front = self.front.upgrade();
        Box::pin(async move {
            match front {
                Some(f) => f.resolve(bot, chat_id).await,
                None => Err(CoreError::Validation(crate::core::service::NO_BOT.into())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_told_from_usernames() {
        assert!(looks_like_token("123456:ABC-def_1"));
        assert!(!looks_like_token("mon_bot"));
        assert!(!looks_like_token("@mon_bot"));
        assert!(!looks_like_token("abc:def"));
        assert!(!looks_like_token("123:"));
    }
}
