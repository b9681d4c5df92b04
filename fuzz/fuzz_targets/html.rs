//! Item pages and sitemaps → records and URLs, through the HTML connector's parsing with the
//! worked example's selectors (config/examples/html.toml): `HtmlConnector::extract` then the
//! shared `build_record`, and `sitemap_locs`. Nothing panics; every record passes the shared
//! checks (valid, http(s) URLs, sanitised HTML, no tag in plain text); every sitemap location
//! is trimmed text without `</loc>` in it.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use snodo_connector::SourceSpec;
use snodo_html::{HtmlConnector, HtmlParams, ItemParams, ListParams};
use snodo_model::Kind;
use snodo_sitekit::{build_record, Target};

const LIST_URL: &str = "https://partecipazione.example.it/consultazioni";

static SPEC: LazyLock<SourceSpec> = LazyLock::new(|| SourceSpec {
    id: "example-html".into(),
    name: "Partecipazione di esempio".into(),
    url: LIST_URL.into(),
    territory: snodo_model::Territory {
        region: Some("08".into()),
        ..Default::default()
    },
});

/// The selectors of config/examples/html.toml.
static CONNECTOR: LazyLock<HtmlConnector> = LazyLock::new(|| {
    let s = |v: &str| Some(v.to_owned());
    let params = HtmlParams {
        record_kind: s("consultation"),
        locale: s("it"),
        complete_listing: Some(true),
        max_items: Some(2000),
        list: Some(ListParams {
            item_link: s("article.card h3 a"),
            next_link: s("a[rel=next], li.next a"),
            max_pages: Some(50),
            ..Default::default()
        }),
        item: Some(ItemParams {
            title: s("h1"),
            summary: s("meta[name='description']@content"),
            body: s("div.field--name-body"),
            dates: s(".periodo"),
            published: s("meta[property='article:published_time']@content"),
            status: s(".stato"),
            promoter: s(".ente"),
            territory: s(".luogo"),
            topics: s(".tags a"),
            image: s("meta[property='og:image']@content"),
            ..Default::default()
        }),
    };
    HtmlConnector::new(&SPEC, params).expect("the example's selectors compile")
});

static TARGET: LazyLock<Target> = LazyLock::new(|| Target {
    source: SPEC.clone(),
    kind: Kind::Consultation,
    locale: "it".into(),
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let page =
        url::Url::parse("https://partecipazione.example.it/consultazioni/bilancio-2024").unwrap();
    let (item, _missing) = CONNECTOR.extract(&page, &text);
    let mut warnings = Vec::new();
    if let Ok(r) = build_record(item, &TARGET, &mut warnings) {
        snodo_fuzz::check_record(&r);
    }
    for loc in snodo_html::sitemap_locs(&text) {
        assert_eq!(loc, loc.trim(), "an untrimmed sitemap location");
        assert!(
            !loc.contains("</loc>"),
            "a location holding </loc>: {loc:?}"
        );
    }
});
