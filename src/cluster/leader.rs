//! The leader's duties, and the role task that takes them up and puts them down as the
//! lease comes and goes.
//!
//! Taking over (the lease was won): wait until this node has read everything the
//! cluster has (records, views, verdicts, heartbeats); then bring the local outbox in
//! line with the cluster's outbox (rows another leader delivered meanwhile leave, rows
//! not here yet come in); then say [`super::Cluster::leading`], so the app starts the
//! bots' polling, the senders and the on-call clock. From then on:
//!
//! - **intake**: each new row of the cluster's outbox is copied into the local outbox
//!   (its stream sequence kept in the row);
//! - **verdicts**: every monitor, at each new view and every [`EVALUATE_EVERY`], goes
//!   through the quorum step into the monitor's cluster-wide health; a change is
//!   written to `upbot_verdicts` with compare-and-set; an announced one first puts its
//!   alert in the cluster's outbox, keyed `v.<id>.<n>` (the n-th announcement of the
//!   monitor), so a leader that dies between the two steps and its successor produce
//!   one row, not two (the stream drops a key it has seen);
//! - **sites**: a site that stops reporting (or comes back) is announced once to each
//!   chat whose monitors it probes.
//!
//! Delivered rows are deleted from the cluster's outbox ([`delivered`]) before they
//! leave the local outbox; if that fails, this node gives up the lease at once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::nats::{Follower, OUTBOX_SUBJECT, Seen};
use super::quorum::{self, Vote};
use super::{EVALUATE_EVERY, Inner, SILENT_INTERVALS, SITE_BEAT, SiteRecord, Verdict, lock, ms};
use crate::domain::oncall::Notice;
use crate::domain::{Health, Monitor, MonitorId, State, Transition, now_ms};
use crate::store::Alert;

/// How long taking over waits for this node to have read the cluster.
const CATCH_UP: Duration = Duration::from_secs(10);

/// Starts the role task.
pub(super) fn spawn(inner: &Arc<Inner>) {
    let inner = inner.clone();
    inner.tasks.clone().spawn(async move { role(&inner).await });
}

async fn role(inner: &Arc<Inner>) {
    let mut holding = inner.holding.subscribe();
    loop {
        let want = *holding.borrow_and_update();
        let leading = *inner.leading.borrow();
        let mut retry = false;
        if want && !leading {
            match take_over(inner).await {
                // The lease went while taking over: put the duties down again.
                Ok(token) if !*inner.holding.borrow() => token.cancel(),
                Ok(token) => {
                    *lock(&inner.duties) = Some(token);
                    tracing::info!(node = %inner.node, "leading: sending alerts and polling the bots");
                    inner.leading.send_replace(true);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "taking over as leader failed; trying again");
                    retry = true;
                }
            }
        } else if !want && leading {
            stop_leading(inner);
        }
        tokio::select! {
            () = inner.stop.cancelled() => {
                stop_leading(inner);
                return;
            }
            r = holding.changed() => if r.is_err() { return },
            () = tokio::time::sleep(Duration::from_secs(1)), if retry => {}
        }
    }
}

fn stop_leading(inner: &Inner) {
    if *inner.leading.borrow() {
        tracing::info!(node = %inner.node, "no longer leading");
    }
    inner.leading.send_replace(false);
    if let Some(t) = lock(&inner.duties).take() {
        t.cancel();
    }
}

