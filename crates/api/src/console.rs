//! The operators' console: every source in one table (health, last success, last error in words,
//! records by kind, the last 30 days, next run, "harvest now"), and a page per source with its
//! runs, their warnings and requests. Server-rendered, no JavaScript needed; the same table without
//! buttons is the optional public `/status/sources` page.

use std::collections::BTreeMap;

use askama::Template;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use snodo_store::{Outcome, RunRecord, SourceStatus};

use crate::page::{
    component, datetime, href, kind_count, plural, render, safe_url, Head, Lang, Time,
};

/// One source as the console shows it.
pub struct SourceRow {
    pub status: SourceStatus,
    /// Configured and not switched off.
    pub enabled: bool,
    /// A run of it is going on now.
    pub running: bool,
    /// Live records by kind.
    pub by_kind: Vec<(String, u64)>,
    /// Its runs of the last 30 days, newest first.
    pub runs: Vec<RunRecord>,
}

/// What the console page shows.
pub struct ConsoleView<'a> {
    pub lang: Lang,
    pub rows: &'a [SourceRow],
    pub index_documents: u64,
    /// Store changes not yet searchable.
    pub index_lag: u64,
    /// False on the public, read-only status page: no buttons, no links to run details.
    pub operator: bool,
    /// A message after "harvest now" (started, or why not).
    pub notice: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// A source's health, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Failing,
    Partial,
    Never,
    Running,
    Ok,
    Off,
}

impl Health {
    fn of(row: &SourceRow) -> Health {
        if row.running {
            return Health::Running;
        }
        if !row.enabled {
            return Health::Off;
        }
        match row.status.last_run.as_ref().map(|r| r.outcome) {
            None => Health::Never,
            Some(Outcome::Success) => Health::Ok,
            Some(Outcome::Partial) => Health::Partial,
            Some(Outcome::Running) => Health::Running,
            Some(Outcome::Failed | Outcome::Abandoned) => Health::Failing,
        }
    }

    fn label(self, lang: Lang) -> &'static str {
        match self {
            Health::Failing => lang.t("In errore", "Failing"),
            Health::Partial => lang.t("Parziale", "Partial"),
            Health::Never => lang.t("Mai raccolta", "Never harvested"),
            Health::Running => lang.t("In corso", "Running"),
            Health::Ok => lang.t("Funziona", "Working"),
            Health::Off => lang.t("Disattivata", "Switched off"),
        }
    }

    fn class(self) -> &'static str {
        match self {
            Health::Failing => "h-bad",
            Health::Partial | Health::Never => "h-warn",
            Health::Running | Health::Ok => "h-ok",
            Health::Off => "h-off",
        }
    }
}

/// Since when a failing source has failed: the oldest failure after its last success, among
/// the runs given (newest first).
fn failing_since(runs: &[RunRecord]) -> Option<DateTime<Utc>> {
    runs.iter()
        .take_while(|r| matches!(r.outcome, Outcome::Failed | Outcome::Abandoned))
        .last()
        .map(|r| r.started_at)
}

/// The latest error message, with when it happened.
fn last_error(row: &SourceRow) -> Option<(DateTime<Utc>, &str)> {
    row.status
        .last_run
        .iter()
        .chain(row.runs.iter())
        .find_map(|r| r.error.as_deref().map(|e| (r.started_at, e)))
}

fn outcome_label(lang: Lang, o: Outcome) -> &'static str {
    match o {
        Outcome::Running => lang.t("in corso", "running"),
        Outcome::Success => lang.t("riuscita", "success"),
        Outcome::Partial => lang.t("parziale", "partial"),
        Outcome::Failed => lang.t("fallita", "failed"),
        Outcome::Abandoned => lang.t("interrotta", "abandoned"),
    }
}

fn console_path(lang: Lang) -> &'static str {
    match lang {
        Lang::It => "/admin",
        Lang::En => "/en/admin",
    }
}

/// Per day of the last 30: the records the day's last completed run saw, and whether a run
/// failed that day.
fn days(runs: &[RunRecord], today: NaiveDate) -> Vec<(NaiveDate, Option<u64>, bool)> {
    let mut by_day: BTreeMap<NaiveDate, (Option<u64>, bool)> = BTreeMap::new();
    // oldest first, so the day's last completed run wins
    for r in runs.iter().rev() {
        let day = r.started_at.date_naive();
        let e = by_day.entry(day).or_default();
        match r.outcome {
            Outcome::Success | Outcome::Partial => e.0 = Some(r.counts.seen),
            Outcome::Failed | Outcome::Abandoned => e.1 = true,
            Outcome::Running => {}
        }
    }
    (0..30)
        .rev()
        .map(|back| {
            let d = today - Duration::days(back);
            let (seen, failed) = by_day.get(&d).copied().unwrap_or_default();
            (d, seen, failed)
        })
        .collect()
}

