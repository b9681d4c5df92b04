//! `snodo harvest` while `snodo serve` runs on the same data directory: the server owns the
//! index writer, so this process asks it to start each run (the admin endpoint, over loopback,
//! with the configured token) and follows the runs until they end, printing what they did.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;
use snodo_config::Config;

/// Where a running server says how to reach it, next to the store it serves.
pub fn address_file(config: &Config) -> PathBuf {
    config.storage.data_dir.join("serve.url")
}

/// Written by `snodo serve` once it listens; removed when it stops.
pub struct AddressFile(PathBuf);

impl AddressFile {
    pub fn write(config: &Config, url: &str) -> AddressFile {
        let path = address_file(config);
        if let Err(e) = std::fs::write(&path, format!("{url}\n")) {
            tracing::warn!(path = %path.display(), error = %e, "cannot record the server's address; `snodo harvest` will use server.listen to reach it");
        }
        AddressFile(path)
    }
}

impl Drop for AddressFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// How often a run's progress is asked for.
const POLL: Duration = Duration::from_secs(1);

fn base_url(config: &Config) -> String {
    read_base(&address_file(config)).unwrap_or_else(|| {
        let listen = config.server.listen.replace("0.0.0.0", "127.0.0.1");
        format!("http://{listen}")
    })
}

fn read_base(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let url = text.trim();
    (url.starts_with("http://") || url.starts_with("https://")).then(|| url.to_owned())
}

/// Asks the running server to harvest `ids` (every enabled source when empty) and follows the
/// runs; exit status as for a local harvest.
pub async fn harvest(config: &Config, ids: &[String], json: bool) -> anyhow::Result<ExitCode> {
    let base = base_url(config);
    let ids = crate::app::sources_to_harvest(config, ids);
    let Some(token) = config.admin_token() else {
        let id = ids.first().map(String::as_str).unwrap_or("SOURCE");
        // Exit status 1, as for any harvest that did not succeed.
        eprintln!(
            "error: `snodo serve` is running on {} ({base}) and owns the search index, so this process cannot harvest into it.\n\
             Ask the server instead: set [server] admin_token (or SNODO_ADMIN_TOKEN) for both processes and run this command again, or start the run yourself:\n  \
             curl -X POST -H 'Authorization: Bearer TOKEN' {base}/api/v1/sources/{id}/harvest",
            config.storage.data_dir.display()
        );
        return Ok(ExitCode::from(1));
    };
    if !json {
        eprintln!("`snodo serve` owns the index here: asking it at {base} to harvest, and following the runs");
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building an HTTP client")?;
    let mut started = Vec::new();
    let mut results: Vec<(String, Result<Value, String>)> = Vec::new();
    for id in &ids {
        let before = latest_run(&http, &base, id).await?.map(|r| run_id(&r));
        let url = format!("{base}/api/v1/sources/{id}/harvest");
        let resp = http
            .post(&url)
            .bearer_auth(token)
            .send()
            .await
            .with_context(|| format!("cannot reach `snodo serve` at {base}; is it running? (it records its address in {})", address_file(config).display()))?;
        match resp.status().as_u16() {
            202 => started.push((id.clone(), before)),
            // Already running: follow that run.
            409 => started.push((id.clone(), before.map(|b| b - 1))),
            401 | 403 => bail!(
                "the server refused the admin token ({}); this process and `snodo serve` must use the same [server] admin_token or SNODO_ADMIN_TOKEN",
                resp.status()
            ),
            _ => {
                let detail = problem_detail(resp).await;
                results.push((id.clone(), Err(detail)));
            }
        }
    }
    for (id, before) in started {
        let run = follow(&http, &base, &id, before).await?;
        results.push((id, Ok(run)));
    }
    print(&results, json)?;
    let ok = results
        .iter()
        .all(|(_, r)| r.as_ref().is_ok_and(|run| run["outcome"] == "success"));
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_id(run: &Value) -> i64 {
    run["id"].as_i64().unwrap_or(0)
}

async fn problem_detail(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    match body["detail"].as_str() {
        Some(d) => format!("the server answered {status}: {d}"),
        None => format!("the server answered {status}"),
    }
}

/// The newest run of a source, waiting out the rate limit if the server asks.
async fn latest_run(http: &reqwest::Client, base: &str, id: &str) -> anyhow::Result<Option<Value>> {
    let url = format!("{base}/api/v1/sources/{id}/runs?limit=1");
    loop {
        let resp = http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot reach `snodo serve` at {base}"))?;
        match resp.status().as_u16() {
            200 => {
                let body: Value = resp.json().await.context("reading the runs of a source")?;
                return Ok(body["items"].get(0).cloned());
            }
            404 => return Ok(None),
            429 => {
                let secs = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(5);
                tokio::time::sleep(Duration::from_secs(secs)).await;
            }
            _ => bail!("{}", problem_detail(resp).await),
        }
    }
}

/// Waits for the first run of `id` newer than `before` to end.
async fn follow(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    before: Option<i64>,
) -> anyhow::Result<Value> {
    loop {
        if let Some(run) = latest_run(http, base, id).await? {
            let newer = before.is_none_or(|b| run_id(&run) > b);
            if newer && run["outcome"] != "running" {
                return Ok(run);
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

fn print(results: &[(String, Result<Value, String>)], json: bool) -> anyhow::Result<()> {
    if json {
        let out: Vec<Value> = results
            .iter()
            .map(|(id, r)| match r {
                Ok(run) => serde_json::json!({"source": id, "run": run}),
                Err(e) => serde_json::json!({"source": id, "error": e}),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for (id, r) in results {
        match r {
            Ok(run) => {
                let n = |k: &str| run[k].as_u64().unwrap_or(0);
                let secs = run["duration_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
                println!(
                    "{id}: {} in {secs:.1} s (run {} on the server) — {} seen, {} new, {} changed, {} unchanged, {} gone, {} failed",
                    run["outcome"].as_str().unwrap_or("?"),
                    run_id(run),
                    n("seen"),
                    n("added"),
                    n("changed"),
                    n("unchanged"),
                    n("gone"),
                    n("failed")
                );
                if let Some(e) = run["error"].as_str() {
                    println!("  error: {e}");
                }
            }
            Err(e) => println!("{id}: not started — {e}"),
        }
    }
    Ok(())
}
