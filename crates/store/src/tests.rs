use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, TimeZone};
use snodo_model::{Kind, LocalizedText, RecordId};

use super::*;
use crate::sqlite::{configure_writer, LIVE_CHUNK};
use rusqlite::Connection;
use std::collections::HashMap;

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn rec(source: &str, n: usize, title: &str) -> Record {
    Record::new(
        RecordId::new(source, Kind::Process, n.to_string()),
        format!("https://{source}.example.it/processes/{n}"),
        "it",
        LocalizedText::single("it", title),
    )
}

fn recs(source: &str, range: std::ops::Range<usize>) -> Vec<Record> {
    range
        .map(|n| rec(source, n, &format!("Processo {n}")))
        .collect()
}

fn info(id: &str) -> SourceInfo {
    SourceInfo {
        id: id.into(),
        name: format!("Source {id}"),
        kind: "decidim".into(),
        url: format!("https://{id}.example.it"),
    }
}

fn mem(sources: &[&str]) -> Store {
    let s = Store::open_in_memory().unwrap();
    s.sync_sources(&sources.iter().map(|id| info(id)).collect::<Vec<_>>())
        .unwrap();
    s
}

/// One run storing `records` in a single batch, finished as success; returns the batch result.
fn harvest(s: &Store, source: &str, records: &[Record], complete: bool, at: i64) -> AppliedBatch {
    let run = s.start_run(source, t(at)).unwrap();
    let out = s
        .apply_harvest(
            run,
            &HarvestBatch::new(source, records, complete, None, t(at)),
        )
        .unwrap();
    s.finish_run(
        run,
        &RunFinish {
            finished_at: t(at) + Duration::seconds(3),
            outcome: Outcome::Success,
            counts: out.counts,
            error: None,
            warnings: out.warnings.clone(),
            requests: 1,
        },
    )
    .unwrap();
    out
}

fn raw_count(s: &Store, sql: &str) -> i64 {
    s.raw_i64(sql)
}

/// A record's JSON as stored (SQLite keeps it compressed, PostgreSQL as `jsonb`).
fn stored_json(s: &Store, id: &str) -> String {
    let column = if s.is_shared() {
        "CAST(json AS TEXT)"
    } else {
        "record_json(json, body)"
    };
    s.raw_text(&format!("SELECT {column} FROM records WHERE id = '{id}'"))
}

/// Overwrites a record's stored JSON behind the store's back.
fn set_stored_json(s: &Store, id: &str, json: &str) {
    let body = if s.is_shared() { "" } else { ", body = NULL" };
    s.raw_batch(&format!(
        "UPDATE records SET json = '{}'{body} WHERE id = '{id}'",
        json.replace('\'', "''")
    ));
}

/// Runs a test on SQLite in memory and, when `SNODO_TEST_DATABASE_URL` names a PostgreSQL server
/// (`scripts/pg.sh start` prints one), on a fresh database there: the same behaviour is asked of
/// both engines. CI always has the server, so there the PostgreSQL half cannot be skipped.
fn on_each_engine(test: impl Fn(&dyn Fn(&[&str]) -> Store)) {
    test(&mem);
    if let Some(admin) = pg_admin_url() {
        test(&|sources: &[&str]| pg_store(&admin, sources));
    }
}

fn pg_admin_url() -> Option<String> {
    match std::env::var("SNODO_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI runs the store tests on PostgreSQL too: set SNODO_TEST_DATABASE_URL (scripts/pg.sh start)")
        }
        _ => None,
    }
}

/// A store on a database of its own, with `sources` configured.
fn pg_store(admin: &str, sources: &[&str]) -> Store {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "snodo_store_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let url = Store::create_database(admin, &name).unwrap();
    let s = Store::connect(&url).unwrap();
    s.sync_sources(&sources.iter().map(|id| info(id)).collect::<Vec<_>>())
        .unwrap();
    s
}

fn live_ids(s: &Store) -> Vec<String> {
    let mut ids = Vec::new();
    s.live_records(&mut |r| {
        ids.push(r.id.to_string());
        Ok(())
    })
    .unwrap();
    ids
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
}

#[test]
fn open_creates_directory_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/data/snodo.sqlite");
    let s = Store::open(&path).unwrap();
    assert!(path.exists());
    assert_eq!(s.path(), Some(path.as_path()));
    let version: i64 = s
        .sqlite_writer()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::latest_version());
    let mode: String = s
        .sqlite_writer()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = s
        .sqlite_writer()
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    assert_eq!(page_size(&s), 16384);
    // A checkpoint every 64 MiB of WAL, whatever the page size.
    assert_eq!(autocheckpoint(&s), 4096);
    drop(s);
    // Reopening runs no migration twice (a second CREATE TABLE would fail).
    let s = Store::open(&path).unwrap();
    s.integrity_check().unwrap();
    assert!(Store::open_in_memory().unwrap().path().is_none());

    // A file made with SQLite's default 4 KB pages keeps them and opens as before.
    let old = dir.path().join("old.sqlite");
    file_with_4_kib_pages(&old);
    let s = Store::open(&old).unwrap();
    assert_eq!(page_size(&s), 4096);
    assert_eq!(autocheckpoint(&s), 16384);
    s.integrity_check().unwrap();
}

fn autocheckpoint(s: &Store) -> i64 {
    s.sqlite_writer()
        .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
        .unwrap()
}

/// A database file as SQLite's defaults make it, before Snodo chose 16 KB pages.
fn file_with_4_kib_pages(path: &Path) {
    Connection::open(path)
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA page_size = 4096; CREATE TABLE t (x);")
        .unwrap();
}

fn page_size(s: &Store) -> i64 {
    s.sqlite_writer()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snodo.sqlite");
    drop(Store::open(&path).unwrap());
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }));
    assert!(err.to_string().contains("upgrade snodo"), "{err}");
}

#[test]
fn opening_something_that_is_not_a_database_says_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let err = Store::open(dir.path()).err().unwrap();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("check that the data directory exists and is writable"),
        "{err}"
    );
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    assert!(matches!(
        Store::open(&junk).err().unwrap(),
        StoreError::Open { .. }
    ));
}

#[test]
fn sync_sources_upserts_and_flags_removed_sources_keeping_their_records() {
    on_each_engine(|mem| {
        let s = mem(&["a", "b"]);
        harvest(&s, "b", &recs("b", 0..3), true, 0);
        let mut a = info("a");
        a.name = "Renamed".into();
        s.sync_sources(&[a, info("c")]).unwrap();
        let st = s.sources().unwrap();
        let by_id: HashMap<_, _> = st.iter().map(|x| (x.id.as_str(), x)).collect();
        assert_eq!(st.len(), 3);
        assert_eq!(by_id["a"].name, "Renamed");
        assert!(by_id["a"].configured && by_id["c"].configured);
        assert!(!by_id["b"].configured);
        assert_eq!(by_id["b"].records, 3);
        assert!(s.record("b:process:1").unwrap().is_some());
        // Configured again: flagged back.
        s.sync_sources(&[info("b")]).unwrap();
        assert!(
            s.sources()
                .unwrap()
                .iter()
                .find(|x| x.id == "b")
                .unwrap()
                .configured
        );

        assert!(matches!(
            s.sync_sources(&[info("Bad Id")]),
            Err(StoreError::InvalidSourceId(_))
        ));
    });
}

#[test]
fn syncing_unchanged_sources_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let s = Store::open(&path).unwrap();
    s.sync_sources(&[info("a"), info("b")]).unwrap();
    // A checkpoint as large as a big site's page validators, which every row rewrite copied.
    let big = "v".repeat(400_000);
    let run = s.start_run("a", t(0)).unwrap();
    s.apply_harvest(run, &HarvestBatch::new("a", &[], false, Some(&big), t(0)))
        .unwrap();
    let wal = dir.path().join("s.sqlite3-wal");
    let before = std::fs::metadata(&wal).unwrap().len();
    s.sync_sources(&[info("a"), info("b")]).unwrap();
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), before);
    assert_eq!(s.checkpoint("a").unwrap().as_deref(), Some(big.as_str()));
    // Dropping one from the configuration still flags it, and only it.
    s.sync_sources(&[info("a")]).unwrap();
    let configured: Vec<_> = s
        .sources()
        .unwrap()
        .into_iter()
        .map(|x| (x.id, x.configured))
        .collect();
    assert_eq!(
        configured,
        [("a".to_string(), true), ("b".to_string(), false)]
    );
}

#[test]
fn changing_a_sources_url_or_kind_resets_its_checkpoint() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        let run = s.start_run("a", t(0)).unwrap();
        s.apply_harvest(
            run,
            &HarvestBatch::new("a", &[], false, Some("cursor-1"), t(0)),
        )
        .unwrap();
        s.sync_sources(&[info("a")]).unwrap();
        assert_eq!(s.checkpoint("a").unwrap().as_deref(), Some("cursor-1"));
        let mut moved = info("a");
        moved.url = "https://elsewhere.example.it".into();
        s.sync_sources(&[moved]).unwrap();
        assert_eq!(s.checkpoint("a").unwrap(), None);
    });
}

