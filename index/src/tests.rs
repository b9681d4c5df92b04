//! Behaviour tests of the public API, on RAM and on-disk indexes.

use chrono::{NaiveDate, TimeZone, Utc};
use snodo_model::{Kind, LocalizedText, Record, RecordId, Status};

use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const TODAY: &str = "2026-05-10";

fn today() -> NaiveDate {
    d(TODAY)
}

/// A record on source `src` with an Italian title.
fn rec(src: &str, kind: Kind, id: &str, title_it: &str) -> Record {
    Record::new(
        RecordId::new(src, kind, id),
        format!("https://{src}.example.it/{id}"),
        "it",
        LocalizedText::single("it", title_it),
    )
}

fn with_desc(mut r: Record, locale: &str, text: &str) -> Record {
    r.description.insert_plain(locale, text);
    r
}

fn upserts(records: &[Record]) -> Vec<IndexChange> {
    records
        .iter()
        .cloned()
        .map(|r| IndexChange::Upsert(Box::new(r)))
        .collect()
}

/// Deterministic pseudo-random numbers below `n` (a linear congruential generator), for
/// fixtures that must not change between runs.
fn numbers(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    }
}

fn index_with(records: &[Record]) -> Index {
    let idx = Index::open_in_ram().unwrap();
    idx.apply(&upserts(records), records.len() as u64).unwrap();
    idx
}

fn req(q: &str) -> SearchRequest {
    SearchRequest {
        q: Some(q.to_owned()),
        limit: 100,
        ..Default::default()
    }
}

fn ids(idx: &Index, r: &SearchRequest) -> Vec<String> {
    idx.search(r, today())
        .unwrap()
        .items
        .into_iter()
        .map(|h| h.id)
        .collect()
}

fn sorted_ids(idx: &Index, r: &SearchRequest) -> Vec<String> {
    let mut v = ids(idx, r);
    v.sort();
    v
}

fn query_error(idx: &Index, q: &str) -> String {
    match idx.search(&req(q), today()) {
        Err(IndexError::Query { message }) => message,
        other => panic!("expected a query error for {q:?}, got {other:?}"),
    }
}

#[test]
fn index_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Index>();
}

// ---------------------------------------------------------------- analysis

#[test]
fn folding_finds_accented_and_unaccented_forms_both_ways() {
    let idx = index_with(&[
        rec("a", Kind::Process, "1", "La Città che partecipa"),
        rec("a", Kind::Process, "2", "Perche la citta e di tutti"),
    ]);
    // Trailing spaces: whole words only, no completion of the last word.
    assert_eq!(
        sorted_ids(&idx, &req("citta ")),
        ["a:process:1", "a:process:2"]
    );
    assert_eq!(
        sorted_ids(&idx, &req("Città ")),
        ["a:process:1", "a:process:2"]
    );
    assert_eq!(
        sorted_ids(&idx, &req("CITTÀ ")),
        ["a:process:1", "a:process:2"]
    );
    // Stop words in either form are ignored rather than required.
    assert_eq!(sorted_ids(&idx, &req("perché città ")).len(), 2);
    assert_eq!(sorted_ids(&idx, &req("piu citta ")).len(), 2);
}

#[test]
fn italian_stemming_matches_inflections() {
    let idx = index_with(&[
        rec("a", Kind::Process, "1", "Regolamento sulla partecipazione"),
        rec("a", Kind::Process, "2", "Bilancio partecipativo"),
        rec("a", Kind::Process, "3", "Piano urbanistico"),
    ]);
    // All three forms share the stem `partecip`.
    assert_eq!(
        sorted_ids(&idx, &req("partecipazioni ")),
        ["a:process:1", "a:process:2"]
    );
    assert_eq!(
        sorted_ids(&idx, &req("partecipativa ")),
        ["a:process:1", "a:process:2"]
    );
    assert!(ids(&idx, &req("urbanistica ")).contains(&"a:process:3".to_owned()));
}

#[test]
fn english_text_is_stemmed_in_english_and_found_by_english_queries() {
    let mut en_only = Record::new(
        RecordId::new("b", Kind::Consultation, "9"),
        "https://b.example.org/9",
        "en",
        LocalizedText::single("en", "Participatory budgeting in schools"),
    );
    en_only
        .summary
        .insert_plain("en", "Citizens decide the budget of their neighbourhood");
    let idx = index_with(&[
        en_only,
        rec("a", Kind::Process, "1", "Bilancio delle scuole"),
    ]);
    assert_eq!(ids(&idx, &req("budgets ")), ["b:consultation:9"]);
    assert_eq!(ids(&idx, &req("neighbourhoods ")), ["b:consultation:9"]);
    assert_eq!(
        ids(&idx, &req("the budgets of schools ")),
        ["b:consultation:9"]
    );
}

#[test]
fn other_locales_are_folded_but_not_stemmed() {
    let mut r = rec("c", Kind::Process, "1", "Processo");
    r.title.insert_plain("de", "Bürgerhaushalt");
    r.title.insert_plain("ca", "Pressupostos participatius");
    let idx = index_with(&[r]);
    assert_eq!(ids(&idx, &req("burgerhaushalt ")).len(), 1);
    assert_eq!(ids(&idx, &req("pressupostos ")).len(), 1);
    assert!(ids(&idx, &req("pressupost ")).is_empty());
}

// ---------------------------------------------------------------- query language

fn query_fixture() -> Index {
    index_with(&[
        with_desc(
            rec("a", Kind::Process, "1", "Bilancio partecipativo 2026"),
            "it",
            "Proposte per le scuole del quartiere.",
        ),
        with_desc(
            rec("a", Kind::Process, "2", "Scuole aperte"),
            "it",
            "Un bilancio delle attività estive.",
        ),
        with_desc(
            rec("a", Kind::Assembly, "3", "Assemblea cittadina"),
            "it",
            "Il partecipativo bilancio non è questo.",
        ),
    ])
}

#[test]
fn all_words_must_match_each_in_any_field() {
    let idx = query_fixture();
    // "bilancio" in the title, "scuole" in the description.
    assert_eq!(
        sorted_ids(&idx, &req("bilancio scuole ")),
        ["a:process:1", "a:process:2"]
    );
    assert!(ids(&idx, &req("bilancio assemblea ")).contains(&"a:assembly:3".to_owned()));
    assert!(ids(&idx, &req("bilancio inesistente ")).is_empty());
    // OR and NOT work.
    assert_eq!(ids(&idx, &req("assemblea OR aperte ")).len(), 2);
    assert_eq!(
        sorted_ids(&idx, &req("bilancio -scuole ")),
        ["a:assembly:3"]
    );
}

#[test]
fn a_query_of_only_exclusions_matches_everything_else() {
    let idx = query_fixture();
    assert_eq!(sorted_ids(&idx, &req("-scuole ")), ["a:assembly:3"]);
    assert_eq!(sorted_ids(&idx, &req("NOT scuole ")), ["a:assembly:3"]);
    // A phrase that analyses to nothing next to an exclusion is not an error either.
    assert_eq!(sorted_ids(&idx, &req("\"!?\" -scuole ")), ["a:assembly:3"]);
    for glued in ["\",Ç\"Ĺ", "-x", "»„\u{b}÷"] {
        assert!(idx.search(&req(glued), today()).is_ok(), "{glued:?}");
    }
}

#[test]
fn quoted_phrases_require_adjacent_words() {
    let idx = query_fixture();
    assert_eq!(
        ids(&idx, &req("\"bilancio partecipativo\"")),
        ["a:process:1"]
    );
    assert_eq!(
        ids(&idx, &req("«partecipativo bilancio»")),
        ["a:assembly:3"]
    );
}

#[test]
fn title_matches_rank_above_description_matches() {
    let idx = query_fixture();
    let hits = ids(&idx, &req("scuole "));
    assert_eq!(hits, ["a:process:2", "a:process:1"]);
}

#[test]
fn malformed_queries_are_query_errors_naming_the_problem() {
    let idx = query_fixture();
    assert!(query_error(&idx, "\"bilancio partecipativo").contains("quotes"));
    assert!(query_error(&idx, "(bilancio OR scuole").contains("parentheses"));
    assert!(query_error(&idx, "bilancio) scuole").contains("parentheses"));
    assert!(query_error(&idx, &"parola ".repeat(80)).contains("512"));
}

#[test]
fn ordinary_text_never_is_a_syntax_error() {
    let idx = query_fixture();
    for q in [
        "l'acqua dell'ambiente",
        "ore 10:30",
        "C++",
        "e-mail",
        "bilancio*",
        "a - b",
        "50%",
        "prezzo: 10€",
        "[bozza]",
        "{x}",
        "costo^2",
        "!!!",
        "???",
        "a/b",
        "a IN b",
        "scuole 2026/2027",
        "“bilancio”",
        "#partecipa @comune",
        "x~2",
        "-",
        "+",
        "()",
    ] {
        if let Err(e) = idx.search(&req(q), today()) {
            panic!("{q:?} gave an error: {e}");
        }
    }
}

#[test]
fn empty_or_stop_word_queries_match_everything() {
    let idx = query_fixture();
    for q in [None, Some(""), Some("   "), Some("il "), Some("!!! ")] {
        let r = SearchRequest {
            q: q.map(str::to_owned),
            limit: 10,
            ..Default::default()
        };
        let res = idx.search(&r, today()).unwrap();
        assert_eq!(res.total, 3, "{q:?}");
        assert!(res
            .items
            .iter()
            .all(|h| h.score.is_none() && h.snippet.is_none()));
    }
}

#[test]
fn the_word_being_typed_is_completed_as_a_prefix() {
    let idx = query_fixture();
    assert_eq!(ids(&idx, &req("bilan")).len(), 3);
    assert!(
        ids(&idx, &req("bilan ")).is_empty(),
        "a finished word is not a prefix"
    );
    assert_eq!(
        ids(&idx, &req("bilancio parte")),
        ["a:process:1", "a:assembly:3"]
    );
    assert!(ids(&idx, &req("bilancio parte ")).is_empty());
    assert_eq!(ids(&idx, &req("assemblea citta")), ["a:assembly:3"]);
    // Accents fold in the prefix too; one letter is not completed.
    assert_eq!(ids(&idx, &req("Cittad")), ["a:assembly:3"]);
    assert!(ids(&idx, &req("s")).is_empty());
    // Inside parentheses, and never for an excluded word.
    assert_eq!(ids(&idx, &req("(aperte OR assem)")).len(), 2);
    // `-assem` stays a whole word (no completion), which no record has: nothing is excluded.
    assert_eq!(ids(&idx, &req("bilancio -assem")).len(), 3);
}

#[test]
fn completion_is_highlighted_in_snippets() {
    let idx = query_fixture();
    let res = idx.search(&req("bilancio scuol"), today()).unwrap();
    let hit = res.items.iter().find(|h| h.id == "a:process:1").unwrap();
    let snippet = hit.snippet.clone().unwrap();
    assert!(snippet.contains("<mark>scuole</mark>"), "{snippet}");
}

// ---------------------------------------------------------------- filters, status, facets

fn dated(id: &str, start: Option<&str>, end: Option<&str>) -> Record {
    let mut r = rec("s", Kind::Process, id, &format!("Processo {id}"));
    r.start_date = start.map(d);
    r.end_date = end.map(d);
    r
}

#[test]
fn without_words_what_one_can_take_part_in_comes_first() {
    let idx = index_with(&[
        dated("closed-old", Some("2020-01-01"), Some("2020-02-01")),
        dated("upcoming-late", Some("2030-01-01"), Some("2030-02-01")),
        dated("open-no-end", Some("2026-01-01"), None),
        dated("closed-recent", Some("2026-01-01"), Some("2026-05-01")),
        dated("open-later", Some("2026-04-01"), Some("2026-09-30")),
        dated("upcoming-soon", Some("2026-05-20"), Some("2026-06-20")),
        dated("open-soon", Some("2025-01-01"), Some("2026-05-12")),
    ]);
    let all = SearchRequest {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        ids(&idx, &all),
        [
            "s:process:open-soon",
            "s:process:open-later",
            "s:process:open-no-end",
            "s:process:upcoming-soon",
            "s:process:upcoming-late",
            "s:process:closed-recent",
            "s:process:closed-old"
        ]
    );
    // paging keeps the order
    let second = SearchRequest {
        limit: 2,
        offset: 2,
        ..Default::default()
    };
    assert_eq!(
        ids(&idx, &second),
        ["s:process:open-no-end", "s:process:upcoming-soon"]
    );
}

