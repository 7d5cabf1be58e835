//! HTTP(S) probes: one request (following up to [`MAX_REDIRECTS`] redirects), its
//! status, keyword, response time and the server certificate's expiry.
//!
//! The client is hyper's pooled client (hyper-util), shared by every http monitor,
//! with our own connector:
//! - Names are resolved through the probes' DNS cache, and for a chat-added monitor
//!   every address is checked against `UPBOT_CHAT_TARGETS` right before connecting,
//!   on every hop, redirects included: the address checked is the address connected
//!   to, so DNS rebinding gains nothing.
//! - TLS is rustls (ring) with Mozilla's roots plus the operator's extra ones
//!   (`UPBOT_EXTRA_CA_FILE`). The connector reads the certificate's expiry off the
//!   handshake and hands it to every response of that connection; a failed handshake
//!   says why (expired, unknown issuer, wrong name).
//! - Failure reasons are English texts that [`crate::i18n::reason`] recognises to
//!   translate for a chat: a reworded text needs the same change there.
//! - Four pools, by trust: verified or not (`tls_verify=false`) × chat-added or not. A
//!   connection opened without verification, or without the chat policy, must never
//!   serve a monitor that needs them. No process-wide lock: each pool is built once.
//!
//! Connection reuse that does not hide a dead server: a connection serves requests
//! for at most [`CONN_MAX_AGE`] and then is closed, so a server that stopped accepting
//! connections (but still answers on old ones), or renewed its certificate, is seen
//! within a minute; a request that fails on a reused connection (the server closed it
//! as we sent) is retried once at once, so keep-alive races never count as failures.
//!
//! Everything runs on the probe engine's current-thread runtime: the pool's
//! connection tasks are spawned with `tokio::spawn` from inside the probe, so they
//! live on the runtime that drives the probes.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, capture_connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::dns::Resolver;
use super::{Answer, Checked, Degraded, ProbeFailure};
use crate::domain::kinds::{CertVerdict, HttpMethod, HttpSettings, cert_verdict};
use crate::domain::{TargetPolicy, now_ms};

/// Redirects followed before the probe fails.
pub const MAX_REDIRECTS: usize = 5;
/// Most of a body read (the keyword is looked for in this much).
pub const MAX_BODY: usize = 1 << 20;
/// How long one connection serves requests before it is closed.
pub const CONN_MAX_AGE: Duration = Duration::from_secs(60);
/// Most of a redirect's body read so its connection can be reused.
const MAX_REDIRECT_BODY: usize = 64 << 10;
/// What the probe says it is.
const USER_AGENT: &str = concat!("upbot/", env!("CARGO_PKG_VERSION"), " (uptime monitor)");

type HttpClient = Client<Connector, Empty<Bytes>>;

/// The http probe: one shared client (four pools by trust, see the module docs).
/// Cheap to clone.
#[derive(Clone)]
pub struct HttpProber {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: Resolver,
    /// `UPBOT_CHAT_TARGETS`, shared with the scheduler (set once, after start).
    policy: Arc<OnceLock<TargetPolicy>>,
    /// Extra trusted roots (`UPBOT_EXTRA_CA_FILE`); read when the pools are built.
    extra_roots: OnceLock<Vec<CertificateDer<'static>>>,
    /// Indexed by `chat * 2 + verify`.
    pools: [OnceLock<HttpClient>; 4],
    /// [`CONN_MAX_AGE`] (tests shorten it).
    max_age: Duration,
}

impl std::fmt::Debug for HttpProber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProber").finish_non_exhaustive()
    }
}

/// What the connector learned about a connection, handed to each of its responses.
#[derive(Debug, Clone)]
struct ConnInfo {
    /// When it was opened.
    opened: Instant,
    /// The server certificate's `notAfter`, ms since the epoch (https only).
    not_after_ms: Option<i64>,
}

