//! Opening everything a command needs, and the long-running commands (serve, harvest).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use snodo_api::{AppState, HarvestTrigger, SourceMeta, TriggerError};
use snodo_config::{Config, LogFormat};
use snodo_harvest::cluster::LeaderSlot;
use snodo_harvest::{HarvestError, Harvester, Indexer};
use snodo_index::Index;
use snodo_store::{SourceInfo, Store};
use tokio_util::sync::CancellationToken;

pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    let kinds = snodo_harvest::registry::kinds();
    Config::load(path, &kinds).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))
}

pub fn init_logging(format: LogFormat, level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Colours only for people: log files and journald get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests running several commands in one process) is harmless.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Installs the Prometheus recorder once per process and returns its renderer.
fn metrics_renderer() -> Option<Arc<dyn Fn() -> String + Send + Sync>> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    let handle = HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 300.0,
                ],
            )
            .ok()?;
        let handle = builder.install_recorder().ok()?;
        snodo_api::describe_metrics();
        snodo_harvest::describe_metrics();
        let upkeep = handle.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        });
        Some(handle)
    });
    handle
        .clone()
        .map(|h| Arc::new(move || h.render()) as Arc<dyn Fn() -> String + Send + Sync>)
}

/// What `snodo serve` does in a deployment of several processes sharing a PostgreSQL store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Role {
    /// Search API and harvesting (while it holds the leadership, on PostgreSQL): the only role
    /// with SQLite.
    #[default]
    All,
    /// Search API only: the local index follows the shared store.
    Api,
    /// Harvesting only (while it holds the leadership); still answers `/status`, `/metrics` and
    /// the admin endpoints.
    Harvester,
}

/// Who runs a harvest the API asks for.
#[derive(Clone)]
pub enum Harvesting {
    /// This process alone writes the store (SQLite).
    Local(Arc<Harvester>),
    /// Whoever holds the leadership; nothing while another process does.
    Leader(LeaderSlot),
}

impl Harvesting {
    fn current(&self) -> Option<Arc<Harvester>> {
        match self {
            Harvesting::Local(h) => Some(h.clone()),
            Harvesting::Leader(slot) => slot.current(),
        }
    }
}

/// Opens the store the configuration names: PostgreSQL when `storage.database_url` is set, the
/// SQLite file in the data directory otherwise.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    match config.storage.database_url() {
        Some(url) => Store::connect(url).with_context(|| {
            format!(
                "cannot open the store on PostgreSQL ({})",
                snodo_store::redact_url(url)
            )
        }),
        None => Ok(Store::open(&config.db_path())?),
    }
}

pub struct App {
    pub config: Config,
    pub store: Arc<Store>,
    pub index: Arc<Index>,
    pub indexer: Arc<Indexer>,
    pub cancel: CancellationToken,
    /// Documents indexed when opening had to rebuild the index (new, or another schema version).
    pub rebuilt_on_open: Option<u64>,
}

impl App {
    /// Opens the store (running migrations) and the index, rebuilding or catching up the index
    /// so that it reflects the store before anything is served.
    pub async fn open(config: Config) -> anyhow::Result<App> {
        Self::open_with(config, false).await
    }

    /// Like [`App::open`], but when another process (`snodo serve`) holds the index writer, opens
    /// the index read-only instead of failing: for commands that only search.
    pub async fn open_for_reading(config: Config) -> anyhow::Result<App> {
        Self::open_with(config, true).await
    }