#[test]
fn status_filter_and_facet_equal_the_model_for_every_date_combination() {
    let days = [
        None,
        Some("2026-05-08"),
        Some("2026-05-09"),
        Some("2026-05-10"),
        Some("2026-05-11"),
        Some("2026-05-12"),
    ];
    let mut records = Vec::new();
    for (i, s) in days.iter().enumerate() {
        for (j, e) in days.iter().enumerate() {
            records.push(dated(&format!("{i}-{j}"), *s, *e));
        }
    }
    let idx = index_with(&records);
    for today in ["2026-05-09", "2026-05-10", "2026-05-11"].map(d) {
        let all = idx
            .search(
                &SearchRequest {
                    limit: 1000,
                    ..Default::default()
                },
                today,
            )
            .unwrap();
        for st in Status::ALL {
            let mut expected: Vec<String> = records
                .iter()
                .filter(|r| Status::from_dates(r.start_date, r.end_date, today) == st)
                .map(|r| r.id.to_string())
                .collect();
            expected.sort();
            let r = SearchRequest {
                status: Some(st),
                limit: 1000,
                ..Default::default()
            };
            let res = idx.search(&r, today).unwrap();
            let mut got: Vec<String> = res.items.iter().map(|h| h.id.clone()).collect();
            got.sort();
            assert_eq!(got, expected, "status {st} on {today}");
            assert!(res.items.iter().all(|h| h.status == st));
            assert_eq!(
                all.facets.status.get(st.as_str()).copied().unwrap_or(0),
                expected.len() as u64,
                "facet {st} on {today}"
            );
        }
    }
}

fn facet_fixture() -> Index {
    let mut a = rec("alpha", Kind::Process, "1", "Bilancio uno");
    a.territory.region = Some("16".into());
    a.end_date = Some(d("2026-01-01"));
    let mut b = rec("alpha", Kind::Assembly, "2", "Bilancio due");
    b.territory.region = Some("08".into());
    let mut c = rec("beta", Kind::Process, "3", "Bilancio tre");
    c.territory.region = Some("16".into());
    c.start_date = Some(d("2027-01-01"));
    let e = rec(
        "beta",
        Kind::Consultation,
        "4",
        "Bilancio quattro (nazionale)",
    );
    let f = rec("beta", Kind::Process, "5", "Urbanistica");
    index_with(&[a, b, c, e, f])
}

