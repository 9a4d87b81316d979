//! `stratus`: the Stratus server binary.

use clap::{Parser, Subcommand};
use server::{cli, config::Settings, telemetry};

#[derive(Parser)]
#[command(
    name = "stratus",
    version,
    about = "Stratus: a self-service cloud control plane"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create the first platform admin if there is none, printing its password once.
    CreateAdmin {
        #[arg(
            long,
            env = "STRATUS_ADMIN_EMAIL",
            default_value = "admin@stratus.local"
        )]
        email: String,
    },
    /// Set a new random password for a user, print it once and end their sessions.
    ResetPassword { email: String },
    /// Turn off a user's two-factor authentication (lost device and recovery codes) and end
    /// their sessions; a platform admin then enrols again at sign-in.
    ResetMfa { email: String },
    /// Run jobs only, without serving HTTP (to scale workers out).
    Worker {
        #[arg(long, env = "STRATUS_WORKER_CONCURRENCY", default_value_t = 8)]
        concurrency: usize,
        /// Exit once no job is due and none is running.
        #[arg(long)]
        once: bool,
    },
    /// Create an API key for a member of a tenant and print it once (bootstraps automation
    /// without the portal; the operator's database access stands in for re-authentication).
    CreateApiKey {
        /// The member the key acts for.
        #[arg(long)]
        email: String,
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// At most the member's own role.
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long, default_value_t = 90)]
        days: i64,
        #[arg(long, default_value = "created with the stratus CLI")]
        name: String,
    },
    /// Key-encryption keys.
    #[command(subcommand)]
    Keys(Keys),
    /// The audit log.
    #[command(subcommand)]
    Audit(Audit),
    /// Benchmarks (see the README).
    #[command(subcommand)]
    Bench(server::bench::Bench),
    /// Event-stream latency against a running server (`scripts/bench-events` drives it).
    BenchEvents(server::bench_events::BenchEvents),
}

#[derive(Subcommand)]
enum Audit {
    /// Walk the audit log's hash chain and name the first broken link (exit code 1).
    Verify,
}

#[derive(Subcommand)]
enum Keys {
    /// Re-wrap every secret's data key under the active key (the first configured).
    Rotate,
    /// Print a new random key line (`id:base64`) to add in front of STRATUS_MASTER_KEYS.
    Generate {
        #[arg(long)]
        id: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init(&settings);
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => cli::serve(settings).await,
        Command::Migrate => cli::migrate(&settings).await,
        Command::CreateAdmin { email } => cli::create_admin(&settings, &email).await,
        Command::ResetPassword { email } => cli::reset_password(&settings, &email).await,
        Command::ResetMfa { email } => cli::reset_mfa(&settings, &email).await,
        Command::Worker { concurrency, once } => cli::worker(settings, concurrency, once).await,
        Command::Bench(bench) => server::bench::run(settings, bench).await,
        Command::BenchEvents(args) => server::bench_events::run(settings, args).await,
        Command::CreateApiKey {
            email,
            tenant,
            role,
            days,
            name,
        } => cli::create_api_key(&settings, &email, &tenant, &role, days, &name).await,
        Command::Keys(Keys::Rotate) => cli::rotate_keys(&settings).await,
        Command::Audit(Audit::Verify) => cli::verify_audit(&settings).await,
        Command::Keys(Keys::Generate { id }) => {
            println!("{}", app::backend::secrets::Keyring::generate_line(&id));
            Ok(())
        }
    }
}