    async fn open_with(config: Config, read_only_ok: bool) -> anyhow::Result<App> {
        // Before anything records a metric, so start-up gauges are not lost.
        let _ = metrics_renderer();
        let data_dir = &config.storage.data_dir;
        std::fs::create_dir_all(data_dir).with_context(|| {
            format!(
                "cannot create the data directory {} (storage.data_dir in {}); create it or point storage.data_dir / SNODO_DATA_DIR at a writable directory",
                data_dir.display(),
                config.path.display()
            )
        })?;
        let infos: Vec<SourceInfo> = config
            .sources
            .iter()
            .map(|s| SourceInfo {
                id: s.id.clone(),
                name: s.name.clone(),
                kind: s.kind.clone(),
                url: s.url.clone(),
            })
            .collect();
        // The store is blocking (and PostgreSQL's client may not run on an async thread).
        let store = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Store> {
                let store = open_store(&config)?;
                store.sync_sources(&infos)?;
                Ok(store)
            })
            .await??
        };
        let store = Arc::new(store);
        let index = match Index::open(&config.index_dir()) {
            Err(snodo_index::IndexError::Locked { .. }) if read_only_ok => {
                let index = Index::open_read_only(&config.index_dir()).with_context(|| {
                    format!("cannot open the index in {}", config.index_dir().display())
                })?;
                let indexer = Arc::new(Indexer::new(store.clone(), Arc::new(index)));
                let index = indexer.index().clone();
                return Ok(App {
                    config,
                    store,
                    index,
                    indexer,
                    cancel: CancellationToken::new(),
                    rebuilt_on_open: None,
                });
            }
            other => Arc::new(other.with_context(|| {
                format!("cannot open the index in {}", config.index_dir().display())
            })?),
        };
        // Only the index writer harvests, so only it may declare runs of a dead process
        // abandoned: a reader (or a `snodo harvest` refused while `snodo serve` runs) must not
        // touch the server's runs in progress. On a shared store only the harvester leader may,
        // when it takes over.
        if !store.is_shared() {
            let s = store.clone();
            let abandoned =
                tokio::task::spawn_blocking(move || s.abandon_unfinished_runs(chrono::Utc::now()))
                    .await??;
            if abandoned > 0 {
                tracing::warn!(
                    runs = abandoned,
                    "runs left unfinished by a previous process were marked abandoned"
                );
            }
        }
        let indexer = Arc::new(Indexer::new(store.clone(), index.clone()));
        snodo_harvest::publish_record_gauges(&store).await;
        let rebuilt_on_open = if index.needs_rebuild() {
            tracing::info!(
                "the index schema changed or the index is new: rebuilding from the store"
            );
            Some(indexer.rebuild().await?)
        } else {
            indexer.catch_up().await?;
            None
        };
        Ok(App {
            config,
            store,
            index,
            indexer,
            cancel: CancellationToken::new(),
            rebuilt_on_open,
        })
    }

    pub fn harvester(&self) -> anyhow::Result<Harvester> {
        self.harvester_until(self.cancel.clone())
    }

    /// A harvester whose runs stop when `cancel` fires (the end of a term of leadership).
    fn harvester_until(&self, cancel: CancellationToken) -> anyhow::Result<Harvester> {
        Harvester::new(
            &self.config,
            self.store.clone(),
            self.indexer.clone(),
            cancel,
        )
        .map_err(|p| anyhow::anyhow!("invalid configuration:\n{}", p.join("\n")))
    }

    pub fn api_state(&self, harvesting: Option<Harvesting>) -> AppState {
        let mut state = AppState::new(self.store.clone(), self.index.clone());
        state.sources = Arc::new(
            self.config
                .sources
                .iter()
                .map(|s| SourceMeta {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    url: s.url.clone(),
                    schedule: s.schedule.clone(),
                    enabled: s.enabled,
                    licence: s.licence,
                    attribution: s.attribution.clone(),
                    update_every: s.period(),
                })
                .collect(),
        );
        state.catalog = self
            .config
            .catalog
            .as_ref()
            .map(|c| snodo_api::catalog::Publisher {
                name: c.publisher_name.clone(),
                id: c.publisher_id.clone(),
                email: c.contact_email.clone(),
            });
        state.admin_token = self.config.admin_token().map(str::to_owned);
        state.public_url = self.config.server.public_url.clone();
        state.cors_allowed_origins = self.config.server.cors_allowed_origins.clone();
        state.public_status_page = self.config.server.public_status_page;
        state.accessibility = snodo_api::page::Accessibility {
            statement_url: self.config.server.accessibility_statement_url.clone(),
            contact: self.config.server.accessibility_contact.clone(),
        };
        let srv = &self.config.server;
        state.limits = snodo_api::Limits {
            rate_limit_per_minute: srv.rate_limit_per_minute,
            rate_limit_burst: srv.rate_limit_burst,
            trusted_proxies: srv
                .trusted_proxies
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
            request_timeout: Duration::from_secs(srv.request_timeout_secs),
            max_uri_bytes: srv.max_uri_bytes,
            max_body_bytes: srv.max_body_bytes,
            ..snodo_api::Limits::default()
        };
        state.answers = Arc::new(snodo_api::AnswerCache::new(srv.search_cache_entries));
        state.render_metrics = metrics_renderer();
        if let Some(h) = harvesting {
            let running = h.clone();
            state.running = Some(Arc::new(move |id: &str| {
                running.current().is_some_and(|h| h.is_running(id))
            }));
            state.trigger = Some(Arc::new(Trigger(h)));
        }
        state
    }

    /// `snodo harvest`: runs the named (or all enabled) sources now and prints a summary. On a
    /// shared store it must hold the leadership for as long as it runs.
    pub async fn harvest(&self, ids: &[String], json: bool) -> anyhow::Result<ExitCode> {
        let lease = if self.store.is_shared() {
            let store = self.store.clone();
            let lease = tokio::task::spawn_blocking(move || store.try_lead()).await??;
            let Some(lease) = lease else {
                bail!(
                    "another snodo process is the harvester of this PostgreSQL store; ask it to \
                     harvest (POST /api/v1/admin/sources/ID/harvest with the admin token) or stop it first"
                );
            };
            // Holding the leadership, nobody else harvests: runs left `running` are dead.
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.abandon_unfinished_runs(chrono::Utc::now()))
                .await??;
            Some(lease)
        } else {
            None
        };
        let mut harvester = self.harvester()?;
        let bars = crate::output::Bars::for_terminal(json);
        if let Some(f) = bars.progress_fn() {
            harvester = harvester.with_progress(f);
        }
        let ids = sources_to_harvest(&self.config, ids);
        if ids.is_empty() {
            bail!(
                "no sources to harvest: add [[sources]] to {}",
                self.config.path.display()
            );
        }
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: finishing cleanly (press Ctrl-C again to force)");
                cancel.cancel();
            }
        });
        let results = harvester.run_many(&ids).await;
        bars.finish();
        if lease.is_some() {
            // Still the leader: runs an interrupt stopped are ours to close.
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.abandon_unfinished_runs(chrono::Utc::now()))
                .await??;
        }
        let ok = results
            .iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|r| r.succeeded()));
        self.settle().await;
        crate::output::print_harvest(&results, json)?;
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }

    /// Truncates the store's write-ahead log before the command exits; a failure only costs
    /// disk until the next start, so it is logged, not returned.
    pub async fn settle(&self) {
        let store = self.store.clone();
        let settled = match tokio::task::spawn_blocking(move || store.settle()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = settled {
            tracing::warn!(%error, "could not truncate the store's write-ahead log");
        }
    }

    /// `snodo serve`: API + scheduler in one process (one index writer) with SQLite; on a shared
    /// PostgreSQL store, the `role`'s part of a deployment. SIGTERM or Ctrl-C stops scheduling,
    /// lets running harvests end or abandons them without half-writes, then exits 0.
    pub async fn serve(self, listen: SocketAddr, role: Role) -> anyhow::Result<()> {
        let shared = self.store.is_shared();
        if !shared && role != Role::All {
            bail!(
                "--role {} needs the store on PostgreSQL (storage.database_url or \
                 SNODO_DATABASE_URL): with SQLite one process does everything (--role all)",
                match role {
                    Role::Api => "api",
                    _ => "harvester",
                }
            );
        }
        let jitter = Duration::from_secs(self.config.harvest.jitter_secs);
        let app = Arc::new(self);
        let mut background = tokio::task::JoinSet::new();
        // A long-running server may rebuild its index in the background, once it has grown
        // enough to choose the common words whose pairs make phrases fast.
        app.indexer.allow_rebuilds();
        {
            let indexer = app.indexer.clone();
            background.spawn(async move { indexer.choose_pair_words().await });
        }
        let harvesting = if !shared {
            let harvester = Arc::new(app.harvester()?);
            background.spawn(snodo_harvest::scheduler::run(harvester.clone(), jitter));
            Some(Harvesting::Local(harvester))
        } else {
            background.spawn(snodo_harvest::cluster::follow(
                app.store.clone(),
                app.indexer.clone(),
                app.cancel.clone(),
            ));
            if role == Role::Api {
                // Asked to harvest, a replica says who does (an empty slot never fills).
                Some(Harvesting::Leader(LeaderSlot::default()))
            } else {
                // Fails now, not at the first term, on a configuration that cannot harvest.
                drop(app.harvester()?);
                let slot = LeaderSlot::default();
                let maker = app.clone();
                let (ready, settled) = tokio::sync::oneshot::channel();
                background.spawn(snodo_harvest::cluster::lead(
                    app.store.clone(),
                    move |stop| {
                        maker
                            .harvester_until(stop)
                            .map_err(|e| HarvestError::Internal(format!("{e:#}")))
                    },
                    slot.clone(),
                    jitter,
                    app.cancel.clone(),
                    ready,
                ));
                // Serve once the first bid for leadership is settled; not forever if the
                // store hangs (the bid goes on in the background).
                let _ = tokio::time::timeout(Duration::from_secs(15), settled).await;
                Some(Harvesting::Leader(slot))
            }
        };
        let state = app.api_state(harvesting);
        let router = snodo_api::router(state);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}; is another process using it? (set --listen or server.listen)"))?;
        let addr = listener.local_addr()?;
        println!("listening on http://{addr}");
        // Lets `snodo harvest` on this data directory find the server that owns the index.
        let reachable = if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        };
        let _address =
            crate::remote::AddressFile::write(&app.config, &format!("http://{reachable}"));
        tracing::info!(%addr, sources = app.config.sources.len(), store = %app.store.location(), ?role, "serving");
        let cancel = app.cancel.clone();
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal(cancel.clone()))
        .await
        .context("the HTTP server failed")?;
        cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            while background.join_next().await.is_some() {}
        })
        .await;
        if let Err(e) = app.indexer.catch_up().await {
            // A shared store may be what went away; the index is rebuilt or caught up at start.
            if !shared {
                return Err(e.into());
            }
            tracing::warn!(error = %e, "could not catch up the index before stopping");
        }
        app.settle().await;
        tracing::info!("stopped cleanly");
        Ok(())
    }
}

