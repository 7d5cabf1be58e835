//! One bot: its dptree [`schema`], its dispatcher, and the handlers that turn chat
//! messages into core commands and replies.
//!
//! Handlers answer quickly (the core does the work), never wait for Telegram's pace
//! (answers are queued on the bot's [`Courier`]) and never fail the dispatcher: every
//! error is logged here with the bot and chat, never with the token.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::ShutdownToken;
use teloxide::dispatching::{Dispatcher, UpdateHandler};
use teloxide::error_handlers::{ErrorHandler, LoggingErrorHandler};
use teloxide::prelude::*;
use teloxide::types::{CallbackQuery, ChatMemberKind, ChatMemberUpdated, Me, User};
use teloxide::utils::render::RenderMessageTextHelper;

use super::Shared;
use super::access;
use super::buttons::{self, Press};
use super::commands::{self, Action, Cmd, Parsed};
use super::format::{self, Style};
use super::private;
use super::send::{Answer, Courier, Private, SideJob};
use crate::core::{AckRequest, Caller, Command, MuteRequest, Reply, Scope, Selector};
use crate::domain::now_ms;
use crate::i18n::{Lang, tr};

/// What handlers return; errors end up in the dispatcher's error handler.
pub type HandlerResult = Result<(), Box<dyn Error + Send + Sync>>;

/// Commands that change monitors and waited longer than this in Telegram's queue
/// (upbot was down) are not run: the user is told to send them again.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// Per-bot dependencies of the handlers.
pub struct BotCtx {
    pub(super) shared: Arc<Shared>,
    /// This bot's username.
    pub(super) username: String,
    /// The bot's one send path: handlers queue their answers there and return.
    pub(super) courier: Arc<Courier>,
}

/// The update tree every bot runs: its own membership changes, group migrations, and
/// messages (commands).
pub fn schema() -> UpdateHandler<Box<dyn Error + Send + Sync>> {
    dptree::entry()
        .branch(Update::filter_my_chat_member().endpoint(on_my_chat_member))
        .branch(Update::filter_callback_query().endpoint(on_button))
        .branch(
            Update::filter_message()
                .branch(Message::filter_migration_to().endpoint(on_migration))
                .branch(dptree::endpoint(on_message)),
        )
}

/// Builds the dispatcher of one bot (panics only on a wiring bug in [`schema`], which
/// the unit test below catches).
pub fn dispatcher(
    bot: Bot,
    ctx: Arc<BotCtx>,
) -> Dispatcher<Bot, Box<dyn Error + Send + Sync>, teloxide::dispatching::DefaultKey> {
    let text = format!("bot @{}: update handler failed", ctx.username);
    Dispatcher::builder(bot, schema())
        .dependencies(dptree::deps![ctx])
        // Chatter, other bots' commands and service messages are not ours: stay quiet.
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text(text))
        .build()
}

/// Logs update-listener failures (polling) as an operator can act on them.
pub struct ListenerErrors {
    /// The bot's username.
    pub username: String,
}

impl ErrorHandler<teloxide::RequestError> for ListenerErrors {
    fn handle_error(self: Arc<Self>, error: teloxide::RequestError) -> futures_util::future::BoxFuture<'static, ()> {
        use teloxide::{ApiError, RequestError};
        match &error {
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates) => tracing::warn!(
                bot = %self.username,
                "another process is polling this bot (409 Conflict): stop the other upbot or use a different token"
            ),
            RequestError::Api(ApiError::InvalidToken) => {
                tracing::error!(bot = %self.username, "Telegram rejects this bot's token (revoked?)")
            }
            other => tracing::warn!(bot = %self.username, error = %other, "polling Telegram failed; retrying"),
        }
        Box::pin(async {})
    }
}

