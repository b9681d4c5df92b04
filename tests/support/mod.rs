//! Helpers for end-to-end tests: fake platforms on loopback, a config file in a temp dir, the
//! real `snodo` binary, and an HTTP client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_snodo");

/// A temp dir holding `snodo.toml` and the data dir; with `SNODO_TEST_BACKEND=postgres`, a
/// PostgreSQL database of its own as the store (the e2e suite runs on both engines in CI).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
}

/// The PostgreSQL server tests may create databases on (`scripts/pg.sh start` prints its URL).
/// CI always has one, so there a test that needs it cannot skip itself.
pub fn pg_admin_url() -> Option<String> {
    match std::env::var("SNODO_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "CI runs the PostgreSQL tests: set SNODO_TEST_DATABASE_URL (scripts/pg.sh start)"
        ),
        _ => None,
    }
}

/// A new, empty database on the test server; its URL.
pub fn fresh_pg_database(admin: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let name = format!(
        "snodo_e2e_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    // The store's PostgreSQL client is blocking and refuses to run on an async test's thread.
    let admin = admin.to_owned();
    std::thread::spawn(move || snodo_store::Store::create_database(&admin, &name))
        .join()
        .expect("the database thread")
        .expect("create a test database")
}

/// True when this run of the suite puts every store on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("SNODO_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

impl Env {
    pub fn new(sources_toml: &str) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = if on_postgres() {
            let admin = pg_admin_url().expect(
                "SNODO_TEST_BACKEND=postgres needs SNODO_TEST_DATABASE_URL (scripts/pg.sh start)",
            );
            Some(fresh_pg_database(&admin))
        } else {
            None
        };
        let env = Env { dir, database_url };
        env.write_config(sources_toml);
        env
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("snodo.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn write_config(&self, sources_toml: &str) {
        self.write_config_with("", sources_toml);
    }

    /// `harvest_extra` lines go into `[harvest]` after the test defaults.
    pub fn write_config_with(&self, harvest_extra: &str, sources_toml: &str) {
        let defaults = [
            ("min_delay_ms", "0"),
            ("jitter_secs", "0"),
            ("max_retries", "1"),
            ("request_timeout_secs", "5"),
        ];
        let mut harvest = String::new();
        for (k, v) in defaults {
            if !harvest_extra.lines().any(|l| l.trim_start().starts_with(k)) {
                harvest.push_str(&format!("{k} = {v}\n"));
            }
        }
        harvest.push_str(harvest_extra);
        let database_url = self
            .database_url
            .as_ref()
            .map(|u| format!("database_url = {u:?}\n"))
            .unwrap_or_default();
        let text = format!(
            "[storage]\ndata_dir = {:?}\n{database_url}\n[server]\nadmin_token = \"test-token\"\n\n[harvest]\n{harvest}\n\n{sources_toml}",
            self.data_dir().display().to_string()
        );
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// Runs `snodo --config … ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .env_remove("SNODO_DATA_DIR")
            .env_remove("SNODO_DATABASE_URL")
            .env_remove("SNODO_LISTEN")
            .env_remove("RUST_LOG")
            .output()
            .expect("run snodo")
    }

    /// Starts `snodo serve` on a free port and waits for it to listen.
    pub fn serve(&self) -> Server {
        let port = free_port();
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(self.config_path())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn snodo serve");
        let base = wait_listening(&mut child);
        Server { child, base }
    }
}

/// Reads a starting `snodo serve`'s stdout up to its "listening on" line; the base URL.
pub fn wait_listening(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("listening on ") => {
                return line.trim_start_matches("listening on ").trim().to_owned();
            }
            Some(Ok(_)) => {}
            _ => panic!("snodo serve exited before listening"),
        }
        assert!(Instant::now() < deadline, "snodo serve did not start");
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "snodo did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn source_toml(id: &str, url: &str, territory: Option<&str>) -> String {
    let t = territory
        .map(|t| format!("territory = \"{t}\"\n"))
        .unwrap_or_default();
    format!("[[sources]]\nid = \"{id}\"\nname = \"{id} platform\"\nkind = \"decidim\"\nurl = \"{url}\"\n{t}\n")
}

pub struct Http {
    client: reqwest::Client,
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Http {
    pub fn new() -> Http {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Http {
            client: reqwest::Client::builder().build().expect("client"),
        }
    }

    pub async fn get(&self, url: &str) -> Answer {
        self.send(self.client.get(url)).await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = resp.text().await.expect("body");
        Answer {
            status,
            content_type,
            headers,
            text,
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Every string anywhere in a JSON value.
pub fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out)
        }),
        _ => {}
    }
}

/// Asserts no active markup survives anywhere in a JSON answer.
pub fn assert_inert(v: &Value) {
    let mut all = Vec::new();
    strings(v, &mut all);
    for s in all {
        let l = s.to_ascii_lowercase();
        for bad in [
            "<script",
            "onerror",
            "onclick",
            "onload",
            "javascript:",
            "<iframe",
            "<img",
            "<svg",
        ] {
            assert!(!l.contains(bad), "active markup `{bad}` in {s:?}");
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

impl Env {
    /// Like [`Env::new`], with extra `[server]` keys (one `key = value` per line).
    pub fn with_server(server_keys: &str, sources_toml: &str) -> Env {
        let env = Env::new(sources_toml);
        let text = std::fs::read_to_string(env.config_path()).expect("read config");
        let text = text.replacen("[server]\n", &format!("[server]\n{server_keys}\n"), 1);
        std::fs::write(env.config_path(), text).expect("write config");
        env
    }
}

/// Meetings an anonymous visitor sees in a sample and a harvester keeps: those of visible
/// spaces, not hidden or private (the fake hides them), and not withdrawn (the harvester drops
/// them).
pub fn visible_meetings(d: &snodo_fake_decidim::Dataset) -> Vec<Value> {
    let flag = |v: &Value, k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    d.visible_processes()
        .chain(d.visible_assemblies())
        .flat_map(|s| s["components"].as_array().cloned().unwrap_or_default())
        .filter(|c| {
            c["__typename"] == "Meetings" && !c.get("publishedAt").is_some_and(Value::is_null)
        })
        .flat_map(|c| c["meetings"].as_array().cloned().unwrap_or_default())
        .filter(|m| {
            !flag(m, "hidden")
                && !flag(m, "isWithdrawn")
                && (!flag(m, "privateMeeting") || flag(m, "transparent"))
        })
        .collect()
}

/// Records a full harvest of a well-behaved sample stores: its visible spaces and meetings.
pub fn expected_records_of(d: &snodo_fake_decidim::Dataset) -> usize {
    d.visible_processes().count() + d.visible_assemblies().count() + visible_meetings(d).len()
}
