//! Push URLs and secrets stay out of groups.
//!
//! Anyone holding a push monitor's URL can report for it, and group history is read by
//! many. So a reply that shows URLs (`/add push`, `/rotate`, `/status` of a push
//! monitor) shows them only in a private chat: in a group the reply goes without them,
//! and the URLs go to the admin who asked, in their private chat with the bot (or the
//! reply says why they cannot, and what to do). A group message that carried
//! `secret=` is deleted when the bot may delete messages, and the reply says so
//! either way. The texts are here; [`super::bot`] decides, [`super::send`] delivers.

use super::format::{Style, esc};
use crate::core::{MonitorView, Reply, StatusView};
use crate::i18n::{Lang, tr};

/// The monitor whose push URLs `r` shows, if it shows any.
pub fn urls_in(r: &Reply) -> Option<&MonitorView> {
    let m = match r {
        Reply::Added(m) | Reply::Rotated(m) => m,
        Reply::Status(s) => &s.monitor,
        _ => return None,
    };
    (m.webhook_url.is_some() || m.heartbeat_url.is_some()).then_some(m)
}

/// The same reply without any URL.
pub fn without_urls(r: &Reply) -> Reply {
    let strip = |m: &MonitorView| MonitorView {
        webhook_url: None,
        heartbeat_url: None,
        ..m.clone()
    };
    match r {
        Reply::Added(m) => Reply::Added(strip(m)),
        Reply::Rotated(m) => Reply::Rotated(strip(m)),
        Reply::Status(s) => Reply::Status(Box::new(StatusView {
            monitor: strip(&s.monitor),
            stats: s.stats.clone(),
        })),
        other => other.clone(),
    }
}

/// Whether a message carries a secret (`secret=…` on `/add push`).
pub fn carries_secret(text: &str) -> bool {
    text.to_ascii_lowercase().contains("secret=")
}

/// The private message with a group monitor's URLs: `style` names the group's commands
/// (`/rotate@bot`, typed there) in the reader's language.
pub fn urls_message(m: &MonitorView, group: &str, style: &Style) -> String {
    let lang = style.lang;
    let mut out = tr!(
        lang,
        "urls-private-head",
        id = m.id.to_string(),
        name = esc(&m.name),
        group = esc(group)
    );
    if let Some(u) = &m.webhook_url {
        out.push('\n');
        out.push_str(&tr!(lang, "url-webhook", url = esc(u)));
    }
    if let Some(u) = &m.heartbeat_url {
        out.push('\n');
        out.push_str(&tr!(lang, "url-heartbeat", url = esc(u)));
    }
    out.push('\n');
    out.push_str(&tr!(
        lang,
        "urls-private-keep",
        cmd = style.cmd("rotate"),
        id = m.id.to_string()
    ));
    out
}

/// Group line: the URLs went to the asker's private chat.
pub fn sent_privately(lang: Lang) -> String {
    tr!(lang, "urls-sent-privately")
}

/// Group line: the asker never started a private chat with the bot.
pub fn cannot_message(bot: &str, style: &Style, id: u64) -> String {
    tr!(
        style.lang,
        "urls-cannot-message",
        bot = bot,
        cmd = style.cmd("status"),
        id = id.to_string()
    )
}

/// Group line: an anonymous admin has no private chat to send to.
pub fn anonymous(style: &Style, id: u64) -> String {
    tr!(
        style.lang,
        "urls-anonymous",
        cmd = style.cmd("status"),
        id = id.to_string()
    )
}

/// Group line: someone who is not an admin asked.
pub fn admins_only(lang: Lang) -> String {
    tr!(lang, "urls-admins-only")
}

/// Group line: the message with the secret was deleted.
pub fn secret_deleted(lang: Lang) -> String {
    tr!(lang, "secret-deleted")
}

/// Group line: the bot may not delete it.
pub fn secret_kept(lang: Lang) -> String {
    tr!(lang, "secret-kept")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Kind, MonitorId, State};

    fn push_view() -> MonitorView {
        MonitorView {
            id: MonitorId(3),
            kind: Kind::Push,
            target: "nightly".into(),
            host: "nightly".into(),
            port: None,
            interval: 300.0,
            fails: 1,
            recovers: 1,
            name: "nightly <db>".into(),
            chat_id: Some(-1001),
            state: State::Pending,
            last_rtt_ms: None,
            webhook_url: Some("http://h/webhooks/abc".into()),
            heartbeat_url: Some("http://h/webhooks/abc/heartbeat".into()),
            heartbeat: Some(300.0),
            grace: Some(60.0),
            signed: Some(false),
            sign_heartbeats: Some(false),
            ..MonitorView::sample()
        }
    }

    #[test]
    fn urls_are_found_and_stripped() {
        let r = Reply::Added(push_view());
        assert_eq!(urls_in(&r).map(|m| m.id), Some(MonitorId(3)));
        let stripped = without_urls(&r);
        assert_eq!(urls_in(&stripped), None);
        let Reply::Added(m) = stripped else { panic!() };
        assert_eq!(
            (m.heartbeat, m.name.as_str()),
            (Some(300.0), "nightly <db>"),
            "the rest stays"
        );
        assert_eq!(urls_in(&Reply::List(vec![push_view()])), None, "lists never show URLs");
    }

    #[test]
    fn private_texts() {
        let g = Style::new("mon_bot", false);
        let dm = urls_message(&push_view(), "ops & co", &g);
        assert_eq!(
            dm,
            "🔑 Push monitor #3 <b>nightly &lt;db&gt;</b> in <b>ops &amp; co</b>\n\
             status webhook (POST): <code>http://h/webhooks/abc</code>\n\
             heartbeat (GET or POST): <code>http://h/webhooks/abc/heartbeat</code>\n\
             Keep them private: whoever has them can report for this monitor. /rotate@mon_bot 3 in the group replaces them."
        );
        assert!(cannot_message("mon_bot", &g, 3).contains("open a private chat with @mon_bot"));
        assert!(cannot_message("mon_bot", &g, 3).ends_with("/status@mon_bot 3 here."));
        assert!(carries_secret("/add push x SECRET=abc"));
        assert!(!carries_secret("/add push x heartbeat=5m"));
    }
}
