//! The store's write rules, written once for both engines: what a harvested batch does to the
//! records, the change log, the sweep and the duplicate links. Each engine supplies the
//! statements ([`WriteTx`]) inside one transaction of its own; nothing here knows SQL.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use snodo_model::Record;

use crate::error::{Ctx, DbError, StoreError};
use crate::types::{AppliedBatch, HarvestBatch, Outcome, RunCounts, RunId};
use crate::{DEFAULT_MAX_SWEEP_FRACTION, SWEEP_GUARD_MIN_RECORDS};

/// A record row as it is first written.
pub(crate) struct NewRecord<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub kind: &'a str,
    pub upstream_id: &'a str,
    pub json: &'a str,
    pub hash: &'a str,
    pub now: DateTime<Utc>,
    pub seq: i64,
    pub run: i64,
}

/// The statements of one write transaction. Every method is one engine round trip or a few.
pub(crate) trait WriteTx {
    /// The source, outcome and records seen so far of a run, `None` if there is no such run.
    fn run_state(&mut self, run: i64) -> Result<Option<(String, String, i64)>, DbError>;
    /// The content hash of a stored record and whether it is gone.
    fn existing(&mut self, id: &str) -> Result<Option<(String, bool)>, DbError>;
    /// Appends to the change log and returns the new `seq`.
    fn log(&mut self, id: &str, op: &str) -> Result<i64, DbError>;
    fn insert(&mut self, r: &NewRecord<'_>) -> Result<(), DbError>;
    /// New content: every column that follows from it, and alive again.
    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        id: &str,
        json: &str,
        hash: &str,
        now: DateTime<Utc>,
        seq: i64,
        run: i64,
    ) -> Result<(), DbError>;
    /// Seen again, unchanged.
    fn touch(&mut self, id: &str, now: DateTime<Utc>, run: i64) -> Result<(), DbError>;
    /// Seen again, unchanged, after being gone.
    fn revive(&mut self, id: &str, now: DateTime<Utc>, run: i64, seq: i64) -> Result<(), DbError>;
    fn live_count(&mut self, source: &str) -> Result<i64, DbError>;
    /// Every live record of `source`.
    fn live_ids(&mut self, source: &str) -> Result<Vec<String>, DbError>;
    /// Live records of `source` that `run` has not seen.
    fn unseen(&mut self, source: &str, run: i64) -> Result<Vec<String>, DbError>;
    fn mark_gone(&mut self, id: &str, now: DateTime<Utc>, seq: i64) -> Result<(), DbError>;
    fn set_checkpoint(&mut self, source: &str, checkpoint: &str) -> Result<(), DbError>;
    /// Saves how the source's records were classified into themes.
    fn set_classified(&mut self, source: &str, fingerprint: &str) -> Result<(), DbError>;
    /// A complete listing of the source was swept at `now`: every record of it still live was
    /// seen then (read as their `last_seen` when later, since records handed over by id are
    /// not written).
    fn set_swept(&mut self, source: &str, now: DateTime<Utc>) -> Result<(), DbError>;
    fn add_counts(&mut self, run: i64, c: &RunCounts) -> Result<(), DbError>;

    // ---- duplicates (see `crate::duplicates`) ----

    /// Replaces the match keys of a record.
    fn replace_keys(&mut self, id: &str, keys: &BTreeSet<String>) -> Result<(), DbError>;
    /// Live records of sources other than `source` sharing a key with record `id`, through
    /// title keys held by at most `max_holders` records or link keys (`u:` against `l:`):
    /// `(other id, matched by a title key, other kind)`, one row per shared key.
    fn key_partners(
        &mut self,
        id: &str,
        source: &str,
        max_holders: usize,
    ) -> Result<Vec<(String, bool, String)>, DbError>;
    /// The stored JSON of a record.
    fn record_json(&mut self, id: &str) -> Result<Option<String>, DbError>;
    fn links(&mut self, id: &str) -> Result<BTreeSet<String>, DbError>;
    /// Removes the links of `id` in both directions.
    fn drop_links(&mut self, id: &str) -> Result<(), DbError>;
    /// Links two records in both directions; already linked is fine.
    fn add_link(&mut self, a: &str, b: &str) -> Result<(), DbError>;
    /// A new `seq` for a record whose merged form changed (its links).
    fn bump(&mut self, id: &str) -> Result<(), DbError>;
}

