//! What the terminal commands print: aligned tables for people, JSON with `--json` for scripts.

use std::process::ExitCode;

use anyhow::Context;
use snodo_api::params::{search_request, Params, SEARCH_PARAMS};
use snodo_harvest::{HarvestError, RunReport};
use snodo_model::{territory, today_in_italy};

use crate::app::App;

/// Per-source progress bars (requests answered, records normalised) when stderr is a terminal;
/// nothing otherwise, where the log lines tell the story.
pub struct Bars {
    multi: Option<indicatif::MultiProgress>,
    bars:
        std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>>,
}

impl Bars {
    pub fn for_terminal(json: bool) -> Bars {
        use std::io::IsTerminal;
        let multi = (!json && std::io::stderr().is_terminal()).then(indicatif::MultiProgress::new);
        Bars {
            multi,
            bars: Default::default(),
        }
    }

    pub fn progress_fn(&self) -> Option<snodo_connector::ProgressFn> {
        let multi = self.multi.clone()?;
        let bars = self.bars.clone();
        Some(std::sync::Arc::new(
            move |source: &str, p: snodo_connector::Progress| {
                let mut map = bars.lock().unwrap_or_else(|e| e.into_inner());
                let bar = map.entry(source.to_owned()).or_insert_with(|| {
                    let b = multi.add(indicatif::ProgressBar::new_spinner());
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "{spinner} {prefix:<24} {pos:>4} requests  {msg}",
                    ) {
                        b.set_style(style);
                    }
                    b.set_prefix(source.to_owned());
                    b.enable_steady_tick(std::time::Duration::from_millis(120));
                    b
                });
                match p {
                    snodo_connector::Progress::Page { what } => {
                        bar.inc(1);
                        bar.set_message(what);
                    }
                    snodo_connector::Progress::Records { n } => {
                        bar.set_message(format!("{n} records"))
                    }
                }
            },
        ))
    }

    pub fn finish(&self) {
        let map = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for b in map.values() {
            b.finish_and_clear();
        }
    }
}

pub fn print_harvest(
    results: &[(String, Result<RunReport, HarvestError>)],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let v: Vec<serde_json::Value> = results
            .iter()
            .map(|(id, r)| match r {
                Ok(rep) => serde_json::to_value(rep).unwrap_or_default(),
                Err(e) => {
                    serde_json::json!({"source": id, "outcome": "failed", "error": e.to_string()})
                }
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<9} {:>6} {:>6} {:>8} {:>10} {:>7} {:>5} {:>9} {:>8}",
        "source",
        "outcome",
        "seen",
        "added",
        "changed",
        "unchanged",
        "failed",
        "gone",
        "requests",
        "time"
    );
    for (id, r) in results {
        match r {
            Ok(rep) => {
                let c = &rep.counts;
                println!(
                    "{:<24} {:<9} {:>6} {:>6} {:>8} {:>10} {:>7} {:>5} {:>9} {:>7.1}s",
                    id,
                    rep.outcome.as_str(),
                    c.seen,
                    c.added,
                    c.changed,
                    c.unchanged,
                    c.failed,
                    c.gone,
                    rep.requests,
                    rep.duration_ms as f64 / 1000.0
                );
                if let Some(e) = &rep.error {
                    println!("  error: {e}");
                }
                for w in rep.warnings.iter().take(5) {
                    println!("  warning: {w}");
                }
                if rep.warnings.len() > 5 {
                    println!(
                        "  … and {} more warnings (see /api/v1/sources/{id}/runs)",
                        rep.warnings.len() - 5
                    );
                }
            }
            Err(e) => {
                println!("{id:<24} {:<9}", "failed");
                println!("  error: {e}");
            }
        }
    }
    Ok(())
}

fn ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (chrono::Utc::now() - t).num_seconds();
    match secs {
        s if s < 0 => format!("in {}", human(-s)),
        s => format!("{} ago", human(s)),
    }
}

fn human(s: i64) -> String {
    match s {
        s if s < 90 => format!("{s}s"),
        s if s < 5400 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// `discovery`: what the site offers, asked when the check yielded no records.
pub fn print_check(
    r: &snodo_harvest::registry::CheckReport,
    discovery: Option<(&snodo_harvest::discover::Discovery, String)>,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::to_value(r)?;
        if let Some((d, suggestion)) = &discovery {
            v["discovery"] = serde_json::to_value(d)?;
            v["suggestion"] = serde_json::Value::String(suggestion.clone());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "source `{}` ({}): {} records, {} requests",
        r.source,
        r.kind,
        r.records.len(),
        r.requests
    );
    if let Some(e) = &r.error {
        println!("error: {e}");
    }
    for rec in &r.records {
        let title = rec
            .title
            .pick(None, &rec.default_locale)
            .map(|(_, t)| t)
            .unwrap_or("");
        let dates = format!(
            "{} → {}",
            rec.start_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "?".into()),
            rec.end_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "?".into())
        );
        println!(
            "\n- {title}\n  {} · {} · {}\n  {}",
            rec.id,
            dates,
            rec.territory.region.as_deref().unwrap_or("no region"),
            rec.url
        );
        if let Some((_, s)) = rec.summary.pick(None, &rec.default_locale) {
            println!("  {}", snodo_model::text::truncate_words(s, 160));
        }
    }
    for i in &r.invalid {
        println!("invalid: {i}");
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    if r.failed > 0 {
        println!("{} items could not be normalised", r.failed);
    }
    if let Some((d, suggestion)) = discovery {
        println!("\nNo records: what the site offers instead.");
        println!("  {} → {}", d.page.url, d.page.answer);
        for p in &d.probes {
            println!("  {} → {}", p.url, p.answer);
        }
        if d.findings.is_empty() {
            println!("\nNothing harvestable found: no feed or API announced, none at the usual addresses.");
            println!(
                "An `html` source with CSS selectors may still work (config/examples/html.toml)."
            );
        } else {
            println!("\nFound:");
            for f in &d.findings {
                let note = if f.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", f.note)
                };
                println!("  {:<9} {}{note}", f.kind, f.url);
            }
        }
        if !suggestion.is_empty() {
            println!(
                "\nSuggested configuration (check it with `snodo check` again):\n\n{suggestion}"
            );
        }
    }
    Ok(())
}