impl HttpProber {
    /// A prober resolving through `resolver`; chat-added monitors obey `policy` (the
    /// default policy while it is unset).
    pub fn new(resolver: Resolver, policy: Arc<OnceLock<TargetPolicy>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                resolver,
                policy,
                extra_roots: OnceLock::new(),
                pools: Default::default(),
                max_age: CONN_MAX_AGE,
            }),
        }
    }

    /// The same prober with connections kept at most `max_age` (tests; the default is
    /// [`CONN_MAX_AGE`]). Call before the first probe.
    pub fn with_conn_max_age(self, max_age: Duration) -> Self {
        let inner = Arc::new(Inner {
            resolver: self.inner.resolver.clone(),
            policy: self.inner.policy.clone(),
            extra_roots: self.inner.extra_roots.clone(),
            pools: Default::default(),
            max_age,
        });
        Self { inner }
    }

    /// Trusts `roots` too, besides Mozilla's (`UPBOT_EXTRA_CA_FILE`). Call before the
    /// first https probe; later calls change nothing (and say so).
    pub fn set_extra_roots(&self, roots: Vec<CertificateDer<'static>>) {
        if self.inner.extra_roots.set(roots).is_err() || self.inner.pools.iter().any(|p| p.get().is_some()) {
            tracing::warn!("extra CA roots set after the first http probe; they do not apply");
        }
    }

    /// One probe of `s` within `timeout`. `chat`: the monitor was added from a chat
    /// (every address it reaches must pass `UPBOT_CHAT_TARGETS`).
    pub async fn probe(&self, s: &HttpSettings, chat: bool, timeout: Duration) -> Checked {
        let started = Instant::now();
        match tokio::time::timeout(timeout, self.fetch(s, chat, started)).await {
            Ok(r) => r,
            Err(_) => Err(ProbeFailure::timed_out(timeout)),
        }
    }

    fn pool(&self, chat: bool, verify: bool) -> &HttpClient {
        let i = usize::from(chat) * 2 + usize::from(verify);
        self.inner.pools[i].get_or_init(|| {
            let roots = self.inner.extra_roots.get().map(Vec::as_slice).unwrap_or_default();
            let connector = Connector {
                resolver: self.inner.resolver.clone(),
                policy: chat.then(|| self.inner.policy.clone()),
                tls: TlsConnector::from(Arc::new(tls_config(verify, roots))),
            };
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(self.inner.max_age)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .build(connector)
        })
    }

    async fn fetch(&self, s: &HttpSettings, chat: bool, started: Instant) -> Checked {
        let client = self.pool(chat, s.tls_verify);
        let mut url = s.url.clone();
        // The earliest certificate expiry met on the way (every https hop counts).
        let mut not_after: Option<i64> = None;
        for hop in 0..=MAX_REDIRECTS {
            let resp = send(client, s.method, &url, self.inner.max_age).await?;
            if let Some(t) = resp.extensions().get::<ConnInfo>().and_then(|i| i.not_after_ms) {
                not_after = Some(not_after.map_or(t, |n| n.min(t)));
            }
            let status = resp.status();
            if status.is_redirection() && !s.expect.contains(status.as_u16()) {
                if let Some(loc) = resp.headers().get(hyper::header::LOCATION) {
                    if hop == MAX_REDIRECTS {
                        return Err(ProbeFailure::other(format!("more than {MAX_REDIRECTS} redirects")));
                    }
                    let next = follow(&url, loc)?;
                    // Read a little so the connection can serve the next request.
                    let _ = read_capped(resp.into_body(), MAX_REDIRECT_BODY).await;
                    url = next;
                    continue;
                }
            }
            let body = match s.method {
                HttpMethod::Head => Vec::new(),
                HttpMethod::Get => read_capped(resp.into_body(), MAX_BODY).await?,
            };
            let rtt = started.elapsed();
            if !s.expect.contains(status.as_u16()) {
                let name = status.canonical_reason().map(|r| format!(" {r}")).unwrap_or_default();
                return Err(ProbeFailure::other(format!(
                    "HTTP {}{name} (expected {})",
                    status.as_u16(),
                    s.expect
                )));
            }
            if let Some(why) = s.keyword.as_ref().and_then(|k| k.check(&body)) {
                return Err(ProbeFailure::other(why));
            }
            let mut reasons = Vec::new();
            let verdict = not_after.map(|t| cert_verdict(t, now_ms(), s.cert_days));
            let step = verdict.as_ref().and_then(CertVerdict::level);
            match verdict {
                Some(CertVerdict::Expired(why)) => return Err(ProbeFailure::other(why)),
                Some(CertVerdict::Expiring { reason, .. }) => reasons.push(reason),
                Some(CertVerdict::Fine) | None => {}
            }
            if let Some(limit) = s.degraded.filter(|l| rtt > *l) {
                let took = Duration::from_millis(u64::try_from(rtt.as_millis()).unwrap_or(u64::MAX));
                reasons.push(format!(
                    "slow response: {} (degraded above {})",
                    crate::domain::duration::human(took),
                    crate::domain::duration::human(limit)
                ));
            }
            let degraded = (!reasons.is_empty()).then(|| Degraded {
                reason: reasons.join("; "),
                step,
            });
            return Ok(Answer { rtt, degraded });
        }
        Err(ProbeFailure::other(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

/// Sends one request; a failure on a reused connection is retried once (see the
/// module docs). A connection past `max_age` is not reused after this.
async fn send(
    client: &HttpClient,
    method: HttpMethod,
    url: &str,
    max_age: Duration,
) -> Result<Response<Incoming>, ProbeFailure> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ProbeFailure::other(format!("invalid URL {url}")))?;
    for attempt in 0..2 {
        let mut req = Request::builder()
            .method(method.as_str())
            .uri(uri.clone())
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::ACCEPT, "*/*")
            .body(Empty::new())
            .map_err(|_| ProbeFailure::other(format!("invalid URL {url}")))?;
        let conn = capture_connection(&mut req);
        let sent = Instant::now();
        match client.request(req).await {
            Ok(resp) => {
                let old = resp
                    .extensions()
                    .get::<ConnInfo>()
                    .is_some_and(|i| i.opened.elapsed() >= max_age);
                if old {
                    if let Some(c) = conn.connection_metadata().as_ref() {
                        c.poison();
                    }
                }
                return Ok(resp);
            }
            Err(e) => {
                let reused = e.connect_info().is_some_and(|c| {
                    let mut ext = hyper::http::Extensions::new();
                    c.get_extras(&mut ext);
                    ext.get::<ConnInfo>().is_some_and(|i| i.opened < sent)
                });
                if attempt == 0 && reused && !e.is_connect() {
                    tracing::debug!(error = %e, "request on a reused connection failed; retrying on another");
                    continue;
                }
                return Err(request_failure(&e));
            }
        }
    }
    Err(ProbeFailure::other("connection closed before the response"))
}

