//! Harvesting: turns configured sources into connector runs, writes what they return to the store,
//! and keeps the index caught up with the store's change log.
//!
//! It owns run orchestration (one run per source at a time, a bound on concurrent sources,
//! per-run records and metrics), the connector registry, the scheduler, and the single indexer
//! task. It never parses upstream formats (connectors do) and never serves HTTP (the API does).

pub mod cluster;
pub mod discover;
pub mod indexer;
pub mod registry;
pub mod scheduler;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use snodo_config::Config;
use snodo_connector::{
    Connector, ConnectorError, HarvestContext, HttpClient, ProgressFn, SourceSpec,
};
use snodo_model::Record;
use snodo_store::{HarvestBatch, Outcome, RunCounts, RunFinish, RunId, Store, StoreError};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use indexer::Indexer;

/// What one run did, for the terminal summary, the JSON output and the API.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub source: String,
    pub outcome: Outcome,
    pub counts: RunCounts,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub requests: u64,
    pub retries: u64,
    pub duration_ms: u64,
}

impl RunReport {
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, Outcome::Success | Outcome::Partial)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HarvestError {
    #[error("unknown source `{id}`; configured sources: {known}")]
    UnknownSource { id: String, known: String },
    #[error("source `{0}` is already being harvested; wait for that run to end")]
    AlreadyRunning(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("index: {0}")]
    Index(#[from] snodo_index::IndexError),
    #[error("internal: {0}")]
    Internal(String),
}

struct Entry {
    config: snodo_config::Source,
    spec: SourceSpec,
    connector: Arc<dyn Connector>,
}

/// Runs sources. Shared by the CLI, the scheduler and the API's harvest trigger.
pub struct Harvester {
    store: Arc<Store>,
    indexer: Arc<Indexer>,
    http: HttpClient,
    entries: Vec<Arc<Entry>>,
    running: Arc<Mutex<HashSet<String>>>,
    slots: Semaphore,
    cancel: CancellationToken,
    progress: Option<ProgressFn>,
}

/// The right to run one source: while it lives, no other run of that source can start. Dropping
/// it (however the run ends: error, panic, cancellation) frees the source.
pub struct Claim {
    set: Arc<Mutex<HashSet<String>>>,
    entry: Arc<Entry>,
}

impl Claim {
    pub fn source(&self) -> &str {
        &self.entry.config.id
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.entry.config.id);
    }
}