#[test]
fn exact_filters_on_kind_source_and_region() {
    let idx = facet_fixture();
    let mut r = req("bilancio ");
    r.kind = Some(Kind::Process);
    assert_eq!(sorted_ids(&idx, &r), ["alpha:process:1", "beta:process:3"]);
    r.source = Some("beta".into());
    assert_eq!(ids(&idx, &r), ["beta:process:3"]);
    let r = SearchRequest {
        region: Some("16".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(sorted_ids(&idx, &r), ["alpha:process:1", "beta:process:3"]);
    let r = SearchRequest {
        source: Some("alph".into()),
        limit: 10,
        ..Default::default()
    };
    assert!(ids(&idx, &r).is_empty(), "source is an exact match");
}

/// Kinds and ISTAT regions filter a text search from bitmaps each segment keeps; any other
/// region value (an unpadded code, a foreign country) from its terms. Either way, exactly.
#[test]
fn kind_and_region_filters_of_a_text_search_are_exact() {
    let region = |id: &str, kind: Kind, region: &str| {
        let mut r = rec("s", kind, id, "Bilancio partecipativo");
        r.territory.region = Some(region.to_owned());
        r
    };
    let idx = index_with(&[
        region("1", Kind::Process, "07"),
        region("2", Kind::Assembly, "07"),
        region("3", Kind::Process, "7"),
        region("4", Kind::Process, "Estero"),
        region("5", Kind::Process, "08"),
        region("6", Kind::Meeting, "20"),
    ]);
    let found = |kind: Option<Kind>, region: Option<&str>| {
        let mut r = req("bilancio ");
        r.kind = kind;
        r.region = region.map(str::to_owned);
        let res = idx.search(&r, today()).unwrap();
        let mut ids: Vec<String> = res
            .items
            .iter()
            .map(|h| h.id.rsplit(':').next().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        assert_eq!(res.total as usize, ids.len());
        ids
    };
    assert_eq!(found(None, Some("07")), ["1", "2"]);
    assert_eq!(found(None, Some("7")), ["3"]);
    assert_eq!(found(None, Some("Estero")), ["4"]);
    assert_eq!(found(None, Some("20")), ["6"]);
    assert!(found(None, Some("21")).is_empty());
    assert_eq!(found(Some(Kind::Process), Some("07")), ["1"]);
    assert_eq!(found(Some(Kind::Process), None), ["1", "3", "4", "5"]);
    assert_eq!(found(Some(Kind::Meeting), None), ["6"]);
    assert!(found(Some(Kind::Meeting), Some("07")).is_empty());
}

#[test]
fn facets_count_all_matches_not_just_the_page() {
    let idx = facet_fixture();
    let mut r = req("bilancio ");
    r.limit = 1;
    let res = idx.search(&r, today()).unwrap();
    assert_eq!(res.total, 4);
    assert_eq!(res.items.len(), 1);
    let map = |v: &[(&str, u64)]| -> BTreeMap<String, u64> {
        v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    assert_eq!(
        res.facets.kind,
        map(&[("assembly", 1), ("consultation", 1), ("process", 2)])
    );
    assert_eq!(res.facets.source, map(&[("alpha", 2), ("beta", 2)]));
    // The national record has no region and is not counted.
    assert_eq!(res.facets.region, map(&[("08", 1), ("16", 2)]));
    assert_eq!(
        res.facets.status,
        map(&[("closed", 1), ("open", 2), ("upcoming", 1)])
    );
    // Facets follow the filters too.
    r.region = Some("16".into());
    let res = idx.search(&r, today()).unwrap();
    assert_eq!(res.total, 2);
    assert_eq!(res.facets.region, map(&[("16", 2)]));
    // A page of zero items still has the total and facets.
    r.limit = 0;
    let res = idx.search(&r, today()).unwrap();
    assert_eq!((res.total, res.items.len()), (2, 0));
}

use std::collections::BTreeMap;

// ---------------------------------------------------------------- sorting and paging

fn sort_fixture() -> Index {
    let mut a = dated("a", Some("2026-01-01"), Some("2026-06-30"));
    a.title = LocalizedText::single("it", "Bilancio alfa");
    let mut b = dated("b", Some("2026-03-01"), None);
    b.title = LocalizedText::single("it", "Bilancio beta");
    let mut c = dated("c", None, Some("2026-05-20"));
    c.title = LocalizedText::single("it", "Bilancio gamma");
    c.published_at = Some(Utc.with_ymd_and_hms(2026, 4, 1, 10, 0, 0).unwrap());
    let mut e = dated("e", Some("2025-01-01"), Some("2025-12-31"));
    e.title = LocalizedText::single("it", "Bilancio delta");
    index_with(&[a, b, c, e])
}

#[test]
fn newest_sorts_by_the_later_of_start_and_publication() {
    let idx = sort_fixture();
    let r = SearchRequest {
        sort: Sort::Newest,
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        ids(&idx, &r),
        ["s:process:c", "s:process:b", "s:process:a", "s:process:e"]
    );
}

#[test]
fn closing_sorts_by_end_date_with_open_ended_last() {
    let idx = sort_fixture();
    let r = SearchRequest {
        sort: Sort::Closing,
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        ids(&idx, &r),
        ["s:process:e", "s:process:c", "s:process:a", "s:process:b"]
    );
    // Combined with a status filter: what closes soonest among open ones.
    let r = SearchRequest {
        sort: Sort::Closing,
        status: Some(Status::Open),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(ids(&idx, &r), ["s:process:c", "s:process:a", "s:process:b"]);
}

#[test]
fn open_and_upcoming_records_rank_above_equal_matches_that_are_closed() {
    let titled = |id: &str, start: &str, end: &str, title: &str| {
        let mut r = rec("s", Kind::Process, id, title);
        r.start_date = Some(d(start));
        r.end_date = Some(d(end));
        r
    };
    // The closed record is the newest, so without the boost it would come first.
    let idx = index_with(&[
        titled(
            "closed",
            "2026-04-01",
            "2026-04-30",
            "Piano del verde urbano",
        ),
        titled("open", "2026-01-01", "2026-12-31", "Piano del verde urbano"),
        titled("soon", "2026-06-01", "2026-06-30", "Piano del verde urbano"),
    ]);
    assert_eq!(
        ids(&idx, &req("piano verde")),
        ["s:process:open", "s:process:soon", "s:process:closed"]
    );
    // A boost, not a filter: a closed record with the word in its title still beats an open
    // one that mentions it once in a long description.
    let idx = index_with(&[
        titled(
            "closed",
            "2020-01-01",
            "2020-02-01",
            "Bilancio del quartiere",
        ),
        with_desc(
            titled("open", "2026-01-01", "2026-12-31", "Consulta giovani"),
            "it",
            "Si parla anche di bilancio, tra molte altre cose, in una lunga descrizione di un \
             processo che tratta temi diversi e la vita civica dei giovani della città.",
        ),
    ]);
    assert_eq!(
        ids(&idx, &req("bilancio")),
        ["s:process:closed", "s:process:open"]
    );
}

#[test]
fn relevance_ties_are_broken_by_newest() {
    let idx = sort_fixture();
    // Every title matches "bilancio" once with the same length: equal scores.
    assert_eq!(
        ids(&idx, &req("bilancio ")),
        ["s:process:c", "s:process:b", "s:process:a", "s:process:e"]
    );
    let res = idx.search(&req("bilancio "), today()).unwrap();
    assert!(res.items.iter().all(|h| h.score.is_some_and(|s| s > 0.0)));
}

#[test]
fn offset_and_limit_page_through_the_same_order() {
    let idx = sort_fixture();
    let page = |offset, limit| {
        ids(
            &idx,
            &SearchRequest {
                sort: Sort::Newest,
                offset,
                limit,
                ..Default::default()
            },
        )
    };
    assert_eq!(page(0, 2), ["s:process:c", "s:process:b"]);
    assert_eq!(page(2, 2), ["s:process:a", "s:process:e"]);
    assert!(page(4, 2).is_empty());
    let res = idx
        .search(
            &SearchRequest {
                offset: 3,
                limit: 2,
                ..Default::default()
            },
            today(),
        )
        .unwrap();
    assert_eq!((res.total, res.items.len()), (4, 1));
}

// ---------------------------------------------------------------- items and snippets

#[test]
fn items_pick_the_asked_locale_and_fall_back() {
    let mut r = rec("m", Kind::Process, "1", "Bilancio partecipativo");
    r.title.insert_plain("en", "Participatory budget");
    r.summary.insert_plain("it", "Decidi come spendere");
    r.summary.insert_plain("en", "Decide how to spend");
    r.territory.region = Some("12".into());
    r.territory.comune = Some("058091".into());
    r.territory.scope_name.insert_plain("it", "Roma");
    r.methods = vec!["budgets".into(), "proposals".into()];
    r.image_url = Some("https://m.example.it/a.png".into());
    r.start_date = Some(d("2026-01-01"));
    let idx = index_with(&[r]);
    let mut q = req("budget ");
    q.lang = Some("EN".into());
    let hit = &idx.search(&q, today()).unwrap().items[0];
    assert_eq!(
        (hit.title.as_str(), hit.lang.as_str()),
        ("Participatory budget", "en")
    );
    assert_eq!(hit.summary, "Decide how to spend");
    assert_eq!(hit.url, "https://m.example.it/1");
    assert_eq!(hit.source, "m");
    assert_eq!(hit.kind, Kind::Process);
    assert_eq!(hit.status, Status::Open);
    assert_eq!(hit.start_date, Some(d("2026-01-01")));
    assert_eq!(hit.region.as_deref(), Some("12"));
    assert_eq!(hit.comune.as_deref(), Some("058091"));
    assert_eq!(hit.scope_name.as_deref(), Some("Roma"));
    assert_eq!(hit.methods, ["budgets", "proposals"]);
    assert_eq!(hit.image_url.as_deref(), Some("https://m.example.it/a.png"));
    // A locale the record lacks falls back to its default.
    q.lang = Some("fr".into());
    let hit = &idx.search(&q, today()).unwrap().items[0];
    assert_eq!(
        (hit.title.as_str(), hit.lang.as_str()),
        ("Bilancio partecipativo", "it")
    );
    assert_eq!(hit.summary, "Decidi come spendere");
    // The territory's names are searchable.
    assert_eq!(ids(&idx, &req("Lazio ")).len(), 1);
}

#[test]
fn summary_falls_back_to_the_cut_description() {
    let long = "parola ".repeat(100);
    let idx = index_with(&[with_desc(
        rec("m", Kind::Process, "1", "Titolo"),
        "it",
        &long,
    )]);
    let hit = &idx.search(&req("titolo "), today()).unwrap().items[0];
    assert!(hit.summary.ends_with('…'));
    assert!(hit.summary.chars().count() <= SUMMARY_CHARS + 1);
    assert!(hit.summary.starts_with("parola parola"));
}

#[test]
fn snippets_mark_matches_and_escape_everything_else() {
    let mut r = rec("x", Kind::Process, "1", "Bilancio");
    // Bypass the model's tag stripping on purpose: the index must stay safe anyway.
    r.description.0.insert(
        "it".into(),
        format!(
            "{} Il bilancio è <script>alert(1)</script> & <b>pubblico</b>. {}",
            "premessa ".repeat(30),
            "coda ".repeat(30)
        ),
    );
    let idx = index_with(&[r]);
    let hit = &idx
        .search(&req("bilancio pubblico "), today())
        .unwrap()
        .items[0];
    let s = hit.snippet.as_deref().unwrap();
    assert!(s.contains("<mark>bilancio</mark>"), "{s}");
    assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{s}");
    assert!(s.contains("&amp;"), "{s}");
    assert!(
        s.contains("&lt;b&gt;<mark>pubblico</mark>&lt;/b&gt;"),
        "{s}"
    );
    let without_marks = s.replace("<mark>", "").replace("</mark>", "");
    assert!(
        !without_marks.contains('<') && !without_marks.contains('>'),
        "{s}"
    );
    let plain = html_escape::decode_html_entities(&without_marks).into_owned();
    assert!(
        plain.chars().count() <= SNIPPET_CHARS + 2,
        "{}",
        plain.len()
    );
    assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
}

#[test]
fn snippets_of_long_descriptions_find_words_far_in_and_prefer_a_fragment_with_all_of_them() {
    // 6 KB of text: "parco" first appears after several windows; further on, a fragment
    // with both words of the query.
    let mut r = rec("x", Kind::Process, "1", "Titolo");
    r.description.0.insert(
        "it".into(),
        format!(
            "{} Il parco del quartiere. {} Il parco giochi rinnovato per le famiglie. {}",
            "premessa lunga ".repeat(200),
            "intermezzo ".repeat(60),
            "coda ".repeat(100)
        ),
    );
    let idx = index_with(&[r]);
    let one = &idx.search(&req("parco "), today()).unwrap().items[0];
    let s = one.snippet.as_deref().unwrap();
    assert!(s.contains("<mark>parco</mark> del quartiere"), "{s}");
    assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
    let two = &idx.search(&req("parco giochi "), today()).unwrap().items[0];
    let s = two.snippet.as_deref().unwrap();
    assert!(
        s.contains("<mark>parco</mark> <mark>giochi</mark> rinnovato"),
        "{s}"
    );
    // a word in no window: no snippet, however long the text
    let none = &idx.search(&req("titolo "), today()).unwrap().items[0];
    assert_eq!(none.snippet, None);
}

#[test]
fn a_lone_search_splits_its_page_over_threads_and_shows_what_one_thread_would() {
    // Italian and English records, so that each thread marks words in both languages.
    let records: Vec<Record> = (0..30)
        .map(|i| {
            let (locale, text) = if i % 3 == 0 {
                (
                    "en",
                    format!(
                        "{} The library of Bologna opens late. {}",
                        "Foreword ".repeat(i),
                        "end ".repeat(40)
                    ),
                )
            } else {
                (
                    "it",
                    format!(
                        "{} La biblioteca di Bologna apre la sera. {}",
                        "premessa ".repeat(i),
                        "fine ".repeat(40)
                    ),
                )
            };
            let mut r = rec("x", Kind::Process, &i.to_string(), &format!("Progetto {i}"));
            if locale == "en" {
                r.title = LocalizedText::single("en", &format!("Project {i}"));
                r.default_locale = "en".into();
            }
            with_desc(r, locale, &text)
        })
        .collect();
    let idx = index_with(&records);
    let page = |r: &SearchRequest| -> Vec<serde_json::Value> {
        let found = idx.search(r, today()).unwrap();
        assert_eq!(found.total, 30);
        found
            .items
            .iter()
            .map(|h| serde_json::to_value(h).unwrap())
            .collect()
    };
    let r = req("bologna ");
    let split_before = crate::search::SPLIT_PAGES.load(Ordering::Relaxed);
    let alone = page(&r);
    assert!(crate::search::SPLIT_PAGES.load(Ordering::Relaxed) > split_before);
    assert_eq!(alone.len(), 30);
    for h in &alone {
        let snippet = h["snippet"].as_str().unwrap_or_default();
        assert!(snippet.contains("<mark>Bologna</mark>"), "{h}");
        let en = h["lang"] == "en";
        assert_eq!(snippet.contains("library"), en, "{h}");
    }
    // With another search running, the page is made on the calling thread alone: the same
    // hits, in the same order, with the same snippets.
    idx.searching.fetch_add(1, Ordering::SeqCst);
    let busy = page(&r);
    idx.searching.fetch_sub(1, Ordering::SeqCst);
    assert_eq!(alone, busy);
    // The other sorts and a page further on come out the same way too.
    for r in [
        SearchRequest {
            sort: Sort::Newest,
            ..req("bologna ")
        },
        SearchRequest {
            offset: 7,
            limit: 13,
            ..req("bologna ")
        },
    ] {
        let alone = page(&r);
        idx.searching.fetch_add(1, Ordering::SeqCst);
        let busy = page(&r);
        idx.searching.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(alone, busy, "{r:?}");
    }
}

#[test]
fn snippets_survive_stemmers_that_change_a_words_end_and_foldings_that_change_its_length() {
    // English `community` is stemmed to `communiti`; German `Straße` folds to `strasse`.
    let mut en = Record::new(
        RecordId::new("x", Kind::Process, "en"),
        "https://x.example.it/en",
        "en",
        LocalizedText::single("en", "Neighbourhood plan"),
    );
    en.description.insert_plain(
        "en",
        &format!(
            "{} The community decides. {}",
            "intro ".repeat(300),
            "end ".repeat(50)
        ),
    );
    let de = with_desc(
        rec("x", Kind::Process, "de", "Piano"),
        "it",
        &format!(
            "{} Lavori in Hauptstraße a Merano. {}",
            "premessa ".repeat(300),
            "fine ".repeat(50)
        ),
    );
    let idx = index_with(&[en, de]);
    let mut r = req("community ");
    r.lang = Some("en".into());
    let hit = &idx.search(&r, today()).unwrap().items[0];
    let s = hit.snippet.as_deref().unwrap_or_default();
    assert!(s.contains("<mark>community</mark> decides"), "{s}");
    let hit = &idx.search(&req("hauptstraße "), today()).unwrap().items[0];
    let s = hit.snippet.as_deref().unwrap_or_default();
    assert!(s.contains("<mark>Hauptstraße</mark> a Merano"), "{s}");
}

#[test]
fn snippets_come_from_the_summary_when_there_is_no_description_and_only_with_a_query() {
    let mut r = rec("x", Kind::Process, "1", "Titolo");
    r.summary
        .insert_plain("it", "Un riassunto sul verde pubblico");
    let idx = index_with(&[r]);
    let hit = &idx.search(&req("verde "), today()).unwrap().items[0];
    assert_eq!(
        hit.snippet.as_deref(),
        Some("Un riassunto sul <mark>verde</mark> pubblico")
    );
    let hit = &idx.search(&req("titolo "), today()).unwrap().items[0];
    assert_eq!(hit.snippet, None, "no match in the text: no snippet");
}

// ---------------------------------------------------------------- writes, reopen, rebuild

#[test]
fn upsert_replaces_and_remove_removes() {
    let idx = Index::open_in_ram().unwrap();
    let r = rec("u", Kind::Process, "1", "Primo titolo");
    idx.apply(&upserts(std::slice::from_ref(&r)), 1).unwrap();
    idx.apply(&upserts(std::slice::from_ref(&r)), 2).unwrap();
    assert_eq!(idx.num_docs(), 1);
    let mut changed = r.clone();
    changed.title = LocalizedText::single("it", "Secondo titolo");
    idx.apply(&upserts(&[changed]), 3).unwrap();
    assert_eq!(idx.num_docs(), 1);
    assert!(ids(&idx, &req("primo ")).is_empty());
    assert_eq!(ids(&idx, &req("secondo ")), ["u:process:1"]);
    idx.apply(&[IndexChange::Remove("u:process:1".into())], 4)
        .unwrap();
    assert_eq!(idx.num_docs(), 0);
    assert_eq!(idx.last_applied_seq(), 4);
    // An empty batch still records how far the store was read.
    idx.apply(&[], 9).unwrap();
    assert_eq!(idx.last_applied_seq(), 9);
}

#[test]
fn batches_are_applied_in_order_and_committed_with_the_seq_they_reach() {
    // In tests a commit is due every 2 changes.
    let idx = Index::open_in_ram().unwrap();
    let first = rec("u", Kind::Process, "1", "Primo titolo");
    let mut changed = first.clone();
    changed.title = LocalizedText::single("it", "Secondo titolo");
    let mut duplicate = rec("v", Kind::Process, "2", "Secondo titolo");
    duplicate.same_as = vec!["u:process:1".into()];
    let other = rec("w", Kind::Process, "3", "Terzo titolo");
    let batches = vec![
        (upserts(&[first, other.clone()]), 2),
        (upserts(&[changed, duplicate]), 5),
        (vec![IndexChange::Remove(other.id.to_string())], 6),
    ];
    let applied = idx.apply_batches(&mut batches.into_iter()).unwrap();
    assert_eq!(applied, 5);
    // The last batch, too small for a commit of its own, is committed at the end.
    assert_eq!(idx.last_applied_seq(), 6);
    assert!(
        ids(&idx, &req("primo ")).is_empty(),
        "the upsert replaced it"
    );
    assert!(
        ids(&idx, &req("terzo ")).is_empty(),
        "removed by the last batch"
    );
    // The duplicate of a record with a smaller id is not searchable on its own.
    assert_eq!(ids(&idx, &req("secondo ")), ["u:process:1"]);
    assert_eq!(idx.num_docs(), 1);
    // Nothing to apply: nothing changes.
    assert_eq!(idx.apply_batches(&mut std::iter::empty()).unwrap(), 0);
    assert_eq!(idx.last_applied_seq(), 6);
}

#[test]
fn a_failing_source_of_batches_is_an_error_and_keeps_only_what_was_committed() {
    let idx = Index::open_in_ram().unwrap();
    let committed = upserts(&[
        rec("u", Kind::Process, "1", "Primo titolo"),
        rec("u", Kind::Process, "2", "Primo titolo"),
    ]);
    let half = upserts(&[rec("u", Kind::Process, "3", "Secondo titolo")]);
    let mut batches = vec![(committed, 3), (half, 4)]
        .into_iter()
        .chain(std::iter::from_fn(|| panic!("the store went away")));
    let e = idx.apply_batches(&mut batches).unwrap_err();
    assert!(e.to_string().contains("panicked"), "{e}");
    // The first two changes made a commit; the third, written but not committed, was rolled
    // back.
    assert_eq!(idx.last_applied_seq(), 3);
    assert_eq!(ids(&idx, &req("primo ")).len(), 2);
    assert!(ids(&idx, &req("secondo ")).is_empty());
    // The writer is still usable.
    idx.apply(&upserts(&[rec("u", Kind::Process, "4", "Terzo titolo")]), 5)
        .unwrap();
    assert_eq!(idx.num_docs(), 3);
}

#[test]
fn reopening_keeps_documents_and_the_last_seq() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let idx = Index::open(tmp.path()).unwrap();
        assert_eq!((idx.num_docs(), idx.last_applied_seq()), (0, 0));
        assert!(idx.needs_rebuild(), "a new index asks for a rebuild");
        idx.apply(
            &upserts(&[
                rec("r", Kind::Process, "1", "Uno"),
                rec("r", Kind::Process, "2", "Due"),
            ]),
            42,
        )
        .unwrap();
    }
    let idx = Index::open(tmp.path()).unwrap();
    assert_eq!((idx.num_docs(), idx.last_applied_seq()), (2, 42));
    assert!(!idx.needs_rebuild());
    assert_eq!(ids(&idx, &req("due ")), ["r:process:2"]);
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let _first = Index::open(tmp.path()).unwrap();
    match Index::open(tmp.path()) {
        Err(IndexError::Locked { .. }) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[test]
fn another_schema_version_is_detected_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let records = vec![
        rec("v", Kind::Process, "1", "Bilancio"),
        rec("v", Kind::Process, "2", "Scuole"),
    ];
    {
        let idx = Index::open(tmp.path()).unwrap();
        idx.apply(&upserts(&records), 7).unwrap();
    }
    let current = std::fs::read_to_string(tmp.path().join("CURRENT")).unwrap();
    let old_dir = tmp.path().join(current.trim());
    std::fs::write(old_dir.join(VERSION_FILE), "0\n").unwrap();

    let idx = Index::open(tmp.path()).unwrap();
    assert!(idx.needs_rebuild());
    assert_eq!((idx.num_docs(), idx.last_applied_seq()), (0, 0));
    assert!(!old_dir.exists(), "the old generation is removed");
    let n = idx.rebuild(&mut records.clone().into_iter(), 7).unwrap();
    assert_eq!(n, 2);
    assert!(!idx.needs_rebuild());
    assert_eq!(idx.last_applied_seq(), 7);
    drop(idx);

    let idx = Index::open(tmp.path()).unwrap();
    assert!(!idx.needs_rebuild());
    assert_eq!((idx.num_docs(), idx.last_applied_seq()), (2, 7));
    let version = std::fs::read_to_string(
        tmp.path()
            .join(
                std::fs::read_to_string(tmp.path().join("CURRENT"))
                    .unwrap()
                    .trim(),
            )
            .join(VERSION_FILE),
    )
    .unwrap();
    assert_eq!(version.trim(), SCHEMA_VERSION.to_string());
}

/// An older build that meets an index written by a newer one (a rollback, an old tool on the
/// same data directory) leaves it alone and says why, instead of replacing it with an empty one.
#[test]
fn an_index_of_a_newer_schema_version_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let idx = Index::open(tmp.path()).unwrap();
        idx.apply(&upserts(&[rec("v", Kind::Process, "1", "Bilancio")]), 3)
            .unwrap();
    }
    let current = std::fs::read_to_string(tmp.path().join("CURRENT")).unwrap();
    let dir = tmp.path().join(current.trim());
    let newer = SCHEMA_VERSION + 1;
    std::fs::write(dir.join(VERSION_FILE), format!("{newer}\n")).unwrap();

    for opened in [Index::open(tmp.path()), Index::open_read_only(tmp.path())] {
        match opened {
            Err(e @ IndexError::Newer { .. }) => {
                let message = e.to_string();
                assert!(message.contains(&format!("version {newer}")), "{message}");
                assert!(message.contains("newer Snodo"), "{message}");
            }
            other => panic!("expected Newer, got {:?}", other.map(|i| i.num_docs())),
        }
    }
    assert!(dir.join("meta.json").exists(), "the newer index is kept");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("CURRENT")).unwrap(),
        current
    );
}

