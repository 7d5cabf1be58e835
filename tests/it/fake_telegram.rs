//! An in-process fake Bot API (axum on 127.0.0.1:0) that the real bots talk to through
//! `UPBOT_TELEGRAM_API_URL`: several bots by token, long-poll `getUpdates`, the methods
//! upbot calls (inline keyboards and `disable_notification` on `sendMessage`,
//! `editMessageText` of a message it sent, `answerCallbackQuery`), button presses
//! (`callback_query` updates from a chosen user), fault injection per method and chat,
//! and awaitable records of every call (`setMyCommands` with its `language_code`:
//! [`FakeTelegram::menus`]). teloxide sends PascalCase method names; they
//! are matched case-insensitively.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::helpers::WAIT;

/// Telegram's GroupAnonymousBot: `from` of messages by anonymous admins.
pub const ANONYMOUS_ADMIN: u64 = 1087968824;

/// One recorded API call.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub token: String,
    pub method: String,
    pub body: Value,
    /// Whether the fake answered `ok: true`.
    pub ok: bool,
    /// The uploaded photo of a multipart `sendPhoto` (its text fields are in `body`).
    pub photo: Option<Vec<u8>>,
    /// The `message_id` a `sendMessage` got.
    pub message_id: Option<i64>,
}

/// A delivered `sendMessage`.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Instant,
    pub token: String,
    pub chat: i64,
    pub text: String,
    pub thread: Option<i64>,
    pub parse_mode: Option<String>,
    /// Sent with `disable_notification` (no sound).
    pub silent: bool,
    /// Its inline keyboard (`reply_markup`), if any.
    pub markup: Option<Value>,
    /// The id the fake gave it.
    pub message_id: i64,
}

/// A message as the chat shows it now (after edits).
#[derive(Debug, Clone)]
pub struct Shown {
    pub text: String,
    pub markup: Option<Value>,
    pub thread: Option<i64>,
}

/// What an injected fault answers.
#[derive(Debug, Clone)]
pub enum FaultReply {
    /// 429 with `retry_after`.
    RetryAfter(u32),
    /// 500 Internal Server Error.
    ServerError,
    /// 403 bot kicked from the supergroup.
    Kicked,
    /// 400 chat not found.
    ChatNotFound,
    /// 400 upgraded to a supergroup with this id.
    Migrate(i64),
}

/// A fault: answers matching calls instead of the normal result.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Lower-case method name (`sendmessage`).
    pub method: &'static str,
    /// Only calls for this `chat_id`.
    pub chat: Option<i64>,
    /// How many calls it hits (`None`: until cleared).
    pub times: Option<u32>,
    pub reply: FaultReply,
}

struct FakeBot {
    id: u64,
    username: String,
    updates: VecDeque<Value>,
    next_update: i64,
}

#[derive(Default)]
struct Inner {
    bots: HashMap<String, FakeBot>,
    next_message: i64,
    /// (chat, user) → status; everyone else is a "member".
    members: HashMap<(i64, u64), String>,
    missing_chats: HashSet<i64>,
    /// Users who never pressed Start: the bot cannot message them.
    never_started: HashSet<i64>,
    faults: Vec<Fault>,
    calls: Vec<Call>,
    /// Messages the bots sent, as they are now: (chat, message id) → text, keyboard.
    messages: HashMap<(i64, i64), Shown>,
    next_callback: u64,
}

struct FakeState {
    inner: Mutex<Inner>,
    /// Woken on every call and every queued update.
    changed: Notify,
}

