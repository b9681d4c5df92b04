//! End to end against fake Decidim servers on loopback, for every supported version: what is
//! harvested, what must never be, how failures degrade, and how many requests it takes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use snodo_connector::{
    Connector, ConnectorError, HarvestContext, HarvestOutput, HttpClient, HttpSettings, Progress,
    SourceSpec,
};
use snodo_decidim::{DecidimConnector, DecidimParams};
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use snodo_model::{Kind, Record};
use tokio_util::sync::CancellationToken;

fn settings() -> HttpSettings {
    HttpSettings {
        min_delay: Duration::ZERO,
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        ..Default::default()
    }
}

fn spec(url: &str, territory: &str) -> SourceSpec {
    SourceSpec {
        id: "partecipa".into(),
        name: "ParteciPa".into(),
        url: url.into(),
        territory: snodo_model::territory::from_code(territory).unwrap(),
    }
}

struct Run {
    result: Result<HarvestOutput, ConnectorError>,
    /// Requests the connector's HTTP client sent (every attempt).
    sent: u64,
    pages: usize,
}

async fn harvest_with(
    url: &str,
    territory: &str,
    params: DecidimParams,
    cancel: CancellationToken,
) -> Run {
    let spec = spec(url, territory);
    let connector = DecidimConnector::new(&spec, params).unwrap();
    let http = HttpClient::new(settings()).unwrap().for_run("test");
    let pages = Arc::new(Mutex::new(0usize));
    let counter = pages.clone();
    let ctx =
        HarvestContext::new(spec, http.clone(), cancel).with_progress(Arc::new(move |_, p| {
            if let Progress::Page { .. } = p {
                *counter.lock().unwrap() += 1;
            }
        }));
    let result = connector.harvest(&ctx, None).await;
    let pages = *pages.lock().unwrap();
    Run {
        result,
        sent: http.requests_sent(),
        pages,
    }
}

async fn harvest(url: &str, territory: &str) -> Run {
    harvest_with(
        url,
        territory,
        DecidimParams::default(),
        CancellationToken::new(),
    )
    .await
}

fn record<'a>(out: &'a HarvestOutput, kind: Kind, slug: &str) -> &'a Record {
    out.records
        .iter()
        .find(|r| r.id.kind == kind && r.url.ends_with(&format!("/{slug}")))
        .unwrap_or_else(|| panic!("no {kind} {slug} in {:?}", urls(out)))
}

/// Processes and assemblies harvested (meetings are checked on their own).
fn spaces(out: &HarvestOutput) -> usize {
    out.records
        .iter()
        .filter(|r| r.id.kind != Kind::Meeting)
        .count()
}

fn meetings(out: &HarvestOutput) -> Vec<&Record> {
    out.records
        .iter()
        .filter(|r| r.id.kind == Kind::Meeting)
        .collect()
}

fn urls(out: &HarvestOutput) -> Vec<&str> {
    out.records.iter().map(|r| r.url.as_str()).collect()
}

/// Every string value under keys named like personal data, anywhere in the dataset.
fn personal_strings(v: &Value, inside_person: bool, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let person = inside_person
                    || matches!(
                        k.as_str(),
                        "author" | "authors" | "user" | "users" | "members" | "coauthors"
                    );
                if person {
                    if let Value::String(s) = x {
                        if matches!(k.as_str(), "name" | "nickname" | "fullName" | "avatarUrl")
                            && s.len() > 3
                        {
                            out.push(s.clone());
                        }
                    }
                }
                personal_strings(x, person, out);
            }
        }
        Value::Array(a) => a
            .iter()
            .for_each(|x| personal_strings(x, inside_person, out)),
        _ => {}
    }
}

/// The whole output as JSON text, for "never anywhere" checks.
fn serialized(out: &HarvestOutput) -> String {
    serde_json::to_string(&out.records).unwrap()
}

fn assert_no_active_markup(out: &HarvestOutput) {
    let text = serialized(out).to_ascii_lowercase();
    for bad in [
        "<script",
        "<iframe",
        "javascript:",
        "onerror=",
        "onclick=",
        "onload=",
    ] {
        assert!(!text.contains(bad), "`{bad}` stored: {text}");
    }
    // No event-handler attribute of any name in the HTML.
    for r in &out.records {
        for html in r.description_html.0.values() {
            let h = html.as_str().to_ascii_lowercase();
            assert!(
                !h.split_whitespace()
                    .any(|w| w.starts_with("on") && w.contains('=')),
                "{h}"
            );
        }
    }
}

