//! Cluster mode: several upbot nodes, one per site, sharing their state through NATS
//! JetStream, agreeing on verdicts by quorum, and sending every alert once.
//!
//! A layer, not a fork: without `UPBOT_NATS_URL` nothing here runs. With it, the layer
//! meets the rest of upbot at three narrow seams:
//!
//! - **the store** ([`crate::store::Replica`]): writes of the shared records (monitors,
//!   on-call records, chat settings, bots and chats allowed through the API) are
//!   mirrored to the `upbot_shared` bucket with compare-and-set on the last revision
//!   this node saw ([`shared`]); what other nodes write comes back through a watch and
//!   is applied by the core ([`crate::core::replica`]). Each node's sled stays its cache
//!   and keeps its own outbox.
//! - **the verdict flow**: each site probes and debounces as a node alone does; its
//!   committed state changes are published as the site's view ([`sites`]) instead of
//!   alerting. The leader feeds every site's views through the pure quorum step
//!   ([`quorum`]) into one cluster-wide verdict per monitor, and what the chat must hear
//!   goes to the cluster's outbox stream ([`leader`]).
//! - **the Telegram front**: a leader lease ([`lease`]) decides which node sends alerts
//!   and polls each bot; the app starts and stops the bots' polling and senders (and
//!   the on-call clock) as [`Cluster::leading`] says.
//!
//! Exactly one sender: the leader copies rows from the cluster's outbox into its own
//! outbox, sends them as a node alone does, and deletes each row from the cluster's
//! outbox once Telegram took it, before it removes it locally. It sends only while its
//! lease is valid with a margin: it stops [`LEASE_MARGIN`] before another node could take
//! the lease over. Where at-least-once remains is in README.md ("Cluster mode").

pub mod nats;
pub mod quorum;

mod leader;
mod lease;
mod shared;
mod sites;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ClusterConfig;
use crate::core::Service;
use crate::core::replica::{ClusterFuture, ClusterHealth, ClusterMonitorView, SiteHealth, SiteView};
use crate::domain::{Health, Monitor, MonitorId, State, now_ms, rfc3339};
use crate::store::Store;

pub use nats::SetupError;

/// The leader lease's time to live (the lease bucket's `max_age`): a dead leader's
/// lease lapses this long after its last renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(8);
/// How often the leader renews its lease (and others try to take it).
pub const RENEW_EVERY: Duration = Duration::from_secs(1);
/// The leader stops sending this long before its lease could lapse.
pub const LEASE_MARGIN: Duration = Duration::from_secs(2);
/// How often each site says it is alive.
pub const SITE_BEAT: Duration = Duration::from_secs(1);
/// A site silent for this many intervals (of a monitor, or heartbeats) is left out.
pub const SILENT_INTERVALS: u32 = 3;
/// How often the leader looks at every monitor (besides each new view).
pub const EVALUATE_EVERY: Duration = Duration::from_secs(1);

/// One site's verdict on one monitor, as published on `upbot.view.<site>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// Its state.
    pub state: State,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When it entered that state, ms since the epoch.
    pub at_ms: u64,
}

/// The leader's verdict on one monitor (`upbot_verdicts`, `monitor.<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The cluster-wide health (fed by the quorum step).
    pub health: Health,
    /// Counts the announced transitions: the key of the next alert is `v.<id>.<seq+1>`.
    pub seq: u64,
}

/// What the leader last told chats about a site (`upbot_verdicts`, `site.<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRecord {
    /// The chats were told it stopped reporting (and not yet that it is back).
    pub lost: bool,
}

/// A site's heartbeat (`upbot_sites`, `<site>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    /// The node that beats for the site.
    pub node: String,
    /// Whether that node leads.
    #[serde(default)]
    pub leading: bool,
}

/// The leader lease's value (`upbot_lease`, `leader`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The node that holds it.
    pub node: String,
    /// Its site.
    pub site: String,
    /// Since when, ms since the epoch.
    pub since_ms: u64,
}

/// A site as this node has heard of it.
#[derive(Debug, Clone)]
struct SiteSeen {
    /// Its last heartbeat, ms since the epoch (the NATS server's clock).
    last_ms: u64,
}

/// Which followers have handed over everything that was there when they started.
#[derive(Debug, Default, Clone, Copy)]
struct CaughtUp {
    shared: bool,
    views: bool,
    verdicts: bool,
    sites: bool,
}

impl CaughtUp {
    fn all(&self) -> bool {
        self.shared && self.views && self.verdicts && self.sites
    }
}