/// Waits until this node has read the cluster, brings the outbox in line and starts the
/// duties; returns the token that ends them.
async fn take_over(inner: &Arc<Inner>) -> Result<CancellationToken, String> {
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    while !inner.known().caught_up.all() {
        if tokio::time::Instant::now() > deadline {
            return Err("this node has not read the whole cluster yet".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let svc = inner.service().ok_or("no service yet")?;
    let store = svc.store();
    // The cluster's outbox as it is now.
    let mut f = Follower::open(&inner.nats, &inner.nats.outbox, OUTBOX_SUBJECT, "", false).await?;
    let mut rows: Vec<(u64, Alert)> = Vec::new();
    loop {
        match tokio::time::timeout(CATCH_UP, f.next()).await {
            Err(_) => return Err("reading the cluster's outbox timed out".into()),
            Ok(r) => match r? {
                Seen::CaughtUp => break,
                Seen::Item(it) => rows.extend(decode_row(&it)),
            },
        }
    }
    let present: HashSet<u64> = rows.iter().map(|(s, _)| *s).collect();
    let local = store.outbox_rows().map_err(|e| e.to_string())?;
    let mut have: HashSet<u64> = HashSet::new();
    let mut gone = Vec::new();
    for (k, a) in &local {
        if let Some(s) = a.cluster_seq {
            if present.contains(&s) {
                have.insert(s);
            } else {
                gone.push(*k);
            }
        }
    }
    if !gone.is_empty() {
        store.outbox_forget(&gone).await.map_err(|e| e.to_string())?;
        tracing::info!(rows = gone.len(), "dropped rows another leader delivered");
    }
    let mut taken = 0;
    for (seq, a) in rows {
        if have.insert(seq) {
            store.outbox_ingest(&a).map_err(|e| e.to_string())?;
            taken += 1;
        }
    }
    store.flush().await.map_err(|e| e.to_string())?;
    tracing::info!(rows = taken, "took over the cluster's outbox");
    let token = inner.stop.child_token();
    {
        let (inner, token) = (inner.clone(), token.clone());
        inner
            .tasks
            .clone()
            .spawn(async move { intake(&inner, f, have, &token).await });
    }
    {
        let (inner, token) = (inner.clone(), token.clone());
        inner
            .tasks
            .clone()
            .spawn(async move { evaluate_loop(&inner, &token).await });
    }
    Ok(token)
}

/// A row of the cluster's outbox, with its sequence set.
fn decode_row(it: &super::nats::Item) -> Option<(u64, Alert)> {
    match serde_json::from_slice::<Alert>(&it.value) {
        Ok(mut a) => {
            a.cluster_seq = Some(it.seq);
            Some((it.seq, a))
        }
        Err(e) => {
            tracing::error!(seq = it.seq, error = %e, "a row of the cluster's outbox does not decode; skipped");
            None
        }
    }
}

/// Copies each new row of the cluster's outbox into the local outbox.
async fn intake(inner: &Inner, mut f: Follower, mut have: HashSet<u64>, token: &CancellationToken) {
    loop {
        let next = tokio::select! {
            () = token.cancelled() => return,
            n = f.next() => n,
        };
        match next {
            Ok(Seen::Item(it)) => {
                let Some((seq, a)) = decode_row(&it) else { continue };
                if !have.insert(seq) {
                    continue;
                }
                let Some(svc) = inner.service() else { continue };
                if let Err(e) = svc.store().outbox_ingest(&a) {
                    tracing::error!(error = %e, "a row of the cluster's outbox could not be taken in");
                    have.remove(&seq);
                }
            }
            Ok(Seen::CaughtUp) => {}
            Err(e) => {
                tracing::debug!(error = %e, "following the cluster's outbox failed; again shortly");
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                match Follower::open(&inner.nats, &inner.nats.outbox, OUTBOX_SUBJECT, "", false).await {
                    Ok(n) => f = n,
                    Err(e) => tracing::debug!(error = %e, "reopening the cluster's outbox failed"),
                }
            }
        }
    }
}

/// The cluster's outbox rows `seqs` were delivered (or dropped): delete them there. If
/// that cannot be done, this node stops leading at once (its successor would send them
/// again, and must not find this node still sending).
pub(super) async fn delivered(inner: &Inner, seqs: Vec<u64>) {
    for seq in seqs {
        let r = tokio::time::timeout(Duration::from_secs(3), inner.nats.outbox.delete_message(seq)).await;
        match r {
            Ok(Ok(_)) => {}
            // Deleted already (another leader delivered it).
            Ok(Err(e)) if e.to_string().contains("no message found") => {}
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".into(),
                };
                tracing::error!(seq, error = %why, "a delivery could not be recorded in the cluster; giving up the lease");
                inner.step_down.notify_one();
                return;
            }
        }
    }
}

async fn evaluate_loop(inner: &Inner, token: &CancellationToken) {
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = inner.views_changed.notified() => {}
            () = tokio::time::sleep(EVALUATE_EVERY) => {}
        }
        if !inner.nats.connected() {
            continue;
        }
        let Some(svc) = inner.service() else { continue };
        let monitors = svc.monitors();
        for m in &monitors {
            if token.is_cancelled() {
                return;
            }
            if let Err(e) = evaluate(inner, m).await {
                tracing::warn!(monitor = %m.id, error = %e, "cluster verdict not written; again at the next look");
            }
        }
        if let Err(e) = sites(inner, &monitors).await {
            tracing::warn!(error = %e, "site notices not written; again at the next look");
        }
        forget_deleted(inner, &monitors).await;
    }
}

