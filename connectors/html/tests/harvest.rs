//! The HTML connector against a fake consultation site on loopback: a paginated list, detail
//! pages with Italian dates, a changed page, 304s, robots.txt, a broken selector, a sitemap.

use snodo_connector::{Connector, HarvestContext, HttpClient, HttpSettings, SourceSpec};
use snodo_html::{HtmlConnector, HtmlParams, ItemParams, ListParams};
use snodo_model::Territory;
use snodo_sitekit::fake::{store_of, FakePage, FakeSite};
use tokio_util::sync::CancellationToken;

fn spec(url: &str) -> SourceSpec {
    SourceSpec {
        id: "sito".into(),
        name: "Sito".into(),
        url: url.into(),
        territory: Territory {
            region: Some("09".into()),
            ..Territory::default()
        },
    }
}

fn ctx(spec: SourceSpec) -> HarvestContext {
    let http = HttpClient::new(HttpSettings {
        min_delay: std::time::Duration::ZERO,
        max_retries: 0,
        ..HttpSettings::default()
    })
    .unwrap();
    HarvestContext::new(spec, http.for_run("t"), CancellationToken::new())
}

fn detail(title: &str, dates: &str, status: &str) -> String {
    format!(
        r#"<html><head><meta property="og:image" content="/img/{title}.jpg"></head><body>
        <h1 class="titolo">{title}</h1>
        <p class="abstract">Sintesi di {title}</p>
        <div class="testo"><p>Testo <b>lungo</b> <script>alert(1)</script><a href="javascript:x()" onclick="x()">qui</a></p></div>
        <span class="periodo">{dates}</span>
        <span class="stato">{status}</span>
        <span class="ente">Comune di Firenze</span>
        <ul class="tag"><li>Ambiente</li><li>Mobilità</li></ul>
        <p class="autore">Mario Rossi</p>
        </body></html>"#
    )
}

fn list(links: &[&str], next: Option<&str>) -> String {
    let items: String = links
        .iter()
        .map(|l| format!("<article><h2><a href=\"{l}\">x</a></h2></article>"))
        .collect();
    let next = next
        .map(|n| format!("<nav><a rel=\"next\" href=\"{n}\">Successiva</a></nav>"))
        .unwrap_or_default();
    format!("<html><body>{items}<article><h2><a href=\"https://altro.example/x\">fuori</a></h2></article>{next}</body></html>")
}

fn params() -> HtmlParams {
    HtmlParams {
        list: Some(ListParams {
            item_link: Some("article h2 a".into()),
            next_link: Some("a[rel=next]".into()),
            ..ListParams::default()
        }),
        item: Some(ItemParams {
            title: Some("h1.titolo".into()),
            summary: Some(".abstract".into()),
            body: Some(".testo".into()),
            dates: Some(".periodo".into()),
            status: Some(".stato".into()),
            territory: Some(".ente".into()),
            topics: Some(".tag li".into()),
            image: Some("meta[property='og:image']@content".into()),
            ..ItemParams::default()
        }),
        ..HtmlParams::default()
    }
}

async fn site() -> FakeSite {
    let site = FakeSite::start().await;
    site.set(
        "/consultazioni",
        FakePage::html(list(&["/c/uno", "/c/due"], Some("/consultazioni?p=2"))),
    );
    site.set(
        "/consultazioni?p=2",
        FakePage::html(list(&["/c/tre", "/c/uno"], None)),
    );
    site.set(
        "/c/uno",
        FakePage::html(detail("Uno", "14 giugno – 7 luglio 2024", "Conclusa")).with_etag("\"u1\""),
    );
    site.set(
        "/c/due",
        FakePage::html(detail("Due", "dal 14/06/2099 al 07/07/2099", "In arrivo"))
            .with_etag("\"d1\""),
    );
    site.set(
        "/c/tre",
        FakePage::html(detail("Tre", "Dal 1 al 30 settembre 2024", "aperta")),
    );
    site
}