/// One bar of the chart.
struct Bar {
    x: usize,
    y: u32,
    height: u32,
}

/// Thirty bars, one per day: the height is the records seen, a red square under it a failure.
/// The numbers are in the accessible name and in the source's page.
#[derive(Template)]
#[template(path = "parts/chart.html")]
struct Chart {
    label: String,
    bars: Vec<Bar>,
    failures: Vec<usize>,
}

fn chart(lang: Lang, runs: &[RunRecord], today: NaiveDate) -> Chart {
    let days = days(runs, today);
    let max = days.iter().filter_map(|d| d.1).max().unwrap_or(0).max(1);
    let ok = runs
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Success | Outcome::Partial))
        .count() as u64;
    let failed = runs
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Abandoned))
        .count() as u64;
    let seen: Vec<u64> = days.iter().filter_map(|d| d.1).collect();
    let range = match (seen.iter().min(), seen.iter().max()) {
        (Some(a), Some(b)) if a == b => lang
            .t("record visti: {a}", "records seen: {a}")
            .replace("{a}", &a.to_string()),
        (Some(a), Some(b)) => lang
            .t("record visti da {a} a {b}", "records seen from {a} to {b}")
            .replace("{a}", &a.to_string())
            .replace("{b}", &b.to_string()),
        _ => lang.t("nessun record visto", "no records seen").to_owned(),
    };
    let label = format!(
        "{}: {}, {}; {range}",
        lang.t("Ultimi 30 giorni", "Last 30 days"),
        plural(
            lang,
            ok,
            "raccolta riuscita",
            "raccolte riuscite",
            "successful run",
            "successful runs"
        ),
        plural(lang, failed, "fallita", "fallite", "failed", "failed"),
    );
    let bars = days
        .iter()
        .enumerate()
        .filter_map(|(i, (_, seen, _))| {
            let n = (*seen)?;
            let height = ((n as f64 / max as f64) * 26.0).round().max(1.0) as u32;
            Some(Bar {
                x: i * 5,
                y: 28 - height,
                height,
            })
        })
        .collect();
    let failures = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.2)
        .map(|(i, _)| i * 5)
        .collect();
    Chart {
        label,
        bars,
        failures,
    }
}

const CONSOLE_CSS: &str = include_str!("../assets/console.css");

/// The latest error, with when it happened.
struct ErrorView {
    message: String,
    at: Time,
}

/// A row of the console's table.
struct RowView<'a> {
    /// The source's page; none on the public page.
    href: Option<String>,
    name: &'a str,
    id: &'a str,
    health: &'static str,
    health_class: &'static str,
    failing_since: Option<Time>,
    last_success: Option<Time>,
    error: Option<ErrorView>,
    records: u64,
    by_kind: Vec<String>,
    chart: Chart,
    enabled: bool,
    running: bool,
    next_run: Option<Time>,
    /// Where "harvest now" posts.
    action: String,
}

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage<'a> {
    lang: Lang,
    head: Head,
    summary: String,
    notice: Option<&'a str>,
    operator: bool,
    rows: Vec<RowView<'a>>,
    now: Time,
}