/// The fake server; stops when dropped.
pub struct FakeTelegram {
    pub url: String,
    state: Arc<FakeState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Chat JSON with a type that matches the id's range.
pub fn chat(id: i64) -> Value {
    if id > 0 {
        json!({"id": id, "type": "private", "first_name": "U"})
    } else if id <= -1_000_000_000_001 {
        json!({"id": id, "type": "supergroup", "title": "ops"})
    } else {
        json!({"id": id, "type": "group", "title": "ops"})
    }
}

/// A forum supergroup.
pub fn forum(id: i64) -> Value {
    json!({"id": id, "type": "supergroup", "title": "forum", "is_forum": true})
}

/// A human user.
pub fn user(id: u64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": format!("user{id}")})
}

/// A human user whose Telegram app is set to `language_code` (`pt-BR`, `ru`, …).
pub fn user_in(id: u64, language_code: &str) -> Value {
    json!({"id": id, "is_bot": false, "first_name": format!("user{id}"), "language_code": language_code})
}

/// One `setMyCommands` call: its `language_code` (`None`: the default menu) and the
/// (command, description) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    pub token: String,
    pub language_code: Option<String>,
    pub commands: Vec<(String, String)>,
}

fn member_json(user_id: u64, status: &str) -> Value {
    let u = json!({"id": user_id, "is_bot": false, "first_name": "M"});
    match status {
        "creator" => json!({"user": u, "status": "creator", "is_anonymous": false}),
        "administrator" => json!({"user": u, "status": "administrator", "is_anonymous": false,
            "can_be_edited": false, "can_manage_chat": true, "can_change_info": true,
            "can_delete_messages": true, "can_manage_video_chats": true, "can_invite_users": true,
            "can_restrict_members": true, "can_promote_members": false}),
        "kicked" => json!({"user": u, "status": "kicked", "until_date": 0}),
        "left" => json!({"user": u, "status": "left"}),
        _ => json!({"user": u, "status": "member"}),
    }
}