#[tokio::test]
async fn harvests_partecipa_on_every_version() {
    let data = Dataset::sample("partecipa").unwrap();
    let mut people = Vec::new();
    personal_strings(&serde_json::to_value(&data).unwrap(), false, &mut people);
    assert!(people.iter().any(|p| p == "Giulia Rossi"), "{people:?}");
    let mut requests = Vec::new();
    for version in Version::ALL {
        let fake = FakeDecidim::start(version, data.clone(), Faults::default())
            .await
            .unwrap();
        let base = fake.url();
        let run = harvest(&base, "IT").await;
        let out = run.result.unwrap_or_else(|e| panic!("{version}: {e}"));
        assert!(out.complete, "{version}");
        assert_eq!(out.failed, 0, "{version}: {:?}", out.warnings);
        assert!(out.warnings.is_empty(), "{version}: {:#?}", out.warnings);

        // 9 processes, one unpublished; 4 assemblies, one private and not transparent.
        let processes = out
            .records
            .iter()
            .filter(|r| r.id.kind == Kind::Process)
            .count();
        let assemblies = out
            .records
            .iter()
            .filter(|r| r.id.kind == Kind::Assembly)
            .count();
        assert_eq!(
            (processes, assemblies),
            (8, 3),
            "{version}: {:?}",
            urls(&out)
        );
        assert!(!serialized(&out).contains("riforma-pa-bozza"));
        assert!(!serialized(&out).contains("comitato-tecnico-riservato"));

        let hub = record(&out, Kind::Assembly, "hub-partecipazione");
        assert_eq!(hub.url, format!("{base}/assemblies/hub-partecipazione"));
        assert_eq!(hub.id.to_string(), "partecipa:assembly:1");
        assert!(
            hub.methods.contains(&"meetings".to_owned()),
            "{:?}",
            hub.methods
        );
        // The private but transparent assembly is public.
        record(&out, Kind::Assembly, "open-government");

        let budget = record(&out, Kind::Process, "bilancio-partecipativo-2026");
        assert_eq!(
            budget.url,
            format!("{base}/processes/bilancio-partecipativo-2026")
        );
        assert_eq!(budget.title.get("it"), Some("Bilancio partecipativo 2026"));
        assert_eq!(budget.title.get("en"), Some("Participatory budget 2026"));
        assert_eq!(budget.default_locale, "it");
        assert_eq!(
            budget.summary.get("it"),
            Some("Proponi, discuti e vota i progetti per la tua città.")
        );
        // The surveys component is unpublished: Decidim does not list it.
        assert_eq!(
            budget.methods,
            vec!["budgets", "meetings", "pages", "proposals"]
        );
        // From statistics…
        assert_eq!(budget.activity.proposals, Some(12));
        assert_eq!(budget.activity.participants, Some(3412));
        // …and counted where they say nothing.
        assert_eq!(budget.activity.budgets, Some(1), "{version}");
        assert_eq!(budget.activity.surveys, None, "{version}");
        let ecology = record(&out, Kind::Process, "transizione-ecologica");
        assert_eq!(ecology.activity.surveys, Some(1), "{version}");
        assert_eq!(ecology.activity.debates, Some(2), "{version}");
        assert_eq!(
            budget.start_date.map(|d| d.to_string()).as_deref(),
            Some("2026-02-01")
        );
        assert!(!budget.phases.is_empty());
        assert!(
            budget.phases.iter().all(|p| p.start_date.is_some()),
            "{version}"
        );
        assert!(
            budget.territory.national,
            "{version}: {:?}",
            budget.territory
        );
        assert_eq!(budget.territory.scope_name.get("it"), Some("Nazionale"));
        assert_eq!(budget.promoter.get("it"), Some("ParteciPa"));
        let image = budget.image_url.as_deref().unwrap();
        assert!(
            image.starts_with(&format!("{base}/uploads/")),
            "{version}: {image}"
        );

        let text = serialized(&out);
        for p in &people {
            assert!(
                !text.contains(p.as_str()),
                "{version}: personal data `{p}` stored"
            );
        }
        assert_no_active_markup(&out);
        for r in &out.records {
            r.validate().unwrap();
        }

        // Every request was counted, reported, polite and within the complexity limit.
        let logged = fake.api_requests();
        assert_eq!(run.sent as usize, logged.len(), "{version}");
        assert_eq!(run.pages, logged.len(), "{version}");
        assert_eq!(fake.max_in_flight(), 1);
        for req in &logged {
            assert_eq!(req.status, 200, "{version}");
            let c = snodo_fake_decidim::complexity(version, &req.query, &req.variables)
                .unwrap_or_default();
            assert!(
                c <= version.default_max_complexity() / 2,
                "{version}: {:?} complexity {c}",
                req.operation_name
            );
            assert!(!req.query.contains("metrics"));
            assert!(!req.query.contains("__schema"));
        }
        requests.push((version, logged.len()));
    }
    eprintln!("requests per full harvest of `partecipa`: {requests:?}");
    let n = |v| requests.iter().find(|(x, _)| *x == v).unwrap().1;
    assert!(n(Version::V0_28) < n(Version::V0_26), "{requests:?}");
}

