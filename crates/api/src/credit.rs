//! Who to credit for a record and under which licence, as the operator configured its source:
//! Snodo never asserts a licence over others' texts.

use std::collections::HashMap;

use snodo_model::licence::{attribution_text, Licence, UNKNOWN};

/// A source's credit line and licence.
#[derive(Debug, Clone)]
pub struct SourceCredit {
    /// The source's name (as configured; as last stored, or its id, for a source no longer
    /// configured).
    pub name: String,
    /// The platform's address.
    pub url: String,
    /// `None` when nobody has established the licence.
    pub licence: Option<&'static Licence>,
    /// The operator's attribution text, or the name.
    pub credit: String,
}

impl SourceCredit {
    /// A source Snodo knows nothing about: its id, no licence.
    pub fn unknown(id: &str) -> SourceCredit {
        SourceCredit {
            name: id.to_owned(),
            url: String::new(),
            licence: None,
            credit: id.to_owned(),
        }
    }

    /// The SPDX identifier, or `unknown`.
    pub fn licence_id(&self) -> &'static str {
        self.licence.map_or(UNKNOWN, |l| l.spdx)
    }

    /// The licence's page, or empty when unknown.
    pub fn licence_url(&self) -> &'static str {
        self.licence.map_or("", |l| l.url)
    }

    /// The credit with its licence, or the statement that the licence is not known.
    pub fn attribution(&self) -> String {
        attribution_text(&self.credit, self.licence, &self.url)
    }
}

/// Source id → credit, for exports and feeds.
pub type Credits = HashMap<String, SourceCredit>;

/// The credit of a source, or an unknown one.
pub fn of(credits: &Credits, source: &str) -> SourceCredit {
    credits
        .get(source)
        .cloned()
        .unwrap_or_else(|| SourceCredit::unknown(source))
}
