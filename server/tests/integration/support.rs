//! Test harness: the real server on port 0 with a fresh PostgreSQL database per test.
#![allow(dead_code)]

use app::backend::identity;
use app::backend::identity::actor::Actor;
use secrecy::SecretString;
use server::config::{LogFormat, Settings};
use server::startup::Application;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

/// The bearer token `/metrics` asks for in every test app.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

/// The key-encryption key of every test app (fixed, so tests can open what the app sealed).
pub const TEST_KEYS: &str = "test1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The access-token signing key of every test app (fixed, so tests can forge tokens).
pub const TEST_JWT_KEYS: &str = "jwt1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

pub fn keyring() -> app::backend::secrets::Keyring {
    app::backend::secrets::Keyring::parse(TEST_KEYS, "TEST_KEYS").unwrap()
}

/// The moto server that `scripts/test` started (the real AWS wire protocol, no account).
pub fn moto_url() -> String {
    std::env::var("STRATUS_TEST_MOTO_URL").expect(
        "STRATUS_TEST_MOTO_URL is not set: run the suite with scripts/test, which starts moto",
    )
}

pub struct TestApp {
    pub url: String,
    /// The test's own connection, as the database's owner (a superuser): tests play the
    /// operator. The server itself serves as a runtime role (`app_db`).
    pub db: PgPool,
    /// The pool the server serves with (the runtime role, see `server::roles`).
    pub app_db: PgPool,
    pub database_url: String,
    pub admin_email: String,
    pub admin_password: String,
    /// The platform admin's enrolment and signed-in session, made by the first `admin()`.
    admin_session: tokio::sync::Mutex<Option<AdminSession>>,
}

/// Platform admins must use MFA: the first `admin()` signs in and enrols over HTTP, like a
/// person would; later calls share that session (a second TOTP sign-in within the same 30 s
/// would have to wait for a fresh code).
#[derive(Clone)]
pub struct AdminSession {
    pub cookie: String,
    pub authenticator: std::sync::Arc<Authenticator>,
    pub recovery_codes: Vec<String>,
}

/// An authenticator app: computes TOTP codes from the manual key shown at enrolment, never
/// reusing a time step (the server refuses replays).
pub struct Authenticator {
    totp: totp_rs::TOTP,
    last_step: std::sync::Mutex<u64>,
}

