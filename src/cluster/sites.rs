//! Sites: what every node says and hears besides the shared records.
//!
//! Says: its site's heartbeat (`upbot_sites`, every [`SITE_BEAT`]) and its site's view
//! of each monitor it probes (`UPBOT_VIEWS`, `upbot.view.<site>.<id>`), published when
//! its engine commits a state change. Views wait in a queue (the latest per monitor)
//! while NATS is unreachable and go out when it is back; at start every view is
//! published once, so a restarted site is heard at once.
//!
//! Hears (every node, so each can show every site's view and any can take over as
//! leader): the heartbeats, every site's views and the leader's verdicts.
//!
//! Push monitors: a webhook reaches one node, but every site's push engine must hear
//! it (or the others would declare the monitor DOWN at its deadline), so each report a
//! node accepts is relayed on `upbot.push.<id>` (plain NATS, no stream: a lost relay is
//! one site's late verdict, which the quorum absorbs) and applied by the other nodes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::nats::{SITES, Seen, VERDICTS};
use super::{Beat, Inner, Lease, SITE_BEAT, SiteRecord, SiteSeen, Verdict, View, id_after, lock};
use crate::domain::MonitorId;

/// Starts every task of this module.
pub(super) fn spawn(inner: &Arc<Inner>) {
    let queue = Arc::new(Queue::default());
    spawn_loop(inner, "heartbeat", |inner| async move { beat(&inner).await });
    {
        let q = queue.clone();
        spawn_loop(inner, "own views", move |inner| {
            let q = q.clone();
            async move { watch_own(&inner, &q).await }
        });
    }
    {
        let q = queue;
        spawn_loop(inner, "publishing views", move |inner| {
            let q = q.clone();
            async move { publish_views(&inner, &q).await }
        });
    }
    spawn_loop(
        inner,
        "following views",
        |inner| async move { follow_views(&inner).await },
    );
    spawn_loop(
        inner,
        "following sites",
        |inner| async move { follow_sites(&inner).await },
    );
    spawn_loop(inner, "following verdicts", |inner| async move {
        follow_verdicts(&inner).await
    });
    relay_push(inner);
    spawn_loop(inner, "relayed push reports", |inner| async move {
        apply_relayed(&inner).await
    });
}

/// A push report relayed to the other nodes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Relayed {
    node: String,
    signal: crate::push::Signal,
}

/// Hands every push report this node accepts to the other nodes.
fn relay_push(inner: &Arc<Inner>) {
    let Some(svc) = inner.service() else { return };
    let (client, node) = (inner.nats.client.clone(), inner.node.clone());
    svc.push().set_relay(Box::new(move |id, signal| {
        let msg = Relayed {
            node: node.clone(),
            signal: signal.clone(),
        };
        let Ok(body) = serde_json::to_vec(&msg) else { return };
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.publish(format!("upbot.push.{id}"), body.into()).await {
                tracing::debug!(monitor = %id, error = %e, "push report not relayed");
            }
        });
    }));
}

/// Applies the push reports other nodes accepted.
async fn apply_relayed(inner: &Inner) -> Result<(), String> {
    let Some(svc) = inner.service() else {
        return Err("no service yet".into());
    };
    let mut sub = inner
        .nats
        .client
        .subscribe("upbot.push.*")
        .await
        .map_err(|e| e.to_string())?;
    while let Some(m) = futures_util::StreamExt::next(&mut sub).await {
        let Some(id) = m
            .subject
            .as_str()
            .strip_prefix("upbot.push.")
            .and_then(|i| i.parse().ok())
        else {
            continue;
        };
        let Ok(r) = serde_json::from_slice::<Relayed>(&m.payload) else {
            continue;
        };
        if r.node == inner.node {
            continue;
        }
        match svc.push().report_relayed(MonitorId(id), r.signal.clone()).await {
            Err(crate::push::PushError::NotFound) => {
                // A report sent right after the `add` can outrun the monitor's own
                // replication to this node: try again while it arrives, or that site
                // would wait for the next heartbeat (a day for a nightly job).
                let svc = svc.clone();
                tokio::spawn(async move {
                    for _ in 0..RELAY_RETRIES {
                        tokio::time::sleep(RELAY_RETRY_EVERY).await;
                        match svc.push().report_relayed(MonitorId(id), r.signal.clone()).await {
                            Err(crate::push::PushError::NotFound) => {}
                            Err(e) => {
                                tracing::debug!(monitor = id, error = %e, "a relayed push report was not applied");
                                return;
                            }
                            Ok(_) => return,
                        }
                    }
                    tracing::debug!(
                        monitor = id,
                        "a relayed push report for a monitor this node never saw was dropped"
                    );
                });
            }
            Err(e) => tracing::debug!(monitor = id, error = %e, "a relayed push report was not applied"),
            Ok(_) => {}
        }
    }
    Err("the subscription ended".into())
}

