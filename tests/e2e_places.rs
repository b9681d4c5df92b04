//! End to end, near me: fake Decidim platforms whose scopes name comuni (a bilingual one among
//! them), a metropolitan city, regions and Italy → `snodo harvest` → place, method and period
//! searches over HTTP through the real `snodo serve`, with their facets and counts above, and
//! the feeds following the same filters.

mod support;

use serde_json::{json, Value};
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

fn scope(names: &[(&str, &str)]) -> Value {
    let translations: Vec<Value> = names
        .iter()
        .map(|(l, t)| json!({"locale": l, "text": t, "machineTranslated": false}))
        .collect();
    json!({"id": "90", "name": {"translations": translations}, "children": [], "parent": null})
}

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn near_me_by_comune_province_region_or_name_with_what_concerns_it_from_above() {
    let mut emr = Dataset::sample("emilia-romagna").expect("sample");
    // A process of Merano, named as South Tyrol's platforms name it.
    emr.process_mut("forli-centro-storico").expect("process")["scope"] = scope(&[
        ("it", "Comune di Merano - Gemeinde Meran"),
        ("de", "Gemeinde Meran"),
    ]);
    // One of the metropolitan city of Bologna as a whole.
    emr.process_mut("parma-clima").expect("process")["scope"] =
        scope(&[("it", "Città metropolitana di Bologna")]);
    let regional = FakeDecidim::start(Version::V0_28, emr, Faults::default())
        .await
        .expect("fake platform");
    let national = FakeDecidim::start(
        Version::V0_27,
        Dataset::sample("partecipa").expect("sample"),
        Faults::default(),
    )
    .await
    .expect("fake platform");
    let env = Env::with_server(
        "rate_limit_per_minute = 0\nsearch_cache_entries = 0",
        &format!(
            "{}[sources.topics]\n\"centro storico\" = \"EDUC\"\n\n{}",
            source_toml("emr", &regional.url(), None),
            source_toml("partecipa", &national.url(), Some("IT")),
        ),
    );
    let out = env.run(&["harvest"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let server = env.serve();
    let http = Http::new();
    let get = |path: &str| {
        let url = server.url(path);
        let http = &http;
        async move { http.get(&url).await }
    };
    let spaces = "&kind=process&limit=100";

    // Merano by code, by either name, and inside its province and region.
    let merano = get(&format!("/api/v1/search?comune=021051{spaces}"))
        .await
        .json();
    assert_eq!(ids(&merano), ["emr:process:102"], "{merano:#}");
    assert_eq!(merano["items"][0]["comune_name"], "Merano");
    assert_eq!(merano["items"][0]["province"], "021");
    for q in [
        "place=Meran",
        "place=Merano",
        "province=BZ&region=04&place=Merano",
    ] {
        let r = get(&format!("/api/v1/search?{q}{spaces}")).await.json();
        assert_eq!(ids(&r), ["emr:process:102"], "{q}: {r:#}");
    }

    // Bologna: its own process; the metropolitan city's, the region's and national ones above.
    let bologna = get(&format!("/api/v1/search?place=Bologna{spaces}"))
        .await
        .json();
    assert_eq!(ids(&bologna), ["emr:process:101"], "{bologna:#}");
    let above = &bologna["above"];
    assert_eq!(above["province"], 1, "{above:#}");
    assert!(above["region"].as_u64().unwrap() >= 1, "{above:#}");
    let national = above["national"].as_u64().unwrap();
    assert!(
        national >= 1,
        "a national process concerns Bologna too: {above:#}"
    );
    let all = get(&format!("/api/v1/search?comune=037006&scope=all{spaces}"))
        .await
        .json();
    assert_eq!(
        all["total"].as_u64().unwrap(),
        1 + above["total"].as_u64().unwrap(),
        "{all:#}"
    );
    assert!(ids(&all).contains(&"emr:process:105".to_owned()));
    assert!(all["above"].is_null());

    // The province holds the comune and itself; the region everything of Emilia-Romagna.
    let bo = get(&format!("/api/v1/search?province=237{spaces}"))
        .await
        .json();
    assert_eq!(ids(&bo), ["emr:process:101", "emr:process:105"], "{bo:#}");
    for p in ["province=037", "province=bo", "place=BO"] {
        let r = get(&format!("/api/v1/search?{p}{spaces}")).await.json();
        assert_eq!(ids(&r), ids(&bo), "{p}");
    }
    let region = get(&format!("/api/v1/search?region=08{spaces}"))
        .await
        .json();
    assert!(ids(&region).contains(&"emr:process:106".to_owned()));
    assert!(
        !ids(&region).contains(&"emr:process:102".to_owned()),
        "Merano is not in Emilia-Romagna"
    );
    assert_eq!(region["above"]["national"].as_u64(), Some(national));

    // How to take part: a filter and a facet.
    let all_methods = get("/api/v1/search?limit=1").await.json();
    let facet = &all_methods["facets"]["method"];
    assert!(facet["proposals"].as_u64().unwrap() >= 3, "{facet:#}");
    let budgets = get("/api/v1/search?method=budgets&limit=100").await.json();
    assert_eq!(
        budgets["total"].as_u64(),
        facet["budgets"].as_u64(),
        "{budgets:#}"
    );
    for item in budgets["items"].as_array().unwrap() {
        assert!(
            item["methods"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "budgets"),
            "{item:#}"
        );
    }

    // National topics: a facet, a filter, labels on each item, and the operator's own rule.
    let topics = all_methods["facets"]["topic"]
        .as_object()
        .expect("topic facet")
        .clone();
    assert!(topics.len() >= 5, "{topics:#?}");
    for (code, n) in &topics {
        let r = get(&format!("/api/v1/search?topic={code}&limit=100"))
            .await
            .json();
        assert_eq!(&r["total"], n, "{code}");
        for item in r["items"].as_array().unwrap() {
            let t = item["topics"].as_array().unwrap();
            assert!(
                t.iter()
                    .any(|t| t["code"] == *code && t["it"].is_string() && t["en"].is_string()),
                "{item:#}"
            );
        }
    }
    let parma = get("/api/v1/search?topic=ENVI&kind=process").await.json();
    assert!(
        ids(&parma).contains(&"emr:process:105".to_owned()),
        "Parma per il clima: {parma:#}"
    );
    let rule = get("/api/v1/search?topic=EDUC&kind=process&comune=021051")
        .await
        .json();
    assert_eq!(
        ids(&rule),
        ["emr:process:102"],
        "the operator's rule: {rule:#}"
    );

    // Mistakes: 400 problems that name the parameter and the way out.
    for (q, param, says) in [
        (
            "place=Castro",
            "place",
            "Castro (LE, Puglia; comune=075096)",
        ),
        ("comune=037999", "comune", "037001"),
        ("province=ZZ", "province", "sigla"),
        ("comune=037006&region=16", "region", "Bologna"),
        ("method=voting", "method", "budgets"),
        ("topic=MOBILITY", "topic", "TRAN (Trasporti)"),
        ("place=40033", "place", "postal code (CAP)"),
        ("open_on=2027-02-30", "open_on", "YYYY-MM-DD"),
    ] {
        let a = get(&format!("/api/v1/search?{q}")).await;
        assert_eq!(a.status, 400, "{q}: {}", a.text);
        assert!(
            a.content_type.starts_with("application/problem+json"),
            "{q}"
        );
        let p = a.json();
        assert_eq!(p["parameter"], param, "{q}");
        assert!(p["detail"].as_str().unwrap().contains(says), "{q}: {p:#}");
    }

    // The public page, without JavaScript: the place field, and what else concerns the place.
    let page = get("/?place=Bologna&kind=process").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text
            .contains("id=\"f-place\" name=\"place\" value=\"Bologna\""),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("riguardano anche questo territorio"),
        "{}",
        page.text
    );
    assert!(page.text.contains("scope=all"), "{}", page.text);
    let en = get("/en/?place=Meran").await;
    assert_eq!(en.status, 200);
    // … and the map of the comuni of its region, where Merano is marked
    assert!(
        en.text
            .contains("Open processes by comune: Trentino-Alto Adige"),
        "{}",
        en.text
    );
    assert_eq!(en.text.matches(" sel\"").count(), 1, "{}", en.text);

    // The search says which place it understood.
    let meran = get("/api/v1/search?place=Meran&limit=1").await.json();
    assert_eq!(
        meran["place"],
        serde_json::json!({"level": "comune", "code": "021051", "name": "Merano/Meran",
            "sigla": "BZ", "province": "021", "region": "04"})
    );
    let bo = get("/api/v1/search?province=BO&limit=1").await.json();
    assert_eq!(
        (bo["place"]["level"].as_str(), bo["place"]["code"].as_str()),
        (Some("province"), Some("237"))
    );
    assert!(get("/api/v1/search?q=bilancio&limit=1").await.json()["place"].is_null());
    // The embed page turns a place, submitted without JavaScript, into the attribute of its level.
    let embed = get("/embed?place=Casalecchio+di+Reno&topic=TRAN&method=budgets").await;
    assert_eq!(embed.status, 200);
    assert!(
        embed.text.contains("&#60;snodo-search comune=&#34;037011&#34; topic=&#34;TRAN&#34; method=&#34;budgets&#34;&#62;"),
        "{}",
        embed.text
    );
    assert!(embed
        .text
        .contains("id=\"e-place\" name=\"place\" value=\"037011\""));
    let bad = get("/?place=Castro").await;
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("Castro (LE, Puglia"), "{}", bad.text);

    // The feeds take the same filters: one subscription for "my comune".
    let atom = get("/feeds/open.atom?place=Bologna&scope=all").await;
    assert_eq!(atom.status, 200, "{}", atom.text);
    let ics = get("/feeds/meetings.ics?province=BO&topic=REGI").await;
    assert_eq!(ics.status, 200, "{}", ics.text);
    assert!(ics.text.starts_with("BEGIN:VCALENDAR"));
    drop(server);
}