/// The quorum step for one monitor; writes the cluster's verdict when it changed, after
/// putting its alert in the cluster's outbox.
async fn evaluate(inner: &Inner, m: &Monitor) -> Result<(), String> {
    let now = now_ms();
    let (before, rev, decision_input) = {
        let known = inner.known();
        let (v, rev) = match known.verdicts.get(&m.id) {
            Some((v, rev)) => (v.clone(), Some(*rev)),
            None => (
                Verdict {
                    health: Health::new(m.created_ms),
                    seq: 0,
                },
                None,
            ),
        };
        (v, rev, inner.votes(&known, m, now))
    };
    let mut h = before.health.clone();
    let mut transitions: Vec<Transition> = Vec::new();
    if m.paused {
        transitions.extend(h.pause(now));
    } else {
        if h.state == State::Paused {
            transitions.extend(h.resume(now));
        }
        let votes: Vec<Vote<'_>> = decision_input
            .iter()
            .map(|(site, view, counted)| Vote {
                site,
                state: view.as_ref().map(|v| v.state),
                reason: view.as_ref().map_or("", |v| v.reason.as_str()),
                counted: *counted,
            })
            .collect();
        if let Some(o) = quorum::decide(&votes, m.quorum).outcome {
            transitions.extend(h.observe(&o, 1, 1, now));
        }
    }
    // The streak counts every look (fails = recovers = 1 make it meaningless here):
    // keep it as it was, so a look that changes nothing writes nothing.
    h.streak_kind = before.health.streak_kind;
    h.streak = before.health.streak;
    if h == before.health {
        return Ok(());
    }
    let mut seq = before.seq;
    for t in transitions.iter().filter(|t| t.announce) {
        if let Some(a) = Alert::for_transition(m, t) {
            seq += 1;
            super::shared::publish(inner, &a, &format!("v.{}.{seq}", m.id))
                .await
                .map_err(|e| format!("{e:?}"))?;
        }
        tracing::info!(monitor = %m.id, from = %t.from, to = %t.to, reason = %t.reason, "cluster verdict");
    }
    let v = Verdict { health: h, seq };
    let body = serde_json::to_vec(&v).map_err(|e| e.to_string())?;
    let written = write_verdicts(inner, &format!("monitor.{}", m.id), body, rev).await?;
    inner.known().verdicts.insert(m.id, (v, written));
    Ok(())
}

/// Writes a record of `upbot_verdicts`, compare-and-set on `rev` (`None`: it must be
/// new); returns its revision.
async fn write_verdicts(inner: &Inner, key: &str, body: Vec<u8>, rev: Option<u64>) -> Result<u64, String> {
    let kv = &inner.nats.verdicts;
    match rev {
        Some(r) => kv.update(key, body.into(), r).await.map_err(|e| e.to_string()),
        None => kv.create(key, body.into()).await.map_err(|e| e.to_string()),
    }
}

