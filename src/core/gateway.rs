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