fn mixed_records() -> Vec<Record> {
    let mut v = Vec::new();
    for i in 0..40 {
        let kind = [Kind::Process, Kind::Assembly, Kind::Consultation][i % 3];
        let mut r = rec(
            ["uno", "due"][i % 2],
            kind,
            &i.to_string(),
            &format!("Bilancio partecipativo numero {i}"),
        );
        if i % 4 == 0 {
            r.territory.region = Some("16".into());
        }
        r.start_date = Some(d("2026-01-01") + chrono::Days::new(i as u64 * 7));
        if i % 5 != 0 {
            r.end_date = Some(d("2026-03-01") + chrono::Days::new(i as u64 * 5));
        }
        r.description
            .insert_plain("it", &format!("Descrizione del processo {i} sulle scuole"));
        v.push(r);
    }
    v
}

#[test]
fn rebuild_gives_the_same_results_as_incremental_application() {
    let records = mixed_records();
    let incremental = Index::open_in_ram().unwrap();
    // Apply in batches, with overwrites and removals along the way.
    for (n, chunk) in records.chunks(7).enumerate() {
        incremental.apply(&upserts(chunk), n as u64 + 1).unwrap();
    }
    incremental.apply(&upserts(&records[..10]), 100).unwrap();
    incremental
        .apply(&[IndexChange::Remove(records[3].id.to_string())], 101)
        .unwrap();
    let expected: Vec<Record> = records
        .iter()
        .filter(|r| r.id != records[3].id)
        .cloned()
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let rebuilt = Index::open(tmp.path()).unwrap();
    rebuilt
        .apply(&upserts(&[rec("z", Kind::Process, "old", "Vecchio")]), 5)
        .unwrap();
    let n = rebuilt
        .rebuild(&mut expected.clone().into_iter(), 101)
        .unwrap();
    assert_eq!(n, 39);
    assert_eq!(incremental.num_docs(), rebuilt.num_docs());
    assert_eq!(rebuilt.last_applied_seq(), 101);

    for mut r in [
        SearchRequest::default(),
        req("bilancio "),
        req("scuole partecip"),
        SearchRequest {
            kind: Some(Kind::Assembly),
            ..Default::default()
        },
        SearchRequest {
            status: Some(Status::Open),
            sort: Sort::Closing,
            ..Default::default()
        },
        SearchRequest {
            region: Some("16".into()),
            sort: Sort::Newest,
            ..Default::default()
        },
    ] {
        r.limit = 100;
        let a = incremental.search(&r, today()).unwrap();
        let b = rebuilt.search(&r, today()).unwrap();
        assert_eq!(a.total, b.total, "{r:?}");
        assert_eq!(a.facets, b.facets, "{r:?}");
        let key = |h: &SearchHit| (h.id.clone(), h.title.clone(), h.snippet.clone());
        if r.sort == Sort::Relevance && r.q.is_some() {
            // BM25 statistics include deleted documents until merged: compare as sets.
            let mut x: Vec<_> = a.items.iter().map(key).collect();
            let mut y: Vec<_> = b.items.iter().map(key).collect();
            x.sort();
            y.sort();
            assert_eq!(x, y, "{r:?}");
        } else {
            let x: Vec<_> = a.items.iter().map(key).collect();
            let y: Vec<_> = b.items.iter().map(key).collect();
            assert_eq!(x, y, "{r:?}");
        }
    }
    // The old generation's documents are gone after the rebuild.
    assert!(ids(&rebuilt, &req("vecchio ")).is_empty());
    // And the rebuilt on-disk index reopens as it was.
    drop(rebuilt);
    let reopened = Index::open(tmp.path()).unwrap();
    assert_eq!(
        (reopened.num_docs(), reopened.last_applied_seq()),
        (39, 101)
    );
    let dirs: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "only the current generation is left");
}

#[test]
fn an_empty_index_answers_empty_results() {
    let idx = Index::open_in_ram().unwrap();
    let res = idx.search(&req("bilancio"), today()).unwrap();
    assert_eq!((res.total, res.items.len()), (0, 0));
    assert_eq!(res.facets, Facets::default());
}

#[test]
fn misspelt_words_are_corrected_within_one_or_two_edits() {
    let idx = index_with(&[
        rec("a", Kind::Process, "1", "Bilancio partecipativo"),
        rec("a", Kind::Process, "2", "Consultazione sulla mobilità"),
        rec("a", Kind::Process, "3", "Bilanco della scuola"),
        rec("a", Kind::Process, "4", "Orto urbano"),
    ]);
    // One edit from 5 letters on (a swapped pair counts as one).
    assert_eq!(ids(&idx, &req("partecipatvo ")), ["a:process:1"]);
    assert_eq!(ids(&idx, &req("mobilitá ")), ["a:process:2"]);
    // Two edits from 9 letters on.
    assert_eq!(ids(&idx, &req("consultazzone ")), ["a:process:2"]);
    assert!(ids(&idx, &req("mobiltaa ")).is_empty());
    assert_eq!(ids(&idx, &req("ortto ")), ["a:process:4"]);
    // Short words are not corrected.
    assert!(ids(&idx, &req("otro ")).is_empty());
    // Corrections keep the other words required, and work while typing the last word too.
    assert_eq!(ids(&idx, &req("bilancio partecipatvo ")), ["a:process:1"]);
    assert_eq!(ids(&idx, &req("bilancio partecipatvo")), ["a:process:1"]);
}

/// A word one edit away is the correction when there is one, even beside a commoner word two
/// edits away; else words two edits away are.
#[test]
fn the_nearest_corrections_are_chosen_before_commoner_farther_ones() {
    let idx = index_with(&[
        rec("a", Kind::Process, "1", "Bandierina rossa"),
        rec("a", Kind::Process, "2", "Bandierona blu"),
        rec("a", Kind::Process, "3", "Bandierona verde"),
        rec("a", Kind::Process, "4", "Bandierona gialla"),
    ]);
    // One edit from `bandierina`, two from the commoner `bandierona`.
    assert_eq!(ids(&idx, &req("bandierinx ")), ["a:process:1"]);
    // Two edits from both: both.
    assert_eq!(ids(&idx, &req("bandierxnx ")).len(), 4);
}

/// Words with the word's own first letter are the corrections when there are any; a misspelt
/// first letter is still corrected, from all words.
#[test]
fn corrections_keep_the_first_letter_when_they_can() {
    let idx = index_with(&[
        rec("a", Kind::Process, "1", "Ambiente urbano"),
        rec("a", Kind::Process, "2", "Bandiere blu"),
        rec("a", Kind::Process, "3", "Cantiere aperto"),
        rec("a", Kind::Process, "4", "Cantiere chiuso"),
        rec("a", Kind::Process, "5", "Cantiere sospeso"),
    ]);
    // `smbiente` is one edit from `ambiente`, through its first letter.
    assert_eq!(ids(&idx, &req("smbiente ")), ["a:process:1"]);
    // `bantiere` is one edit from `bandiere` and from the commoner `cantiere`: the word that
    // keeps its first letter is the correction.
    assert_eq!(ids(&idx, &req("bantiere ")), ["a:process:2"]);
    assert_eq!(ids(&idx, &req("cantiera ")).len(), 3);
}

#[test]
fn a_word_of_a_description_is_not_corrected_into_a_title_word() {
    let idx = index_with(&[
        rec("a", Kind::Process, "1", "Tariffa del canone"),
        with_desc(
            rec("a", Kind::Process, "2", "Coro cittadino"),
            "it",
            "Le voci canore del quartiere",
        ),
    ]);
    // `canore` is one edit from `canone`, but a record has it (in its description only).
    assert_eq!(ids(&idx, &req("canore ")), ["a:process:2"]);
    assert_eq!(ids(&idx, &req("cannone ")), ["a:process:1"]);
    // Completions come from titles, summaries and names.
    assert_eq!(ids(&idx, &req("cano")), ["a:process:1"]);
}

#[test]
fn only_the_canonical_record_of_a_group_of_duplicates_is_searchable() {
    let mut naz = rec("naz", Kind::Consultation, "1", "Piano della mobilità");
    let mut reg = rec("reg", Kind::Consultation, "9", "Piano della mobilità");
    let other = rec("zeta", Kind::Consultation, "2", "Piano della mobilità");
    naz.same_as = vec!["reg:consultation:9".into()];
    reg.same_as = vec!["naz:consultation:1".into()];

    for idx in [index_with(&[naz.clone(), reg.clone(), other.clone()]), {
        let idx = Index::open_in_ram().unwrap();
        idx.rebuild(
            &mut vec![reg.clone(), naz.clone(), other.clone()].into_iter(),
            3,
        )
        .unwrap();
        idx
    }] {
        let res = idx.search(&req("mobilità"), today()).unwrap();
        let found: Vec<(&str, &[String])> = res
            .items
            .iter()
            .map(|h| (h.id.as_str(), h.same_as.as_slice()))
            .collect();
        assert_eq!(
            found.len(),
            2,
            "one result for the duplicates, one for the other: {found:?}"
        );
        assert!(found.contains(&("naz:consultation:1", &["reg:consultation:9".to_owned()][..])));
        assert!(found.contains(&("zeta:consultation:2", &[][..])));
        assert_eq!(res.total, 2);
        assert_eq!(res.facets.source.get("reg"), None);
    }

    // Apply: the link goes away (a title changed), so the regional record is searchable again;
    // it comes back, so the regional record is removed again.
    let idx = index_with(&[naz.clone(), reg.clone()]);
    assert_eq!(sorted_ids(&idx, &req("mobilità")), ["naz:consultation:1"]);
    let (mut naz2, mut reg2) = (naz.clone(), reg.clone());
    naz2.same_as.clear();
    reg2.same_as.clear();
    idx.apply(&upserts(&[reg2, naz2]), 5).unwrap();
    assert_eq!(
        sorted_ids(&idx, &req("mobilità")),
        ["naz:consultation:1", "reg:consultation:9"]
    );
    idx.apply(&upserts(&[reg, naz]), 7).unwrap();
    assert_eq!(sorted_ids(&idx, &req("mobilità")), ["naz:consultation:1"]);
    assert_eq!(idx.last_applied_seq(), 7);
}

// ---- near me: places, scope, methods, periods ----

fn placed(id: &str, territory: &str) -> Record {
    let mut r = rec("p", Kind::Process, id, "Bilancio partecipativo");
    r.territory = match territory {
        "" => snodo_model::Territory::default(),
        code if code.len() == 3 => snodo_model::Territory {
            province: Some(code.into()),
            region: snodo_model::territory::province(code).map(|p| p.region.to_owned()),
            ..Default::default()
        },
        code => snodo_model::territory::from_code(code).unwrap(),
    };
    r
}

fn place_fixture() -> Index {
    index_with(&[
        placed("casalecchio", "037011"),
        placed("bologna", "037006"),
        placed("cittametro", "237"),
        placed("regione", "08"),
        placed("italia", "IT"),
        placed("bari", "072006"),
        placed("puglia", "16"),
        placed("nowhere", ""),
    ])
}

fn at(place: &str) -> SearchRequest {
    SearchRequest {
        place: Some(snodo_model::territory::resolve_place(place).unwrap()),
        limit: 100,
        ..Default::default()
    }
}

