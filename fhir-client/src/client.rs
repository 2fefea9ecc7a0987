//! `FhirClient`: typed FHIR interactions (read, search with paging, conditional create, PUT
//! with If-Match, transactions) on top of the retrying transport, plus SMART auth when
//! configured. The `Ehr` implementation in `ehr_impl` is written in terms of these.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{header, Method};
use serde_json::Value;

use crate::auth::SmartAuth;
use crate::config::{AuthConfig, FhirConfig};
use crate::flights::{Answered, Flights};
use crate::http::{batch_entry, Call, Idempotent, Reply, Transport};
use crate::lanes::{Batching, Entry, Lanes};
use crate::model::{Bundle, Resource};
use crate::stats::FhirStats;
use crate::{Error, Result};

/// At most this many pages are followed for one search (a runaway `next` chain stops here).
const MAX_PAGES: usize = 20;
/// After a failed look at the server's capabilities, the next one waits this long.
const RECHECK: Duration = Duration::from_secs(60);

/// A plain read as the lanes queue it: its URL and resource type.
type Read = (reqwest::Url, &'static str);

/// A FHIR R4 client for one server. Cheap to clone (shares the connection pool and counters).
#[derive(Clone)]
pub struct FhirClient {
    inner: Arc<Inner>,
}

struct Inner {
    base: reqwest::Url,
    transport: Transport,
    stats: Arc<FhirStats>,
    auth: Option<SmartAuth>,
    flights: Flights,
    lanes: Lanes<Read>,
    /// When batch support may next be looked up (`None`: not yet tried).
    next_check: Mutex<Option<Instant>>,
}

/// Result of a conditional create.
#[derive(Clone, Debug)]
pub struct Created<R> {
    pub resource: R,
    /// false when the server found an existing match (`If-None-Exist`) and created nothing.
    pub created: bool,
}

impl FhirClient {
    /// Builds a client; validates the config and loads the SMART key, if any (reads a file:
    /// call at startup, not on a hot async path).
    pub fn new(config: &FhirConfig) -> Result<Self> {
        config.validate()?;
        let invalid = |why: String| Error::Invalid { what: "fhir config", why };
        let timeout = Duration::from_millis(config.timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!config.allow_plain_http)
            .build()
            .map_err(|e| invalid(format!("http client: {e}")))?;
        let mut base = reqwest::Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|e| invalid(format!("base_url: {e}")))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let stats = Arc::new(FhirStats::default());
        let transport = Transport {
            http: http.clone(),
            max_attempts: config.max_attempts,
            backoff_base: Duration::from_millis(config.backoff_base_ms),
            backoff_max: Duration::from_millis(config.backoff_max_ms),
        };
        let auth = match &config.auth {
            AuthConfig::None => None,
            smart @ AuthConfig::Smart { .. } => Some(SmartAuth::new(smart)?),
        };
        let batching = if config.batch_reads { Batching::Unknown } else { Batching::No };
        let lanes = Lanes::new(config.max_in_flight, batching);
        let inner = Inner { base, transport, stats, auth, flights: Flights::default(), lanes, next_check: Mutex::new(None) };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The counters (shared; read with `snapshot()`).
    pub fn stats(&self) -> Arc<FhirStats> {
        self.inner.stats.clone()
    }

    /// The FHIR base URL, with a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    pub(crate) fn url(&self, path: &str, query: &[(&str, String)]) -> Result<reqwest::Url> {
        let mut url = self
            .inner
            .base
            .join(path)
            .map_err(|_| Error::Invalid { what: "request path", why: "does not join the base URL".into() })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Sends `call` in one of the places (see `lanes`). A plain GET may share an identical one
    /// in flight (see `flights`) or go in a batch; any other call, once finished, stops earlier
    /// reads from being shared.
    pub(crate) async fn send(&self, call: Call) -> Result<Reply> {
        if call.method == Method::GET && call.headers.is_empty() {
            let (answer, how) = self.inner.flights.read(call.url.as_str(), || self.send_read(&call)).await;
            if how == Answered::Joined {
                FhirStats::bump(&self.inner.stats.shared_reads);
            }
            return answer;
        }
        let _writing = self.inner.flights.writing();
        let _place = self.inner.lanes.place().await;
        self.send_alone(&call).await
    }

    /// A plain read: alone in a free place, or in a batch with the reads waiting for one.
    async fn send_read(&self, call: &Call) -> Result<Reply> {
        let lanes = &self.inner.lanes;
        if self.relative(&call.url).is_none() {
            let _place = lanes.place().await;
            return self.send_alone(call).await;
        }
        if lanes.batching() == Batching::Unknown && lanes.full() {
            self.learn_batching().await;
        }
        let alone = |(url, what): Read| async move { self.send_alone(&self.call(Method::GET, url, what)).await };
        lanes.read((call.url.clone(), call.what), alone, |reads| self.send_batch(reads)).await
    }

    /// Sends `reads` as one `batch` Bundle; one entry per read, in order.
    async fn send_batch(&self, reads: Vec<Read>) -> Result<Vec<Entry>> {
        let entries: Vec<Value> = reads
            .iter()
            .map(|(url, _)| serde_json::json!({ "request": { "method": "GET", "url": self.relative(url) } }))
            .collect();
        let mut call = self.call(Method::POST, self.inner.base.clone(), "Bundle");
        call.body = Some(serde_json::json!({ "resourceType": "Bundle", "type": "batch", "entry": entries }));
        // Not retried: if it fails, each read is sent alone with its own retries (see `lanes`).
        call.idempotent = Idempotent::No;
        FhirStats::bump(&self.inner.stats.batches);
        let body = self.send_alone(&call).await?.body.unwrap_or_default();
        if body.get("type").and_then(Value::as_str) != Some("batch-response") {
            return Err(Error::Protocol("the answer to a batch is not a batch-response".into()));
        }
        let answers = body.get("entry").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let stats = &self.inner.stats;
        let entry = |(answer, (_, what)): (&Value, &Read)| match batch_entry(answer, what) {
            Some(answer) => {
                FhirStats::bump(match &answer {
                    Ok(_) => &stats.batched_reads,
                    Err(Error::Protocol(_)) => &stats.failures,
                    Err(_) => &stats.rejections,
                });
                Entry::Answer(answer)
            }
            None => Entry::Alone,
        };
        Ok(answers.iter().zip(&reads).map(entry).collect())
    }

    /// `url` relative to the FHIR base (how a batch entry names it); `None` if not under it.
    fn relative<'u>(&self, url: &'u reqwest::Url) -> Option<&'u str> {
        url.as_str().strip_prefix(self.inner.base.as_str())
    }

    /// Reads the server's CapabilityStatement to learn whether it takes batches. One caller at
    /// a time; after a failure, not again before `RECHECK`.
    async fn learn_batching(&self) {
        {
            let mut next = self.inner.next_check.lock().unwrap_or_else(|e| e.into_inner());
            if next.is_some_and(|at| Instant::now() < at) {
                return;
            }
            *next = Some(Instant::now() + RECHECK);
        }
        let Ok(url) = self.url("metadata", &[]) else { return };
        let call = self.call(Method::GET, url, "CapabilityStatement");
        let answer = {
            let _place = self.inner.lanes.place().await;
            self.send_alone(&call).await
        };
        if let Ok(Reply { body: Some(body), .. }) = answer {
            self.note_capabilities(&body);
        }
    }

    /// Records whether the server lists the `batch` interaction.
    fn note_capabilities(&self, statement: &Value) {
        let lanes = &self.inner.lanes;
        if lanes.batching() == Batching::No || statement.get("resourceType").and_then(Value::as_str) != Some("CapabilityStatement") {
            return;
        }
        let rests = statement.get("rest").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let codes = rests.iter().flat_map(|r| r.get("interaction").and_then(Value::as_array).into_iter().flatten());
        let batch = codes.filter_map(|i| i.get("code").and_then(Value::as_str)).any(|c| c == "batch");
        lanes.set_batching(if batch { Batching::Yes } else { Batching::No });
    }

    async fn send_alone(&self, call: &Call) -> Result<Reply> {
        let Some(auth) = &self.inner.auth else {
            return self.inner.transport.send(call, None, &self.inner.stats).await;
        };
        let token = auth.token(&self.inner.transport, &self.inner.stats).await?;
        match self.inner.transport.send(call, Some(&token), &self.inner.stats).await {
            // A token revoked or expired early: fetch a fresh one and try once more.
            Err(Error::Rejected { status: 401, .. }) => {
                auth.invalidate().await;
                let token = auth.token(&self.inner.transport, &self.inner.stats).await?;
                self.inner.transport.send(call, Some(&token), &self.inner.stats).await
            }
            other => other,
        }
    }

    fn call(&self, method: Method, url: reqwest::Url, what: &'static str) -> Call {
        Call { method, url, body: None, form: None, headers: Vec::new(), idempotent: Idempotent::Yes, what }
    }

    /// GET `[base]/metadata`, checking it is a CapabilityStatement.
    pub async fn capabilities(&self) -> Result<Value> {
        let call = self.call(Method::GET, self.url("metadata", &[])?, "CapabilityStatement");
        let body = self.send(call).await?.body.ok_or_else(|| Error::Protocol("empty metadata".into()))?;
        if body.get("resourceType").and_then(Value::as_str) != Some("CapabilityStatement") {
            return Err(Error::Protocol("metadata is not a CapabilityStatement".into()));
        }
        self.note_capabilities(&body);
        Ok(body)
    }

    /// GET `[base]/R/id`.
    pub async fn read<R: Resource>(&self, id: &str) -> Result<R> {
        let url = self.url(&format!("{}/{}", R::TYPE, check_id(id)?), &[])?;
        let reply = self.send(self.call(Method::GET, url, R::TYPE)).await?;
        parse_resource(reply.body)
    }

    /// One page of a search: GET `[base]/R?params`.
    pub async fn search_page<R: Resource>(&self, params: &[(&str, String)]) -> Result<Bundle> {
        let url = self.url(R::TYPE, params)?;
        let reply = self.send(self.call(Method::GET, url, R::TYPE)).await?;
        parse_bundle(reply.body)
    }

    /// Follows `next` links (same server only) up to `MAX_PAGES`; returns every page.
    pub async fn search_all<R: Resource>(&self, params: &[(&str, String)]) -> Result<Vec<Bundle>> {
        let mut pages = vec![self.search_page::<R>(params).await?];
        while let Some(next) = pages.last().and_then(Bundle::next_link) {
            if pages.len() >= MAX_PAGES {
                tracing::warn!(what = R::TYPE, pages = MAX_PAGES, "search truncated at the page limit");
                break;
            }
            let url = self.same_server(next)?;
            let reply = self.send(self.call(Method::GET, url, R::TYPE)).await?;
            pages.push(parse_bundle(reply.body)?);
        }
        Ok(pages)
    }

    /// All resources of type `T` over every page of a search on `R` (`T` may be an include).
    pub async fn search<R: Resource>(&self, params: &[(&str, String)]) -> Result<Vec<R>> {
        collect(&self.search_all::<R>(params).await?)
    }

    fn same_server(&self, link: &str) -> Result<reqwest::Url> {
        let url = reqwest::Url::parse(link).map_err(|_| Error::Protocol("paging link is not a URL".into()))?;
        let base = &self.inner.base;
        let same = url.origin() == base.origin() && url.path().starts_with(base.path().trim_end_matches('/'));
        if same {
            Ok(url)
        } else {
            Err(Error::Protocol("paging link points outside the FHIR base".into()))
        }
    }

    /// POST `[base]/R` with `If-None-Exist: <criteria>`: creates at most one resource per
    /// criteria, so it is safe to retry.
    pub async fn create_if_none_exist<R: Resource>(&self, resource: &R, criteria: &str) -> Result<Created<R>> {
        let mut call = self.call(Method::POST, self.url(R::TYPE, &[])?, R::TYPE);
        call.body = Some(to_value(resource)?);
        call.headers.push((header::HeaderName::from_static("if-none-exist"), criteria.to_string()));
        call.headers.push((header::HeaderName::from_static("prefer"), "return=representation".into()));
        let reply = self.send(call).await?;
        let created = reply.status == 201;
        Ok(Created { resource: parse_resource(reply.body)?, created })
    }

    /// PUT `[base]/R/id`, guarded by `If-Match` on `version` when given. Without a version this
    /// is an upsert to a client-chosen id (idempotent, so also retried).
    pub async fn update<R: Resource>(&self, resource: &R, version: Option<&str>) -> Result<R> {
        let id = resource.id().ok_or(Error::Invalid { what: "resource", why: "update without id".into() })?;
        let mut call = self.call(Method::PUT, self.url(&format!("{}/{}", R::TYPE, check_id(id)?), &[])?, R::TYPE);
        call.body = Some(to_value(resource)?);
        if let Some(v) = version {
            call.headers.push((header::IF_MATCH, format!("W/\"{v}\"")));
        }
        call.headers.push((header::HeaderName::from_static("prefer"), "return=representation".into()));
        parse_resource(self.send(call).await?.body)
    }

    /// POST a transaction Bundle to `[base]`. `idempotent` only when every entry is a
    /// conditional create, an If-Match PUT or a read.
    pub async fn transaction(&self, bundle: &Bundle, idempotent: bool) -> Result<Bundle> {
        let mut call = self.call(Method::POST, self.inner.base.clone(), "Bundle");
        call.body = Some(to_value(bundle)?);
        call.idempotent = if idempotent { Idempotent::Yes } else { Idempotent::No };
        call.headers.push((header::HeaderName::from_static("prefer"), "return=representation".into()));
        parse_bundle(self.send(call).await?.body)
    }
}

