//! A small run of the whole harness: 2,000 records, 20 queries, Snodo and SQLite FTS5 (and
//! PostgreSQL when `SNODO_BENCH_PG` holds a connection string). No timing assertions: this
//! checks that the corpus is deterministic and that every engine loads and answers.

use snodo_bench::engines::{self, Engine};
use snodo_bench::{corpus, queries, run};

const N: u64 = 2_000;
const SEED: u64 = 7;

#[test]
fn corpus_is_deterministic_and_realistic() {
    assert_eq!(corpus::record(SEED, 123), corpus::record(SEED, 123));
    assert_ne!(corpus::record(SEED, 123), corpus::record(SEED, 124));
    let (ok, all) = corpus::resolved_comuni();
    assert!(
        ok * 10 >= all * 9,
        "only {ok} of {all} comuni resolved to ISTAT codes"
    );
    let records: Vec<_> = corpus::records(SEED, N).collect();
    for r in &records {
        r.validate().unwrap();
    }
    let regions: std::collections::BTreeSet<_> = records
        .iter()
        .filter_map(|r| r.territory.region.clone())
        .collect();
    assert_eq!(regions.len(), 20, "{regions:?}");
    let today = corpus::today();
    let open = records
        .iter()
        .filter(|r| {
            snodo_model::Status::from_dates(r.start_date, r.end_date, today)
                == snodo_model::Status::Open
        })
        .count();
    assert!(open > 0 && open < records.len() / 2, "{open} open");
    let english = records
        .iter()
        .filter(|r| r.title.get("en").is_some())
        .count();
    assert!(english > 0 && english < records.len() / 2);
    let qs = queries::build(SEED, N, usize::MAX);
    assert!(qs.len() >= 200, "{} queries", qs.len());
}

#[test]
fn every_engine_loads_and_answers_the_same_queries() {
    let dir = tempfile::tempdir().unwrap();
    let qs = queries::build(SEED, N, 20);
    assert_eq!(qs.len(), 20);

    let (mut snodo, build) = engines::load_snodo(&dir.path().join("snodo"), SEED, N).unwrap();
    assert!(build.index_bytes > 0);
    let report = run(&mut snodo, &qs, 1, N, build, None).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.quality_total > 0);
    assert!(
        report.empty < qs.len() / 2,
        "{} queries matched nothing",
        report.empty
    );

    let (mut fts, build) = engines::load_fts5(&dir.path().join("fts5.sqlite3"), SEED, N).unwrap();
    let fts_report = run(&mut fts, &qs, 1, N, build, None).unwrap();
    assert!(fts_report.errors.is_empty(), "{:?}", fts_report.errors);

    // The same plain word matches a comparable number of records in both engines.
    let q = qs.iter().find(|q| q.class == queries::Class::Word).unwrap();
    let a = snodo.search(q).unwrap();
    let b = fts.search(q).unwrap();
    assert!(a.total > 0 && b.total > 0, "{} / {}", a.total, b.total);

    let mut reports = vec![report, fts_report];
    if let Ok(url) = std::env::var("SNODO_BENCH_PG") {
        let (mut pg, build) = engines::load_postgres(&url, SEED, N).unwrap();
        let r = run(&mut pg, &qs, 1, N, build, None).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        reports.push(r);
    }
    let md = snodo_bench::markdown(&reports);
    assert!(md.contains("sqlite-fts5"));
}