#[tokio::test]
async fn a_hidden_version_is_probed_field_by_field() {
    // From ~0.29 operators may hide `decidim.version`: capabilities come from the probes alone.
    for version in [Version::V0_26, Version::V0_28, Version::V0_30Dev2025_01] {
        let mut data = Dataset::sample("partecipa").unwrap();
        data.flags.disclose_version = false;
        let fake = FakeDecidim::start(version, data, Faults::default())
            .await
            .unwrap();
        let out = harvest(&fake.url(), "IT").await.result.unwrap();
        assert!(out.warnings.is_empty(), "{version}: {:?}", out.warnings);
        assert_eq!(spaces(&out), 11, "{version}");
        let budget = record(&out, Kind::Process, "bilancio-partecipativo-2026");
        assert_eq!(budget.promoter.get("it"), Some("ParteciPa"), "{version}");
        assert_eq!(budget.activity.budgets, Some(1), "{version}");
        let ops: Vec<String> = fake
            .api_requests()
            .iter()
            .filter_map(|r| r.operation_name.clone())
            .collect();
        assert!(ops.contains(&"ProbeProcessTypes".to_owned()), "{ops:?}");
        // 0.26's limit of 300 is inferred from the missing process types: no batches there.
        assert_eq!(
            ops.contains(&"CountBatch".to_owned()),
            version != Version::V0_26,
            "{version}: {ops:?}"
        );
        for req in fake.api_requests() {
            let c = snodo_fake_decidim::complexity(version, &req.query, &req.variables)
                .unwrap_or_default();
            assert!(c <= version.default_max_complexity() / 2);
        }
    }
}