fn check_id(id: &str) -> Result<&str> {
    crate::PatientId::parse(id).map(|_| id).map_err(|_| Error::Invalid { what: "id", why: "not a FHIR id".into() })
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| parse_error("request body", &e))
}

pub(crate) fn parse_resource<R: Resource>(body: Option<Value>) -> Result<R> {
    let body = body.ok_or_else(|| Error::Protocol(format!("empty answer, expected {}", R::TYPE)))?;
    let found = body.get("resourceType").and_then(Value::as_str).unwrap_or("nothing");
    if found != R::TYPE {
        return Err(Error::Protocol(format!("expected {}, got {found}", R::TYPE)));
    }
    serde_json::from_value(body).map_err(|e| parse_error(R::TYPE, &e))
}

/// A parse failure without serde's message (which can quote values, i.e. PHI).
pub(crate) fn parse_error(what: &str, e: &serde_json::Error) -> Error {
    Error::Protocol(format!("{what} does not parse ({:?} error)", e.classify()))
}

fn parse_bundle(body: Option<Value>) -> Result<Bundle> {
    parse_resource(body)
}

/// Typed resources of `T` across pages.
pub fn collect<T: Resource>(pages: &[Bundle]) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for p in pages {
        out.extend(p.resources::<T>().map_err(|e| parse_error(T::TYPE, &e))?);
    }
    Ok(out)
}
