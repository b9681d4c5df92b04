//! The operators' console: every source in one table (health, last success, last error in words,
//! records by kind, the last 30 days, next run, "harvest now"), and a page per source with its
//! runs, their warnings and requests. Server-rendered, no JavaScript needed; the same table without
//! buttons is the optional public `/status/sources` page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use snodo_store::{Outcome, RunRecord, SourceStatus};

use crate::page::{datetime, esc, foot, head, href, kind_count, plural, Lang};

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

/// Thirty bars, one per day: the height is the records seen, a red bar under it a failure. The
/// numbers are in the accessible name and in the source's page.
fn chart(out: &mut String, lang: Lang, runs: &[RunRecord], today: NaiveDate) {
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
    let _ = write!(
        out,
        "<svg class=\"spark\" viewBox=\"0 0 150 34\" width=\"150\" height=\"34\" role=\"img\" aria-label=\"{}\">",
        esc(&label)
    );
    for (i, (_, seen, fail)) in days.iter().enumerate() {
        let x = i * 5;
        if let Some(n) = seen {
            let h = ((*n as f64 / max as f64) * 26.0).round().max(1.0) as u32;
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{}\" width=\"4\" height=\"{h}\" class=\"b-ok\"/>",
                28 - h
            );
        }
        if *fail {
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"30\" width=\"4\" height=\"4\" class=\"b-bad\"/>"
            );
        }
    }
    out.push_str("</svg>");
}

fn style(out: &mut String) {
    out.push_str(
        "<style>.console td,.console th{vertical-align:top}.console .err{max-width:22rem;overflow-wrap:anywhere}\
         .h-bad{color:#a32d2d;font-weight:700}.h-warn{color:#8a5300;font-weight:700}.h-ok{color:#1f6b3a;font-weight:700}.h-off{color:#5c6f82}\
         .spark .b-ok{fill:#0066cc}.spark .b-bad{fill:#a32d2d}.kinds{list-style:none;margin:0;padding:0;font-size:.875rem}\
         .notice{border-left:4px solid #0066cc;background:#f5f7fa;padding:.5rem 1rem}.tiny{font-size:.875rem;color:#5c6f82}\
         .console form{margin:0}</style>\n",
    );
}

