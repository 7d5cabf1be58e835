//! `GET /status/{slug}`: the public status pages `/page on` publishes (data from
//! [`Service::status_page`], HTML from [`crate::pictures::page`]).
//!
//! - An unknown or taken-down slug is 404 at once: the slug is checked before the
//!   cache, so `/page off` takes effect with the next request.
//! - A page is drawn at most once per [`CACHE_FOR`] (one drawing at a time, on the
//!   blocking pool: it reads 90 days of history per monitor) and served from memory
//!   in between.
//! - Floods get 429 with `Retry-After`, as the webhooks do: [`RATE_PER_MINUTE`] per
//!   page with bursts of [`RATE_BURST`].
//! - A drawn page is kept gzipped too and sent so to browsers that accept it (a page of
//!   100 monitors is about 1 MiB of HTML, a few dozen KiB compressed).
//! - The answer forbids every outside load (`Content-Security-Policy: default-src
//!   'none'`), so the page can neither run nor fetch anything even if a name on it
//!   tried to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{Refused, error, nonzero};
use crate::core::Service;
use crate::pictures::page::{Page, render};
use crate::store::PublishedPage;

/// How long a drawn page is served from memory.
pub const CACHE_FOR: Duration = Duration::from_secs(5);
/// Sustained requests per minute one page may get.
pub const RATE_PER_MINUTE: u32 = 300;
/// Requests one page may get in a burst.
pub const RATE_BURST: u32 = 60;
/// Seconds between the browser's reloads (`<meta http-equiv="refresh">`).
pub const REFRESH_SECS: u32 = 60;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Cached {
    at: Instant,
    /// The settings it was drawn with: a page whose options changed (targets hidden
    /// again) is drawn anew at once.
    page: PublishedPage,
    html: Drawn,
}

/// A drawn page, plain and gzipped.
#[derive(Clone)]
struct Drawn {
    plain: Arc<str>,
    gzip: Option<Arc<[u8]>>,
}

impl Drawn {
    fn new(html: String) -> Self {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let gzip = enc.write_all(html.as_bytes()).and_then(|()| enc.finish()).ok();
        Self {
            plain: html.into(),
            gzip: gzip.map(Into::into),
        }
    }
}

struct PageState {
    service: Service,
    cache: Mutex<HashMap<String, Cached>>,
    /// One drawing at a time; a request that waited finds the page drawn.
    drawing: tokio::sync::Mutex<()>,
    limiter: DefaultKeyedRateLimiter<String>,
}

impl PageState {
    fn cached(&self, page: &PublishedPage) -> Option<Drawn> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(&page.slug)
            .filter(|c| c.at.elapsed() < CACHE_FOR && c.page == *page)
            .map(|c| c.html.clone())
    }

    fn keep(&self, page: PublishedPage, html: Drawn) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|_, c| c.at.elapsed() < CACHE_FOR);
        cache.insert(
            page.slug.clone(),
            Cached {
                at: Instant::now(),
                page,
                html,
            },
        );
    }
}

/// The routes under `/status`, with their own state.
pub(super) fn routes(service: Service) -> Router {
    let quota = Quota::per_minute(nonzero(RATE_PER_MINUTE)).allow_burst(nonzero(RATE_BURST));
    let state = Arc::new(PageState {
        service,
        cache: Mutex::new(HashMap::new()),
        drawing: tokio::sync::Mutex::new(()),
        limiter: RateLimiter::keyed(quota),
    });
    Router::new()
        .route("/{slug}", get(page))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such status page") })
        .with_state(state)
}

async fn page(State(st): State<Arc<PageState>>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let Some(current) = st.service.pages().get(&slug) else {
        return error(StatusCode::NOT_FOUND, "no such status page");
    };
    if let Err(not_until) = st.limiter.check_key(&slug) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        return Refused {
            status: StatusCode::TOO_MANY_REQUESTS,
            msg: format!(
                "rate limit: at most {RATE_PER_MINUTE} requests per minute (bursts of {RATE_BURST}) per page; retry in {secs}s"
            ),
            retry_after: Some(secs),
        }
        .into_response();
    }
    let html = match st.cached(&current) {
        Some(h) => h,
        None => {
            let _one = st.drawing.lock().await;
            match st.cached(&current) {
                Some(h) => h,
                None => {
                    let (service, s) = (st.service.clone(), slug.clone());
                    let drawn = tokio::task::spawn_blocking(move || {
                        service.status_page(&s).map(|d| {
                            let html = Drawn::new(render(&Page {
                                title: &d.title,
                                generated_ms: d.generated_ms,
                                refresh_secs: REFRESH_SECS,
                                monitors: &d.monitors,
                            }));
                            (d.page, html)
                        })
                    })
                    .await;
                    match drawn {
                        Ok(Some((page, h))) => {
                            st.keep(page, h.clone());
                            h
                        }
                        // Taken down while it was being drawn.
                        Ok(None) => return error(StatusCode::NOT_FOUND, "no such status page"),
                        Err(e) => {
                            tracing::error!(error = %e, "drawing a status page failed");
                            return error(StatusCode::INTERNAL_SERVER_ERROR, "the page could not be drawn");
                        }
                    }
                }
            }
        }
    };
    let gzip_ok = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                matches!(
                    p.trim().replace(' ', "").as_str(),
                    "q=0" | "q=0.0" | "q=0.00" | "q=0.000"
                )
            });
            coding.eq_ignore_ascii_case("gzip") && !refused
        });
    let mut resp = match (&html.gzip, gzip_ok) {
        (Some(gz), true) => {
            let mut r = (StatusCode::OK, gz.to_vec()).into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        _ => (StatusCode::OK, html.plain.to_string()).into_response(),
    };
    let h = resp.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=5"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}