/// What this node knows of the cluster (every node keeps it; the leader acts on it).
#[derive(Default)]
struct Known {
    sites: BTreeMap<String, SiteSeen>,
    /// Monitor → site → its latest view.
    views: HashMap<MonitorId, BTreeMap<String, View>>,
    /// Monitor → the leader's verdict and its revision.
    verdicts: HashMap<MonitorId, (Verdict, u64)>,
    /// Site → what chats were told, and its revision.
    site_records: HashMap<String, (SiteRecord, u64)>,
    /// Who holds the lease, as last read.
    leader: Option<Lease>,
    caught_up: CaughtUp,
}

/// The cluster layer's handle; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    site: String,
    /// This process in the cluster: `<site>-<random>`.
    node: String,
    nats: nats::Nats,
    known: Mutex<Known>,
    writes: shared::Writes,
    /// Set by [`Cluster::start`].
    service: OnceLock<Service>,
    /// This node holds the lease (the lease task says so). These three are set with
    /// `send_replace`: `send` keeps nothing while no receiver exists, and the app
    /// subscribes to `leading` only after the lease may already be won (the first try
    /// is at once), which left a node holding the lease and never leading.
    holding: watch::Sender<bool>,
    /// This node leads: it holds the lease and has taken over the outbox. The app
    /// follows it with the Telegram front and the on-call clock.
    leading: watch::Sender<bool>,
    /// The app's front (bots polling and sending, the on-call clock) runs.
    front: watch::Sender<bool>,
    /// Wakes the leader's evaluator: a view changed.
    views_changed: Notify,
    /// Restarts the shared follower (a write was refused: read everything again).
    resync: Notify,
    /// A bot was added through another node's API.
    bot_added: Notify,
    /// Makes the lease task give the lease up now (a delivery could not be recorded).
    step_down: Notify,
    /// Cancels the leader's duties (evaluator, outbox intake) when leadership ends.
    duties: Mutex<Option<CancellationToken>>,
    /// Everything of the layer stops.
    stop: CancellationToken,
    tasks: TaskTracker,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Cluster {
    /// Joins the cluster: connects to NATS (refusing a server older than 2.10), and
    /// makes or opens its buckets and streams.
    pub async fn join(config: &ClusterConfig) -> Result<Self, SetupError> {
        let node = format!("{}-{}", config.site, crate::push::new_token().get(..6).unwrap_or("0"));
        let nats = nats::connect(
            config.nats_url.expose(),
            &config.nats_display(),
            &format!("upbot {node}"),
            LEASE_TTL,
        )
        .await?;
        let inner = Arc::new(Inner {
            site: config.site.clone(),
            writes: shared::Writes::new(&node),
            node,
            nats,
            known: Mutex::new(Known::default()),
            service: OnceLock::new(),
            holding: watch::channel(false).0,
            leading: watch::channel(false).0,
            front: watch::channel(false).0,
            views_changed: Notify::new(),
            resync: Notify::new(),
            bot_added: Notify::new(),
            step_down: Notify::new(),
            duties: Mutex::new(None),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        Ok(Self { inner })
    }

    /// This node's site.
    pub fn site(&self) -> &str {
        &self.inner.site
    }

    /// Makes `store` mirror its shared parts to the cluster, after bringing it in line
    /// with the cluster (the cluster's records win; a fresh cluster is seeded from this
    /// store). Call before the command core loads the store.
    pub async fn attach(&self, store: &Store) -> anyhow::Result<()> {
        shared::prepare(&self.inner, store).await?;
        store.set_replica(Arc::new(shared::Replica(self.inner.clone())));
        self.inner.writes.start(&self.inner);
        Ok(())
    }

    /// Starts following the cluster and taking part in it (site heartbeat and views,
    /// the lease). `stop` ends it all.
    pub fn start(&self, service: Service, stop: CancellationToken) {
        let inner = &self.inner;
        let _ = inner.service.set(service.clone());
        service.set_cluster(Arc::new(self.clone()));
        let stopping = inner.stop.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            stopping.cancel();
        });
        shared::spawn(inner);
        sites::spawn(inner);
        lease::spawn(inner);
        leader::spawn(inner);
        inner.tasks.close();
    }

    /// Whether this node leads (sends alerts, polls the bots, runs the on-call clock);
    /// changes as the lease moves.
    pub fn leading(&self) -> watch::Receiver<bool> {
        self.inner.leading.subscribe()
    }

    /// Resolves when a bot was added through another node's API (the leader starts it).
    pub async fn bot_added(&self) {
        self.inner.bot_added.notified().await;
    }

    /// The app says whether its front runs (bots polling and sending, the on-call
    /// clock): the lease is handed over only once it has stopped.
    pub fn front_running(&self, running: bool) {
        self.inner.front.send_replace(running);
    }

    /// Leaves the cluster in order: stops every task; the lease task first stops leading
    /// and then hands the lease over at once (it waits for the front to stop: call
    /// [`Cluster::front_running`] with `false` before or while this runs).
    pub async fn leave(&self) {
        self.inner.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(5), self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some cluster tasks did not stop in time");
        }
    }
}

