//! `page`: a chat's public, read-only status page at
//! `UPBOT_PUBLIC_URL/status/<random slug>` (served by the HTTP receiver, drawn by
//! [`crate::pictures::page`]). `on` publishes it (a page already on keeps its address
//! and takes the new options), `off` makes the address 404 for good (a later `on` gives
//! a new one), no switch tells where it is. Targets appear only with `targets`.
//! Changing it takes an admin in groups; the operator names the chat.

use crate::i18n::msg;
use serde::{Deserialize, Serialize};

use super::{Spec, args};
use crate::core::error::{CoreError, invalid};
use crate::core::service::{Caller, Service};
use crate::domain::now_ms;
use crate::store::PublishedPage;

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "page",
    args: "on|off [targets] [title=\"…\"]",
    about: "public status page of this chat's monitors",
    example: "on",
    modifies: true,
};

/// Longest page title, characters.
pub const MAX_TITLE: usize = 80;

/// `page`'s input: `{"chat_id": -100…, "on": true, "targets": false}` on the WS API,
/// `upbot page on --chat-id -100…` on the CLI, `/page on targets` in a chat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct PageRequest {
    /// on or off; leave out to see the page's address
    #[arg(value_parser = args::flag, value_name = "on|off")]
    #[serde(with = "args::opt_flag")]
    pub on: Option<bool>,
    /// Show each monitor's target (host, address, port) on the page
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = args::flag)]
    #[serde(with = "args::opt_flag")]
    pub targets: Option<bool>,
    /// The page's heading
    #[arg(long)]
    pub title: Option<String>,
    /// The chat whose page it is (the operator must name one)
    #[arg(long, allow_negative_numbers = true, value_name = "ID")]
    #[serde(with = "args::opt_num")]
    pub chat_id: Option<i64>,
}

impl PageRequest {
    /// Parses the chat form: `on`, `off`, `on targets`, `title="…"` (any order).
    pub fn parse_chat(text: &str) -> Result<Self, CoreError> {
        let mut r = PageRequest::default();
        for w in super::add::split_words(text)? {
            let lower = w.to_ascii_lowercase();
            match lower.split_once('=') {
                Some(("title", _)) => r.title = Some(w["title=".len()..].to_string()),
                Some(("targets", v)) => r.targets = Some(args::flag(v).map_err(invalid)?),
                Some((k, _)) => {
                    return Err(invalid(msg!(
                        "err-unknown-option",
                        option = format!("{k:?}"),
                        known = "targets, title"
                    )));
                }
                None if lower == "targets" => r.targets = Some(true),
                None if r.on.is_none() && matches!(lower.as_str(), "on" | "off") => r.on = Some(lower == "on"),
                None => {
                    return Err(invalid(msg!(
                        "err-unexpected-usage",
                        word = format!("{w:?}"),
                        cmd = "/page",
                        args = SPEC.args
                    )));
                }
            }
        }
        if r.on.is_none() && (r.targets.is_some() || r.title.is_some()) {
            return Err(invalid(msg!("err-page-say-on")));
        }
        Ok(r)
    }
}

/// Where a chat's page stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageView {
    /// The chat.
    pub chat_id: i64,
    /// Published.
    pub on: bool,
    /// Its address (when on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Targets are shown.
    pub targets: bool,
    /// Its heading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Monitors it shows.
    pub monitors: usize,
    /// It was on before this command.
    pub was_on: bool,
}

fn check_title(t: &str) -> Result<String, CoreError> {
    let t = t.trim();
    if t.chars().count() > MAX_TITLE {
        return Err(invalid(msg!("err-title-long", max = MAX_TITLE)));
    }
    if t.chars().any(char::is_control) {
        return Err(invalid(msg!("err-title-control")));
    }
    Ok(t.to_string())
}

/// A new random slug: 128 bits, URL-safe base64 (22 characters).
pub fn new_slug() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