/// Dispatch loop of one bot, restarted with back-off when it cannot start (getMe
/// failing); ends when the dispatcher is shut down or `stop` is cancelled meanwhile.
pub(super) async fn run_dispatcher(
    bot: Bot,
    mut dp: Dispatcher<Bot, Box<dyn Error + Send + Sync>, teloxide::dispatching::DefaultKey>,
    username: String,
    stop: tokio_util::sync::CancellationToken,
) {
    let errors = Arc::new(ListenerErrors {
        username: username.clone(),
    });
    let mut failures = 0u32;
    loop {
        let listener = teloxide::update_listeners::Polling::builder(bot.clone())
            .timeout(super::POLL_TIMEOUT)
            .delete_webhook()
            .await
            .build();
        match dp.try_dispatch_with_listener(listener, errors.clone()).await {
            Ok(()) => break,
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait = super::pace::retry_delay(None, failures);
                tracing::warn!(bot = %username, error = %e, retry_in = ?wait, "dispatcher could not start");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Stops a dispatcher; `shutdown()` fails until it is running, so retry until
/// `deadline` or until its task ended by itself.
pub(super) async fn shutdown(token: &ShutdownToken, finished: impl Fn() -> bool, deadline: tokio::time::Instant) {
    loop {
        match token.shutdown() {
            Ok(done) => {
                let _ = tokio::time::timeout_at(deadline, done).await;
                return;
            }
            Err(_) if tokio::time::Instant::now() < deadline && !finished() => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => return,
        }
    }
}

/// The forum topic a message belongs to (only real topics: reply threads in ordinary
/// groups also carry a thread id, and must not be answered "into" it).
fn topic(msg: &Message) -> Option<i32> {
    if msg.is_topic_message {
        msg.thread_id.map(|t| t.0.0)
    } else {
        None
    }
}

async fn on_message(bot: Bot, msg: Message, me: Me, ctx: Arc<BotCtx>) -> HandlerResult {
    if msg.chat.is_channel() {
        return Ok(());
    }
    let Some(text) = msg.text() else {
        return Ok(());
    };
    let chat = msg.chat.id.0;
    let thread = topic(&msg);
    let private = msg.chat.is_private();
    let parsed = commands::parse(text, me.username());
    let allowed = ctx.shared.access.is_allowed(chat);
    let sender = sender_lang(msg.from.as_ref());
    let lang = match &parsed {
        // A chat that never chose its language speaks its first command's sender's.
        Parsed::Command(_) | Parsed::Unknown(_) if allowed => ctx.shared.service.chat_lang_first(chat, sender),
        _ if allowed => ctx.shared.service.chat_lang(chat).or(sender).unwrap_or_default(),
        _ => sender.unwrap_or_default(),
    };
    let style = Style::new(me.username(), private).in_lang(lang);
    let (outcome, answer) = match parsed {
        Parsed::OtherBot => ("ignored", None),
        Parsed::Text if !private => ("ignored", None),
        // A stranger is told at most once an hour, whatever it sends (/chatid too: the
        // refusal names the chat's id).
        _ if !allowed => {
            if ctx.shared.access.refusal_due(chat) {
                tracing::info!(bot = %ctx.username, chat, "chat not in UPBOT_ALLOWED_CHATS; told how to allow it");
                (
                    "refused_told",
                    Some(Answer::text(thread, format::not_allowed(lang, chat))),
                )
            } else {
                ("refused_quiet", None)
            }
        }
        Parsed::Text => (
            "answered",
            Some(Answer::text(thread, tr!(lang, "send-help", cmd = style.cmd("help")))),
        ),
        Parsed::Unknown(word) => (
            "answered",
            Some(Answer::text(thread, format::unknown_command(&word, &style))),
        ),
        Parsed::Command(Cmd::Chatid) => (
            "answered",
            Some(Answer::text(thread, format::chat_id(lang, chat, thread))),
        ),
        Parsed::Command(cmd) => {
            let mut a = ctx.run(&bot, &msg, cmd, &style, thread).await;
            if !private && private::carries_secret(text) {
                // (After a /lang the side lines still speak the language before it.)
                a.delete = Some(SideJob {
                    what: msg.id.0,
                    done: private::secret_deleted(lang),
                    failed: private::secret_kept(lang),
                });
            }
            ("command", Some(a))
        }
    };
    ctx.shared.service.metrics().telegram_update(outcome);
    if let Some(a) = answer {
        // Queued, never awaited: the chat's worker sends it when the chat's pace allows.
        ctx.courier.answer(chat, a);
    }
    Ok(())
}

impl BotCtx {
    /// Runs one allowed command and returns the answer.
    async fn run(&self, bot: &Bot, msg: &Message, cmd: Cmd, style: &Style, thread: Option<i32>) -> Answer {
        let chat = msg.chat.id.0;
        let modifies = commands::modifies(&cmd);
        let name = commands::name(&cmd);
        let text = |html: String| Answer::text(thread, html);
        if modifies {
            let age_s = (now_ms() / 1000) as i64 - msg.date.timestamp();
            if age_s > STALE_AFTER.as_secs() as i64 {
                tracing::info!(bot = %self.username, chat, command = name, age_s, "stale command ignored");
                return text(format::stale(
                    style.lang,
                    name,
                    Duration::from_secs(age_s.unsigned_abs()),
                ));
            }
        }
        let action = match commands::action(cmd) {
            Ok(a) => a,
            Err(e) => return text(format::error(&e, style.lang)),
        };
        match action {
            Action::Help { greeting } => text(format::help(style, greeting)),
            Action::ChatId => text(format::chat_id(style.lang, chat, thread)),
            Action::Usage(n) => text(format::usage_selector(n, style)),
            Action::Core(mut c) => {
                let can_modify = modifies && access::can_modify(bot, msg).await;
                let by = sender_name(msg);
                match &mut c {
                    Command::Ack(r) => r.by = Some(by),
                    Command::Mute(r) => r.by = Some(by),
                    _ => {}
                }
                let caller = Caller::Chat {
                    chat_id: chat,
                    bot: self.username.clone(),
                    thread_id: thread,
                    can_modify,
                };
                match self.shared.service.execute(&caller, c).await {
                    Ok(r) => self.answer_for(bot, msg, &r, style, can_modify, thread).await,
                    Err(e) => {
                        tracing::debug!(bot = %self.username, chat, command = name, error = %e, "command refused");
                        text(format::error(&e, style.lang))
                    }
                }
            }
        }
    }

    /// The answer to a successful command. Push URLs are shown only in a private chat:
    /// in a group they go to the admin who asked, privately, and the group is told.
    async fn answer_for(
        &self,
        bot: &Bot,
        msg: &Message,
        r: &Reply,
        style: &Style,
        is_admin: bool,
        thread: Option<i32>,
    ) -> Answer {
        if let Reply::Graph(g) = r {
            return Answer::photo(thread, g.png.as_slice().into(), format::reply(r, style, now_ms()));
        }
        let Some(view) = private::urls_in(r).filter(|_| !msg.chat.is_private()) else {
            return Answer::text(thread, format::reply(r, style, now_ms()));
        };
        let mut a = Answer::text(thread, format::reply(&private::without_urls(r), style, now_ms()));
        let id = view.id.0;
        let anonymous = msg.sender_chat.as_ref().is_some_and(|c| c.id == msg.chat.id);
        let user = msg.from.as_ref().filter(|u| !u.is_bot).map(|u| u.id.0);
        if !(is_admin || access::can_modify(bot, msg).await) {
            a.html = format!("{}\n{}", a.html, private::admins_only(style.lang));
            return a;
        }
        match user {
            Some(user) if !anonymous => {
                // The private message is read in the admin's own chat with the bot: in
                // its language (set there, else their app's), not the group's.
                let lang = (self.shared.service.chat_lang(user as i64))
                    .or_else(|| sender_lang(msg.from.as_ref()))
                    .unwrap_or_default();
                let theirs = style.clone().in_lang(lang);
                let your_group = tr!(lang, "your-group");
                let group = msg.chat.title().unwrap_or(&your_group);
                a.private = Some(SideJob {
                    what: Private {
                        user: user as i64,
                        html: private::urls_message(view, group, &theirs),
                    },
                    done: private::sent_privately(style.lang),
                    failed: private::cannot_message(&self.username, style, id),
                });
            }
            _ => a.html = format!("{}\n{}", a.html, private::anonymous(style, id)),
        }
        a
    }
}

/// How a person is named in "acked by …": `Ann Lee (@ann)`.
pub fn person(u: &User) -> String {
    let mut name = u.first_name.clone();
    if let Some(l) = &u.last_name {
        name.push(' ');
        name.push_str(l);
    }
    match &u.username {
        Some(n) => format!("{name} (@{n})"),
        None => name,
    }
}

/// The language a Telegram user's app is set to, when upbot speaks it.
fn sender_lang(u: Option<&User>) -> Option<Lang> {
    u.and_then(|u| u.language_code.as_deref()).and_then(Lang::parse)
}

/// The sender of a chat command, by name (an anonymous admin is "an admin"; these
/// words are stored in English and shown in the chat's language).
fn sender_name(msg: &Message) -> String {
    if msg.sender_chat.as_ref().is_some_and(|c| c.id == msg.chat.id) {
        return "an admin".into();
    }
    msg.from.as_ref().map_or_else(|| "someone".into(), person)
}

/// A press on a button under an alert: the same command a typed one would run, with
/// the same permission rule (ack: anyone; mute, pause: admins in groups). Every press
/// is answered (`answerCallbackQuery`; a refusal as an alert box with its reason);
/// a press that worked edits the alert to say who did what and drops that button.
async fn on_button(bot: Bot, q: CallbackQuery, ctx: Arc<BotCtx>) -> HandlerResult {
    let answer = |text: String, alert: bool| {
        let (bot, id, username) = (bot.clone(), q.id.0.clone(), ctx.username.clone());
        tokio::spawn(async move {
            if let Err(e) = super::api::answer_callback(&bot, &id, &text, alert).await {
                tracing::info!(bot = %username, error = %e, "answering a button press failed");
            }
        });
    };
    let data = q.data.clone().unwrap_or_default();
    let lang = q
        .message
        .as_ref()
        .and_then(|m| ctx.shared.service.chat_lang(m.chat().id.0))
        .or_else(|| sender_lang(Some(&q.from)))
        .unwrap_or_default();
    let (Some(press), Some(msg)) = (buttons::decode(&data), q.message.as_ref()) else {
        answer(tr!(lang, "button-stale"), true);
        return Ok(());
    };
    let chat = msg.chat().id.0;
    if !ctx.shared.access.is_allowed(chat) {
        answer(format::strip_html(&format::not_allowed(lang, chat)), true);
        return Ok(());
    }
    let regular = msg.regular_message();
    let thread = regular.and_then(topic);
    let can_modify = press.modifies() && access::user_can_modify(&bot, chat, q.from.id.0).await;
    let caller = Caller::Chat {
        chat_id: chat,
        bot: ctx.username.clone(),
        thread_id: thread,
        can_modify,
    };
    let by = person(&q.from);
    let id = press.monitor();
    let cmd = match press {
        Press::Ack(_) => Command::Ack(AckRequest {
            id: id.0,
            reason: None,
            by: Some(by.clone()),
        }),
        Press::Mute(_, d) => Command::Mute(MuteRequest {
            id: Scope::Id(id.0),
            duration: Some(d),
            reason: None,
            chat_id: None,
            by: Some(by.clone()),
        }),
        Press::Pause(_) => Command::Pause(Selector::Id(id)),
    };
    ctx.shared.service.metrics().telegram_update("command");
    let style = Style::new(&ctx.username, msg.chat().is_private()).in_lang(lang);
    match ctx.shared.service.execute(&caller, cmd).await {
        Ok(r) => {
            let (toast, line) = format::pressed(&r, &by, &style, now_ms());
            answer(toast, false);
            tracing::info!(bot = %ctx.username, chat, monitor = %id, press = %data, "button pressed");
            if let Some(m) = regular {
                let html = m
                    .html_text()
                    .unwrap_or_else(|| format::esc(m.text().unwrap_or_default()));
                let markup = buttons::without(m.reply_markup(), &data);
                let edit = Answer {
                    edit: Some((m.id.0, markup)),
                    ..Answer::text(thread, format!("{html}\n{line}"))
                };
                ctx.courier.answer(chat, edit);
            }
        }
        Err(e) => {
            tracing::debug!(bot = %ctx.username, chat, monitor = %id, error = %e, "button press refused");
            answer(format::strip_html(&format::error(&e, lang)), true);
        }
    }
    Ok(())
}

async fn on_migration(msg: Message, new: ChatId, ctx: Arc<BotCtx>) -> HandlerResult {
    if let Err(e) = ctx.shared.chat_migrated(&ctx.username, msg.chat.id.0, new.0).await {
        tracing::error!(bot = %ctx.username, chat = msg.chat.id.0, new = new.0, error = %e, "moving a migrated chat failed");
    }
    Ok(())
}

async fn on_my_chat_member(upd: ChatMemberUpdated, me: Me, ctx: Arc<BotCtx>) -> HandlerResult {
    if upd.new_chat_member.user.id != me.id {
        return Ok(());
    }
    let chat = upd.chat.id.0;
    let gone = matches!(
        upd.new_chat_member.kind,
        ChatMemberKind::Left | ChatMemberKind::Banned(_)
    );
    let was_out = matches!(
        upd.old_chat_member.kind,
        ChatMemberKind::Left | ChatMemberKind::Banned(_)
    );
    if gone {
        let why = format!("bot was removed from the chat by user {}", upd.from.id);
        if let Err(e) = ctx.shared.chat_gone(&ctx.username, chat, &why).await {
            tracing::error!(bot = %ctx.username, chat, error = %e, "pausing a lost chat failed");
        }
    } else if was_out && !upd.chat.is_private() && !upd.chat.is_channel() {
        tracing::info!(bot = %ctx.username, chat, "bot added to a group");
        // Not decided here: the chat's first command decides; meanwhile, the adder's.
        let lang = ctx
            .shared
            .service
            .chat_lang(chat)
            .or_else(|| sender_lang(Some(&upd.from)))
            .unwrap_or_default();
        let style = Style::new(me.username(), false).in_lang(lang);
        let text = if ctx.shared.access.is_allowed(chat) {
            Some(format::help(&style, true))
        } else if ctx.shared.access.refusal_due(chat) {
            Some(format::not_allowed(lang, chat))
        } else {
            None
        };
        if let Some(t) = text {
            ctx.courier.answer(chat, Answer::text(None, t));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AllowedChats;
    use crate::core::Service;
    use crate::events::EventBus;
    use crate::scheduler::Scheduler;
    use crate::store::Store;

    /// dptree checks the handler graph against the dependencies only at build time
    /// (it panics on a missing one): build the real schema with the real dependencies.
    #[tokio::test]
    async fn schema_builds_with_real_dependencies() {
        let store = Store::temporary().unwrap();
        let events = EventBus::new();
        let metrics = crate::metrics::Metrics::new();
        let scheduler = Scheduler::start(store.clone(), events.clone(), metrics.clone(), Default::default()).unwrap();
        let push = crate::push::Push::start(store.clone(), events.clone(), metrics.clone(), Default::default());
        let service = Service::start(store.clone(), scheduler, push, events, metrics, "http://127.0.0.1:8766").unwrap();
        let shared = Arc::new(Shared {
            access: super::super::access::Access::new(AllowedChats::Any, store.allow_list()),
            outbox: store.outbox_handle(),
            service,
        });
        let bot = Bot::new("123456:TEST").set_api_url("http://127.0.0.1:9".parse().unwrap());
        let courier = Courier::new(
            bot.clone(),
            "mon_bot".into(),
            shared.clone(),
            super::super::pace::Limits::TELEGRAM,
            tokio_util::sync::CancellationToken::new(),
        );
        let ctx = Arc::new(BotCtx {
            shared,
            username: "mon_bot".into(),
            courier,
        });
        let mut dp = dispatcher(bot, ctx);
        // Not started: a shutdown request is refused, which the stop path retries.
        assert!(dp.shutdown_token().shutdown().is_err());
        let _ = &mut dp;
    }
}
