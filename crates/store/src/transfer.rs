//! Moving a whole store from SQLite to PostgreSQL (`snodo migrate`), history included: sources
//! with their checkpoints and schedule, every record with its bookkeeping (gone ones too), the
//! change log with its `seq`s, every run, and the duplicate keys and links. Rows keep their ids
//! and `seq`s, so an index built from the old store keeps following the new one.
//!
//! It reads in chunks and writes one transaction per chunk, then checks the copy: the same number
//! of rows in every table, the same highest `seq`, and the same digest over every record's id,
//! content hash, `seq` and liveness.

use std::hash::{DefaultHasher, Hasher};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Rows per read and per write transaction.
pub(crate) const CHUNK: usize = 2_000;

pub(crate) struct SourceRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub configured: bool,
    pub checkpoint: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
}

pub(crate) struct RecordRow {
    pub id: String,
    pub source: String,
    pub kind: String,
    pub upstream_id: String,
    pub json: String,
    pub content_hash: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub last_changed: DateTime<Utc>,
    pub gone_at: Option<DateTime<Utc>>,
    pub seq: i64,
    pub last_run: Option<i64>,
}

pub(crate) struct ChangeRow {
    pub seq: i64,
    pub record_id: String,
    pub op: String,
}

pub(crate) struct RunRow {
    pub id: i64,
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: String,
    /// seen, added, changed, unchanged, failed, gone, revived.
    pub counts: [i64; 7],
    pub error: Option<String>,
    pub warnings: String,
    pub requests: i64,
}

/// One chunk of one table, in the order the copy writes them (parents before children).
pub(crate) enum Chunk {
    Sources(Vec<SourceRow>),
    Records(Vec<RecordRow>),
    Changes(Vec<ChangeRow>),
    Runs(Vec<RunRow>),
    /// `(record_id, key)`.
    Keys(Vec<(String, String)>),
    /// `(record_id, other_id)`.
    Links(Vec<(String, String)>),
}

/// Row counts of the tables a copy moves, and what identifies their content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreSummary {
    pub sources: u64,
    pub records: u64,
    pub live_records: u64,
    pub changes: u64,
    pub runs: u64,
    pub keys: u64,
    pub links: u64,
    /// The highest `seq` ever issued.
    pub max_seq: u64,
    /// A digest of every record's id, content hash, `seq` and liveness, in id order.
    pub records_digest: String,
}

/// Folds `(id, content_hash, seq, live)` rows, in id order, into [`StoreSummary::records_digest`].
#[derive(Default)]
pub(crate) struct Digest(DefaultHasher);

impl Digest {
    pub fn add(&mut self, id: &str, hash: &str, seq: i64, live: bool) {
        // Lengths first, so that ("ab", "c") and ("a", "bc") differ.
        self.0.write_usize(id.len());
        self.0.write(id.as_bytes());
        self.0.write_usize(hash.len());
        self.0.write(hash.as_bytes());
        self.0.write_i64(seq);
        self.0.write_u8(u8::from(live));
    }

    pub fn finish(&self) -> String {
        format!("{:016x}", self.0.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_sees_every_field_and_the_boundaries_between_them() {
        let d = |rows: &[(&str, &str, i64, bool)]| {
            let mut g = Digest::default();
            for (id, h, s, l) in rows {
                g.add(id, h, *s, *l);
            }
            g.finish()
        };
        let base = d(&[("a:process:1", "h1", 1, true)]);
        assert_eq!(base, d(&[("a:process:1", "h1", 1, true)]));
        assert_ne!(base, d(&[("a:process:1", "h2", 1, true)]));
        assert_ne!(base, d(&[("a:process:1", "h1", 2, true)]));
        assert_ne!(base, d(&[("a:process:1", "h1", 1, false)]));
        assert_ne!(d(&[("ab", "c", 1, true)]), d(&[("a", "bc", 1, true)]));
    }
}
