//! JSON API pages → records, through the JSON connector's mapping (`JsonConnector::item_of`,
//! `resolve`) with the three worked examples of config/examples/json.toml (WordPress, Plone and a
//! generic API), each trying every page. Nothing panics; every record passes the shared
//! checks (valid, http(s) URLs, sanitised HTML, no tag in plain text).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use snodo_connector::SourceSpec;
use snodo_json::{resolve, FieldMap, JsonConnector, JsonParams, PaginationParams};
use snodo_model::Kind;
use snodo_sitekit::{build_record, Target};

struct Example {
    spec: SourceSpec,
    connector: JsonConnector,
    /// Where the items are in a page (`None`: the page is the list), as in the example.
    items: Option<&'static str>,
    target: Target,
}

fn example(
    id: &str,
    url: &str,
    kind: Kind,
    items: Option<&'static str>,
    params: JsonParams,
) -> Example {
    let spec = SourceSpec {
        id: id.into(),
        name: id.into(),
        url: url.into(),
        territory: Default::default(),
    };
    let connector = JsonConnector::new(&spec, params).expect("the example's source is valid");
    let target = Target {
        source: spec.clone(),
        kind,
        locale: "it".into(),
    };
    Example {
        spec,
        connector,
        items,
        target,
    }
}

static EXAMPLES: LazyLock<[Example; 3]> = LazyLock::new(|| {
    let s = |v: &str| Some(v.to_owned());
    [
        example(
            "example-wordpress",
            "https://www.example.it/wp-json/wp/v2/posts?categories=12&_embed=1",
            Kind::Consultation,
            None,
            JsonParams {
                flavor: s("wordpress"),
                fields: Some(FieldMap {
                    dates: s("excerpt.rendered"),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
        example(
            "example-plone",
            "https://www.comune.example.it/++api++/@search?portal_type=Event&fullobjects=1",
            Kind::Consultation,
            Some("items"),
            JsonParams {
                flavor: s("plone"),
                ..Default::default()
            },
        ),
        example(
            "example-generic",
            "https://opendata.example.it/api/consultazioni",
            Kind::Consultation,
            Some("/data/results"),
            JsonParams {
                record_kind: s("consultation"),
                items: s("/data/results"),
                complete_listing: Some(true),
                fields: Some(FieldMap {
                    id: s("id"),
                    url: s("/links/self"),
                    title: s("attributes.titolo"),
                    summary: s("attributes.abstract"),
                    body: s("attributes.testo"),
                    start_date: s("attributes.data_inizio"),
                    end_date: s("attributes.data_fine"),
                    status: s("attributes.stato"),
                    promoter: s("attributes.ente.nome"),
                    territory: s("attributes.comune"),
                    topics: s("attributes.temi"),
                    ..Default::default()
                }),
                pagination: Some(PaginationParams {
                    page_param: s("page"),
                    per_page_param: s("size"),
                    per_page: Some(50),
                    max_pages: Some(50),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(page) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for ex in EXAMPLES.iter() {
        let base = url::Url::parse(&ex.spec.url).unwrap();
        let list = match ex.items {
            None => Some(&page),
            Some(path) => resolve(&page, path),
        };
        let Some(Value::Array(items)) = list else {
            continue;
        };
        for v in items {
            let item = ex.connector.item_of(v, &base);
            let mut warnings = Vec::new();
            if let Ok(r) = build_record(item, &ex.target, &mut warnings) {
                snodo_fuzz::check_record(&r);
            }
        }
    }
});
