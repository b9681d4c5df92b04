//! Harvesting an operator can trust: the fault matrix (rate limits, hangs, crashes), politeness as
//! seen from the platform's side, the admin trigger, and recovery after SIGKILL.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

fn expected_records(sample: &str) -> u64 {
    let d = Dataset::sample(sample).unwrap();
    expected_records_of(&d) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_is_honoured_and_a_host_never_sees_two_requests_at_once() {
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults {
            rate_limit_first: 2,
            retry_after_secs: 1,
            ..Faults::default()
        },
    )
    .await
    .unwrap();
    // Two sources on the same host, harvested in parallel.
    let env = Env::new("");
    env.write_config_with(
        "max_retries = 3\nmax_concurrent_sources = 2\nper_host_concurrency = 1\n",
        &format!(
            "{}{}",
            source_toml("one", &fake.url(), None),
            source_toml("two", &fake.url(), None)
        ),
    );
    let out = env.run(&["harvest", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let retries: u64 = report
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["retries"].as_u64().unwrap())
        .sum();
    assert_eq!(retries, 2, "both 429s were retried: {report}");

    let log = fake.api_requests();
    assert_eq!(fake.max_in_flight(), 1, "the host saw concurrent requests");
    for pair in log.windows(2) {
        if pair[0].status == 429 {
            let gap = pair[1].at.duration_since(pair[0].at);
            assert!(
                gap >= Duration::from_millis(990),
                "a request came {gap:?} after a 429 with Retry-After: 1"
            );
        }
    }
    for id in ["one", "two"] {
        let r = report
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["source"] == id)
            .unwrap();
        assert_eq!(
            r["counts"]["seen"].as_u64().unwrap(),
            expected_records("partecipa"),
            "{r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_platform_times_out_with_a_clear_error() {
    let fake = FakeDecidim::start(
        Version::V0_27,
        Dataset::sample("puglia").unwrap(),
        Faults {
            delay_ms: 3_000,
            ..Faults::default()
        },
    )
    .await
    .unwrap();
    let env = Env::new("");
    env.write_config_with(
        "request_timeout_secs = 1\nmax_retries = 1\n",
        &source_toml("slow", &fake.url(), None),
    );
    let started = Instant::now();
    let out = env.run(&["harvest", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let err = report[0]["error"].as_str().unwrap();
    assert!(
        err.contains("no complete answer within 1s") && err.contains(&fake.url()),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the run must give up, not hang"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_trigger_and_recovery_after_sigkill_mid_harvest() {
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults {
            delay_ms: 400,
            ..Faults::default()
        },
    )
    .await
    .unwrap();
    let env = Env::new("");
    // A schedule far in the future: only the trigger starts runs. (The first start runs once.)
    env.write_config(&format!(
        "{}schedule = \"0 0 0 1 1 *\"\n",
        source_toml("p", &fake.url(), None)
    ));
    // Mark the source as harvested once so the start-up catch-up run does not fire.
    fake.set_faults(Faults::default());
    assert!(env.run(&["harvest"]).status.success());
    fake.set_faults(Faults {
        delay_ms: 400,
        ..Faults::default()
    });
    fake.clear_requests();

    let server = env.serve();
    let http = Http::new();
    let trigger = |base: &str, token: Option<&str>| {
        let mut req = http
            .client()
            .post(format!("{base}/api/v1/sources/p/harvest"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req
    };
    let base = server.base.clone();
    assert_eq!(http.send(trigger(&base, None)).await.status, 401);
    assert_eq!(http.send(trigger(&base, Some("wrong"))).await.status, 403);
    let unknown = http
        .send(
            http.client()
                .post(server.url("/api/v1/sources/nope/harvest"))
                .bearer_auth("test-token"),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let started = http.send(trigger(&base, Some("test-token"))).await;
    assert_eq!(started.status, 202, "{}", started.text);
    let again = http.send(trigger(&base, Some("test-token"))).await;
    assert_eq!(
        again.status, 409,
        "a second run of a running source is refused"
    );
    assert_eq!(again.content_type, "application/problem+json");

    // Kill the server in the middle of the run.
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.api_requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the triggered run never reached the platform"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    // Restart: the store is intact, the killed run is recorded as abandoned, nothing duplicated.
    fake.set_faults(Faults::default());
    let server = env.serve();
    let sources = http.get(&server.url("/api/v1/sources")).await.json();
    assert_eq!(sources[0]["last_run"]["outcome"], "abandoned", "{sources}");
    assert_eq!(
        sources[0]["records"].as_u64().unwrap(),
        expected_records("partecipa")
    );

    assert_eq!(
        http.send(trigger(&server.base, Some("test-token")))
            .await
            .status,
        202
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = http.get(&server.url("/api/v1/sources")).await.json();
        if s[0]["last_run"]["outcome"] == "success" {
            assert_eq!(
                s[0]["last_run"]["unchanged"].as_u64().unwrap(),
                expected_records("partecipa"),
                "{s}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the triggered run did not finish: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = http
        .get(&server.url("/api/v1/search?limit=100"))
        .await
        .json();
    let ids: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "duplicates in search");
    assert_eq!(
        all["total"].as_u64().unwrap(),
        expected_records("partecipa")
    );
    let runs = http.get(&server.url("/api/v1/sources/p/runs")).await.json();
    let outcomes: Vec<&str> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["success", "abandoned", "success"]);
    let _ = http.get(&server.url("/no-such-thing")).await;
    let metrics = http.get(&server.url("/metrics")).await.text;
    // every family says what it counts
    let types: Vec<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert!(types.len() >= 10, "{metrics}");
    for name in &types {
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "no HELP for {name}:\n{metrics}"
        );
    }
    for family in [
        "snodo_source_records{",
        "snodo_harvest_requests_total{",
        "snodo_harvest_last_success_timestamp_seconds{source=\"p\"}",
        // incoming requests by route template, and unknown paths as one route
        "snodo_http_requests_total{route=\"/api/v1/search\",method=\"GET\",status=\"200\"}",
        "snodo_http_requests_total{route=\"/api/v1/sources/{id}/runs\",method=\"GET\",status=\"200\"}",
        "snodo_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}",
        "snodo_http_request_duration_seconds_bucket{route=\"/api/v1/search\",le=",
        "snodo_index_lag_changes 0",
    ] {
        assert!(metrics.contains(family), "{family}:\n{metrics}");
    }
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_index_catches_up_after_a_crash_between_store_and_index_commits() {
    let fake = FakeDecidim::start(
        Version::V0_26,
        Dataset::sample("emilia-romagna").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let env = Env::new(&source_toml("emr", &fake.url(), Some("08")));
    assert!(env.run(&["harvest"]).status.success());
    let index_dir = env.data_dir().join("index");
    let saved = env.dir.path().join("index-before");
    copy_dir(&index_dir, &saved);

    let mut data = Dataset::sample("emilia-romagna").unwrap();
    let slug = data.visible_processes().next().unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    data.process_mut(&slug).unwrap()["title"]["translations"] = serde_json::json!([{"locale": "it", "text": "Quokka laboratorio di quartiere", "machineTranslated": false}]);
    fake.set_dataset(data);
    assert!(env.run(&["harvest"]).status.success());

    // As if the process died after the store committed and before the index did.
    std::fs::remove_dir_all(&index_dir).unwrap();
    copy_dir(&saved, &index_dir);
    let out = env.run(&["search", "quokka"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Quokka laboratorio"),
        "the index did not catch up:\n{}",
        stdout(&out)
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_harvest_exits_cleanly_without_half_writes() {
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let env = Env::new(&format!(
        "{}schedule = \"0 0 0 1 1 *\"\n",
        source_toml("p", &fake.url(), None)
    ));
    assert!(env.run(&["harvest"]).status.success());
    // The next run would change a title, but it is slow and gets interrupted.
    let mut data = Dataset::sample("partecipa").unwrap();
    let slug = data.visible_processes().next().unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    data.process_mut(&slug).unwrap()["title"]["translations"] = serde_json::json!([{"locale": "it", "text": "Wombat titolo mai salvato", "machineTranslated": false}]);
    fake.set_dataset(data);
    fake.set_faults(Faults {
        delay_ms: 500,
        ..Faults::default()
    });
    fake.clear_requests();

    let server = env.serve();
    let http = Http::new();
    let r = http
        .send(
            http.client()
                .post(server.url("/api/v1/sources/p/harvest"))
                .bearer_auth("test-token"),
        )
        .await;
    assert_eq!(r.status, 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.api_requests().is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopped_at = Instant::now();
    assert!(server.terminate().success(), "SIGTERM must exit 0");
    assert!(stopped_at.elapsed() < Duration::from_secs(20));

    fake.set_faults(Faults::default());
    let out = env.run(&["search", "wombat"]);
    assert!(
        stdout(&out).starts_with("0 results"),
        "a cancelled run wrote data:\n{}",
        stdout(&out)
    );
    let out = env.run(&["sources", "--json"]);
    let sources: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(sources[0]["last_run"]["outcome"], "abandoned", "{sources}");
    assert_eq!(
        sources[0]["records"].as_u64().unwrap(),
        expected_records("partecipa")
    );
    // Next and last run times survive the restart: the schedule says 1 January.
    let next = sources[0]["next_run_at"].as_str().unwrap_or_default();
    assert!(
        next.contains("-12-31T23:00:00") || next.contains("-01-01T"),
        "next run {next}"
    );
}

/// `snodo harvest` while `snodo serve` runs on the same data directory: the server owns the
/// index, so the command asks it (admin endpoint, configured token) and follows the run to its
/// end; without a token it says exactly what to do instead. Neither touches the server's runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn harvest_while_serving_asks_the_server_and_follows_the_run() {
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let env = std::sync::Arc::new(Env::new(&source_toml("partecipa", &fake.url(), Some("IT"))));
    let server = env.serve();
    let http = Http::new();

    let e = env.clone();
    let out = tokio::task::spawn_blocking(move || e.run(&["harvest", "partecipa"]))
        .await
        .unwrap();
    let (o, err) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{o}\n{err}");
    assert!(err.contains("asking it at http://127.0.0.1:"), "{err}");
    assert!(o.starts_with("partecipa: success in "), "{o}");
    assert!(
        o.contains(&format!("{} new", expected_records("partecipa"))),
        "{o}"
    );
    // The run happened in the server, and its records are searchable there.
    let runs = http
        .get(&server.url("/api/v1/sources/partecipa/runs"))
        .await
        .json();
    assert_eq!(runs["total"], 1, "{runs:#}");
    assert_eq!(runs["items"][0]["outcome"], "success");
    let all = http
        .get(&server.url("/api/v1/search?source=partecipa"))
        .await
        .json();
    assert_eq!(all["total"], expected_records("partecipa"), "{all:#}");

    // JSON, for scripts.
    let e = env.clone();
    let out = tokio::task::spawn_blocking(move || e.run(&["harvest", "--json"]))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v[0]["source"], "partecipa");
    assert_eq!(v[0]["run"]["outcome"], "success");
    assert_eq!(v[0]["run"]["id"], 2);

    // No admin token: the exact command to run instead, and nothing changed on the server.
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        text.replace("admin_token = \"test-token\"\n", ""),
    )
    .unwrap();
    let e = env.clone();
    let out = tokio::task::spawn_blocking(move || e.run(&["harvest", "partecipa"]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("owns the search index"), "{err}");
    assert!(err.contains("admin_token"), "{err}");
    assert!(err.contains("/api/v1/sources/partecipa/harvest"), "{err}");
    let runs = http
        .get(&server.url("/api/v1/sources/partecipa/runs"))
        .await
        .json();
    assert_eq!(runs["total"], 2, "{runs:#}");
    drop(server);
}
