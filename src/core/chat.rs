//! Operations on a whole chat, asked for by the Telegram front: a group became a
//! supergroup (its monitors move to the new id), or a bot can no longer post in a chat
//! (its monitors there are paused).
//!
//! Both halt every affected monitor in its engine first (probe scheduler or push
//! engine alike), then read its state, write, and hand it back: a verdict cannot land
//! in between and be overwritten or announced twice, and push monitors learn their new
//! chat (or their pause) like probed ones.

use std::sync::Arc;

use super::error::CoreError;
use super::service::{Service, validate_chat_id};
use crate::domain::{Health, Monitor, MonitorId, now_ms};

impl Service {
    /// Moves every monitor of chat `old` to chat `new`, durably. Returns the monitors
    /// moved. Idempotent.
    pub async fn migrate_chat(&self, old: i64, new: i64) -> Result<Vec<MonitorId>, CoreError> {
        validate_chat_id(new)?;
        let _w = self.lock_writes().await;
        let moving: Vec<Monitor> = self.read_monitors(|all| {
            all.values()
                .filter(|m| m.chat_id == Some(old))
                .map(|m| Monitor::clone(m))
                .collect()
        });
        let halted = self.halt_all(&moving)?;
        let moved: Vec<(Monitor, Health)> = halted
            .iter()
            .map(|(m, h)| {
                let mut m = m.clone();
                m.chat_id = Some(new);
                (m, h.clone())
            })
            .collect();
        if !moved.is_empty() {
            if let Err(e) = self.store().put_monitors(&moved).await {
                self.hand_back(halted);
                return Err(e.into());
            }
        }
        for (m, _) in &moved {
            self.write_monitors(|all| all.insert(m.id, m.clone()));
        }
        let ids = moved.iter().map(|(m, _)| m.id).collect();
        tracing::info!(old_chat = old, new_chat = new, monitors = moved.len(), "chat migrated");
        self.hand_back(moved);
        // The chat's status page follows it, at the same address.
        if let Some(p) = self.pages().of_chat(old) {
            let page = crate::store::PublishedPage { chat_id: new, ..p };
            let stored = match self.store().put_page(&page).await {
                Ok(()) => self.store().delete_page(old).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match stored {
                Ok(()) => self.pages().put(page),
                Err(e) => tracing::error!(old_chat = old, new_chat = new, error = %e, "moving the status page failed"),
            }
        }
        Ok(ids)
    }

    /// Pauses every monitor of `bot` in `chat_id`, durably (the bot can no longer post
    /// there: kicked, blocked, chat deleted). Returns every monitor of that bot in that
    /// chat, including ones that were paused already.
    pub async fn pause_chat(&self, bot: &str, chat_id: i64) -> Result<Vec<MonitorId>, CoreError> {
        let _w = self.lock_writes().await;
        let owned: Vec<Monitor> = self.read_monitors(|all| {
            all.values()
                .filter(|m| m.chat_id == Some(chat_id) && m.bot.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(bot)))
                .map(|m| Monitor::clone(m))
                .collect()
        });
        let ids = owned.iter().map(|m| m.id).collect();
        let running: Vec<Monitor> = owned.into_iter().filter(|m| !m.paused).collect();
        let halted = self.halt_all(&running)?;
        let now = now_ms();
        let mut changed = Vec::new();
        let mut transitions = Vec::new();
        for (m, h) in &halted {
            let (mut m, mut h) = (m.clone(), h.clone());
            transitions.push(h.pause(now));
            m.paused = true;
            changed.push((m, h));
        }
        if !changed.is_empty() {
            if let Err(e) = self.store().put_monitors(&changed).await {
                self.hand_back(halted);
                return Err(e.into());
            }
        }
        for ((m, _), t) in changed.iter().zip(&transitions) {
            self.write_monitors(|all| all.insert(m.id, m.clone()));
            if let Some(t) = t {
                self.publish(m, t);
            }
            tracing::info!(monitor = %m.id, chat = chat_id, bot, "monitor paused: the bot can no longer post in its chat");
        }
        self.hand_back(changed);
        Ok(ids)
    }

