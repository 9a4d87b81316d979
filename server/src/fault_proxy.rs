//! The sandbox's fault proxy: an HTTP reverse proxy in front of moto that, by rule, answers an
//! AWS operation with an error, loses its reply, slows it down, holds an RDS status, or keeps
//! RDS changes pending until a maintenance window (docs/sandbox.md). Moto injects no faults for EC2 or RDS; this is how tests and people watch
//! Stratus meet a zone without capacity, a throttle, a lost reply or a database still creating.
//!
//! Requests are forwarded unchanged (moto does not check signatures). A rule matches the query
//! protocol's `Action` (EC2, RDS, STS), optionally one availability zone, which a request names
//! directly (`AvailabilityZone`, `Placement.AvailabilityZone`) or through a subnet (asked of
//! moto once, with the same account, and cached), and optionally one moto account
//! (`x-moto-account-id`). The first matching rule fires; with a count it expires after that many.
//!
//! People drive it over HTTP at `/_fault-proxy/rules` on the proxy's own address:
//! `GET` lists, `POST` a rule (JSON, see [`Rule`]) adds, `DELETE` clears, and
//! `DELETE /_fault-proxy/rules/{id}` removes one. `POST /_fault-proxy/maintenance-window` runs
//! the maintenance window: every change held by [`Effect::MaintenanceWindow`] is applied.

pub use app::faults::{Effect, FaultControl, ImpairedCheck, Rule, RuleId, RuleView};

use anyhow::Context;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};

/// The control surface's path on the proxy's address.
pub const CONTROL_PATH: &str = "/_fault-proxy/rules";

/// Where a `POST` runs the maintenance window of every DB instance with held changes.
pub const WINDOW_PATH: &str = "/_fault-proxy/maintenance-window";

/// The `ModifyDBInstance` parameters RDS applies in the maintenance window unless told to apply
/// them immediately; each is also the element's name in `PendingModifiedValues`. (Windows,
/// deletion protection and the password are applied at once on RDS, so they pass.)
const DEFERRED_PARAMS: [&str; 5] = [
    "DBInstanceClass",
    "AllocatedStorage",
    "MultiAZ",
    "EngineVersion",
    "BackupRetentionPeriod",
];

/// Moto's account when a request carries no `x-moto-account-id`.
pub const MOTO_DEFAULT_ACCOUNT: &str = "123456789012";

const ACCOUNT_HEADER: &str = "x-moto-account-id";

/// A running proxy; clones share it. It stops when the last clone is dropped.
#[derive(Clone)]
pub struct FaultProxy {
    state: Arc<State>,
    addr: SocketAddr,
    _stop: Arc<DropGuard>,
}

struct State {
    upstream: String,
    client: reqwest::Client,
    rules: Mutex<Rules>,
    /// (moto account, subnet id) → availability zone. A subnet never changes zone.
    subnet_zones: Mutex<HashMap<(String, String), String>>,
    /// (moto account, DB instance identifier) → changes held for its maintenance window.
    deferred: Mutex<HashMap<(String, String), Deferred>>,
}

/// Changes RDS would keep pending for a DB instance's maintenance window.
struct Deferred {
    /// `ModifyDBInstance` form parameters, the newest value of each.
    params: Vec<(String, String)>,
    /// The request's headers, replayed when the window runs: moto reads the account from
    /// them and the region from the signature's scope.
    headers: HeaderMap,
}

#[derive(Default)]
struct Rules {
    next_id: u64,
    live: Vec<RuleView>,
}

/// What the proxy returns to hyper to close the connection without an answer.
#[derive(Debug)]
struct ReplyDropped;

impl std::fmt::Display for ReplyDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the fault proxy dropped this reply")
    }
}

impl std::error::Error for ReplyDropped {}