/// A relayed report for a monitor not here yet is tried this many times more…
const RELAY_RETRIES: u32 = 20;
/// …this often (so for 5 s: replication takes milliseconds, a second at worst).
const RELAY_RETRY_EVERY: Duration = Duration::from_millis(250);

/// Runs `f` until the layer stops, again a second after each failure.
pub(super) fn spawn_loop<F, Fut>(inner: &Arc<Inner>, what: &'static str, f: F)
where
    F: Fn(Arc<Inner>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let inner = inner.clone();
    inner.tasks.clone().spawn(async move {
        loop {
            tokio::select! {
                () = inner.stop.cancelled() => return,
                r = f(inner.clone()) => match r {
                    Ok(()) => return,
                    Err(e) => tracing::debug!(task = what, error = %e, "cluster task failed; again shortly"),
                },
            }
            tokio::select! {
                () = inner.stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

/// This site's heartbeat.
async fn beat(inner: &Inner) -> Result<(), String> {
    let mut tick = tokio::time::interval(SITE_BEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !inner.nats.connected() {
            continue;
        }
        let beat = Beat {
            node: inner.node.clone(),
            leading: *inner.leading.borrow(),
        };
        let v = serde_json::to_vec(&beat).map_err(|e| e.to_string())?;
        if let Err(e) = inner.nats.sites.put(&inner.site, v.into()).await {
            tracing::debug!(error = %e, "heartbeat not sent");
        }
    }
}

/// This site's views waiting to be published: the latest per monitor.
#[derive(Default)]
struct Queue {
    views: Mutex<BTreeMap<MonitorId, View>>,
    wake: Notify,
}

impl Queue {
    fn put(&self, id: MonitorId, v: View) {
        lock(&self.views).insert(id, v);
        self.wake.notify_one();
    }
}

/// Queues this site's view of every monitor it probes, then each committed change.
async fn watch_own(inner: &Inner, q: &Queue) -> Result<(), String> {
    let Some(svc) = inner.service() else {
        return Err("no service yet".into());
    };
    let mut states = svc.events().subscribe().state;
    for m in svc.monitors() {
        if m.probed_from(&inner.site) {
            let h = svc.site_health(&m);
            q.put(
                m.id,
                View {
                    state: h.state,
                    reason: h.reason,
                    at_ms: h.since_ms,
                },
            );
        }
    }
    loop {
        let ev = match states.recv().await {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                // Cannot happen with the state channel's depth; if it did, publish all.
                return Err(format!("{n} state events missed"));
            }
        };
        if ev.oncall.is_some() {
            continue;
        }
        let probed = svc.monitor(ev.monitor_id).is_some_and(|m| m.probed_from(&inner.site));
        if probed {
            q.put(
                ev.monitor_id,
                View {
                    state: ev.to,
                    reason: ev.reason.clone(),
                    at_ms: ev.at_ms,
                },
            );
        }
    }
}

/// Publishes queued views while NATS is reachable; keeps them while it is not.
async fn publish_views(inner: &Inner, q: &Queue) -> Result<(), String> {
    loop {
        tokio::select! {
            () = q.wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if !inner.nats.connected() {
            continue;
        }
        let batch: Vec<(MonitorId, View)> = lock(&q.views).iter().map(|(k, v)| (*k, v.clone())).collect();
        for (id, view) in batch {
            let subject = format!("upbot.view.{}.{id}", inner.site);
            let body = serde_json::to_vec(&view).map_err(|e| e.to_string())?;
            let sent = match inner.nats.js.publish(subject, body.into()).await {
                Ok(ack) => ack.await.map(drop).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match sent {
                Ok(()) => {
                    let mut views = lock(&q.views);
                    if views.get(&id) == Some(&view) {
                        views.remove(&id);
                    }
                }
                Err(e) => {
                    tracing::debug!(monitor = %id, error = %e, "view not published; kept for later");
                    break;
                }
            }
        }
    }
}

/// Every site's views.
async fn follow_views(inner: &Inner) -> Result<(), String> {
    let mut f =
        super::nats::Follower::open(&inner.nats, &inner.nats.views, "upbot.view.>", "upbot.view.", true).await?;
    loop {
        match f.next().await? {
            Seen::CaughtUp => inner.known().caught_up.views = true,
            Seen::Item(it) => {
                let Some((site, id)) = it.key.split_once('.') else {
                    continue;
                };
                let Ok(id) = id.parse::<u64>().map(MonitorId) else {
                    continue;
                };
                let view = if it.deleted || it.value.is_empty() {
                    None
                } else {
                    serde_json::from_slice::<View>(&it.value).ok()
                };
                {
                    let mut known = inner.known();
                    let views = known.views.entry(id).or_default();
                    match view {
                        Some(v) => {
                            views.insert(site.to_string(), v);
                        }
                        None => {
                            views.remove(site);
                        }
                    }
                }
                inner.views_changed.notify_one();
            }
        }
    }
}

/// Every site's heartbeat.
async fn follow_sites(inner: &Inner) -> Result<(), String> {
    let mut f = inner.nats.follow_bucket(SITES).await?;
    loop {
        match f.next().await? {
            Seen::CaughtUp => inner.known().caught_up.sites = true,
            Seen::Item(it) => {
                let mut known = inner.known();
                if it.deleted {
                    known.sites.remove(&it.key);
                } else if serde_json::from_slice::<Beat>(&it.value).is_ok() {
                    known.sites.insert(it.key.clone(), SiteSeen { last_ms: it.at_ms });
                }
            }
        }
    }
}

/// The leader's verdicts and site records (every node shows them).
async fn follow_verdicts(inner: &Inner) -> Result<(), String> {
    let mut f = inner.nats.follow_bucket(VERDICTS).await?;
    loop {
        match f.next().await? {
            Seen::CaughtUp => inner.known().caught_up.verdicts = true,
            Seen::Item(it) => {
                let mut known = inner.known();
                if let Some(id) = id_after(&it.key, "monitor.") {
                    let newer = known.verdicts.get(&id).is_none_or(|(_, rev)| *rev < it.seq);
                    if !newer {
                        continue;
                    }
                    match (it.deleted, serde_json::from_slice::<Verdict>(&it.value)) {
                        (false, Ok(v)) => {
                            known.verdicts.insert(id, (v, it.seq));
                        }
                        _ => {
                            known.verdicts.remove(&id);
                        }
                    }
                } else if let Some(site) = it.key.strip_prefix("site.") {
                    match (it.deleted, serde_json::from_slice::<SiteRecord>(&it.value)) {
                        (false, Ok(r)) => {
                            known.site_records.insert(site.to_string(), (r, it.seq));
                        }
                        _ => {
                            known.site_records.remove(site);
                        }
                    }
                }
            }
        }
    }
}

/// Reads who holds the lease now (for `/healthz` on every node).
pub(super) async fn read_leader(inner: &Inner) {
    if let Ok(Some(e)) = inner.nats.lease.entry("leader").await {
        let lease = (e.operation == async_nats::jetstream::kv::Operation::Put)
            .then(|| serde_json::from_slice::<Lease>(&e.value).ok())
            .flatten();
        inner.known().leader = lease;
    } else {
        inner.known().leader = None;
    }
}
