//! The psi integration server: storage, the management API and the public endpoints.
//!
//! The whole wiring is [`build`]: configuration → database → migrations → master key → admin
//! token → state → demo seed → workers → router → listener ([`connections`]), and [`serve`] adds
//! logging, the printed instructions and shutdown on SIGTERM or Ctrl-C. The `psi` binary calls [`serve`] and [`migrate`] with [`cli::ServeArgs`] and
//! [`cli::MigrateArgs`]; tests call [`build`] with a [`Config`] listening on port 0.
//!
//! Layout, from the floor up: [`config`], [`crypto`] (master-key AEAD, DIDs), [`http`] (state,
//! errors, extractors, auth), [`db`] (one module per table, tenant-scoped by
//! [`scope::ServiceScope`]), [`credentials`], [`calls`] (one signed outbound call), [`delivery`]
//! (the outbox), [`event`] (starting and settling an event), [`engine`] and [`inbound`] (who
//! settles events), the resources ([`api`], [`public`], [`wallet`], [`pages`]) and [`router`] on
//! top.

pub mod api;
pub mod calls;
pub mod cli;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod event;
pub mod http;
pub mod ids;
pub mod inbound;
pub mod memory;
pub mod pages;
pub mod public;
pub mod router;
pub mod scope;
mod telemetry;
pub mod wallet;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::Config;
use crypto::MasterKey;
use db::Db;
use http::AppState;
use http::auth::AdminCredential;
use psi_link::Did;