#[test]
fn a_place_search_lists_its_own_records_and_counts_those_above() {
    let idx = place_fixture();
    let r = idx.search(&at("037011"), today()).unwrap();
    let own: Vec<&str> = r.items.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(own, ["p:process:casalecchio"]);
    assert_eq!(
        r.above,
        Some(Above {
            total: 3,
            province: Some(1),
            region: Some(1),
            national: Some(1)
        })
    );
    // All: the comune's, its metropolitan city's, its region's and the national ones.
    let mut all = at("037011");
    all.scope = Scope::All;
    assert_eq!(
        sorted_ids(&idx, &all),
        [
            "p:process:casalecchio",
            "p:process:cittametro",
            "p:process:italia",
            "p:process:regione"
        ]
    );
    // A province holds its comuni; a region its provinces and comuni.
    assert_eq!(
        sorted_ids(&idx, &at("BO")),
        [
            "p:process:bologna",
            "p:process:casalecchio",
            "p:process:cittametro"
        ]
    );
    let region = idx.search(&at("08"), today()).unwrap();
    assert_eq!(region.total, 4);
    assert_eq!(region.above.unwrap().national, Some(1));
    // The other filters apply to the count above too.
    let mut open_only = at("037011");
    open_only.q = Some("bari".into());
    let r = idx.search(&open_only, today()).unwrap();
    assert_eq!((r.total, r.above.unwrap().total), (0, 0));
}

#[test]
fn place_facets_count_by_province_and_comune_only_when_asked() {
    let idx = place_fixture();
    let mut r = SearchRequest {
        limit: 0,
        ..Default::default()
    };
    let plain = idx.search(&r, today()).unwrap();
    assert!(plain.facets.province.is_empty() && plain.facets.comune.is_empty());
    r.place_facets = true;
    let f = idx.search(&r, today()).unwrap().facets;
    let counts = |m: &std::collections::BTreeMap<String, u64>| -> Vec<(String, u64)> {
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    };
    // the metropolitan city of Bologna holds its own record and those of two of its comuni
    assert_eq!(
        counts(&f.province),
        [("237".to_owned(), 3), ("272".to_owned(), 1)]
    );
    assert_eq!(
        counts(&f.comune),
        [
            ("037006".to_owned(), 1),
            ("037011".to_owned(), 1),
            ("072006".to_owned(), 1)
        ]
    );
    // they follow the other filters
    r.region = Some("16".into());
    let f = idx.search(&r, today()).unwrap().facets;
    assert_eq!(counts(&f.province), [("272".to_owned(), 1)]);
}

#[test]
fn methods_filter_and_are_counted() {
    let mut budget = rec("m", Kind::Process, "1", "Bilancio");
    budget.methods = vec!["budgets".into(), "pages".into()];
    let mut both = rec("m", Kind::Process, "2", "Bilancio");
    both.methods = vec!["proposals".into(), "budgets".into()];
    let consultation = rec("m", Kind::Consultation, "3", "Bilancio");
    let idx = index_with(&[budget, both, consultation]);
    let r = idx.search(&req("bilancio"), today()).unwrap();
    let want: std::collections::BTreeMap<String, u64> =
        [("budgets", 2), ("consultation", 1), ("proposals", 1)]
            .map(|(k, v)| (k.to_owned(), v))
            .into();
    assert_eq!(r.facets.method, want);
    let mut m = req("bilancio");
    m.method = Some("budgets".into());
    assert_eq!(sorted_ids(&idx, &m), ["m:process:1", "m:process:2"]);
    m.method = Some("consultation".into());
    assert_eq!(sorted_ids(&idx, &m), ["m:consultation:3"]);
}

/// The records of `idx` whose period overlaps `from..=to`, sorted.
fn ids_during(idx: &Index, from: &str, to: &str) -> Vec<String> {
    let r = SearchRequest {
        period: Some((d(from), d(to))),
        limit: 100,
        ..Default::default()
    };
    sorted_ids(idx, &r)
}

#[test]
fn a_period_finds_records_open_during_it() {
    let idx = index_with(&[
        dated("spring", Some("2027-03-01"), Some("2027-05-31")),
        dated("summer", Some("2027-07-01"), Some("2027-08-15")),
        dated("forever", Some("2020-01-01"), None),
        dated("later", Some("2027-09-01"), None),
    ]);
    let during = |from: &str, to: &str| ids_during(&idx, from, to);
    assert_eq!(
        during("2027-08-10", "2027-08-20"),
        ["s:process:forever", "s:process:summer"]
    );
    assert_eq!(
        during("2027-05-31", "2027-05-31"),
        ["s:process:forever", "s:process:spring"]
    );
    assert_eq!(during("2027-06-01", "2027-06-30"), ["s:process:forever"]);
    // With words too, and with a status.
    let mut r = req("processo ");
    r.period = Some((d("2027-08-10"), d("2027-08-20")));
    assert_eq!(
        sorted_ids(&idx, &r),
        ["s:process:forever", "s:process:summer"]
    );
    r.status = Some(Status::Open);
    assert_eq!(sorted_ids(&idx, &r), ["s:process:forever"]);
}

/// Periods alone, beside a region (the region's records lead and the period is asked about
/// them one by one), and with words: the records whose days overlap, counted from the records.
#[test]
fn a_period_with_other_filters_finds_exactly_the_overlapping_records() {
    let mut next = numbers(11);
    let base = d("2026-01-01");
    let records: Vec<Record> = (0..600usize)
        .map(|i| {
            let start = (next(5) > 0).then(|| base + chrono::Days::new(next(400)));
            let end = match (start, next(4)) {
                (_, 0) => None,
                (Some(s), _) => Some(s + chrono::Days::new(next(90))),
                (None, _) => Some(base + chrono::Days::new(next(400))),
            };
            let mut r = rec("p", Kind::Process, &i.to_string(), "Processo aperto");
            r.start_date = start;
            r.end_date = end;
            r.territory.region = Some(format!("{:02}", 1 + i % 5));
            r
        })
        .collect();
    let idx = Index::open_in_ram().unwrap();
    for (n, batch) in records.chunks(200).enumerate() {
        idx.apply(&upserts(batch), n as u64 + 1).unwrap();
    }
    for (from, to) in [
        ("2026-03-01", "2026-03-01"),
        ("2026-06-10", "2026-07-20"),
        ("2027-01-01", "2027-12-31"),
    ] {
        let (from, to) = (d(from), d(to));
        for (region, q) in [(None, None), (Some("03"), None), (None, Some("aperto "))] {
            let want: Vec<String> = {
                let mut v: Vec<String> = records
                    .iter()
                    .filter(|r| r.start_date.is_none_or(|s| s <= to))
                    .filter(|r| r.end_date.is_none_or(|e| e >= from))
                    .filter(|r| region.is_none_or(|g| r.territory.region.as_deref() == Some(g)))
                    .map(|r| r.id.to_string())
                    .collect();
                v.sort();
                v
            };
            let r = SearchRequest {
                q: q.map(str::to_owned),
                region: region.map(str::to_owned),
                period: Some((from, to)),
                limit: 600,
                ..Default::default()
            };
            assert!(!want.is_empty());
            assert_eq!(
                sorted_ids(&idx, &r),
                want,
                "{from}..{to}, {region:?}, {q:?}"
            );
        }
    }
}

/// Days before 1970 (where the packed days start) and far in the future: records and periods
/// there get the answers their real days give.
#[test]
fn a_period_at_the_edges_of_the_packed_days_is_exact() {
    let idx = index_with(&[
        dated("ancient", Some("1950-01-01"), Some("1960-12-31")),
        dated("sixties", Some("1968-05-01"), Some("1971-01-01")),
        dated("always", None, None),
        dated("far", Some("6000-01-01"), None),
    ]);
    let during = |from: &str, to: &str| ids_during(&idx, from, to);
    let ids = |names: &[&str]| -> Vec<String> {
        names.iter().map(|n| format!("s:process:{n}")).collect()
    };
    assert_eq!(
        during("1955-01-01", "1955-12-31"),
        ids(&["always", "ancient"])
    );
    assert_eq!(during("1965-01-01", "1965-12-31"), ids(&["always"]));
    assert_eq!(
        during("1962-01-01", "1969-01-01"),
        ids(&["always", "sixties"])
    );
    assert_eq!(
        during("1970-01-02", "1970-01-02"),
        ids(&["always", "sixties"])
    );
    assert_eq!(during("1971-01-02", "1971-01-02"), ids(&["always"]));
    assert_eq!(during("2027-01-01", "2027-01-01"), ids(&["always"]));
    assert_eq!(during("5999-12-31", "6000-01-01"), ids(&["always", "far"]));
}

/// Every searched field gets the same language analysis: singular and plural, accented and
/// plain forms find the same records, whichever field holds the word.
#[test]
fn inflections_and_accents_give_the_same_totals_in_every_field() {
    let base = |id: &str| rec("f", Kind::Process, id, "Proposta");
    let mut in_title = base("title");
    in_title.title = LocalizedText::single("it", "Ufficio partecipazione e città");
    let in_body = with_desc(base("body"), "it", "Ufficio partecipazione e città");
    let mut in_promoter = base("promoter");
    in_promoter.promoter = LocalizedText::single("it", "Ufficio partecipazione e città");
    let mut in_scope = base("scope");
    in_scope.territory.scope_name = LocalizedText::single("it", "Ufficio partecipazione e città");
    let mut in_topic = base("topic");
    in_topic.topics = vec![LocalizedText::single(
        "it",
        "Ufficio partecipazione e città",
    )];
    let mut in_group = base("group");
    in_group.group = LocalizedText::single("it", "Ufficio partecipazione e città");
    let idx = index_with(&[in_title, in_body, in_promoter, in_scope, in_topic, in_group]);
    let total = |q: &str| idx.search(&req(q), today()).unwrap().total;
    for forms in [
        ["partecipazione", "partecipazioni", "Partecipazione"],
        ["città", "citta", "CITTÀ"],
        ["uffici", "ufficio", "Ufficio"],
    ] {
        let totals: Vec<u64> = forms.iter().map(|f| total(f)).collect();
        assert_eq!(totals, vec![6; 3], "{forms:?}");
    }
}

/// Completion frequencies are summed over segments before the commonest are kept: `palio`,
/// rarer than `paglia` in the first commit, is ahead once the second is counted; ties are
/// alphabetical and the list stops at its size for a two-letter prefix.
#[test]
fn completions_count_every_segment_and_keep_the_commonest() {
    let idx = Index::open_in_ram().unwrap();
    let batch = |from: usize, titles: &[&str]| -> Vec<Record> {
        titles
            .iter()
            .enumerate()
            .map(|(i, t)| rec("s", Kind::Process, &(from + i).to_string(), t))
            .collect()
    };
    let first = batch(0, &["paglia", "paglia", "paglia", "palio"]);
    idx.apply(&upserts(&first), 1).unwrap();
    let second = batch(
        10,
        &[
            "palio", "palio", "palio", "passo", "parco", "papa", "pane", "panca", "palla", "pala",
            "pace",
        ],
    );
    idx.apply(&upserts(&second), 2).unwrap();
    let generation = idx.generation();
    let searcher = generation.reader.searcher();
    let got = crate::query::completions(&searcher, &generation.fields, None, "pa").unwrap();
    assert_eq!(
        got,
        ["palio", "paglia", "pace", "pala", "palla", "panca", "pane", "papa"]
    );
    let got = crate::query::completions(&searcher, &generation.fields, None, "pal").unwrap();
    assert_eq!(got, ["palio", "pala", "palla"]);
    assert!(
        crate::query::completions(&searcher, &generation.fields, None, "zz")
            .unwrap()
            .is_empty()
    );
    // The table of common words answers exactly what walking the term lists does, whatever
    // its size: when it lacks completions (`pal` with a table of the four commonest words),
    // the lists are walked.
    for cap in [1, 4, 6, 64] {
        let common = crate::query::CommonWords::build(&searcher, &generation.fields, cap).unwrap();
        for prefix in ["pa", "pal", "pag", "pan", "zz"] {
            assert_eq!(
                crate::query::completions(&searcher, &generation.fields, Some(&common), prefix)
                    .unwrap(),
                crate::query::completions(&searcher, &generation.fields, None, prefix).unwrap(),
                "prefix {prefix}, table of {cap}"
            );
        }
    }
}

// ---------------------------------------------------------------- facets at scale

