//! Published status pages: the tree `pages` maps a chat id (big-endian `i64`) to its
//! [`PublishedPage`] (JSON). At most one page per chat; turning a page off deletes its
//! record, so its slug never resolves again.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, dec, enc};

/// The tree's name.
const TREE: &str = "pages";

/// A chat's public status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPage {
    /// The chat whose monitors it shows.
    pub chat_id: i64,
    /// The random path segment: `/status/<slug>`.
    pub slug: String,
    /// Whether monitors' targets are shown.
    pub targets: bool,
    /// The heading (`None`: a neutral default).
    #[serde(default)]
    pub title: Option<String>,
    /// When it was published, ms.
    pub created_ms: u64,
}

impl Store {
    fn pages_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(TREE)?)
    }

    /// Stores (or replaces) the page of `p.chat_id`, durably (on the writer thread).
    pub async fn put_page(&self, p: &PublishedPage) -> Result<(), StoreError> {
        let value = enc(p)?;
        let k = p.chat_id.to_be_bytes();
        self.on_writer(true, (0, 0), move |s| {
            s.pages_tree()?.insert(k, value)?;
            Ok(())
        })
        .await
    }

    /// Removes the page of `chat_id`, durably; returns it if there was one.
    pub async fn delete_page(&self, chat_id: i64) -> Result<Option<PublishedPage>, StoreError> {
        let old = self
            .on_writer(true, (0, 0), move |s| {
                Ok(s.pages_tree()?.remove(chat_id.to_be_bytes())?)
            })
            .await?;
        old.map(|v| dec(&v)).transpose()
    }

    /// Every published page.
    pub fn pages(&self) -> Result<Vec<PublishedPage>, StoreError> {
        self.pages_tree()?.iter().values().map(|v| dec(&v?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_round_trip_per_chat() {
        let dir = tempfile::tempdir().unwrap();
        let p = PublishedPage {
            chat_id: -100_123,
            slug: "abc".into(),
            targets: false,
            title: Some("Acme".into()),
            created_ms: 5,
        };
        {
            let s = Store::open(dir.path()).unwrap();
            s.put_page(&p).await.unwrap();
            let newer = PublishedPage {
                slug: "def".into(),
                ..p.clone()
            };
            s.put_page(&newer).await.unwrap();
            assert_eq!(s.pages().unwrap(), vec![newer], "one page per chat");
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.pages().unwrap().len(), 1, "survives a restart");
        assert_eq!(
            s.delete_page(p.chat_id).await.unwrap().map(|p| p.slug),
            Some("def".into())
        );
        assert!(s.pages().unwrap().is_empty());
        assert_eq!(s.delete_page(p.chat_id).await.unwrap(), None);
    }
}