impl Harvester {
    /// Builds every configured connector; returns every problem at once.
    pub fn new(
        config: &Config,
        store: Arc<Store>,
        indexer: Arc<Indexer>,
        cancel: CancellationToken,
    ) -> Result<Harvester, Vec<String>> {
        let h = &config.harvest;
        let settings = registry::http_settings(h);
        let http = HttpClient::new(settings).map_err(|e| vec![e.to_string()])?;
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        for s in &config.sources {
            let spec = SourceSpec {
                id: s.id.clone(),
                name: s.name.clone(),
                url: s.url.clone(),
                territory: s.territory.clone(),
            };
            match registry::build(s, &spec) {
                Ok(connector) => entries.push(Arc::new(Entry {
                    config: s.clone(),
                    spec,
                    connector,
                })),
                Err(e) => {
                    problems.push(format!("{}: source `{}`: {e}", config.path.display(), s.id))
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Harvester {
            store,
            indexer,
            http,
            entries,
            running: Arc::new(Mutex::new(HashSet::new())),
            slots: Semaphore::new(h.max_concurrent_sources.max(1)),
            cancel,
            progress: None,
        })
    }

    /// Reports progress of every run to `f` (progress bars on a terminal).
    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn indexer(&self) -> &Arc<Indexer> {
        &self.indexer
    }

    pub fn source_ids(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.config.id.clone()).collect()
    }

    pub fn source_config(&self, id: &str) -> Option<&snodo_config::Source> {
        self.entry(id).map(|e| &e.config)
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// Runs claimed and not yet ended, the caller's own included.
    fn running_count(&self) -> usize {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn entry(&self, id: &str) -> Option<&Arc<Entry>> {
        self.entries.iter().find(|e| e.config.id == id)
    }

    /// Checks the source exists and is free, and marks it running until the claim is dropped.
    pub fn claim(&self, id: &str) -> Result<Claim, HarvestError> {
        let entry = self
            .entry(id)
            .cloned()
            .ok_or_else(|| HarvestError::UnknownSource {
                id: id.to_owned(),
                known: self.source_ids().join(", "),
            })?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if !running.insert(id.to_owned()) {
            return Err(HarvestError::AlreadyRunning(id.to_owned()));
        }
        Ok(Claim {
            set: self.running.clone(),
            entry,
        })
    }

    /// Harvests one source now: fetch, store (a large source's records as they come; the last
    /// ones, the checkpoint and the sweep in one transaction), index.
    /// A failed run marks nothing gone and keeps the old checkpoint; its error is recorded in
    /// the run history. Records a large source handed over before the failure stay stored.
    pub async fn run(&self, id: &str) -> Result<RunReport, HarvestError> {
        let claim = self.claim(id)?;
        self.run_claimed(claim).await
    }

    /// Runs a source already claimed with [`Harvester::claim`] (so a caller can answer "started"
    /// or "already running" before the run begins).
    pub async fn run_claimed(&self, claim: Claim) -> Result<RunReport, HarvestError> {
        let entry = claim.entry.clone();
        let id = entry.config.id.as_str();
        let slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| HarvestError::Internal("harvester closed".into()))?;
        let started = Instant::now();
        let store = self.store.clone();
        let sid = id.to_owned();
        let run_id = blocking(move || store.start_run(&sid, Utc::now())).await??;
        tracing::info!(source = id, "harvest started");
        let http = self.http.for_run(id);
        let mut ctx =
            HarvestContext::new(entry.spec.clone(), http.clone(), self.cancel.child_token());
        if let Some(p) = &self.progress {
            ctx = ctx.with_progress(p.clone());
        }
        ctx = ctx.with_stored(live_count(self.store.clone(), id.to_owned()));
        let handed = Arc::new(Mutex::new(HandedOver::default()));
        ctx = ctx.with_sink(sink(
            self.store.clone(),
            run_id,
            entry.clone(),
            handed.clone(),
        ));
        let store = self.store.clone();
        let checkpoint = {
            let id = id.to_owned();
            blocking(move || store.checkpoint(&id)).await??
        };
        let result = entry.connector.harvest(&ctx, checkpoint.as_deref()).await;
        // What was stored during the run belongs to it whatever happens next.
        let handed = std::mem::take(&mut *handed.lock().unwrap_or_else(|p| p.into_inner()));
        // For the error of a run that stops after storing some records.
        let kept = (handed.batches > 0).then(|| {
            format!(
                "the {} record(s) stored so far stay, nothing was marked gone",
                handed.counts.seen
            )
        });
        let mut report = RunReport {
            source: id.to_owned(),
            outcome: Outcome::Failed,
            counts: handed.counts,
            error: None,
            warnings: handed.warnings,
            requests: 0,
            retries: 0,
            duration_ms: 0,
        };
        match result {
            Ok(out) => {
                report.warnings.extend(out.warnings);
                let mut records = out.records;
                let mut unchanged: Vec<String> =
                    out.unchanged.iter().map(ToString::to_string).collect();
                let fingerprint =
                    snodo_model::topics::classification_fingerprint(&entry.config.topic_rules);
                // Should that fail, the records keep their themes and the old fingerprint stays,
                // so the next run tries again.
                let classified = match reclassify_if_rules_changed(
                    &self.store,
                    id,
                    &fingerprint,
                    &mut records,
                    &mut unchanged,
                )
                .await
                {
                    Ok(()) => Some(fingerprint),
                    Err(e) => {
                        report.warnings.push(format!(
                            "the topic rules changed, but the unchanged records could not be \
                             read back to classify them again ({e}); the next run tries again"
                        ));
                        None
                    }
                };
                // The national topics, by the built-in keywords and this source's own rules.
                for r in &mut records {
                    r.themes = snodo_model::topics::classify(r, &entry.config.topic_rules);
                }
                // Records that failed to normalise are still upstream: a run with failures is
                // partial, so it never marks them (or anything) gone.
                let complete = out.complete && out.failed == 0;
                let checkpoint = out.checkpoint;
                let failed = out.failed;
                let store = self.store.clone();
                let source = id.to_owned();
                let applied = blocking(move || {
                    let batch = HarvestBatch::new(
                        &source,
                        &records,
                        complete,
                        checkpoint.as_deref(),
                        Utc::now(),
                    )
                    .with_unchanged(&unchanged);
                    let batch = match &classified {
                        Some(fp) => batch.with_classified_with(fp),
                        None => batch,
                    };
                    store.apply_harvest(run_id, &batch)
                })
                .await?;
                match applied {
                    Ok(applied) => {
                        report.counts += applied.counts;
                        report.counts.failed += failed;
                        report.warnings.extend(applied.warnings);
                        // `complete` only decides whether to sweep: a feed is a window of recent
                        // entries and says so without anything having gone wrong.
                        report.outcome = if !applied.sweep_held_back
                            && report.counts.failed == 0
                            && report.warnings.is_empty()
                        {
                            Outcome::Success
                        } else {
                            Outcome::Partial
                        };
                    }
                    Err(e) => {
                        report.error = Some(format!("storing the harvest failed: {e}"));
                    }
                }
            }
            Err(ConnectorError::Cancelled) => {
                report.outcome = Outcome::Abandoned;
                report.error = Some(format!(
                    "cancelled by shutdown before it finished; {}",
                    kept.as_deref().unwrap_or("nothing was written")
                ));
            }
            Err(e) => {
                report.error = Some(match &kept {
                    Some(k) => format!("{e} ({k})"),
                    None => e.to_string(),
                });
            }
        }
        // The platform is done with and the records are stored: the next source may start
        // while this one's records are indexed.
        drop(slot);
        report.requests = http.requests_sent();
        report.retries = http.retries_made();
        report.duration_ms = started.elapsed().as_millis() as u64;
        let finish = RunFinish {
            finished_at: Utc::now(),
            outcome: report.outcome,
            counts: report.counts,
            error: report.error.clone(),
            warnings: report.warnings.clone(),
            requests: report.requests,
        };
        // Indexed before the run is recorded as ended: whoever sees it end (the console, `snodo
        // harvest` asking a server) finds its records searchable. A failed run's records stored
        // before it failed are searchable too.
        let indexed = if report.succeeded() || handed.batches > 0 {
            self.indexer.catch_up().await.map(drop)
        } else {
            Ok(())
        };
        let store = self.store.clone();
        blocking(move || store.finish_run(run_id, &finish)).await??;
        record_metrics(&report);
        publish_source_gauges(&self.store, id).await;
        indexed?;
        match &report.error {
            None => tracing::info!(
                source = id,
                outcome = report.outcome.as_str(),
                seen = report.counts.seen,
                added = report.counts.added,
                changed = report.counts.changed,
                gone = report.counts.gone,
                requests = report.requests,
                ms = report.duration_ms,
                "harvest finished"
            ),
            Some(e) => {
                tracing::warn!(source = id, outcome = report.outcome.as_str(), error = %e, ms = report.duration_ms, "harvest failed")
            }
        }
        // The last run of a round to end merges the segments the round's commits left (a first
        // harvest of a million records leaves eight), so that searches look each word up in
        // few. Searches and other runs go on meanwhile.
        if self.running_count() <= 1 {
            self.indexer.compact().await;
        }
        Ok(report)
    }

    /// Harvests several sources, at most `max_concurrent_sources` at a time. One failing source
    /// never stops the others.
    pub async fn run_many(&self, ids: &[String]) -> Vec<(String, Result<RunReport, HarvestError>)> {
        let runs = ids
            .iter()
            .map(|id| async move { (id.clone(), self.run(id).await) });
        futures_util::future::join_all(runs).await
    }

    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }
}

fn record_metrics(r: &RunReport) {
    let src = r.source.clone();
    metrics::counter!("snodo_harvest_runs_total", "source" => src.clone(), "outcome" => r.outcome.as_str()).increment(1);
    metrics::histogram!("snodo_harvest_duration_seconds", "source" => src.clone())
        .record(r.duration_ms as f64 / 1000.0);
    metrics::counter!("snodo_harvest_records_total", "source" => src.clone(), "change" => "added")
        .increment(r.counts.added);
    metrics::counter!("snodo_harvest_records_total", "source" => src.clone(), "change" => "changed").increment(r.counts.changed);
    metrics::counter!("snodo_harvest_records_total", "source" => src.clone(), "change" => "gone")
        .increment(r.counts.gone);
    if r.succeeded() {
        metrics::gauge!("snodo_harvest_last_success_timestamp_seconds", "source" => src)
            .set(Utc::now().timestamp() as f64);
    }
}

/// Describes the harvester's metrics (`# HELP` lines); call once after installing a recorder.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "snodo_harvest_runs_total",
        "Harvest runs finished, by source and outcome (success, partial, failed, abandoned…)"
    );
    describe_histogram!(
        "snodo_harvest_duration_seconds",
        Unit::Seconds,
        "Duration of a harvest run, by source"
    );
    describe_counter!(
        "snodo_harvest_records_total",
        "Records a harvest added, changed or found gone, by source and change"
    );
    describe_gauge!(
        "snodo_harvest_last_success_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the source's last successful harvest (0: never); alert on its age"
    );
    describe_gauge!(
        "snodo_source_records",
        "Live records in the store, by source and kind"
    );
    describe_gauge!("snodo_index_documents", "Documents in the search index");
    describe_gauge!(
        "snodo_harvest_leader",
        "1 while this process is the harvester (holds the leadership on a shared PostgreSQL store), 0 otherwise"
    );
    snodo_connector::http::describe_metrics();
}

