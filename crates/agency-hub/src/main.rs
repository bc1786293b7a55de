//! The `agency-hub` command: serve (the default), migrate, seed-demo, user add, backup,
//! restore, export.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use agency_hub::auth::{self, Email, NewUser};
use agency_hub::clients;
use agency_hub::config::{Config, LogFormat};
use agency_hub::db::entities::user::Role;
use agency_hub::integrations::backup;
use agency_hub::{App, db, files, seed, telemetry};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "agency-hub",
    version,
    about = "A client portal and service store for agencies."
)]
#[command(
    after_help = "Configuration comes from environment variables and an optional .env file; see the README."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app and run its background jobs (the default). Migrates first; seeds demo
    /// data into an empty database when DEMO_DATA is on.
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Add demo users and service templates, if the database has no user yet.
    SeedDemo,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Copy the database to FILE while the app serves (SQLite; on PostgreSQL it shows the
    /// pg_dump command to run).
    Backup {
        /// The copy to write: a new file.
        file: PathBuf,
    },
    /// Copy a backup into the empty database DATABASE_URL names, then migrate it (SQLite; on
    /// PostgreSQL it shows the pg_restore command to run).
    Restore {
        /// The backup to read.
        file: PathBuf,
    },
    /// Write a ZIP of one client company's data (JSON and CSV, with its files and invoices).
    Export(ExportArgs),
}

#[derive(Args)]
struct ExportArgs {
    /// The company's name (case does not matter).
    #[arg(long, value_name = "NAME")]
    client: String,
    /// Where to write it (default: COMPANY-export-DATE.zip here).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Asks for the password twice unless --password-stdin is given.
    Add(UserAdd),
}

#[derive(Args)]
struct UserAdd {
    /// Sign-in email (unique, compared case-insensitively).
    #[arg(long)]
    email: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// admin, manager or client.
    #[arg(long)]
    role: String,
    /// The client company of a client user; created when it does not exist.
    #[arg(long, value_name = "COMPANY")]
    client: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

/// A mistake in what was asked: one line, exit code 2.
struct UsageError(String);

/// glibc's allocator raises its mmap threshold to the size of the largest block freed so far,
/// so once a password hash (argon2 holds 19 MiB while it runs) has been freed, the next ones
/// are carved from per-thread arenas that keep the memory: a burst of 64 sign-ins left the
/// process at 425 MB resident. With the threshold fixed, every large block stays an mmap,
/// given back to the system when freed (40 MB after the same burst, `bench/store-bench.sh`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn give_large_blocks_back() {
    // SAFETY: mallopt only sets a parameter of the allocator; it is called first thing in
    // main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_large_blocks_back() {}

fn main() -> ExitCode {
    give_large_blocks_back();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap's message spans lines (the missing arguments, usage); keep it to one.
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty())
                .collect();
            eprintln!("{} (see --help)", message.join(" "));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            for line in &e.0 {
                eprintln!("error: {line}");
            }
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // Commands other than serve print their own result; their logs stay quiet.
    if matches!(command, Command::Serve) || config.log_format == LogFormat::Json {
        telemetry::init(config.log_format);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    let result = runtime.block_on(async move {
        match command {
            Command::Serve => serve(config).await.map_err(Err),
            Command::Migrate => migrate(config).await.map_err(Err),
            Command::SeedDemo => seed_demo(config).await.map_err(Err),
            Command::User(UserCommand::Add(args)) => add_user(config, args).await,
            Command::Backup { file } => {
                copy(backup::backup(&config.database_url, &file).await).await
            }
            Command::Restore { file } => {
                copy(backup::restore(&config.database_url, &file).await).await
            }
            Command::Export(args) => export(config, args).await.map_err(Err),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Ok(UsageError(msg))) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // A panic is one log line (where, and what), not a backtrace on stderr: a request's panic
    // answers our 500 (`web::middleware::panic_response`), a job's fails the job.
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        let message = info.payload_as_str().unwrap_or("(no message)");
        tracing::error!(%location, panic = message, "panicked");
    }));
    let app = App::build(config.clone()).await?;
    tracing::info!(addr = %app.local_addr(), "listening");
    if config.demo_data {
        seed::print_logins(&config);
    }
    println!("Agency Hub is running: open {}", config.app_url);
    app.run(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let conn = db::connect(&config.database_url).await?;
    let pending = db::pending_migrations(&conn).await?;
    db::migrate(&conn).await?;
    println!("Applied {pending} migration(s); the database is up to date.");
    Ok(())
}

/// A backup's or restore's outcome: what was written, or (PostgreSQL) the commands to run.
async fn copy(done: anyhow::Result<backup::Done>) -> Result<(), Result<UsageError, anyhow::Error>> {
    match done {
        Ok(backup::Done::Written(said)) => {
            println!("{said}");
            Ok(())
        }
        Ok(backup::Done::UseTheDatabaseTools(how)) => Err(Ok(UsageError(how))),
        Err(e) => Err(Err(e)),
    }
}

async fn export(config: Config, args: ExportArgs) -> anyhow::Result<()> {
    use agency_hub::integrations::export;
    let conn = db::connect(&config.database_url).await?;
    let company = export::find_client(&conn, &args.client).await?;
    let storage = files::Storage::open(&config.files.store)?;
    let to = args
        .output
        .unwrap_or_else(|| PathBuf::from(export::file_name(&company)));
    let path = to.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("writing {}: {e} (choose another --output)", to.display()))?;
    let made = match export::export(&conn, &config, &storage, company.id, out).await {
        Ok(made) => made,
        Err(e) => {
            // No half-written ZIP is left behind.
            let _ = tokio::task::spawn_blocking({
                let to = to.clone();
                move || std::fs::remove_file(to)
            })
            .await;
            return Err(e);
        }
    };
    let counts: Vec<String> = made
        .counts
        .iter()
        .map(|(name, n)| format!("{n} {}", name.replace('_', " ")))
        .collect();
    println!(
        "Exported {} to {} ({} KB): {}.",
        company.name,
        to.display(),
        made.size.div_ceil(1024),
        counts.join(", ")
    );
    if !made.missing.is_empty() {
        println!(
            "{} file(s) missing from the file store were left out (listed in its README.txt).",
            made.missing.len()
        );
    }
    Ok(())
}

