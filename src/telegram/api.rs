//! The Bot API calls upbot makes outside teloxide's dispatcher (sending, deleting,
//! membership checks), and what their failures mean ([`Verdict`]).
//!
//! They go over the bot's own HTTP client but not through teloxide's request layer,
//! because that layer sleeps 10 s after any 5xx before it even reports the error (and
//! does not retry): one 500 made a DOWN alert 10 s late. Here a 5xx is reported at
//! once and the caller's back-off decides ([`super::pace::retry_delay`]). The token is
//! part of the URL, so transport errors are stripped of it (`without_url`) before they
//! are kept or logged.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;

/// Longest a send or check may take (teloxide's client allows 17 s; a send that hangs
/// that long is better retried).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call failed, as far as the answer tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No usable answer: network error, timeout, 5xx, a body that is not the Bot API's.
    Transport(String),
    /// 429: wait this long.
    RetryAfter(Duration),
    /// The group became a supergroup with this id.
    Migrated(i64),
    /// The Bot API refused, with this error.
    Api(ApiError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "Bot API unreachable: {e}"),
            Self::RetryAfter(d) => write!(f, "Too Many Requests: retry after {}s", d.as_secs()),
            Self::Migrated(to) => write!(f, "group upgraded to supergroup {to}"),
            Self::Api(e) => write!(f, "{e}"),
        }
    }
}

impl From<&RequestError> for Failure {
    fn from(e: &RequestError) -> Self {
        match e {
            RequestError::MigrateToChatId(c) => Self::Migrated(c.0),
            RequestError::RetryAfter(s) => Self::RetryAfter(s.duration()),
            RequestError::Api(a) => Self::Api(a.clone()),
            // teloxide already strips the token from these.
            other => Self::Transport(other.to_string()),
        }
    }
}

/// What to do after a failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it and try again: after `Some(d)` (Telegram said so) or after back-off.
    Retry(Option<Duration>),
    /// The group became a supergroup with this id: move the chat, resend there.
    Migrated(i64),
    /// The bot can no longer post in this chat (kicked, blocked, chat gone).
    Gone(String),
    /// The forum topic is gone: resend to the chat's General topic.
    ThreadGone,
    /// Telegram could not parse our HTML: resend as plain text.
    Markup,
    /// Refused for a reason retrying cannot fix (our bug); logged, then dropped.
    Rejected(String),
}

/// A revoked token: keep the alerts (the operator may fix the token), retry slowly.
const REVOKED_RETRY: Duration = Duration::from_secs(60);

/// Classifies a failure (many 403s arrive as `Unknown("Forbidden: …")`, so texts are
/// checked too).
pub fn classify(f: &Failure) -> Verdict {
    let api = match f {
        Failure::Transport(_) => return Verdict::Retry(None),
        Failure::RetryAfter(d) => return Verdict::Retry(Some(*d)),
        Failure::Migrated(to) => return Verdict::Migrated(*to),
        Failure::Api(a) => a,
    };
    match api {
        ApiError::BotBlocked
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel
        | ApiError::ChatNotFound
        | ApiError::GroupDeactivated
        | ApiError::UserDeactivated
        | ApiError::CantInitiateConversation
        | ApiError::CantTalkWithBots
        | ApiError::NotEnoughRightsToPostMessages => Verdict::Gone(api.to_string()),
        ApiError::CantParseEntities(_) => Verdict::Markup,
        ApiError::InvalidToken => Verdict::Retry(Some(REVOKED_RETRY)),
        ApiError::Unknown(t) if t.starts_with("Forbidden") => Verdict::Gone(t.clone()),
        ApiError::Unknown(t) if t.contains("message thread not found") => Verdict::ThreadGone,
        ApiError::Unknown(t) if t.contains("not enough rights to send text messages") => Verdict::Gone(t.clone()),
        ApiError::Unknown(t)
            if t.starts_with("Too Many Requests")
                || t.contains("Internal Server Error")
                || t.contains("Gateway")
                || t.contains("Service Unavailable") =>
        {
            Verdict::Retry(None)
        }
        other => Verdict::Rejected(other.to_string()),
    }
}

/// Reads a Bot API answer: `{"ok":true,"result":…}` or `{"ok":false,"description":…,
/// "parameters":{…}}`. Any 5xx is a transport failure whatever its body says.
pub fn parse<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, Failure> {
    #[derive(serde::Deserialize)]
    struct Params {
        retry_after: Option<u64>,
        migrate_to_chat_id: Option<i64>,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        ok: bool,
        result: Option<serde_json::Value>,
        description: Option<String>,
        parameters: Option<Params>,
    }
    if status >= 500 {
        return Err(Failure::Transport(format!("HTTP {status}")));
    }
    let a: Answer = serde_json::from_slice(body)
        .map_err(|e| Failure::Transport(format!("HTTP {status}, not a Bot API answer: {e}")))?;
    if a.ok {
        let result = a.result.unwrap_or(serde_json::Value::Null);
        return serde_json::from_value(result).map_err(|e| Failure::Transport(format!("unexpected result shape: {e}")));
    }
    if let Some(p) = a.parameters {
        if let Some(s) = p.retry_after {
            return Err(Failure::RetryAfter(Duration::from_secs(s)));
        }
        if let Some(to) = p.migrate_to_chat_id {
            return Err(Failure::Migrated(to));
        }
    }
    let text = a
        .description
        .unwrap_or_else(|| format!("HTTP {status} without a description"));
    let api = serde_json::from_value(serde_json::Value::String(text.clone())).unwrap_or(ApiError::Unknown(text));
    Err(Failure::Api(api))
}

