//! The connector registry: the one place that maps a config `kind` to a connector and its typed
//! params. Adding a connector means one entry in [`kinds`] and one arm in [`build`].

use std::sync::Arc;

use serde::de::DeserializeOwned;
use snodo_config::KindCheck;
use snodo_connector::{Connector, SourceSpec};
use snodo_decidim::{DecidimConnector, DecidimParams};

/// Every kind, with the check of its specific keys (used while loading the config).
pub fn kinds() -> Vec<KindCheck> {
    vec![KindCheck {
        kind: "decidim",
        check: |t| check::<DecidimParams>(t),
    }]
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
        other => {
            let known: Vec<&str> = kinds().iter().map(|k| k.kind).collect();
            Err(format!(
                "unknown kind `{other}`; known kinds: {}",
                known.join(", ")
            ))
        }
    }
}
