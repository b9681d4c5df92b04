//! Beyond one machine, with real processes: the store on a real PostgreSQL server, two
//! `--role harvester` processes (one leads at a time) and two `--role api` replicas, each with
//! its own index that follows the store. SIGKILL the leader mid-harvest, restart a replica,
//! stop PostgreSQL for 20 s — what a citizen and an operator see through it all.
//!
//! Needs `SNODO_TEST_DATABASE_URL` (`scripts/pg.sh start`); CI always sets it.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

/// One `snodo serve --role ROLE` on its own data directory (its own index), sharing the store.
struct Node {
    child: Child,
    base: String,
    role: &'static str,
    data_dir: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(config: &Path, role: &'static str, data_dir: &Path) -> Node {
        let port = free_port();
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(["serve", "--role", role, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env("SNODO_DATA_DIR", data_dir)
            .env_remove("SNODO_DATABASE_URL")
            .env_remove("SNODO_ROLE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn snodo serve");
        let base = wait_listening(&mut child);
        Node {
            child,
            base,
            role,
            data_dir: data_dir.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn sigkill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn sigterm(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            assert!(Instant::now() < deadline, "{} did not stop", self.role);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn is_leader(http: &Http, node: &Node) -> bool {
    let m = http.get(&node.url("/metrics")).await;
    m.text
        .lines()
        .any(|l| l.starts_with("snodo_harvest_leader ") && l.trim_end().ends_with(" 1"))
}

async fn wait_for<F, Fut>(what: &str, within: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if f().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(total, ids)` of a search, for comparing replicas.
async fn results(http: &Http, node: &Node, query: &str) -> (u64, Vec<String>) {
    let r = http
        .get(&node.url(&format!("/api/v1/search?limit=20&q={}", url_encode(query))))
        .await;
    assert_eq!(r.status, 200, "{} on {}: {}", query, node.role, r.text);
    let v = r.json();
    let ids = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    (v["total"].as_u64().unwrap(), ids)
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn runs(http: &Http, node: &Node, source: &str) -> Vec<Value> {
    let r = http
        .get(&node.url(&format!("/api/v1/sources/{source}/runs?limit=50")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().cloned().unwrap_or_default()
}

fn config(env: &Env, database_url: &str, sources: &str) -> PathBuf {
    let path = env.dir.path().join("cluster.toml");
    std::fs::write(
        &path,
        format!(
            "[storage]\ndatabase_url = {database_url:?}\n\n[server]\nadmin_token = \"test-token\"\n\
             rate_limit_per_minute = 0\n\n[harvest]\nmin_delay_ms = 0\njitter_secs = 0\n\
             max_retries = 1\nrequest_timeout_secs = 5\n\n{sources}"
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_dies_mid_harvest_another_takes_over_and_replicas_agree() {
    let Some(admin) = pg_admin_url() else {
        eprintln!("skipped: no PostgreSQL (scripts/pg.sh start, then SNODO_TEST_DATABASE_URL)");
        return;
    };
    let db = fresh_pg_database(&admin);
    // Slow enough that the first harvest is still running when its leader is killed.
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults {
            delay_ms: 300,
            ..Faults::default()
        },
    )
    .await
    .unwrap();
    let expected = expected_records_of(&Dataset::sample("partecipa").unwrap()) as u64;
    let env = Env::new("");
    // Only the start-up run (never harvested) and triggers run: the schedule is 1 January.
    let cfg = config(
        &env,
        &db,
        &format!(
            "{}schedule = \"0 0 0 1 1 *\"\n",
            source_toml("p", &fake.url(), Some("IT"))
        ),
    );
    let dir = |n: &str| env.dir.path().join(n);
    let http = Http::new();

    let h1 = Node::start(&cfg, "harvester", &dir("h1"));
    wait_for("h1 leads", Duration::from_secs(30), || {
        is_leader(&http, &h1)
    })
    .await;
    let h2 = Node::start(&cfg, "harvester", &dir("h2"));
    let a1 = Node::start(&cfg, "api", &dir("a1"));
    let a2 = Node::start(&cfg, "api", &dir("a2"));
    assert!(!is_leader(&http, &h2).await, "two leaders at once");

    // Kill the leader once its harvest has stored some but not all records.
    wait_for(
        "the first harvest to store a page",
        Duration::from_secs(60),
        || async {
            let r = http.get(&a1.url("/api/v1/sources")).await;
            r.json()[0]["records"].as_u64().unwrap_or(0) > 0
        },
    )
    .await;
    let before_kill = runs(&http, &a1, "p").await;
    assert_eq!(before_kill.len(), 1);
    assert_eq!(before_kill[0]["outcome"], "running", "{before_kill:?}");
    h1.sigkill();
    let killed_at = Instant::now();

    let takeover = wait_for("h2 takes over", Duration::from_secs(30), || {
        is_leader(&http, &h2)
    })
    .await;
    wait_for(
        "the new leader's run to succeed",
        Duration::from_secs(120),
        || async {
            runs(&http, &a1, "p")
                .await
                .iter()
                .any(|r| r["outcome"] == "success")
        },
    )
    .await;
    let failover = killed_at.elapsed();
    let all = runs(&http, &a2, "p").await;
    let outcomes: Vec<&str> = all.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["success", "abandoned"],
        "the dead leader's run is abandoned, never left running: {all:?}"
    );
    // Nothing counted twice: the new run saw every record once, and the store holds each once.
    let success = &all[0];
    assert_eq!(success["seen"].as_u64().unwrap(), expected, "{success}");
    let sources = http.get(&a2.url("/api/v1/sources")).await.json();
    assert_eq!(sources[0]["records"].as_u64().unwrap(), expected);

    // Both replicas converge on the same answers (within the follower's 2 s).
    let everything = http.get(&a1.url("/api/v1/search?limit=100")).await.json();
    let mut queries: BTreeSet<String> = BTreeSet::new();
    for item in everything["items"].as_array().unwrap() {
        let title = item["title"].as_str().unwrap_or_default().to_lowercase();
        for w in title.split(|c: char| !c.is_alphanumeric()) {
            if w.chars().count() > 4 && queries.len() < 60 {
                queries.insert(w.to_owned());
            }
        }
    }
    queries.extend(
        [
            "",
            "partecipazione",
            "bilancio",
            "xyzzy",
            "ambiente",
            "consultazione",
            "comune",
            "piano",
            "giovani",
            "scuola",
            "mobilita",
            "parteci",
        ]
        .map(String::from),
    );
    assert!(queries.len() >= 50, "{} queries", queries.len());
    wait_for("the replicas to agree", Duration::from_secs(10), || async {
        results(&http, &a1, "").await == results(&http, &a2, "").await
    })
    .await;
    for q in &queries {
        let (one, two) = (results(&http, &a1, q).await, results(&http, &a2, q).await);
        assert_eq!(one, two, "replicas disagree on `{q}`");
    }
    assert_eq!(results(&http, &a1, "").await.0, expected);

    // A replica that was down catches up; a change is searchable on both within 2 s.
    let a2_dir = a2.data_dir.clone();
    assert!(a2.sigterm().success());
    let mut data = Dataset::sample("partecipa").unwrap();
    let slug = data.visible_processes().next().unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    data.process_mut(&slug).unwrap()["title"]["translations"] = serde_json::json!([{"locale": "it", "text": "Quokka partecipato", "machineTranslated": false}]);
    fake.set_dataset(data);
    fake.set_faults(Faults::default());
    let r = http
        .send(
            http.client()
                .post(a1.url("/api/v1/sources/p/harvest"))
                .bearer_auth("test-token"),
        )
        .await;
    assert_eq!(r.status, 503, "an api replica does not harvest: {}", r.text);
    assert!(r.text.contains("harvester leader"), "{}", r.text);
    let r = http
        .send(
            http.client()
                .post(h2.url("/api/v1/sources/p/harvest"))
                .bearer_auth("test-token"),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_for("the triggered run", Duration::from_secs(60), || async {
        runs(&http, &h2, "p").await.len() == 3
            && runs(&http, &h2, "p").await[0]["outcome"] != "running"
    })
    .await;
    let lag = wait_for("the change on a1", Duration::from_secs(2), || async {
        results(&http, &a1, "quokka").await.0 == 1
    })
    .await;
    let a2 = Node::start(&cfg, "api", &a2_dir);
    wait_for(
        "the restarted replica to catch up",
        Duration::from_secs(5),
        || async { results(&http, &a2, "quokka").await.0 == 1 },
    )
    .await;
    let status = http.get(&a2.url("/status")).await.json();
    assert_eq!(status["store"], "ok", "{status}");
    assert_eq!(status["index_lag_changes"], 0, "{status}");
    eprintln!(
        "failover: leadership taken over {takeover:?} after SIGKILL, new run done {failover:?} after; change searchable on a replica {lag:?} after its run"
    );
    drop(h2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_postgresql_down_replicas_serve_search_and_harvests_resume() {
    if pg_admin_url().is_none() {
        eprintln!("skipped: no PostgreSQL (scripts/pg.sh start, then SNODO_TEST_DATABASE_URL)");
        return;
    }
    // A server of its own, to stop without disturbing the other tests.
    let env = Env::new("");
    let pg_dir = env.dir.path().join("pg");
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
    let pg = |cmd: &str| {
        let out = Command::new("bash")
            .arg(&script)
            .arg(cmd)
            .env("SNODO_PG_DIR", &pg_dir)
            .env("SNODO_PG_PORT", port.to_string())
            .output()
            .expect("scripts/pg.sh");
        assert!(out.status.success(), "pg.sh {cmd}: {}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    let admin = pg("start");
    let db = fresh_pg_database(&admin);

    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("puglia").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let expected = expected_records_of(&Dataset::sample("puglia").unwrap()) as u64;
    let cfg = config(
        &env,
        &db,
        &format!(
            "{}schedule = \"0 0 0 1 1 *\"\n",
            source_toml("g", &fake.url(), Some("16"))
        ),
    );
    let http = Http::new();
    let h = Node::start(&cfg, "harvester", &env.dir.path().join("h"));
    let a = Node::start(&cfg, "api", &env.dir.path().join("a"));
    wait_for(
        "the first harvest on the replica",
        Duration::from_secs(60),
        || async { results(&http, &a, "").await.0 == expected },
    )
    .await;

    pg("stop");
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(20) {
        // Search answers from the replica's index; what needs the store says 503, in words.
        assert_eq!(results(&http, &a, "").await.0, expected);
        let status = http.get(&a.url("/status")).await;
        assert_eq!(status.status, 200, "{}", status.text);
        assert_eq!(status.json()["store"], "unreachable", "{}", status.text);
        let sources = http.get(&a.url("/api/v1/sources")).await;
        assert_eq!(sources.status, 503, "{}", sources.text);
        assert!(
            sources.content_type.starts_with("application/problem+json"),
            "{}",
            sources.content_type
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // The harvester lost its session, so it no longer leads.
    assert!(!is_leader(&http, &h).await, "a leader without a store");
    pg("start");
    wait_for(
        "the harvester to lead again",
        Duration::from_secs(30),
        || is_leader(&http, &h),
    )
    .await;
    let mut data = Dataset::sample("puglia").unwrap();
    let slug = data.visible_processes().next().unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    data.process_mut(&slug).unwrap()["title"]["translations"] = serde_json::json!([{"locale": "it", "text": "Wombat di ritorno", "machineTranslated": false}]);
    fake.set_dataset(data);
    let r = http
        .send(
            http.client()
                .post(h.url("/api/v1/sources/g/harvest"))
                .bearer_auth("test-token"),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_for(
        "the change on the replica",
        Duration::from_secs(30),
        || async { results(&http, &a, "wombat").await.0 == 1 },
    )
    .await;
    let status = http.get(&a.url("/status")).await.json();
    assert_eq!(status["store"], "ok", "{status}");
    drop((h, a));
    pg("stop");
}

/// An operator outgrows SQLite: `snodo migrate` moves the store, and the same data directory
/// (its index) serves the same answers on PostgreSQL without a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_deployment_moves_to_postgresql_with_the_same_answers() {
    let Some(admin) = pg_admin_url() else {
        eprintln!("skipped: no PostgreSQL (scripts/pg.sh start, then SNODO_TEST_DATABASE_URL)");
        return;
    };
    let fake = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").unwrap(),
        Faults::default(),
    )
    .await
    .unwrap();
    let env = Env::new("");
    let data = env.dir.path().join("data");
    let sources = format!(
        "{}schedule = \"0 0 0 1 1 *\"\n",
        source_toml("p", &fake.url(), Some("IT"))
    );
    let sqlite_cfg = env.dir.path().join("sqlite.toml");
    std::fs::write(
        &sqlite_cfg,
        format!("[server]\nrate_limit_per_minute = 0\n\n[harvest]\nmin_delay_ms = 0\n\n{sources}"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("--config")
            .arg(&sqlite_cfg)
            .args(args)
            .env("SNODO_DATA_DIR", &data)
            .env_remove("SNODO_DATABASE_URL")
            .output()
            .expect("run snodo")
    };
    assert!(run(&["harvest"]).status.success());
    let http = Http::new();
    let queries = ["", "partecipazione", "bilancio", "ambiente", "xyzzy"];
    let node = Node::start(&sqlite_cfg, "all", &data);
    let mut before = Vec::new();
    for q in queries {
        before.push(results(&http, &node, q).await);
    }
    assert!(node.sigterm().success());

    let db = fresh_pg_database(&admin);
    let sqlite = data.join("snodo.sqlite3");
    let out = run(&["migrate", "--from", sqlite.to_str().unwrap(), "--to", &db]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("copied and checked"),
        "{}",
        stdout(&out)
    );
    let again = run(&["migrate", "--from", sqlite.to_str().unwrap(), "--to", &db]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("new, empty database"),
        "{}",
        stderr(&again)
    );

    let pg_cfg = config(&env, &db, &sources);
    let replica = Node::start(&pg_cfg, "api", &data);
    for (q, want) in queries.iter().zip(&before) {
        assert_eq!(
            &results(&http, &replica, q).await,
            want,
            "`{q}` after the move"
        );
    }
    let status = http.get(&replica.url("/status")).await.json();
    assert_eq!(status["index_lag_changes"], 0, "{status}");
}