/// `snodo migrate`: copies a SQLite store into an empty PostgreSQL database and checks the copy.
pub async fn migrate(from: PathBuf, to: String, json: bool) -> anyhow::Result<ExitCode> {
    if !from.is_file() {
        bail!(
            "{} is not a SQLite store; give the snodo.sqlite3 file in storage.data_dir",
            from.display()
        );
    }
    let summary = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let source = Store::open(&from)
            .with_context(|| format!("cannot open the SQLite store {}", from.display()))?;
        let dest = Store::connect(&to).with_context(|| {
            format!(
                "cannot open the PostgreSQL store {}",
                snodo_store::redact_url(&to)
            )
        })?;
        let started = std::time::Instant::now();
        let mut last = String::new();
        let summary = source.copy_to(&dest, &mut |table, n| {
            if table != last {
                last = table.to_owned();
                eprintln!("copying {table}…");
            }
            tracing::debug!(table, rows = n, "copied");
        })?;
        Ok((summary, started.elapsed()))
    })
    .await??;
    let (s, took) = summary;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "copied and checked in {:.1}s: {} sources, {} records ({} live), {} changes (up to seq {}), {} runs, {} duplicate keys, {} links; records digest {}",
            took.as_secs_f64(),
            s.sources,
            s.records,
            s.live_records,
            s.changes,
            s.max_seq,
            s.runs,
            s.keys,
            s.links,
            s.records_digest
        );
        println!("now set storage.database_url (or SNODO_DATABASE_URL) and start snodo again");
    }
    Ok(ExitCode::SUCCESS)
}