#[test]
fn upsert_adds_skips_unchanged_and_updates_changed() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        let first = harvest(&s, "a", &recs("a", 0..3), false, 0);
        assert_eq!(
            first.counts,
            RunCounts {
                seen: 3,
                added: 3,
                ..RunCounts::default()
            }
        );
        let seq_after_add = s.max_seq().unwrap();
        assert_eq!(seq_after_add, 3);
        let before = s.record("a:process:1").unwrap().unwrap();
        assert_eq!(
            before.content_hash,
            rec("a", 1, "Processo 1").content_hash()
        );
        assert_eq!((before.first_seen, before.last_seen), (t(0), t(0)));
        // Mark the stored text so that a rewrite would show.
        let marked = stored_json(&s, "a:process:1").replace("Processo 1", "MARKER");
        set_stored_json(&s, "a:process:1", &marked);

        // Same content: unchanged, no change-log row, JSON not rewritten, last_seen moves.
        let mut again = recs("a", 0..3);
        let second = harvest(&s, "a", &again, false, 10);
        assert_eq!(
            second.counts,
            RunCounts {
                seen: 3,
                unchanged: 3,
                ..RunCounts::default()
            }
        );
        assert_eq!(s.max_seq().unwrap(), seq_after_add);
        assert_eq!(raw_count(&s, "SELECT COUNT(*) FROM changes"), 3);
        let after = s.record("a:process:1").unwrap().unwrap();
        assert_eq!(after.last_seen, t(10));
        assert_eq!(after.last_changed, t(0));
        assert_eq!(stored_json(&s, "a:process:1"), marked);
        let rec_seq = s.raw_i64("SELECT seq FROM records WHERE id = 'a:process:1'");
        assert_eq!(rec_seq, 2);

        // Different content: changed, one change-log row.
        again[1] = rec("a", 1, "Processo uno, rinominato");
        let third = harvest(&s, "a", &again, false, 20);
        assert_eq!(
            third.counts,
            RunCounts {
                seen: 3,
                changed: 1,
                unchanged: 2,
                ..RunCounts::default()
            }
        );
        assert_eq!(s.max_seq().unwrap(), 4);
        let changed = s.record("a:process:1").unwrap().unwrap();
        assert_eq!(changed.record, again[1]);
        assert_eq!(changed.content_hash, again[1].content_hash());
        assert_eq!((changed.first_seen, changed.last_changed), (t(0), t(20)));
        let cols = s.raw_text(
            "SELECT source || ' ' || kind || ' ' || upstream_id FROM records WHERE id = 'a:process:1'",
        );
        assert_eq!(cols, "a process 1");
        assert!(s.record("a:process:99").unwrap().is_none());
    });
}

#[test]
fn change_log_gives_current_state_in_seq_order_compacted() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        harvest(&s, "a", &recs("a", 0..3), false, 0); // seq 1..=3
        let changes = s.changes_since(0, 100).unwrap();
        assert_eq!(
            changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(changes[0].id, "a:process:0");
        assert_eq!(changes[0].record.as_ref(), Some(&rec("a", 0, "Processo 0")));

        // Record 0 changes (seq 4), then a complete listing without record 2 sweeps it (seq 5).
        let mut v = recs("a", 0..2);
        v[0] = rec("a", 0, "Nuovo titolo");
        let out = harvest(&s, "a", &v, true, 10);
        assert_eq!((out.counts.changed, out.counts.gone), (1, 1));

        let all = s.changes_since(0, 100).unwrap();
        // Compacted: record 0 only at seq 4, record 2 only at seq 5 (gone).
        assert_eq!(
            all.iter()
                .map(|c| (c.seq, c.id.as_str()))
                .collect::<Vec<_>>(),
            vec![(2, "a:process:1"), (4, "a:process:0"), (5, "a:process:2")]
        );
        assert_eq!(all[1].record.as_ref(), Some(&v[0]));
        assert_eq!(all[2].record, None);
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));

        // Paging by cursor.
        let page = s.changes_since(2, 1).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].seq, 4);
        assert!(s.changes_since(5, 10).unwrap().is_empty());
        assert!(s.changes_since(0, 0).unwrap().is_empty());
        assert_eq!(s.max_seq().unwrap(), 5);
    });
}

#[test]
fn seq_is_never_reused_even_after_log_rows_are_deleted() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        harvest(&s, "a", &recs("a", 0..3), false, 0);
        s.raw_batch("DELETE FROM changes");
        assert_eq!(s.max_seq().unwrap(), 3);
        harvest(&s, "a", &recs("a", 3..4), false, 1);
        let c = s.changes_since(0, 10).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].seq, 4);
        assert_eq!(s.max_seq().unwrap(), 4);
    });
}

#[test]
fn records_of_another_source_are_rejected_and_not_stored() {
    on_each_engine(|mem| {
        let s = mem(&["a", "b"]);
        let mut batch = recs("a", 0..2);
        batch.push(rec("b", 7, "Intruso"));
        let out = harvest(&s, "a", &batch, false, 0);
        assert_eq!(
            out.counts,
            RunCounts {
                seen: 3,
                added: 2,
                failed: 1,
                ..RunCounts::default()
            }
        );
        assert_eq!(out.warnings.len(), 1);
        assert!(
            out.warnings[0].contains("b:process:7"),
            "{:?}",
            out.warnings
        );
        assert!(s.record("b:process:7").unwrap().is_none());
        assert_eq!(s.max_seq().unwrap(), 2);
    });
}

#[test]
fn duplicate_ids_in_a_batch_last_wins_counted_once() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        let batch = vec![
            rec("a", 1, "Prima versione"),
            rec("a", 2, "Altro"),
            rec("a", 1, "Ultima versione"),
        ];
        let out = harvest(&s, "a", &batch, false, 0);
        assert_eq!(
            out.counts,
            RunCounts {
                seen: 2,
                added: 2,
                ..RunCounts::default()
            }
        );
        let stored = s.record("a:process:1").unwrap().unwrap();
        assert_eq!(stored.record.title.get("it"), Some("Ultima versione"));
        assert_eq!(s.max_seq().unwrap(), 2);
    });
}

/// One run storing `records` in full and `unchanged` by id, in one batch.
fn harvest_by_id(
    s: &Store,
    source: &str,
    records: &[Record],
    unchanged: &[&str],
    complete: bool,
    at: i64,
) -> AppliedBatch {
    let ids: Vec<String> = unchanged.iter().map(|i| i.to_string()).collect();
    let run = s.start_run(source, t(at)).unwrap();
    s.apply_harvest(
        run,
        &HarvestBatch::new(source, records, complete, None, t(at)).with_unchanged(&ids),
    )
    .unwrap()
}

/// Rows of `source` a run wrote, by the run they name.
fn rows_written_by_last_run(s: &Store, id: &str) -> i64 {
    raw_count(
        s,
        &format!(
            "SELECT COUNT(*) FROM records WHERE id = '{id}' AND last_run = (SELECT MAX(id) FROM runs)"
        ),
    )
}

#[test]
fn records_handed_over_by_id_are_seen_without_being_written() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        harvest(&s, "a", &recs("a", 0..4), true, 0);
        let seq = s.max_seq().unwrap();

        // Record 0 changed, 1 and 2 unchanged by id, 3 no longer listed.
        let changed = rec("a", 0, "Processo 0, nuovo titolo");
        let out = harvest_by_id(
            &s,
            "a",
            &[changed],
            &["a:process:1", "a:process:2"],
            true,
            10,
        );
        assert_eq!(
            (
                out.counts.seen,
                out.counts.changed,
                out.counts.unchanged,
                out.counts.gone
            ),
            (3, 1, 2, 1)
        );
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let log: Vec<(String, bool)> = s
            .changes_since(seq, 10)
            .unwrap()
            .into_iter()
            .map(|c| (c.id, c.record.is_none()))
            .collect();
        assert_eq!(
            log,
            [("a:process:0".into(), false), ("a:process:3".into(), true)]
        );
        // Not written, yet known to have been seen by this run's sweep.
        assert_eq!(rows_written_by_last_run(&s, "a:process:1"), 0);
        let kept = s.record("a:process:1").unwrap().unwrap();
        assert_eq!((kept.last_seen, kept.last_changed), (t(10), t(0)));
        assert!(kept.gone_at.is_none());
        // The swept record keeps the time it was last really seen.
        let gone = s.record("a:process:3").unwrap().unwrap();
        assert_eq!((gone.last_seen, gone.gone_at), (t(0), Some(t(10))));
        assert_eq!(live_ids(&s), ["a:process:0", "a:process:1", "a:process:2"]);
    });
}

#[test]
fn an_id_handed_over_that_is_not_stored_fails_and_holds_the_sweep_back() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        harvest(&s, "a", &recs("a", 0..3), true, 0);
        harvest(&s, "a", &recs("a", 2..3), true, 1);
        // 2 live; 0 and 1 swept. The connector vouches for 0 (gone) and 2, and names 2 twice.
        let ids = ["a:process:2", "a:process:0", "a:process:2"];
        let out = harvest_by_id(&s, "a", &[], &ids, true, 10);
        assert_eq!(
            (
                out.counts.seen,
                out.counts.unchanged,
                out.counts.failed,
                out.counts.gone
            ),
            (2, 1, 1, 0)
        );
        assert!(
            out.warnings[0].contains("a:process:0"),
            "{:?}",
            out.warnings
        );
        // Gone stays gone (nothing to revive it from), and with no sweep the kept one is written.
        assert!(s.record("a:process:0").unwrap().unwrap().gone_at.is_some());
        assert_eq!(rows_written_by_last_run(&s, "a:process:2"), 1);
        assert_eq!(s.record("a:process:2").unwrap().unwrap().last_seen, t(10));

        // A record given in full and by id counts once, in full.
        let out = harvest_by_id(&s, "a", &recs("a", 2..3), &["a:process:2"], true, 20);
        assert_eq!((out.counts.seen, out.counts.unchanged), (1, 1));
    });
}

#[test]
fn an_incomplete_listing_writes_what_it_hands_over_by_id_for_a_later_sweep() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        harvest(&s, "a", &recs("a", 0..3), true, 0);
        let run = s.start_run("a", t(10)).unwrap();
        let first = ["a:process:0".to_owned()];
        let b1 = HarvestBatch::new("a", &[], false, None, t(10)).with_unchanged(&first);
        s.apply_harvest(run, &b1).unwrap();
        // The run's last batch lists 1 in full: 0 was seen by the first, only 2 is gone.
        let listed = recs("a", 1..2);
        let b2 = HarvestBatch::new("a", &listed, true, None, t(11));
        let out = s.apply_harvest(run, &b2).unwrap();
        assert_eq!(out.counts.gone, 1);
        assert_eq!(live_ids(&s), ["a:process:0", "a:process:1"]);
    });
}