type Reply = Result<Response<Full<Bytes>>, ReplyDropped>;

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (moto's URL).
    pub async fn start(upstream: &str) -> anyhow::Result<FaultProxy> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream).await
    }

    /// Starts a proxy listening on `addr`.
    pub async fn start_on(addr: SocketAddr, upstream: &str) -> anyhow::Result<FaultProxy> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("the fault proxy cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the fault proxy's HTTP client")?;
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            rules: Mutex::new(Rules::default()),
            subnet_zones: Mutex::new(HashMap::new()),
            deferred: Mutex::new(HashMap::new()),
        });
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, state.clone(), stop.clone()));
        Ok(FaultProxy {
            state,
            addr,
            _stop: Arc::new(stop.drop_guard()),
        })
    }

    /// Where to send AWS requests instead of moto, such as `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn add_rule(&self, rule: Rule) -> RuleId {
        self.state.add(rule)
    }

    /// Whether the rule was there (it may have expired).
    pub fn remove_rule(&self, id: RuleId) -> bool {
        self.state.remove(id)
    }

    pub fn clear(&self) {
        self.state.rules().live.clear();
    }

    /// The live rules, oldest first (the order they are tried in).
    pub fn rules(&self) -> Vec<RuleView> {
        self.state.rules().live.clone()
    }

    /// Runs the maintenance window: applies every change held by [`Effect::MaintenanceWindow`].
    /// Returns how many DB instances were modified.
    pub async fn run_maintenance_window(&self) -> usize {
        self.state.run_maintenance_window().await
    }
}

impl FaultControl for FaultProxy {
    fn add_rule(&self, rule: Rule) -> RuleId {
        FaultProxy::add_rule(self, rule)
    }
    fn remove_rule(&self, id: RuleId) -> bool {
        FaultProxy::remove_rule(self, id)
    }
    fn rules(&self) -> Vec<RuleView> {
        FaultProxy::rules(self)
    }
}

async fn accept(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "fault proxy: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move { state.handle(request).await }
            });
            // A service error makes hyper close the connection without writing a response:
            // exactly the lost reply `DropReply` stands for.
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                () = stop.cancelled() => {}
                _ = connection => {}
            }
        });
    }
}

/// What a request asks for, as far as rules care.
struct Call {
    action: Option<String>,
    /// The query protocol's parameters, from the query string and the form body.
    params: Vec<(String, String)>,
    account: String,
    /// Zones the request names directly.
    zones: Vec<String>,
    /// Subnets it names (their zones count too).
    subnets: Vec<String>,
    /// The service from the signature's credential scope (`ec2`, `rds`, `sts`).
    service: String,
}