#[tokio::test]
async fn paginated_list_and_detail_pages_become_records() {
    let site = site().await;
    let s = spec(&site.url("/consultazioni"));
    let c = HtmlConnector::new(&s, params()).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 3, "{:?}", out.warnings);
    assert!(out.complete);
    assert_eq!(out.failed, 0);
    assert!(
        out.warnings.iter().any(|w| w.contains("other hosts")),
        "{:?}",
        out.warnings
    );
    let uno = &out.records[0];
    assert_eq!(
        uno.id.to_string(),
        format!("sito:consultation:{}", site.url("/c/uno"))
    );
    assert_eq!(uno.url, site.url("/c/uno"));
    assert_eq!(uno.title.get("it"), Some("Uno"));
    assert_eq!(uno.summary.get("it"), Some("Sintesi di Uno"));
    assert_eq!(uno.start_date, "2024-06-14".parse().ok());
    assert_eq!(uno.end_date, "2024-07-07".parse().ok());
    assert_eq!(uno.territory.comune.as_deref(), Some("048017"));
    assert_eq!(uno.topics.len(), 2);
    assert_eq!(
        uno.image_url.as_deref(),
        Some(site.url("/img/Uno.jpg").as_str())
    );
    let html = uno.description_html.0["it"].as_str();
    assert!(html.contains("<b>lungo</b>"), "{html}");
    let json = serde_json::to_string(&out.records).unwrap();
    for bad in ["<script", "javascript:", "onclick", "Rossi"] {
        assert!(!json.contains(bad), "{bad} leaked");
    }
    assert_eq!(out.records[1].start_date, "2099-06-14".parse().ok());
    assert_eq!(out.records[2].end_date, "2024-09-30".parse().ok());
    assert!(site.hits("/robots.txt").len() == 1);
}

#[tokio::test]
async fn unchanged_pages_cost_a_304_and_a_changed_page_is_read_again() {
    let site = site().await;
    let s = spec(&site.url("/consultazioni"));
    let c = HtmlConnector::new(&s, params()).unwrap();
    let first = c.harvest(&ctx(s.clone()), None).await.unwrap();
    site.set(
        "/c/due",
        FakePage::html(detail("Due bis", "dal 14/06/2099 al 07/07/2099", "")).with_etag("\"d2\""),
    );
    site.clear_log();
    let stored = ctx(s.clone()).with_stored(store_of(&first.records));
    let second = c
        .harvest(&stored, first.checkpoint.as_deref())
        .await
        .unwrap();
    let statuses = |path: &str| -> Vec<u16> { site.hits(path).iter().map(|h| h.status).collect() };
    assert_eq!(statuses("/c/uno"), [304]);
    assert_eq!(statuses("/c/due"), [200]);
    // The unchanged page's record by id; the changed one and the one without validators in full.
    assert_eq!(second.unchanged, [first.records[0].id.clone()]);
    assert_eq!(second.records.len(), 2);
    assert_eq!(second.records[0].title.get("it"), Some("Due bis"));
    assert!(second.complete);
    let checkpoint = second.checkpoint.clone().unwrap();
    assert!(!checkpoint.contains("Due bis"), "{checkpoint}");

    // A record the store no longer has: its page is read again.
    site.clear_log();
    let without_first = ctx(s).with_stored(store_of(&first.records[1..]));
    let third = c
        .harvest(&without_first, first.checkpoint.as_deref())
        .await
        .unwrap();
    assert_eq!(statuses("/c/uno"), [304, 200]);
    assert_eq!(third.records[0], first.records[0]);
}

