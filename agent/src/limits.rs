//! Rate limits on the API: one token bucket per session (patient or staff token, whichever the
//! request carries) and one per client address, so a single session cannot hammer the model and
//! many sessions from one address cannot either. Over a limit the answer is 429 with
//! Retry-After and an OperationOutcome. Health, readiness, metrics and static pages are routed
//! outside this layer (see `routes::router`).
//!
//! The client address is the socket's peer, unless that peer is a configured trusted proxy: then
//! it is the nearest `X-Forwarded-For` hop that is not itself a trusted proxy.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The `[limits]` settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Sustained requests per minute one session may make.
    pub session_per_minute: u32,
    /// Requests one session may make at once before the sustained rate applies.
    pub session_burst: u32,
    /// Sustained requests per minute from one client address (all its sessions together).
    pub address_per_minute: u32,
    pub address_burst: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed; empty: the socket address counts.
    #[serde(default)]
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for LimitSettings {
    /// The shipped defaults (the same as `config/base.toml`).
    fn default() -> Self {
        Self { session_per_minute: 60, session_burst: 100, address_per_minute: 600, address_burst: 300, trusted_proxies: vec![] }
    }
}

impl LimitSettings {
    /// Which key is wrong, and why, when a setting is unusable.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let checks = [
            ("limits.session_per_minute", self.session_per_minute),
            ("limits.session_burst", self.session_burst),
            ("limits.address_per_minute", self.address_per_minute),
            ("limits.address_burst", self.address_burst),
        ];
        checks.into_iter().find(|(_, v)| *v == 0).map(|(k, _)| (k, "must be at least 1"))
    }
}

/// The two keyed limiters; cheap to clone (shared state).
#[derive(Clone)]
pub struct Limiters {
    sessions: Arc<DefaultKeyedRateLimiter<[u8; 32]>>,
    addresses: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    trusted_proxies: Arc<Vec<IpAddr>>,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl Limiters {
    /// Fresh limiters; a background task drops idle keys every minute while they are in use.
    pub fn new(s: &LimitSettings) -> Self {
        let limiters = Self {
            sessions: Arc::new(RateLimiter::keyed(quota(s.session_per_minute, s.session_burst))),
            addresses: Arc::new(RateLimiter::keyed(quota(s.address_per_minute, s.address_burst))),
            trusted_proxies: Arc::new(s.trusted_proxies.clone()),
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(sweep(Arc::downgrade(&limiters.sessions), Arc::downgrade(&limiters.addresses)));
        }
        limiters
    }

    /// The client address of a request (see module docs).
    pub fn client_addr(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        client_addr(&self.trusted_proxies, peer, headers)
    }
}

/// The client address by the module's rule: the socket's peer, or behind trusted proxies the
/// nearest `X-Forwarded-For` hop that is not one. The rate limits and the audit records'
/// `source` both use this.
pub fn client_addr(trusted_proxies: &[IpAddr], peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
    let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.into_iter().rev().find(|h| !trusted_proxies.contains(h)).unwrap_or(peer)
}

tokio::task_local! {
    /// The client address of the request being served, set for every request by the outermost
    /// middleware (`routes::observe`), read when an audit record is written.
    pub static CLIENT_ADDR: IpAddr;
}

/// The current request's client address, for audit records; `None` outside a request (CLI).
pub fn current_client_addr() -> Option<String> {
    CLIENT_ADDR.try_with(|a| a.to_string()).ok()
}

/// Forgets keys whose buckets are full again, so memory follows current traffic.
async fn sweep(sessions: Weak<DefaultKeyedRateLimiter<[u8; 32]>>, addresses: Weak<DefaultKeyedRateLimiter<IpAddr>>) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let (Some(s), Some(a)) = (sessions.upgrade(), addresses.upgrade()) else { return };
        s.retain_recent();
        s.shrink_to_fit();
        a.retain_recent();
        a.shrink_to_fit();
    }
}

/// The hash of the session token a request carries (bearer, patient or staff cookie), if any.
fn session_key(headers: &HeaderMap) -> Option<[u8; 32]> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let token = bearer.or_else(|| {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == crate::session::COOKIE_NAME || *k == crate::staff::auth::COOKIE_NAME)
            .map(|(_, v)| v.to_owned())
    })?;
    Some(Sha256::digest(token.as_bytes()).into())
}

/// Whole seconds to wait, rounded up, at least 1.
fn retry_after(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The layer: the address's bucket first, then the session's (a request without a session
/// token only counts against its address).
pub async fn enforce(State(limits): State<Limiters>, req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let addr = limits.client_addr(peer, req.headers());
    // The limiter's own clock: making a new one per request probes the CPU (cpuid) each time.
    let now = limits.addresses.clock().now();
    let verdict = limits.addresses.check_key(&addr).and_then(|()| match session_key(req.headers()) {
        Some(key) => limits.sessions.check_key(&key),
        None => Ok(()),
    });
    if let Err(not_until) = verdict {
        let wait = retry_after(not_until.wait_time_from(now)).max(1);
        return ApiError::TooManyRequests { retry_after: wait }.into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> Limiters {
        let s = LimitSettings { trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(), ..LimitSettings::default() };
        Limiters::new(&s)
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(limits(&[]).client_addr(Some(peer), &xff("1.2.3.4")), peer, "no proxy configured: the socket");
        let behind = limits(&["10.0.0.5", "10.0.0.6"]);
        assert_eq!(behind.client_addr(Some(peer), &xff("9.9.9.9, 1.2.3.4, 10.0.0.6")), "1.2.3.4".parse::<IpAddr>().unwrap());
        let stranger: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(behind.client_addr(Some(stranger), &xff("1.2.3.4")), stranger, "an untrusted peer cannot pick its address");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after(Duration::from_secs(3)), 3);
    }

    #[test]
    fn a_zero_limit_is_a_config_error() {
        let s = LimitSettings { session_burst: 0, ..LimitSettings::default() };
        assert_eq!(s.problem().unwrap().0, "limits.session_burst");
        assert!(LimitSettings::default().problem().is_none());
    }
}