pub fn print_sources(app: &App, json: bool) -> anyhow::Result<()> {
    // Blocking store work off the async thread (PostgreSQL's client insists).
    let rows = tokio::task::block_in_place(|| app.store.sources()).context("reading sources")?;
    if json {
        let state = app.api_state(None);
        let v: Vec<snodo_api::dto::SourceResponse> = rows
            .into_iter()
            .map(|s| {
                let meta = state.sources.iter().find(|m| m.id == s.id);
                snodo_api::dto::SourceResponse::new(s, meta, false)
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<22} {:<8} {:<16} {:<10} {:<12} {:>7} {:>6} {:>8} {:<12} {:>7}",
        "source",
        "kind",
        "schedule",
        "health",
        "last run",
        "seen",
        "gone",
        "time",
        "next run",
        "records"
    );
    for s in rows {
        let cfg = app.config.source(&s.id);
        let schedule = match cfg {
            Some(c) if !c.enabled => "disabled".to_owned(),
            Some(c) => c.schedule.clone(),
            None => "not configured".to_owned(),
        };
        let (health, when, seen, gone, time, error) = match &s.last_run {
            None => (
                "never".to_owned(),
                "-".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                None,
            ),
            Some(r) => (
                match r.outcome.as_str() {
                    "success" => "ok",
                    "partial" => "degraded",
                    "running" => "running",
                    _ => "FAILING",
                }
                .to_owned(),
                ago(r.started_at),
                r.counts.seen.to_string(),
                r.counts.gone.to_string(),
                r.duration_ms
                    .map(|d| format!("{:.1}s", d as f64 / 1000.0))
                    .unwrap_or_default(),
                r.error.clone(),
            ),
        };
        let next = s.next_run_at.map(ago).unwrap_or_else(|| "-".into());
        println!(
            "{:<22} {:<8} {:<16} {:<10} {:<12} {:>7} {:>6} {:>8} {:<12} {:>7}",
            s.id, s.kind, schedule, health, when, seen, gone, time, next, s.records
        );
        if let Some(e) = error {
            println!("  last error: {e}");
        }
        if let Some(t) = s.last_success_at {
            if s.last_run.as_ref().is_some_and(|r| r.error.is_some()) {
                println!("  last success: {}", ago(t));
            }
        }
    }
    Ok(())
}

pub async fn search(app: &App, qs: &[(&str, String)], json: bool) -> anyhow::Result<ExitCode> {
    let raw: String = url_encode(qs);
    let req = Params::parse(Some(&raw), SEARCH_PARAMS)
        .and_then(|p| search_request(&p))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (limit, offset) = (req.limit, req.offset);
    let index = app.index.clone();
    let results = tokio::task::spawn_blocking(move || index.search(&req, today_in_italy()))
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if json {
        let state = app.api_state(None);
        let body = snodo_api::dto::SearchResponse::from_results(
            results,
            limit,
            offset,
            |id| state.source_name(id),
            |id| state.source_credit(id),
        );
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} results", results.total);
    for (i, h) in results.items.iter().enumerate() {
        let place = h
            .comune
            .as_deref()
            .and_then(territory::comune)
            .map(|c| c.name.to_owned())
            .or_else(|| {
                h.region
                    .as_deref()
                    .and_then(territory::region_name)
                    .map(str::to_owned)
            })
            .or_else(|| h.scope_name.clone())
            .unwrap_or_default();
        let dates = match (h.start_date, h.end_date) {
            (Some(s), Some(e)) => format!("{s} → {e}"),
            (Some(s), None) => format!("from {s}"),
            (None, Some(e)) => format!("until {e}"),
            (None, None) => String::new(),
        };
        println!(
            "\n{:>2}. {} [{} · {} · {}]",
            offset + i + 1,
            h.title,
            h.kind,
            h.status,
            h.source
        );
        if !place.is_empty() || !dates.is_empty() {
            println!("    {place}  {dates}");
        }
        let text = h
            .snippet
            .as_deref()
            .map(strip_marks)
            .unwrap_or_else(|| h.summary.clone());
        if !text.is_empty() {
            println!("    {}", snodo_model::text::truncate_words(&text, 160));
        }
        println!("    {}", h.url);
    }
    Ok(ExitCode::SUCCESS)
}

/// Snippets are escaped HTML with `<mark>`: the terminal gets plain text with the words in *stars*.
fn strip_marks(s: &str) -> String {
    let marked = s.replace("<mark>", "*").replace("</mark>", "*");
    html_escape::decode_html_entities(&marked).into_owned()
}

fn url_encode(qs: &[(&str, String)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in qs {
        ser.append_pair(k, v);
    }
    ser.finish()
}