/// `sendPhoto` with a PNG uploaded as multipart form data (`chart.png`), its caption
/// in HTML parse mode (or plain when `html` is false), into forum topic `thread`.
pub async fn send_photo(
    bot: &Bot,
    chat: i64,
    thread: Option<i32>,
    png: &[u8],
    caption: &str,
    html: bool,
) -> Result<(), Failure> {
    let url = method_url(bot, "sendPhoto")?;
    let photo = reqwest::multipart::Part::bytes(png.to_vec())
        .file_name("chart.png")
        .mime_str("image/png")
        .map_err(|e| Failure::Transport(format!("encoding the photo: {e}")))?;
    let mut form = reqwest::multipart::Form::new()
        .text("chat_id", chat.to_string())
        .text("caption", caption.to_string())
        .part("photo", photo);
    if html {
        form = form.text("parse_mode", "HTML");
    }
    if let Some(t) = thread {
        form = form.text("message_thread_id", t.to_string());
    }
    send(bot.client().post(url).multipart(form))
        .await
        .map(|_: serde_json::Value| ())
}

/// Sends one Bot API request (bounded by [`CALL_TIMEOUT`]) and reads its answer.
async fn send<T: DeserializeOwned>(req: reqwest::RequestBuilder) -> Result<T, Failure> {
    let sent = req.timeout(CALL_TIMEOUT).send().await;
    let resp = sent.map_err(|e| Failure::Transport(e.without_url().to_string()))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| Failure::Transport(e.without_url().to_string()))?;
    parse(status, &bytes)
}

/// The URL of `method` for `bot` (the token is in it: never log it).
fn method_url(bot: &Bot, method: &str) -> Result<reqwest::Url, Failure> {
    let mut url = bot.api_url();
    url.path_segments_mut()
        .map_err(|()| Failure::Transport("the Bot API URL cannot take a path".into()))?
        .pop_if_empty()
        .push(&format!("bot{}", bot.token()))
        .push(method);
    Ok(url)
}

/// Calls `method` with a JSON `payload` and reads its result.
pub async fn call<T: DeserializeOwned>(bot: &Bot, method: &str, payload: &impl Serialize) -> Result<T, Failure> {
    let url = method_url(bot, method)?;
    let body = serde_json::to_vec(payload).map_err(|e| Failure::Transport(format!("encoding the request: {e}")))?;
    send(
        bot.client()
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body),
    )
    .await
}

/// `sendMessage`: `html` in HTML parse mode, or as plain text when `html` is false;
/// into forum topic `thread` when given. Link previews are off: a preview makes
/// Telegram fetch the link, and a fetched heartbeat URL is a heartbeat.
pub async fn send_message(bot: &Bot, chat: i64, thread: Option<i32>, text: &str, html: bool) -> Result<(), Failure> {
    send_message_with(bot, chat, thread, text, html, &Extras::default()).await
}

/// What a message may carry besides its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// Without sound (`disable_notification`).
    pub silent: bool,
    /// Inline keyboard (`reply_markup`).
    pub markup: Option<serde_json::Value>,
}

/// [`send_message`] with [`Extras`].
pub async fn send_message_with(
    bot: &Bot,
    chat: i64,
    thread: Option<i32>,
    text: &str,
    html: bool,
    extras: &Extras,
) -> Result<(), Failure> {
    let mut payload = serde_json::json!({
        "chat_id": chat,
        "text": text,
        "link_preview_options": {"is_disabled": true},
    });
    if html {
        payload["parse_mode"] = "HTML".into();
    }
    if let Some(t) = thread {
        payload["message_thread_id"] = t.into();
    }
    if extras.silent {
        payload["disable_notification"] = true.into();
    }
    if let Some(m) = &extras.markup {
        payload["reply_markup"] = m.clone();
    }
    call::<serde_json::Value>(bot, "sendMessage", &payload)
        .await
        .map(|_| ())
}