/// The body of [`crate::Store::apply_harvest`], inside the engine's transaction; the engine
/// commits when this returns `Ok`.
pub(crate) fn apply_batch(
    tx: &mut dyn WriteTx,
    run: RunId,
    batch: &HarvestBatch<'_>,
) -> Result<AppliedBatch, StoreError> {
    let ctx = format!("storing records of source `{}`", batch.source);
    let Some((run_source, outcome, seen_before)) = tx.run_state(run.0).ctx(&ctx)? else {
        return Err(StoreError::UnknownRun(run.0));
    };
    if run_source != batch.source {
        return Err(StoreError::RunSourceMismatch {
            run: run.0,
            run_source,
            batch_source: batch.source.to_owned(),
        });
    }
    if outcome != Outcome::Running.as_str() {
        return Err(StoreError::RunFinished {
            run: run.0,
            outcome,
        });
    }

    let now = batch.now;
    let mut out = AppliedBatch::default();
    let ids: Vec<String> = batch.records.iter().map(|r| r.id.to_string()).collect();
    // Duplicates within a batch: the last occurrence wins and is counted once.
    let last_index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut foreign: Vec<&str> = Vec::new();
    // Records whose content or liveness changed: their duplicate links are recomputed.
    let mut relive: Vec<(&str, &Record)> = Vec::new();
    let c = &mut out.counts;
    for (i, (record, id)) in batch.records.iter().zip(&ids).enumerate() {
        if last_index.get(id.as_str()) != Some(&i) {
            continue;
        }
        c.seen += 1;
        if record.id.source != batch.source {
            c.failed += 1;
            foreign.push(id);
            continue;
        }
        let rctx = || format!("storing record {id}");
        let json = encode(record, id)?;
        let hash = Record::hash_of_json(json.as_bytes());
        match tx.existing(id).ctx(&rctx())? {
            None => {
                let seq = tx.log(id, "upsert").ctx(&rctx())?;
                tx.insert(&NewRecord {
                    id,
                    source: batch.source,
                    kind: record.id.kind.as_str(),
                    upstream_id: &record.id.upstream_id,
                    json: &json,
                    hash: &hash,
                    now,
                    seq,
                    run: run.0,
                })
                .ctx(&rctx())?;
                crate::duplicates::write_keys(tx, id, record).ctx(&rctx())?;
                relive.push((id, record));
                c.added += 1;
            }
            Some((old_hash, gone)) if old_hash == hash => {
                if gone {
                    let seq = tx.log(id, "upsert").ctx(&rctx())?;
                    tx.revive(id, now, run.0, seq).ctx(&rctx())?;
                    relive.push((id, record));
                    c.revived += 1;
                } else {
                    tx.touch(id, now, run.0).ctx(&rctx())?;
                }
                c.unchanged += 1;
            }
            Some((_, gone)) => {
                let seq = tx.log(id, "upsert").ctx(&rctx())?;
                tx.update(id, &json, &hash, now, seq, run.0).ctx(&rctx())?;
                crate::duplicates::write_keys(tx, id, record).ctx(&rctx())?;
                relive.push((id, record));
                c.changed += 1;
                if gone {
                    c.revived += 1;
                }
            }
        }
    }
    // Records handed over by id, seen again as stored: nothing to read, hash or write. The
    // connector checked they are live; one that is not (and so cannot be vouched for) fails
    // and holds the sweep back rather than being swept or invented.
    let mut kept: HashSet<&str> = HashSet::new();
    let mut missing: Vec<&str> = Vec::new();
    if !batch.unchanged.is_empty() {
        let live: HashSet<String> = tx
            .live_ids(batch.source)
            .ctx(&format!(
                "reading the live records of source `{}`",
                batch.source
            ))?
            .into_iter()
            .collect();
        let mut handled: HashSet<&str> = HashSet::new();
        for id in batch.unchanged {
            // Given in full as well: the full record is what counts.
            if last_index.contains_key(id.as_str()) || !handled.insert(id) {
                continue;
            }
            c.seen += 1;
            if live.contains(id) {
                kept.insert(id);
                c.unchanged += 1;
            } else {
                missing.push(id);
                c.failed += 1;
            }
        }
    }
    if let Some(first) = missing.first() {
        out.warnings.push(format!(
            "{} record(s) said unchanged were not live in the store (first: {first}), so none \
             of the source's records were marked gone; the next run fetches their pages again",
            missing.len()
        ));
    }
    if let Some(first) = foreign.first() {
        out.warnings.push(format!(
            "{} record(s) named a source other than `{}` and were rejected (first: {first}); \
             the connector must only produce records of its own source",
            foreign.len(),
            batch.source
        ));
    }

    let sweeps = batch.complete && missing.is_empty();
    let gone = if sweeps {
        // The run's first batch knows everything it saw; a later one asks the rows.
        let seen = (seen_before == 0).then(|| {
            let mut seen = kept.clone();
            seen.extend(ids.iter().map(String::as_str));
            seen
        });
        sweep(tx, run, batch, seen.as_ref(), &kept, &mut out).ctx(&format!(
            "marking records of source `{}` gone",
            batch.source
        ))?
    } else {
        Vec::new()
    };
    if sweeps && !out.sweep_held_back {
        tx.set_swept(batch.source, now).ctx(&ctx)?;
    } else {
        // No sweep vouches for them: say so on their rows, for a later batch of the run and
        // for their `last_seen`.
        for id in &kept {
            tx.touch(id, now, run.0)
                .ctx(&format!("storing record {id}"))?;
        }
    }
    crate::duplicates::relink(tx, &relive, &gone).ctx(&format!(
        "linking duplicates of records of source `{}`",
        batch.source
    ))?;

    if let Some(cp) = batch.checkpoint {
        tx.set_checkpoint(batch.source, cp).ctx(&format!(
            "saving the checkpoint of source `{}`",
            batch.source
        ))?;
    }
    if let Some(fp) = batch.classified_with {
        tx.set_classified(batch.source, fp).ctx(&ctx)?;
    }
    tx.add_counts(run.0, &out.counts).ctx(&ctx)?;
    Ok(out)
}

