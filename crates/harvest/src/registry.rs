//! The connector registry: the one place that maps a config `kind` to a connector and its typed
//! params. Adding a connector means one entry in [`kinds`] and one arm in [`build`].
//!
//! It also offers [`check_source`], the dry run behind `snodo check SOURCE_ID`: build the source's
//! connector, run it with an item limit, and return what it would store, without a store or index.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use snodo_config::KindCheck;
use snodo_connector::{Connector, HarvestContext, HttpClient, HttpSettings, SourceSpec};
use snodo_consul::{ConsulConnector, ConsulParams};
use snodo_decidim::{DecidimConnector, DecidimParams};
use snodo_feed::{FeedConnector, FeedParams};
use snodo_html::{HtmlConnector, HtmlParams};
use snodo_json::{JsonConnector, JsonParams};
use snodo_model::Record;
use tokio_util::sync::CancellationToken;

/// Every kind, with the check of its specific keys (used while loading the config).
pub fn kinds() -> Vec<KindCheck> {
    vec![
        KindCheck {
            kind: "decidim",
            check: |t| check::<DecidimParams>(t),
        },
        KindCheck {
            kind: "feed",
            check: |t| check::<FeedParams>(t),
        },
        KindCheck {
            kind: "html",
            check: |t| check::<HtmlParams>(t),
        },
        KindCheck {
            kind: "json",
            check: |t| check::<JsonParams>(t),
        },
        KindCheck {
            kind: "consul",
            check: |t| check::<ConsulParams>(t),
        },
    ]
}

fn check<T: DeserializeOwned>(t: &toml::Table) -> Result<(), Vec<String>> {
    params::<T>(t).map(|_| ()).map_err(|e| vec![e])
}

fn params<T: DeserializeOwned>(t: &toml::Table) -> Result<T, String> {
    toml::Value::Table(t.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().replace('\n', " "))
}

/// Builds the connector of one configured source.
pub fn build(
    source: &snodo_config::Source,
    spec: &SourceSpec,
) -> Result<Arc<dyn Connector>, String> {
    match source.kind.as_str() {
        "decidim" => Ok(Arc::new(DecidimConnector::new(
            spec,
            params(&source.params)?,
        )?)),
        "feed" => Ok(Arc::new(FeedConnector::new(
            spec,
            params::<FeedParams>(&source.params)?,
        )?)),
        "html" => Ok(Arc::new(HtmlConnector::new(
            spec,
            params::<HtmlParams>(&source.params)?,
        )?)),
        "json" => Ok(Arc::new(JsonConnector::new(
            spec,
            params::<JsonParams>(&source.params)?,
        )?)),
        "consul" => Ok(Arc::new(ConsulConnector::new(
            spec,
            params::<ConsulParams>(&source.params)?,
        )?)),
        other => {
            let known: Vec<&str> = kinds().iter().map(|k| k.kind).collect();
            Err(format!(
                "unknown kind `{other}`; known kinds: {}",
                known.join(", ")
            ))
        }
    }
}

/// The HTTP settings of `[harvest]` (politeness, limits, the contact in the user agent).
pub fn http_settings(h: &snodo_config::Harvest) -> HttpSettings {
    HttpSettings {
        user_agent: format!("Snodo/{} (+{})", env!("CARGO_PKG_VERSION"), h.contact),
        connect_timeout: Duration::from_secs(h.connect_timeout_secs),
        request_timeout: Duration::from_secs(h.request_timeout_secs),
        max_body_bytes: h.max_body_mb * 1024 * 1024,
        max_retries: h.max_retries,
        retry_budget: h.retry_budget,
        min_delay: Duration::from_millis(h.min_delay_ms),
        per_host_concurrency: h.per_host_concurrency,
        max_retry_after: Duration::from_secs(h.max_retry_after_secs),
        allow_private_addresses: h.allow_private_addresses,
        ..HttpSettings::default()
    }
}

/// What a dry run of one source would produce.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    pub source: String,
    pub kind: String,
    /// Records that pass validation, at most the limit asked for.
    pub records: Vec<Record>,
    /// Records the connector produced that fail validation (the harvester would reject them).
    pub invalid: Vec<String>,
    /// The connector's warnings: broken selectors, skipped pages, dropped values.
    pub warnings: Vec<String>,
    /// Items the connector could not normalise.
    pub failed: u64,
    pub requests: u64,
    /// Why the run failed, if it did (the same message a harvest would record).
    pub error: Option<String>,
}

impl CheckReport {
    /// True when the source produced records and nothing went wrong.
    pub fn ok(&self) -> bool {
        self.error.is_none() && !self.records.is_empty() && self.invalid.is_empty()
    }
}

/// What the site of source `id` offers to harvest: for a check that yielded nothing.
pub async fn discover_source(
    config: &snodo_config::Config,
    id: &str,
) -> Result<crate::discover::Discovery, String> {
    let source = config
        .sources
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| format!("unknown source `{id}`"))?;
    let http = HttpClient::new(http_settings(&config.harvest))
        .map_err(|e| e.to_string())?
        .for_run(id);
    Ok(crate::discover::discover(&http, &source.url).await)
}

/// Dry run of one configured source for `snodo check`: builds its connector, fetches at most
/// about `limit` items (connectors stop after one list page where they can; the last run's
/// checkpoint is not used, so every page is really fetched), validates what came back, and
/// writes nothing anywhere. `Err` only when the source is unknown or cannot be built.
pub async fn check_source(
    config: &snodo_config::Config,
    id: &str,
    limit: usize,
    cancel: CancellationToken,
) -> Result<CheckReport, String> {
    let source = config.sources.iter().find(|s| s.id == id).ok_or_else(|| {
        let known: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
        format!(
            "unknown source `{id}`; configured sources: {}",
            known.join(", ")
        )
    })?;
    let spec = SourceSpec {
        id: source.id.clone(),
        name: source.name.clone(),
        url: source.url.clone(),
        territory: source.territory.clone(),
    };
    let connector = build(source, &spec).map_err(|e| format!("source `{id}`: {e}"))?;
    let http = HttpClient::new(http_settings(&config.harvest))
        .map_err(|e| e.to_string())?
        .for_run(id);
    let ctx = HarvestContext::new(spec, http.clone(), cancel).with_item_limit(limit);
    let mut report = CheckReport {
        source: id.to_owned(),
        kind: source.kind.clone(),
        records: Vec::new(),
        invalid: Vec::new(),
        warnings: Vec::new(),
        failed: 0,
        requests: 0,
        error: None,
    };
    match connector.harvest(&ctx, None).await {
        Ok(out) => {
            report.warnings = out.warnings;
            report.failed = out.failed;
            for r in out.records.into_iter().take(limit.max(1)) {
                match r.validate() {
                    Ok(()) => report.records.push(r),
                    Err(e) => report.invalid.push(e),
                }
            }
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    report.requests = http.requests_sent();
    Ok(report)
}
