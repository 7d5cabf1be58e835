//! Who may talk to the bots: the chat allow-list (`UPBOT_ALLOWED_CHATS`, plus chats the
//! operator named through the API, persisted), the once-per-chat refusal, and the group
//! rule that only creators and administrators change monitors.

use std::collections::HashSet;
use std::sync::Mutex;

use teloxide::prelude::*;
use teloxide::types::{ChatMemberKind, Message};

use crate::config::AllowedChats;
use crate::store::{Store, StoreError};

/// The allow-list and the memory of which strangers were already told.
pub struct Access {
    allowed: AllowedChats,
    store: Store,
    /// Chats refused once since this process started (they are not told again).
    refused: Mutex<HashSet<i64>>,
}

impl Access {
    /// The allow-list from the config; implicit allows live in `store`.
    pub fn new(allowed: AllowedChats, store: Store) -> Self {
        Self {
            allowed,
            store,
            refused: Mutex::new(HashSet::new()),
        }
    }

    /// Whether the bots serve `chat`.
    pub fn is_allowed(&self, chat: i64) -> bool {
        match &self.allowed {
            AllowedChats::Any => true,
            AllowedChats::List(ids) if ids.contains(&chat) => true,
            AllowedChats::List(_) => self.store.chat_allowed(chat).unwrap_or_else(|e| {
                tracing::error!(chat, error = %e, "allow-list lookup failed; refusing the chat");
                false
            }),
        }
    }

    /// Allows `chat` from now on, durably (the operator named it, or it is the new id
    /// of a migrated group).
    pub async fn allow(&self, chat: i64) -> Result<(), StoreError> {
        if matches!(&self.allowed, AllowedChats::Any) || self.store.chat_allowed(chat)? {
            return Ok(());
        }
        self.store.allow_chat(chat).await
    }

    /// True the first time a refused chat is seen since start: it gets one reply.
    pub fn first_refusal(&self, chat: i64) -> bool {
        match self.refused.lock() {
            Ok(mut r) => r.insert(chat),
            Err(p) => p.into_inner().insert(chat),
        }
    }
}

/// Whether a member with this status may change monitors.
pub fn is_admin(kind: &ChatMemberKind) -> bool {
    matches!(kind, ChatMemberKind::Owner(_) | ChatMemberKind::Administrator(_))
}

/// Whether the sender of `msg` may change monitors: anyone in a private chat; in
/// groups, creators and administrators, including an admin posting anonymously (the
/// message then comes "from" the group itself).
pub async fn can_modify(bot: &Bot, msg: &Message) -> bool {
    if msg.chat.is_private() {
        return true;
    }
    if msg.sender_chat.as_ref().is_some_and(|c| c.id == msg.chat.id) {
        return true;
    }
    let Some(user) = msg.from.as_ref() else {
        return false;
    };
    match bot.get_chat_member(msg.chat.id, user.id).await {
        Ok(member) => is_admin(&member.kind),
        Err(e) => {
            tracing::warn!(chat = msg.chat.id.0, user = user.id.0, error = %e, "getChatMember failed; treating the sender as a member");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allow_list_and_implicit_allows() {
        let store = Store::temporary().unwrap();
        let a = Access::new(AllowedChats::List(vec![-1001]), store.clone());
        assert!(a.is_allowed(-1001));
        assert!(!a.is_allowed(-1002));
        a.allow(-1002).await.unwrap();
        assert!(a.is_allowed(-1002), "implicit allows persist in the store");
        assert!(store.chat_allowed(-1002).unwrap());
        assert!(Access::new(AllowedChats::Any, store).is_allowed(42));
    }

    #[test]
    fn strangers_are_told_once() {
        let a = Access::new(AllowedChats::List(vec![]), Store::temporary().unwrap());
        assert!(a.first_refusal(5));
        assert!(!a.first_refusal(5));
        assert!(a.first_refusal(6));
    }

    #[test]
    fn admin_statuses() {
        let member: ChatMemberKind = serde_json::from_value(serde_json::json!({"status": "member"})).unwrap();
        assert!(!is_admin(&member));
        let owner: ChatMemberKind =
            serde_json::from_value(serde_json::json!({"status": "creator", "is_anonymous": false})).unwrap();
        assert!(is_admin(&owner));
        let left: ChatMemberKind = serde_json::from_value(serde_json::json!({"status": "left"})).unwrap();
        assert!(!is_admin(&left));
    }
}