#[test]
fn the_classification_fingerprint_is_kept_per_source() {
    on_each_engine(|mem| {
        let s = mem(&["a", "b"]);
        assert_eq!(s.classified_with("a").unwrap(), None);
        let run = s.start_run("a", t(0)).unwrap();
        let batch = HarvestBatch::new("a", &[], false, None, t(0)).with_classified_with("f1");
        s.apply_harvest(run, &batch).unwrap();
        // A batch that carries none leaves it.
        s.apply_harvest(run, &HarvestBatch::new("a", &[], false, None, t(1)))
            .unwrap();
        assert_eq!(s.classified_with("a").unwrap().as_deref(), Some("f1"));
        assert_eq!(s.classified_with("b").unwrap(), None);
        harvest(&s, "b", &recs("b", 0..3), true, 0);
        let ids: Vec<String> = ["b:process:0", "b:process:2", "b:process:7", "a:process:0"]
            .map(String::from)
            .to_vec();
        assert_eq!(s.count_live("b", &ids).unwrap(), 2);
    });
}

#[test]
fn only_complete_listings_sweep_and_never_other_sources() {
    on_each_engine(|mem| {
        let s = mem(&["a", "b"]);
        harvest(&s, "a", &recs("a", 0..4), true, 0);
        harvest(&s, "b", &recs("b", 0..4), true, 0);

        // Incomplete listing missing records: nothing gone.
        let out = harvest(&s, "a", &recs("a", 0..2), false, 10);
        assert_eq!(out.counts.gone, 0);
        assert_eq!(live_ids(&s).len(), 8);

        // A failed run (no batch stored) changes nothing.
        let run = s.start_run("a", t(15)).unwrap();
        s.finish_run(
            run,
            &RunFinish {
                finished_at: t(16),
                outcome: Outcome::Failed,
                counts: RunCounts::default(),
                error: Some("the API answered 503".into()),
                warnings: vec![],
                requests: 1,
            },
        )
        .unwrap();
        assert_eq!(live_ids(&s).len(), 8);
        let seq_before = s.max_seq().unwrap();

        // Complete listing missing records 2 and 3: they are gone, b untouched.
        let out = harvest(&s, "a", &recs("a", 0..2), true, 20);
        assert_eq!(out.counts.gone, 2);
        assert!(!out.sweep_held_back);
        let gone = s.record("a:process:3").unwrap().unwrap();
        assert_eq!(gone.gone_at, Some(t(20)));
        assert_eq!(s.max_seq().unwrap(), seq_before + 2);
        let ids = live_ids(&s);
        assert_eq!(ids.len(), 6);
        assert!(ids.iter().filter(|i| i.starts_with("b:")).count() == 4);
        assert!(s.record("b:process:3").unwrap().unwrap().gone_at.is_none());
        assert_eq!(
            s.record_counts_by_kind().unwrap(),
            vec![
                ("a".into(), "process".into(), 2),
                ("b".into(), "process".into(), 4)
            ]
        );
        // The gone record's history stays.
        assert_eq!(gone.first_seen, t(0));
    });
}

#[test]
fn a_gone_record_that_comes_back_is_revived() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        harvest(&s, "a", &recs("a", 0..3), true, 0);
        harvest(&s, "a", &recs("a", 0..2), true, 10);
        assert!(s.record("a:process:2").unwrap().unwrap().gone_at.is_some());
        let seq = s.max_seq().unwrap();

        let out = harvest(&s, "a", &recs("a", 0..3), true, 20);
        assert_eq!(
            out.counts,
            RunCounts {
                seen: 3,
                unchanged: 3,
                revived: 1,
                ..RunCounts::default()
            }
        );
        let back = s.record("a:process:2").unwrap().unwrap();
        assert_eq!(back.gone_at, None);
        assert_eq!(back.last_seen, t(20));
        let changes = s.changes_since(seq, 10).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].id, "a:process:2");
        assert!(changes[0].record.is_some());

        // Gone again, then back with new content: changed and revived.
        harvest(&s, "a", &recs("a", 0..2), true, 30);
        let mut v = recs("a", 0..2);
        v.push(rec("a", 2, "Tornato diverso"));
        let out = harvest(&s, "a", &v, true, 40);
        assert_eq!((out.counts.changed, out.counts.revived), (1, 1));
        assert_eq!(
            s.record("a:process:2")
                .unwrap()
                .unwrap()
                .record
                .title
                .get("it"),
            Some("Tornato diverso")
        );
    });
}

#[test]
fn harvested_records_are_read_back_as_stored_live_and_of_their_source_only() {
    on_each_engine(|mem| {
        let s = mem(&["a", "b"]);
        let mut a = recs("a", 0..3);
        a[1].summary = LocalizedText::single("it", "Con un sommario");
        harvest(&s, "a", &a, true, 0);
        harvest(&s, "b", &recs("b", 0..1), true, 0);
        harvest(&s, "a", &a[..2], true, 10); // a:process:2 is gone
        let ask: Vec<String> = [
            "a:process:1",
            "a:process:2",
            "b:process:0",
            "a:process:0",
            "a:process:9",
        ]
        .map(String::from)
        .to_vec();
        let mut got = s.harvested_records("a", &ask).unwrap();
        got.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(got, a[..2].to_vec());
        assert!(s.harvested_records("a", &[]).unwrap().is_empty());
    });
}

#[test]
fn sqlite_keeps_record_json_compressed_and_still_reads_rows_stored_before() {
    let s = mem(&["a"]);
    let mut long = rec("a", 1, "Piano urbano della mobilità sostenibile");
    long.description =
        LocalizedText::single("it", &"Bilancio partecipativo del quartiere. ".repeat(80));
    harvest(&s, "a", &[long.clone(), rec("a", 2, "Due")], true, 0);
    let (json_len, body_len) = (
        s.raw_i64("SELECT length(json) FROM records WHERE id = 'a:process:1'"),
        s.raw_i64("SELECT length(body) FROM records WHERE id = 'a:process:1'"),
    );
    let plain = stored_json(&s, "a:process:1").len() as i64;
    assert_eq!(json_len, 0);
    assert!(
        body_len * 5 < plain,
        "{body_len} bytes compressed of {plain}"
    );
    assert_eq!(s.record("a:process:1").unwrap().unwrap().record, long);

    // a row as schema 5 wrote it: plain JSON, no body
    s.raw_batch(
        "UPDATE records SET json = record_json(json, body), body = NULL WHERE id = 'a:process:2'",
    );
    assert_eq!(
        s.record("a:process:2").unwrap().unwrap().record,
        rec("a", 2, "Due")
    );
    let mut ids = Vec::new();
    s.live_records(&mut |r| {
        ids.push(r.id.to_string());
        Ok(())
    })
    .unwrap();
    assert_eq!(ids, ["a:process:1", "a:process:2"]);
    // rewritten compressed when it changes
    harvest(&s, "a", &[long, rec("a", 2, "Due, cambiato")], true, 10);
    assert_eq!(
        s.raw_i64("SELECT body IS NOT NULL AND json = '' FROM records WHERE id = 'a:process:2'"),
        1
    );
    // a damaged body is an error naming the record, not a panic
    s.raw_batch("UPDATE records SET body = x'ffffffff00' WHERE id = 'a:process:2'");
    let e = s.record("a:process:2").unwrap_err().to_string();
    assert!(e.contains("a:process:2") && e.contains("body"), "{e}");
}

#[test]
fn the_safety_valve_holds_back_a_sweep_of_most_of_a_source() {
    on_each_engine(|mem| {
        let s = mem(&["a", "small"]);
        harvest(&s, "a", &recs("a", 0..10), true, 0);
        let seq = s.max_seq().unwrap();

        // An upstream that suddenly lists nothing.
        let out = harvest(&s, "a", &[], true, 10);
        assert!(out.sweep_held_back);
        assert_eq!(out.counts.gone, 0);
        assert_eq!(out.warnings.len(), 1);
        assert!(
            out.warnings[0].contains("10 of its 10"),
            "{:?}",
            out.warnings
        );
        assert_eq!(live_ids(&s).len(), 10);
        assert_eq!(s.max_seq().unwrap(), seq);

        // 6 of 10 missing: more than half and more than 5: held back.
        let out = harvest(&s, "a", &recs("a", 0..4), true, 20);
        assert!(out.sweep_held_back);
        // 5 of 10 missing: allowed.
        let out = harvest(&s, "a", &recs("a", 0..5), true, 30);
        assert!(!out.sweep_held_back);
        assert_eq!(out.counts.gone, 5);

        // The caller can override the fraction.
        harvest(&s, "a", &recs("a", 0..10), true, 40);
        let run = s.start_run("a", t(50)).unwrap();
        let out = s
            .apply_harvest(
                run,
                &HarvestBatch::new("a", &[], true, None, t(50)).with_max_sweep_fraction(1.0),
            )
            .unwrap();
        assert_eq!(out.counts.gone, 10);
        assert!(out.warnings.is_empty());

        // A small source may lose everything (at most 5 records).
        harvest(&s, "small", &recs("small", 0..5), true, 0);
        let out = harvest(&s, "small", &[], true, 10);
        assert_eq!(out.counts.gone, 5);
    });
}

#[test]
fn a_run_in_several_batches_sweeps_only_what_no_batch_saw() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        harvest(&s, "a", &recs("a", 0..6), true, 0);
        let run = s.start_run("a", t(10)).unwrap();
        let page1 = recs("a", 0..3);
        let page2 = recs("a", 3..5);
        let mut total = RunCounts::default();
        total += s
            .apply_harvest(
                run,
                &HarvestBatch::new("a", &page1, false, Some("p2"), t(10)),
            )
            .unwrap()
            .counts;
        total += s
            .apply_harvest(
                run,
                &HarvestBatch::new("a", &page2, true, Some("end"), t(11)),
            )
            .unwrap()
            .counts;
        assert_eq!(
            total,
            RunCounts {
                seen: 5,
                unchanged: 5,
                gone: 1,
                ..RunCounts::default()
            }
        );
        assert_eq!(live_ids(&s).len(), 5);
        assert!(s.record("a:process:5").unwrap().unwrap().gone_at.is_some());
        assert_eq!(s.checkpoint("a").unwrap().as_deref(), Some("end"));
        // Running totals are kept on the run even before it finishes.
        let (runs, _) = s.runs("a", 1, 0).unwrap();
        assert_eq!(runs[0].outcome, Outcome::Running);
        assert_eq!(runs[0].counts, total);
    });
}

