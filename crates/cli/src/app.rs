//! Opening everything a command needs, and the long-running commands (serve, harvest).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use snodo_api::{AppState, HarvestTrigger, SourceMeta, TriggerError};
use snodo_config::{Config, LogFormat};
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
        let store = Arc::new(Store::open(&config.db_path())?);
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
        store.sync_sources(&infos)?;
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
        // touch the server's runs in progress.
        let abandoned = store.abandon_unfinished_runs(chrono::Utc::now())?;
        if abandoned > 0 {
            tracing::warn!(
                runs = abandoned,
                "runs left unfinished by a previous process were marked abandoned"
            );
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
        Harvester::new(
            &self.config,
            self.store.clone(),
            self.indexer.clone(),
            self.cancel.clone(),
        )
        .map_err(|p| anyhow::anyhow!("invalid configuration:\n{}", p.join("\n")))
    }

    pub fn api_state(&self, harvester: Option<Arc<Harvester>>) -> AppState {
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
        if let Some(h) = harvester {
            let running = h.clone();
            state.running = Some(Arc::new(move |id: &str| running.is_running(id)));
            state.trigger = Some(Arc::new(Trigger(h)));
        }
        state
    }

    /// `snodo harvest`: runs the named (or all enabled) sources now and prints a summary.
    pub async fn harvest(&self, ids: &[String], json: bool) -> anyhow::Result<ExitCode> {
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
        let ok = results
            .iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|r| r.succeeded()));
        crate::output::print_harvest(&results, json)?;
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }

    /// `snodo serve`: API + scheduler in one process (one index writer). SIGTERM or Ctrl-C stops
    /// scheduling, lets running harvests end or abandons them without half-writes, then exits 0.
    pub async fn serve(self, listen: SocketAddr) -> anyhow::Result<()> {
        let harvester = Arc::new(self.harvester()?);
        let state = self.api_state(Some(harvester.clone()));
        let router = snodo_api::router(state);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}; is another process using it? (set --listen or server.listen)"))?;
        let addr = listener.local_addr()?;
        let jitter = Duration::from_secs(self.config.harvest.jitter_secs);
        let scheduler = tokio::spawn(snodo_harvest::scheduler::run(harvester.clone(), jitter));
        println!("listening on http://{addr}");
        // Lets `snodo harvest` on this data directory find the server that owns the index.
        let reachable = if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        };
        let _address =
            crate::remote::AddressFile::write(&self.config, &format!("http://{reachable}"));
        tracing::info!(%addr, sources = self.config.sources.len(), "serving");
        let cancel = self.cancel.clone();
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal(cancel.clone()))
        .await
        .context("the HTTP server failed")?;
        cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), scheduler).await;
        self.indexer.catch_up().await?;
        tracing::info!("stopped cleanly");
        Ok(())
    }
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
struct Trigger(Arc<Harvester>);

impl HarvestTrigger for Trigger {
    fn trigger(&self, source: &str) -> Result<(), TriggerError> {
        // Claimed here, synchronously, so "started" and "already running" are decided before
        // answering and two triggers can never both start a run.
        let claim = match self.0.claim(source) {
            Ok(c) => c,
            Err(HarvestError::UnknownSource { .. }) => {
                return Err(TriggerError::UnknownSource(source.to_owned()))
            }
            Err(_) => return Err(TriggerError::AlreadyRunning(source.to_owned())),
        };
        let h = self.0.clone();
        let id = source.to_owned();
        tokio::spawn(async move {
            if let Err(e) = h.run_claimed(claim).await {
                tracing::warn!(source = %id, error = %e, "triggered harvest failed to run");
            }
        });
        Ok(())
    }
}
