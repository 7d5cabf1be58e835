//! `lang`: the language a chat's bot speaks there (`en`, `pt`, `ru`, `ko`; see
//! [`crate::i18n`]). A chat setting, kept in the chat's settings record. A chat that
//! never set one speaks the language of the first command's sender (see
//! [`Service::chat_lang_first`]). `lang` without a language says which one is set,
//! and anyone may ask that.

use serde::{Deserialize, Serialize};

use super::Spec;
use super::args;
use crate::core::error::{CoreError, invalid};
use crate::core::service::{Caller, Service, validate_chat_id};
use crate::core::view::LangView;
use crate::i18n::{Lang, msg};

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "lang",
    args: "en|pt|ru|ko",
    about: "the chat's language: en, pt, ru or ko",
    example: "pt",
    modifies: true,
};

/// `lang`'s input: `{"lang": "pt", "chat_id"?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct LangRequest {
    /// en, pt, ru or ko (none: say which one is set)
    #[arg(value_parser = lang)]
    #[serde(default, with = "opt_lang")]
    pub lang: Option<Lang>,
    /// the chat (operator only)
    #[arg(long, allow_negative_numbers = true, value_name = "ID")]
    #[serde(default, with = "args::opt_num")]
    pub chat_id: Option<i64>,
}

/// Reads a language word (`pt`, `PT`, `pt-BR`).
pub fn lang(s: &str) -> Result<Lang, crate::i18n::Msg> {
    Lang::parse(s).ok_or_else(|| msg!("err-unknown-lang", value = format!("{:?}", s.trim())))
}

/// `Option<Lang>` as its code; any case and region tag on input.
mod opt_lang {
    use super::*;
    use serde::{Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(v: &Option<Lang>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Lang::code).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Lang>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => lang(&s).map(Some).map_err(|m| de::Error::custom(m.to_string())),
        }
    }
}

impl LangRequest {
    /// The chat form: `[en|pt|ru|ko]`.
    pub fn parse_chat(text: &str) -> Result<Self, CoreError> {
        let t = text.trim();
        if t.contains(char::is_whitespace) {
            return Err(invalid(msg!("err-usage", cmd = "/lang", args = SPEC.args)));
        }
        Ok(Self {
            lang: if t.is_empty() {
                None
            } else {
                Some(lang(t).map_err(invalid)?)
            },
            chat_id: None,
        })
    }
}

pub(crate) async fn run(svc: &Service, caller: &Caller, req: LangRequest) -> Result<LangView, CoreError> {
    let chat = match caller {
        Caller::Chat { chat_id, .. } if req.chat_id.is_none_or(|c| c == *chat_id) => *chat_id,
        Caller::Chat { .. } => return Err(invalid(msg!("err-set-by-chat", field = "chat_id"))),
        Caller::Operator => req.chat_id.ok_or_else(|| invalid("chat_id is required"))?,
    };
    validate_chat_id(chat)?;
    let Some(lang) = req.lang else {
        return Ok(LangView {
            chat_id: chat,
            lang: svc.chat_lang(chat).unwrap_or_default(),
            changed: false,
        });
    };
    svc.check_modify(caller)?;
    let _one = svc.book().ops.lock().await;
    svc.update_chat(chat, |s| s.lang = Some(lang))?;
    svc.oncall_commit(false).await?;
    tracing::info!(chat, lang = %lang, "chat language set");
    Ok(LangView {
        chat_id: chat,
        lang,
        changed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_forms() {
        assert_eq!(LangRequest::parse_chat(" pt ").unwrap().lang, Some(Lang::Pt));
        assert_eq!(LangRequest::parse_chat("RU").unwrap().lang, Some(Lang::Ru));
        assert_eq!(LangRequest::parse_chat("").unwrap().lang, None);
        let e = LangRequest::parse_chat("de").unwrap_err();
        assert_eq!(e.to_string(), "unknown language \"de\"; use en, pt, ru or ko");
        assert!(LangRequest::parse_chat("pt ru").is_err());
        let ws: LangRequest = args::from_json(serde_json::json!({"lang": "ko", "chat_id": "-5"})).unwrap();
        assert_eq!((ws.lang, ws.chat_id), (Some(Lang::Ko), Some(-5)));
        let bad = args::from_json::<LangRequest>(serde_json::json!({"lang": "xx"})).unwrap_err();
        assert_eq!(bad.to_string(), "lang: unknown language \"xx\"; use en, pt, ru or ko");
    }
}
