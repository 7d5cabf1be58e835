//! Host-name resolution for probes: a shared cache in front of the system resolver.
//!
//! Probes resolve on every tick, so a lookup per probe (a `getaddrinfo` on the blocking
//! pool) would cost more than the probe itself. Answers are cached for
//! [`POSITIVE_TTL`], failures for [`NEGATIVE_TTL`]. An expired answer is still served
//! while one background refresh runs, so probes never wait on DNS after the first
//! lookup; concurrent first lookups of one name share a single query. When a refresh
//! fails, the last good addresses keep being served for up to [`STALE_MAX`] (RFC 8767
//! "serve stale"), so one resolver hiccup does not fail every probe for a whole
//! negative TTL. IP literals never touch the cache.
//!
//! A [`Resolver::bounded`] cache runs at most N lookups at once, each in a task that
//! holds its slot until the lookup really ends (a timed-out `getaddrinfo` keeps its
//! blocking thread): names that input can choose (legacy WS monitors, `/add`) can then
//! never fill a thread pool with hung lookups.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::ProbeFailure;

/// How long a successful answer is used before it is refreshed.
pub const POSITIVE_TTL: Duration = Duration::from_secs(60);
/// How long a failed lookup is remembered.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// Upper bound on one lookup (the system resolver may retry for much longer).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long past its TTL a good answer may stand in for failing refreshes.
pub const STALE_MAX: Duration = Duration::from_secs(300);
/// Names nobody asked for in this long are dropped by [`Resolver::prune`].
pub const IDLE_EVICT: Duration = Duration::from_secs(600);

/// Resolved addresses, in resolver order, without duplicates.
pub type Addrs = Arc<[IpAddr]>;

type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
type LookupFn = Arc<dyn Fn(String) -> LookupFuture + Send + Sync>;

/// The resolver cache; cheap to clone, clones share the cache.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    cache: Mutex<HashMap<String, Slot>>,
    lookup: LookupFn,
    /// Lookups allowed in flight (`None`: no bound).
    slots: Option<Arc<tokio::sync::Semaphore>>,
}

struct Slot {
    /// Empty while the first lookup runs; waiters share it.
    cell: Arc<OnceCell<Answer>>,
    /// A background refresh is running (at most one per name).
    refreshing: bool,
    last_used: Instant,
}

#[derive(Clone)]
struct Answer {
    addrs: Result<Addrs, String>,
    expires: Instant,
    /// When `addrs` (if good) was last confirmed by a lookup.
    confirmed: Instant,
}

impl Answer {
    fn result(&self) -> Result<Addrs, ProbeFailure> {
        self.addrs.clone().map_err(ProbeFailure::dns)
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("names", &self.len()).finish()
    }
}

impl Resolver {
    /// A cache in front of the system resolver (`tokio::net::lookup_host`).
    pub fn new() -> Self {
        Self::with_lookup(|host| Box::pin(system_lookup(host)))
    }

