//! Published status pages as the core keeps them: a memory copy of the store's `pages`
//! tree, by slug and by chat (loaded at start, changed by the `page` command after the
//! store has it), and the data one page shows, for the HTTP receiver to draw.

use std::collections::HashMap;
use std::sync::RwLock;

use super::service::Service;
use crate::domain::history::{DAY_MS, MINUTE_MS};
use crate::domain::{Health, Monitor, now_ms};
use crate::pictures::page::PageMonitor;
use crate::store::PublishedPage;

/// The heading of a page published without a title.
pub const DEFAULT_TITLE: &str = "Status";

/// The published pages, by slug.
#[derive(Debug, Default)]
pub struct Pages {
    by_slug: RwLock<HashMap<String, PublishedPage>>,
}

impl Pages {
    /// The registry holding `pages`.
    pub fn new(pages: Vec<PublishedPage>) -> Self {
        Self {
            by_slug: RwLock::new(pages.into_iter().map(|p| (p.slug.clone(), p)).collect()),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&HashMap<String, PublishedPage>) -> T) -> T {
        match self.by_slug.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut HashMap<String, PublishedPage>) -> T) -> T {
        match self.by_slug.write() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// The page at `slug`.
    pub fn get(&self, slug: &str) -> Option<PublishedPage> {
        self.read(|m| m.get(slug).cloned())
    }

    /// The page of `chat`.
    pub fn of_chat(&self, chat: i64) -> Option<PublishedPage> {
        self.read(|m| m.values().find(|p| p.chat_id == chat).cloned())
    }

    /// Adds or replaces the page of `p.chat_id` (an older slug of that chat stops
    /// resolving).
    pub fn put(&self, p: PublishedPage) {
        self.write(|m| {
            m.retain(|_, o| o.chat_id != p.chat_id);
            m.insert(p.slug.clone(), p);
        });
    }

    /// Removes the page of `chat`.
    pub fn remove(&self, chat: i64) -> Option<PublishedPage> {
        self.write(|m| {
            let slug = m.values().find(|p| p.chat_id == chat).map(|p| p.slug.clone())?;
            m.remove(&slug)
        })
    }

    /// Number of pages.
    pub fn len(&self) -> usize {
        self.read(HashMap::len)
    }

    /// No pages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one page shows, read at `generated_ms`.
#[derive(Debug, Clone)]
pub struct StatusPageData {
    /// The page.
    pub page: PublishedPage,
    /// Its heading.
    pub title: String,
    /// When the data was read, ms.
    pub generated_ms: u64,
    /// The chat's monitors, by name.
    pub monitors: Vec<PageMonitor>,
}

impl Service {
    /// The data of the page at `slug` (`None`: no such page, or taken down). Reads each
    /// monitor's history (90 days by day, 24 h by 30 minutes): callers cache it.
    pub fn status_page(&self, slug: &str) -> Option<StatusPageData> {
        let page = self.pages().get(slug)?;
        let now = now_ms();
        let mut mine: Vec<Monitor> = self.read_monitors(|all| {
            all.values()
                .filter(|m| m.chat_id == Some(page.chat_id))
                .map(|m| Monitor::clone(m))
                .collect()
        });
        mine.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
        let monitors = mine
            .iter()
            .map(|m| {
                let (h, _) = self
                    .live(m)
                    .unwrap_or_else(|_| (Health::new(m.created_ms), Default::default()));
                let days = self.history(m, now.saturating_sub(89 * DAY_MS), now, DAY_MS, now);
                let recent = self.history(m, now.saturating_sub(DAY_MS), now, 30 * MINUTE_MS, now);
                let empty = |span, step| crate::domain::history::Series::ending(now, span, step);
                PageMonitor {
                    name: m.name.clone(),
                    kind: m.kind.as_str(),
                    target: page.targets.then(|| m.target()),
                    state: h.state,
                    since_ms: h.since_ms,
                    days: days.unwrap_or_else(|_| empty(90 * DAY_MS, DAY_MS)),
                    recent: recent.unwrap_or_else(|_| empty(DAY_MS, 30 * MINUTE_MS)),
                }
            })
            .collect();
        Some(StatusPageData {
            title: page.title.clone().unwrap_or_else(|| DEFAULT_TITLE.to_string()),
            page,
            generated_ms: now,
            monitors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(chat: i64, slug: &str) -> PublishedPage {
        PublishedPage {
            chat_id: chat,
            slug: slug.into(),
            targets: false,
            title: None,
            created_ms: 0,
        }
    }

    #[test]
    fn one_page_per_chat_by_slug() {
        let p = Pages::new(vec![page(-1, "a"), page(-2, "b")]);
        assert_eq!(p.get("a").map(|p| p.chat_id), Some(-1));
        p.put(page(-1, "c"));
        assert!(p.get("a").is_none(), "the old slug stops resolving");
        assert_eq!(p.of_chat(-1).map(|p| p.slug), Some("c".into()));
        assert_eq!(p.len(), 2);
        assert_eq!(p.remove(-1).map(|p| p.slug), Some("c".into()));
        assert!(p.get("c").is_none());
        assert!(p.remove(-1).is_none());
        assert!(!p.is_empty());
    }
}
