//! RSS, Atom and JSON Feed documents → records, through the feed connector's parsing
//! (`FeedConnector::records_of`, feed-rs underneath): any bytes give records or a protocol
//! error, never a panic, and every record passes the shared checks (valid, http(s) URLs,
//! sanitised HTML, no tag in plain text). The connector turns a panic inside feed-rs into an
//! error on purpose, so this target's panic hook only prints: libFuzzer's hook would abort on a
//! panic the connector catches; one that escapes `records_of` still aborts the run.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use snodo_connector::SourceSpec;
use snodo_feed::{FeedConnector, FeedParams};

const FEED_URL: &str = "https://www.comune.example.it/partecipazione/feed/";

static SPEC: LazyLock<SourceSpec> = LazyLock::new(|| SourceSpec {
    id: "feed-esempio".into(),
    name: "Comune di esempio".into(),
    url: FEED_URL.into(),
    territory: Default::default(),
});

static CONNECTOR: LazyLock<FeedConnector> = LazyLock::new(|| {
    FeedConnector::new(&SPEC, FeedParams::default()).expect("a valid feed source")
});

static FILTERED: LazyLock<FeedConnector> = LazyLock::new(|| {
    let params = FeedParams {
        include: Some(vec!["consultazione".into(), "bilancio".into()]),
        ..FeedParams::default()
    };
    FeedConnector::new(&SPEC, params).expect("a valid feed source")
});

/// A panic hook that lets the connector's `catch_unwind` work; it prints every panic but the
/// known ones inside feed-rs, which the connector turns into an error.
static HOOK: LazyLock<()> = LazyLock::new(|| {
    std::panic::set_hook(Box::new(|info| {
        if !info
            .location()
            .is_some_and(|l| l.file().contains("/feed-rs-"))
        {
            eprintln!("{info}");
        }
    }));
});

fuzz_target!(|data: &[u8]| {
    LazyLock::force(&HOOK);
    for connector in [&*CONNECTOR, &*FILTERED] {
        let mut warnings = Vec::new();
        if let Ok((records, _failed)) = connector.records_of(FEED_URL, data, &SPEC, &mut warnings) {
            for r in &records {
                snodo_fuzz::check_record(r);
            }
        }
    }
});