/// The sources a `snodo harvest` names, or every enabled one when it names none.
pub fn sources_to_harvest(config: &Config, ids: &[String]) -> Vec<String> {
    if ids.is_empty() {
        config
            .sources
            .iter()
            .filter(|s| s.enabled)
            .map(|s| s.id.clone())
            .collect()
    } else {
        ids.to_vec()
    }
}

async fn shutdown_signal(cancel: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
        _ = cancel.cancelled() => {},
    }
    tracing::info!("shutting down: no new harvests, finishing requests");
    cancel.cancel();
}

/// The API's admin trigger: starts a run in the background.
struct Trigger(Harvesting);

impl HarvestTrigger for Trigger {
    fn trigger(&self, source: &str) -> Result<(), TriggerError> {
        let Some(h) = self.0.current() else {
            return Err(TriggerError::NotLeader);
        };
        // Claimed here, synchronously, so "started" and "already running" are decided before
        // answering and two triggers can never both start a run.
        let claim = match h.claim(source) {
            Ok(c) => c,
            Err(HarvestError::UnknownSource { .. }) => {
                return Err(TriggerError::UnknownSource(source.to_owned()))
            }
            Err(_) => return Err(TriggerError::AlreadyRunning(source.to_owned())),
        };
        let id = source.to_owned();
        tokio::spawn(async move {
            if let Err(e) = h.run_claimed(claim).await {
                tracing::warn!(source = %id, error = %e, "triggered harvest failed to run");
            }
        });
        Ok(())
    }
}