/// Marks gone the live records of the batch's source that no batch of this run has seen (nor
/// this one handed over by id: `kept`), unless that is more than the safety valve allows.
/// `seen`, when given, is every record the run saw: the live ids not in it are the unseen ones,
/// found without reading the records' rows.
fn sweep(
    tx: &mut dyn WriteTx,
    run: RunId,
    batch: &HarvestBatch<'_>,
    seen: Option<&HashSet<&str>>,
    kept: &HashSet<&str>,
    out: &mut AppliedBatch,
) -> Result<Vec<String>, DbError> {
    let (live, unseen) = match seen {
        Some(seen) => {
            let live = tx.live_ids(batch.source)?;
            let n = live.len() as i64;
            (
                n,
                live.into_iter()
                    .filter(|id| !seen.contains(id.as_str()))
                    .collect::<Vec<_>>(),
            )
        }
        None => {
            let mut unseen = tx.unseen(batch.source, run.0)?;
            unseen.retain(|id| !kept.contains(id.as_str()));
            (tx.live_count(batch.source)?, unseen)
        }
    };
    let n = unseen.len() as u64;
    let fraction = if batch.max_sweep_fraction.is_nan() {
        DEFAULT_MAX_SWEEP_FRACTION
    } else {
        batch.max_sweep_fraction.clamp(0.0, 1.0)
    };
    if n > SWEEP_GUARD_MIN_RECORDS && n as f64 > fraction * live as f64 {
        out.sweep_held_back = true;
        out.warnings.push(format!(
            "the listing of source `{}` no longer contains {n} of its {live} records; more than \
             {:.0}% at once looks like an upstream failure, so none were marked gone. If they \
             really were removed, run again with a higher max_sweep_fraction",
            batch.source,
            fraction * 100.0
        ));
        tracing::warn!(
            source = batch.source,
            unseen = n,
            live,
            "sweep held back by the safety valve"
        );
        return Ok(Vec::new());
    }
    for id in &unseen {
        let seq = tx.log(id, "gone")?;
        tx.mark_gone(id, batch.now, seq)?;
    }
    out.counts.gone += n;
    Ok(unseen)
}

pub(crate) fn encode(record: &Record, id: &str) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|source| StoreError::Encode {
        what: format!("record {id}"),
        source,
    })
}