/// The URL a redirect's `Location` points to (relative to `base`), if it is http(s).
fn follow(base: &str, loc: &hyper::header::HeaderValue) -> Result<String, ProbeFailure> {
    let loc = loc
        .to_str()
        .map_err(|_| ProbeFailure::other("redirect with an unreadable Location"))?;
    let next = url::Url::parse(base)
        .and_then(|b| b.join(loc))
        .map_err(|_| ProbeFailure::other(format!("redirect to an invalid URL {loc:?}")))?;
    match next.scheme() {
        "http" | "https" if next.host().is_some() => Ok(next.to_string()),
        _ => Err(ProbeFailure::other(format!(
            "redirect to a URL that is not http(s): {next}"
        ))),
    }
}

/// Reads at most `cap` bytes of a body; the rest is left unread (the connection is then
/// closed rather than reused).
async fn read_capped(mut body: Incoming, cap: usize) -> Result<Vec<u8>, ProbeFailure> {
    let mut buf = Vec::new();
    while buf.len() < cap {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame = frame.map_err(|e| hyper_failure(&e).unwrap_or_else(|| ProbeFailure::other("body read failed")))?;
        if let Ok(data) = frame.into_data() {
            let take = data.len().min(cap - buf.len());
            buf.extend_from_slice(&data[..take]);
        }
    }
    Ok(buf)
}

/// The person-readable reason of a failed request: the connector's own failure, or
/// what hyper or the socket said.
fn request_failure(e: &hyper_util::client::legacy::Error) -> ProbeFailure {
    let mut src: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = src {
        if let Some(f) = s.downcast_ref::<ProbeFailure>() {
            return f.clone();
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if let Some(f) = hyper_failure(h) {
                return f;
            }
        }
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return ProbeFailure::from_io(io);
        }
        src = s.source();
    }
    tracing::debug!(error = ?e, "http request failed");
    ProbeFailure::other("HTTP request failed")
}

fn hyper_failure(e: &hyper::Error) -> Option<ProbeFailure> {
    if let Some(io) = e.source().and_then(|s| s.downcast_ref::<io::Error>()) {
        return Some(ProbeFailure::from_io(io));
    }
    if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
        return Some(ProbeFailure::other("the server's answer is not valid HTTP"));
    }
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return Some(ProbeFailure::other("connection closed before the response"));
    }
    None
}

/// The rustls configuration of one pool: verifying against Mozilla's roots and
/// `extra`, or (`tls_verify=false`) accepting any certificate while still checking
/// the handshake's signatures.
fn tls_config(verify: bool, extra: &[CertificateDer<'static>]) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls's default protocol versions");
    let mut config = if verify {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let (added, ignored) = roots.add_parsable_certificates(extra.iter().cloned());
        if ignored > 0 {
            tracing::warn!(added, ignored, "some extra CA certificates could not be used");
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// `tls_verify=false`: any certificate is accepted (its expiry is still watched), the
/// handshake signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A certificate's `notAfter`, ms since the epoch.
fn not_after_ms(cert: &CertificateDer<'_>) -> Option<i64> {
    use x509_cert::der::Decode;
    let c = x509_cert::Certificate::from_der(cert.as_ref()).ok()?;
    i64::try_from(c.tbs_certificate.validity.not_after.to_unix_duration().as_millis()).ok()
}

/// Why a TLS handshake with `host` failed, as a person would say it.
fn tls_failure(e: &io::Error, host: &str) -> ProbeFailure {
    use rustls::CertificateError as C;
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return ProbeFailure::other("connection closed during the TLS handshake");
        }
        return ProbeFailure::from_io(e);
    };
    let text = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            C::ExpiredContext { not_after, .. } => {
                let ms = i64::try_from(not_after.as_secs().saturating_mul(1000)).unwrap_or(i64::MAX);
                match cert_verdict(ms, now_ms(), 0) {
                    CertVerdict::Expired(why) => why,
                    _ => "certificate expired".into(),
                }
            }
            C::Expired => "certificate expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate is not valid yet".into(),
            C::UnknownIssuer => {
                "certificate not trusted: unknown issuer (self-signed, or signed by a private CA)".into()
            }
            C::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
                let names: Vec<String> = presented.iter().map(|p| presented_name(p)).collect();
                format!("certificate is not valid for {host} (it is for {})", names.join(", "))
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => format!("certificate is not valid for {host}"),
            C::Revoked => "certificate revoked".into(),
            C::BadSignature => "certificate has a bad signature".into(),
            other => format!("invalid certificate: {other}"),
        },
        rustls::Error::AlertReceived(alert) => format!("TLS handshake refused by the server (alert {alert:?})"),
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
        other => format!("TLS handshake failed: {other}"),
    };
    ProbeFailure::other(text)
}