/// The console page (or, with `operator` false, the public status page).
pub fn render_console(v: &ConsoleView<'_>) -> String {
    let lang = v.lang;
    let (title, alternate) = if v.operator {
        (
            lang.t("Console di Snodo", "Snodo console"),
            console_path(lang.other()),
        )
    } else {
        (
            lang.t("Stato delle fonti · Snodo", "Sources status · Snodo"),
            "/status/sources",
        )
    };
    let today = v.now.date_naive();
    let mut rows: Vec<&SourceRow> = v.rows.iter().collect();
    rows.sort_by(|a, b| {
        Health::of(a)
            .cmp(&Health::of(b))
            .then_with(|| a.status.id.cmp(&b.status.id))
    });
    let failing = rows
        .iter()
        .filter(|r| Health::of(r) == Health::Failing)
        .count() as u64;
    let summary = format!(
        "{} · {} · {}",
        plural(
            lang,
            rows.len() as u64,
            "fonte",
            "fonti",
            "source",
            "sources"
        ),
        plural(
            lang,
            failing,
            "in errore",
            "in errore",
            "failing",
            "failing"
        ),
        match v.index_lag {
            0 => format!(
                "{}: {}",
                lang.t("indice aggiornato", "index up to date"),
                plural(
                    lang,
                    v.index_documents,
                    "documento",
                    "documenti",
                    "document",
                    "documents"
                )
            ),
            n => format!(
                "{}: {}",
                lang.t("indice indietro di", "index behind by"),
                plural(lang, n, "modifica", "modifiche", "change", "changes")
            ),
        },
    );
    let rows = rows
        .into_iter()
        .map(|row| {
            let s = &row.status;
            let health = Health::of(row);
            RowView {
                href: v
                    .operator
                    .then(|| format!("{}/sources/{}", console_path(lang), s.id)),
                name: &s.name,
                id: &s.id,
                health: health.label(lang),
                health_class: health.class(),
                failing_since: (health == Health::Failing)
                    .then(|| failing_since(&row.runs))
                    .flatten()
                    .map(|t| datetime(lang, t)),
                last_success: s.last_success_at.map(|t| datetime(lang, t)),
                error: last_error(row).map(|(at, e)| ErrorView {
                    message: snodo_model::text::truncate_words(e, 300),
                    at: datetime(lang, at),
                }),
                records: s.records,
                by_kind: row
                    .by_kind
                    .iter()
                    .map(|(k, n)| kind_count(lang, k, *n))
                    .collect(),
                chart: chart(lang, &row.runs, today),
                enabled: row.enabled,
                running: row.running,
                next_run: s.next_run_at.map(|t| datetime(lang, t)),
                action: href(
                    &format!("{}/sources/{}/harvest", console_path(Lang::It), s.id),
                    &[("lang", lang.code())],
                ),
            }
        })
        .collect();
    render(&ConsolePage {
        lang,
        head: Head::new(
            title,
            lang.t(
                "Lo stato di ogni piattaforma raccolta da Snodo.",
                "The state of every platform Snodo harvests.",
            ),
            alternate,
            false,
        )
        .with_css(CONSOLE_CSS),
        summary,
        notice: v.notice,
        operator: v.operator,
        rows,
        now: datetime(lang, v.now),
    })
}

/// A run on the source's page.
struct RunView<'a> {
    started: Time,
    outcome: &'static str,
    duration: String,
    seen: u64,
    added: u64,
    changed: u64,
    gone: u64,
    requests: u64,
    error: Option<&'a str>,
    warnings: &'a [String],
    warnings_label: String,
}

#[derive(Template)]
#[template(path = "console_source.html")]
struct SourcePage<'a> {
    lang: Lang,
    head: Head,
    back: &'static str,
    name: &'a str,
    id: &'a str,
    url: Option<&'a str>,
    raw_url: &'a str,
    records: String,
    runs: Vec<RunView<'a>>,
}

/// A source's page: its runs, newest first, each with its counts, requests, error and warnings.
pub fn render_source(lang: Lang, row: &SourceRow, runs: &[RunRecord]) -> String {
    let s = &row.status;
    render(&SourcePage {
        lang,
        head: Head::new(
            format!(
                "{} · {}",
                s.name,
                lang.t("Console di Snodo", "Snodo console")
            ),
            lang.t("Le raccolte di una fonte.", "The harvests of one source."),
            format!("{}/sources/{}", console_path(lang.other()), s.id),
            false,
        )
        .with_css(CONSOLE_CSS),
        back: console_path(lang),
        name: &s.name,
        id: &s.id,
        url: safe_url(&s.url),
        raw_url: &s.url,
        records: plural(lang, s.records, "record", "record", "record", "records"),
        runs: runs
            .iter()
            .map(|r| RunView {
                started: datetime(lang, r.started_at),
                outcome: outcome_label(lang, r.outcome),
                duration: r
                    .duration_ms
                    .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
                    .unwrap_or_else(|| "—".into()),
                seen: r.counts.seen,
                added: r.counts.added,
                changed: r.counts.changed,
                gone: r.counts.gone,
                requests: r.requests,
                error: r.error.as_deref(),
                warnings: &r.warnings,
                warnings_label: plural(
                    lang,
                    r.warnings.len() as u64,
                    "avviso",
                    "avvisi",
                    "warning",
                    "warnings",
                ),
            })
            .collect(),
    })
}

component!(Chart);

#[cfg(test)]
mod tests {
    use super::*;
    use snodo_store::RunCounts;

    fn run(id: i64, ago_days: i64, outcome: Outcome, seen: u64, error: Option<&str>) -> RunRecord {
        let now: DateTime<Utc> = "2026-12-03T10:00:00Z".parse().unwrap();
        RunRecord {
            id,
            source: "s".into(),
            started_at: now - Duration::days(ago_days),
            finished_at: Some(now - Duration::days(ago_days)),
            outcome,
            counts: RunCounts {
                seen,
                ..RunCounts::default()
            },
            error: error.map(str::to_owned),
            warnings: vec!["item 7: <b>no title</b>".into()],
            requests: 12,
            duration_ms: Some(1500),
        }
    }

