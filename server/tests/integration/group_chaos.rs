//! Chaos (issue 14): a 30-instance group over three zones, scaled to 60 and then to 10, while
//! the only worker, a real `stratus worker` process, is killed with SIGKILL 20 times (at random
//! moments from a seeded generator, and twice at the launch failpoints) and restarted after each
//! kill, and the fault proxy loses some replies (RunInstances, TerminateInstances,
//! DescribeInstances). At the end exactly the desired instances exist in the sandbox with the
//! group's tags, every instance moto ever made for the group has its row (none untracked), none
//! was launched twice, and every job has ended.
//!
//! The second test does the same with PostgreSQL restarted once mid-run (an immediate stop, so
//! every connection breaks, and a few seconds down): work must resume within 10 seconds of it
//! accepting connections again. The suite's PostgreSQL is shared by tests running at once, so
//! this one runs a private PostgreSQL 15 cluster (initdb + pg_ctl in a temporary directory, as
//! an unprivileged user when the tests run as root) and restarts that.
//!
//! `STRATUS_CHAOS_SEED` replays another schedule; the seed is printed with the timeline.

use crate::instance_groups::{engine_on, sorted, Engine, ZONES};
use crate::support::{moto_url, TEST_KEYS};
use app::backend::cloud::providers::network::{
    TAG_INSTALLATION, TAG_RESOURCE, TAG_TENANT, TAG_TOKEN,
};
use app::model::groups::GroupPatch;
use app::model::resources::ResourceStatus;
use server::fault_proxy::Rule;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use uuid::Uuid;

/// The worker's lease: a killed worker's job is rescued about this long after its last beat.
const LEASE_SECS: &str = "1";
/// The group resync in the worker processes.
const GROUP_RESYNC_MS: &str = "1000";
const KILLS: usize = 20;

/// splitmix64: a small seeded generator, so a schedule can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

/// When a kill comes.
#[derive(Debug, Clone)]
enum Kill {
    /// This long after the worker was started.
    After(Duration),
    /// When the worker reports it stopped at this failpoint (it was started with it armed).
    AtFailpoint(&'static str),
}

/// One `stratus worker` process, its stderr kept (the last lines) and watched for failpoints.
struct WorkerProcess {
    child: tokio::process::Child,
    started: Instant,
    at_failpoint: Arc<AtomicBool>,
    log: Arc<Mutex<VecDeque<String>>>,
}

/// Starts, kills and restarts the worker processes of one test.
struct Supervisor {
    env: Vec<(String, String)>,
    current: Option<WorkerProcess>,
    kills: usize,
    unexpected_exits: usize,
    timeline: Vec<String>,
    t0: Instant,
}

impl Supervisor {
    fn new(database_url: &str, proxy_url: &str) -> Supervisor {
        let env = [
            ("DATABASE_URL", database_url.to_string()),
            ("STRATUS_MASTER_KEYS", TEST_KEYS.to_string()),
            ("STRATUS_JOB_LEASE_SECS", LEASE_SECS.to_string()),
            ("STRATUS_JOB_POLL_MS", "100".to_string()),
            ("STRATUS_GROUP_RESYNC_MS", GROUP_RESYNC_MS.to_string()),
            ("STRATUS_DB_MAX_CONNECTIONS", "10".to_string()),
            (
                "STRATUS_ALLOWED_ENDPOINTS",
                format!("{},{proxy_url}", moto_url()),
            ),
            ("STRATUS_LOG", "warn,sqlx=error".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Supervisor {
            env,
            current: None,
            kills: 0,
            unexpected_exits: 0,
            timeline: Vec::new(),
            t0: Instant::now(),
        }
    }

    fn note(&mut self, what: impl Into<String>) {
        let line = format!("{:>7.2}s  {}", self.t0.elapsed().as_secs_f64(), what.into());
        eprintln!("chaos: {line}");
        self.timeline.push(line);
    }

    fn command(&self, args: &[&str], failpoints: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_stratus"));
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("STRATUS_FAILPOINTS", failpoints)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    }

    fn spawn(&mut self, failpoints: &str) {
        let mut child = self
            .command(&["worker", "--concurrency", "4"], failpoints)
            .spawn()
            .expect("the stratus binary starts");
        let at_failpoint = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(VecDeque::new()));
        // The log goes to stdout, a panic to stderr: both are kept.
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        for stream in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(stderr),
        ] {
            let (flag, lines) = (at_failpoint.clone(), log.clone());
            tokio::spawn(async move {
                let mut reader = tokio::io::BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if line.contains("stopping at a failpoint") {
                        flag.store(true, Ordering::SeqCst);
                    }
                    let mut lines = lines.lock().unwrap();
                    if lines.len() == 200 {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                }
            });
        }
        let pid = child.id().unwrap_or_default();
        self.note(format!(
            "worker {pid} started{}",
            if failpoints.is_empty() {
                String::new()
            } else {
                format!(" (failpoint {failpoints} armed)")
            }
        ));
        self.current = Some(WorkerProcess {
            child,
            started: Instant::now(),
            at_failpoint,
            log,
        });
    }

