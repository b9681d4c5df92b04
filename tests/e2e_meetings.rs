//! End to end: meetings harvested from fake Decidim platforms by the real `snodo` binary, then
//! read back as a calendar (`/feeds/meetings.ics`, parsed with an independent iCalendar parser)
//! and through search (`kind=meeting`) and the record endpoint.

mod support;

use std::collections::{BTreeMap, HashSet};

use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

/// One parsed VEVENT: property name → value as the parser reads it (TEXT unescaped), the
/// first of each name.
type Event = BTreeMap<String, String>;

/// Checks the wire form, then parses with the `icalendar` crate's parser.
fn parse(body: &str) -> (BTreeMap<String, String>, Vec<Event>) {
    assert!(body.ends_with("\r\n"), "the last line ends in CRLF");
    for line in body.split("\r\n") {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "bare line break"
        );
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    let unfolded = icalendar::parser::unfold(body);
    let cal = icalendar::parser::read_calendar(&unfolded).expect("a valid calendar");
    let props = cal
        .properties
        .iter()
        .map(|p| (p.name.as_str().to_owned(), p.val.as_str().to_owned()))
        .collect();
    let events = cal
        .components
        .iter()
        .filter(|c| c.name.as_str() == "VEVENT")
        .map(|c| {
            let mut e = Event::new();
            for p in &c.properties {
                let mut name = p.name.as_str().to_owned();
                if !p.params.is_empty() {
                    name.push_str(";params");
                }
                e.entry(name).or_insert_with(|| p.val.as_str().to_owned());
            }
            e
        })
        .collect();
    (props, events)
}

fn uid_of(e: &Event) -> &str {
    e.get("UID")
        .map(String::as_str)
        .expect("every event has a UID")
}

