//! What every Snodo connector implements, and the HTTP client they all share.
//!
//! A connector only fetches and normalises: it gets a [`HarvestContext`] (the source's settings, a
//! polite HTTP client, progress reporting, cancellation) and the checkpoint of its last run, and
//! returns records plus the next checkpoint. It never touches the store or the index: the harvester
//! writes them. A connector of a large source may hand records over as it goes
//! ([`HarvestContext::hand_over`]), so that a source of many thousand records is never held in
//! memory whole; the checkpoint and the sweep of records gone upstream still wait for the end of
//! the run, and are written together in one transaction.

pub mod http;

use std::sync::Arc;

use async_trait::async_trait;
use snodo_model::{Record, RecordId, Territory};
use tokio_util::sync::CancellationToken;

pub use http::{Fetched, HttpClient, HttpError, HttpResponse, HttpSettings, Robots, Validators};

/// The settings every source has, whatever its kind.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub id: String,
    pub name: String,
    pub url: String,
    /// The territory records fall back to when the source says nothing more precise.
    pub territory: Territory,
}

/// A progress event, for progress bars and logs. Never per record in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A page or request answered; `what` says what was fetched ("processes", "proposals of 12").
    Page { what: String },
    /// `n` more records normalised.
    Records { n: u64 },
}

pub type ProgressFn = Arc<dyn Fn(&str, Progress) + Send + Sync>;