#[tokio::test]
async fn counts_every_countable_component_when_statistics_are_missing() {
    for version in [Version::V0_26, Version::V0_28] {
        let fake = FakeDecidim::start(
            version,
            Dataset::sample("partecipa").unwrap(),
            Faults {
                field_error: Some("stats".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let out = harvest(&fake.url(), "IT").await.result.unwrap();
        assert!(out.complete);
        assert_eq!(spaces(&out), 11);
        // The failing field degraded only itself.
        assert!(
            out.warnings.iter().any(|w| w.contains("`stats`")),
            "{:?}",
            out.warnings
        );
        let budget = record(&out, Kind::Process, "bilancio-partecipativo-2026");
        assert_eq!(budget.activity.participants, None);
        assert_eq!(budget.activity.budgets, Some(1));
        assert_eq!(budget.activity.meetings, Some(3));
        assert!(budget.activity.proposals.is_some());
        assert_eq!(budget.title.get("it"), Some("Bilancio partecipativo 2026"));
        let ecology = record(&out, Kind::Process, "transizione-ecologica");
        assert_eq!(ecology.activity.debates, Some(2));
        assert_eq!(ecology.activity.surveys, Some(1));
        for req in fake.api_requests() {
            assert!(
                !req.operation_name
                    .as_deref()
                    .unwrap_or("")
                    .contains("Batch")
                    || version != Version::V0_26
            );
        }
    }
}

#[tokio::test]
async fn a_failing_field_degrades_only_that_field() {
    let fake = FakeDecidim::start(
        Version::V0_27,
        Dataset::sample("partecipa").unwrap(),
        Faults {
            field_error: Some("ParticipatoryProcess.categories".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let out = harvest(&fake.url(), "IT").await.result.unwrap();
    assert!(out.complete);
    assert_eq!(spaces(&out), 11);
    assert!(
        out.warnings.iter().any(|w| w.contains("`categories`")),
        "{:?}",
        out.warnings
    );
    let budget = record(&out, Kind::Process, "bilancio-partecipativo-2026");
    assert!(budget.topics.is_empty(), "{:?}", budget.topics);
    assert_eq!(budget.activity.proposals, Some(12));
    assert!(budget.image_url.is_some());
}

#[tokio::test]
async fn hero_image_errors_lose_only_images() {
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults {
            field_error: Some("heroImage".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let out = harvest(&fake.url(), "IT").await.result.unwrap();
    assert_eq!(spaces(&out), 11);
    assert!(out.records.iter().all(|r| r.image_url.is_none()));
    assert!(out.records.iter().any(|r| r.activity.proposals.is_some()));
    assert!(out.warnings.iter().any(|w| w.contains("`heroImage`")));
}

#[tokio::test]
async fn territory_from_scope_names() {
    let mut data = Dataset::sample("partecipa").unwrap();
    let scope = |name: &str| json!({"id": "9", "name": {"translations": [{"locale": "it", "text": name, "machineTranslated": false}]}});
    data.process_mut("bilancio-partecipativo-2026").unwrap()["scope"] = scope("Comune di Bologna");
    data.process_mut("transizione-ecologica").unwrap()["scope"] = scope("Quartiere Navile");
    data.process_mut("aree-interne").unwrap()["scope"] = scope("Città metropolitana di Bologna");
    let fake = FakeDecidim::start(Version::V0_28, data, Faults::default())
        .await
        .unwrap();
    let out = harvest(&fake.url(), "08").await.result.unwrap();
    let bologna = record(&out, Kind::Process, "bilancio-partecipativo-2026");
    assert_eq!(bologna.territory.comune.as_deref(), Some("037006"));
    assert_eq!(bologna.territory.region.as_deref(), Some("08"));
    assert_eq!(
        bologna.territory.scope_name.get("it"),
        Some("Comune di Bologna")
    );
    let navile = record(&out, Kind::Process, "transizione-ecologica");
    assert_eq!(navile.territory.region.as_deref(), Some("08"));
    assert_eq!(navile.territory.comune, None);
    assert_eq!(
        navile.territory.scope_name.get("it"),
        Some("Quartiere Navile")
    );
    let metro = record(&out, Kind::Process, "aree-interne");
    assert_eq!(metro.territory.province.as_deref(), Some("237"));
}

/// A misconfigured instance that leaks private and unpublished spaces, with script payloads.
fn hostile_partecipa() -> Dataset {
    let mut data = Dataset::sample("partecipa").unwrap();
    data.flags.leak_private = true;
    let t = |s: &str| json!({"translations": [{"locale": "it", "text": s, "machineTranslated": false}]});
    let p = data.process_mut("transizione-ecologica").unwrap();
    p["title"] = t("<script>alert('x')</script>Transizione <b>ecologica</b>");
    p["subtitle"] = t("&lt;img src=x onerror=alert(1)&gt;Sottotitolo");
    p["shortDescription"] = t("<iframe src=\"https://evil.example\"></iframe>Breve");
    p["description"] = t("<p onclick=\"steal()\">Testo <a href=\"javascript:alert(1)\">link</a> <img src=x onerror=alert(1)><svg onload=alert(1)></svg></p>");
    p["heroImage"] = json!("javascript:alert(1)");
    let a = data.assembly_mut("hub-partecipazione").unwrap();
    a["heroImage"] = json!("data:text/html;base64,PHNjcmlwdD4=");
    data
}

#[tokio::test]
async fn never_stores_private_unpublished_or_active_content() {
    for version in [Version::V0_26, Version::V0_30Dev2025_01] {
        let fake = FakeDecidim::start(version, hostile_partecipa(), Faults::default())
            .await
            .unwrap();
        let out = harvest(&fake.url(), "IT").await.result.unwrap();
        let text = serialized(&out);
        assert!(
            !text.contains("riforma-pa-bozza"),
            "{version}: unpublished stored"
        );
        assert!(
            !text.contains("comitato-tecnico-riservato"),
            "{version}: private stored"
        );
        assert_eq!(spaces(&out), 11, "{version}: {:?}", urls(&out));
        // The leaked private meeting is dropped; the withdrawn one always is. (One hidden by
        // moderation leaks through: Decidim's API does not say a meeting is hidden.)
        let ids: Vec<&str> = meetings(&out)
            .iter()
            .map(|r| r.id.upstream_id.as_str())
            .collect();
        assert!(!ids.contains(&"1013") && !ids.contains(&"422"), "{ids:?}");
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("1 private meetings")),
            "{:?}",
            out.warnings
        );
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("private or unpublished")),
            "{:?}",
            out.warnings
        );
        assert_no_active_markup(&out);
        let p = record(&out, Kind::Process, "transizione-ecologica");
        assert_eq!(p.title.get("it"), Some("Transizione ecologica"));
        assert_eq!(p.subtitle.get("it"), Some("Sottotitolo"));
        assert_eq!(p.summary.get("it"), Some("Breve"));
        assert_eq!(p.image_url, None);
        assert!(p.description_html.0["it"].as_str().contains("Testo"));
        assert_eq!(
            record(&out, Kind::Assembly, "hub-partecipazione").image_url,
            None
        );
    }
}

#[tokio::test]
async fn every_bundled_sample_harvests_cleanly() {
    for name in Dataset::sample_names() {
        for version in [Version::V0_26, Version::V0_30Dev2025_01] {
            let data = Dataset::sample(name).unwrap();
            let mut people = Vec::new();
            personal_strings(&serde_json::to_value(&data).unwrap(), false, &mut people);
            let fake = FakeDecidim::start(version, data, Faults::default())
                .await
                .unwrap();
            let out = harvest(&fake.url(), "IT")
                .await
                .result
                .unwrap_or_else(|e| panic!("{name} on {version}: {e}"));
            assert!(!out.records.is_empty(), "{name} on {version}");
            assert_no_active_markup(&out);
            let text = serialized(&out);
            for p in &people {
                assert!(
                    !text.contains(p.as_str()),
                    "{name}: personal data `{p}` stored"
                );
            }
            for r in &out.records {
                r.validate().unwrap();
                assert!(r.url.starts_with(&fake.url()));
            }
        }
    }
}

#[tokio::test]
async fn a_lowered_complexity_limit_is_respected() {
    // An operator lowered 0.28's limit to 150: batches are refused, single pages still fit.
    let mut data = Dataset::sample("partecipa").unwrap();
    data.flags.max_complexity = Some(150);
    let fake = FakeDecidim::start(
        Version::V0_28,
        data,
        Faults {
            field_error: Some("stats".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let out = harvest(&fake.url(), "IT").await.result.unwrap();
    assert_eq!(spaces(&out), 11);
    let budget = record(&out, Kind::Process, "bilancio-partecipativo-2026");
    assert_eq!(budget.activity.budgets, Some(1));
    assert_eq!(budget.activity.meetings, Some(3));
    assert!(
        out.warnings.iter().any(|w| w.contains("complexity of 150")),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn counting_can_be_switched_off() {
    let fake = FakeDecidim::start(
        Version::V0_26,
        Dataset::sample("partecipa").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let params = DecidimParams {
        count_components: Some(false),
        meetings: Some(false),
        kinds: Some(vec!["process".into()]),
        locales: Some(vec!["en".into()]),
        ..Default::default()
    };
    let out = harvest_with(&fake.url(), "IT", params, CancellationToken::new())
        .await
        .result
        .unwrap();
    assert!(out.records.iter().all(|r| r.id.kind == Kind::Process));
    let budget = record(&out, Kind::Process, "bilancio-partecipativo-2026");
    assert_eq!(budget.activity.budgets, None);
    assert_eq!(budget.title.get("it"), None);
    assert_eq!(budget.title.get("en"), Some("Participatory budget 2026"));
    assert!(fake.api_requests().iter().all(|r| {
        let op = r.operation_name.as_deref().unwrap_or("");
        !op.starts_with("Count") && op != "Meetings"
    }));
}

#[tokio::test]
async fn a_transient_500_is_retried_and_the_run_succeeds() {
    let fake = FakeDecidim::start(
        Version::V0_27,
        Dataset::sample("partecipa").unwrap(),
        Faults {
            fail_nth: Some(5),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let out = harvest(&fake.url(), "IT").await.result.unwrap();
    assert_eq!(spaces(&out), 11);
    assert!(fake.api_requests().iter().any(|r| r.status == 500));
}

fn assert_names_url(e: &ConnectorError, url: &str) {
    let msg = e.to_string();
    assert!(msg.contains(&format!("{url}/api")), "{msg}");
}

#[tokio::test]
async fn html_or_truncated_answers_fail_the_run_naming_the_url() {
    for faults in [
        Faults {
            html_instead_of_json: true,
            ..Default::default()
        },
        Faults {
            truncate_json: true,
            ..Default::default()
        },
    ] {
        let fake = FakeDecidim::start(
            Version::V0_28,
            Dataset::sample("partecipa").unwrap(),
            faults.clone(),
        )
        .await
        .unwrap();
        let e = harvest(&fake.url(), "IT").await.result.unwrap_err();
        assert_names_url(&e, &fake.url());
        let msg = e.to_string();
        if faults.html_instead_of_json {
            assert!(msg.contains("expected JSON"), "{msg}");
        } else {
            assert!(msg.contains("malformed JSON"), "{msg}");
        }
    }
}

/// A server that answers every request with a 500 page.
async fn always_500() -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        // Bounded: a test never needs more than a few dozen connections.
        for _ in 0..64 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 65536];
            let _ = sock.read(&mut buf).await;
            let body = "<html><body><h1>We're sorry, but something went wrong.</h1></body></html>";
            let resp = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (url, handle)
}

#[tokio::test]
async fn persistent_500s_fail_the_run_naming_the_url() {
    let (url, server) = always_500().await;
    let e = harvest(&url, "IT").await.result.unwrap_err();
    assert_names_url(&e, &url);
    assert!(e.to_string().contains("500"), "{e}");
    server.abort();
}

#[tokio::test]
async fn an_unreachable_platform_fails_the_run_naming_the_url() {
    // Bind then drop: nothing listens on that port any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}");
    let e = harvest(&url, "IT").await.result.unwrap_err();
    assert_names_url(&e, &url);
}

#[tokio::test]
async fn a_cancelled_run_stops() {
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let run = harvest_with(&fake.url(), "IT", DecidimParams::default(), cancel).await;
    assert!(matches!(run.result, Err(ConnectorError::Cancelled)));
    assert!(fake.api_requests().is_empty());
}

#[tokio::test]
async fn emilia_romagna_and_puglia_scopes_become_istat_codes() {
    for version in Version::ALL {
        let fake = FakeDecidim::start(
            version,
            Dataset::sample("emilia-romagna").unwrap(),
            Faults::default(),
        )
        .await
        .unwrap();
        let out = harvest(&fake.url(), "08").await.result.unwrap();
        assert!(out.warnings.is_empty(), "{version}: {:?}", out.warnings);
        let t = |slug| record(&out, Kind::Process, slug).territory.clone();
        let bologna = t("piano-urbanistico-bologna");
        assert_eq!(bologna.comune.as_deref(), Some("037006"), "{version}");
        assert_eq!(bologna.region.as_deref(), Some("08"));
        assert_eq!(bologna.scope_name.get("it"), Some("Comune di Bologna"));
        assert_eq!(t("forli-centro-storico").comune.as_deref(), Some("040012"));
        assert_eq!(
            t("reggio-emilia-quartieri-bene-comune").comune.as_deref(),
            Some("035033")
        );
        // Not an ISTAT name: the source's region stays, the scope name is kept.
        let union = t("bassa-romagna-bilancio-partecipativo");
        assert_eq!((union.region.as_deref(), union.comune), (Some("08"), None));
        assert!(union.scope_name.get("it").is_some());
        let region = t("legge-partecipazione-rer");
        assert_eq!(
            (region.region.as_deref(), region.comune),
            (Some("08"), None)
        );
        assert!(!serialized(&out).contains("modena-bozza-interna"));
        assert!(!serialized(&out).contains("gruppo-lavoro-riservato"));
        assert_eq!(
            record(&out, Kind::Process, "piano-urbanistico-bologna")
                .promoter
                .get("it"),
            Some("PartecipAzioni")
        );
    }
    let fake = FakeDecidim::start(
        Version::V0_30Dev2025_01,
        Dataset::sample("puglia").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let out = harvest(&fake.url(), "16").await.result.unwrap();
    let t = |slug| record(&out, Kind::Process, slug).territory.clone();
    assert_eq!(
        t("bari-mobilita-sostenibile").comune.as_deref(),
        Some("072006")
    );
    assert_eq!(
        t("lecce-centro-storico-unesco").comune.as_deref(),
        Some("075035")
    );
    assert_eq!(t("piano-paesaggistico-costa").region.as_deref(), Some("16"));
    assert!(!serialized(&out).contains("foggia-bozza"));
    assert!(!serialized(&out).contains("cabina-regia-riservata"));
}

#[tokio::test]
async fn the_hostile_sample_is_defused() {
    for version in Version::ALL {
        let fake = FakeDecidim::start(
            version,
            Dataset::sample("hostile").unwrap(),
            Faults::default(),
        )
        .await
        .unwrap();
        let out = harvest(&fake.url(), "IT").await.result.unwrap();
        let text = serialized(&out);
        assert_no_active_markup(&out);
        assert!(!text.contains("processo-non-pubblicato"), "{version}");
        assert!(!text.contains("assemblea-riservata"), "{version}");
        // Empty titles in every locale: skipped and counted, not stored.
        assert!(!text.contains("testi-vuoti"), "{version}");
        assert!(out.failed >= 1, "{version}");
        // Inverted dates: the end date is dropped, the record kept.
        let inverted = record(&out, Kind::Process, "date-invertite");
        assert_eq!(inverted.end_date, None);
        // German only: the record falls back to German.
        assert_eq!(
            record(&out, Kind::Process, "solo-tedesco").default_locale,
            "de"
        );
        let script = record(&out, Kind::Process, "processo-con-script");
        assert!(!script.promoter.is_empty());
        assert!(script
            .promoter
            .iter()
            .all(|(_, t)| !t.contains('<') && !t.contains("alert")));
        for r in &out.records {
            r.validate().unwrap();
        }
        // The API has no `privateSpace` on processes, so a private process that a misconfigured
        // instance lists cannot be told apart through it ("processo-privato" in this sample).
    }
}

#[tokio::test]
async fn rate_limits_are_honoured() {
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults {
            rate_limit_first: 2,
            retry_after_secs: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let out = harvest(&fake.url(), "IT").await.result.unwrap();
    assert_eq!(spaces(&out), 11);
    let logged = fake.api_requests();
    assert_eq!(logged.iter().filter(|r| r.status == 429).count(), 2);
    // Retry-After: 1 was waited out each time.
    assert!(started.elapsed() >= Duration::from_secs(2));
    let gap = logged[1].at.duration_since(logged[0].at);
    assert!(gap >= Duration::from_millis(950), "{gap:?}");
}

#[tokio::test]
async fn meetings_are_harvested_on_every_version_without_people() {
    let data = Dataset::sample("partecipa").unwrap();
    let mut people = Vec::new();
    personal_strings(&serde_json::to_value(&data).unwrap(), false, &mut people);
    let mut requests = Vec::new();
    for version in Version::ALL {
        let fake = FakeDecidim::start(version, data.clone(), Faults::default())
            .await
            .unwrap();
        let base = fake.url();
        let out = harvest(&base, "IT").await.result.unwrap();
        assert!(
            out.complete && out.warnings.is_empty(),
            "{version}: {:?}",
            out.warnings
        );
        let ms = meetings(&out);
        let mut ids: Vec<&str> = ms.iter().map(|r| r.id.upstream_id.as_str()).collect();
        ids.sort();
        // Withdrawn (422), private (1013) and hidden (424) meetings are absent.
        assert_eq!(
            ids,
            ["1011", "1012", "131", "132", "133", "421", "423", "521", "522"],
            "{version}"
        );
        let m = ms.iter().find(|r| r.id.upstream_id == "421").unwrap();
        assert_eq!(m.id.to_string(), "partecipa:meeting:421");
        assert_eq!(
            m.url,
            format!("{base}/processes/piano-governo-aperto-6/f/42/meetings/421")
        );
        assert_eq!(
            m.start_time.map(|t| t.to_rfc3339()).as_deref(),
            Some("2029-01-15T10:00:00+01:00")
        );
        assert_eq!(
            m.start_date.map(|d| d.to_string()).as_deref(),
            Some("2029-01-15")
        );
        assert_eq!(
            m.meeting.as_ref().and_then(|d| d.mode),
            Some(snodo_model::MeetingMode::Hybrid)
        );
        let parent = m.parent.as_ref().unwrap();
        assert_eq!(parent.id.to_string(), "partecipa:process:4");
        assert!(parent.title.get("it").is_some());
        // a national process's meeting is where its address says: Rome
        assert_eq!(
            (m.territory.comune.as_deref(), m.territory.region.as_deref()),
            (Some("058091"), Some("12")),
            "placed by its address"
        );
        let online = ms.iter().find(|r| r.id.upstream_id == "423").unwrap();
        assert!(
            online.territory.national,
            "no address: inherited from the process"
        );
        let en = ms.iter().find(|r| r.id.upstream_id == "423").unwrap();
        assert_eq!(en.default_locale, "en");
        assert_eq!(en.title.get("en"), Some("Open Government Week: online Q&A"));
        let hub = ms.iter().find(|r| r.id.upstream_id == "1011").unwrap();
        assert!(hub.url.starts_with(&format!(
            "{base}/assemblies/hub-partecipazione/f/101/meetings/"
        )));
        let text = serialized(&out);
        for p in &people {
            assert!(!text.contains(p.as_str()), "{version}: `{p}` stored");
        }
        // Every meetings request fits half the budget and asks for no person.
        let sent: Vec<_> = fake
            .api_requests()
            .into_iter()
            .filter(|r| r.operation_name.as_deref() == Some("Meetings"))
            .collect();
        for req in &sent {
            let c = snodo_fake_decidim::complexity(version, &req.query, &req.variables).unwrap();
            assert!(c * 2 <= version.default_max_complexity(), "{version}: {c}");
            let code: String = req
                .query
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect();
            assert!(!code.contains("author") && !code.contains("registrations"));
        }
        requests.push((version, sent.len()));
    }
    eprintln!("Meetings requests per harvest of `partecipa`: {requests:?}");
    // 4 Meetings components; pages of 6 on 0.26, so 0.26 needs no fewer requests.
    assert!(requests.iter().all(|(_, n)| *n >= 4), "{requests:?}");
}

#[tokio::test]
async fn meetings_page_through_small_budgets_and_can_be_switched_off() {
    let mut data = Dataset::sample("partecipa").unwrap();
    data.flags.max_complexity = Some(60);
    let fake = FakeDecidim::start(Version::V0_28, data, Faults::default())
        .await
        .unwrap();
    let params = DecidimParams {
        max_complexity: Some(60),
        ..Default::default()
    };
    let out = harvest_with(&fake.url(), "IT", params, CancellationToken::new())
        .await
        .result
        .unwrap();
    // Pages of one meeting: every meeting is still read, through cursors.
    assert_eq!(meetings(&out).len(), 9, "{:?}", out.warnings);
    let pages = fake
        .api_requests()
        .iter()
        .filter(|r| r.operation_name.as_deref() == Some("Meetings"))
        .count();
    assert!(pages >= 9, "{pages}");

    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let params = DecidimParams {
        meetings: Some(false),
        ..Default::default()
    };
    let out = harvest_with(&fake.url(), "IT", params, CancellationToken::new())
        .await
        .result
        .unwrap();
    assert!(meetings(&out).is_empty());
    assert_eq!(spaces(&out), 11);
}
