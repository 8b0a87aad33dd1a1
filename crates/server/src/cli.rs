//! Command-line interface: `serve`, `migrate`, and bootstrap commands for scripts. Global
//! options reach the same database as `serve` would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use lanyard_store::{redact, AuditEvent, Store};
use serde_json::json;

use crate::api::{orgs_cli, timestamp};
use crate::auth::OPERATOR_KEY_PREFIX;
use crate::secrets::{random_id, random_token, KeySource, Secrets, MASTER_KEY_ENV};
use crate::state::AppState;

#[derive(Parser, Debug)]
#[command(
    name = "lanyard",
    version,
    about = "Enterprise identity for a SaaS product: SAML and SCIM in, OpenID Connect out."
)]
pub struct Cli {
    /// Where Lanyard keeps its files (the SQLite database, the master key); created if missing.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "LANYARD_DATA_DIR",
        default_value = "./lanyard-data"
    )]
    data_dir: PathBuf,
    /// `sqlite://<path>` or `postgres://user@host/db`; default `sqlite://<data-dir>/lanyard.db`.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "LANYARD_DATABASE_URL"
    )]
    database_url: Option<String>,
    /// Print command results as JSON.
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    /// Log format.
    #[arg(long, global = true,
        help_heading = "Global options", env = "LANYARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log filter, such as `info` or `lanyard=debug,tower_http=debug`.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "LANYARD_LOG",
        default_value = "info"
    )]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Operator keys: full access to every organization through the admin API.
    #[command(subcommand)]
    OperatorKey(OperatorKeyCommand),
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// SAML tools for support staff.
    #[command(subcommand)]
    Saml(SamlCommand),
}

#[derive(Subcommand, Debug)]
enum SamlCommand {
    /// Print the verdict on a saved SAML response: the identity, or every reason it is refused.
    ///
    /// Reads files only: of the global options it uses `--json` alone (clap cannot leave the
    /// others out of this list).
    Verify(crate::saml::cli::VerifyArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the log says which).
    #[arg(long, env = "LANYARD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The URL users and IdPs reach this server at; default `http://<listen>`.
    #[arg(long, env = "LANYARD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Largest request body accepted, in bytes (413 past it).
    #[arg(long, env = "LANYARD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// SCIM requests per second allowed to each SCIM credential, with bursts of twice that
    /// (429 with Retry-After past it); 0 turns the limit off.
    #[arg(long, env = "LANYARD_SCIM_RATE_LIMIT", default_value_t = 100)]
    scim_rate_limit: u32,
    /// SMTP server for invitation e-mail: smtps://user:pass@host:465 (TLS),
    /// smtp://host:587?tls=required (STARTTLS) or smtp://host:25 (plain, local relays only).
    /// Without it, an invitation's link is returned by the API instead.
    #[arg(long, env = "LANYARD_SMTP_URL")]
    smtp_url: Option<String>,
    /// The From address of the e-mail sent.
    #[arg(
        long,
        env = "LANYARD_SMTP_FROM",
        default_value = "Lanyard <no-reply@localhost>"
    )]
    smtp_from: String,
}

#[derive(Subcommand, Debug)]
enum OperatorKeyCommand {
    /// Create an operator key and print it (once; only its hash is kept).
    Create,
    /// List operator keys (without secrets).
    List,
    /// Revoke an operator key by id.
    Revoke {
        /// The key's id, as `list` shows it.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum OrgCommand {
    /// Create an organization with the roles Admin and Agent.
    Create {
        /// Lowercase letters, digits and hyphens, 2–63 characters.
        #[arg(long)]
        short_name: String,
        /// The display name.
        #[arg(long)]
        name: String,
        /// An e-mail domain the organization claims (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// A business unit id; random when omitted.
        #[arg(long)]
        business_unit_id: Option<i64>,
    },
    /// List organizations.
    List,
}

/// Sets up logging to standard error (standard output carries command results).
pub fn init_logging(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match cli.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Runs the command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Offline tools need no database.
    if let Command::Saml(cmd) = &cli.command {
        return saml(&cli, cmd);
    }
    let (store, secrets) = open(&cli).await?;
    let result = match &cli.command {
        Command::Serve(args) => serve(store.clone(), secrets, args).await,
        Command::Migrate => {
            print(&cli, json!({ "migrated": true }), "database is up to date");
            Ok(())
        }
        Command::OperatorKey(cmd) => operator_key(&cli, &store, &secrets, cmd).await,
        Command::Org(cmd) => org(&cli, &store, cmd).await,
        Command::Saml(cmd) => saml(&cli, cmd),
    };
    store.close().await;
    result
}

/// Opens the data directory, the database (migrating it) and the master key.
async fn open(cli: &Cli) -> anyhow::Result<(Store, Secrets)> {
    create_data_dir(&cli.data_dir)?;
    let url = match &cli.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", cli.data_dir.join("lanyard.db").display()),
    };
    let store = Store::open(&url)
        .await
        .with_context(|| format!("opening the database at {}", redact(&url)))?;
    let env_key = std::env::var(MASTER_KEY_ENV).ok().filter(|v| !v.is_empty());
    let (secrets, source) = Secrets::load(&cli.data_dir, env_key.as_deref(), &store).await?;
    if let KeySource::Generated(path) = &source {
        tracing::warn!(path = %path.display(), "generated a new master key; back it up: without it, stored secrets cannot be read");
    }
    tracing::debug!(database = %redact(&url), backend = ?store.backend(), "database ready");
    Ok((store, secrets))
}

fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))
}

fn print(cli: &Cli, value: serde_json::Value, text: &str) {
    if cli.json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

async fn serve(store: Store, secrets: Secrets, args: &ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let id_token_keys = crate::oidc::IdTokenKeys::load_or_create(&store, &secrets).await?;
    let mailer = match &args.smtp_url {
        Some(url) => Some(Arc::new(crate::mail::Mailer::new(url, &args.smtp_from)?)),
        None => None,
    };
    let state = AppState {
        store,
        secrets: Arc::new(secrets),
        metrics: crate::metrics::install(),
        public_url: crate::urls::PublicUrl::new(&public_url),
        max_body_bytes: args.max_body_bytes,
        mailer,
    };
    tokio::spawn(prune_sign_in(state.store.clone()));
    let scim_limits = crate::scim::ScimLimits::new(args.scim_rate_limit);
    let app = crate::app::build(state, scim_limits, id_token_keys);
    // Browsers keep Secure cookies over https, or plain http on this machine: what
    // browser_url accepts.
    if crate::validate::browser_url("public_url", &public_url).is_err() {
        tracing::warn!(public_url = %public_url, "sign-in needs an https public URL (plain http works on localhost only): browsers keep the cookie that ties a sign-in to them only over https");
    }
    tracing::info!(address = %address, public_url = %public_url, version = env!("CARGO_PKG_VERSION"), "listening");
    // The peer address limits password attempts per client address.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM: in-flight requests finish, new connections are refused.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

fn saml(cli: &Cli, cmd: &SamlCommand) -> anyhow::Result<()> {
    match cmd {
        SamlCommand::Verify(args) => match crate::saml::cli::verify(args, cli.json)? {
            true => Ok(()),
            false => Err(anyhow!("the response was refused")),
        },
    }
}

async fn operator_key(
    cli: &Cli,
    store: &Store,
    secrets: &Secrets,
    cmd: &OperatorKeyCommand,
) -> anyhow::Result<()> {
    match cmd {
        OperatorKeyCommand::Create => {
            let id = random_id("op_", 12);
            let key = random_token(OPERATOR_KEY_PREFIX, 32);
            store
                .create_operator_key(
                    &id,
                    &secrets.hash_secret(&key),
                    &AuditEvent::success("cli", "operator_key.create"),
                )
                .await?;
            if cli.json {
                println!("{}", json!({ "key": key, "id": id }));
            } else {
                eprintln!("Operator key {id} created. It is shown once; keep it secret:");
                println!("{key}");
            }
        }
        OperatorKeyCommand::List => {
            let keys = store.list_operator_keys().await?;
            let rows: Vec<_> = keys
                .iter()
                .map(|k| {
                    json!({
                        "id": k.id,
                        "created_at": timestamp(k.created_at),
                        "last_used_at": k.last_used_at.map(timestamp),
                        "revoked_at": k.revoked_at.map(timestamp),
                    })
                })
                .collect();
            let text = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}\tcreated {}\t{}",
                        k.id,
                        timestamp(k.created_at),
                        if k.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(cli, json!(rows), &text);
        }
        OperatorKeyCommand::Revoke { id } => {
            let mut audit = AuditEvent::success("cli", "operator_key.revoke");
            audit.target = Some(id.clone());
            store
                .revoke_operator_key(id, &audit)
                .await
                .map_err(|e| match e {
                    lanyard_store::StoreError::NotFound => anyhow!("no operator key {id:?}"),
                    other => other.into(),
                })?;
            print(cli, json!({ "revoked": id }), &format!("revoked {id}"));
        }
    }
    Ok(())
}

async fn org(cli: &Cli, store: &Store, cmd: &OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Create {
            short_name,
            name,
            domains,
            business_unit_id,
        } => {
            let org = orgs_cli::create(store, short_name, name, domains, *business_unit_id)
                .await
                .map_err(|e| anyhow!("{}", e.message))?;
            let text = format!(
                "created organization {} ({}), id {}, business unit {}",
                org.short_name, org.display_name, org.id, org.business_unit_id
            );
            print(
                cli,
                serde_json::to_value(crate::api::OrgView::from(org))?,
                &text,
            );
        }
        OrgCommand::List => {
            let page = store.list_orgs(i64::MAX, 0).await?;
            let text = page
                .items
                .iter()
                .map(|o| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        o.short_name, o.id, o.business_unit_id, o.display_name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            let views: Vec<_> = page
                .items
                .into_iter()
                .map(crate::api::OrgView::from)
                .collect();
            print(cli, serde_json::to_value(views)?, &text);
        }
    }
    Ok(())
}

/// Forgets expired sign-in state (pending requests, remembered assertions, sessions, codes,
/// tokens) every ten minutes; each is also refused by its expiry when read.
async fn prune_sign_in(store: lanyard_store::Store) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match store.prune_sign_in().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "expired sign-in state removed"),
            Err(e) => tracing::warn!(error = %e, "removing expired sign-in state failed"),
        }
    }
}