/// Counts how many of some record ids are live records of the source in the store. See
/// [`HarvestContext::all_stored`].
pub type StoredFn = Arc<
    dyn Fn(
            Vec<RecordId>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, String>> + Send>>
        + Send
        + Sync,
>;

/// Stores records a connector hands over before its run ends. See [`HarvestContext::hand_over`].
pub type SinkFn = Arc<
    dyn Fn(
            Vec<Record>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// Records a connector gathers before [`HarvestContext::hand_over`] passes them on: few store
/// transactions, and a bounded share of a large source in memory (at a million records over 90
/// sources, each source's 11,000 records held until its run ended took 110 MB, four sources
/// harvested at once 440 MB).
pub const HAND_OVER_AT: usize = 1_000;

/// Everything a connector may use during one run.
#[derive(Clone)]
pub struct HarvestContext {
    pub source: SourceSpec,
    pub http: HttpClient,
    pub cancel: CancellationToken,
    progress: Option<ProgressFn>,
    item_limit: Option<usize>,
    stored: Option<StoredFn>,
    sink: Option<SinkFn>,
}

impl HarvestContext {
    /// The client is guarded for the source: when its URL is public, non-public addresses are
    /// refused (see [`HttpClient::guarded_for`]).
    pub fn new(source: SourceSpec, http: HttpClient, cancel: CancellationToken) -> Self {
        let http = http.guarded_for(&source.url);
        HarvestContext {
            source,
            http,
            cancel,
            progress: None,
            item_limit: None,
            stored: None,
            sink: None,
        }
    }

    /// Gives the connector the records its source holds in the store (the harvester does).
    pub fn with_stored(mut self, f: StoredFn) -> Self {
        self.stored = Some(f);
        self
    }

    /// Lets the connector hand records over before its run ends (the harvester does).
    pub fn with_sink(mut self, f: SinkFn) -> Self {
        self.sink = Some(f);
        self
    }

    /// Passes the records gathered in `out` so far on to be stored now, once there are
    /// [`HAND_OVER_AT`] of them and the run has somewhere to store them (not in `snodo check`):
    /// `out.records` is then empty. Connectors of paginated listings call it after each page.
    ///
    /// Records stored this way stay stored if the run fails later: they are what the source
    /// publishes. A failed run still marks nothing gone and keeps its old checkpoint.
    pub async fn hand_over(&self, out: &mut HarvestOutput) -> Result<(), ConnectorError> {
        let Some(f) = self.sink.as_ref() else {
            return Ok(());
        };
        if out.records.len() < HAND_OVER_AT {
            return Ok(());
        }
        let records = std::mem::take(&mut out.records);
        f(records).await.map_err(ConnectorError::Store)
    }

    /// True when every one of `ids` is a live record of this source in the store: a connector
    /// may then hand them over as [`HarvestOutput::unchanged`] for a page the server says is
    /// unchanged (HTTP 304), instead of fetching and normalising them again. False when any is
    /// missing (gone, never stored, or no store in this run, as in `snodo check`) or the store
    /// cannot be read: the connector then fetches the page.
    pub async fn all_stored(&self, ids: &[RecordId]) -> bool {
        let Some(f) = self.stored.as_ref() else {
            return false;
        };
        let mut distinct = ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let wanted = distinct.len();
        match f(distinct).await {
            Ok(found) => found == wanted,
            Err(e) => {
                tracing::warn!(source = %self.source.id, error = %e, "stored records unreadable; fetching the page again");
                false
            }
        }
    }

    /// A dry run (`snodo check`): connectors stop after about `n` items (at most one list page
    /// where they can), skip optional extra requests, and never report a complete listing.
    /// Connectors that ignore it still work: the caller truncates what they return.
    pub fn with_item_limit(mut self, n: usize) -> Self {
        self.item_limit = Some(n.max(1));
        self
    }

    /// The dry-run item limit, if any.
    pub fn item_limit(&self) -> Option<usize> {
        self.item_limit
    }

    /// True when `count` items are enough for this run (always false outside dry runs).
    pub fn limit_reached(&self, count: usize) -> bool {
        self.item_limit.is_some_and(|n| count >= n)
    }

    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    pub fn report(&self, p: Progress) {
        if let Some(f) = &self.progress {
            f(&self.source.id, p);
        }
    }

    /// Fails with [`ConnectorError::Cancelled`] once shutdown was asked for.
    pub fn check_cancelled(&self) -> Result<(), ConnectorError> {
        if self.cancel.is_cancelled() {
            Err(ConnectorError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// What one run of a connector produced.
#[derive(Debug, Default)]
pub struct HarvestOutput {
    /// The records not yet handed over with [`HarvestContext::hand_over`].
    pub records: Vec<Record>,
    /// Records seen again exactly as stored, by id (from pages the server says are unchanged,
    /// checked with [`HarvestContext::all_stored`]): counted as seen without being read back,
    /// re-hashed or written.
    pub unchanged: Vec<RecordId>,
    /// True only when the listing is known to be whole: then records missing from it are gone.
    pub complete: bool,
    /// Where the next run should start (connector-defined, opaque to everyone else).
    pub checkpoint: Option<String>,
    /// Problems that degraded the result without failing it ("field `stats` unavailable: …").
    pub warnings: Vec<String>,
    /// Upstream items that could not be normalised and were skipped.
    pub failed: u64,
}

/// Why a run failed. Every message names the URL or object and, where possible, what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{url}: {message}")]
    Protocol { url: String, message: String },
    #[error("the run was cancelled (shutdown)")]
    Cancelled,
    /// Records handed over during the run ([`HarvestContext::hand_over`]) could not be stored.
    #[error("storing records during the run failed: {0}")]
    Store(String),
}

/// A connector: one per configured source, built by the registry from the source's typed params.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The `kind` string used in config (`decidim`, `feed`, …).
    fn kind(&self) -> &'static str;

    /// Fetches and normalises everything the source lists.
    async fn harvest(
        &self,
        ctx: &HarvestContext,
        checkpoint: Option<&str>,
    ) -> Result<HarvestOutput, ConnectorError>;
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use snodo_model::{Kind, LocalizedText};

    use super::*;

    fn ctx() -> HarvestContext {
        let spec = SourceSpec {
            id: "s".into(),
            name: "S".into(),
            url: "https://example.org/".into(),
            territory: Territory::default(),
        };
        let http = HttpClient::new(HttpSettings::default()).expect("client");
        HarvestContext::new(spec, http, CancellationToken::new())
    }

    fn records(n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| {
                let id = RecordId::new("s", Kind::Process, i.to_string());
                Record::new(id, "https://example.org/", "it", LocalizedText::new())
            })
            .collect()
    }

    /// A sink that keeps what it is given, or refuses everything.
    fn sink(got: Arc<Mutex<Vec<usize>>>, refuse: bool) -> SinkFn {
        Arc::new(move |records: Vec<Record>| {
            let got = got.clone();
            Box::pin(async move {
                if refuse {
                    return Err("disk full".to_owned());
                }
                got.lock().unwrap().push(records.len());
                Ok(())
            })
        })
    }

    #[tokio::test]
    async fn records_are_handed_over_once_there_are_enough_and_somewhere_to_store_them() {
        // nowhere to store them (`snodo check`): kept to the end
        let mut out = HarvestOutput {
            records: records(HAND_OVER_AT + 5),
            ..Default::default()
        };
        ctx().hand_over(&mut out).await.unwrap();
        assert_eq!(out.records.len(), HAND_OVER_AT + 5);

        let got = Arc::new(Mutex::new(Vec::new()));
        let ctx = ctx().with_sink(sink(got.clone(), false));
        let mut out = HarvestOutput {
            records: records(HAND_OVER_AT - 1),
            ..Default::default()
        };
        ctx.hand_over(&mut out).await.unwrap();
        assert_eq!(out.records.len(), HAND_OVER_AT - 1, "too few to hand over");
        out.records.extend(records(1));
        ctx.hand_over(&mut out).await.unwrap();
        assert!(out.records.is_empty());
        assert_eq!(*got.lock().unwrap(), [HAND_OVER_AT]);
    }

    #[tokio::test]
    async fn a_store_that_refuses_them_fails_the_run_with_its_reason() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let ctx = ctx().with_sink(sink(got, true));
        let mut out = HarvestOutput {
            records: records(HAND_OVER_AT),
            ..Default::default()
        };
        let err = ctx.hand_over(&mut out).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Store(_)));
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
