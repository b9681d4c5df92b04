//! Rough timings of the index on synthetic Italian records.
//!
//! `cargo run --release -p snodo-index --example bench -- [RECORDS]` (default 20 000). Builds an
//! on-disk index in a temporary directory with `rebuild`, applies a batch of upserts, and times
//! a few typical searches.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use snodo_index::{Index, IndexChange, SearchRequest, Sort};
use snodo_model::{Kind, LocalizedText, Record, RecordId, Status};

const WORDS: &[&str] = &[
    "bilancio",
    "partecipativo",
    "scuole",
    "quartiere",
    "verde",
    "pubblico",
    "mobilità",
    "sostenibile",
    "città",
    "cittadini",
    "proposte",
    "assemblea",
    "consultazione",
    "regolamento",
    "ambiente",
    "piano",
    "urbanistico",
    "giovani",
    "cultura",
    "sport",
    "trasporti",
    "biblioteca",
    "piazza",
    "energia",
    "rifiuti",
    "acqua",
    "salute",
    "lavoro",
    "turismo",
    "sicurezza",
];

/// A small deterministic generator, so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }

    fn words(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| WORDS[self.next() % WORDS.len()])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn record(i: usize, rng: &mut Lcg) -> Record {
    let kinds = [Kind::Process, Kind::Assembly, Kind::Consultation];
    let mut r = Record::new(
        RecordId::new(format!("src-{}", i % 12), kinds[i % 3], i.to_string()),
        format!("https://example.it/{i}"),
        "it",
        LocalizedText::single("it", &rng.words(5)),
    );
    r.summary.insert_plain("it", &rng.words(25));
    r.description.insert_plain("it", &rng.words(250));
    // A quarter national, a quarter regional, half in a comune (with its province and region).
    let comuni = snodo_model::territory::comuni();
    match i % 4 {
        0 => r.territory.national = true,
        1 => r.territory.region = Some(format!("{:02}", 1 + i % 20)),
        _ => {
            r.territory = snodo_model::territory::from_code(comuni[(i * 7) % comuni.len()].code)
                .unwrap_or_default()
        }
    }
    r.methods = [
        ["proposals", "meetings"],
        ["budgets", "surveys"],
        ["debates", "meetings"],
    ][i % 3]
        .map(str::to_owned)
        .to_vec();
    r.themes = vec![snodo_model::topics::THEMES[i % 13].code.to_owned()];
    let base = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    r.start_date = Some(base + chrono::Days::new((rng.next() % 900) as u64));
    if i % 5 != 0 {
        r.end_date = r
            .start_date
            .map(|s| s + chrono::Days::new((rng.next() % 200) as u64));
    }
    r
}

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) -> T {
    let mut out = f();
    let started = Instant::now();
    for _ in 0..runs {
        out = f();
    }
    let per = started.elapsed() / runs.max(1);
    println!("{label:<48} {:>9.2} ms", per.as_secs_f64() * 1000.0);
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Lcg(42);
    let records: Vec<Record> = (0..n).map(|i| record(i, &mut rng)).collect();
    let dir = tempfile::tempdir()?;
    let index = Index::open(dir.path())?;

    let started = Instant::now();
    let docs = index.rebuild(&mut records.clone().into_iter(), n as u64)?;
    let took = started.elapsed();
    println!(
        "rebuild: {docs} docs in {:.2} s ({:.0} docs/s)",
        took.as_secs_f64(),
        docs as f64 / took.as_secs_f64().max(1e-9)
    );

    let batch: Vec<IndexChange> = records
        .iter()
        .take(1000)
        .cloned()
        .map(|r| IndexChange::Upsert(Box::new(r)))
        .collect();
    let started = Instant::now();
    index.apply(&batch, n as u64 + 1)?;
    println!(
        "apply: 1000 upserts + commit + reload in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );

    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default();
    let req = |q: Option<&str>| SearchRequest {
        q: q.map(str::to_owned),
        limit: 20,
        ..Default::default()
    };
    let runs = 20;
    let mut slowest = Duration::ZERO;
    for (label, r) in [
        ("match all, relevance", req(None)),
        ("one word", req(Some("bilancio "))),
        ("two words", req(Some("bilancio scuole "))),
        ("phrase", req(Some("\"bilancio partecipativo\""))),
        ("typing: `bilancio parte`", req(Some("bilancio parte"))),
        ("typing: `bi`", req(Some("bi"))),
        (
            "word + status open + sort closing",
            SearchRequest {
                status: Some(Status::Open),
                sort: Sort::Closing,
                ..req(Some("verde "))
            },
        ),
        (
            "region + kind filter, newest",
            SearchRequest {
                region: Some("06".into()),
                kind: Some(Kind::Assembly),
                sort: Sort::Newest,
                ..req(None)
            },
        ),
        (
            "word + comune (local, counts above)",
            SearchRequest {
                place: snodo_model::territory::resolve_place("Bologna").ok(),
                ..req(Some("verde "))
            },
        ),
        (
            "word + province, scope all",
            SearchRequest {
                place: snodo_model::territory::resolve_place("BO").ok(),
                scope: snodo_index::Scope::All,
                ..req(Some("verde "))
            },
        ),
        (
            "region (counts national above)",
            SearchRequest {
                place: snodo_model::territory::resolve_place("08").ok(),
                ..req(None)
            },
        ),
        (
            "word + topic + method + open on a day",
            SearchRequest {
                topic: Some("ENVI".into()),
                method: Some("budgets".into()),
                period: NaiveDate::from_ymd_opt(2025, 3, 1).map(|d| (d, d)),
                ..req(Some("acqua "))
            },
        ),
    ] {
        let started = Instant::now();
        let res = time(label, runs, || index.search(&r, today))?;
        slowest = slowest.max(started.elapsed() / (runs + 1));
        println!("    total {} items {}", res.total, res.items.len());
    }
    println!("slowest search: {:.2} ms", slowest.as_secs_f64() * 1000.0);
    Ok(())
}