fn err(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

impl FakeTelegram {
    /// Starts the fake on 127.0.0.1:0.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener)
    }

    /// Starts the fake on a given listener (tests of a Bot API that comes back).
    pub fn serve(listener: tokio::net::TcpListener) -> Self {
        let state = Arc::new(FakeState {
            inner: Mutex::new(Inner {
                next_message: 1000,
                ..Inner::default()
            }),
            changed: Notify::new(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", post(api))
            .with_state(state.clone());
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state, server }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let r = f(&mut self.state.inner.lock().unwrap());
        self.state.changed.notify_waiters();
        r
    }

    /// Registers a bot token (any other token gets 401 Unauthorized).
    pub fn add_bot(&self, token: &str, id: u64, username: &str) {
        self.with(|i| {
            i.bots.insert(
                token.to_string(),
                FakeBot {
                    id,
                    username: username.to_string(),
                    updates: VecDeque::new(),
                    next_update: 1,
                },
            )
        });
    }

    /// Sets a member's status in a chat (`creator`, `administrator`, `member`, `left`, `kicked`).
    pub fn set_member(&self, chat: i64, user: u64, status: &str) {
        self.with(|i| i.members.insert((chat, user), status.to_string()));
    }

    /// Makes a chat unknown to the API (`chat not found`).
    pub fn remove_chat(&self, chat: i64) {
        self.with(|i| i.missing_chats.insert(chat));
    }

    /// Injects a fault.
    pub fn fault(&self, f: Fault) {
        self.with(|i| i.faults.push(f));
    }

    /// Answers the next calls of `method` for `chat` with `replies`, one each, in order
    /// (then normally again).
    pub fn fail_next(&self, method: &'static str, chat: i64, replies: &[FaultReply]) {
        for r in replies {
            self.fault(Fault {
                method,
                chat: Some(chat),
                times: Some(1),
                reply: r.clone(),
            });
        }
    }

    /// The user never started the bot: messages to their private chat are refused
    /// (403 "bot can't initiate conversation with a user").
    pub fn never_started(&self, user: i64) {
        self.with(|i| i.never_started.insert(user));
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.with(|i| i.faults.clear());
    }

    /// Queues a raw update body (without `update_id`) for a bot; returns its id.
    pub fn push_update(&self, token: &str, mut update: Value) -> i64 {
        self.with(|i| {
            let b = i.bots.get_mut(token).expect("known bot");
            let id = b.next_update;
            b.next_update += 1;
            update["update_id"] = json!(id);
            b.updates.push_back(update);
            id
        })
    }

    /// Queues a message (fields merged over a default one from `from` in `chat`).
    pub fn push_message(&self, token: &str, chat: Value, from: Value, text: &str, extra: Value) -> i64 {
        self.push_message_ids(token, chat, from, text, extra).0
    }

    /// A user sends `text` in `chat_id`; returns the message's `message_id`.
    pub fn say_message(&self, token: &str, chat_id: i64, from: u64, text: &str) -> i64 {
        self.push_message_ids(token, chat(chat_id), user(from), text, json!({}))
            .1
    }

    /// Queues a message; returns (update id, message id).
    fn push_message_ids(&self, token: &str, chat: Value, from: Value, text: &str, extra: Value) -> (i64, i64) {
        let mid = self.with(|i| {
            i.next_message += 1;
            i.next_message
        });
        let mut msg = json!({"message_id": mid, "date": now_unix(), "chat": chat, "from": from, "text": text});
        if let (Some(m), Some(e)) = (msg.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                m.insert(k.clone(), v.clone());
            }
        }
        (self.push_update(token, json!({ "message": msg })), mid)
    }

    /// A user sends `text` in `chat_id`.
    pub fn say(&self, token: &str, chat_id: i64, from: u64, text: &str) -> i64 {
        self.push_message(token, chat(chat_id), user(from), text, json!({}))
    }

    /// `user` presses the button with `data` under message `message_id` of `chat`
    /// (a `callback_query` update carrying the message as the chat shows it now).
    /// Returns the callback query's id.
    pub fn press(&self, token: &str, chat_id: i64, user_id: u64, message_id: i64, data: &str) -> String {
        let (qid, msg) = self.with(|i| {
            i.next_callback += 1;
            let shown = i.messages.get(&(chat_id, message_id)).cloned();
            let bot = i.bots.get(token).map(|b| (b.id, b.username.clone()));
            (format!("cq{}", i.next_callback), (shown, bot))
        });
        let (shown, bot) = msg;
        let shown = shown.expect("pressing a button under a message the bot sent");
        let (bot_id, bot_name) = bot.expect("known bot");
        let mut m = json!({"message_id": message_id, "date": now_unix(), "chat": chat(chat_id),
            "from": {"id": bot_id, "is_bot": true, "first_name": "Monitor", "username": bot_name},
            "text": shown.text});
        if let Some(k) = shown.markup {
            m["reply_markup"] = k;
        }
        if let Some(t) = shown.thread {
            m["message_thread_id"] = json!(t);
            m["is_topic_message"] = json!(true);
        }
        let from = json!({"id": user_id, "is_bot": false, "first_name": format!("user{user_id}"),
            "username": format!("user{user_id}")});
        self.push_update(
            token,
            json!({"callback_query": {"id": qid, "from": from, "chat_instance": "ci1", "data": data, "message": m}}),
        );
        qid
    }

    /// The message as chat `chat_id` shows it now (text and keyboard after edits).
    pub fn shown(&self, chat_id: i64, message_id: i64) -> Option<Shown> {
        self.state
            .inner
            .lock()
            .unwrap()
            .messages
            .get(&(chat_id, message_id))
            .cloned()
    }

    /// Waits for the answer to callback query `qid` (`answerCallbackQuery`): its text
    /// and whether it was an alert box.
    pub async fn wait_callback_answer(&self, qid: &str) -> (String, bool) {
        let mut cond = |calls: &[Call]| {
            calls
                .iter()
                .find(|c| c.method == "answercallbackquery" && c.body["callback_query_id"] == qid)
                .map(|c| {
                    (
                        c.body["text"].as_str().unwrap_or_default().to_string(),
                        c.body["show_alert"].as_bool().unwrap_or(false),
                    )
                })
        };
        self.wait_until_for(WAIT, &format!("the answer to {qid}"), &mut cond)
            .await
    }

    /// Waits until message `message_id` of `chat_id` is shown with a text satisfying `pred`.
    pub async fn wait_shown(&self, chat_id: i64, message_id: i64, pred: impl Fn(&Shown) -> bool) -> Shown {
        let state = self.state.clone();
        let mut cond = |_: &[Call]| {
            let i = state.inner.lock().unwrap();
            i.messages.get(&(chat_id, message_id)).filter(|m| pred(m)).cloned()
        };
        self.wait_until_for(WAIT, &format!("message {message_id} of {chat_id} edited"), &mut cond)
            .await
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.inner.lock().unwrap().calls.clone()
    }

    /// Delivered messages to `chat`, in order.
    /// Every `setMyCommands` call, with the `language_code` it named.
    pub fn menus(&self) -> Vec<Menu> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "setmycommands")
            .map(|c| Menu {
                token: c.token.clone(),
                language_code: c.body["language_code"].as_str().map(String::from),
                commands: c.body["commands"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| {
                        (
                            x["command"].as_str().unwrap_or_default().to_string(),
                            x["description"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            })
            .collect()
    }

    pub fn sent(&self, chat: i64) -> Vec<Sent> {
        sent_from(&self.calls(), chat)
    }

    /// Waits (bounded by [`WAIT`]) until `cond` holds over the recorded calls.
    pub async fn wait_until<T>(&self, what: &str, mut cond: impl FnMut(&[Call]) -> Option<T>) -> T {
        self.wait_until_for(WAIT, what, &mut cond).await
    }

    /// Like [`wait_until`](Self::wait_until) with an explicit bound.
    pub async fn wait_until_for<T>(
        &self,
        bound: Duration,
        what: &str,
        cond: &mut impl FnMut(&[Call]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + bound;
        loop {
            let notified = self.state.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let calls = self.calls();
            if let Some(v) = cond(&calls) {
                return v;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let calls = self.calls();
                let tail: Vec<String> = calls
                    .iter()
                    .rev()
                    .take(15)
                    .map(|c| format!("{} {} ok={}", c.method, c.body, c.ok))
                    .collect();
                panic!(
                    "timed out after {bound:?} waiting for {what}; last calls:\n{}",
                    tail.join("\n")
                );
            }
        }
    }

    /// Waits for a delivered message to `chat` whose text satisfies `pred`; the hook
    /// end-to-end tests use ("wait until the chat is told DOWN").
    pub async fn wait_for_message(&self, chat: i64, pred: impl Fn(&Sent) -> bool) -> Sent {
        self.wait_for_message_within(WAIT, chat, pred).await
    }

    /// Like [`wait_for_message`](Self::wait_for_message) with an explicit bound.
    pub async fn wait_for_message_within(&self, bound: Duration, chat: i64, pred: impl Fn(&Sent) -> bool) -> Sent {
        let mut cond = |calls: &[Call]| sent_from(calls, chat).into_iter().find(|s| pred(s));
        self.wait_until_for(bound, &format!("a message to {chat}"), &mut cond)
            .await
    }

    /// Waits for the `n`-th (1-based) delivered message to `chat`.
    pub async fn wait_for_nth(&self, chat: i64, n: usize) -> Vec<Sent> {
        let mut cond = |calls: &[Call]| {
            let s = sent_from(calls, chat);
            (s.len() >= n).then_some(s)
        };
        self.wait_until_for(WAIT, &format!("{n} messages to {chat}"), &mut cond)
            .await
    }
}

/// Delivered messages to `chat` among `calls`, in order.
pub fn sent_from(calls: &[Call], chat: i64) -> Vec<Sent> {
    calls
        .iter()
        .filter(|c| c.ok && c.method == "sendmessage" && c.body["chat_id"].as_i64() == Some(chat))
        .map(|c| Sent {
            at: c.at,
            token: c.token.clone(),
            chat,
            text: c.body["text"].as_str().unwrap_or_default().to_string(),
            thread: c.body["message_thread_id"].as_i64(),
            parse_mode: c.body["parse_mode"].as_str().map(String::from),
            silent: c.body["disable_notification"].as_bool().unwrap_or(false),
            markup: c.body.get("reply_markup").cloned(),
            message_id: c.message_id.unwrap_or(0),
        })
        .collect()
}

/// A multipart form as JSON (text fields; numbers as numbers) plus the `photo` file.
async fn read_form(mut form: axum::extract::Multipart) -> (Value, Option<Vec<u8>>) {
    let mut body = json!({});
    let mut photo = None;
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        if field.file_name().is_some() {
            body[format!("{name}_content_type")] = json!(field.content_type());
            body[format!("{name}_file_name")] = json!(field.file_name());
            photo = field.bytes().await.ok().map(|b| b.to_vec());
            continue;
        }
        let text = field.text().await.unwrap_or_default();
        body[name] = text.parse::<i64>().map_or_else(|_| json!(text), |n| json!(n));
    }
    (body, photo)
}

async fn api(
    State(st): State<Arc<FakeState>>,
    Path((bot, method)): Path<(String, String)>,
    req: axum::extract::Request,
) -> Response {
    use axum::extract::FromRequest;
    let multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (body, photo) = if multipart {
        match axum::extract::Multipart::from_request(req, &()).await {
            Ok(form) => read_form(form).await,
            Err(_) => (json!({}), None),
        }
    } else {
        let bytes = Bytes::from_request(req, &()).await.unwrap_or_default();
        (serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({})), None)
    };
    let method = method.to_ascii_lowercase();
    let token = bot.strip_prefix("bot").unwrap_or(&bot).to_string();
    let (resp, message_id) = answer(&st, &token, &method, &body).await;
    let ok = resp.status().is_success();
    st.inner.lock().unwrap().calls.push(Call {
        at: Instant::now(),
        token,
        method,
        body,
        ok,
        photo,
        message_id,
    });
    st.changed.notify_waiters();
    resp
}

/// The answer, and the `message_id` it gave a sent message (read back from the answer).
async fn answer(st: &FakeState, token: &str, method: &str, body: &Value) -> (Response, Option<i64>) {
    let r = answer_call(st, token, method, body).await;
    if method != "sendmessage" || !r.status().is_success() {
        return (r, None);
    }
    let (parts, b) = r.into_parts();
    let bytes = axum::body::to_bytes(b, usize::MAX).await.unwrap_or_default();
    let id = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["result"]["message_id"].as_i64());
    (Response::from_parts(parts, axum::body::Body::from(bytes)), id)
}

async fn answer_call(st: &FakeState, token: &str, method: &str, body: &Value) -> Response {
    let chat_id = body["chat_id"].as_i64();
    {
        let mut i = st.inner.lock().unwrap();
        let Some(bot) = i.bots.get(token) else {
            return err(401, "Unauthorized", None);
        };
        let (bot_id, username) = (bot.id, bot.username.clone());
        let hit = i
            .faults
            .iter_mut()
            .find(|f| f.method == method && (f.chat.is_none() || f.chat == chat_id) && f.times.is_none_or(|n| n > 0));
        if let Some(f) = hit {
            if let Some(n) = f.times.as_mut() {
                *n -= 1;
            }
            return match f.reply {
                FaultReply::RetryAfter(s) => err(
                    429,
                    &format!("Too Many Requests: retry after {s}"),
                    Some(json!({"retry_after": s})),
                ),
                FaultReply::ServerError => err(500, "Internal Server Error", None),
                FaultReply::Kicked => err(403, "Forbidden: bot was kicked from the supergroup chat", None),
                FaultReply::ChatNotFound => err(400, "Bad Request: chat not found", None),
                FaultReply::Migrate(new) => err(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    Some(json!({"migrate_to_chat_id": new})),
                ),
            };
        }
        if chat_id.is_some_and(|c| i.missing_chats.contains(&c)) {
            return err(400, "Bad Request: chat not found", None);
        }
        if chat_id.is_some_and(|c| i.never_started.contains(&c)) && matches!(method, "sendmessage" | "sendchataction") {
            return err(403, "Forbidden: bot can't initiate conversation with a user", None);
        }
        match method {
            "getme" => {
                return ok(
                    json!({"id": bot_id, "is_bot": true, "first_name": "Monitor", "username": username,
                    "can_join_groups": true, "can_read_all_group_messages": false,
                    "supports_inline_queries": false, "has_main_web_app": false}),
                );
            }
            "getwebhookinfo" => {
                return ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}));
            }
            "deletewebhook" | "setmycommands" | "sendchataction" => return ok(json!(true)),
            "getchatmember" => {
                let (c, u) = (chat_id.unwrap_or(0), body["user_id"].as_u64().unwrap_or(0));
                let status = i.members.get(&(c, u)).cloned().unwrap_or_else(|| "member".into());
                return ok(member_json(u, &status));
            }
            "deletemessage" => {
                // Only an admin bot may delete other members' messages in a group.
                let c = chat_id.unwrap_or(0);
                let rights = i.members.get(&(c, bot_id)).map(String::as_str);
                return if c > 0 || matches!(rights, Some("administrator" | "creator")) {
                    ok(json!(true))
                } else {
                    err(400, "Bad Request: message can't be deleted for everyone", None)
                };
            }
            "sendmessage" => {
                i.next_message += 1;
                let c = chat_id.unwrap_or(0);
                let mut m = json!({"message_id": i.next_message, "date": now_unix(), "chat": chat(c),
                    "text": body["text"]});
                if let Some(t) = body["message_thread_id"].as_i64() {
                    m["message_thread_id"] = json!(t);
                    m["is_topic_message"] = json!(true);
                }
                let shown = Shown {
                    text: body["text"].as_str().unwrap_or_default().to_string(),
                    markup: body.get("reply_markup").cloned(),
                    thread: body["message_thread_id"].as_i64(),
                };
                let id = i.next_message;
                i.messages.insert((c, id), shown);
                return ok(m);
            }
            "sendphoto" => {
                i.next_message += 1;
                let c = chat_id.unwrap_or(0);
                let m = json!({"message_id": i.next_message, "date": now_unix(), "chat": chat(c),
                    "photo": [{"file_id": "f", "file_unique_id": "u", "width": 960, "height": 480}],
                    "caption": body["caption"]});
                return ok(m);
            }
            "editmessagetext" => {
                let key = (chat_id.unwrap_or(0), body["message_id"].as_i64().unwrap_or(0));
                let Some(shown) = i.messages.get_mut(&key) else {
                    return err(400, "Bad Request: message to edit not found", None);
                };
                let text = body["text"].as_str().unwrap_or_default().to_string();
                let markup = body.get("reply_markup").cloned();
                if shown.text == text && shown.markup == markup {
                    return err(
                        400,
                        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                        None,
                    );
                }
                shown.text = text;
                shown.markup = markup.filter(|m| m["inline_keyboard"].as_array().is_some_and(|r| !r.is_empty()));
                return ok(json!({"message_id": key.1, "date": now_unix(), "chat": chat(key.0), "text": shown.text}));
            }
            "answercallbackquery" => return ok(json!(true)),
            "getupdates" => {}
            other => return err(400, &format!("Bad Request: fake does not implement {other}"), None),
        }
    }
    // Long poll: answer as soon as updates exist, or after min(timeout, 2 s).
    let offset = body["offset"].as_i64().unwrap_or(0);
    let limit = body["limit"].as_u64().unwrap_or(100) as usize;
    let wait = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0).min(2));
    let deadline = Instant::now() + wait;
    loop {
        let notified = st.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut i = st.inner.lock().unwrap();
            let Some(b) = i.bots.get_mut(token) else {
                return err(401, "Unauthorized", None);
            };
            if offset > 0 {
                b.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            }
            if !b.updates.is_empty() {
                let out: Vec<Value> = b.updates.iter().take(limit).cloned().collect();
                return ok(Value::Array(out));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}