    /// A cache in front of `lookup` (tests count and script lookups with it).
    pub fn with_lookup(lookup: impl Fn(String) -> LookupFuture + Send + Sync + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                cache: Mutex::new(HashMap::new()),
                lookup: Arc::new(lookup),
                slots: None,
            }),
        }
    }

    /// A cache in front of the system resolver that runs at most `max` lookups at once.
    pub fn bounded(max: usize) -> Self {
        Self::new().with_bound(max)
    }

    /// This cache's lookup, run at most `max` at a time (waiting for a slot counts
    /// toward [`LOOKUP_TIMEOUT`]). Call before the first lookup: it starts a new cache.
    pub fn with_bound(self, max: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                cache: Mutex::new(HashMap::new()),
                lookup: self.inner.lookup.clone(),
                slots: Some(Arc::new(tokio::sync::Semaphore::new(max.max(1)))),
            }),
        }
    }

    /// Number of cached names.
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Addresses of `host`. IP literals are returned as they are; names come from the
    /// cache, waiting for the resolver only on the first lookup of a name.
    pub async fn resolve(&self, host: &str) -> Result<Addrs, ProbeFailure> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Arc::from([ip]));
        }
        let key = host.to_ascii_lowercase();
        let now = Instant::now();
        let cell = {
            let mut cache = self.inner.lock();
            let slot = cache.entry(key.clone()).or_insert_with(|| Slot {
                cell: Arc::new(OnceCell::new()),
                refreshing: false,
                last_used: now,
            });
            slot.last_used = now;
            match slot.cell.get() {
                Some(ans) if ans.expires > now => return ans.result(),
                Some(ans) => {
                    if !slot.refreshing {
                        slot.refreshing = true;
                        self.spawn_refresh(key, ans.clone());
                    }
                    return ans.result();
                }
                None => slot.cell.clone(),
            }
        };
        let inner = self.inner.clone();
        cell.get_or_init(|| inner.lookup_answer(key, None)).await.result()
    }

    /// Forgets names not asked for within [`IDLE_EVICT`] (deleted monitors' hosts).
    pub fn prune(&self) {
        let now = Instant::now();
        self.inner
            .lock()
            .retain(|_, s| s.refreshing || now.saturating_duration_since(s.last_used) < IDLE_EVICT);
    }

    fn spawn_refresh(&self, key: String, previous: Answer) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let ans = inner.lookup_answer(key.clone(), Some(previous)).await;
            if let Some(slot) = inner.lock().get_mut(&key) {
                slot.cell = Arc::new(OnceCell::new_with(Some(ans)));
                slot.refreshing = false;
            }
        });
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One lookup, in a slot when the cache is bounded.
    async fn run_lookup(&self, key: String) -> io::Result<Vec<IpAddr>> {
        let Some(slots) = &self.slots else {
            return (self.lookup)(key).await;
        };
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("resolver closed"))?;
        let lookup = (self.lookup)(key);
        // Its own task holds the slot until the lookup ends, even after the caller's
        // timeout gave up on it.
        tokio::spawn(async move {
            let r = lookup.await;
            drop(permit);
            r
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
    }

    async fn lookup_answer(&self, key: String, previous: Option<Answer>) -> Answer {
        let got = tokio::time::timeout(LOOKUP_TIMEOUT, self.run_lookup(key.clone())).await;
        let now = Instant::now();
        let why = match got {
            Ok(Ok(list)) if !list.is_empty() => {
                let mut addrs: Vec<IpAddr> = Vec::with_capacity(list.len());
                for a in list {
                    if !addrs.contains(&a) {
                        addrs.push(a);
                    }
                }
                return Answer {
                    addrs: Ok(addrs.into()),
                    expires: now + POSITIVE_TTL,
                    confirmed: now,
                };
            }
            Ok(Ok(_)) => "no such host".to_string(),
            Ok(Err(e)) => describe(&e),
            Err(_) => "lookup timed out".to_string(),
        };
        if let Some(prev) = previous.filter(|p| p.addrs.is_ok()) {
            if now.saturating_duration_since(prev.confirmed) < POSITIVE_TTL + STALE_MAX {
                tracing::debug!(host = %key, error = %why, "dns refresh failed; serving the last good answer");
                return Answer {
                    expires: now + NEGATIVE_TTL,
                    ..prev
                };
            }
        }
        tracing::debug!(host = %key, error = %why, "dns lookup failed");
        Answer {
            addrs: Err(why),
            expires: now + NEGATIVE_TTL,
            confirmed: now,
        }
    }
}

async fn system_lookup(host: String) -> io::Result<Vec<IpAddr>> {
    Ok(tokio::net::lookup_host((host.as_str(), 0))
        .await?
        .map(|sa| sa.ip())
        .collect())
}