#[test]
fn checkpoint_and_records_commit_together_or_not_at_all() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        let run = s.start_run("a", t(0)).unwrap();
        s.apply_harvest(
            run,
            &HarvestBatch::new("a", &recs("a", 0..2), false, Some("c1"), t(0)),
        )
        .unwrap();
        assert_eq!(s.checkpoint("a").unwrap().as_deref(), Some("c1"));
        // `None` leaves the checkpoint alone.
        s.apply_harvest(run, &HarvestBatch::new("a", &[], false, None, t(1)))
            .unwrap();
        assert_eq!(s.checkpoint("a").unwrap().as_deref(), Some("c1"));

        // Make storing one record fail halfway through the batch.
        s.raw_batch(if s.is_shared() {
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.upstream_id = '4' THEN RAISE EXCEPTION 'disk on fire'; END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER boom BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION boom();"
        } else {
            "CREATE TRIGGER boom BEFORE INSERT ON records WHEN NEW.upstream_id = '4'
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"
        });
        let seq = s.max_seq().unwrap();
        let err = s
            .apply_harvest(
                run,
                &HarvestBatch::new("a", &recs("a", 2..6), true, Some("c2"), t(2)),
            )
            .unwrap_err();
        assert!(err.to_string().contains("a:process:4"), "{err}");
        assert_eq!(s.checkpoint("a").unwrap().as_deref(), Some("c1"));
        assert!(s.record("a:process:2").unwrap().is_none());
        assert_eq!(s.max_seq().unwrap(), seq);
        assert_eq!(live_ids(&s).len(), 2);

        s.reset_checkpoint("a").unwrap();
        assert_eq!(s.checkpoint("a").unwrap(), None);
        assert!(matches!(
            s.reset_checkpoint("zzz"),
            Err(StoreError::UnknownSource(_))
        ));
    });
}

#[test]
fn runs_are_checked_before_anything_is_written() {
    on_each_engine(|mem| {
        let s = mem(&["a", "b"]);
        assert!(matches!(
            s.start_run("nope", t(0)),
            Err(StoreError::UnknownSource(_))
        ));
        let run = s.start_run("a", t(0)).unwrap();
        let b = recs("b", 0..1);
        assert!(matches!(
            s.apply_harvest(run, &HarvestBatch::new("b", &b, true, None, t(0))),
            Err(StoreError::RunSourceMismatch { .. })
        ));
        assert!(matches!(
            s.apply_harvest(RunId(999), &HarvestBatch::new("a", &[], true, None, t(0))),
            Err(StoreError::UnknownRun(999))
        ));
        let finish = RunFinish {
            finished_at: t(1),
            outcome: Outcome::Success,
            counts: RunCounts::default(),
            error: None,
            warnings: vec![],
            requests: 0,
        };
        s.finish_run(run, &finish).unwrap();
        assert!(matches!(
            s.finish_run(run, &finish),
            Err(StoreError::RunFinished { .. })
        ));
        assert!(matches!(
            s.finish_run(RunId(999), &finish),
            Err(StoreError::UnknownRun(999))
        ));
        let err = s
            .apply_harvest(run, &HarvestBatch::new("a", &[], true, None, t(0)))
            .unwrap_err();
        assert!(err.to_string().contains("start a new run"), "{err}");
        assert_eq!(s.max_seq().unwrap(), 0);
    });
}

#[test]
fn runs_and_source_status_report_history() {
    on_each_engine(|mem| {
        let s = mem(&["a", "b"]);
        let st = s.sources().unwrap();
        assert!(st[0].last_run.is_none() && st[0].last_success_at.is_none());

        for i in 0..5 {
            harvest(&s, "a", &recs("a", 0..2), true, i * 60);
        }
        let run = s.start_run("a", t(400)).unwrap();
        s.finish_run(
            run,
            &RunFinish {
                finished_at: t(400) + Duration::milliseconds(1500),
                outcome: Outcome::Failed,
                counts: RunCounts {
                    seen: 1,
                    failed: 1,
                    ..RunCounts::default()
                },
                error: Some("the API answered 500".into()),
                warnings: vec!["slow".into()],
                requests: 7,
            },
        )
        .unwrap();

        let (page, total) = s.runs("a", 2, 0).unwrap();
        assert_eq!(total, 6);
        assert_eq!(page.len(), 2);
        assert_eq!(page[0].id, run.0);
        assert_eq!(page[0].outcome, Outcome::Failed);
        assert_eq!(page[0].error.as_deref(), Some("the API answered 500"));
        assert_eq!(page[0].warnings, vec!["slow".to_string()]);
        assert_eq!(page[0].requests, 7);
        assert_eq!(page[0].duration_ms, Some(1500));
        assert_eq!(page[0].counts.failed, 1);
        assert_eq!(page[1].started_at, t(240));
        let (rest, _) = s.runs("a", 10, 4).unwrap();
        assert_eq!(
            rest.iter().map(|r| r.started_at).collect::<Vec<_>>(),
            vec![t(60), t(0)]
        );
        assert_eq!(s.runs("zzz", 10, 0).unwrap(), (vec![], 0));

        let st = s.sources().unwrap();
        let a = st.iter().find(|x| x.id == "a").unwrap();
        assert_eq!(a.last_run.as_ref().map(|r| r.id), Some(run.0));
        assert_eq!(a.last_success_at, Some(t(240) + Duration::seconds(3)));
        assert_eq!(a.records, 2);
        assert_eq!(a.url, "https://a.example.it");

        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json["last_run"]["outcome"], "failed");
        assert_eq!(json["last_run"]["counts"]["failed"], 1);
        assert_eq!(json["configured"], true);
    });
}

#[test]
fn unfinished_runs_are_abandoned_at_start() {
    on_each_engine(|mem| {
        let s = mem(&["a", "b"]);
        let r1 = s.start_run("a", t(0)).unwrap();
        s.start_run("b", t(0)).unwrap();
        harvest(&s, "a", &[], false, 5);
        assert_eq!(s.abandon_unfinished_runs(t(60)).unwrap(), 2);
        assert_eq!(s.abandon_unfinished_runs(t(61)).unwrap(), 0);
        let (runs, _) = s.runs("a", 10, 0).unwrap();
        let abandoned = runs.iter().find(|r| r.id == r1.0).unwrap();
        assert_eq!(abandoned.outcome, Outcome::Abandoned);
        assert_eq!(abandoned.finished_at, Some(t(60)));
        assert_eq!(abandoned.duration_ms, None);
        assert!(abandoned.error.is_some());
        assert_eq!(runs[0].outcome, Outcome::Success);
        assert_eq!(
            serde_json::to_value(Outcome::Abandoned).unwrap(),
            serde_json::json!("abandoned")
        );
        assert_eq!("partial".parse::<Outcome>(), Ok(Outcome::Partial));
    });
}

#[test]
fn schedule_state_round_trips() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        assert_eq!(s.schedule_state("a").unwrap(), ScheduleState::default());
        assert_eq!(s.schedule_state("zzz").unwrap(), ScheduleState::default());
        s.set_next_run("a", Some(t(360))).unwrap();
        harvest(&s, "a", &[], false, 0);
        harvest(&s, "a", &[], false, 90);
        assert_eq!(
            s.schedule_state("a").unwrap(),
            ScheduleState {
                last_run_at: Some(t(90)),
                next_run_at: Some(t(360))
            }
        );
        assert_eq!(s.sources().unwrap()[0].next_run_at, Some(t(360)));
        s.set_next_run("a", None).unwrap();
        assert_eq!(s.schedule_state("a").unwrap().next_run_at, None);
        assert!(matches!(
            s.set_next_run("zzz", None),
            Err(StoreError::UnknownSource(_))
        ));
    });
}

#[test]
fn live_records_streams_in_chunks_and_stops_on_callback_error() {
    on_each_engine(|mem| {
        let s = mem(&["a"]);
        let n = LIVE_CHUNK * 2 + 7;
        harvest(&s, "a", &recs("a", 0..n), true, 0);
        harvest(&s, "a", &recs("a", 0..n - 3), true, 1);
        let mut seen = Vec::new();
        let count = s
            .live_records(&mut |r| {
                seen.push(r.id.upstream_id);
                Ok(())
            })
            .unwrap();
        assert_eq!(count as usize, n - 3);
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n - 3);

        // The callback may use the store (even in memory, where reads share the writer).
        let mut calls = 0;
        let err = s
            .live_records(&mut |_| {
                calls += 1;
                s.max_seq()?;
                Err(StoreError::UnknownSource("stop".into()))
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::UnknownSource(_)));
        assert_eq!(calls, 1);
    });
}

#[test]
fn ten_thousand_records_in_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("snodo.sqlite")).unwrap();
    s.sync_sources(&[info("big")]).unwrap();
    let all = recs("big", 0..10_000);
    let out = harvest(&s, "big", &all, true, 0);
    assert_eq!(
        out.counts,
        RunCounts {
            seen: 10_000,
            added: 10_000,
            ..RunCounts::default()
        }
    );
    assert_eq!(s.max_seq().unwrap(), 10_000);
    let out = harvest(&s, "big", &all, true, 1);
    assert_eq!(out.counts.unchanged, 10_000);
    assert_eq!(s.max_seq().unwrap(), 10_000);
    assert_eq!(
        s.record_counts_by_kind().unwrap(),
        vec![("big".into(), "process".into(), 10_000)]
    );
    assert_eq!(s.changes_since(9_990, 100).unwrap().len(), 10);
}

