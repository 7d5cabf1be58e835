//! The legacy (old Python tool) dialect, byte for byte over a real socket, with real
//! TCP checks against listeners the tests own.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::Duration;

use tokio::net::TcpListener;

use crate::helpers::{WAIT, skip_without_root, spawn_app};

#[tokio::test]
async fn legacy_replies_are_byte_exact() {
    let app = spawn_app(&[]).await;
    let mut c = app.ws().await;
    // Port 1 on loopback: nothing listens, so the check fails fast with "refused".
    c.send_text(r#"{"cmd":"monitor","host":"127.0.0.1:1","interval":60}"#)
        .await;
    assert_eq!(
        c.recv_text().await,
        r#"{"info":"Iniciando monitoramento de 127.0.0.1:1"}"#
    );
    assert_eq!(c.recv_text().await, r#"{"host":"127.0.0.1:1","tcp":false}"#);
    c.send_text(r#"{"cmd":"monitor","host":"127.0.0.1:1"}"#).await;
    assert_eq!(
        c.recv_text().await,
        r#"{"info":"127.0.0.1:1 ja está sendo monitorado"}"#
    );
    c.send_text(r#"{"cmd":"monitor"}"#).await;
    assert_eq!(c.recv_text().await, r#"{"error":"nenhum host fornecido"}"#);
    c.send_text(r#"{"cmd":"monitor","interval":3}"#).await;
    assert_eq!(c.recv_text().await, r#"{"error":"nenhum host fornecido"}"#);
    c.send_text(r#"{"cmd":"dance"}"#).await;
    assert_eq!(c.recv_text().await, r#"{"error":"comando invalido"}"#);
    c.send_text(r#"{"cmd":"monitor","host":"127.0.0.1:2","interval":"soon"}"#)
        .await;
    assert_eq!(c.recv_text().await, r#"{"error":"intervalo invalido"}"#);
    // the envelope dialect still works on the same socket
    let r = c.request("ping", serde_json::json!({})).await;
    assert_eq!(r["type"], "pong");
    app.stop().await;
}

#[tokio::test]
async fn legacy_probe_reports_true_and_false_on_port_443() {
    if skip_without_root("legacy_probe_reports_true_and_false_on_port_443") {
        return;
    }
    // The whole of 127.0.0.0/8 is loopback on Linux, so these need no set-up; 443 needs root.
    let listener = TcpListener::bind("127.0.0.77:443").await.expect("bind 127.0.0.77:443");
    let accept = tokio::spawn(async move {
        // Keep accepting so every check finds the port open.
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let app = spawn_app(&[]).await;
    let mut up = app.ws().await;
    up.send_text(r#"{"cmd":"monitor","host":"127.0.0.77","interval":1}"#)
        .await;
    assert_eq!(
        up.recv_text().await,
        r#"{"info":"Iniciando monitoramento de 127.0.0.77"}"#
    );
    assert_eq!(up.recv_text().await, r#"{"host":"127.0.0.77","tcp":true}"#);
    // and again one interval later
    assert_eq!(up.recv_text().await, r#"{"host":"127.0.0.77","tcp":true}"#);

    let mut down = app.ws().await;
    down.send_text(r#"{"cmd":"monitor","host":"127.0.0.78","interval":1}"#)
        .await;
    assert_eq!(
        down.recv_text().await,
        r#"{"info":"Iniciando monitoramento de 127.0.0.78"}"#
    );
    assert_eq!(down.recv_text().await, r#"{"host":"127.0.0.78","tcp":false}"#);
    accept.abort();
    app.stop().await;
}

#[tokio::test]
async fn legacy_monitors_end_with_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = spawn_app(&[]).await;
    let mut c = app.ws().await;
    c.send_text(&format!(r#"{{"cmd":"monitor","host":"{host}","interval":1}}"#))
        .await;
    assert_eq!(
        c.recv_text().await,
        format!(r#"{{"info":"Iniciando monitoramento de {host}"}}"#)
    );
    let result = format!(r#"{{"host":"{host}","tcp":true}}"#);
    for _ in 0..2 {
        let (s, _) = tokio::time::timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        drop(s);
        assert_eq!(c.recv_text().await, result);
    }
    c.ws.close(None).await.unwrap();
    drop(c);
    // Three intervals without a single connection attempt: the checks died with the session.
    match tokio::time::timeout(Duration::from_millis(3_200), listener.accept()).await {
        Err(_) => {}
        Ok(r) => panic!("a check ran after the client left: {r:?}"),
    }
    // Nothing of it was stored.
    let mut c = app.ws().await;
    let r = c.request("list", serde_json::json!({})).await;
    assert_eq!(r["data"]["monitors"], serde_json::json!([]));
    app.stop().await;
}