fn find<'a>(events: &'a [Event], record: &str) -> Option<&'a Event> {
    events
        .iter()
        .find(|e| uid_of(e).starts_with(&format!("{record}@")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn meetings_are_harvested_searchable_and_in_the_calendar() {
    // 0.26 (complexity 300: pages of 6 meetings) and a hostile 0.27 that leaks private content.
    let partecipa = FakeDecidim::start(
        Version::V0_26,
        Dataset::sample("partecipa").unwrap(),
        Faults::default(),
    )
    .await
    .expect("fake platform");
    let hostile = FakeDecidim::start(
        Version::V0_27,
        Dataset::sample("hostile").unwrap(),
        Faults::default(),
    )
    .await
    .expect("fake platform");
    let env = Env::new(&format!(
        "{}{}",
        source_toml("partecipa", &partecipa.url(), Some("IT")),
        source_toml("hostile", &hostile.url(), None),
    ));
    let out = env.run(&["harvest"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let server = env.serve();
    let http = Http::new();

    // Search finds the meetings, with their own facet value.
    let visible = visible_meetings(&Dataset::sample("partecipa").unwrap()).len();
    assert_eq!(visible, 9);
    let found = http
        .get(&server.url("/api/v1/search?kind=meeting&source=partecipa&limit=100"))
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    let found = found.json();
    assert_eq!(
        found["total"].as_u64().unwrap() as usize,
        visible,
        "{found}"
    );
    assert_eq!(
        found["facets"]["kind"]["meeting"].as_u64().unwrap() as usize,
        visible
    );
    for item in found["items"].as_array().unwrap() {
        assert_eq!(item["kind"], "meeting");
        assert!(
            item["url"].as_str().unwrap().contains("/meetings/"),
            "{item}"
        );
        // A card can say when, and of which process, without fetching the record.
        assert!(item["parent_title"].is_string(), "{item}");
        assert!(item["parent_url"].as_str().unwrap().starts_with("http"));
    }
    let one = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "partecipa:meeting:421")
        .expect("meeting 421 is found");
    assert_eq!(one["start_time"], "2029-01-15T10:00:00+01:00");
    assert_eq!(one["end_time"], "2029-01-15T13:00:00+01:00");
    let all = http
        .get(&server.url("/api/v1/search?limit=100"))
        .await
        .json();
    assert!(all["facets"]["kind"]["meeting"].as_u64().unwrap() > 0);
    assert_inert(&all);

    // The record keeps times, venue and parent; no person.
    let rec = http
        .get(&server.url("/api/v1/records/partecipa:meeting:421"))
        .await;
    assert_eq!(rec.status, 200, "{}", rec.text);
    let rec = rec.json();
    assert_eq!(rec["kind"], "meeting");
    assert_eq!(rec["start_time"], "2029-01-15T10:00:00+01:00");
    assert_eq!(rec["end_time"], "2029-01-15T13:00:00+01:00");
    assert_eq!(rec["meeting"]["mode"], "hybrid");
    assert_eq!(rec["parent"]["id"], "partecipa:process:4");
    assert!(!rec.to_string().contains("author"));
    for gone in [
        "partecipa:meeting:422",
        "hostile:meeting:9005",
        "hostile:meeting:9006",
    ] {
        let a = http
            .get(&server.url(&format!("/api/v1/records/{gone}")))
            .await;
        assert_eq!(a.status, 404, "{gone} was stored");
    }

    // The calendar.
    let ics = http.get(&server.url("/feeds/meetings.ics")).await;
    assert_eq!(ics.status, 200, "{}", ics.text);
    assert_eq!(ics.content_type, "text/calendar; charset=utf-8");
    assert!(ics.headers.get("x-ratelimit-limit").is_some());
    assert_eq!(
        ics.headers.get("cache-control").unwrap(),
        "public, max-age=300"
    );
    let (props, events) = parse(&ics.text);
    assert_eq!(props["VERSION"], "2.0");
    assert!(props["X-WR-CALNAME"].contains("incontri"), "{props:?}");
    let uids: Vec<&str> = events.iter().map(uid_of).collect();
    let unique: HashSet<&&str> = uids.iter().collect();
    assert_eq!(uids.len(), unique.len(), "UIDs repeat: {uids:?}");
    eprintln!(
        "meetings.ics: {} events, {} bytes",
        events.len(),
        ics.text.len()
    );

    // Upcoming partecipa meetings (2029-2030) are in, past ones out; withdrawn, private and
    // moderated ones never.
    for id in ["421", "423", "522"] {
        assert!(
            find(&events, &format!("partecipa:meeting:{id}")).is_some(),
            "{id} missing: {uids:?}"
        );
    }
    for id in [
        "partecipa:meeting:131",
        "partecipa:meeting:521",
        "partecipa:meeting:422",
        "partecipa:meeting:424",
        "partecipa:meeting:1013",
        "hostile:meeting:9003",
        "hostile:meeting:9005",
        "hostile:meeting:9006",
    ] {
        assert!(find(&events, id).is_none(), "{id} is in the calendar");
    }
    let ogp = find(&events, "partecipa:meeting:421").unwrap();
    // 10:00 in Rome on 15 January is 09:00 UTC.
    assert_eq!(ogp["DTSTART"], "20290115T090000Z");
    assert_eq!(ogp["DTEND"], "20290115T120000Z");
    assert!(ogp.contains_key("DTSTAMP"));
    assert_eq!(
        ogp["URL"],
        format!(
            "{}/processes/piano-governo-aperto-6/f/42/meetings/421",
            partecipa.url()
        )
    );
    assert!(
        ogp["DESCRIPTION"].contains("Fonte: partecipa platform"),
        "{ogp:?}"
    );
    assert!(ogp["DESCRIPTION"].contains("Parte di: "), "{ogp:?}");
    assert!(ogp.contains_key("LOCATION"));
    // Soonest first.
    let starts: Vec<&str> = events.iter().map(|e| e["DTSTART"].as_str()).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);

    // The hostile meeting is there as plain text, its separators escaped and read back.
    let evil = find(&events, "hostile:meeting:9004").expect("the hostile upcoming meeting");
    assert!(
        evil["SUMMARY"].contains("Assemblea, con \"virgole\"; punti e virgola \\ e barre"),
        "{evil:?}"
    );
    assert!(
        evil["LOCATION"].contains("Via dell'Orto 3, Bari; piano terra"),
        "{evil:?}"
    );
    assert!(evil["DESCRIPTION"].contains("Riga uno"), "{evil:?}");
    // On the wire: `\\`, `\;` and `\,` escaped.
    assert!(
        icalendar::parser::unfold(&ics.text)
            .contains("SUMMARY:Assemblea\\, con \"virgole\"\\; punti e virgola \\\\ e barre"),
        "{}",
        ics.text
    );
    let raw = ics.text.to_ascii_lowercase();
    for bad in [
        "<script",
        "onerror",
        "onload",
        "javascript:",
        "<iframe",
        "<img",
        "<svg",
    ] {
        assert!(!raw.contains(bad), "`{bad}` in the calendar");
        for e in &events {
            for v in e.values() {
                assert!(!v.to_ascii_lowercase().contains(bad), "`{bad}` in {v:?}");
            }
        }
    }

    // Filters and limits; stable ETag.
    let one = http.get(&server.url("/feeds/meetings.ics?limit=1")).await;
    let (_, first) = parse(&one.text);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["DTSTART"], starts[0]);
    let only = http
        .get(&server.url("/feeds/meetings.ics?source=hostile&kind=meeting"))
        .await;
    let (_, hostile_only) = parse(&only.text);
    assert!(!hostile_only.is_empty());
    assert!(hostile_only
        .iter()
        .all(|e| uid_of(e).starts_with("hostile:")));
    let none = http
        .get(&server.url("/feeds/meetings.ics?q=zzzzqqq&region=01"))
        .await;
    assert_eq!(parse(&none.text).1.len(), 0);
    let en = http.get(&server.url("/feeds/meetings.ics?lang=en")).await;
    let (en_props, en_events) = parse(&en.text);
    assert!(en_props["X-WR-CALNAME"].contains("meetings"));
    assert!(find(&en_events, "partecipa:meeting:421").unwrap()["DESCRIPTION"].contains("Source: "));
    let tag = ics.headers.get("etag").expect("ETag").clone();
    let again = http
        .send(
            http.client()
                .get(server.url("/feeds/meetings.ics"))
                .header("if-none-match", tag),
        )
        .await;
    assert_eq!(again.status, 304);
    for (query, param) in [
        ("kind=process", "kind"),
        ("status=open", "status"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("region=99", "region"),
        ("lang=italiano", "lang"),
    ] {
        let bad = http
            .get(&server.url(&format!("/feeds/meetings.ics?{query}")))
            .await;
        assert_eq!(bad.status, 400, "{query}: {}", bad.text);
        assert!(bad.content_type.starts_with("application/problem+json"));
        assert_eq!(bad.json()["parameter"], param, "{query}");
    }

    // The pages link the calendar and the Atom feed, in each language.
    let it = http.get(&server.url("/")).await.text;
    assert!(it.contains("href=\"/feeds/meetings.ics\""), "{it}");
    assert!(it.contains("href=\"/feeds/open.atom\""));
    let en = http.get(&server.url("/en/")).await.text;
    assert!(en.contains("href=\"/feeds/meetings.ics?lang=en\""));
    assert!(en.contains("Upcoming meetings"));
}