#[test]
fn reopening_keeps_data_and_seq_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snodo.sqlite");
    {
        let s = Store::open(&path).unwrap();
        s.sync_sources(&[info("a")]).unwrap();
        let run = s.start_run("a", t(0)).unwrap();
        s.apply_harvest(
            run,
            &HarvestBatch::new("a", &recs("a", 0..3), true, Some("c"), t(0)),
        )
        .unwrap();
        // Left running: the process "crashes" here.
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.max_seq().unwrap(), 3);
    assert_eq!(s.checkpoint("a").unwrap().as_deref(), Some("c"));
    assert_eq!(live_ids(&s).len(), 3);
    assert_eq!(s.abandon_unfinished_runs(t(5)).unwrap(), 1);
    harvest(&s, "a", &recs("a", 3..4), false, 10);
    let c = s.changes_since(3, 10).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].seq, 4);
    assert_eq!(s.record("a:process:0").unwrap().unwrap().first_seen, t(0));
}

#[test]
fn reads_do_not_wait_behind_a_write_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(Store::open(&dir.path().join("snodo.sqlite")).unwrap());
    s.sync_sources(&[info("a")]).unwrap();
    harvest(&s, "a", &recs("a", 0..3), false, 0);

    // A long write: the writer is locked and a transaction holds uncommitted rows.
    let guard = s.sqlite_writer();
    guard
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO changes (record_id, op) VALUES ('a:process:0', 'upsert');",
        )
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = Arc::clone(&s);
    std::thread::spawn(move || {
        let r = (|| -> Result<_, StoreError> {
            Ok((
                reader.max_seq()?,
                reader.sources()?.len(),
                reader.record("a:process:1")?.is_some(),
                reader.changes_since(0, 10)?.len(),
            ))
        })();
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    let got = rx
        .recv_timeout(StdDuration::from_secs(10))
        .expect("a read waited behind the write");
    // The reader sees the last committed state, not the write in progress.
    assert_eq!(got, Ok((3, 1, true, 3)));
    guard.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn concurrent_reads_while_another_thread_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(Store::open(&dir.path().join("snodo.sqlite")).unwrap());
    s.sync_sources(&[info("a")]).unwrap();
    let writer = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || {
            for round in 0..20usize {
                let batch: Vec<Record> = (0..200)
                    .map(|n| rec("a", n, &format!("Processo {n} round {round}")))
                    .collect();
                harvest(&s, "a", &batch, true, round as i64);
            }
        })
    };
    let reader = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || {
            let mut last = 0;
            let mut cursor = 0;
            for _ in 0..200 {
                let seq = s.max_seq().unwrap();
                assert!(seq >= last, "seq went backwards");
                last = seq;
                for c in s.changes_since(cursor, 100).unwrap() {
                    assert!(c.seq > cursor);
                    assert!(c.record.is_some());
                    cursor = c.seq;
                }
                s.sources().unwrap();
            }
        })
    };
    writer.join().unwrap();
    reader.join().unwrap();
    assert_eq!(s.max_seq().unwrap(), 20 * 200);
    assert_eq!(s.runs("a", 1, 0).unwrap().1, 20);
}

/// A store written before schema 6: every row's JSON plain. Opening it compresses them all,
/// in chunks, leaving contents, hashes and the change log as they were.
#[test]
fn rows_stored_before_compression_are_compressed_at_open_and_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snodo.sqlite");
    let (records, hashes_before, seq) = {
        let s = Store::open(&path).unwrap();
        s.sync_sources(&[info("a")]).unwrap();
        harvest(&s, "a", &recs("a", 0..7), true, 0);
        s.sqlite_writer()
            .execute_batch(
                "UPDATE records SET json = record_json(json, body), body = NULL;
                 INSERT INTO compress_backlog (after) VALUES (0);",
            )
            .unwrap();
        assert_eq!(
            raw_count(&s, "SELECT COUNT(*) FROM records WHERE body IS NULL"),
            7
        );
        (live_records(&s), hashes(&s), s.max_seq().unwrap())
    };
    // in chunks of 3, as an open would (the open's chunks are bigger)
    {
        let mut conn = Connection::open(&path).unwrap();
        configure_writer(&conn).unwrap();
        assert_eq!(crate::sqlite::compress_old_rows(&mut conn, 3).unwrap(), 7);
        assert_eq!(crate::sqlite::compress_old_rows(&mut conn, 3).unwrap(), 0);
        conn.execute_batch(
            "UPDATE records SET json = record_json(json, body), body = NULL WHERE rowid > 4;
             INSERT INTO compress_backlog (after) VALUES (4);",
        )
        .unwrap();
    }
    // and what a crash after the first chunks leaves is finished by the next open
    let s = Store::open(&path).unwrap();
    assert_eq!(
        raw_count(
            &s,
            "SELECT COUNT(*) FROM records WHERE body IS NULL OR json <> ''"
        ),
        0
    );
    assert_eq!(raw_count(&s, "SELECT COUNT(*) FROM compress_backlog"), 0);
    assert_eq!(live_records(&s), records);
    assert_eq!(hashes(&s), hashes_before);
    assert_eq!(s.max_seq().unwrap(), seq);
    s.integrity_check().unwrap();
}

