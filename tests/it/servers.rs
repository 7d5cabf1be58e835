//! Servers the http and dns probes are tested against, all on loopback and made at
//! test time: an HTTP(S) server (axum on hyper, TLS with certificates from a CA the
//! test creates with rcgen), a server that accepts and never answers, and a tiny UDP
//! DNS server (hickory-proto messages) with A, MX, TXT and CNAME records, NXDOMAIN,
//! SERVFAIL, an empty answer and a name it never answers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData, Record};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// A CA made for one test, and the certificates it signs.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A server certificate and its key.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn days(n: f64) -> time::Duration {
    time::Duration::seconds_f64(n * 86_400.0)
}

impl TestCa {
    pub fn new() -> Self {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, "upbot test CA");
        p.not_before = time::OffsetDateTime::now_utc() - days(30.0);
        p.not_after = time::OffsetDateTime::now_utc() + days(3650.0);
        let cert = p.self_signed(&key).expect("CA certificate");
        Self { cert, key }
    }

    /// The CA certificate in PEM (for `UPBOT_EXTRA_CA_FILE`).
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// A certificate for `names` valid from `from` to `until` days from now.
    pub fn leaf(&self, names: &[&str], from: f64, until: f64) -> Leaf {
        let (params, key) = leaf_params(names, from, until);
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("leaf certificate");
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

fn leaf_params(names: &[&str], from: f64, until: f64) -> (rcgen::CertificateParams, rcgen::KeyPair) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut p = rcgen::CertificateParams::new(names).expect("leaf params");
    p.not_before = time::OffsetDateTime::now_utc() + days(from);
    p.not_after = time::OffsetDateTime::now_utc() + days(until);
    (p, rcgen::KeyPair::generate().expect("leaf key"))
}

/// A self-signed certificate for `names`, valid for a year.
pub fn self_signed(names: &[&str]) -> Leaf {
    let (params, key) = leaf_params(names, -1.0, 365.0);
    let cert = params.self_signed(&key).expect("self-signed certificate");
    Leaf {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// The server side TLS configuration for `leaf`.
pub fn tls(leaf: Leaf) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut c = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .expect("server certificate");
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

/// An HTTP or HTTPS test server on a loopback address; stops (closing every
/// connection) when dropped.
pub struct HttpServer {
    pub addr: SocketAddr,
    /// Requests answered (any path).
    pub hits: Arc<AtomicUsize>,
    /// Connections accepted.
    pub conns: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    /// `http://addr/path` or `https://…` (with `host` instead of the address when given).
    pub fn url(&self, scheme: &str, host: Option<&str>, path: &str) -> String {
        let host = host.map_or_else(|| self.addr.ip().to_string(), str::to_string);
        format!("{scheme}://{host}:{}{path}", self.addr.port())
    }
}

/// The body `/big` serves: 2 MiB of `a`, then `needle`.
pub const BIG: usize = 2 << 20;

fn router() -> axum::Router {
    axum::Router::new()
        .route("/ok", get(|| async { "all good" }))
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                (StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT), "status")
            }),
        )
        .route(
            "/slow/{ms}",
            get(|Path(ms): Path<u64>| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "slow but fine"
            }),
        )
        .route(
            "/redirect/{n}",
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    "landed".into_response()
                } else {
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, format!("/redirect/{}", n - 1))],
                        "",
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/go",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let to = q.get("to").cloned().unwrap_or_default();
                (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)], "")
            }),
        )
        .route(
            "/big",
            get(|| async {
                let mut body = vec![b'a'; BIG];
                body.extend_from_slice(b"needle");
                body
            }),
        )
}

/// Starts an HTTP server (or HTTPS with `tls`) on `ip`, port 0.
pub async fn http_server(ip: &str, tls: Option<Arc<rustls::ServerConfig>>) -> HttpServer {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let conns = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = router().layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(req).await
            }
        },
    ));
    let accepted = conns.clone();
    let task = tokio::spawn(async move {
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        // Connections live in this task: stopping the server closes them all, as a
        // process that dies does.
        let mut open = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            while open.try_join_next().is_some() {}
            let svc = hyper_util::service::TowerToHyperService::new(app.clone());
            let acceptor = acceptor.clone();
            open.spawn(async move {
                let http = hyper::server::conn::http1::Builder::new();
                match acceptor {
                    Some(a) => {
                        // A client that refuses our certificate ends the handshake: fine.
                        if let Ok(s) = a.accept(tcp).await {
                            let _ = http.serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(hyper_util::rt::TokioIo::new(tcp), svc).await;
                    }
                }
            });
        }
    });
    HttpServer {
        addr,
        hits,
        conns,
        task,
    }
}

/// A server that accepts connections and never answers (keeps them open).
pub struct SilentServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn silent_server() -> SilentServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    SilentServer { addr, task }
}

/// A UDP DNS server on 127.0.0.1 for the zone `test.`; stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    /// Queries received, by name (`a.test.`).
    pub queries: Arc<Mutex<HashMap<String, usize>>>,
    /// What `a.test.` answers (the test may change it).
    pub a_records: Arc<Mutex<Vec<Ipv4Addr>>>,
    task: JoinHandle<()>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DnsServer {
    pub fn queries_for(&self, name: &str) -> usize {
        self.queries.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

/// Names: `a.test` A (192.0.2.10, 192.0.2.11 unless changed), `mx.test` MX
/// (10 mail.test), `txt.test` TXT, `alias.test` CNAME a.test, `nx.test` NXDOMAIN,
/// `fail.test` SERVFAIL, `empty.test` NOERROR without records, `drop.test` never
/// answered.
pub async fn dns_server() -> DnsServer {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let addr = sock.local_addr().expect("addr");
    let queries = Arc::new(Mutex::new(HashMap::new()));
    let a_records = Arc::new(Mutex::new(vec![
        Ipv4Addr::new(192, 0, 2, 10),
        Ipv4Addr::new(192, 0, 2, 11),
    ]));
    let (q, a) = (queries.clone(), a_records.clone());
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(query) = req.queries().first().cloned() else {
                continue;
            };
            let name = query.name().to_ascii().to_ascii_lowercase();
            *q.lock().unwrap().entry(name.clone()).or_insert(0) += 1;
            let mut resp = Message::new();
            resp.set_id(req.id())
                .set_message_type(MessageType::Response)
                .set_op_code(OpCode::Query)
                .set_recursion_desired(req.recursion_desired())
                .set_recursion_available(true)
                .add_query(query.clone());
            let owner = query.name().clone();
            let rec = |data: RData| Record::from_rdata(owner.clone(), 60, data);
            let parse = |s: &str| Name::from_ascii(s).expect("a name");
            match name.as_str() {
                "a.test." => {
                    for ip in a.lock().unwrap().iter() {
                        resp.add_answer(rec(RData::A(A(*ip))));
                    }
                }
                "mx.test." => {
                    resp.add_answer(rec(RData::MX(MX::new(10, parse("mail.test.")))));
                }
                "txt.test." => {
                    resp.add_answer(rec(RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()]))));
                }
                "alias.test." => {
                    resp.add_answer(rec(RData::CNAME(CNAME(parse("a.test.")))));
                }
                "nx.test." => {
                    resp.set_response_code(ResponseCode::NXDomain);
                }
                "fail.test." => {
                    resp.set_response_code(ResponseCode::ServFail);
                }
                "empty.test." => {}
                _ => continue, // drop.test and anything else: no answer
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = sock.send_to(&bytes, peer).await;
            }
        }
    });
    DnsServer {
        addr,
        queries,
        a_records,
        task,
    }
}
