//! The user's search text through the index's query parsing and search (`Index::search`), with
//! filters, order and page derived from the first bytes: the answer is results or a user error
//! (`IndexError::Query`, a 400), never another error or a panic; a snippet is escaped text whose
//! only markup is `<mark>`/`</mark>`; a page never exceeds its limit nor the total.
#![no_main]

use std::sync::LazyLock;

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use snodo_index::{
    Index, IndexChange, IndexError, Scope, SearchRequest, Sort, MAX_LIMIT, MAX_OFFSET,
};
use snodo_model::{Kind, LocalizedText, Record, RecordId, Status};

fn record(kind: Kind, id: &str, title: &str, desc: &str, start: &str, end: &str) -> Record {
    let mut r = Record::new(
        RecordId::new("fuzz", kind, id),
        format!("https://fuzz.example.it/{id}"),
        "it",
        LocalizedText::single("it", title),
    );
    r.description.insert_plain("it", desc);
    r.description
        .insert_plain("en", "Participatory budget of the city & <its> districts");
    r.start_date = start.parse().ok();
    r.end_date = end.parse().ok();
    r.territory.region = Some("08".into());
    r
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let records = [
        record(
            Kind::Process,
            "1",
            "Bilancio partecipativo 2024",
            "Proposte dei cittadini per i quartieri: <b>voto</b> online",
            "2024-01-01",
            "2024-12-31",
        ),
        record(
            Kind::Consultation,
            "2",
            "Piano urbano della mobilità sostenibile",
            "Consultazione pubblica sul PUMS, \"zone 30\" e piste ciclabili",
            "2026-03-01",
            "2026-09-30",
        ),
        record(
            Kind::Assembly,
            "3",
            "Assemblea cittadina sul clima",
            "Cittadini estratti a sorte discutono di energia e clima",
            "2027-01-01",
            "",
        ),
        record(
            Kind::Meeting,
            "4",
            "Incontro pubblico: scuole e verde",
            "Città, università e l'ambiente; AND OR NOT title:x",
            "2025-05-05",
            "2025-05-05",
        ),
    ];
    let index = Index::open_in_ram().expect("an in-RAM index opens");
    let changes: Vec<IndexChange> = records
        .into_iter()
        .map(|r| IndexChange::Upsert(Box::new(r)))
        .collect();
    index.apply(&changes, 4).expect("the seed records index");
    index
});

fn check_snippet(s: &str) {
    let rest = s.replace("<mark>", "").replace("</mark>", "");
    assert!(
        !rest.contains('<') && !rest.contains('>'),
        "markup in a snippet: {s:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let (head, text) = data.split_at(data.len().min(4));
    let at = |i: usize| head.get(i).copied().unwrap_or(0);
    let req = SearchRequest {
        q: Some(String::from_utf8_lossy(text).into_owned()),
        kind: match at(0) % 10 {
            k @ 0..=7 => Some(Kind::ALL[k as usize]),
            _ => None,
        },
        status: match at(1) % 4 {
            s @ 0..=2 => Some(Status::ALL[s as usize]),
            _ => None,
        },
        region: (at(1) & 0x10 != 0).then(|| "08".to_owned()),
        source: (at(1) & 0x20 != 0).then(|| "fuzz".to_owned()),
        sort: [Sort::Relevance, Sort::Newest, Sort::Closing][(at(2) % 3) as usize],
        limit: (at(3) as usize) % (MAX_LIMIT + 1),
        offset: if at(2) & 0x80 != 0 {
            MAX_OFFSET
        } else {
            (at(2) as usize >> 3) % 5
        },
        lang: match at(3) >> 6 {
            0 => None,
            1 => Some("it".into()),
            2 => Some("en".into()),
            _ => Some("de".into()),
        },
        // Near me: a place at each level, both scopes, a method, a topic and a period.
        place: match at(0) >> 5 {
            1 => snodo_model::territory::resolve_place("037006").ok(),
            2 => snodo_model::territory::resolve_place("BO").ok(),
            3 => snodo_model::territory::resolve_place("08").ok(),
            4 => snodo_model::territory::resolve_place("IT").ok(),
            _ => None,
        },
        scope: if at(0) & 0x10 != 0 {
            Scope::All
        } else {
            Scope::Local
        },
        method: (at(2) & 0x40 != 0).then(|| "proposals".to_owned()),
        topic: (at(2) & 0x20 != 0).then(|| "GOVE".to_owned()),
        period: (at(3) & 0x20 != 0).then(|| {
            let d = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
            (d, d + chrono::Days::new(u64::from(at(3) & 0x1f) * 30))
        }),
        place_facets: at(2) & 0x10 != 0,
    };
    let today = NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();
    match INDEX.search(&req, today) {
        Ok(res) => {
            assert!(res.items.len() <= req.limit);
            assert!(res.items.len() as u64 <= res.total);
            for hit in &res.items {
                if let Some(s) = &hit.snippet {
                    check_snippet(s);
                }
            }
        }
        Err(IndexError::Query { message }) => assert!(!message.is_empty()),
        Err(other) => panic!("not a user error: {other}"),
    }
});