fn live_records(s: &Store) -> Vec<Record> {
    let mut out = Vec::new();
    s.live_records(&mut |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    out
}

fn hashes(s: &Store) -> Vec<(String, String)> {
    let w = s.sqlite_writer();
    let mut st = w
        .prepare("SELECT id, content_hash FROM records ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn backup_makes_an_openable_copy_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("snodo.sqlite")).unwrap();
    s.sync_sources(&[info("a")]).unwrap();
    harvest(&s, "a", &recs("a", 0..3), true, 0);
    s.integrity_check().unwrap();

    let dest = dir.path().join("backups/2024-05-01.sqlite");
    s.backup_to(&dest).unwrap();
    let copy = Store::open(&dest).unwrap();
    assert_eq!(copy.max_seq().unwrap(), 3);
    assert_eq!(live_ids(&copy).len(), 3);
    copy.integrity_check().unwrap();

    let err = s.backup_to(&dest).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");

    // A store made with 4 KB pages is copied with 16 KB ones.
    let old = dir.path().join("old.sqlite");
    file_with_4_kib_pages(&old);
    let o = Store::open(&old).unwrap();
    o.sync_sources(&[info("a")]).unwrap();
    harvest(&o, "a", &recs("a", 0..3), true, 0);
    assert_eq!(page_size(&o), 4096);
    let dest = dir.path().join("backups/from-old.sqlite");
    o.backup_to(&dest).unwrap();
    let copy = Store::open(&dest).unwrap();
    assert_eq!(page_size(&copy), 16384);
    assert_eq!(live_ids(&copy).len(), 3);

    // In memory too.
    let m = mem(&["a"]);
    harvest(&m, "a", &recs("a", 0..2), true, 0);
    let dest = dir.path().join("mem.sqlite");
    m.backup_to(&dest).unwrap();
    assert_eq!(Store::open(&dest).unwrap().max_seq().unwrap(), 2);
}

// ---- cross-platform duplicates ----

/// A record with dates, in Emilia-Romagna.
fn dated(source: &str, n: usize, title: &str, start: &str, end: &str) -> Record {
    let mut r = rec(source, n, title);
    r.start_date = Some(start.parse().unwrap());
    r.end_date = Some(end.parse().unwrap());
    r.territory.region = Some("08".into());
    r
}

/// [`TITLE`] with the dates every copy of it has.
fn titled(source: &str, n: usize) -> Record {
    dated(source, n, TITLE, "2024-03-01", "2024-04-30")
}

fn seq_of(s: &Store, id: &str) -> i64 {
    s.raw_i64(&format!("SELECT seq FROM records WHERE id = '{id}'"))
}

fn same_as(s: &Store, id: &str) -> Vec<String> {
    s.record(id).unwrap().unwrap().record.same_as
}

const TITLE: &str = "Piano regionale per la mobilità sostenibile";

#[test]
fn same_title_dates_and_place_link_both_ways_and_bump_the_partner() {
    on_each_engine(|mem| {
        let s = mem(&["naz", "reg"]);
        let a = dated("naz", 1, TITLE, "2024-03-01", "2024-04-30");
        harvest(&s, "naz", std::slice::from_ref(&a), true, 0);
        let hash_a = s.record("naz:process:1").unwrap().unwrap().content_hash;
        let seq_a = seq_of(&s, "naz:process:1");
        // Different case, accents and punctuation fold to the same title; the end is two days
        // later.
        let b = dated(
            "reg",
            7,
            "PIANO REGIONALE per la mobilita' sostenibile!",
            "2024-03-01",
            "2024-05-02",
        );
        harvest(&s, "reg", std::slice::from_ref(&b), true, 1);

        assert_eq!(same_as(&s, "naz:process:1"), ["reg:process:7"]);
        assert_eq!(same_as(&s, "reg:process:7"), ["naz:process:1"]);
        assert!(
            seq_of(&s, "naz:process:1") > seq_a,
            "the partner is re-indexed"
        );
        let changes = s.changes_since(seq_a as u64, 100).unwrap();
        let ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["reg:process:7", "naz:process:1"]);
        for c in &changes {
            assert_eq!(c.record.as_ref().unwrap().same_as.len(), 1);
        }
        let mut live = Vec::new();
        s.live_records(&mut |r| {
            live.push(r.same_as.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(live, [1, 1]);
        // The content hash and the stored JSON are the connector's record.
        assert_eq!(
            s.record("naz:process:1").unwrap().unwrap().content_hash,
            hash_a
        );
        assert!(!stored_json(&s, "naz:process:1").contains("same_as"));

        // Harvesting the same data again rewrites and bumps nothing.
        let max = s.max_seq().unwrap();
        let out = harvest(&s, "naz", &[a], true, 2);
        assert_eq!(out.counts.unchanged, 1);
        harvest(&s, "reg", &[b], true, 3);
        assert_eq!(s.max_seq().unwrap(), max);
    });
}

#[test]
fn dates_trivial_titles_and_same_source_do_not_link() {
    on_each_engine(|mem| {
        let s = mem(&["naz", "reg"]);
        harvest(
            &s,
            "naz",
            &[
                dated("naz", 1, TITLE, "2024-01-01", "2024-01-31"),
                rec("naz", 2, "Bilancio 2024"),
                rec("naz", 3, "Consultazione sul piano casa"),
                rec("naz", 4, "Consultazione sul piano casa"),
            ],
            true,
            0,
        );
        // Same title on the same source: not a cross-platform duplicate.
        assert!(same_as(&s, "naz:process:3").is_empty());
        harvest(
            &s,
            "reg",
            &[
                // Disjoint dates.
                dated("reg", 1, TITLE, "2024-02-01", "2024-02-28"),
                // Equal but trivial title.
                rec("reg", 2, "Bilancio 2024"),
                // Open-ended on one side, undated on the other: a title alone is no evidence.
                {
                    let mut r = rec("reg", 3, "Consultazione sul piano casa");
                    r.start_date = Some("2030-01-01".parse().unwrap());
                    r
                },
            ],
            true,
            1,
        );
        assert!(same_as(&s, "reg:process:1").is_empty());
        assert!(same_as(&s, "reg:process:2").is_empty());
        assert!(same_as(&s, "reg:process:3").is_empty());
        assert!(same_as(&s, "naz:process:4").is_empty());
    });
}

#[test]
fn a_link_in_the_description_links_whatever_the_titles_and_dates() {
    on_each_engine(|mem| {
        let s = mem(&["naz", "reg"]);
        let a = dated("naz", 1, "Una cosa", "2020-01-01", "2020-01-02");
        harvest(&s, "naz", &[a], true, 0);
        let mut b = dated("reg", 5, "Un'altra", "2024-01-01", "2024-01-02");
        b.description_html.insert_sanitized(
            "it",
            r#"<p>Partecipa anche <a href="https://naz.example.it/processes/1/">sul portale nazionale</a>.</p>"#,
        );
        harvest(&s, "reg", &[b], true, 1);
        assert_eq!(same_as(&s, "naz:process:1"), ["reg:process:5"]);
        assert_eq!(same_as(&s, "reg:process:5"), ["naz:process:1"]);
    });
}

#[test]
fn a_title_that_many_records_share_links_nothing() {
    on_each_engine(|mem| {
        let sources: Vec<String> = (0..=crate::duplicates::MAX_TITLE_HOLDERS)
            .map(|i| format!("s{i}"))
            .collect();
        let s = mem(&sources.iter().map(String::as_str).collect::<Vec<_>>());
        // Two platforms publish it: the same thing.
        for (i, src) in sources.iter().take(2).enumerate() {
            let r = dated(src, 1, TITLE, "2024-03-01", "2024-04-30");
            harvest(&s, src, &[r], true, i as i64);
        }
        assert_eq!(same_as(&s, "s0:process:1"), ["s1:process:1"]);
        // Every platform has one: the title is generic, and a newcomer links to none of them.
        for (i, src) in sources.iter().enumerate().skip(2) {
            let r = dated(src, 1, TITLE, "2024-03-01", "2024-04-30");
            harvest(&s, src, &[r], true, i as i64);
        }
        let last = format!("{}:process:1", sources.last().unwrap());
        assert!(same_as(&s, &last).is_empty());
    });
}

#[test]
fn a_meeting_that_shares_a_title_or_links_a_process_is_not_its_duplicate() {
    on_each_engine(|mem| {
        let s = mem(&["naz", "reg"]);
        harvest(
            &s,
            "naz",
            &[dated("naz", 1, TITLE, "2024-03-01", "2024-04-30")],
            true,
            0,
        );
        // A meeting of the same consultation on the regional platform: same title, same days, and
        // a link to the national page.
        let mut m = dated("reg", 3, TITLE, "2024-03-10", "2024-03-10");
        m.id = RecordId::new("reg", Kind::Meeting, "3");
        m.description_html.insert_sanitized(
            "it",
            r#"<p>Il processo <a href="https://naz.example.it/processes/1">sul portale nazionale</a>.</p>"#,
        );
        // And the same consultation published as a consultation there: a duplicate.
        let c = {
            let mut c = dated("reg", 4, TITLE, "2024-03-01", "2024-04-30");
            c.id = RecordId::new("reg", Kind::Consultation, "4");
            c
        };
        harvest(&s, "reg", &[m, c], true, 1);
        assert_eq!(same_as(&s, "naz:process:1"), ["reg:consultation:4"]);
        assert!(same_as(&s, "reg:meeting:3").is_empty());
    });
}

#[test]
fn a_changed_title_or_a_gone_record_drops_the_link_and_bumps_both_sides() {
    on_each_engine(|mem| {
        let s = mem(&["naz", "reg"]);
        harvest(&s, "naz", &[titled("naz", 1)], true, 0);
        harvest(&s, "reg", &[titled("reg", 1)], true, 1);
        assert_eq!(same_as(&s, "naz:process:1"), ["reg:process:1"]);

        // The regional title changes: no longer the same thing.
        let before = seq_of(&s, "naz:process:1");
        harvest(
            &s,
            "reg",
            &[rec("reg", 1, "Tutt'altra consultazione")],
            true,
            2,
        );
        assert!(same_as(&s, "naz:process:1").is_empty());
        assert!(same_as(&s, "reg:process:1").is_empty());
        assert!(seq_of(&s, "naz:process:1") > before);

        // Back to the same title: linked again; then the national one goes.
        harvest(&s, "reg", &[titled("reg", 1)], true, 3);
        assert_eq!(same_as(&s, "reg:process:1"), ["naz:process:1"]);
        let before_reg = seq_of(&s, "reg:process:1");
        harvest(&s, "naz", &[], true, 4);
        assert!(s
            .record("naz:process:1")
            .unwrap()
            .unwrap()
            .gone_at
            .is_some());
        assert!(same_as(&s, "reg:process:1").is_empty());
        assert!(same_as(&s, "naz:process:1").is_empty());
        assert!(seq_of(&s, "reg:process:1") > before_reg);
        let last = s.changes_since(before_reg as u64, 100).unwrap();
        assert!(last
            .iter()
            .any(|c| c.id == "reg:process:1"
                && c.record.as_ref().is_some_and(|r| r.same_as.is_empty())));

        // It comes back unchanged (revived): linked again.
        harvest(&s, "naz", &[titled("naz", 1)], true, 5);
        assert_eq!(same_as(&s, "reg:process:1"), ["naz:process:1"]);
        s.integrity_check().unwrap();
    });
}

/// The query plan of `sql` on the store's writer, one line per step.
fn plan(s: &Store, sql: &str) -> String {
    let w = s.sqlite_writer();
    let mut st = w.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let params: Vec<rusqlite::types::Value> = (0..st.parameter_count())
        .map(|_| rusqlite::types::Value::Integer(1))
        .collect();
    st.query_map(rusqlite::params_from_iter(params), |r| {
        r.get::<_, String>(3)
    })
    .unwrap()
    .collect::<rusqlite::Result<Vec<_>>>()
    .unwrap()
    .join("\n")
}

#[test]
fn a_record_s_partners_are_found_through_the_index_of_title_hashes_and_of_links() {
    let s = Store::open_in_memory().unwrap();
    let no_scan = |p: &str| {
        p.lines()
            .filter(|l| l.starts_with("SCAN"))
            .all(|l| l.contains("subquery"))
    };
    // The record's own keys, then the other holders and the holders counted, each through the
    // hash of the title: never a scan of every key (a first harvest of a million records would
    // then never end).
    let p = plan(&s, crate::sqlite::TITLE_PARTNERS);
    assert!(
        p.contains("SEARCH k USING INDEX sqlite_autoindex_record_keys_1"),
        "{p}"
    );
    assert!(
        p.contains("SEARCH o USING INDEX record_keys_by_title (title_hash=?)"),
        "{p}"
    );
    assert!(
        p.contains("SEARCH g USING INDEX record_keys_by_title (title_hash=?)"),
        "{p}"
    );
    assert!(no_scan(&p), "{p}");
    let p = plan(&s, crate::sqlite::LINK_PARTNERS);
    assert!(
        p.contains("SEARCH k USING INDEX sqlite_autoindex_record_keys_1"),
        "{p}"
    );
    assert!(
        p.contains("SEARCH o USING INDEX record_keys_by_link (key=?)"),
        "{p}"
    );
    assert!(no_scan(&p), "{p}");
}

#[test]
fn a_store_of_schema_7_keeps_its_keys_and_links_and_finds_titles_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snodo.sqlite");
    let linking = |source: &str, n: usize| {
        let mut r = rec(source, n, "Avviso");
        r.description_html.insert_sanitized(
            "it",
            r#"<p>Vedi <a href="https://naz.example.it/processes/7/">qui</a></p>"#,
        );
        r
    };
    let keys_before = {
        let s = Store::open(&path).unwrap();
        s.sync_sources(&[info("naz"), info("reg"), info("com")])
            .unwrap();
        let mut english = titled("naz", 1);
        english
            .title
            .insert_plain("en", "Regional plan for sustainable mobility");
        harvest(
            &s,
            "naz",
            &[english, rec("naz", 2, TITLE), rec("naz", 7, "Avviso")],
            true,
            0,
        );
        harvest(&s, "reg", &[titled("reg", 1)], true, 1);
        let w = s.sqlite_writer();
        // As schema 7 left it: the keys in a table without row ids, indexed by key.
        w.execute_batch(
            "CREATE TABLE record_keys_v7 (
                 record_id TEXT NOT NULL REFERENCES records(id) DEFERRABLE INITIALLY DEFERRED,
                 key       TEXT NOT NULL,
                 PRIMARY KEY (record_id, key)
             ) STRICT, WITHOUT ROWID;
             INSERT INTO record_keys_v7 SELECT record_id, key FROM record_keys;
             DROP TABLE record_keys;
             ALTER TABLE record_keys_v7 RENAME TO record_keys;
             CREATE INDEX record_keys_by_key ON record_keys(key);
             PRAGMA user_version = 7;",
        )
        .unwrap();
        written(&w).0
    };
    let s = Store::open(&path).unwrap();
    assert_eq!(written(&s.sqlite_writer()).0, keys_before);
    assert_eq!(same_as(&s, "naz:process:1"), ["reg:process:1"]);
    // Newcomers find partners through the migrated keys: one with the title and dates, one
    // that links to a page of the store.
    harvest(&s, "com", &[titled("com", 1), linking("com", 2)], true, 2);
    assert_eq!(
        same_as(&s, "com:process:1"),
        ["naz:process:1", "reg:process:1"]
    );
    assert_eq!(same_as(&s, "com:process:2"), ["naz:process:7"]);
    let stale: i64 =
        s.raw_i64("SELECT COUNT(*) FROM record_keys WHERE title_hash IS NOT snodo_title_hash(key)");
    assert_eq!(
        stale, 0,
        "every migrated title key has its hash, no other key one"
    );
    let names: Vec<String> = s
        .sqlite_writer()
        .prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'record_keys' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        names,
        [
            "record_keys",
            "record_keys_by_link",
            "record_keys_by_title",
            "sqlite_autoindex_record_keys_1"
        ]
    );
    s.integrity_check().unwrap();
    drop(s);
    // Plain SQLite, without Snodo's functions, checks the file and writes keys.
    let plain = Connection::open(&path).unwrap();
    let check: String = plain
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    plain
        .execute(
            "DELETE FROM record_keys WHERE record_id = 'com:process:2'",
            [],
        )
        .unwrap();
}

#[test]
fn records_stored_before_the_migration_are_linked_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snodo.sqlite");
    {
        let s = Store::open(&path).unwrap();
        s.sync_sources(&[info("naz"), info("reg")]).unwrap();
        harvest(&s, "naz", &[titled("naz", 1)], true, 0);
        harvest(&s, "reg", &[titled("reg", 1)], true, 1);
        // As an older version left it: no keys, no links.
        s.sqlite_writer()
            .execute_batch("DELETE FROM record_links; DELETE FROM record_keys;")
            .unwrap();
        assert!(same_as(&s, "naz:process:1").is_empty());
    }
    let s = Store::open(&path).unwrap();
    let max = s.max_seq().unwrap();
    assert_eq!(same_as(&s, "naz:process:1"), ["reg:process:1"]);
    assert_eq!(same_as(&s, "reg:process:1"), ["naz:process:1"]);
    // The index of every key the backfill walked is gone with it: it would cost every new
    // record a random write.
    let left: i64 =
        s.raw_i64("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'record_keys_backfill_by_key'");
    assert_eq!(left, 0);
    assert_eq!(
        s.changes_since(max - 2, 10).unwrap().len(),
        2,
        "both records are re-indexed"
    );
}