impl Authenticator {
    pub fn from_manual_key(key: &str) -> Authenticator {
        let key: String = key.chars().filter(|c| !c.is_whitespace()).collect();
        let seed = totp_rs::Secret::Encoded(key)
            .to_bytes()
            .expect("a base32 key");
        Authenticator {
            totp: totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, seed, None, "t".into())
                .unwrap(),
            last_step: Default::default(),
        }
    }

    pub fn now_step() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 30
    }

    pub fn seed(&self) -> Vec<u8> {
        self.totp.secret.clone()
    }

    pub fn code_at(&self, step: u64) -> String {
        self.totp.generate(step * 30)
    }

    /// A code for a step not used yet: now, or the next step (within the server's skew),
    /// waiting for the clock when both were used.
    pub async fn next_code(&self) -> String {
        loop {
            let now = Self::now_step();
            let step = {
                let mut last = self.last_step.lock().unwrap();
                let step = now.max(*last + 1);
                if step <= now + 1 {
                    *last = step;
                    Some(step)
                } else {
                    None
                }
            };
            match step {
                Some(step) => return self.code_at(step),
                None => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
}

fn base_url() -> String {
    std::env::var("STRATUS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of a database called `name` on the test server.
pub fn database_url(name: &str) -> String {
    database_url_on(&base_url(), name)
}

/// The URL of a database called `name` on the server of `base` (a URL ending in `/dbname`).
pub fn database_url_on(base: &str, name: &str) -> String {
    let (server, _) = base
        .rsplit_once('/')
        .expect("a database URL ends with /dbname");
    format!("{server}/{name}")
}

pub fn settings(database_url: &str) -> Settings {
    Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_url: SecretString::from(database_url.to_string()),
        db_max_connections: 5,
        site_root: "target/site".into(),
        log_format: LogFormat::Text,
        log_filter: std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()),
        request_timeout: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(1),
        admin_email: "admin@stratus.test".into(),
        // Queue tests start their own workers.
        worker_concurrency: 0,
        claim_batch: 500,
        job_lease: Duration::from_secs(30),
        job_poll_interval: Duration::from_millis(200),
        job_retention: Duration::from_secs(14 * 24 * 3600),
        master_keys: Some(SecretString::from(TEST_KEYS.to_string())),
        master_key_file: None,
        jwt_keys: Some(SecretString::from(TEST_JWT_KEYS.to_string())),
        jwt_key_file: None,
        data_dir: std::env::temp_dir().join("stratus-test"),
        sandbox_endpoint: None,
        fault_proxy_addr: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        engine: Default::default(),
        trusted_proxies: Vec::new(),
        stream: server::config::StreamSettings::default(),
        metrics_token: Some(SecretString::from(METRICS_TOKEN.to_string())),
        // The moto server is a private address: tests register it like an operator would, and
        // a closed port (discard, 9) for tests of an endpoint that does not answer.
        allowed_endpoints: std::env::var("STRATUS_TEST_MOTO_URL")
            .into_iter()
            .chain(["127.0.0.1:9".to_string()])
            .collect(),
        migrate_database_url: None,
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A test app with some settings changed (shorter intervals, lower limits).
    pub async fn spawn_with(change: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_on(&base_url(), change).await
    }

    /// A test app whose database lives on another PostgreSQL server (`base` is any database
    /// URL of that server): the chaos tests restart a private one.
    pub async fn spawn_on(base: &str, change: impl FnOnce(&mut Settings)) -> TestApp {
        let name = format!("stratus_t_{}", Uuid::new_v4().simple());
        let database_url = database_url_on(base, &name);
        let mut settings = settings(&database_url);
        change(&mut settings);
        if std::env::var("TEST_LOG").is_ok() {
            server::telemetry::init(&settings);
        }
        let app = Application::build(settings).await.expect("the app starts");
        let url = format!("http://{}", app.addr());
        let app_db = app.db.clone();
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(5)
            .connect_lazy(&database_url)
            .expect("a valid database URL");
        tokio::spawn(app.run_until_stopped());
        let admin_password = identity::ensure_first_admin(&db, "admin@stratus.test")
            .await
            .unwrap()
            .expect("a fresh database has no admin");
        TestApp {
            url,
            db,
            app_db,
            database_url,
            admin_email: "admin@stratus.test".into(),
            admin_password,
            admin_session: Default::default(),
        }
    }

    /// A client signed in as the platform admin, who has enrolled in MFA (see `AdminSession`).
    pub async fn admin(&self) -> Client {
        let client = self.client();
        client.set_cookie(Some(self.admin_session().await.cookie));
        client
    }

    /// The admin's enrolment (made on first use).
    pub async fn admin_session(&self) -> AdminSession {
        let mut state = self.admin_session.lock().await;
        if let Some(existing) = state.as_ref() {
            return existing.clone();
        }
        let client = self.client();
        let reply = client
            .sign_in(&self.admin_email, &self.admin_password)
            .await;
        assert_eq!(reply.json(), "enrol_mfa", "an admin without MFA must enrol");
        let (authenticator, recovery_codes) = client.enrol_mfa(&self.admin_password).await;
        let session = AdminSession {
            cookie: client.cookie().expect("signed in"),
            authenticator: std::sync::Arc::new(authenticator),
            recovery_codes,
        };
        *state = Some(session.clone());
        session
    }

    pub fn client(&self) -> Client {
        Client {
            base: self.url.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: Default::default(),
        }
    }

    pub async fn actor(&self, user_id: Uuid) -> Actor {
        let (email, display_name, platform_admin): (String, String, bool) = sqlx::query_as(
            "select email, display_name, platform_admin from app_user where user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.db)
        .await
        .unwrap();
        Actor {
            user_id,
            email,
            display_name,
            platform_admin,
            current_tenant: None,
            reauthenticated_at: None,
            via: app::backend::identity::actor::Via::Session,
        }
    }

    pub async fn admin_actor(&self) -> Actor {
        let id: Uuid =
            sqlx::query_scalar("select user_id from app_user where platform_admin limit 1")
                .fetch_one(&self.db)
                .await
                .unwrap();
        self.actor(id).await
    }

    /// A tenant with one member per role, made through the backend (invite, then accept).
    pub async fn tenant_with_roles(&self, slug: &str) -> Fixture {
        use app::backend::tenancy;
        use app::model::Role;
        let admin = self.admin_actor().await;
        let created = tenancy::create_tenant(
            &self.db,
            &admin,
            slug,
            &format!("Tenant {slug}"),
            &format!("owner@{slug}.test"),
        )
        .await
        .unwrap();
        let tenant = created.tenant;
        let mut users = Vec::new();
        let owner = self.accept(&created.invitation.link_path, "Owner").await;
        let owner_actor = self.actor(owner).await;
        users.push((Role::Owner, owner));
        for role in [Role::Admin, Role::Member, Role::Viewer] {
            let email = format!("{}@{slug}.test", role.as_str());
            let invite =
                tenancy::invite_member(&self.db, &owner_actor, tenant.tenant_id, &email, role)
                    .await
                    .unwrap();
            users.push((role, self.accept(&invite.link_path, role.label()).await));
        }
        Fixture {
            tenant_id: tenant.tenant_id,
            users,
        }
    }

    /// A new API key of `user_id` in `tenant_id` with `role`, made through the backend.
    pub async fn api_key(&self, user_id: Uuid, tenant_id: Uuid, role: app::model::Role) -> String {
        let mut actor = self.actor(user_id).await;
        actor.reauthenticated_at = Some(time::OffsetDateTime::now_utc().unix_timestamp());
        app::backend::identity::api_keys::create(&self.db, &actor, tenant_id, "test key", role, 30)
            .await
            .unwrap()
            .secret
    }

    pub async fn accept(&self, link_path: &str, name: &str) -> Uuid {
        let token = link_path.trim_start_matches("/invite/");
        let (user, _) =
            app::backend::tenancy::accept_invitation(&self.db, token, name, PASSWORD.into())
                .await
                .unwrap();
        user.user_id
    }
}

pub struct Fixture {
    pub tenant_id: Uuid,
    pub users: Vec<(app::model::Role, Uuid)>,
}

impl Fixture {
    pub fn user(&self, role: app::model::Role) -> Uuid {
        self.users.iter().find(|(r, _)| *r == role).unwrap().1
    }
}

/// An HTTP client that keeps the session cookie like a browser would (reqwest's own cookie
/// store will not send `Secure` cookies over plain http).
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: std::sync::Mutex<Option<String>>,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl Client {
    fn remember(&self, headers: &reqwest::header::HeaderMap) {
        for value in headers.get_all(reqwest::header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap();
            if let Some(v) = pair.strip_prefix("__Host-stratus=") {
                let expired = value.contains("Max-Age=0") || v.is_empty();
                *self.cookie.lock().unwrap() = (!expired).then(|| v.to_string());
            }
        }
    }

    pub fn cookie(&self) -> Option<String> {
        self.cookie.lock().unwrap().clone()
    }

    pub fn set_cookie(&self, value: Option<String>) {
        *self.cookie.lock().unwrap() = value;
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let req = match self.cookie() {
            Some(c) => req.header(reqwest::header::COOKIE, format!("__Host-stratus={c}")),
            None => req,
        };
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        self.remember(&headers);
        Reply {
            status,
            headers,
            body: res.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// Calls a server function the way the hydrated UI does (form-encoded, JSON back).
    pub async fn rpc(&self, name: &str, form: &[(&str, &str)]) -> Reply {
        self.rpc_with(name, form, &[]).await
    }

    /// The admin console's "create tenant" form: a tenant and its first owner's invitation.
    pub async fn create_tenant(&self, slug: &str, display_name: &str, owner_email: &str) -> Reply {
        let form = [
            ("slug", slug),
            ("display_name", display_name),
            ("owner_email", owner_email),
        ];
        self.rpc("admin_create_tenant", &form).await
    }

    pub async fn rpc_with(
        &self,
        name: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .post(format!("{}/rpc/{name}", self.base))
            .form(form)
            .header("accept", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// Enrols the signed-in user in MFA the way the enrolment page does (the code and the
    /// password again); returns their authenticator and recovery codes.
    pub async fn enrol_mfa(&self, password: &str) -> (Authenticator, Vec<String>) {
        let started = self.rpc("start_mfa_enrolment", &[]).await;
        assert_eq!(started.status, 200, "{}", started.body);
        let enrolment = started.json();
        assert!(enrolment["qr_svg"].as_str().unwrap().starts_with("<svg"));
        let authenticator =
            Authenticator::from_manual_key(enrolment["manual_key"].as_str().unwrap());
        let code = authenticator.next_code().await;
        let confirmed = self
            .rpc(
                "confirm_mfa_enrolment",
                &[("code", code.as_str()), ("password", password)],
            )
            .await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.body);
        let codes = confirmed
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        (authenticator, codes)
    }

    /// Signs in with the password and then a TOTP code.
    pub async fn sign_in_with_totp(
        &self,
        email: &str,
        password: &str,
        authenticator: &Authenticator,
    ) -> Reply {
        let first = self.sign_in(email, password).await;
        assert_eq!(first.json(), "second_factor", "{}", first.body);
        let code = authenticator.next_code().await;
        let second = self
            .rpc("verify_second_factor", &[("code", code.as_str())])
            .await;
        assert_eq!(second.status, 200, "{}", second.body);
        second
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Reply {
        let reply = self
            .rpc("sign_in", &[("email", email), ("password", password)])
            .await;
        assert!(
            reply.status < 400,
            "sign-in failed: {} {}",
            reply.status,
            reply.body
        );
        reply
    }
}

/// Polls `check` until it holds, failing the test after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Inserts a tenant directly (queue tests need only its id).
pub async fn insert_tenant(db: &PgPool, slug: &str) -> Uuid {
    sqlx::query_scalar(
        "insert into tenant (slug, display_name) values ($1, $1) returning tenant_id",
    )
    .bind(slug)
    .fetch_one(db)
    .await
    .unwrap()
}

/// The test harness's endpoint policy: moto is a private address, allowed as an operator would
/// (the same list `settings()` gives the server).
pub fn endpoints() -> app::backend::cloud::endpoints::EndpointPolicy {
    server::startup::endpoint_policy(&settings("postgres://unused/x"))
        .map(|p| (*p).clone())
        .unwrap()
}

/// A `stratus worker` process on `database_url` with short leases, stopping at `failpoints`
/// (`STRATUS_FAILPOINTS`), killed when dropped: what crash tests kill for real.
pub fn worker_process(database_url: &str, failpoints: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["worker", "--concurrency", "2"])
        .env("DATABASE_URL", database_url)
        .env("STRATUS_MASTER_KEYS", TEST_KEYS)
        .env("STRATUS_JOB_LEASE_SECS", "2")
        .env("STRATUS_JOB_POLL_MS", "100")
        .env("STRATUS_FAILPOINTS", failpoints)
        // moto is a private address: allowed, as an operator would.
        .env("STRATUS_ALLOWED_ENDPOINTS", moto_url())
        .env("STRATUS_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("the stratus binary starts")
}