/// Facets of a query whose matches are most of a segment are counted as the segment's totals
/// minus the records that did not match; of one matching few, match by match. Both must equal
/// a count over the records themselves, after updates and removals (deleted documents in the
/// segments) and on several segments.
#[test]
fn facets_equal_a_count_of_the_records_whether_matches_are_many_or_few() {
    // Two regions that are not an ISTAT code, counted by name.
    let regions = [
        Some("16"),
        Some("08"),
        None,
        Some("Canton Ticino"),
        Some("01"),
        Some("08"),
        Some("Estero"),
    ];
    let comuni = [Some("037006"), Some("072006"), None, Some("037011")];
    let record = |i: usize, common: bool| {
        let kind = [Kind::Process, Kind::Assembly, Kind::Consultation][i % 3];
        let title = format!(
            "{} progetto {}{}",
            if common { "Bilancio" } else { "Verde" },
            ["alfa", "beta", "gamma"][i % 3],
            if i % 7 == 0 { " raro" } else { "" }
        );
        let mut r = rec(&format!("s{}", i % 4), kind, &i.to_string(), &title);
        r.territory.region = regions[i % 7].map(str::to_owned);
        r.methods = snodo_model::METHODS
            .iter()
            .enumerate()
            .filter(|(m, _)| (i + m) % 4 == 0)
            .map(|(_, m)| (*m).to_owned())
            .collect();
        r.territory.comune = comuni[i % 4].map(str::to_owned);
        r.start_date = [None, Some(d("2026-06-01")), Some(d("2026-01-01"))][i % 3];
        r.end_date = [None, Some(d("2026-12-31")), Some(d("2026-03-01"))][(i / 3) % 3];
        // None, one or several national topics, in varying combinations.
        let codes = snodo_model::topics::THEMES;
        r.themes = (0..codes.len())
            .filter(|t| (i / 2 + t * 5) % 11 < i % 4)
            .map(|t| codes[t].code.to_owned())
            .collect();
        r
    };
    let mut live: BTreeMap<usize, Record> = BTreeMap::new();
    let idx = Index::open_in_ram().unwrap();
    // Three commits, three segments; nine in ten records say "bilancio".
    for batch in 0..3 {
        let records: Vec<Record> = (batch * 100..batch * 100 + 100)
            .map(|i| record(i, i % 10 != 0))
            .collect();
        idx.apply(&upserts(&records), (batch + 1) as u64).unwrap();
        live.extend(
            records
                .into_iter()
                .enumerate()
                .map(|(j, r)| (batch * 100 + j, r)),
        );
    }
    // Updates (some stop saying "bilancio") and removals leave deleted documents behind.
    let mut changes = Vec::new();
    for i in (0..300).step_by(9) {
        let r = record(i, i % 2 == 0);
        changes.push(IndexChange::Upsert(Box::new(r.clone())));
        live.insert(i, r);
    }
    for i in (5..300).step_by(13) {
        changes.push(IndexChange::Remove(live[&i].id.to_string()));
        live.remove(&i);
    }
    idx.apply(&changes, 4).unwrap();

    let expected = |matches: &dyn Fn(&Record) -> bool| {
        let mut f = crate::collect::FacetCounts::default();
        for r in live.values().filter(|r| matches(r)) {
            f.total += 1;
            *f.kind.entry(r.id.kind.as_str().to_owned()).or_default() += 1;
            *f.source.entry(r.id.source.clone()).or_default() += 1;
            if let Some(reg) = &r.territory.region {
                *f.region.entry(reg.clone()).or_default() += 1;
            }
            let st = Status::from_dates(r.start_date, r.end_date, today());
            *f.status.entry(st.as_str().to_owned()).or_default() += 1;
            if let Some(c) = &r.territory.comune {
                *f.comune.entry(c.clone()).or_default() += 1;
            }
            for t in &r.themes {
                *f.topic.entry(t.clone()).or_default() += 1;
            }
            for m in r.participation_methods() {
                *f.method.entry(m.to_owned()).or_default() += 1;
            }
        }
        f
    };
    let title = |r: &Record| r.title.get("it").unwrap_or_default().to_lowercase();
    type Matches<'a> = &'a dyn Fn(&Record) -> bool;
    let cases: [(Option<&str>, Matches); 5] = [
        (Some("bilancio "), &|r| title(r).contains("bilancio")),
        (Some("bilancio"), &|r| title(r).contains("bilancio")),
        (Some("bilancio raro"), &|r| {
            title(r).contains("bilancio") && title(r).contains("raro")
        }),
        (Some("verde "), &|r| title(r).contains("verde")),
        (None, &|_| true),
    ];
    let all = expected(&|_| true);
    assert!(
        all.topic.len() > 3 && all.method.len() > 3,
        "the fixture should have topics and methods"
    );
    assert!(
        all.region.contains_key("Estero") && all.region.contains_key("Canton Ticino"),
        "the fixture should have regions that are not an ISTAT code"
    );
    for (q, matches) in cases {
        let want = expected(matches);
        for limit in [0, 10] {
            let r = SearchRequest {
                q: q.map(str::to_owned),
                limit,
                place_facets: true,
                ..Default::default()
            };
            let got = idx.search(&r, today()).unwrap();
            let case = format!("{q:?}, limit {limit}");
            assert_eq!(got.total, want.total, "{case}");
            assert_eq!(got.facets.kind, want.kind, "{case}");
            assert_eq!(got.facets.source, want.source, "{case}");
            assert_eq!(got.facets.region, want.region, "{case}");
            assert_eq!(got.facets.status, want.status, "{case}");
            assert_eq!(got.facets.comune, want.comune, "{case}");
            assert_eq!(got.facets.topic, want.topic, "{case}");
            assert_eq!(got.facets.method, want.method, "{case}");
            assert_eq!(got.items.len(), (limit as u64).min(want.total) as usize);
        }
    }
}

/// Queries whose score is a sum of term scores are ranked by block-max WAND over a flat union of
/// their terms (when their matches are a large share of it) or scored match by match: the page
/// must be the one the parser's own query gives (`+word` keeps the same query and scores but
/// goes the usual way), with the same total and facets, for common and rare words, groups, a
/// stop word, filters on terms and on dates, pages further on, several segments and deleted
/// documents.
#[test]
fn pages_ranked_by_the_flat_union_equal_the_parsers_ranking() {
    // A deterministic mix: common words in most records, rarer ones in few, repeated a varying
    // number of times in texts of varying length (BM25's frequencies and norms differ).
    let words = [
        "bilancio",
        "partecipativo",
        "comune",
        "mobilità",
        "scuola",
        "verde",
        "raro",
        "piazza",
    ];
    let mut next = numbers(7);
    let mut records = Vec::new();
    for i in 0..900usize {
        let mut text = Vec::new();
        for (w, word) in words.iter().enumerate() {
            // Word w in about (8 - w) / 9 of the records, up to 4 times.
            if next(9) < (8 - w) as u64 {
                for _ in 0..=next(4) {
                    text.push(*word);
                }
            }
        }
        for _ in 0..next(40) {
            text.push(["testo", "proposta", "incontro", "cittadini"][next(4) as usize]);
        }
        // A word in one record of 13: a query led by it checks its few records against the
        // other words' postings (the sparse path).
        if i % 13 == 5 {
            text.push("unico");
        }
        let title = format!("{} {}", words[next(8) as usize], ["alfa", "beta"][i % 2]);
        let mut r = rec(
            &format!("s{}", i % 3),
            Kind::Process,
            &i.to_string(),
            &title,
        );
        r.territory.region = Some(["16", "08", "01"][i % 3].to_owned());
        r.start_date = [None, Some(d("2026-06-01")), Some(d("2026-01-01"))][i % 3];
        r.end_date = [None, Some(d("2026-12-31")), Some(d("2026-03-01"))][(i / 3) % 3];
        records.push(with_desc(r, "it", &text.join(" ")));
    }
    let idx = Index::open_in_ram().unwrap();
    for (n, batch) in records.chunks(300).enumerate() {
        idx.apply(&upserts(batch), n as u64 + 1).unwrap();
    }
    let removed: Vec<IndexChange> = (0..900)
        .step_by(11)
        .map(|i| IndexChange::Remove(records[i].id.to_string()))
        .collect();
    idx.apply(&removed, 4).unwrap();

    let queries = [
        ("bilancio ", "+bilancio "),
        ("bilancio partecipativo ", "+bilancio +partecipativo "),
        ("comune mobilità scuola ", "+comune +mobilità +scuola "),
        ("bilancio raro ", "+bilancio +raro "),
        ("piazza raro ", "+piazza +raro "),
        ("(scuola OR verde) comune ", "+(scuola OR verde) +comune "),
        ("bilancio (raro OR piazza) ", "+bilancio +(raro OR piazza) "),
        ("bilancio unico ", "+bilancio +unico "),
        (
            "unico comune mobilità scuola ",
            "+unico +comune +mobilità +scuola ",
        ),
        ("(unico OR alfa) verde ", "+(unico OR alfa) +verde "),
        // Two words of a group that are one term in the Italian fields (`scuol`).
        ("(scuola OR scuole) comune ", "+(scuola OR scuole) +comune "),
        (
            "(scuola OR scuole OR unico) ",
            "+(scuola OR scuole OR unico) ",
        ),
        // A stop word between: dropped alike.
        ("bilancio della comune ", "bilancio AND della AND comune "),
    ];
    let filters = [
        None,
        Some("08"),
        Some("open"),
        Some("closed"),
        Some("upcoming"),
    ];
    assert_same_pages_as_twins(&idx, &queries, &filters);
    for (q, twin) in queries {
        // Newest first, and counted only: the query rebuilt from the union's terms matches and
        // scores as the parser's does.
        for (sort, limit) in [(Sort::Newest, 10), (Sort::Relevance, 0)] {
            let r = |q: &str| {
                let r = SearchRequest {
                    q: Some(q.to_owned()),
                    sort,
                    limit,
                    ..Default::default()
                };
                idx.search(&r, today()).unwrap()
            };
            let (got, want) = (r(q), r(twin));
            let case = format!("{q:?}, {sort:?}, limit {limit}");
            assert_eq!(got.total, want.total, "{case}");
            assert_eq!(got.facets.region, want.facets.region, "{case}");
            let ids = |r: &SearchResults| -> Vec<String> {
                r.items.iter().map(|h| h.id.clone()).collect()
            };
            assert_eq!(ids(&got), ids(&want), "{case}");
        }
    }
}