impl Call {
    fn parse(uri: &http::Uri, headers: &HeaderMap, body: &[u8]) -> Call {
        let params: Vec<(String, String)> =
            form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .chain(form_urlencoded::parse(body))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let value = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let zones = params
            .iter()
            .filter(|(k, _)| k == "AvailabilityZone" || k.ends_with(".AvailabilityZone"))
            .map(|(_, v)| v.clone())
            .collect();
        let subnets = params
            .iter()
            .filter(|(k, v)| k.contains("SubnetId") && v.starts_with("subnet-"))
            .map(|(_, v)| v.clone())
            .collect();
        let account = headers
            .get(ACCOUNT_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(MOTO_DEFAULT_ACCOUNT)
            .to_string();
        // `Credential=AKID/20261203/us-east-1/ec2/aws4_request`
        let service = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|auth| auth.split("Credential=").nth(1))
            .and_then(|scope| scope.split('/').nth(3))
            .unwrap_or("ec2")
            .to_string();
        Call {
            action: value("Action"),
            account,
            zones,
            subnets,
            service,
            params,
        }
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn is(&self, action: &str) -> bool {
        self.action.as_deref() == Some(action)
    }

    /// The key of the DB instance a `ModifyDBInstance` names.
    fn db_instance(&self) -> Option<(String, String)> {
        self.value("DBInstanceIdentifier")
            .map(|id| (self.account.clone(), id.to_string()))
    }

    fn applies_immediately(&self) -> bool {
        self.value("ApplyImmediately")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn form(params: &[(String, String)]) -> Bytes {
    Bytes::from(
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish(),
    )
}

impl State {
    fn rules(&self) -> MutexGuard<'_, Rules> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, rule: Rule) -> RuleId {
        let mut rules = self.rules();
        rules.next_id += 1;
        let id = RuleId(rules.next_id);
        tracing::info!(rule = %id, what = %rule.describe(), account = ?rule.account, "fault proxy: rule added");
        rules.live.push(RuleView { id, rule, fired: 0 });
        id
    }

    fn remove(&self, id: RuleId) -> bool {
        let mut rules = self.rules();
        let before = rules.live.len();
        rules.live.retain(|r| r.id != id);
        rules.live.len() != before
    }

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Reply {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return Ok(plain(StatusCode::BAD_REQUEST, "unreadable request body")),
        };
        if parts.uri.path().starts_with(CONTROL_PATH) {
            return Ok(self.control(&parts.method, parts.uri.path(), &body));
        }
        if parts.uri.path() == WINDOW_PATH {
            if parts.method != Method::POST {
                return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "use POST"));
            }
            let applied = self.run_maintenance_window().await;
            return Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "applied": applied }),
            ));
        }
        let call = Call::parse(&parts.uri, &parts.headers, &body);
        let mut body = body;
        if call.is("ModifyDBInstance") && call.applies_immediately() {
            // A change applied immediately takes what was pending with it, as on RDS.
            if let Some(held) = call
                .db_instance()
                .and_then(|key| self.deferred().remove(&key))
            {
                let mut params: Vec<(String, String)> = held
                    .params
                    .into_iter()
                    .filter(|(k, _)| call.value(k).is_none())
                    .collect();
                params.extend(call.params.iter().cloned());
                body = form(&params);
            }
        }
        let fired = match &call.action {
            Some(action) => self.fire(action, &call, &parts.headers).await,
            None => None,
        };
        let reply = self.apply(fired, &call, &parts, body).await;
        match reply {
            Ok(answer) if call.is("DescribeDBInstances") || call.is("ModifyDBInstance") => {
                Ok(self.show_pending(&call.account, answer).await)
            }
            other => other,
        }
    }

    /// What the fired rule (if any) does to the call.
    async fn apply(
        &self,
        fired: Option<(RuleId, Effect)>,
        call: &Call,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Reply {
        match fired {
            None => Ok(self.forward(parts, body).await),
            Some((
                id,
                Effect::Error {
                    code,
                    message,
                    status,
                },
            )) => {
                tracing::info!(rule = %id, action = ?call.action, %code, "fault proxy: answered with an error");
                Ok(aws_error(&call.service, &code, &message, status))
            }
            Some((id, Effect::DropReply)) => {
                let answer = self.forward(parts, body).await;
                tracing::info!(rule = %id, action = ?call.action, status = %answer.status(), "fault proxy: dropped the reply");
                Err(ReplyDropped)
            }
            Some((id, Effect::Latency { millis })) => {
                tracing::info!(rule = %id, action = ?call.action, millis, "fault proxy: delaying");
                tokio::time::sleep(Duration::from_millis(millis)).await;
                Ok(self.forward(parts, body).await)
            }
            Some((id, Effect::HoldRdsStatus { status })) => {
                let answer = self.forward(parts, body).await;
                tracing::info!(rule = %id, action = ?call.action, %status, "fault proxy: holding the RDS status");
                Ok(hold_rds_status(answer, &status).await)
            }
            Some((id, Effect::MaintenanceWindow)) => {
                let key = call.db_instance().filter(|_| call.is("ModifyDBInstance"));
                let Some(key) = key.filter(|_| !call.applies_immediately()) else {
                    return Ok(self.forward(parts, body).await);
                };
                let (held, now): (Vec<_>, Vec<_>) = call
                    .params
                    .iter()
                    .cloned()
                    .partition(|(k, _)| DEFERRED_PARAMS.contains(&k.as_str()));
                tracing::info!(rule = %id, instance = %key.1, held = held.len(), "fault proxy: holding changes for the maintenance window");
                if !held.is_empty() {
                    let mut deferred = self.deferred();
                    let entry = deferred.entry(key).or_insert_with(|| Deferred {
                        params: Vec::new(),
                        headers: parts.headers.clone(),
                    });
                    entry
                        .params
                        .retain(|(k, _)| !held.iter().any(|(h, _)| h == k));
                    entry.params.extend(held);
                }
                Ok(self.forward(parts, form(&now)).await)
            }
            Some((
                id,
                Effect::ImpairInstances {
                    instance_ids,
                    check,
                },
            )) => {
                let answer = self.forward(parts, body).await;
                tracing::info!(rule = %id, action = ?call.action, ?instance_ids, check = check.as_str(), "fault proxy: reporting instances impaired");
                Ok(impair_instances(answer, &instance_ids, check).await)
            }
        }
    }

    fn deferred(&self) -> MutexGuard<'_, HashMap<(String, String), Deferred>> {
        self.deferred.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `PendingModifiedValues` to each DB instance of the account that has held changes.
    async fn show_pending(
        &self,
        account: &str,
        answer: Response<Full<Bytes>>,
    ) -> Response<Full<Bytes>> {
        let pending: Vec<(String, String)> = self
            .deferred()
            .iter()
            .filter(|((a, _), _)| a == account)
            .map(|((_, id), held)| {
                let values: String = held
                    .params
                    .iter()
                    .map(|(k, v)| format!("<{k}>{}</{k}>", xml_escape(v)))
                    .collect();
                (
                    id.clone(),
                    format!("<PendingModifiedValues>{values}</PendingModifiedValues>"),
                )
            })
            .collect();
        if pending.is_empty() {
            return answer;
        }
        let (parts, body) = answer.into_parts();
        let Ok(collected) = body.collect().await;
        let mut text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
        for (id, values) in pending {
            let anchor = format!(
                "<DBInstanceIdentifier>{}</DBInstanceIdentifier>",
                xml_escape(&id)
            );
            text = text.replace(&anchor, &format!("{anchor}{values}"));
        }
        Response::from_parts(parts, Full::new(Bytes::from(text)))
    }

    async fn run_maintenance_window(&self) -> usize {
        let held: Vec<((String, String), Deferred)> = self.deferred().drain().collect();
        let mut applied = 0;
        for ((_, id), held) in held {
            let mut params = vec![
                ("Action".to_string(), "ModifyDBInstance".to_string()),
                ("Version".to_string(), "2014-10-31".to_string()),
                ("DBInstanceIdentifier".to_string(), id.clone()),
                ("ApplyImmediately".to_string(), "true".to_string()),
            ];
            params.extend(held.params);
            let mut request = self
                .client
                .post(format!("{}/", self.upstream))
                .body(form(&params));
            for (name, value) in &held.headers {
                if !hop_by_hop(name) && name != header::HOST && name != header::CONTENT_LENGTH {
                    request = request.header(name, value);
                }
            }
            match request.send().await {
                Ok(answer) if answer.status().is_success() => applied += 1,
                Ok(answer) => {
                    tracing::warn!(instance = %id, status = %answer.status(), "fault proxy: the maintenance window's change was refused")
                }
                Err(error) => {
                    tracing::warn!(instance = %id, %error, "fault proxy: the maintenance window's change failed")
                }
            }
        }
        applied
    }

    /// The first live rule matching the call, counted as fired (and expired when used up).
    async fn fire(
        &self,
        action: &str,
        call: &Call,
        headers: &HeaderMap,
    ) -> Option<(RuleId, Effect)> {
        let candidate = |r: &RuleView| {
            r.rule.action == action && r.rule.account.as_deref().is_none_or(|a| a == call.account)
        };
        let wants_zone = self
            .rules()
            .live
            .iter()
            .any(|r| candidate(r) && r.rule.zone.is_some());
        let mut zones = call.zones.clone();
        if wants_zone {
            for subnet in &call.subnets {
                if let Some(zone) = self.subnet_zone(&call.account, subnet, headers).await {
                    zones.push(zone);
                }
            }
        }
        let mut rules = self.rules();
        let index = rules
            .live
            .iter()
            .position(|r| candidate(r) && r.rule.zone.as_ref().is_none_or(|z| zones.contains(z)))?;
        let view = &mut rules.live[index];
        view.fired += 1;
        let fired = (view.id, view.rule.effect.clone());
        if view.remaining() == Some(0) {
            rules.live.remove(index);
        }
        Some(fired)
    }

    /// The subnet's zone, asked of moto (DescribeSubnets, as the same account and region).
    async fn subnet_zone(
        &self,
        account: &str,
        subnet: &str,
        headers: &HeaderMap,
    ) -> Option<String> {
        let key = (account.to_string(), subnet.to_string());
        if let Some(zone) = self
            .subnet_zones
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Some(zone.clone());
        }
        let mut request = self
            .client
            .post(format!("{}/", self.upstream))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCOUNT_HEADER, account)
            .body(format!(
                "Action=DescribeSubnets&Version=2016-11-15&SubnetId.1={subnet}"
            ));
        // Moto reads the region from the signature's scope; it does not check the signature.
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let text = request.send().await.ok()?.text().await.ok()?;
        let zone = between(&text, "<availabilityZone>", "</availabilityZone>")?.to_string();
        self.subnet_zones
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, zone.clone());
        Some(zone)
    }

    /// Sends the request on to moto; a failure to reach it is a 502, as from any proxy.
    async fn forward(&self, parts: &http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut request = self
            .client
            .request(parts.method.clone(), format!("{}{path}", self.upstream))
            .body(body);
        for (name, value) in &parts.headers {
            if !hop_by_hop(name) && name != header::HOST && name != header::CONTENT_LENGTH {
                request = request.header(name, value);
            }
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(error) => {
                return plain(
                    StatusCode::BAD_GATEWAY,
                    &format!("the fault proxy cannot reach the sandbox: {error}"),
                )
            }
        };
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = match answer.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return plain(
                    StatusCode::BAD_GATEWAY,
                    &format!("the sandbox's answer broke off: {error}"),
                )
            }
        };
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        for (name, value) in &headers {
            if !hop_by_hop(name) && name != header::CONTENT_LENGTH {
                response.headers_mut().append(name, value.clone());
            }
        }
        response
    }

    fn control(&self, method: &Method, path: &str, body: &[u8]) -> Response<Full<Bytes>> {
        let rest = path[CONTROL_PATH.len()..].trim_matches('/');
        match (method, rest) {
            (&Method::GET, "") => json(StatusCode::OK, &self.rules().live),
            (&Method::POST, "") => match serde_json::from_slice::<Rule>(body) {
                Ok(rule) => match app::backend::cloud::sandbox::check_rule(&rule) {
                    Ok(()) => json(
                        StatusCode::CREATED,
                        &serde_json::json!({ "id": self.add(rule) }),
                    ),
                    Err(problem) => plain(StatusCode::UNPROCESSABLE_ENTITY, &problem.to_string()),
                },
                Err(error) => plain(StatusCode::BAD_REQUEST, &format!("not a rule: {error}")),
            },
            (&Method::DELETE, "") => {
                self.rules().live.clear();
                empty(StatusCode::NO_CONTENT)
            }
            (&Method::DELETE, id) => match id.parse::<u64>() {
                Ok(id) if self.remove(RuleId(id)) => empty(StatusCode::NO_CONTENT),
                _ => plain(StatusCode::NOT_FOUND, "no such rule"),
            },
            _ => plain(StatusCode::METHOD_NOT_ALLOWED, "use GET, POST or DELETE"),
        }
    }
}