/// Turns getaddrinfo's wording into a short reason.
fn describe(e: &io::Error) -> String {
    let msg = e.to_string();
    let lower = msg.to_ascii_lowercase();
    if lower.contains("not known") || lower.contains("no address associated") || lower.contains("nodename nor servname")
    {
        "no such host".into()
    } else if lower.contains("temporary failure") {
        "temporary failure in name resolution".into()
    } else {
        msg.trim_start_matches("failed to lookup address information: ")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::FailKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A resolver whose lookups are counted and answered by `answer(n)` (n = call number).
    fn scripted(
        answer: impl Fn(usize) -> io::Result<Vec<IpAddr>> + Send + Sync + 'static,
    ) -> (Resolver, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let c = calls.clone();
        let r = Resolver::with_lookup(move |_host| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            let a = answer.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                a(n)
            })
        });
        (r, calls)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_and_is_cached() {
        let r = Resolver::new();
        let a = r.resolve("localhost").await.unwrap();
        assert!(!a.is_empty() && a.iter().all(|ip| ip.is_loopback()), "{a:?}");
        let b = r.resolve("LOCALHOST").await.unwrap();
        assert!(Arc::ptr_eq(&a, &b), "second lookup must come from the cache");
        assert_eq!(r.len(), 1);
    }

    #[tokio::test]
    async fn ip_literals_bypass_the_cache() {
        let (r, calls) = scripted(|_| Ok(vec![]));
        assert_eq!(&*r.resolve("127.0.0.9").await.unwrap(), &[ip("127.0.0.9")]);
        assert_eq!(&*r.resolve("::1").await.unwrap(), &[ip("::1")]);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert!(r.is_empty());
    }

    #[tokio::test]
    async fn invalid_names_fail_as_dns() {
        let r = Resolver::new();
        let e = r.resolve("no-such-host.invalid").await.unwrap_err();
        assert_eq!(e.kind, FailKind::Dns);
        assert!(e.to_string().starts_with("dns: "), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn positive_ttl_then_stale_while_one_refresh_runs() {
        let (r, calls) = scripted(|n| Ok(vec![if n == 0 { ip("192.0.2.1") } else { ip("192.0.2.2") }]));
        assert_eq!(&*r.resolve("db").await.unwrap(), &[ip("192.0.2.1")]);
        tokio::time::advance(POSITIVE_TTL - Duration::from_secs(1)).await;
        assert_eq!(&*r.resolve("db").await.unwrap(), &[ip("192.0.2.1")]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        // Expired: the old answer is served at once, and only one refresh starts.
        for _ in 0..5 {
            assert_eq!(&*r.resolve("db").await.unwrap(), &[ip("192.0.2.1")]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(&*r.resolve("db").await.unwrap(), &[ip("192.0.2.2")]);
    }

    #[tokio::test(start_paused = true)]
    async fn negative_answers_are_cached_for_the_negative_ttl() {
        let (r, calls) = scripted(|n| {
            if n == 0 {
                Err(io::Error::other(
                    "failed to lookup address information: Name or service not known",
                ))
            } else {
                Ok(vec![ip("192.0.2.7")])
            }
        });
        let e = r.resolve("gone").await.unwrap_err();
        assert_eq!(e.to_string(), "dns: no such host");
        tokio::time::advance(NEGATIVE_TTL - Duration::from_secs(1)).await;
        assert!(r.resolve("gone").await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(r.resolve("gone").await.is_err(), "stale negative while refreshing");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(&*r.resolve("gone").await.unwrap(), &[ip("192.0.2.7")]);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_refresh_serves_last_good_answer_for_a_while() {
        let (r, _calls) = scripted(|n| {
            if n == 0 {
                Ok(vec![ip("192.0.2.1")])
            } else {
                Err(io::Error::other("Temporary failure in name resolution"))
            }
        });
        r.resolve("flaky").await.unwrap();
        tokio::time::advance(POSITIVE_TTL + Duration::from_secs(1)).await;
        r.resolve("flaky").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(&*r.resolve("flaky").await.unwrap(), &[ip("192.0.2.1")]);
        // Far past the stale limit the failure shows.
        for _ in 0..40 {
            tokio::time::advance(NEGATIVE_TTL).await;
            let _ = r.resolve("flaky").await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let e = r.resolve("flaky").await.unwrap_err();
        assert_eq!(e.to_string(), "dns: temporary failure in name resolution");
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_lookups_never_exceed_the_bound_even_when_they_hang() {
        use std::sync::atomic::AtomicUsize;
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        // A resolver that never answers.
        let r = Resolver::with_lookup(move |_| {
            s.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::pending())
        })
        .with_bound(4);
        let names: Vec<String> = (0..20).map(|i| format!("h{i}.nx.invalid")).collect();
        let all = futures_util::future::join_all(names.iter().map(|n| r.resolve(n))).await;
        assert!(
            all.iter()
                .all(|a| a.as_ref().unwrap_err().to_string() == "dns: lookup timed out")
        );
        assert_eq!(
            started.load(Ordering::SeqCst),
            4,
            "only the slots' worth of lookups ever started"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_first_lookups_share_one_query_and_idle_names_are_pruned() {
        let (r, calls) = scripted(|_| Ok(vec![ip("192.0.2.1"), ip("192.0.2.1"), ip("2001:db8::1")]));
        let all = futures_util::future::join_all((0..10).map(|_| r.resolve("shared"))).await;
        assert!(all.iter().all(|a| a.as_ref().unwrap().len() == 2));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(IDLE_EVICT + Duration::from_secs(1)).await;
        r.prune();
        assert!(r.is_empty());
    }
}
