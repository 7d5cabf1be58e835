//! [`BotGateway`]: how the command core asks about Telegram bots without knowing
//! Telegram. The Telegram front implements it and registers it on the
//! [`Service`](super::Service); with none registered, no bot is running.

use std::future::Future;
use std::pin::Pin;

use super::error::CoreError;

/// What [`BotGateway::resolve`] returns: the bot's username, or why it cannot be used.
pub type ResolveFuture = Pin<Box<dyn Future<Output = Result<String, CoreError>> + Send>>;

/// The running bots, as the core needs them for operator `add`s that name a chat.
pub trait BotGateway: Send + Sync {
    /// Picks the bot that will alert `chat_id` and checks that it can post there.
    ///
    /// `bot` is a username (with or without `@`) or a bot token; `None` means "the only
    /// running bot". A new token is validated (getMe), remembered and started. Errors
    /// are [`CoreError::Validation`] with a text the operator can act on.
    fn resolve(&self, bot: Option<String>, chat_id: i64) -> ResolveFuture;
}

/// A gateway that knows a fixed set of bot usernames and asks nobody: for embedding
/// upbot without its Telegram front (tests, scripts that only want chat-tagged
/// monitors). Accepts a listed username, or no name when exactly one is listed.
#[derive(Debug, Clone)]
pub struct StaticBots(pub Vec<String>);

impl BotGateway for StaticBots {
    fn resolve(&self, bot: Option<String>, _chat_id: i64) -> ResolveFuture {
        let known = self.0.clone();
        Box::pin(async move {
            match bot {
                None if known.len() == 1 => Ok(known[0].clone()),
                None => Err(CoreError::Validation("name the bot with bot".into())),
                Some(b) => {
                    let b = b.trim().trim_start_matches('@');
                    known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(b))
                        .cloned()
                        .ok_or_else(|| CoreError::Validation(format!("unknown bot {b:?}").into()))
                }
            }
        })
    }
}