/// `editMessageText`: replaces a message's text (and its inline keyboard: none when
/// `markup` is `None`). An edit that changes nothing is not a failure.
pub async fn edit_message(
    bot: &Bot,
    chat: i64,
    message_id: i32,
    text: &str,
    html: bool,
    markup: Option<&serde_json::Value>,
) -> Result<(), Failure> {
    let mut payload = serde_json::json!({
        "chat_id": chat,
        "message_id": message_id,
        "text": text,
        "link_preview_options": {"is_disabled": true},
    });
    if html {
        payload["parse_mode"] = "HTML".into();
    }
    payload["reply_markup"] = markup
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"inline_keyboard": []}));
    match call::<serde_json::Value>(bot, "editMessageText", &payload).await {
        Err(Failure::Api(ApiError::MessageNotModified)) => Ok(()),
        Err(Failure::Api(ApiError::Unknown(t))) if t.contains("message is not modified") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// `answerCallbackQuery`: the small notice a button press gets (an alert box when
/// `alert`, for refusals).
pub async fn answer_callback(bot: &Bot, id: &str, text: &str, alert: bool) -> Result<(), Failure> {
    let payload = serde_json::json!({"callback_query_id": id, "text": text, "show_alert": alert});
    call::<serde_json::Value>(bot, "answerCallbackQuery", &payload)
        .await
        .map(|_| ())
}

/// `deleteMessage`.
pub async fn delete_message(bot: &Bot, chat: i64, message_id: i32) -> Result<(), Failure> {
    let payload = serde_json::json!({"chat_id": chat, "message_id": message_id});
    call::<serde_json::Value>(bot, "deleteMessage", &payload)
        .await
        .map(|_| ())
}

/// `getChatMember`.
pub async fn chat_member(bot: &Bot, chat: i64, user: u64) -> Result<teloxide::types::ChatMember, Failure> {
    let payload = serde_json::json!({"chat_id": chat, "user_id": user});
    call(bot, "getChatMember", &payload).await
}

/// `sendChatAction` "typing" (fails when a user never started the bot).
pub async fn typing(bot: &Bot, chat: i64) -> Result<(), Failure> {
    let payload = serde_json::json!({"chat_id": chat, "action": "typing"});
    call::<serde_json::Value>(bot, "sendChatAction", &payload)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_like_the_bot_api_means_them() {
        let ok: Result<serde_json::Value, _> = parse(200, br#"{"ok":true,"result":{"message_id":9}}"#);
        assert_eq!(ok.unwrap()["message_id"], 9);
        let f = |status, body: &str| parse::<serde_json::Value>(status, body.as_bytes()).unwrap_err();
        assert_eq!(
            f(
                429,
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2","parameters":{"retry_after":2}}"#
            ),
            Failure::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            f(
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001000000003}}"#
            ),
            Failure::Migrated(-1001000000003)
        );
        assert_eq!(
            f(
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#
            ),
            Failure::Api(ApiError::ChatNotFound)
        );
        // a 5xx is reported at once, whatever the body
        assert!(matches!(
            f(500, r#"{"ok":false,"description":"Internal Server Error"}"#),
            Failure::Transport(_)
        ));
        assert!(matches!(f(502, "<html>Bad Gateway</html>"), Failure::Transport(_)));
        assert!(matches!(f(404, "Not Found"), Failure::Transport(_)));
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify(&Failure::RetryAfter(Duration::from_secs(3))),
            Verdict::Retry(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            classify(&Failure::Migrated(-1001000000003)),
            Verdict::Migrated(-1001000000003)
        );
        assert_eq!(classify(&Failure::Transport("HTTP 500".into())), Verdict::Retry(None));
        let api = |e: ApiError| classify(&Failure::Api(e));
        assert!(matches!(api(ApiError::BotKickedFromSupergroup), Verdict::Gone(_)));
        assert!(matches!(api(ApiError::ChatNotFound), Verdict::Gone(_)));
        assert!(matches!(api(ApiError::BotBlocked), Verdict::Gone(_)));
        assert!(matches!(
            api(ApiError::Unknown(
                "Forbidden: bot was kicked from the group chat".into()
            )),
            Verdict::Gone(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown(
                "Forbidden: bot can't initiate conversation with a user".into()
            )),
            Verdict::Gone(_)
        ));
        assert_eq!(
            api(ApiError::Unknown("Internal Server Error".into())),
            Verdict::Retry(None)
        );
        assert_eq!(
            api(ApiError::Unknown("Bad Request: message thread not found".into())),
            Verdict::ThreadGone
        );
        assert_eq!(api(ApiError::CantParseEntities("x".into())), Verdict::Markup);
        assert!(matches!(api(ApiError::MessageIsTooLong), Verdict::Rejected(_)));
        assert_eq!(api(ApiError::InvalidToken), Verdict::Retry(Some(REVOKED_RETRY)));
    }

    #[test]
    fn request_errors_map_to_failures() {
        use teloxide::types::Seconds;
        assert_eq!(
            Failure::from(&RequestError::RetryAfter(Seconds::from_seconds(4))),
            Failure::RetryAfter(Duration::from_secs(4))
        );
        assert_eq!(
            Failure::from(&RequestError::MigrateToChatId(ChatId(-1001000000005))),
            Failure::Migrated(-1001000000005)
        );
    }
}