/// Tells chats once when a site stops reporting, and once when it is back.
async fn sites(inner: &Inner, monitors: &[Monitor]) -> Result<(), String> {
    let now = now_ms();
    let (sites, records) = {
        let k = inner.known();
        (k.sites.clone(), k.site_records.clone())
    };
    for (site, seen) in &sites {
        let probed: Vec<&Monitor> = monitors
            .iter()
            .filter(|m| m.probed_from(site) && m.chat_id.is_some() && m.bot.is_some())
            .collect();
        let Some(shortest) = probed.iter().map(|m| m.interval).min() else {
            continue;
        };
        let window = ms(shortest.max(SITE_BEAT) * SILENT_INTERVALS);
        let lost = now.saturating_sub(seen.last_ms) > window;
        let (rec, rev) = records
            .get(site)
            .map(|(r, rev)| (r.clone(), Some(*rev)))
            .unwrap_or((SiteRecord::default(), None));
        if rec.lost == lost {
            continue;
        }
        let counting = sites
            .iter()
            .filter(|(s, seen)| *s != site && now.saturating_sub(seen.last_ms) <= window)
            .count();
        let mut told: BTreeMap<(String, i64, Option<i32>), &Monitor> = BTreeMap::new();
        for m in &probed {
            if let (Some(bot), Some(chat)) = (&m.bot, m.chat_id) {
                told.entry((bot.to_ascii_lowercase(), chat, m.thread_id)).or_insert(m);
            }
        }
        for ((_, chat, _), m) in &told {
            let h = inner
                .known()
                .verdicts
                .get(&m.id)
                .map(|(v, _)| v.health.clone())
                .unwrap_or_else(|| Health::new(m.created_ms));
            let notice = Notice::Site {
                site: site.clone(),
                lost,
                counting: u32::try_from(counting).unwrap_or(u32::MAX),
            };
            if let Some(a) = Alert::notice(m, &h, notice, h.state, now) {
                let id = format!("s.{site}.{}.{}.{chat}", rev.unwrap_or(0), u8::from(lost));
                super::shared::publish(inner, &a, &id)
                    .await
                    .map_err(|e| format!("{e:?}"))?;
            }
        }
        tracing::warn!(site = %site, lost, chats = told.len(), "site {}", if lost { "stopped reporting" } else { "reports again" });
        let body = serde_json::to_vec(&SiteRecord { lost }).map_err(|e| e.to_string())?;
        let written = write_verdicts(inner, &format!("site.{site}"), body, rev).await?;
        inner
            .known()
            .site_records
            .insert(site.clone(), (SiteRecord { lost }, written));
    }
    Ok(())
}

/// Verdicts and views of monitors that no longer exist are removed.
async fn forget_deleted(inner: &Inner, monitors: &[Monitor]) {
    let exist: HashSet<MonitorId> = monitors.iter().map(|m| m.id).collect();
    let gone: Vec<(MonitorId, u64)> = {
        let k = inner.known();
        k.verdicts
            .iter()
            .filter(|(id, _)| !exist.contains(id))
            .map(|(id, (_, rev))| (*id, *rev))
            .collect()
    };
    // Only monitors that had a verdict: the leader knew them, so they were deleted
    // (a monitor just added elsewhere may have views before its record arrives here).
    for (id, rev) in gone {
        let purged = inner.nats.views.purge().filter(format!("upbot.view.*.{id}")).await;
        if let Err(e) = purged {
            tracing::debug!(monitor = %id, error = %e, "removing a deleted monitor's views failed");
            continue;
        }
        let key = format!("monitor.{id}");
        match inner.nats.verdicts.delete_expect_revision(&key, Some(rev)).await {
            Ok(()) => {
                let mut k = inner.known();
                k.verdicts.remove(&id);
                k.views.remove(&id);
            }
            Err(e) => tracing::debug!(monitor = %id, error = %e, "removing a deleted monitor's verdict failed"),
        }
    }
}