pub(crate) async fn run(svc: &Service, caller: &Caller, req: PageRequest) -> Result<PageView, CoreError> {
    let chat_id = match (caller, req.chat_id) {
        (Caller::Chat { chat_id, .. }, None) => *chat_id,
        (Caller::Chat { chat_id, .. }, Some(c)) if c == *chat_id => c,
        (Caller::Chat { .. }, Some(_)) => {
            return Err(CoreError::PermissionDenied("a chat manages only its own page".into()));
        }
        (Caller::Operator, Some(c)) => {
            crate::core::service::validate_chat_id(c)?;
            c
        }
        (Caller::Operator, None) => return Err(invalid("chat_id is required")),
    };
    let title = req.title.as_deref().map(check_title).transpose()?;
    let current = svc.pages().of_chat(chat_id);
    let was_on = current.is_some();
    let page = match req.on {
        None => current,
        Some(true) => {
            svc.check_modify(caller)?;
            let _w = svc.lock_writes().await;
            let p = match svc.pages().of_chat(chat_id) {
                // On already: same address, new options.
                Some(p) => PublishedPage {
                    targets: req.targets.unwrap_or(p.targets),
                    title: title.or(p.title.clone()),
                    ..p
                },
                None => PublishedPage {
                    chat_id,
                    slug: new_slug(),
                    targets: req.targets.unwrap_or(false),
                    title,
                    created_ms: now_ms(),
                },
            };
            svc.store().put_page(&p).await?;
            svc.pages().put(p.clone());
            tracing::info!(chat = chat_id, targets = p.targets, "status page published");
            Some(p)
        }
        Some(false) => {
            svc.check_modify(caller)?;
            let _w = svc.lock_writes().await;
            if svc.pages().of_chat(chat_id).is_some() {
                svc.store().delete_page(chat_id).await?;
                svc.pages().remove(chat_id);
                tracing::info!(chat = chat_id, "status page taken down");
            }
            None
        }
    };
    let monitors = svc.read_monitors(|all| all.values().filter(|m| m.chat_id == Some(chat_id)).count());
    Ok(PageView {
        chat_id,
        on: page.is_some(),
        url: page.as_ref().map(|p| svc.page_url(&p.slug)),
        targets: page.as_ref().is_some_and(|p| p.targets),
        title: page.and_then(|p| p.title),
        monitors,
        was_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_forms() {
        let p = |s: &str| PageRequest::parse_chat(s);
        assert_eq!(p("").unwrap(), PageRequest::default());
        assert_eq!(p("on").unwrap().on, Some(true));
        assert_eq!(p("OFF").unwrap().on, Some(false));
        let r = p("on targets title=\"Acme prod\"").unwrap();
        assert_eq!(
            (r.on, r.targets, r.title.as_deref()),
            (Some(true), Some(true), Some("Acme prod"))
        );
        assert_eq!(p("on targets=no").unwrap().targets, Some(false));
        assert!(p("targets").is_err(), "needs on");
        assert!(p("on off").is_err());
        assert!(p("maybe").is_err());
        assert!(p("on colour=red").is_err());
    }

    #[test]
    fn ws_forms() {
        let r: PageRequest = args::from_json(json!({"chat_id": "-5", "on": "on", "targets": true})).unwrap();
        assert_eq!((r.chat_id, r.on, r.targets), (Some(-5), Some(true), Some(true)));
        let r: PageRequest = args::from_json(json!({"chat_id": -5, "on": false})).unwrap();
        assert_eq!(r.on, Some(false));
        assert!(args::from_json::<PageRequest>(json!({"chat_id": -5, "public": true})).is_err());
    }

    #[test]
    fn slugs_are_long_random_and_url_safe() {
        let (a, b) = (new_slug(), new_slug());
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(check_title(&"x".repeat(81)).is_err());
        assert!(check_title("a\u{7}b").is_err());
        assert_eq!(check_title("  Acme  ").unwrap(), "Acme");
    }
}