#[tokio::test]
async fn robots_txt_forbidden_item_is_skipped_with_a_warning() {
    let site = site().await;
    site.set(
        "/robots.txt",
        FakePage::new("text/plain", "User-agent: *\nDisallow: /c/tre\n"),
    );
    let s = spec(&site.url("/consultazioni"));
    let c = HtmlConnector::new(&s, params()).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 2);
    assert!(site.hits("/c/tre").is_empty());
    assert!(!out.complete);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("/c/tre") && w.contains("robots.txt")),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn a_broken_selector_is_a_per_field_warning_not_a_silent_empty_record() {
    let site = site().await;
    let s = spec(&site.url("/consultazioni"));
    let mut p = params();
    if let Some(i) = p.item.as_mut() {
        i.summary = Some(".sommario-che-non-esiste".into());
    }
    let c = HtmlConnector::new(&s, p).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 3);
    let w: Vec<&String> = out
        .warnings
        .iter()
        .filter(|w| w.contains("sommario-che-non-esiste"))
        .collect();
    assert_eq!(w.len(), 1, "{:?}", out.warnings);
    assert!(
        w[0].contains("summary") && w[0].contains("3 of 3"),
        "{}",
        w[0]
    );
    // A missing title is a failed item, named.
    site.set(
        "/c/tre",
        FakePage::html("<html><body><p>vuota</p></body></html>"),
    );
    let s = spec(&site.url("/consultazioni"));
    let c = HtmlConnector::new(&s, params()).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 2);
    assert_eq!(out.failed, 1);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("/c/tre") && w.contains("no title")),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn page_parameter_pagination_and_a_list_selector_that_matches_nothing() {
    let site = FakeSite::start().await;
    site.set("/elenco?pagina=1", FakePage::html(list(&["/c/a"], None)));
    site.set("/elenco?pagina=2", FakePage::html(list(&["/c/b"], None)));
    site.set(
        "/c/a",
        FakePage::html(detail("A", "fino al 7 luglio 2024", "")),
    );
    site.set("/c/b", FakePage::html(detail("B", "", "")));
    let s = spec(&site.url("/elenco"));
    let mut p = params();
    if let Some(l) = p.list.as_mut() {
        l.next_link = None;
        l.page_param = Some("pagina".into());
    }
    let c = HtmlConnector::new(&s, p.clone()).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 2, "{:?}", out.warnings);
    assert!(out.complete, "page 3 answers 404: the end of the list");
    assert_eq!(out.records[0].end_date, "2024-07-07".parse().ok());
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("dates") && w.contains("1 of 2")),
        "{:?}",
        out.warnings
    );
    if let Some(l) = p.list.as_mut() {
        l.item_link = Some("div.nessuno a".into());
    }
    let s = spec(&site.url("/elenco"));
    let c = HtmlConnector::new(&s, p).unwrap();
    let e = c.harvest(&ctx(s), None).await.unwrap_err().to_string();
    assert!(
        e.contains("/elenco?pagina=1") && e.contains("item_link"),
        "{e}"
    );
}

#[tokio::test]
async fn sitemap_listing() {
    let site = FakeSite::start().await;
    site.set(
        "/sitemap.xml",
        FakePage::new(
            "application/xml",
            format!(
        "<?xml version=\"1.0\"?><sitemapindex><sitemap><loc>{}</loc></sitemap></sitemapindex>",
        site.url("/sm-1.xml")
    ),
        ),
    );
    site.set(
        "/sm-1.xml",
        FakePage::new(
            "application/xml",
            format!(
                "<urlset><url><loc>{}</loc></url><url><loc>{}</loc></url></urlset>",
                site.url("/c/a"),
                site.url("/chi-siamo")
            ),
        ),
    );
    site.set(
        "/c/a",
        FakePage::html(detail("A", "14 giugno – 7 luglio 2024", "")),
    );
    let s = spec(&site.url("/"));
    let mut p = params();
    p.list = Some(ListParams {
        sitemap: Some(site.url("/sitemap.xml")),
        sitemap_filter: Some("/c/".into()),
        ..ListParams::default()
    });
    let c = HtmlConnector::new(&s, p).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 1);
    assert!(site.hits("/chi-siamo").is_empty());
}

#[test]
fn bad_selectors_and_missing_list_are_named() {
    let s = spec("https://example.it/consultazioni");
    let e = HtmlConnector::new(
        &s,
        HtmlParams {
            item: Some(ItemParams {
                title: Some("h1[".into()),
                ..ItemParams::default()
            }),
            ..HtmlParams::default()
        },
    )
    .unwrap_err();
    assert!(
        e.contains("item.title") && e.contains("list: set item_link"),
        "{e}"
    );
}