/// A phrase of two common words is one pair term in each pair field: alone or beside words, its
/// query is a sum of term scores, ranked by the flat union like words are (the parser's union
/// of the pair terms collected and scored every match: `"beni comuni"` at 1M records took 6 ms).
#[test]
fn phrases_of_common_words_are_ranked_by_their_pair_terms_as_the_parser_ranks_them() {
    let vocabulary = [
        "bilancio",
        "partecipativo",
        "quartiere",
        "scuola",
        "testo",
        "incontro",
    ];
    let mut next = numbers(11);
    let records: Vec<Record> = (0..600usize)
        .map(|i| {
            let mut words = |n: u64| -> String {
                (0..n)
                    .map(|_| vocabulary[next(vocabulary.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let title = words(2 + i as u64 % 4);
            let mut text = words(5 + (i as u64 * 7) % 40);
            if i % 50 == 0 {
                // A word in a few records (2 %), too rare to be in pairs.
                text.push_str(" un bilancio partecipativo raro");
            }
            let mut r = rec("s", Kind::Process, &i.to_string(), &title);
            r.territory.region = Some(["16", "08", "01"][i % 3].to_owned());
            r.start_date = [None, Some(d("2026-06-01")), Some(d("2026-01-01"))][i % 3];
            r.end_date = [None, Some(d("2026-12-31")), Some(d("2026-03-01"))][(i / 3) % 3];
            with_desc(r, "it", &text)
        })
        .collect();
    let idx = Index::open_in_ram().unwrap();
    // Rebuilt twice: the first chooses the common words from its first records, too few of them.
    idx.rebuild(&mut records.clone().into_iter(), 1).unwrap();
    idx.rebuild(&mut records.clone().into_iter(), 2).unwrap();
    assert!(!idx.lacks_pair_words());
    let ranked_as_union = |q: &str| {
        let g = idx.generation();
        crate::query::parse(
            &g.reader.searcher(),
            &g.fields,
            crate::query::Vocabulary {
                common: None,
                pairs: g.pairs.as_deref(),
            },
            Some(q),
        )
        .unwrap()
        .unwrap()
        .union
        .is_some()
    };
    for q in [
        "\"bilancio partecipativo\" ",
        "\"bilancio partecipativo\" quartiere ",
        "scuola \"bilancio partecipativo\" (quartiere OR incontro) ",
        "\"bilancio partecipativo\" \"scuola quartiere\" ",
        "\"bilancio partecipativo\" raro ",
    ] {
        assert!(ranked_as_union(q), "{q}");
    }
    // Excluded, or an alternative, or a word that is not common: not a sum of term scores.
    for q in [
        "-\"bilancio partecipativo\" quartiere ",
        "+\"bilancio partecipativo\" ",
        "\"bilancio partecipativo\" OR quartiere ",
        "(\"bilancio partecipativo\" OR quartiere) ",
        "\"partecipativo raro\" ",
    ] {
        assert!(!ranked_as_union(q), "{q}");
    }
    // The twin has the same terms, required with `+`: the parser's query ranks it.
    let queries = [
        (
            "\"bilancio partecipativo\" ",
            "+\"bilancio partecipativo\" ",
        ),
        (
            "\"bilancio partecipativo\" quartiere ",
            "+\"bilancio partecipativo\" +quartiere ",
        ),
        (
            "\"bilancio partecipativo\" \"scuola quartiere\" ",
            "+\"bilancio partecipativo\" +\"scuola quartiere\" ",
        ),
        (
            "\"bilancio partecipativo\" raro ",
            "+\"bilancio partecipativo\" +raro ",
        ),
    ];
    assert_same_pages_as_twins(
        &idx,
        &queries,
        &[None, Some("08"), Some("open"), Some("closed")],
    );
}

/// Page `offset` (of 10) of `q` with `filter`: a region (`08`) or a status (`open`, `closed`,
/// `upcoming`).
fn filtered_page(idx: &Index, q: &str, filter: Option<&str>, offset: usize) -> SearchResults {
    let r = SearchRequest {
        q: Some(q.to_owned()),
        region: filter.filter(|f| f.starts_with('0')).map(str::to_owned),
        status: filter.and_then(|f| match f {
            "open" => Some(Status::Open),
            "closed" => Some(Status::Closed),
            "upcoming" => Some(Status::Upcoming),
            _ => None,
        }),
        limit: 10,
        offset,
        ..Default::default()
    };
    idx.search(&r, today()).unwrap()
}

/// Each query's first and third pages, with each filter, are its twin's (see
/// [`assert_same_page`]).
fn assert_same_pages_as_twins(idx: &Index, queries: &[(&str, &str)], filters: &[Option<&str>]) {
    for &(q, twin) in queries {
        for &filter in filters {
            for offset in [0, 25] {
                let case = format!("{q:?}, filter {filter:?}, offset {offset}");
                let (got, want) = (
                    filtered_page(idx, q, filter, offset),
                    filtered_page(idx, twin, filter, offset),
                );
                assert_same_page(&got, &want, &case);
            }
        }
    }
}

/// `got` is the page, total and facets of `want` (the parser's query): the same scores, and the
/// same records above the page's last score (equal scores may be summed in another order and
/// swap places within a tie).
fn assert_same_page(got: &SearchResults, want: &SearchResults, case: &str) {
    assert_eq!(got.total, want.total, "{case}");
    assert!(got.total > 0, "{case}: the fixture should match");
    assert_eq!(got.facets.kind, want.facets.kind, "{case}");
    assert_eq!(got.facets.region, want.facets.region, "{case}");
    assert_eq!(got.facets.status, want.facets.status, "{case}");
    let scores =
        |r: &SearchResults| -> Vec<f32> { r.items.iter().map(|h| h.score.unwrap()).collect() };
    let (gs, ws) = (scores(got), scores(want));
    assert_eq!(gs.len(), ws.len(), "{case}");
    for (g, w) in gs.iter().zip(&ws) {
        assert!((g - w).abs() <= 1e-4 * w.abs(), "{case}: {gs:?} vs {ws:?}");
    }
    let last = ws.last().copied().unwrap_or(0.0);
    let above = |r: &SearchResults| -> std::collections::BTreeSet<String> {
        r.items
            .iter()
            .filter(|h| h.score.unwrap() > last * (1.0 + 1e-4))
            .map(|h| h.id.clone())
            .collect()
    };
    assert_eq!(above(got), above(want), "{case}");
}

/// A common word within one region: its matches are a small share of the union's postings but
/// more than a handful, and are scored one by one (WAND over the union could skip no block for
/// a page only the region's records may enter). The same page as the parser's query.
#[test]
fn a_common_word_in_one_region_is_ranked_as_the_parser_ranks_it() {
    let regions: Vec<String> = (1..=20).map(|r| format!("{r:02}")).collect();
    let records: Vec<Record> = (0..3_000usize)
        .map(|i| {
            let mut r = rec("s", Kind::Process, &i.to_string(), "Bilancio del quartiere");
            r.summary.insert_plain("it", "Il bilancio partecipativo");
            r.territory.region = Some(regions[i % regions.len()].clone());
            let zeta = if i % 15 == 0 { "zeta " } else { "" };
            let text = format!("bilancio {zeta}{}", "testo ".repeat(i % 37));
            with_desc(r, "it", &text.repeat(1 + i % 3))
        })
        .collect();
    let idx = Index::open_in_ram().unwrap();
    idx.apply(&upserts(&records), 1).unwrap();
    let page = |q: &str, region: Option<&str>, offset: usize| {
        let r = SearchRequest {
            q: Some(q.to_owned()),
            region: region.map(str::to_owned),
            limit: 10,
            offset,
            ..Default::default()
        };
        idx.search(&r, today()).unwrap()
    };
    // Two words, the rarer in a few records (too many to be the only candidates), unfiltered:
    // scored term by term, to the last page.
    for offset in [0, 190] {
        let got = page("bilancio zeta ", None, offset);
        assert_eq!(got.total, 200);
        let case = format!("two words, offset {offset}");
        assert_same_page(&got, &page("+bilancio +zeta ", None, offset), &case);
    }
    for (region, offset) in [("08", 0), ("16", 10), ("01", 140)] {
        let got = page("bilancio ", Some(region), offset);
        assert_eq!(got.total, 150);
        let case = format!("region {region}, offset {offset}");
        assert_same_page(&got, &page("+bilancio ", Some(region), offset), &case);
    }
}

/// A search filtered by source over segments each holding one source's records: a segment
/// where no record passes the filters is skipped, and the others answer as the parser's query.
#[test]
fn a_segment_with_no_record_the_filters_leave_answers_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let records: Vec<Record> = (0..600usize)
        .map(|i| {
            let source = if i < 300 { "alfa" } else { "beta" };
            let mut r = rec(
                source,
                Kind::Process,
                &i.to_string(),
                "Bilancio del quartiere",
            );
            r.territory.region = Some(if i % 2 == 0 { "08" } else { "16" }.to_owned());
            let rare = if i % 9 == 0 { "zeta " } else { "" };
            with_desc(
                r,
                "it",
                &format!("bilancio {rare}{}", "testo ".repeat(i % 13)),
            )
        })
        .collect();
    let idx = one_segment_per_commit(tmp.path(), &records, 300);
    assert_eq!(segments(&idx), 2);
    let page = |q: &str, source: &str, region: Option<&str>| {
        let r = SearchRequest {
            q: Some(q.to_owned()),
            source: Some(source.to_owned()),
            region: region.map(str::to_owned),
            limit: 10,
            ..Default::default()
        };
        idx.search(&r, today()).unwrap()
    };
    for source in ["alfa", "beta"] {
        for region in [None, Some("08")] {
            for (q, twin, total) in [
                ("bilancio ", "+bilancio ", 300),
                ("bilancio zeta ", "+bilancio +zeta ", 34),
            ] {
                let got = page(q, source, region);
                let case = format!("{q:?} from {source}, region {region:?}");
                let want = if region.is_some() { total / 2 } else { total };
                assert!(got.total.abs_diff(want) <= 1, "{case}: {}", got.total);
                assert_eq!(
                    got.facets.source.keys().collect::<Vec<_>>(),
                    [source],
                    "{case}"
                );
                assert_same_page(&got, &page(twin, source, region), &case);
            }
        }
    }
}

/// `.idx` files (one per segment) in the current generation of the index in `dir`.
fn term_files(dir: &std::path::Path) -> usize {
    let current = std::fs::read_to_string(dir.join(CURRENT_FILE)).unwrap();
    std::fs::read_dir(dir.join(current.trim()))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".idx"))
        })
        .count()
}

/// An index in `dir` holding `records`, committed `per_commit` at a time with no merge policy:
/// one segment per commit, as a large harvest leaves them before its log merges catch up.
fn one_segment_per_commit(dir: &std::path::Path, records: &[Record], per_commit: usize) -> Index {
    let idx = Index::open(dir).unwrap();
    if let Some(w) = idx.generation().writer().as_ref() {
        w.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
    }
    for (n, chunk) in records.chunks(per_commit).enumerate() {
        idx.apply(&upserts(chunk), n as u64 + 1).unwrap();
    }
    idx
}

fn segments(idx: &Index) -> usize {
    idx.generation().reader.searcher().segment_readers().len()
}

#[test]
fn compaction_is_only_for_many_segments_holding_a_good_share() {
    // A dozen log-merged segments of a large harvest: half beyond the two largest.
    let harvested = [
        250_000, 200_000, 150_000, 100_000, 80_000, 60_000, 50_000, 40_000, 30_000, 20_000, 15_000,
        5_000,
    ];
    assert!(worth_compacting(&harvested, 2));
    // Two balanced segments and a daily harvest's small ones: left to the merge policy.
    assert!(!worth_compacting(&[500_000, 495_000, 3_000, 2_000], 2));
    assert!(!worth_compacting(&[500_000, 500_000], 2));
    assert!(!worth_compacting(&[], 2));
}

#[test]
fn compaction_merges_segments_without_changing_what_searches_find() {
    let tmp = tempfile::tempdir().unwrap();
    let records = mixed_records();
    let idx = one_segment_per_commit(tmp.path(), &records, 5);
    idx.apply(&[IndexChange::Remove(records[3].id.to_string())], 50)
        .unwrap();
    let before = segments(&idx);
    let n = search_threads();
    assert!(
        before > n,
        "{before} segments: the fixture needs more than {n}"
    );
    let requests: Vec<SearchRequest> = vec![
        req("bilancio "),
        req("scuole partecip"),
        req("\"processo 12\" "),
        SearchRequest {
            status: Some(Status::Open),
            sort: Sort::Closing,
            limit: 100,
            ..Default::default()
        },
        SearchRequest {
            region: Some("16".into()),
            sort: Sort::Newest,
            limit: 100,
            ..Default::default()
        },
    ];
    let answers: Vec<SearchResults> = requests
        .iter()
        .map(|r| idx.search(r, today()).unwrap())
        .collect();
    let version = idx.version();

    let done = idx.compact().unwrap().expect("many segments: compacted");
    assert_eq!(done.segments_before, before);
    assert_eq!(done.docs, 39);
    assert!(done.segments_after <= n, "{done:?}");
    assert_eq!(segments(&idx), done.segments_after);
    assert_eq!(
        term_files(tmp.path()),
        done.segments_after,
        "merged-away files removed"
    );
    assert_eq!(idx.num_docs(), 39);
    assert_eq!(idx.last_applied_seq(), 50);
    // Same documents: a cached answer stays right.
    assert_eq!(idx.version(), version);
    for (r, a) in requests.iter().zip(&answers) {
        let b = idx.search(r, today()).unwrap();
        assert_eq!((a.total, &a.facets), (b.total, &b.facets), "{r:?}");
        let key = |h: &SearchHit| (h.id.clone(), h.title.clone(), h.snippet.clone());
        let (mut x, mut y): (Vec<_>, Vec<_>) = (
            a.items.iter().map(key).collect(),
            b.items.iter().map(key).collect(),
        );
        if r.sort == Sort::Relevance {
            // BM25 statistics counted the removed record until its segment was merged.
            x.sort();
            y.sort();
        }
        assert_eq!(x, y, "{r:?}");
    }
    // Nothing more to do, and the writer goes on writing with its merge policy.
    assert_eq!(idx.compact().unwrap(), None);
    idx.apply(
        &upserts(&[rec("tre", Kind::Process, "nuovo", "Piazza nuova")]),
        51,
    )
    .unwrap();
    idx.apply(&[IndexChange::Remove(records[0].id.to_string())], 52)
        .unwrap();
    assert_eq!(ids(&idx, &req("piazza ")), vec!["tre:process:nuovo"]);
    assert_eq!(idx.num_docs(), 39);
    // The merged-away segments' files are gone, and the compacted index reopens as it was.
    drop(idx);
    let reopened = Index::open(tmp.path()).unwrap();
    assert_eq!((reopened.num_docs(), reopened.last_applied_seq()), (39, 52));
    assert_eq!(term_files(tmp.path()), segments(&reopened));
}

#[test]
fn compaction_with_nothing_to_merge_still_removes_files_merged_away_since_the_last_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let records = mixed_records();
    let idx = one_segment_per_commit(tmp.path(), &records, 14);
    assert_eq!(segments(&idx), 3);
    // A merge the policy would have run, ended after the last commit: its inputs stay on disk.
    {
        let generation = idx.generation();
        let mut guard = generation.writer();
        let writer = guard.as_mut().unwrap();
        let metas = writer.index().searchable_segment_metas().unwrap();
        let ids: Vec<_> = metas.iter().take(2).map(|m| m.id()).collect();
        writer.merge(&ids).wait().unwrap();
        generation.reader.reload().unwrap();
    }
    assert_eq!(segments(&idx), 2);
    assert_eq!(
        term_files(tmp.path()),
        4,
        "the merged-away segments' files are still there"
    );
    idx.compact().unwrap();
    assert_eq!(term_files(tmp.path()), segments(&idx));
    assert_eq!(idx.num_docs(), 40);
}