    /// Restarts the worker if it exited on its own (counted: it should not).
    fn check_alive(&mut self) {
        let exited = match self.current.as_mut() {
            Some(w) => w.child.try_wait().ok().flatten(),
            None => return,
        };
        if let Some(status) = exited {
            self.unexpected_exits += 1;
            let tail = self.tail(15);
            self.note(format!("worker exited on its own ({status}): {tail}"));
            self.spawn("");
        }
    }

    fn tail(&self, n: usize) -> String {
        self.current
            .as_ref()
            .map(|w| {
                let lines = w.log.lock().unwrap();
                lines
                    .iter()
                    .skip(lines.len().saturating_sub(n))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// Sleeps, keeping the worker alive (restarted if it exited on its own).
    async fn sleep(&mut self, duration: Duration) {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            self.check_alive();
            tokio::time::sleep(
                Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }

    /// Waits for the kill's moment, kills the worker with SIGKILL, and starts the next one
    /// (with `next_failpoints` armed).
    async fn kill(&mut self, kill: &Kill, next_failpoints: &str) {
        match kill {
            Kill::After(delay) => {
                let started = self.current.as_ref().expect("a worker").started;
                let at = started + *delay;
                self.sleep(at.saturating_duration_since(Instant::now()))
                    .await;
            }
            Kill::AtFailpoint(name) => {
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    self.check_alive();
                    let w = self.current.as_ref().expect("a worker");
                    if w.at_failpoint.load(Ordering::SeqCst) {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "the worker never reached failpoint {name}: {}",
                        self.tail(30)
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        let mut w = self.current.take().expect("a worker");
        let pid = w.child.id().unwrap_or_default();
        w.child.start_kill().expect("SIGKILL");
        w.child.wait().await.expect("the killed worker is reaped");
        self.kills += 1;
        self.note(format!(
            "kill {} of worker {pid} ({}) after {:.2}s",
            self.kills,
            match kill {
                Kill::After(_) => "random moment".to_string(),
                Kill::AtFailpoint(name) => format!("at failpoint {name}"),
            },
            w.started.elapsed().as_secs_f64()
        ));
        self.spawn(next_failpoints);
    }

    /// Stops the worker with SIGTERM (it gives its leases back) and waits for it.
    async fn stop(&mut self) {
        if let Some(mut w) = self.current.take() {
            if let Some(pid) = w.child.id() {
                let _ = tokio::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            let ended = tokio::time::timeout(Duration::from_secs(15), w.child.wait()).await;
            assert!(ended.is_ok(), "the worker did not stop on SIGTERM");
        }
    }

    /// Runs `stratus worker --once` (no resync): every job that is due runs to its end. A job a
    /// killed worker still held is rescued first, once its lease has run out: the `--once`
    /// worker ends as soon as nothing is due, which can be before its own first rescue pass
    /// (the group converged in the run the last kill interrupted, and the job stayed running).
    async fn drain(&mut self, db: &sqlx::PgPool) {
        crate::support::wait_until(
            "the killed workers' leases to run out",
            Duration::from_secs(10),
            || async {
                sqlx::query_scalar::<_, bool>(
                    "select not exists (select 1 from job where state = 'running' and lease_expires_at >= now())",
                )
                .fetch_one(db)
                .await
                .unwrap_or(false)
            },
        )
        .await;
        app::backend::jobs::queue::rescue_expired(db)
            .await
            .expect("expired leases are rescued");
        let mut once = self
            .command(&["worker", "--once", "--concurrency", "4"], "")
            .spawn()
            .expect("the stratus binary starts");
        let status = tokio::time::timeout(Duration::from_secs(60), once.wait())
            .await
            .expect("`stratus worker --once` ends")
            .unwrap();
        assert!(status.success(), "`stratus worker --once` failed: {status}");
    }
}

/// A PostgreSQL 15 cluster of this test's own, on a free port, that it may stop and start.
struct PrivateCluster {
    dir: PathBuf,
    port: u16,
    /// Runs the server binaries as this user (initdb refuses root).
    user: Option<String>,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl PrivateCluster {
    async fn run(&self, program: &str, args: &[String]) -> Result<(), String> {
        let path = format!("{PG_BIN}/{program}");
        let mut command = match &self.user {
            Some(user) => {
                let mut c = tokio::process::Command::new("runuser");
                c.args(["-u", user, "--", &path]);
                c
            }
            None => tokio::process::Command::new(&path),
        };
        let out = command
            .args(args)
            .output()
            .await
            .map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `Err` says why a private cluster cannot run here.
    async fn start() -> Result<PrivateCluster, String> {
        if !std::path::Path::new(&format!("{PG_BIN}/initdb")).exists() {
            return Err(format!("no PostgreSQL 15 server binaries in {PG_BIN}"));
        }
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let user = if root {
            let found = ["postgres", "nobody"].into_iter().find(|u| {
                std::process::Command::new("id")
                    .arg(u)
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
            match found {
                Some(u) => Some(u.to_string()),
                None => return Err(
                    "running as root and no unprivileged user (postgres, nobody) to run initdb as"
                        .into(),
                ),
            }
        } else {
            None
        };
        let dir =
            std::env::temp_dir().join(format!("stratus-chaos-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if let Some(user) = &user {
            let chowned = std::process::Command::new("chown")
                .args([user.as_str(), dir.to_str().unwrap()])
                .status()
                .map_err(|e| e.to_string())?;
            if !chowned.success() {
                return Err(format!("cannot give {} to {user}", dir.display()));
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let cluster = PrivateCluster { dir, port, user };
        cluster
            .run(
                "initdb",
                &[
                    "-D".into(),
                    cluster.data(),
                    "-U".into(),
                    "postgres".into(),
                    "--auth=trust".into(),
                    "-E".into(),
                    "UTF8".into(),
                    "-N".into(),
                ],
            )
            .await?;
        cluster.start_server().await?;
        Ok(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn start_server(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D".into(),
                self.data(),
                "-l".into(),
                self.dir.join("server.log").display().to_string(),
                "-w".into(),
                "-o".into(),
                format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                    self.port,
                    self.dir.display()
                ),
                "start".into(),
            ],
        )
        .await
    }

    /// Every backend killed at once (crash recovery at the next start), as a crashed server.
    async fn stop_immediately(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D".into(),
                self.data(),
                "-m".into(),
                "immediate".into(),
                "-w".into(),
                "stop".into(),
            ],
        )
        .await
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let path = format!("{PG_BIN}/pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = match &self.user {
            Some(user) => std::process::Command::new("runuser")
                .args(["-u", user, "--", &path])
                .args(args)
                .output(),
            None => std::process::Command::new(&path).args(args).output(),
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Phase {
    desired: u32,
    kills: Vec<Kill>,
}

/// The schedule of one run: three phases (30, 60, 10) and their kills; the first phase's first
/// kill comes at the failpoint after RunInstances answered (before the ids are recorded), the
/// second's at the one after the write-ahead rows are committed (before the call).
fn schedule(rng: &mut Rng) -> Vec<Phase> {
    let mut random =
        |n: usize| -> Vec<Kill> { (0..n).map(|_| Kill::After(rng.millis(150, 1200))).collect() };
    let mut phases = vec![
        Phase {
            desired: 30,
            kills: vec![Kill::AtFailpoint("instances.launched")],
        },
        Phase {
            desired: 60,
            kills: vec![Kill::AtFailpoint("instances.before_launch")],
        },
        Phase {
            desired: 10,
            kills: random(1),
        },
    ];
    phases[0].kills.extend(random(6));
    phases[1].kills.extend(random(6));
    phases[2].kills.extend(random(5));
    assert_eq!(phases.iter().map(|p| p.kills.len()).sum::<usize>(), KILLS);
    phases
}

fn seed() -> u64 {
    std::env::var("STRATUS_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(14)
}

#[tokio::test]
async fn chaos_a_group_scaled_30_60_10_through_20_worker_kills_and_lost_replies() {
    let e = engine_on("ig-chaos", true, None).await;
    chaos(e, None).await;
}

#[tokio::test]
async fn chaos_with_postgresql_restarted_mid_run_resumes_within_10_seconds() {
    let cluster = match PrivateCluster::start().await {
        Ok(c) => c,
        Err(why) => {
            eprintln!("SKIPPED: cannot run a private PostgreSQL cluster to restart: {why}");
            return;
        }
    };
    let e = engine_on("ig-chaos-pg", true, Some(&cluster.url())).await;
    chaos(e, Some(&cluster)).await;
}

async fn chaos(mut e: Engine, cluster: Option<&PrivateCluster>) {
    let seed = seed() + u64::from(cluster.is_some());
    let mut rng = Rng(seed);
    let phases = schedule(&mut rng);
    // Zones were made by the test's in-process worker; from now on the only worker is a process.
    e.worker.take().unwrap().shutdown().await;
    sqlx::query("update tenant set max_instances = 100, max_vcpus = 1000 where tenant_id = $1")
        .bind(e.tenant_id)
        .execute(&e.app.db)
        .await
        .unwrap();
    let proxy = e.proxy.clone().expect("a fault proxy");
    let mut sup = Supervisor::new(&e.app.database_url, &proxy.url());
    sup.note(format!(
        "seed {seed}{}",
        if cluster.is_some() {
            ", PostgreSQL restarted once"
        } else {
            ""
        }
    ));
    let first_failpoint = |p: &Phase| match p.kills.first() {
        Some(Kill::AtFailpoint(name)) => *name,
        _ => "",
    };
    sup.spawn(first_failpoint(&phases[0]));

    let mut group_id = Uuid::nil();
    let mut resumed_after = None;
    for (index, phase) in phases.iter().enumerate() {
        // Lost replies: a launch in us-east-1b, later any launch and two reads, and a
        // terminate during the scale-in.
        match index {
            0 => {
                proxy.add_rule(Rule::drop_reply("RunInstances").in_zone(ZONES[1]).times(1));
            }
            1 => {
                proxy.add_rule(Rule::drop_reply("RunInstances").times(1));
                proxy.add_rule(Rule::drop_reply("DescribeInstances").times(2));
            }
            _ => {
                proxy.add_rule(Rule::drop_reply("TerminateInstances").times(1));
            }
        }
        if index == 0 {
            let mut new = e.new_group("chaos", phase.desired);
            new.max = 60;
            group_id = e.create(new).await.group_id;
            sup.note(format!("group {group_id} created with desired 30"));
        } else {
            e.patch(
                group_id,
                GroupPatch {
                    desired: Some(phase.desired),
                    ..Default::default()
                },
            )
            .await;
            sup.note(format!("desired set to {}", phase.desired));
        }
        for (k, kill) in phase.kills.iter().enumerate() {
            let next = match (phase.kills.get(k + 1), phases.get(index + 1)) {
                (Some(_), _) => "",
                (None, Some(next_phase)) => first_failpoint(next_phase),
                (None, None) => "",
            };
            sup.kill(kill, next).await;
            // PostgreSQL goes down right after the kill at the failpoint before a launch: the
            // new worker has the rescue and the launch of 30 ahead of it.
            if let (Some(cluster), 1, 0) = (cluster, index, k) {
                sup.sleep(Duration::from_millis(1500)).await;
                resumed_after = Some(restart_postgres(&e, &mut sup, cluster, group_id).await);
            }
        }
    }
    // Nothing in the engine waits long after a crash: a launch a killed worker left behind is
    // resumed at once (before, its rows held their places for 60 s).
    sup.note("kills done; waiting for the group to converge on 10");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        sup.check_alive();
        let group = e.group(group_id).await;
        let at_moto = e.running(group_id).await;
        let done = group.as_ref().is_ok_and(|g| {
            g.status == ResourceStatus::Ready && g.observed_generation == g.generation
        }) && at_moto.values().sum::<u32>() == 10;
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not converge: {at_moto:?}, {:?}\n{}\nworker log:\n{}",
            group.map(|g| (g.status, g.waiting, g.conditions)),
            sup.timeline.join("\n"),
            sup.tail(40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sup.note("converged: Ready on 10");
    assert_eq!(sup.kills, KILLS);
    assert!(
        proxy.rules().is_empty(),
        "every lost-reply rule fired: {:?}",
        proxy.rules()
    );

    verify_sandbox(&e, group_id).await;

    // Every job ends: the worker gives its leases back, and a `--once` worker (no resync) runs
    // whatever is still due.
    sup.stop().await;
    sup.drain(&e.app.db).await;
    let jobs: Vec<(String, String, Option<String>)> =
        sqlx::query_as("select kind, state::text, last_error from job order by job_id")
            .fetch_all(&e.app.db)
            .await
            .unwrap();
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    for (_, state, _) in &jobs {
        *by_state.entry(state.clone()).or_default() += 1;
    }
    sup.note(format!("jobs by state: {by_state:?}"));
    let unended: Vec<_> = jobs
        .iter()
        .filter(|(_, state, _)| !matches!(state.as_str(), "succeeded" | "failed" | "cancelled"))
        .collect();
    assert!(unended.is_empty(), "jobs that did not end: {unended:?}");
    // Kills use no attempts (a rescue gives the attempt back); a job fails for a kill only as
    // a poison job, taken from its dead workers `MAX_RESCUES` times.
    let failed: Vec<_> = jobs
        .iter()
        .filter(|(_, state, error)| {
            state == "failed"
                && !error
                    .as_deref()
                    .is_some_and(|e| e.contains("stopped renewing its lease"))
        })
        .collect();
    assert!(failed.is_empty(), "jobs that failed: {failed:?}");
    // A worker started while PostgreSQL is down may exit (a process manager restarts it, as
    // the supervisor does); otherwise none should.
    if cluster.is_none() {
        assert_eq!(
            sup.unexpected_exits,
            0,
            "a worker exited on its own\n{}",
            sup.timeline.join("\n")
        );
    }
    if let Some(resumed) = resumed_after {
        assert!(
            resumed <= Duration::from_secs(10),
            "work resumed {resumed:?} after PostgreSQL came back"
        );
    }
    eprintln!("chaos timeline:\n{}", sup.timeline.join("\n"));
    e.finish().await;
}

/// Stops PostgreSQL at once (every connection breaks), keeps it down 3 s, starts it, and
/// returns how long after it accepted connections again a reconcile run of the group finished
/// (wrote the group's status; its first job event after the restart is noted too).
async fn restart_postgres(
    e: &Engine,
    sup: &mut Supervisor,
    cluster: &PrivateCluster,
    group_id: Uuid,
) -> Duration {
    cluster.stop_immediately().await.expect("PostgreSQL stops");
    sup.note("PostgreSQL stopped (immediate: every connection cut)");
    sup.sleep(Duration::from_secs(3)).await;
    cluster.start_server().await.expect("PostgreSQL starts");
    let up = Instant::now();
    let up_at: time::OffsetDateTime = loop {
        match sqlx::query_scalar("select now()")
            .fetch_one(&e.app.db)
            .await
        {
            Ok(t) => break t,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    sup.note("PostgreSQL accepts connections again");
    let mut first_event = false;
    loop {
        sup.check_alive();
        if !first_event {
            let next: Option<String> = sqlx::query_scalar(
                "select e.message from job_event e join job j using (job_id)
                 where j.resource_id = $1 and e.created_at > $2 order by e.event_id limit 1",
            )
            .bind(group_id)
            .bind(up_at)
            .fetch_optional(&e.app.db)
            .await
            .ok()
            .flatten();
            if let Some(mut message) = next {
                message.truncate(80);
                first_event = true;
                sup.note(format!(
                    "first job event {:.2}s after PostgreSQL came back: {message}",
                    up.elapsed().as_secs_f64()
                ));
            }
        }
        let reconciled: bool = sqlx::query_scalar(
            "select coalesce(reconciled_at > $2, false) from resource where resource_id = $1",
        )
        .bind(group_id)
        .bind(up_at)
        .fetch_one(&e.app.db)
        .await
        .unwrap_or(false);
        if reconciled {
            let resumed = up.elapsed();
            sup.note(format!(
                "work resumed: a reconcile run finished {:.2}s after PostgreSQL came back",
                resumed.as_secs_f64()
            ));
            return resumed;
        }
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "no work 30 s after PostgreSQL came back\n{}\n{}",
            sup.timeline.join("\n"),
            sup.tail(40)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Exactly 10 instances alive in the sandbox, each with the group's tags and a live row; every
/// instance moto ever made for the group has a row; none was launched twice.
async fn verify_sandbox(e: &Engine, group_id: Uuid) {
    let installation = app::backend::resources::installation_id(&e.app.db)
        .await
        .unwrap();
    // Every instance of the account, straight from moto (not through the proxy).
    let described = app::backend::cloud::providers::aws::ec2(&e.target)
        .describe_instances()
        .send()
        .await
        .expect("DescribeInstances");
    let all: Vec<aws_sdk_ec2::types::Instance> = described
        .reservations()
        .iter()
        .flat_map(|r| r.instances().iter().cloned())
        .collect();
    let tag = |i: &aws_sdk_ec2::types::Instance, key: &str| {
        i.tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    let state = |i: &aws_sdk_ec2::types::Instance| {
        i.state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default()
    };
    let alive: Vec<&aws_sdk_ec2::types::Instance> =
        all.iter().filter(|i| state(i) != "terminated").collect();
    assert_eq!(
        alive.len(),
        10,
        "instances alive in the sandbox account: {:?}",
        alive
            .iter()
            .map(|i| (i.instance_id(), state(i)))
            .collect::<Vec<_>>()
    );
    let mut per_zone = BTreeMap::new();
    for i in &alive {
        let id = i.instance_id().unwrap();
        assert_eq!(state(i), "running", "{id}");
        assert_eq!(tag(i, TAG_RESOURCE), Some(group_id.to_string()), "{id}");
        assert_eq!(tag(i, TAG_TENANT), Some(e.tenant_id.to_string()), "{id}");
        assert_eq!(
            tag(i, TAG_INSTALLATION),
            Some(installation.to_string()),
            "{id}"
        );
        assert!(tag(i, TAG_TOKEN).is_some(), "{id}");
        assert_eq!(tag(i, "team").as_deref(), Some("web"), "{id}");
        *per_zone
            .entry(
                i.placement()
                    .and_then(|p| p.availability_zone())
                    .unwrap()
                    .to_string(),
            )
            .or_insert(0u32) += 1;
    }
    assert_eq!(sorted(&per_zone), vec![3, 3, 4], "{per_zone:?}");

    let rows: Vec<(Option<String>, String, String, i32)> = sqlx::query_as(
        "select provider_id, state, launch_token, launch_index from instance where resource_id = $1",
    )
    .bind(group_id)
    .fetch_all(&e.app.db)
    .await
    .unwrap();
    let live: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.1 != "terminated")
        .map(|r| r.0.clone().expect("a live row has its instance"))
        .collect();
    let alive_ids: BTreeSet<String> = alive
        .iter()
        .map(|i| i.instance_id().unwrap().to_string())
        .collect();
    assert_eq!(
        live, alive_ids,
        "the live rows are exactly the live instances"
    );
    // None untracked: every instance the group ever had (terminated ones too) has its row.
    let known: BTreeSet<String> = rows.iter().filter_map(|r| r.0.clone()).collect();
    let ever: Vec<String> = all
        .iter()
        .filter(|i| tag(i, TAG_RESOURCE) == Some(group_id.to_string()))
        .map(|i| i.instance_id().unwrap().to_string())
        .collect();
    let untracked: Vec<&String> = ever.iter().filter(|id| !known.contains(*id)).collect();
    assert!(
        untracked.is_empty(),
        "instances without a row: {untracked:?}"
    );
    // None doubled: the group never needed more than 60 instances in all (30, then 30 more),
    // and no (token, launch index) was made twice.
    assert!(
        ever.len() <= 60,
        "{} instances were launched for a group that needed at most 60",
        ever.len()
    );
    let mut identities = BTreeSet::new();
    for i in all
        .iter()
        .filter(|i| tag(i, TAG_RESOURCE) == Some(group_id.to_string()))
    {
        let identity = (
            tag(i, TAG_TOKEN).unwrap(),
            i.ami_launch_index().unwrap_or(0),
        );
        assert!(
            identities.insert(identity.clone()),
            "launched twice: {identity:?}"
        );
    }
    eprintln!(
        "chaos: {} instances launched in all, {} alive {per_zone:?}, every one with its row",
        ever.len(),
        alive.len()
    );
}