    fn row(id: &str, runs: Vec<RunRecord>) -> SourceRow {
        SourceRow {
            status: SourceStatus {
                id: id.into(),
                name: format!("Platform <{id}>"),
                kind: "decidim".into(),
                url: "https://example.it".into(),
                configured: true,
                records: 40,
                last_run: runs.first().cloned(),
                last_success_at: runs
                    .iter()
                    .find(|r| r.outcome == Outcome::Success)
                    .map(|r| r.started_at),
                next_run_at: Some("2026-12-03T12:00:00Z".parse().unwrap()),
            },
            enabled: true,
            running: false,
            by_kind: vec![("process".into(), 30), ("meeting".into(), 10)],
            runs,
        }
    }

    #[test]
    fn failing_sources_come_first_with_since_when_and_why() {
        let ok = row("ok", vec![run(3, 1, Outcome::Success, 40, None)]);
        let bad = row(
            "bad",
            vec![
                run(
                    6,
                    0,
                    Outcome::Failed,
                    0,
                    Some("HTTP 503 from https://example.it/api <x>"),
                ),
                run(5, 2, Outcome::Failed, 0, Some("timeout")),
                run(4, 3, Outcome::Success, 38, None),
            ],
        );
        let rows = [ok, bad];
        let html = render_console(&ConsoleView {
            lang: Lang::En,
            rows: &rows,
            index_documents: 78,
            index_lag: 0,
            operator: true,
            notice: Some("Harvest of <ok> started"),
            now: "2026-12-03T10:00:00Z".parse().unwrap(),
        });
        let bad_at = html.find("Platform &#60;bad&#62;").unwrap();
        let ok_at = html.find("Platform &#60;ok&#62;").unwrap();
        assert!(bad_at < ok_at, "failing first");
        assert!(html.contains("<span class=\"h-bad\">Failing</span><br><span class=\"tiny\">since <time datetime=\"2026-12-01T10:00:00Z\">"));
        assert!(html.contains("HTTP 503 from https://example.it/api &#60;x&#62;"));
        assert!(html.contains("2 sources · 1 failing · index up to date: 78 documents"));
        assert!(html
            .contains("<p class=\"notice\" role=\"status\">Harvest of &#60;ok&#62; started</p>"));
        assert!(
            html.contains("<form method=\"post\" action=\"/admin/sources/bad/harvest?lang=en\">")
        );
        assert!(html
            .contains("aria-label=\"Last 30 days: 1 successful run, 2 failed; records seen: 38\""));
        assert!(!html.contains("<b>"));
        // the public page: the same table, no buttons, no links to the runs
        let public = render_console(&ConsoleView {
            operator: false,
            notice: None,
            ..ConsoleView {
                lang: Lang::It,
                rows: &rows,
                index_documents: 78,
                index_lag: 3,
                operator: true,
                notice: None,
                now: "2026-12-03T10:00:00Z".parse().unwrap(),
            }
        });
        assert!(!public.contains("<form") && !public.contains("/admin/sources/"));
        assert!(public.contains("indice indietro di: 3 modifiche"));
    }

    #[test]
    fn a_source_page_lists_its_runs_with_warnings_escaped() {
        let r = row("s", vec![run(2, 0, Outcome::Partial, 40, None)]);
        let html = render_source(Lang::It, &r, &r.runs);
        assert!(
            html.contains("<td>parziale</td><td class=\"num\">1.5</td><td class=\"num\">40</td>")
        );
        assert!(html.contains(
            "<summary>1 avviso</summary><ul><li>item 7: &#60;b&#62;no title&#60;/b&#62;</li>"
        ));
        assert!(html.contains("<td class=\"num\">12</td>"));
    }

    #[test]
    fn the_chart_has_a_bar_per_day_with_runs() {
        let runs = vec![
            run(3, 0, Outcome::Success, 40, None),
            run(2, 0, Outcome::Failed, 0, Some("x")),
            run(1, 29, Outcome::Success, 20, None),
            run(0, 31, Outcome::Success, 99, None),
        ];
        let d = days(&runs, "2026-12-03".parse().unwrap());
        assert_eq!(d.len(), 30);
        assert_eq!(d[29].1, Some(40));
        assert!(d[29].2);
        assert_eq!(d[0].1, Some(20));
        assert_eq!(d.iter().filter(|x| x.1.is_some()).count(), 2);
    }
}