/// The AWS error document: EC2's own format, or the one RDS, STS and the other query services share.
fn aws_error(service: &str, code: &str, message: &str, status: u16) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4();
    let (code, message) = (xml_escape(code), xml_escape(message));
    let body = if service == "ec2" {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    } else {
        let kind = if status >= 500 { "Receiver" } else { "Sender" };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

/// Rewrites every `<DBInstanceStatus>` of a DescribeDBInstances answer.
async fn hold_rds_status(answer: Response<Full<Bytes>>, status: &str) -> Response<Full<Bytes>> {
    let (parts, body) = answer.into_parts();
    let Ok(collected) = body.collect().await;
    let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    let (open, close) = ("<DBInstanceStatus>", "</DBInstanceStatus>");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find(open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(close) else { break };
        out.push_str(&rest[..start + open.len()]);
        out.push_str(&xml_escape(status));
        rest = &after[end..];
    }
    out.push_str(rest);
    Response::from_parts(parts, Full::new(Bytes::from(out)))
}

/// Rewrites a DescribeInstanceStatus answer with [`impair_status_checks`].
async fn impair_instances(
    answer: Response<Full<Bytes>>,
    instance_ids: &[String],
    check: ImpairedCheck,
) -> Response<Full<Bytes>> {
    let (parts, body) = answer.into_parts();
    let Ok(collected) = body.collect().await;
    let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    let out = impair_status_checks(&text, instance_ids, check);
    Response::from_parts(parts, Full::new(Bytes::from(out)))
}

/// In each top-level `<item>` of `<instanceStatusSet>` for a running instance named in
/// `instance_ids` (every running one when empty), the chosen check's block becomes
/// `impaired` with its reachability detail `failed`, as EC2 reports a failing check. Items
/// nest (`details` has items of its own), hence the depth count.
fn impair_status_checks(text: &str, instance_ids: &[String], check: ImpairedCheck) -> String {
    let (set_open, set_close) = ("<instanceStatusSet>", "</instanceStatusSet>");
    let Some(start) = text.find(set_open).map(|i| i + set_open.len()) else {
        return text.to_string();
    };
    let Some(len) = text[start..].find(set_close) else {
        return text.to_string();
    };
    let set = &text[start..start + len];
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(&text[..start]);
    let mut pos = 0;
    while let Some(open) = set[pos..].find("<item>").map(|i| pos + i) {
        out.push_str(&set[pos..open]);
        let (mut depth, mut cursor, mut end) = (0usize, open, None);
        loop {
            let next_open = set[cursor..].find("<item>").map(|i| cursor + i);
            let next_close = set[cursor..].find("</item>").map(|i| cursor + i);
            match (next_open, next_close) {
                (Some(o), Some(c)) if o < c => {
                    depth += 1;
                    cursor = o + "<item>".len();
                }
                (_, Some(c)) if depth > 0 => {
                    depth -= 1;
                    cursor = c + "</item>".len();
                    if depth == 0 {
                        end = Some(cursor);
                        break;
                    }
                }
                _ => break,
            }
        }
        let Some(end) = end else {
            // Not well formed: leave the rest as it is.
            pos = open;
            break;
        };
        out.push_str(&impair_item(&set[open..end], instance_ids, check));
        pos = end;
    }
    out.push_str(&set[pos..]);
    out.push_str(&text[start + len..]);
    out
}

fn impair_item(item: &str, instance_ids: &[String], check: ImpairedCheck) -> String {
    let chosen = between(item, "<instanceId>", "</instanceId>")
        .is_some_and(|id| instance_ids.is_empty() || instance_ids.iter().any(|i| i == id));
    // EC2 checks only running instances; the others stay `not-applicable`.
    let running = between(item, "<instanceState>", "</instanceState>")
        .is_some_and(|s| s.contains("<name>running</name>"));
    let block = match check {
        ImpairedCheck::Instance => "instanceStatus",
        ImpairedCheck::System => "systemStatus",
    };
    let (open, close) = (format!("<{block}>"), format!("</{block}>"));
    match (item.find(&open), item.find(&close)) {
        (Some(s), Some(e)) if chosen && running && s < e => format!(
            "{}{open}<details><item><name>reachability</name><status>failed</status></item></details><status>impaired</status>{}",
            &item[..s],
            &item[e..]
        ),
        _ => item.to_string(),
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)?;
    Some(&text[start..start + end])
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
    )
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_status_is_rewritten_everywhere() {
        let body = "<a><DBInstanceStatus>available</DBInstanceStatus><b/><DBInstanceStatus>available</DBInstanceStatus></a>";
        let answer = Response::new(Full::new(Bytes::from(body)));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let out = rt.block_on(hold_rds_status(answer, "creating"));
        let text = rt.block_on(out.into_body().collect()).map(|b| b.to_bytes());
        assert_eq!(
            text.ok().as_deref(),
            Some(&b"<a><DBInstanceStatus>creating</DBInstanceStatus><b/><DBInstanceStatus>creating</DBInstanceStatus></a>"[..])
        );
    }

    /// Moto 5.2.5's DescribeInstanceStatus answer: every running instance `ok` on both checks.
    const STATUS_ANSWER: &str = concat!(
        r#"<?xml version="1.0" encoding="utf-8"?>"#,
        "\n",
        r#"<DescribeInstanceStatusResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><instanceStatusSet>"#,
        "<item><availabilityZone>us-east-1a</availabilityZone><instanceId>i-aaa</instanceId><instanceState><code>16</code><name>running</name></instanceState>",
        "<instanceStatus><details><item><name>reachability</name><status>passed</status></item></details><status>ok</status></instanceStatus>",
        "<systemStatus><details><item><name>reachability</name><status>passed</status></item></details><status>ok</status></systemStatus></item>",
        "<item><availabilityZone>us-east-1b</availabilityZone><instanceId>i-bbb</instanceId><instanceState><code>16</code><name>running</name></instanceState>",
        "<instanceStatus><details><item><name>reachability</name><status>passed</status></item></details><status>ok</status></instanceStatus>",
        "<systemStatus><details><item><name>reachability</name><status>passed</status></item></details><status>ok</status></systemStatus></item>",
        "<item><availabilityZone>us-east-1a</availabilityZone><instanceId>i-ccc</instanceId><instanceState><code>80</code><name>stopped</name></instanceState>",
        "<instanceStatus><status>not-applicable</status></instanceStatus><systemStatus><status>not-applicable</status></systemStatus></item>",
        "</instanceStatusSet><requestId>request-id</requestId></DescribeInstanceStatusResponse>",
    );

    /// The summary status of `block` (`instanceStatus` or `systemStatus`) of instance `id`.
    fn summary<'a>(text: &'a str, id: &str, block: &str) -> &'a str {
        let item = &text[text
            .find(&format!("<instanceId>{id}<"))
            .expect("the instance")..];
        let open = format!("<{block}>");
        let inner = between(item, &open, &format!("</{block}>")).expect("the block");
        let status = inner.rsplit("<status>").next().unwrap_or_default();
        &status[..status.find('<').unwrap_or(status.len())]
    }

    #[test]
    fn instance_status_is_rewritten_for_the_chosen_instances() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let rewrite = |ids: &[&str], check| {
            let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
            let answer = Response::new(Full::new(Bytes::from(STATUS_ANSWER)));
            let out = rt.block_on(impair_instances(answer, &ids, check));
            let body = rt.block_on(out.into_body().collect()).map(|b| b.to_bytes());
            String::from_utf8(body.expect("a body").to_vec()).expect("utf-8")
        };

        // One instance named: only its instance check fails.
        let text = rewrite(&["i-bbb"], ImpairedCheck::Instance);
        assert_eq!(summary(&text, "i-bbb", "instanceStatus"), "impaired");
        assert!(text.contains("<status>failed</status>"));
        assert_eq!(summary(&text, "i-bbb", "systemStatus"), "ok");
        assert_eq!(summary(&text, "i-aaa", "instanceStatus"), "ok");
        assert_eq!(text.matches("<status>impaired</status>").count(), 1);

        // None named: every running instance, and the system check when asked; a stopped
        // instance keeps `not-applicable`.
        let text = rewrite(&[], ImpairedCheck::System);
        assert_eq!(summary(&text, "i-aaa", "systemStatus"), "impaired");
        assert_eq!(summary(&text, "i-bbb", "systemStatus"), "impaired");
        assert_eq!(summary(&text, "i-aaa", "instanceStatus"), "ok");
        assert_eq!(summary(&text, "i-ccc", "systemStatus"), "not-applicable");

        // An id not in the answer changes nothing; the document stays whole.
        let text = rewrite(&["i-zzz"], ImpairedCheck::Instance);
        assert_eq!(text, STATUS_ANSWER);
        let text = rewrite(&["i-aaa"], ImpairedCheck::Instance);
        assert!(text.ends_with("</instanceStatusSet><requestId>request-id</requestId></DescribeInstanceStatusResponse>"));
        assert_eq!(text.matches("<item><availabilityZone>").count(), 3);
    }

    #[test]
    fn calls_name_zones_directly_and_through_subnets() {
        let uri: http::Uri = "/".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(ACCOUNT_HEADER, HeaderValue::from_static("100000000001"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=x"),
        );
        let call = Call::parse(
            &uri,
            &headers,
            b"Action=RunInstances&Placement.AvailabilityZone=us-east-1b&NetworkInterface.1.SubnetId=subnet-123",
        );
        assert_eq!(call.action.as_deref(), Some("RunInstances"));
        assert_eq!(call.zones, vec!["us-east-1b"]);
        assert_eq!(call.subnets, vec!["subnet-123"]);
        assert_eq!(call.account, "100000000001");
        assert_eq!(call.service, "rds");
    }
}
