//! End to end: fake Decidim platforms on loopback (one per API version) → the real `snodo` binary
//! (harvest, serve, search, reindex) → the HTTP API, asserting what a user would see.

mod support;

use serde_json::Value;
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

fn title_of(space: &Value) -> String {
    space["title"]["translations"]
        .as_array()
        .and_then(|t| t.iter().find(|x| x["locale"] == "it").or(t.first()))
        .and_then(|x| x["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// A distinctive plain word of a title (the longest alphabetic one).
fn word_of(title: &str) -> String {
    title
        .split(|c: char| !c.is_alphabetic())
        .max_by_key(|w| w.chars().count())
        .unwrap_or_default()
        .to_lowercase()
}

async fn start(version: Version, sample: &str) -> FakeDecidim {
    let data = Dataset::sample(sample).unwrap_or_else(|| panic!("sample {sample}"));
    FakeDecidim::start(version, data, Faults::default())
        .await
        .expect("fake platform")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn harvest_three_platforms_then_search_over_http() {
    let partecipa = start(Version::V0_28, "partecipa").await;
    let emr = start(Version::V0_26, "emilia-romagna").await;
    let puglia = start(Version::V0_30Dev2025_01, "puglia").await;
    let env = Env::new(&format!(
        "{}{}{}",
        source_toml("partecipa", &partecipa.url(), Some("IT")),
        source_toml("emr", &emr.url(), Some("08")),
        source_toml("puglia", &puglia.url(), Some("16")),
    ));

    let out = env.run(&["harvest"]);
    let summary = stdout(&out);
    assert!(
        out.status.success(),
        "harvest failed:\n{summary}\n{}",
        stderr(&out)
    );
    for id in ["partecipa", "emr", "puglia"] {
        let line = summary
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} missing in\n{summary}"));
        assert!(
            line.contains("success") || line.contains("partial"),
            "{line}"
        );
    }

    let server = env.serve();
    let http = Http::new();

    // Every visible process of every platform is searchable and has a canonical URL.
    let all = http.get(&server.url("/api/v1/search?limit=100")).await;
    assert_eq!(all.status, 200);
    assert!(all.content_type.starts_with("application/json"));
    let all = all.json();
    let expected: usize = [
        ("partecipa", &partecipa),
        ("emilia-romagna", &emr),
        ("puglia", &puglia),
    ]
    .iter()
    .map(|(s, _)| {
        let d = Dataset::sample(s).unwrap();
        expected_records_of(&d)
    })
    .sum();
    assert_eq!(all["total"].as_u64().unwrap() as usize, expected, "{all}");
    for item in all["items"].as_array().unwrap() {
        let url = item["url"].as_str().unwrap();
        assert!(
            url.contains("/processes/") || url.contains("/assemblies/"),
            "{url}"
        );
        for key in [
            "id",
            "kind",
            "title",
            "summary",
            "source",
            "status",
            "start_date",
            "end_date",
            "region",
        ] {
            assert!(item.get(key).is_some(), "item lacks {key}: {item}");
        }
        assert!(["upcoming", "open", "closed"].contains(&item["status"].as_str().unwrap()));
    }
    assert_inert(&all);

    // Facets count all matches.
    for facet in ["kind", "status", "source"] {
        let sum: u64 = all["facets"][facet]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(sum, all["total"].as_u64().unwrap(), "facet {facet}");
    }

    // Full-text search finds a process by a word of its title, in a search with a typo-free query.
    let d = Dataset::sample("emilia-romagna").unwrap();
    let p = d.visible_processes().next().expect("a process");
    let word = word_of(&title_of(p));
    let found = http
        .get(&server.url(&format!("/api/v1/search?q={word}")))
        .await
        .json();
    assert!(
        found["items"].as_array().unwrap().iter().any(|i| i["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(&word)),
        "searching {word}: {found}"
    );

    // Filters: region and status restrict, and the facets follow.
    let emr_only = http
        .get(&server.url("/api/v1/search?region=08&limit=100"))
        .await
        .json();
    assert!(emr_only["total"].as_u64().unwrap() > 0);
    for i in emr_only["items"].as_array().unwrap() {
        assert_eq!(i["region"], "08", "{i}");
    }
    let open = http
        .get(&server.url("/api/v1/search?status=open&limit=100"))
        .await
        .json();
    for i in open["items"].as_array().unwrap() {
        assert_eq!(i["status"], "open");
    }
    let closing = http
        .get(&server.url("/api/v1/search?sort=closing&status=open&limit=100"))
        .await
        .json();
    let ends: Vec<&str> = closing["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["end_date"].as_str())
        .collect();
    let mut sorted = ends.clone();
    sorted.sort();
    assert_eq!(ends, sorted, "closing sort");

    // One record, all locales; unknown ids are 404 problem+json.
    let first_id = all["items"][0]["id"].as_str().unwrap().to_owned();
    let rec = http
        .get(&server.url(&format!("/api/v1/records/{first_id}")))
        .await;
    assert_eq!(rec.status, 200, "{}", rec.text);
    let rec = rec.json();
    assert!(rec["title"].as_object().is_some_and(|t| !t.is_empty()));
    assert!(rec["first_seen"].is_string() && rec["last_seen"].is_string());
    assert_inert(&rec);
    for missing in [
        "/api/v1/records/partecipa:process:999999",
        "/api/v1/records/nonsense",
    ] {
        let r = http.get(&server.url(missing)).await;
        assert_eq!(r.status, 404, "{missing}");
        assert_eq!(r.content_type, "application/problem+json");
    }

    // Bad parameters: 400 problem+json naming the parameter; never a 500.
    let long_q = format!("/api/v1/search?q={}", "a".repeat(10 * 1024));
    for (path, param) in [
        ("/api/v1/search?limit=100000", "limit"),
        ("/api/v1/search?limit=-1", "limit"),
        ("/api/v1/search?offset=abc", "offset"),
        ("/api/v1/search?status=bogus", "status"),
        ("/api/v1/search?q=%22bilancio", "q"),
        ("/api/v1/search?q=(bilancio", "q"),
        (long_q.as_str(), "q"),
    ] {
        let r = http.get(&server.url(path)).await;
        let shown: String = path.chars().take(80).collect();
        assert_eq!(r.status, 400, "{shown}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json", "{shown}");
        assert_eq!(r.json()["parameter"], param, "{shown}");
    }

    // Sources with their last run.
    let sources = http.get(&server.url("/api/v1/sources")).await.json();
    let sources = sources.as_array().unwrap();
    assert_eq!(sources.len(), 3);
    for s in sources {
        assert!(s["records"].as_u64().unwrap() > 0, "{s}");
        assert!(s["last_run"]["finished_at"].is_string(), "{s}");
        assert!(s["last_run"]["requests"].as_u64().unwrap() > 0, "{s}");
    }

    // OpenAPI, status, metrics, widget.
    let api = http.get(&server.url("/api/v1/openapi.json")).await.json();
    assert!(api["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/search",
        "/api/v1/records/{id}",
        "/api/v1/sources",
        "/status",
    ] {
        assert!(api["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    let st = http.get(&server.url("/status")).await;
    assert_eq!(
        (st.status, st.content_type.as_str()),
        (200, "application/problem+json")
    );
    let metrics = http.get(&server.url("/metrics")).await.text;
    assert!(metrics.contains("snodo_index_documents"), "{metrics}");
    let widget = http.get(&server.url("/widget.js")).await;
    assert_eq!(widget.status, 200);
    assert!(widget.content_type.starts_with("text/javascript"));
    // The /embed snippet's pinned version: the same bytes, cached for good; an unknown one is a 404.
    let embed = http.get(&server.url("/embed")).await.text;
    let pinned = embed
        .split("data-src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the embed page names the pinned widget");
    let p = http.get(&server.url(pinned)).await;
    assert_eq!((p.status, p.text.as_str()), (200, widget.text.as_str()));
    let cache = p.headers.get("cache-control").unwrap().to_str().unwrap();
    assert!(cache.contains("immutable"), "{cache}");
    let unknown = http.get(&server.url("/widget/0123456789abcdef.js")).await;
    assert_eq!(
        (unknown.status, unknown.content_type.as_str()),
        (404, "application/problem+json")
    );

    // The terminal search uses the same engine.
    let out = env.run(&["search", &word]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).to_lowercase().contains(&word),
        "{}",
        stdout(&out)
    );

    // SIGTERM stops cleanly with exit 0.
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_platform_content_is_inert_and_private_spaces_never_stored() {
    let names = Dataset::sample_names();
    let hostile = names
        .iter()
        .find(|n| Dataset::sample(n).is_some_and(|d| d.flags.leak_private))
        .expect("a bundled hostile sample that leaks private spaces");
    let data = Dataset::sample(hostile).unwrap();
    let private_ids: Vec<String> = data
        .assemblies
        .iter()
        .filter(|a| a["privateSpace"] == true && a["isTransparent"] != true)
        .map(|a| {
            a["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| a["id"].to_string())
        })
        .collect();
    assert!(
        !private_ids.is_empty(),
        "the hostile sample should contain a private assembly"
    );
    let fake = FakeDecidim::start(Version::V0_27, data, Faults::default())
        .await
        .unwrap();
    let env = Env::new(&source_toml("hostile", &fake.url(), None));
    let out = env.run(&["harvest", "hostile"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));

    let server = env.serve();
    let http = Http::new();
    let all = http
        .get(&server.url("/api/v1/search?limit=100"))
        .await
        .json();
    assert!(all["total"].as_u64().unwrap() > 0);
    assert_inert(&all);
    for item in all["items"].as_array().unwrap() {
        let rec = http
            .get(&server.url(&format!("/api/v1/records/{}", item["id"].as_str().unwrap())))
            .await
            .json();
        assert_inert(&rec);
        let text = rec.to_string().to_lowercase();
        assert!(
            !text.contains("nickname") && !text.contains("avatar"),
            "personal data in {rec}"
        );
    }
    for id in private_ids {
        let r = http
            .get(&server.url(&format!("/api/v1/records/hostile:assembly:{id}")))
            .await;
        assert_eq!(r.status, 404, "private assembly {id} was stored");
    }
    // Snippets are escaped text with <mark> only.
    let s = http
        .get(&server.url("/api/v1/search?q=script"))
        .await
        .json();
    for i in s["items"].as_array().unwrap() {
        if let Some(snippet) = i["snippet"].as_str() {
            let without_marks = snippet.replace("<mark>", "").replace("</mark>", "");
            assert!(!without_marks.contains('<'), "{snippet}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_source_keeps_its_records_and_never_stops_the_others() {
    let good = start(Version::V0_28, "partecipa").await;
    let flaky = start(Version::V0_27, "puglia").await;
    let env = Env::new(&format!(
        "{}{}",
        source_toml("good", &good.url(), None),
        source_toml("flaky", &flaky.url(), Some("16"))
    ));
    let first = env.run(&["harvest"]);
    assert!(first.status.success(), "{}", stdout(&first));

    let before = {
        let server = env.serve();
        let v = Http::new()
            .get(&server.url("/api/v1/search?source=flaky&limit=100"))
            .await
            .json();
        server.terminate();
        v["total"].as_u64().unwrap()
    };
    assert!(before > 0);

    for faults in [
        Faults {
            html_instead_of_json: true,
            ..Faults::default()
        },
        Faults {
            truncate_json: true,
            ..Faults::default()
        },
        // Rate limited with a Retry-After longer than the configured maximum (300 s).
        Faults {
            rate_limit_first: 1_000_000,
            retry_after_secs: 3600,
            ..Faults::default()
        },
    ] {
        flaky.set_faults(faults.clone());
        let out = env.run(&["harvest", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "a failing source must give exit status 1 ({faults:?}): {}",
            stdout(&out)
        );
        let report: Value = serde_json::from_str(&stdout(&out)).expect("--json output");
        let by_id = |id: &str| {
            report
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["source"] == id)
                .cloned()
                .unwrap()
        };
        assert_eq!(by_id("good")["outcome"], "success", "{report}");
        let bad = by_id("flaky");
        assert_eq!(bad["outcome"], "failed", "{report}");
        let err = bad["error"].as_str().unwrap();
        assert!(err.contains(&flaky.url()), "the error names the URL: {err}");
    }
    // One transient 500 is retried and the run succeeds.
    flaky.set_faults(Faults {
        fail_nth: Some(2),
        ..Faults::default()
    });
    let out = env.run(&["harvest", "--json", "flaky"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report[0]["retries"], 1, "{report}");
    flaky.set_faults(Faults::default());

    let server = env.serve();
    let http = Http::new();
    let after = http
        .get(&server.url("/api/v1/search?source=flaky&limit=100"))
        .await
        .json();
    assert_eq!(
        after["total"].as_u64().unwrap(),
        before,
        "records of a failing source must stay"
    );
    let sources = http.get(&server.url("/api/v1/sources")).await.json();
    let flaky_status = sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "flaky")
        .unwrap()
        .clone();
    assert_eq!(flaky_status["last_run"]["outcome"], "success");
    assert_eq!(flaky_status["health"], "ok");
    let runs = http
        .get(&server.url("/api/v1/sources/flaky/runs?limit=2"))
        .await
        .json();
    assert_eq!(runs["total"], 5);
    assert_eq!(runs["items"][1]["outcome"], "failed", "{runs}");
    assert!(
        runs["items"][1]["error"]
            .as_str()
            .unwrap()
            .contains("Retry-After")
            || runs["items"][1]["error"].as_str().unwrap().contains("wait"),
        "{runs}"
    );
    assert_eq!(runs["items"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletions_changes_and_reindex() {
    let fake = start(Version::V0_28, "partecipa").await;
    let env = Env::new(&source_toml("p", &fake.url(), None));
    assert!(env.run(&["harvest"]).status.success());

    let mut data = Dataset::sample("partecipa").unwrap();
    let procs: Vec<Value> = data.visible_processes().cloned().collect();
    let removed = procs[0].clone();
    let changed = procs[1].clone();
    let removed_id = format!("p:process:{}", removed["id"].as_str().unwrap());
    let changed_id = format!("p:process:{}", changed["id"].as_str().unwrap());
    let meetings_before = visible_meetings(&data).len();
    assert!(data.remove_space(removed["slug"].as_str().unwrap()));
    // The space's meetings go with it.
    let meetings_gone = (meetings_before - visible_meetings(&data).len()) as u64;
    let proc = data.process_mut(changed["slug"].as_str().unwrap()).unwrap();
    proc["title"]["translations"] = serde_json::json!([{"locale": "it", "text": "Zanzibar consultazione rinnovata", "machineTranslated": false}]);
    fake.set_dataset(data);

    let out = env.run(&["harvest", "--json"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report[0]["counts"]["gone"], 1 + meetings_gone, "{report}");
    assert_eq!(report[0]["counts"]["changed"], 1, "{report}");

    let server = env.serve();
    let http = Http::new();
    let rec = http
        .get(&server.url(&format!("/api/v1/records/{removed_id}")))
        .await
        .json();
    assert!(
        rec["gone_at"].is_string(),
        "a removed record keeps its history with gone_at: {rec}"
    );
    let hits = http
        .get(&server.url("/api/v1/search?limit=100"))
        .await
        .json();
    assert!(
        !hits["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == removed_id.as_str()),
        "gone records leave search"
    );
    let z = http
        .get(&server.url("/api/v1/search?q=zanzibar"))
        .await
        .json();
    assert_eq!(z["items"][0]["id"], changed_id.as_str());
    drop(server);

    // The index is derived: a rebuild gives the same answers — the same records, total and
    // facets. Not always in the same order: until its segments merge, an index updated in place
    // still counts the replaced versions of changed records in its BM25 statistics, so two
    // near-equal scores can swap.
    let answer = |o: &std::process::Output| {
        let v: Value = serde_json::from_str(&stdout(o)).expect("search --json");
        let mut ids: Vec<String> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .collect();
        ids.sort();
        (v["total"].clone(), v["facets"].clone(), ids)
    };
    let before = env.run(&["search", "--json", "--limit", "100", "consultazione"]);
    let out = env.run(&["reindex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = env.run(&["search", "--json", "--limit", "100", "consultazione"]);
    assert_eq!(answer(&before), answer(&after));
    // And a deleted index directory is rebuilt at start: then exactly the same answer.
    std::fs::remove_dir_all(env.data_dir().join("index")).unwrap();
    let again = env.run(&["search", "--json", "--limit", "100", "consultazione"]);
    assert_eq!(stdout(&after), stdout(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeated_search_is_answered_from_memory_until_the_index_changes() {
    let fake = start(Version::V0_28, "partecipa").await;
    let env = Env::new("");
    // Only the admin trigger starts runs once serving.
    env.write_config(&format!(
        "{}schedule = \"0 0 0 1 1 *\"\n",
        source_toml("p", &fake.url(), None)
    ));
    assert!(env.run(&["harvest"]).status.success());
    let server = env.serve();
    let http = Http::new();
    let cache_hits = || async {
        let m = http.get(&server.url("/metrics")).await.text;
        m.lines()
            .find(|l| l.starts_with("snodo_search_cache_total{outcome=\"hit\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let url = server.url("/api/v1/search?q=zanzibar&limit=5");
    let first = http.get(&url).await;
    assert_eq!(first.json()["total"], 0);
    let hits_before = cache_hits().await;
    // The same search with its parameters in another order is the same answer, from memory.
    let again = http
        .get(&server.url("/api/v1/search?limit=5&q=zanzibar"))
        .await;
    assert_eq!(again.text, first.text);
    assert_eq!(cache_hits().await, hits_before + 1);

    // The platform renames a process; a harvest changes the index.
    let mut data = Dataset::sample("partecipa").unwrap();
    let slug = data.visible_processes().next().unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let proc = data.process_mut(&slug).unwrap();
    proc["title"]["translations"] = serde_json::json!([{"locale": "it", "text": "Zanzibar consultazione rinnovata", "machineTranslated": false}]);
    fake.set_dataset(data);
    let trigger = http
        .send(
            http.client()
                .post(server.url("/api/v1/sources/p/harvest"))
                .bearer_auth("test-token"),
        )
        .await;
    assert_eq!(trigger.status, 202, "{}", trigger.text);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let s = http.get(&server.url("/api/v1/sources")).await.json();
        // The process changed, and its meetings (which name it) with it.
        let changed = s[0]["last_run"]["changed"].as_u64().unwrap_or(0);
        if s[0]["last_run"]["outcome"] == "success" && changed >= 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no run finished: {s}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The index is committed right after the store; the answer follows it, never the old one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = http.get(&url).await.json();
        if now["total"] == 1 {
            assert!(now["items"][0]["title"]
                .as_str()
                .unwrap()
                .starts_with("Zanzibar"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cached answer outlived the change: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_space_after_the_last_word_says_it_is_finished() {
    let mut data = Dataset::sample("partecipa").unwrap();
    let slugs: Vec<String> = data
        .visible_processes()
        .take(2)
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect();
    for (slug, title) in slugs
        .iter()
        .zip(["Zanzibar in comune", "Zanzibarwood in festa"])
    {
        data.process_mut(slug).unwrap()["title"]["translations"] =
            serde_json::json!([{"locale": "it", "text": title, "machineTranslated": false}]);
    }
    let fake = FakeDecidim::start(Version::V0_28, data, Faults::default())
        .await
        .expect("fake platform");
    let env = Env::new(&source_toml("p", &fake.url(), None));
    assert!(env.run(&["harvest"]).status.success());
    let server = env.serve();
    let http = Http::new();
    let titles = |q: &'static str| {
        let url = server.url(&format!("/api/v1/search?kind=process&q={q}"));
        let http = &http;
        async move {
            let found = http.get(&url).await.json();
            let mut titles: Vec<String> = found["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["title"].as_str().unwrap().to_owned())
                .collect();
            titles.sort();
            titles
        }
    };
    // Still typing: the word and its completions.
    assert_eq!(
        titles("zanzibar").await,
        ["Zanzibar in comune", "Zanzibarwood in festa"]
    );
    // A space typed after it: that word only, however the space is written.
    for q in ["zanzibar+", "zanzibar%20", "+zanzibar%20%20"] {
        assert_eq!(titles(q).await, ["Zanzibar in comune"], "{q}");
    }
    assert!(server.terminate().success());
}

#[test]
fn bad_configuration_is_one_line_per_problem_naming_file_and_key() {
    let env = Env::new("[[sources]]\nid = \"a\"\nname = \"A\"\nkind = \"decidim\"\nurl = \"https://a.it\"\nschedule = \"ogni giorno\"\n\n[[sources]]\nid = \"a\"\nname = \"B\"\nkind = \"decidim\"\nurl = \"https://b.it\"\ncolour = \"red\"\n");
    let out = env.run(&["sources"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let path = env.config_path().display().to_string();
    assert!(
        err.contains(&format!(
            "{path}: sources[0] (`a`).schedule: invalid cron expression"
        )),
        "{err}"
    );
    assert!(err.contains("duplicate source id `a`"), "{err}");
    assert!(err.contains("colour"), "{err}");

    std::fs::write(
        env.config_path(),
        "[storage]\ndata_dir = \"x\"\nwhatever = 1\n",
    )
    .unwrap();
    let err = stderr(&env.run(&["sources"]));
    assert!(err.contains("line 3") && err.contains("whatever"), "{err}");

    std::fs::write(
        env.config_path(),
        "[storage]\ndata_dir = \"/proc/snodo-cannot-write-here\"\n",
    )
    .unwrap();
    let out = env.run(&["sources"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("data directory"), "{}", stderr(&out));
}