/// `DnsName("example.com")` → `example.com`, `IpAddress(192.0.2.1)` → `192.0.2.1`.
fn presented_name(p: &str) -> String {
    p.strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
        .or_else(|| p.strip_prefix("IpAddress(").and_then(|r| r.strip_suffix(')')))
        .unwrap_or(p)
        .to_string()
}

/// The connector of one pool: cached resolution, the chat policy on the address
/// actually connected to, TCP, and TLS for https.
#[derive(Clone)]
struct Connector {
    resolver: Resolver,
    /// Set for the chat pools.
    policy: Option<Arc<OnceLock<TargetPolicy>>>,
    tls: TlsConnector,
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = ProbeFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ProbeFailure>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.connect(uri).await })
    }
}

impl Connector {
    async fn connect(self, uri: Uri) -> Result<Conn, ProbeFailure> {
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .ok_or_else(|| ProbeFailure::other("URL without a host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs = self.resolver.resolve(&host).await?;
        let mut candidates: Vec<IpAddr> = addrs.iter().copied().filter(IpAddr::is_ipv4).collect();
        candidates.extend(addrs.iter().copied().filter(IpAddr::is_ipv6));
        if let Some(policy) = &self.policy {
            let policy = policy.get().unwrap_or_else(|| TargetPolicy::default_ref());
            let refusal = candidates.iter().find_map(|ip| policy.refusal(*ip));
            candidates.retain(|ip| policy.allows(*ip));
            if candidates.is_empty() {
                return Err(ProbeFailure::other(
                    refusal.unwrap_or_else(|| format!("{host}: no address allowed")),
                ));
            }
        }
        let mut last = ProbeFailure::dns("no addresses");
        let mut tcp = None;
        for ip in candidates {
            match TcpStream::connect(SocketAddr::new(ip, port)).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = ProbeFailure::from_io(&e),
            }
        }
        let tcp = tcp.ok_or(last)?;
        let _ = tcp.set_nodelay(true);
        let opened = Instant::now();
        if !https {
            return Ok(Conn {
                io: TokioIo::new(Stream::Plain(tcp)),
                info: ConnInfo {
                    opened,
                    not_after_ms: None,
                },
            });
        }
        let name = ServerName::try_from(host.clone())
            .map_err(|_| ProbeFailure::other(format!("{host} is not a valid TLS server name")))?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| tls_failure(&e, &host))?;
        let not_after_ms = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(not_after_ms);
        Ok(Conn {
            io: TokioIo::new(Stream::Tls(Box::new(tls))),
            info: ConnInfo { opened, not_after_ms },
        })
    }
}

/// A plain or TLS socket.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One connection as hyper sees it, carrying what the connector learned.
struct Conn {
    io: TokioIo<Stream>,
    info: ConnInfo,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new().extra(self.info.clone())
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

/// Reads PEM certificates (`UPBOT_EXTRA_CA_FILE`); the error says what is wrong.
pub fn read_pem_roots(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_read_plainly() {
        assert_eq!(presented_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(presented_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn redirects_resolve_relative_locations_and_refuse_other_schemes() {
        let hv = |s: &'static str| hyper::header::HeaderValue::from_static(s);
        assert_eq!(follow("http://a.test/x/y", &hv("/z")).unwrap(), "http://a.test/z");
        assert_eq!(
            follow("http://a.test/x/y", &hv("https://b.test:8443/q")).unwrap(),
            "https://b.test:8443/q"
        );
        assert_eq!(follow("http://a.test/x/y", &hv("w")).unwrap(), "http://a.test/x/w");
        let e = follow("http://a.test/", &hv("ftp://c.test/")).unwrap_err();
        assert_eq!(e.to_string(), "redirect to a URL that is not http(s): ftp://c.test/");
    }
}