/// The console page (or, with `operator` false, the public status page).
pub fn render_console(v: &ConsoleView<'_>) -> String {
    let lang = v.lang;
    let mut out = String::with_capacity(32 * 1024);
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
    head(
        &mut out,
        lang,
        title,
        lang.t(
            "Lo stato di ogni piattaforma raccolta da Snodo.",
            "The state of every platform Snodo harvests.",
        ),
        alternate,
        false,
    );
    style(&mut out);
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
    let _ = writeln!(
        out,
        "<main id=\"main\" class=\"wrap console\">\n<h1>{}</h1>\n<p class=\"lead\">{} · {} · {}</p>",
        esc(title),
        plural(lang, rows.len() as u64, "fonte", "fonti", "source", "sources"),
        plural(lang, failing, "in errore", "in errore", "failing", "failing"),
        match v.index_lag {
            0 => format!(
                "{}: {}",
                lang.t("indice aggiornato", "index up to date"),
                plural(lang, v.index_documents, "documento", "documenti", "document", "documents")
            ),
            n => format!(
                "{}: {}",
                lang.t("indice indietro di", "index behind by"),
                plural(lang, n, "modifica", "modifiche", "change", "changes")
            ),
        },
    );
    if let Some(n) = v.notice {
        let _ = writeln!(out, "<p class=\"notice\" role=\"status\">{}</p>", esc(n));
    }
    let mut cols = vec![
        (lang.t("Fonte", "Source"), false),
        (lang.t("Stato", "State"), false),
        (
            lang.t("Ultima raccolta riuscita", "Last successful harvest"),
            false,
        ),
        (lang.t("Ultimo errore", "Last error"), false),
        (lang.t("Record", "Records"), true),
        (lang.t("Ultimi 30 giorni", "Last 30 days"), false),
        (lang.t("Prossima raccolta", "Next harvest"), false),
    ];
    if v.operator {
        cols.push((lang.t("Azioni", "Actions"), false));
    }
    table_open(
        &mut out,
        lang.t(
            "Le fonti, quelle in errore per prime",
            "The sources, failing ones first",
        ),
        true,
        &cols,
    );
    for row in rows {
        let s = &row.status;
        let health = Health::of(row);
        let name = if v.operator {
            format!(
                "<a href=\"{}\">{}</a><br><span class=\"tiny\">{}</span>",
                esc(&format!("{}/sources/{}", console_path(lang), s.id)),
                esc(&s.name),
                esc(&s.id)
            )
        } else {
            format!(
                "{}<br><span class=\"tiny\">{}</span>",
                esc(&s.name),
                esc(&s.id)
            )
        };
        let mut state = format!(
            "<span class=\"{}\">{}</span>",
            health.class(),
            health.label(lang)
        );
        if health == Health::Failing {
            if let Some(since) = failing_since(&row.runs) {
                let _ = write!(
                    state,
                    "<br><span class=\"tiny\">{} {}</span>",
                    lang.t("da", "since"),
                    datetime(lang, since)
                );
            }
        }
        let success = s
            .last_success_at
            .map(|t| datetime(lang, t))
            .unwrap_or_else(|| lang.t("mai", "never").to_owned());
        let error = match last_error(row) {
            Some((at, e)) => format!(
                "<span class=\"err\">{}</span><br><span class=\"tiny\">{}</span>",
                esc(&snodo_model::text::truncate_words(e, 300)),
                datetime(lang, at)
            ),
            None => "—".to_owned(),
        };
        let mut kinds = format!("<strong>{}</strong>", s.records);
        if !row.by_kind.is_empty() {
            kinds.push_str("<ul class=\"kinds\">");
            for (k, n) in &row.by_kind {
                let _ = write!(kinds, "<li>{}</li>", kind_count(lang, k, *n));
            }
            kinds.push_str("</ul>");
        }
        let mut spark = String::new();
        chart(&mut spark, lang, &row.runs, today);
        let next = match (row.enabled, s.next_run_at) {
            (false, _) => "—".to_owned(),
            (true, Some(t)) => datetime(lang, t),
            (true, None) => lang.t("non programmata", "not scheduled").to_owned(),
        };
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{name}</th><td>{state}</td><td>{success}</td><td>{error}</td>\
             <td class=\"num\">{kinds}</td><td>{spark}</td><td>{next}</td>"
        );
        if v.operator {
            let action = format!("{}/sources/{}/harvest", console_path(Lang::It), s.id);
            let disabled = if row.running || !row.enabled {
                " disabled"
            } else {
                ""
            };
            let _ = write!(
                out,
                "<td><form method=\"post\" action=\"{}\"><button type=\"submit\" class=\"sec\"{disabled} aria-label=\"{}\">{}</button></form></td>",
                esc(&href(&action, &[("lang", lang.code())])),
                esc(&format!("{} {}", lang.t("Raccogli ora", "Harvest now"), s.name)),
                lang.t("Raccogli ora", "Harvest now"),
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    let _ = writeln!(
        out,
        "<p class=\"tiny\">{} {}</p>\n</main>",
        lang.t("Aggiornato al", "As of"),
        datetime(lang, v.now)
    );
    foot(&mut out, lang);
    out
}

/// A table's caption and header row; `(label, numeric)` per column, numbers aligned right.
fn table_open(out: &mut String, caption: &str, hidden_caption: bool, cols: &[(&str, bool)]) {
    let _ = write!(
        out,
        "<table><caption{}>{}</caption><thead><tr>",
        if hidden_caption { " class=\"vh\"" } else { "" },
        esc(caption)
    );
    for (label, numeric) in cols {
        let _ = write!(
            out,
            "<th scope=\"col\"{}>{}</th>",
            if *numeric { " class=\"num\"" } else { "" },
            esc(label)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
}

/// A source's page: its runs, newest first, each with its counts, requests, error and warnings.
pub fn render_source(lang: Lang, row: &SourceRow, runs: &[RunRecord]) -> String {
    let s = &row.status;
    let mut out = String::with_capacity(16 * 1024);
    let title = format!(
        "{} · {}",
        s.name,
        lang.t("Console di Snodo", "Snodo console")
    );
    head(
        &mut out,
        lang,
        &title,
        lang.t("Le raccolte di una fonte.", "The harvests of one source."),
        &format!("{}/sources/{}", console_path(lang.other()), s.id),
        false,
    );
    style(&mut out);
    let _ = writeln!(
        out,
        "<main id=\"main\" class=\"wrap console\">\n<p><a href=\"{}\">{}</a></p>\n<h1>{}</h1>\n\
         <p class=\"lead\">{} · <a href=\"{}\">{}</a> · {}</p>",
        console_path(lang),
        lang.t("← Tutte le fonti", "← All sources"),
        esc(&s.name),
        esc(&s.id),
        esc(&s.url),
        esc(&s.url),
        plural(lang, s.records, "record", "record", "record", "records"),
    );
    table_open(
        &mut out,
        lang.t(
            "Le ultime raccolte, dalla più recente",
            "The latest harvests, newest first",
        ),
        false,
        &[
            (lang.t("Iniziata", "Started"), false),
            (lang.t("Esito", "Outcome"), false),
            (lang.t("Durata (s)", "Duration (s)"), true),
            (lang.t("Visti", "Seen"), true),
            (lang.t("Nuovi", "Added"), true),
            (lang.t("Cambiati", "Changed"), true),
            (lang.t("Spariti", "Gone"), true),
            (lang.t("Richieste", "Requests"), true),
            (lang.t("Errore e avvisi", "Error and warnings"), false),
        ],
    );
    for r in runs {
        let mut notes = String::new();
        if let Some(e) = &r.error {
            let _ = write!(notes, "<p class=\"err\">{}</p>", esc(e));
        }
        if !r.warnings.is_empty() {
            let _ = write!(
                notes,
                "<details><summary>{}</summary><ul>",
                plural(
                    lang,
                    r.warnings.len() as u64,
                    "avviso",
                    "avvisi",
                    "warning",
                    "warnings"
                )
            );
            for w in &r.warnings {
                let _ = write!(notes, "<li>{}</li>", esc(w));
            }
            notes.push_str("</ul></details>");
        }
        if notes.is_empty() {
            notes.push('—');
        }
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{notes}</td></tr>",
            datetime(lang, r.started_at),
            outcome_label(lang, r.outcome),
            r.duration_ms
                .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
                .unwrap_or_else(|| "—".into()),
            r.counts.seen,
            r.counts.added,
            r.counts.changed,
            r.counts.gone,
            r.requests,
        );
    }
    if runs.is_empty() {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"9\">{}</td></tr>",
            lang.t("Nessuna raccolta finora.", "No harvest so far.")
        );
    }
    out.push_str("</tbody></table>\n</main>\n");
    foot(&mut out, lang);
    out
}

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
        let bad_at = html.find("Platform &lt;bad&gt;").unwrap();
        let ok_at = html.find("Platform &lt;ok&gt;").unwrap();
        assert!(bad_at < ok_at, "failing first");
        assert!(html.contains("<span class=\"h-bad\">Failing</span><br><span class=\"tiny\">since <time datetime=\"2026-12-01T10:00:00Z\">"));
        assert!(html.contains("HTTP 503 from https://example.it/api &lt;x&gt;"));
        assert!(html.contains("2 sources · 1 failing · index up to date: 78 documents"));
        assert!(
            html.contains("<p class=\"notice\" role=\"status\">Harvest of &lt;ok&gt; started</p>")
        );
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
            "<summary>1 avviso</summary><ul><li>item 7: &lt;b&gt;no title&lt;/b&gt;</li>"
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