/// Text that compresses poorly: `words` pseudo-random lowercase words from `seed`.
fn noise(seed: u64, words: usize) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut text = String::new();
    for _ in 0..words {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = 3 + (x >> 60) as usize % 8;
        for k in 0..len {
            text.push(char::from(b'a' + ((x >> (5 * k + 3)) % 26) as u8));
        }
        text.push(' ');
    }
    text
}

fn store_sizes(dir: &std::path::Path) -> Vec<u64> {
    let current = std::fs::read_to_string(dir.join(CURRENT_FILE)).unwrap();
    std::fs::read_dir(dir.join(current.trim()))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".store"))
        .map(|e| e.metadata().unwrap().len())
        .collect()
}

/// Merging copies each input's stored text unchanged, file to file once it is large (see
/// `files`): every record's text reads back the same after compaction.
#[test]
fn compaction_of_large_stored_text_keeps_every_record_s_text() {
    let tmp = tempfile::tempdir().unwrap();
    let records: Vec<Record> = (0..500u64)
        .map(|i| {
            let mut r = rec("big", Kind::Process, &i.to_string(), &format!("Testo {i}"));
            r.summary.insert_plain("it", &noise(i, 300));
            r
        })
        .collect();
    let idx = one_segment_per_commit(tmp.path(), &records, 100);
    let stores = store_sizes(tmp.path());
    assert_eq!(stores.len(), 5);
    assert!(
        stores.iter().all(|&n| n > files::LARGEST_READ as u64),
        "each input's stored text is a large read: {stores:?}"
    );
    let done = idx.compact().unwrap().expect("five segments: compacted");
    assert!(done.segments_after < 5, "{done:?}");
    assert_eq!(idx.num_docs(), 500);
    for i in (0..500u64).step_by(7).chain([99, 100, 499]) {
        let found = idx
            .search(&req(&format!("\"testo {i}\" ")), today())
            .unwrap();
        let hit = found
            .items
            .iter()
            .find(|h| h.id == format!("big:process:{i}"))
            .unwrap_or_else(|| panic!("record {i} not found"));
        assert_eq!(hit.summary, noise(i, 300).trim_end(), "record {i}");
    }
}

fn segment_sizes(idx: &Index) -> Vec<u32> {
    let mut sizes: Vec<u32> = idx
        .generation()
        .reader
        .searcher()
        .segment_readers()
        .iter()
        .map(|r| r.num_docs())
        .collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes
}

#[test]
fn a_first_harvest_of_many_commits_is_compacted_into_segments_of_about_equal_size() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = Index::open(tmp.path()).unwrap();
    let records: Vec<Record> = (0..2_000)
        .map(|i| {
            rec(
                "src",
                Kind::Process,
                &format!("p{i}"),
                &format!("processo {i}"),
            )
        })
        .collect();
    // Batches of 50, each committed, with the merge policy of every index.
    for (n, chunk) in records.chunks(50).enumerate() {
        idx.apply(&upserts(chunk), n as u64 + 1).unwrap();
    }
    idx.compact().unwrap();
    let sizes = segment_sizes(&idx);
    assert_eq!(sizes.iter().sum::<u32>(), 2_000);
    assert_eq!(sizes.len(), search_threads().min(sizes.len()), "{sizes:?}");
    // Log merges alone grew one segment of most records, which compaction cannot split.
    let (largest, smallest) = (sizes[0], sizes[sizes.len() - 1]);
    assert!(
        f64::from(largest) <= 1.1 * f64::from(smallest),
        "segments of {sizes:?}"
    );
}

#[test]
fn merges_stay_under_a_share_of_the_index_and_rewrite_mostly_deleted_segments() {
    let live = |sizes: &[u64]| sizes.iter().map(|&n| (n, 0)).collect::<Vec<_>>();
    let docs = |sizes: &[u64], merge: &[usize]| merge.iter().map(|&i| sizes[i]).sum::<u64>();
    assert_eq!(mergeable_docs(1_000_000), 125_000);
    // Commits of 5,000 in a 1M index: merged 25 at a time (125,000), then the other 15.
    let mut harvest = vec![5_000; 40];
    harvest.push(800_000);
    let merges = bounded_merges(&live(&harvest));
    let lens: Vec<usize> = merges.iter().map(Vec::len).collect();
    assert_eq!(lens, [25, 15]);
    assert!(merges.iter().flatten().all(|&i| i < 40));
    // Small segments are merged as long as they fit, four at least.
    let tiny = vec![1; 100];
    let merges = bounded_merges(&live(&tiny));
    let cap = mergeable_docs(100);
    assert!(merges.iter().all(|m| m.len() >= 4 && docs(&tiny, m) <= cap));
    assert!(merges.iter().map(Vec::len).sum::<usize>() > 100 - 4);
    // Too few of a size, or too large: left alone.
    assert!(bounded_merges(&live(&[50_000, 50_000, 50_000, 1_000_000])).is_empty());
    assert!(bounded_merges(&live(&[500_000, 500_000, 400_000, 300_000])).is_empty());
    // A compacted half a third of whose documents are deleted versions: rewritten alone.
    assert_eq!(
        bounded_merges(&[(500_000, 100_000), (340_000, 160_000)]),
        vec![vec![1]]
    );
}

// ---------------------------------------------------------------- phrases of common words

#[test]
fn an_excluded_phrase_the_first_record_lacks_excludes_only_the_records_that_have_it() {
    // Tantivy's phrase scorer asserts it is never sought backwards; an exclusion seeks it to the
    // first record of the segment even when its first match lies further on (tantivy #2811).
    let record =
        |id: &str, text: &str| with_desc(rec("s", Kind::Process, id, "Proposta"), "it", text);
    let records = [
        record("0", "Piano del verde"),
        record("1", "Partecipativo e bilancio"),
        record("2", "Il bilancio partecipativo"),
        record("3", "Altro bilancio"),
    ];
    let idx = index_with(&records);
    for q in [
        "-\"bilancio partecipativo\" ",
        "proposta -\"bilancio partecipativo\" ",
        "bilancio -\"bilancio partecipativo\" ",
        "(proposta -\"bilancio partecipativo\") OR verde ",
    ] {
        let mut found = ids(&idx, &req(q));
        found.sort();
        let want: Vec<String> = ["0", "1", "3"]
            .iter()
            .filter(|i| !q.starts_with("bilancio") || **i != "0")
            .map(|i| RecordId::new("s", Kind::Process, *i).to_string())
            .collect();
        assert_eq!(found, want, "{q}");
    }
}

#[test]
fn a_phrase_of_common_words_finds_the_same_records_from_its_pair_term_as_from_positions() {
    // Enough records for a rebuild to choose common words; "bilancio" and "partecipativo" are
    // in all of them, in every arrangement a phrase must tell apart.
    let texts = [
        "Il bilancio partecipativo del quartiere",
        "Partecipativo è il bilancio, non il piano",
        "Bilancio del partecipativo",
        "Bilancio, partecipativo: due parole",
        "bilancio e partecipativo e bilancio partecipativo",
        "Un bilancio molto partecipativo",
        "Il bilancio partecipativo quartiere nord, partecipativo bilancio partecipativo",
        "bilancio partecipativo e quartiere; quartiere bilancio partecipativo",
    ];
    let mut records: Vec<Record> = (0..60)
        .map(|i| {
            let r = rec("s", Kind::Process, &i.to_string(), "Proposta");
            with_desc(r, "it", texts[i % texts.len()])
        })
        .collect();
    records.push(with_desc(
        rec("s", Kind::Process, "en", "Proposal"),
        "en",
        "The participatory budget, a budget that is participatory",
    ));
    // Italian words in English text: in English fields the phrase is not a pair of common
    // words, and is searched there by positions.
    records.push(with_desc(
        rec("s", Kind::Process, "en2", "Rome"),
        "en",
        "Rome's bilancio partecipativo, and another bilancio that is partecipativo",
    ));
    let by_positions = index_with(&records);
    assert!(by_positions.lacks_pair_words());
    let by_pairs = Index::open_in_ram().unwrap();
    by_pairs
        .rebuild(&mut records.clone().into_iter(), 1)
        .unwrap();
    assert!(!by_pairs.lacks_pair_words());
    assert!(by_pairs.generation().pairs.is_some());
    // Rebuilt again, the words come from the index's terms and the triples from a sample of its
    // stored records; both ways, three common words next to each other in enough records are
    // one term.
    let again = Index::open_in_ram().unwrap();
    again.rebuild(&mut records.clone().into_iter(), 1).unwrap();
    again.rebuild(&mut records.clone().into_iter(), 1).unwrap();
    for idx in [&by_pairs, &again] {
        let g = idx.generation();
        let words = g.pairs.as_deref().unwrap();
        for phrase in [
            "bilancio partecipativo quartiere",
            "quartiere bilancio partecipativo",
        ] {
            let terms = words.phrase_in(
                &mut analysed::Analyzers::new(),
                schema::LangGroup::It,
                phrase,
            );
            assert!(
                matches!(&terms, pairs::PhraseTerms::Pairs(t) if t.len() == 1),
                "{phrase}: {terms:?}"
            );
        }
    }

    let ids = |idx: &Index, q: &str| {
        let res = idx.search(&req(q), today()).unwrap();
        let mut ids: Vec<String> = res.items.iter().map(|h| h.id.clone()).collect();
        ids.sort();
        (res.total, ids)
    };
    for q in [
        "\"bilancio partecipativo\" ",
        "\"partecipativo bilancio\" ",
        "\"bilancio del partecipativo\" ",
        "\"bilancio di partecipativo\" ",
        "\"bilancio partecipativo\" quartiere ",
        "-\"bilancio partecipativo\" ",
        "\"participatory budget\" ",
        "\"budget participatory\" ",
        "\"bilancio molto\" ",
        "\"bilancio partecipativo quartiere\" ",
        "\"partecipativo bilancio partecipativo\" ",
        "\"quartiere bilancio partecipativo\" ",
        "\"bilancio partecipativo e quartiere\" ",
    ] {
        let (total, found) = ids(&by_pairs, q);
        assert_eq!(
            (total, &found),
            (ids(&by_positions, q).0, &ids(&by_positions, q).1),
            "{q}"
        );
        assert_eq!(ids(&again, q), (total, found.clone()), "{q}, rebuilt again");
        let (found_here, _) = (total, found);
        if ["\"bilancio partecipativo\" ", "\"participatory budget\" "].contains(&q) {
            assert!(found_here > 0, "{q}: nothing found");
        }
    }
    // Analysed once for both a field and the pairs, every other search ranks as before.
    let ranked = |idx: &Index, q: &str| {
        let res = idx.search(&req(q), today()).unwrap();
        res.items
            .iter()
            .map(|h| (h.id.clone(), h.score, h.snippet.clone()))
            .collect::<Vec<_>>()
    };
    for q in [
        "bilancio ",
        "quartiere piano ",
        "participatory ",
        "rome",
        "bilancio -molto ",
    ] {
        assert_eq!(ranked(&by_pairs, q), ranked(&by_positions, q), "{q}");
    }
    // Rebuilt, an index large enough chooses its common words from its own term lists.
    let docs = by_positions.num_docs();
    by_positions
        .rebuild(&mut records.clone().into_iter(), 2)
        .unwrap();
    let chosen = by_positions
        .generation()
        .pairs
        .as_ref()
        .map(|p| p.chosen_from());
    assert_eq!(chosen, Some(docs));
    assert!(!by_positions.lacks_pair_words());
    for q in [
        "\"bilancio partecipativo\" ",
        "\"bilancio del partecipativo\" ",
    ] {
        assert_eq!(ids(&by_pairs, q), ids(&by_positions, q), "{q}");
    }
    // The pair term is searched, and the phrase's words are still what is highlighted.
    let from_pairs = |q: &str| {
        let parsed = crate::query::parse(
            &by_pairs.generation().reader.searcher(),
            &by_pairs.generation().fields,
            crate::query::Vocabulary {
                common: None,
                pairs: by_pairs.generation().pairs.as_deref(),
            },
            Some(q),
        )
        .unwrap()
        .unwrap();
        parsed.highlight.is_some()
    };
    assert!(from_pairs("\"bilancio partecipativo quartiere\" "));
    assert!(!from_pairs("\"bilancio partecipativo e quartiere\" "));
    let q = "\"bilancio partecipativo\" ";
    assert!(from_pairs(q), "{q} was not answered from its pair");
    assert!(ids(&by_pairs, q).1.contains(&"s:process:en2".to_owned()));
    let hit = &by_pairs.search(&req(q), today()).unwrap().items[0];
    let snippet = hit.snippet.clone().unwrap();
    assert!(
        snippet.contains("<mark>bilancio</mark> <mark>partecipativo</mark>"),
        "{snippet}"
    );
}