/// A running server.
pub struct App {
    /// The address it listens on (the real port when configured with port 0).
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `metrics_listen` moves it off `addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// The admin token, when this start generated it (first start without a configured token).
    pub generated_admin_token: Option<SecretString>,
    /// The demo service's DID, in demo mode.
    pub demo: Option<Did>,
    state: AppState,
    shutdown: CancellationToken,
    handle: JoinHandle<std::io::Result<()>>,
    /// Delivery workers, the notifier and listener between processes, the writer of the counts
    /// of start pages and links, the metrics' upkeep and the memory trim; they stop with the
    /// server.
    workers: tokio::task::JoinSet<()>,
}

/// Prepares storage and starts serving in a background task.
pub async fn build(config: Config) -> anyhow::Result<App> {
    db::create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let db = Db::connect(&config).await?;
    db.migrate().await.context("database migrations")?;
    db::extensions::seed_builtins(&db)
        .await
        .context("storing the built-in extensions")?;
    let master_key = MasterKey::load_or_create(&config)?;
    db::settings::check_master_key(&db, &master_key).await?;
    let (admin, generated_admin_token) =
        AdminCredential::ensure(&db, config.admin_token.as_ref()).await?;
    http::metrics::init();
    if let Some(warning) = config.pages.no_store_warning() {
        tracing::warn!("{warning}");
    }

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let state = AppState {
        db,
        master_key,
        admin,
        public_url: public_url.into(),
        outbound: outbound_client(&config, addr)?,
        opened_keys: Default::default(),
        auth_throttle: Arc::new(http::throttle::AuthThrottle::new(config.auth.clone())),
        oauth_throttle: Arc::new(http::throttle::AuthThrottle::new(
            public::oauth::DEVICE_AUTHORIZATION_LIMIT,
        )),
        interaction_counts: Default::default(),
        config: Arc::new(config),
    };
    // Seeded before anything is served, so `/readyz` never answers before the demo exists.
    let demo = if state.config.demo {
        let did = demo::seed(&state).await?;
        demo::receiver::attach(&state, &did, addr).await?;
        Some(did)
    } else {
        None
    };
    let shutdown = CancellationToken::new();
    let metrics_addr = http::metrics::serve_apart(&state.config, &shutdown).await?;
    let mut workers = delivery::spawn(&state, &shutdown);
    if state.db.backend() == db::Backend::Postgres {
        // Every process tells the others its news, and hears theirs.
        let url = state.config.database_url.expose_secret().to_owned();
        let channels = vec![
            delivery::channel(state.config.delivery.workers > 0),
            state.db.config_version().channel(),
        ];
        workers.spawn(db::listen::run(url, channels, shutdown.child_token()));
    }
    workers.spawn(http::metrics::upkeep(shutdown.child_token()));
    workers.spawn(memory::trim_periodically(shutdown.child_token()));
    workers.spawn(db::interaction_counts::run(
        Arc::clone(&state.interaction_counts),
        state.db.clone(),
        shutdown.child_token(),
    ));
    inbound::spawn_purge(state.db.clone(), shutdown.clone());
    inbound::deadline::spawn(state.clone(), shutdown.clone());
    let server = connections::serve(
        listener,
        router::router(state.clone()),
        state.config.connections.clone(),
        shutdown.clone(),
    );
    // Migrations, the demo seed and the router's OpenAPI document freed megabytes on the way.
    tokio::task::spawn_blocking(memory::trim);
    let handle = tokio::spawn(server);
    Ok(App {
        addr,
        metrics_addr,
        generated_admin_token,
        demo,
        state,
        shutdown,
        handle,
        workers,
    })
}

impl App {
    /// The state handlers see (database, master key, configuration).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections, lets requests in flight finish, closes the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server stops (after [`stop`](Self::stop) or a failure), then for the
    /// delivery workers to finish their current step, and writes the last counts of start pages
    /// and links (after the last request, so none is lost).
    async fn wait(mut self) -> anyhow::Result<()> {
        let result = self.handle.await.context("server task")?;
        self.shutdown.cancel();
        while self.workers.join_next().await.is_some() {}
        if let Err(e) = self.state.interaction_counts.flush(&self.state.db).await {
            tracing::warn!(error = %e, "writing the last counts of start pages and links");
        }
        self.state.db.close().await;
        result.context("server")
    }
}

/// The guarded client under `config.outbound`; in demo mode it may also reach the demo receiver
/// on this server's own address (its path only, not the rest of this server).
fn outbound_client(
    config: &Config,
    addr: SocketAddr,
) -> anyhow::Result<psi_outbound::OutboundClient> {
    let mut policy = config.outbound.clone();
    if config.demo {
        policy
            .allowed_hosts
            .push(demo::receiver::allowed_prefix(addr));
    }
    psi_outbound::OutboundClient::new(policy).context("outbound HTTP client")
}

/// `psi serve`: loads the configuration, starts the server, stops on SIGTERM or Ctrl-C.
pub async fn serve(args: cli::ServeArgs) -> anyhow::Result<()> {
    let overrides = args.storage.overrides(args.listen);
    let mut config = Config::load(args.storage.config.as_deref(), &overrides)?;
    config.demo = args.demo;
    telemetry::init(config.log_format, &config.log_level);
    let app = build(config).await?;
    if let Some(token) = &app.generated_admin_token {
        println!(
            "admin token (shown once, store it now): {}",
            token.expose_secret()
        );
    }
    if let Some(did) = &app.demo {
        let token = app
            .generated_admin_token
            .as_ref()
            .map(|t| t.expose_secret());
        print!("{}", demo::instructions(app.state(), did, token).await?);
        // The path of this binary: the printed line runs as pasted, `psi` on the PATH or not.
        let program = std::env::current_exe()
            .map(|path| path.display().to_string())
            .unwrap_or_else(|_| "psi".to_owned());
        print!(
            "{}",
            demo::wallet::commands(app.state(), did, &program).await?
        );
        if token.is_none() {
            println!("admin token: the configured one, or the one printed at the first start");
        }
    }
    tracing::info!(addr = %app.addr, public_url = %app.state().public_url, "listening");
    let shutdown = app.shutdown.clone();
    tokio::spawn(async move {
        let signal = shutdown_signal().await;
        tracing::info!(signal, "shutting down");
        shutdown.cancel();
    });
    app.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `psi migrate`: applies pending migrations and exits.
pub async fn migrate(args: cli::MigrateArgs) -> anyhow::Result<()> {
    let db = open_database(&args.storage).await?;
    db.close().await;
    println!("database is up to date");
    Ok(())
}

/// The database of `storage`'s configuration, migrated.
async fn open_database(storage: &cli::StorageArgs) -> anyhow::Result<Db> {
    let config = Config::load(storage.config.as_deref(), &storage.overrides(None))?;
    telemetry::init(config.log_format, &config.log_level);
    db::create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let db = Db::connect(&config).await?;
    db.migrate().await.context("database migrations")?;
    Ok(db)
}

/// `psi admin`: adds a dashboard operator, or sets one's password (`password`, which the binary
/// asked for), and exits.
pub async fn admin(args: cli::AdminArgs, password: &str) -> anyhow::Result<()> {
    let db = open_database(&args.storage).await?;
    let result = dashboard::accounts::administer(&db, &args.command, password).await;
    db.close().await;
    println!("{}", result?);
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "Ctrl-C",
        () = terminate => "SIGTERM",
    }
}