    /// Halts each monitor and pairs it with the health it was halted in. On a failure
    /// the ones already halted are handed back before the error is returned.
    fn halt_all(&self, monitors: &[Monitor]) -> Result<Vec<(Monitor, Health)>, CoreError> {
        let mut out = Vec::with_capacity(monitors.len());
        for m in monitors {
            match self.halt(m) {
                Ok((h, _)) => out.push((m.clone(), h)),
                Err(e) => {
                    self.hand_back(out);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Gives each monitor back to its engine with its (new or unchanged) state.
    fn hand_back(&self, items: Vec<(Monitor, Health)>) {
        for (m, h) in items {
            self.engines().of(m.kind).upsert(Arc::new(m), h);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use crate::core::{AddRequest, Caller, Command, Reply, Service};
    use crate::domain::{Kind, State};
    use crate::events::EventBus;
    use crate::probe::icmp::{IcmpClients, Share};
    use crate::push::{Push, Signal};
    use crate::scheduler::Scheduler;
    use crate::store::Store;

    fn service(icmp: impl Fn(Share) -> IcmpClients) -> Service {
        let store = Store::temporary().unwrap();
        let events = EventBus::new();
        let metrics = crate::metrics::Metrics::new();
        let stop = CancellationToken::new();
        let scheduler =
            Scheduler::start_with(store.clone(), events.clone(), metrics.clone(), stop.clone(), icmp).unwrap();
        let push = Push::start(store.clone(), events.clone(), metrics.clone(), stop);
        Service::start(store, scheduler, push, events, metrics, "http://127.0.0.1:8766").unwrap()
    }

    fn chat(id: i64) -> Caller {
        Caller::Chat {
            chat_id: id,
            bot: "b".into(),
            thread_id: None,
            can_modify: true,
        }
    }

    async fn add(s: &Service, caller: &Caller, req: AddRequest) -> crate::core::MonitorView {
        match s.execute(caller, Command::Add(Box::new(req))).await.unwrap() {
            Reply::Added(v) => v,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_report_waits_while_its_monitor_is_halted_and_lands_on_the_moved_monitor() {
        let s = service(IcmpClients::for_share);
        let req = AddRequest {
            target: "nightly".into(),
            kind: Some(Kind::Push),
            ..AddRequest::default()
        };
        let v = add(&s, &chat(-42), req).await;
        let push = s.push().clone();
        let halted = push.halt(v.id).unwrap();
        assert_eq!(halted.state, State::Pending);
        let reporter = push.clone();
        let report = tokio::spawn(async move { reporter.report(v.id, Signal::Down(None)).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!report.is_finished(), "a report must not change a halted monitor");
        // What a migration does: write the moved monitor, hand it back.
        let mut m = push.lookup(v.webhook_url.unwrap().rsplit('/').next().unwrap()).unwrap();
        m.chat_id = Some(-1001000000042);
        push.upsert(m, halted);
        let ack = tokio::time::timeout(Duration::from_secs(5), report)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(ack.state, State::Down);
        let alerts = s.store().outbox("b").unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].1.chat_id, -1001000000042, "the alert goes to the new chat");
    }

    #[tokio::test]
    async fn migrating_a_chat_moves_probed_and_push_monitors_in_their_engines() {
        let s = service(IcmpClients::for_share);
        let tcp = add(
            &s,
            &chat(-43),
            AddRequest {
                target: "192.0.2.1:9".into(),
                interval: Some(Duration::from_secs(3600)),
                ..AddRequest::default()
            },
        )
        .await;
        let p = add(
            &s,
            &chat(-43),
            AddRequest {
                target: "job".into(),
                kind: Some(Kind::Push),
                ..AddRequest::default()
            },
        )
        .await;
        let moved = s.migrate_chat(-43, -1001000000043).await.unwrap();
        assert_eq!(moved, vec![tcp.id, p.id]);
        let e = s.engines();
        assert_eq!(e.scheduler.monitor(tcp.id).unwrap().chat_id, Some(-1001000000043));
        let token = p.webhook_url.unwrap().rsplit('/').next().unwrap().to_string();
        assert_eq!(e.push.lookup(&token).unwrap().chat_id, Some(-1001000000043));
        // Pausing the chat pauses both in their engines.
        let paused = s.pause_chat("b", -1001000000043).await.unwrap();
        assert_eq!(paused.len(), 2);
        assert_eq!(e.push.live(p.id).unwrap().state, State::Paused);
        assert_eq!(e.scheduler.live(tcp.id).unwrap().0.state, State::Paused);
    }

    #[tokio::test]
    async fn the_add_reply_warns_when_icmp_is_unavailable() {
        let s = service(|_| IcmpClients::unavailable("permission denied opening a raw ICMP socket"));
        let v = add(
            &s,
            &Caller::Operator,
            AddRequest {
                target: "192.0.2.7".into(),
                ..AddRequest::default()
            },
        )
        .await;
        assert_eq!(v.warnings.len(), 1, "{v:?}");
        assert!(
            v.warnings[0]
                .to_string()
                .starts_with("ICMP is unavailable on this server"),
            "{:?}",
            v.warnings
        );
        let text = crate::telegram::format::reply(&Reply::Added(v), &crate::telegram::format::Style::new("b", true), 0);
        assert!(text.contains("⚠️ ICMP is unavailable"), "{text}");
        let tcp = add(
            &s,
            &Caller::Operator,
            AddRequest {
                target: "192.0.2.7:22".into(),
                ..AddRequest::default()
            },
        )
        .await;
        assert!(tcp.warnings.is_empty(), "tcp needs no ICMP");
    }
}