/// Sets `snodo_source_records{source, kind}` from the store's live records, and every configured
/// source's last success (0 when it never succeeded, so a source failing since its first run
/// shows in an alert on the age too).
pub async fn publish_record_gauges(store: &Arc<Store>) {
    let store = store.clone();
    match blocking(move || Ok::<_, StoreError>((store.record_counts_by_kind()?, store.sources()?)))
        .await
    {
        Ok(Ok((rows, sources))) => {
            for (source, kind, n) in rows {
                metrics::gauge!("snodo_source_records", "source" => source, "kind" => kind)
                    .set(n as f64);
            }
            for s in sources.into_iter().filter(|s| s.configured) {
                let at = s.last_success_at.map_or(0, |t| t.timestamp());
                metrics::gauge!("snodo_harvest_last_success_timestamp_seconds", "source" => s.id)
                    .set(at as f64);
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot count records for metrics"),
        Err(e) => tracing::warn!(error = %e, "cannot count records for metrics"),
    }
}

/// Sets `snodo_source_records{source, kind}` for one source after its run (counting every
/// source after each run read the whole catalogue's index 90 times per `snodo harvest`).
async fn publish_source_gauges(store: &Arc<Store>, source: &str) {
    let (st, src) = (store.clone(), source.to_owned());
    match blocking(move || st.record_counts_of(&src)).await {
        Ok(Ok(rows)) => {
            for (kind, n) in rows {
                metrics::gauge!("snodo_source_records", "source" => source.to_owned(), "kind" => kind)
                    .set(n as f64);
            }
        }
        Ok(Err(e)) => tracing::warn!(source, error = %e, "cannot count records for metrics"),
        Err(e) => tracing::warn!(source, error = %e, "cannot count records for metrics"),
    }
}

/// What the connector handed over during a run ([`HarvestContext::hand_over`]) and the store
/// made of it.
#[derive(Default)]
struct HandedOver {
    counts: RunCounts,
    warnings: Vec<String>,
    batches: u32,
}

/// Stores the records a connector hands over during its run: classified like the rest, as a
/// batch of the run that sweeps nothing and leaves the checkpoint alone (the final batch does
/// both, and its sweep spares every record the run's batches saw).
fn sink(
    store: Arc<Store>,
    run: RunId,
    entry: Arc<Entry>,
    handed: Arc<Mutex<HandedOver>>,
) -> snodo_connector::SinkFn {
    Arc::new(move |mut records: Vec<Record>| {
        let (store, entry, handed) = (store.clone(), entry.clone(), handed.clone());
        Box::pin(async move {
            let applied = blocking(move || {
                for r in &mut records {
                    r.themes = snodo_model::topics::classify(r, &entry.config.topic_rules);
                }
                let batch = HarvestBatch::new(&entry.config.id, &records, false, None, Utc::now());
                store.apply_harvest(run, &batch)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            let mut h = handed.lock().unwrap_or_else(|p| p.into_inner());
            h.counts += applied.counts;
            h.warnings.extend(applied.warnings);
            h.batches += 1;
            Ok(())
        })
    })
}

/// The connector's way to check that records it would hand over by id are still stored.
fn live_count(store: Arc<Store>, source: String) -> snodo_connector::StoredFn {
    Arc::new(move |ids| {
        let (store, source) = (store.clone(), source.clone());
        Box::pin(async move {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            match blocking(move || store.count_live(&source, &ids)).await {
                Ok(Ok(n)) => Ok(n),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
    })
}

/// Records the connector handed over by id keep the themes they were stored with, unless the
/// source's topic rules (or the built-in ones) changed since: then they are read back and go
/// through classification like the rest. Ids the store no longer has stay in `unchanged`, where
/// the store counts them failed and holds the sweep back.
async fn reclassify_if_rules_changed(
    store: &Arc<Store>,
    source: &str,
    fingerprint: &str,
    records: &mut Vec<Record>,
    unchanged: &mut Vec<String>,
) -> Result<(), HarvestError> {
    if unchanged.is_empty() {
        return Ok(());
    }
    let (st, src) = (store.clone(), source.to_owned());
    let stored = blocking(move || st.classified_with(&src)).await??;
    if stored.as_deref() == Some(fingerprint) {
        return Ok(());
    }
    tracing::info!(
        source,
        records = unchanged.len(),
        "topic rules changed since the last run: classifying unchanged records again"
    );
    let (st, src, ids) = (store.clone(), source.to_owned(), unchanged.clone());
    let back = blocking(move || st.harvested_records(&src, &ids)).await??;
    let found: HashSet<String> = back.iter().map(|r| r.id.to_string()).collect();
    unchanged.retain(|id| !found.contains(id));
    records.extend(back);
    Ok(())
}

/// Runs blocking store or index work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HarvestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HarvestError::Internal(format!("a blocking task failed: {e}")))
}