async fn seed_demo(config: Config) -> anyhow::Result<()> {
    let conn = db::connect(&config.database_url).await?;
    db::migrate(&conn).await?;
    if seed::seed_demo(&conn).await? {
        println!("Demo data seeded.");
        seed::print_logins(&config);
    } else {
        println!("The database already has users: nothing seeded.");
    }
    Ok(())
}

async fn add_user(config: Config, args: UserAdd) -> Result<(), Result<UsageError, anyhow::Error>> {
    let usage = |m: String| Err(Ok(UsageError(m)));
    let email = match Email::parse(&args.email) {
        Ok(e) => e,
        Err(m) => return usage(format!("--email: {m}")),
    };
    let name = match auth::parse_name(&args.name) {
        Ok(n) => n,
        Err(m) => return usage(format!("--name: {m}")),
    };
    let Some(role) = Role::parse(&args.role) else {
        return usage(format!(
            "--role: '{}' is not admin, manager or client",
            args.role
        ));
    };
    match (role, args.client.as_deref()) {
        (Role::Client, None) => {
            return usage("--client: a client user needs --client COMPANY".into());
        }
        (Role::Admin | Role::Manager, Some(_)) => {
            return usage("--client: only client users belong to a client company".into());
        }
        _ => {}
    }
    let password = read_password(args.password_stdin).map_err(Err)?;
    let password = match password {
        Ok(p) => p,
        Err(m) => return usage(m),
    };
    if let Err(m) = auth::password::validate(&password) {
        return usage(format!("password: {m}"));
    }
    let password_hash = auth::password::hash(password)
        .await
        .map_err(|e| Err(e.into()))?;

    let conn = db::connect(&config.database_url).await.map_err(Err)?;
    db::migrate(&conn).await.map_err(Err)?;
    let txn = conn.write().await.map_err(|e| Err(e.into()))?;
    let client = match args.client.as_deref() {
        Some(company) => match clients::find_or_create(&txn, company).await {
            Ok(c) => Some(c),
            Err(e) if e.status.is_client_error() => {
                return usage(format!("--client: {}", e.message));
            }
            Err(e) => return Err(Err(anyhow::anyhow!("{e}"))),
        },
        None => None,
    };
    let new = NewUser {
        email,
        name,
        role,
        client_id: client.as_ref().map(|c| c.id),
        password_hash,
    };
    let user = match auth::insert_user(&txn, new).await {
        Ok(u) => u,
        Err(e) if e.status.is_client_error() => {
            return usage(format!(
                "--{}: {}",
                e.field.as_deref().unwrap_or("email"),
                e.message
            ));
        }
        Err(e) => return Err(Err(anyhow::anyhow!("{e}"))),
    };
    txn.commit().await.map_err(|e| Err(e.into()))?;
    let company = client
        .map(|c| format!(" of {}", c.name))
        .unwrap_or_default();
    println!(
        "Created {} user {}{company}.",
        user.role.as_str(),
        user.email
    );
    Ok(())
}

/// The password from standard input's first line, or asked twice at the terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<Result<String, String>> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(Ok(line.trim_end_matches(['\r', '\n']).to_string()));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(Err(
            "no terminal to ask for the password: pass --password-stdin and pipe it in".into(),
        ));
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Password again: ")?;
    if first != second {
        return Ok(Err("the two passwords differ".into()));
    }
    Ok(Ok(first))
}