/// A record of the labelled set (`tests/fixtures/duplicate_pairs.json`).
fn labelled(v: &serde_json::Value) -> Record {
    let str_of = |k: &str| v[k].as_str().map(str::to_owned);
    let kind: Kind = v["kind"].as_str().unwrap().parse().unwrap();
    let mut r = Record::new(
        RecordId::new(
            v["source"].as_str().unwrap(),
            kind,
            v["id"].as_str().unwrap(),
        ),
        v["url"].as_str().unwrap(),
        "it",
        LocalizedText::single("it", v["title"].as_str().unwrap()),
    );
    r.start_date = str_of("start").map(|d| d.parse().unwrap());
    r.end_date = str_of("end").map(|d| d.parse().unwrap());
    let t = &v["territory"];
    let code = |k: &str| t[k].as_str().map(str::to_owned);
    (r.territory.region, r.territory.province, r.territory.comune) =
        (code("region"), code("province"), code("comune"));
    r.territory.national = t["national"].as_bool().unwrap_or(false);
    if let Some(links) = v["links"].as_array() {
        let html: String = links
            .iter()
            .map(|l| format!(r#"<p><a href="{}">pagina</a></p>"#, l.as_str().unwrap()))
            .collect();
        r.description_html.insert_sanitized("it", &html);
    }
    r
}

/// Precision first: a false merge hides a real, different process from search. Each labelled
/// pair is harvested into a store of its own, one source after the other, and the links the
/// store makes are compared with the labels.
#[test]
fn the_labelled_duplicate_pairs_have_no_false_merge() {
    on_each_engine(|mem| {
        let set: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/duplicate_pairs.json")).unwrap();
        let pairs = set["pairs"].as_array().unwrap();
        let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
        let mut false_merges = Vec::new();
        let mut missed = Vec::new();
        for (i, pair) in pairs.iter().enumerate() {
            let (a, b) = (labelled(&pair["a"]), labelled(&pair["b"]));
            let s = mem(&[&a.id.source, &b.id.source]);
            harvest(&s, &a.id.source, std::slice::from_ref(&a), true, 0);
            harvest(&s, &b.id.source, std::slice::from_ref(&b), true, 1);
            let linked = same_as(&s, &a.id.to_string()) == [b.id.to_string()];
            assert_eq!(
                linked,
                same_as(&s, &b.id.to_string()) == [a.id.to_string()],
                "pair {i}: links go both ways"
            );
            let what = format!("pair {i} ({}): {}", pair["why"], a.title.get("it").unwrap());
            match (pair["label"].as_str().unwrap(), linked) {
                ("same", true) => tp += 1,
                ("same", false) => {
                    fn_ += 1;
                    missed.push(what);
                }
                ("different", true) => {
                    fp += 1;
                    false_merges.push(what);
                }
                _ => tn += 1,
            }
        }
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        let recall = tp as f64 / (tp + fn_).max(1) as f64;
        println!(
            "labelled pairs: {} ({} same, {} different); linked {tp} true, {fp} false; missed {fn_}; \
             precision {precision:.3}, recall {recall:.3}\nmissed:\n  {}",
            pairs.len(),
            tp + fn_,
            fp + tn,
            missed.join("\n  ")
        );
        assert!(pairs.len() >= 100 && tp + fn_ >= 50 && fp + tn >= 50);
        assert!(
            false_merges.is_empty(),
            "false merges:\n{}",
            false_merges.join("\n")
        );
        // Every pair a machine can prove (a link, or dates and one place) is found; the labelled
        // set's last six same-pairs carry no such evidence and stay apart.
        assert_eq!(fn_, 6, "missed:\n{}", missed.join("\n"));
    });
}

/// Upgrading from schema 3, whose rule linked by title and overlapping dates alone: links the
/// new rule does not confirm are dropped on open, and both records are re-indexed (so the
/// hidden one reappears in search); links it confirms stay.
#[test]
fn an_upgrade_relinks_with_the_stricter_rule_and_reindexes_the_unlinked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snodo.sqlite");
    {
        let s = Store::open(&path).unwrap();
        s.sync_sources(&[info("naz"), info("reg")]).unwrap();
        let mut body = rec("naz", 1, "Comunità di pratiche per la partecipazione");
        body.territory.national = true;
        let mut regional = rec("reg", 1, "Comunità di pratiche per la partecipazione");
        regional.territory.region = Some("08".into());
        harvest(&s, "naz", &[body, titled("naz", 2)], true, 0);
        harvest(&s, "reg", &[regional, titled("reg", 2)], true, 1);
        // As schema 3 left it: the two bodies linked by their name alone.
        let w = s.sqlite_writer();
        w.execute_batch(
            "INSERT INTO record_links VALUES ('naz:process:1', 'reg:process:1'),
                                             ('reg:process:1', 'naz:process:1');
             DROP TABLE relink_bump;
             DROP INDEX records_live_by_kind;
             UPDATE records SET json = record_json(json, body), body = NULL;
             ALTER TABLE records DROP COLUMN body;
             DROP TABLE compress_backlog;
             DROP INDEX records_live_ids;
             ALTER TABLE sources DROP COLUMN swept_at;
             ALTER TABLE sources DROP COLUMN classified_with;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let before = s.max_seq().unwrap();
    assert!(same_as(&s, "naz:process:1").is_empty());
    assert!(same_as(&s, "reg:process:1").is_empty());
    assert_eq!(same_as(&s, "naz:process:2"), ["reg:process:2"]);
    let bumped: std::collections::BTreeSet<String> = s
        .changes_since(before - 4, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(
        bumped,
        [
            "naz:process:1",
            "naz:process:2",
            "reg:process:1",
            "reg:process:2"
        ]
        .map(String::from)
        .into(),
        "the formerly and the still linked are re-indexed"
    );
    let pending: i64 = s
        .sqlite_writer()
        .query_row("SELECT COUNT(*) FROM relink_bump", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pending, 0);
    // and every row written before is compressed
    assert_eq!(
        raw_count(&s, "SELECT COUNT(*) FROM records WHERE body IS NULL"),
        0
    );
    assert_eq!(raw_count(&s, "SELECT COUNT(*) FROM compress_backlog"), 0);
    s.integrity_check().unwrap();
}

// ---- the one-time backfill for stores written before duplicates were detected ----

/// A varied catalogue across three sources: shared, unique and trivial titles, overlapping and
/// disjoint dates, compatible and incompatible places and kinds, links between pages.
fn catalogue(source: &str, shift: usize) -> Vec<Record> {
    let titles = [
        TITLE,
        "Consultazione sul piano casa",
        "Bilancio partecipativo 2026 del comune",
        "Regolamento per i beni comuni urbani",
        "Piano urbano della mobilità sostenibile",
        "Bilancio 2024",
        "Riqualificazione",
        "Patto di collaborazione per il parco",
    ];
    let others = ["naz", "reg", "com"];
    (0..110)
        .map(|n| {
            let i = n + shift;
            // Most titles are shared by a handful of records over the three sources; the
            // two short ones by dozens (trivial, and generic: see `MAX_TITLE_HOLDERS`).
            let title = if i % 10 == 9 {
                format!("Processo unico {source} {n}")
            } else if matches!(i % titles.len(), 5 | 6) {
                titles[i % titles.len()].to_owned()
            } else {
                format!(
                    "{} (lotto {})",
                    titles[i % titles.len()],
                    (i / titles.len()) % 5
                )
            };
            let mut r = rec(source, n, &title);
            let kind = match i % 11 {
                0 => Kind::Meeting,
                1 | 4 => Kind::Consultation,
                2 => Kind::Proposal,
                _ => Kind::Process,
            };
            r.id = RecordId::new(source, kind, n.to_string());
            if i % 4 != 0 {
                let month = 1 + (i * 5) % 12;
                r.start_date = Some(format!("2024-{month:02}-01").parse().unwrap());
                r.end_date = Some(format!("2024-{month:02}-28").parse().unwrap());
            }
            r.territory.region = [None, Some("08"), Some("16")][i % 3].map(str::to_owned);
            if i % 6 == 1 {
                r.territory.comune = Some(["037006", "040012"][i % 2].to_owned());
            }
            if i % 9 == 0 {
                let other = others[i % 3];
                r.description_html.insert_sanitized(
                    "it",
                    &format!(
                        r#"<p>Vedi <a href="https://{other}.example.it/processes/{}/">qui</a></p>"#,
                        (i * 7) % 110
                    ),
                );
            }
            r
        })
        .collect()
}

/// Writes a store as a version before schema 2 left it: records, some gone, one undecodable,
/// and no keys or links.
fn old_store(path: &Path) {
    let s = Store::open(path).unwrap();
    s.sync_sources(&[info("naz"), info("reg"), info("com")])
        .unwrap();
    for (at, (source, shift)) in [("naz", 0), ("reg", 3), ("com", 5)].into_iter().enumerate() {
        harvest(&s, source, &catalogue(source, shift), true, at as i64);
    }
    // A quarter of one source goes.
    harvest(&s, "com", &catalogue("com", 5)[..82], true, 10);
    let w = s.sqlite_writer();
    w.execute_batch(
        "UPDATE records SET json = '{', body = NULL WHERE id = 'reg:process:5';
         DELETE FROM record_links; DELETE FROM record_keys;",
    )
    .unwrap();
    let gone: i64 = w
        .query_row(
            "SELECT COUNT(*) FROM records WHERE gone_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(gone > 20, "{gone}");
}

fn copy_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    assert!(
        !from.with_extension("sqlite-wal").exists(),
        "the old store was closed cleanly"
    );
}

/// Everything the backfill writes: keys, links, each record's seq, the change log.
type Written = (
    Vec<(String, String)>,
    Vec<(String, String)>,
    Vec<(String, i64)>,
    Vec<(i64, String, String)>,
);

fn written(conn: &Connection) -> Written {
    fn pairs<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> Vec<(String, T)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }
    let changes = conn
        .prepare("SELECT seq, record_id, op FROM changes ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    (
        pairs(conn, "SELECT record_id, key FROM record_keys ORDER BY 1, 2"),
        pairs(
            conn,
            "SELECT record_id, other_id FROM record_links ORDER BY 1, 2",
        ),
        pairs(conn, "SELECT id, seq FROM records ORDER BY 1"),
        changes,
    )
}

#[test]
fn the_chunked_backfill_writes_what_the_one_transaction_backfill_did_even_when_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.sqlite");
    old_store(&old);

    // The reference: the backfill as one transaction over every record.
    let reference = dir.path().join("reference.sqlite");
    copy_db(&old, &reference);
    let expected = {
        let mut conn = Connection::open(&reference).unwrap();
        configure_writer(&conn).unwrap();
        let tx = conn.transaction().unwrap();
        let linked = duplicates::backfill_in_one_transaction(&tx).unwrap();
        tx.commit().unwrap();
        assert!(linked > 50, "the catalogue has duplicates: {linked}");
        written(&conn)
    };
    assert!(expected.1.len() > 100, "{} links", expected.1.len());

    // Interrupted after every possible number of chunks of 40 records, then finished by the
    // next open (in chunks of another size).
    let mut interrupted = 0;
    for budget in 0.. {
        let path = dir.path().join(format!("chunked-{budget}.sqlite"));
        copy_db(&old, &path);
        let done = {
            let mut conn = Connection::open(&path).unwrap();
            configure_writer(&conn).unwrap();
            backfill::run_chunks(&mut conn, 40, Some(budget)).unwrap()
        };
        let s = Store::open(&path).unwrap();
        assert_eq!(
            written(&s.sqlite_writer()),
            expected,
            "interrupted after {budget} chunks"
        );
        assert_eq!(raw_count(&s, "SELECT COUNT(*) FROM duplicates_backfill"), 0);
        if done {
            break;
        }
        interrupted += 1;
    }
    assert!(
        interrupted > 15,
        "every phase was interrupted: {interrupted}"
    );

    // A store opened again does nothing more.
    let path = dir.path().join("chunked-0.sqlite");
    let before = written(&Store::open(&path).unwrap().sqlite_writer());
    assert_eq!(before, expected);
}

/// `snodo migrate`: everything a SQLite store holds arrives on PostgreSQL — gone records, runs,
/// duplicate links, the change log — and the new store carries on where the old one stopped.
#[test]
fn a_sqlite_store_moves_to_postgresql_with_its_history() {
    let Some(admin) = pg_admin_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let old = Store::open(&dir.path().join("snodo.sqlite3")).unwrap();
    old.sync_sources(&[info("naz"), info("reg")]).unwrap();
    harvest(&old, "naz", &[titled("naz", 1)], true, 0);
    harvest(&old, "reg", &[titled("reg", 1)], true, 1);
    let mut many = recs("naz", 2..(crate::transfer::CHUNK + 10));
    many.push(titled("naz", 1));
    harvest(&old, "naz", &many, true, 2);
    // One record gone, one run left running.
    let mut fewer = many.clone();
    fewer.remove(0);
    harvest(&old, "naz", &fewer, true, 3);
    old.start_run("reg", t(4)).unwrap();
    assert_eq!(same_as(&old, "naz:process:1"), ["reg:process:1"]);
    let before = old.summary().unwrap();
    assert!(before.records > before.live_records && before.links == 2 && before.runs == 5);

    let new = pg_store(&admin, &[]);
    let mut seen = Vec::new();
    let copied = old
        .copy_to(&new, &mut |table, n| seen.push((table.to_owned(), n)))
        .unwrap();
    assert_eq!(copied, before);
    assert_eq!(new.summary().unwrap(), before);
    assert!(
        seen.contains(&("records".into(), before.records)),
        "{seen:?}"
    );
    // The same answers from both stores.
    assert_eq!(
        new.changes_since(0, 100_000).unwrap(),
        old.changes_since(0, 100_000).unwrap()
    );
    assert_eq!(
        new.record("naz:process:2").unwrap(),
        old.record("naz:process:2").unwrap()
    );
    assert_eq!(new.sources().unwrap(), old.sources().unwrap());
    assert_eq!(
        new.runs("naz", 10, 0).unwrap(),
        old.runs("naz", 10, 0).unwrap()
    );
    assert_eq!(live_ids(&new), live_ids(&old));
    // Seqs and run ids continue after the copied ones; the dead run is closed as usual.
    assert_eq!(new.abandon_unfinished_runs(t(5)).unwrap(), 1);
    let next_run = new.start_run("reg", t(6)).unwrap();
    assert!(next_run.0 > 5, "{next_run:?}");
    new.apply_harvest(
        next_run,
        &HarvestBatch::new("reg", &[rec("reg", 9, "Nuovo")], false, None, t(6)),
    )
    .unwrap();
    assert_eq!(new.max_seq().unwrap(), before.max_seq + 1);

    // Copying again into a store that holds data is refused, and changes nothing.
    let err = old.copy_to(&new, &mut |_, _| {}).unwrap_err().to_string();
    assert!(err.contains("new, empty database"), "{err}");
    assert_eq!(old.summary().unwrap(), before);
}

/// PostgreSQL restarted (or a proxy dropped idle sessions): the next write and the next read
/// work on fresh sessions instead of failing once per stale one.
#[test]
fn sessions_the_server_dropped_are_replaced_without_an_error() {
    let Some(admin) = pg_admin_url() else {
        return;
    };
    let s = pg_store(&admin, &["a"]);
    harvest(&s, "a", &recs("a", 0..3), false, 0);
    assert_eq!(s.sources().unwrap()[0].records, 3);
    // Every session of the store's database — the writer's and the readers' — ended by the
    // server, from a session of another database.
    let db: String = s.raw_text("SELECT current_database()");
    let mut other = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    let ended = other
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&db],
        )
        .unwrap();
    assert!(ended >= 2, "{ended} sessions ended");
    assert_eq!(s.sources().unwrap()[0].records, 3, "a read after the drop");
    harvest(&s, "a", &recs("a", 3..5), false, 1);
    assert_eq!(s.max_seq().unwrap(), 5, "a write after the drop");
}

#[test]
fn settling_leaves_no_write_ahead_log_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snodo.sqlite3");
    let wal = dir.path().join("snodo.sqlite3-wal");
    let s = Store::open(&path).unwrap();
    s.sync_sources(&[info("a")]).unwrap();
    harvest(&s, "a", &recs("a", 0..200), true, 0);
    let before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(before > 0, "the harvest went through the WAL");
    s.settle().unwrap();
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(
        raw_count(&s, "SELECT count(*) FROM records WHERE gone_at IS NULL"),
        200
    );
    // In memory there is no log to truncate.
    mem(&["a"]).settle().unwrap();
}