impl Inner {
    fn service(&self) -> Option<&Service> {
        self.service.get()
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        lock(&self.known)
    }

    /// The sites that probe `m`: its `sites`, or every site known.
    fn sites_of(&self, known: &Known, m: &Monitor) -> Vec<String> {
        if m.sites.is_empty() {
            known.sites.keys().cloned().collect()
        } else {
            m.sites.clone()
        }
    }

    /// Whether `site` is counted for `m` at `now`: heard within 3 of `m`'s intervals
    /// (at least 3 heartbeats).
    fn reporting(known: &Known, site: &str, m: &Monitor, now: u64) -> bool {
        let window = m.interval.max(SITE_BEAT) * SILENT_INTERVALS;
        known
            .sites
            .get(site)
            .is_some_and(|s| now.saturating_sub(s.last_ms) <= ms(window))
    }

    /// The sites' votes on `m` at `now`.
    fn votes(&self, known: &Known, m: &Monitor, now: u64) -> Vec<(String, Option<View>, bool)> {
        let views = known.views.get(&m.id);
        self.sites_of(known, m)
            .into_iter()
            .map(|site| {
                let view = views.and_then(|v| v.get(&site)).cloned();
                let counted = Self::reporting(known, &site, m, now);
                (site, view, counted)
            })
            .collect()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses the id at the end of `prefix<id>`.
fn id_after(key: &str, prefix: &str) -> Option<MonitorId> {
    key.strip_prefix(prefix)?.parse().ok().map(MonitorId)
}

impl crate::core::replica::Cluster for Cluster {
    fn verdict(&self, id: MonitorId) -> Option<Health> {
        self.inner.known().verdicts.get(&id).map(|(v, _)| v.health.clone())
    }

    fn heading(&self, m: &Monitor) -> Option<State> {
        let known = self.inner.known();
        let current = known
            .verdicts
            .get(&m.id)
            .map_or(State::Pending, |(v, _)| v.health.state);
        let votes = self.inner.votes(&known, m, now_ms());
        let votes: Vec<quorum::Vote<'_>> = votes
            .iter()
            .map(|(site, view, counted)| quorum::Vote {
                site,
                state: view.as_ref().map(|v| v.state),
                reason: "",
                counted: *counted,
            })
            .collect();
        quorum::heading(&votes, current)
    }

    fn show(&self, m: &Monitor) -> ClusterMonitorView {
        let known = self.inner.known();
        let votes = self.inner.votes(&known, m, now_ms());
        let counted = votes.iter().filter(|(_, _, c)| *c).count();
        ClusterMonitorView {
            reachable: self.inner.nats.connected(),
            quorum: quorum::need(m.quorum, counted),
            sites: votes
                .into_iter()
                .map(|(site, view, reporting)| SiteView {
                    site,
                    state: view.as_ref().map(|v| v.state),
                    reason: view.map(|v| v.reason).unwrap_or_default(),
                    reporting,
                })
                .collect(),
        }
    }

    fn next_id(&self) -> ClusterFuture<'_, Result<MonitorId, crate::core::CoreError>> {
        Box::pin(shared::next_id(&self.inner))
    }

    fn sites(&self) -> Vec<String> {
        self.inner.known().sites.keys().cloned().collect()
    }

    fn reachable(&self) -> bool {
        self.inner.nats.connected()
    }

    fn health(&self) -> ClusterHealth {
        let inner = &self.inner;
        let known = inner.known();
        let now = now_ms();
        let beats = ms(SITE_BEAT * SILENT_INTERVALS);
        let monitors: HashMap<MonitorId, Monitor> = inner
            .service()
            .map(|s| s.monitors().into_iter().map(|m| (m.id, m)).collect())
            .unwrap_or_default();
        let sites = known
            .sites
            .iter()
            .map(|(site, seen)| {
                let mut verdicts = BTreeMap::new();
                for (id, views) in &known.views {
                    if !monitors.contains_key(id) {
                        continue;
                    }
                    if let Some(v) = views.get(site) {
                        *verdicts.entry(v.state.as_str()).or_insert(0) += 1;
                    }
                }
                SiteHealth {
                    site: site.clone(),
                    reporting: now.saturating_sub(seen.last_ms) <= beats,
                    last_seen: rfc3339(seen.last_ms),
                    verdicts,
                }
            })
            .collect();
        ClusterHealth {
            site: inner.site.clone(),
            node: inner.node.clone(),
            nats: if inner.nats.connected() {
                "connected"
            } else {
                "unreachable"
            },
            leading: *inner.leading.borrow(),
            leader: known.leader.as_ref().map(|l| l.node.clone()),
            sites,
        }
    }
}
