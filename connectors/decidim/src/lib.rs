//! The Decidim connector: harvests the public participatory processes and assemblies of a Decidim
//! platform (0.26 to 0.30) through its GraphQL API (`POST {url}/api`) and normalises them into
//! [`snodo_model::Record`]s.
//!
//! What it owns: the static GraphQL documents in `queries/` (validated in tests against the SDL of
//! every supported version in `schemas/`), probing what an instance supports, field-by-field
//! fallback when part of an answer fails, counting component contents within the instance's
//! complexity limit, and the mapping from Decidim's shapes to the common schema.
//!
//! What it must not do:
//! - touch the store or the index (the harvester does, with the records this returns);
//! - send anything but the documents in [`QUERIES`]: no introspection, no root `metrics` field,
//!   and never a field that carries personal data (authors, nicknames, avatars, users, assembly
//!   members, comments);
//! - store private or unpublished spaces, or withdrawn or private meetings, even when a
//!   misconfigured instance returns them;
//! - keep active markup: plain-text fields are stripped, rich text is sanitised by the model;
//! - do its own HTTP politeness: the shared [`snodo_connector::HttpClient`] paces, retries and
//!   bounds every request.
//!
//! # A run
//! 1. Probes: `ProbeVersion` (a hint: hidden from ~0.29), the organisation's name as a `String`
//!    (≤ 0.28) or a `TranslatedField` (0.29 on), in the order the version suggests, then
//!    `ProbeTaxonomies` (0.30). When the version is hidden, `ProbeProcessTypes` (0.27 on) tells
//!    whether the max complexity is 300 (0.26) or 5000.
//! 2. Listings, one request each: `Processes` or `ProcessesTaxonomies`, `Assemblies` or
//!    `AssembliesTaxonomies`. Optional fields sit behind `@include`: a field whose error takes the
//!    list down is switched off and the list asked again; a variant that does not validate falls
//!    back to the next, down to `ProcessesMinimal` / `AssembliesMinimal`. A listing that fails in
//!    every variant, or any HTTP failure there, fails the run with an error naming the URL.
//! 3. Visibility: assemblies that are private and not transparent, and spaces without a past
//!    `publishedAt`, are dropped (with a warning: an anonymous caller should never see them).
//! 4. Counting, for what `stats` does not give: proposals, meetings, debates, surveys and budgets
//!    are counted by paging through each component's connection asking only for ids, one
//!    component per request under 0.26's limit (`Count*`), eight per request from 0.27
//!    (`CountBatch`). A failed count leaves that number unknown and adds a warning.
//! 5. Meetings (param `meetings`, default on): each visible space's Meetings components are paged
//!    through with `Meetings` (one component per request, pages sized to stay under half the
//!    max complexity). Withdrawn meetings and private ones that are not transparent are dropped;
//!    a meeting record points to its space (`parent`), inherits its territory and promoter, and
//!    keeps its start/end times in Italian local time. A failed page warns and leaves the run
//!    incomplete (nothing is swept), it never fails the run.
//! 6. Normalisation and `Record::validate`; a space that fails is skipped and counted in `failed`.
//!
//! `complete` is true when every configured listing came back whole: then records missing from
//! it are gone upstream (including spaces that turned private or unpublished).

mod client;
mod count;
mod listing;
mod meetings;
mod normalize;
mod probe;
mod queries;
mod relay;
mod wire;

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::Deserialize;
use snodo_connector::{
    Connector, ConnectorError, HarvestContext, HarvestOutput, Progress, SourceSpec,
};
use snodo_model::record::normalize_locale;
use snodo_model::{Activity, Kind};

pub use meetings::page_size_for as meetings_page_size;
pub use queries::{targets as query_targets, QUERIES, QUERY_TARGETS, VERSIONS};

/// Decidim caps page sizes at 50.
pub const MAX_PAGE_SIZE: u32 = 50;
/// Pages read per connection before giving up on it (a guard against endless pagination).
pub const DEFAULT_MAX_PAGES: u32 = 200;

/// Optional knobs from a Decidim source's config table. Every one has a default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecidimParams {
    /// Items per page when counting component contents (1–50; default 50, lowered further when
    /// the instance's max complexity asks for it).
    pub page_size: Option<u32>,
    /// Count proposals, meetings, debates, surveys and budgets that statistics do not give
    /// (default true; false saves requests).
    pub count_components: Option<bool>,
    /// Which spaces to harvest: `"process"`, `"assembly"` (default both).
    pub kinds: Option<Vec<String>>,
    /// Locales to keep (default: every locale the source returns).
    pub locales: Option<Vec<String>>,
    /// The instance's max query complexity, when its operator changed Decidim's default
    /// (300 on 0.26, 5000 from 0.27). Default: detected.
    pub max_complexity: Option<u32>,
    /// Pages read per component before giving up (default 200).
    pub max_pages: Option<u32>,
    /// Harvest the meetings of every harvested space as records of kind `meeting` (default
    /// true; false saves one request or more per Meetings component).
    pub meetings: Option<bool>,
}

/// One configured Decidim platform.
#[derive(Debug, Clone)]
pub struct DecidimConnector {
    source_id: String,
    /// Base URL without a trailing slash.
    base: String,
    endpoint: String,
    kinds: Vec<Kind>,
    locales: Option<Vec<String>>,
    page_size: u32,
    count_components: bool,
    max_complexity: Option<u32>,
    max_pages: u32,
    meetings: bool,
}

impl DecidimConnector {
    /// Checks the source's URL and params. The error names every bad key and what is expected.
    pub fn new(spec: &SourceSpec, params: DecidimParams) -> Result<Self, String> {
        let mut problems = Vec::new();
        let base = spec.url.trim().trim_end_matches('/').to_owned();
        match url::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                if u.query().is_some() || u.fragment().is_some() {
                    problems.push(format!(
                        "url: `{base}` must be the platform's base URL, without query or fragment"
                    ));
                }
            }
            Ok(_) => problems.push(format!(
                "url: `{base}` must be an http(s) URL such as https://partecipa.gov.it"
            )),
            Err(e) => problems.push(format!(
                "url: `{base}` is not a URL ({e}); expected the platform's base URL such as https://partecipa.gov.it"
            )),
        }
        let page_size = params.page_size.unwrap_or(MAX_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            problems.push(format!(
                "page_size: must be between 1 and {MAX_PAGE_SIZE} (Decidim's cap), got {page_size}"
            ));
        }
        let mut kinds = Vec::new();
        match &params.kinds {
            None => kinds = vec![Kind::Process, Kind::Assembly],
            Some(list) if list.is_empty() => {
                problems.push("kinds: must list at least one of `process`, `assembly`".into())
            }
            Some(list) => {
                for k in list {
                    match k.trim() {
                        "process" => kinds.push(Kind::Process),
                        "assembly" => kinds.push(Kind::Assembly),
                        other => problems.push(format!(
                            "kinds: unknown kind `{other}`; expected `process` or `assembly`"
                        )),
                    }
                }
                kinds.dedup();
            }
        }
        let locales = match &params.locales {
            None => None,
            Some(list) if list.is_empty() => {
                problems.push(
                    "locales: must list at least one locale such as \"it\", or be left out to keep all"
                        .into(),
                );
                None
            }
            Some(list) => {
                for l in list {
                    let ok = (2..=10).contains(&l.trim().len())
                        && l.trim()
                            .bytes()
                            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_');
                    if !ok {
                        problems.push(format!(
                            "locales: `{l}` is not a locale code such as \"it\" or \"pt-BR\""
                        ));
                    }
                }
                Some(list.iter().map(|l| normalize_locale(l)).collect())
            }
        };
        if let Some(c) = params.max_complexity {
            if c < 60 {
                problems.push(format!(
                    "max_complexity: {c} is too low to count anything; Decidim's defaults are 300 (0.26) and 5000 (0.27 on)"
                ));
            }
        }
        let max_pages = params.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
        if !(1..=10_000).contains(&max_pages) {
            problems.push(format!(
                "max_pages: must be between 1 and 10000, got {max_pages}"
            ));
        }
        if !problems.is_empty() {
            return Err(format!(
                "source `{}` (decidim): {}",
                spec.id,
                problems.join("; ")
            ));
        }
        Ok(DecidimConnector {
            source_id: spec.id.clone(),
            endpoint: format!("{base}/api"),
            base,
            kinds,
            locales,
            page_size,
            count_components: params.count_components.unwrap_or(true),
            max_complexity: params.max_complexity,
            max_pages,
            meetings: params.meetings.unwrap_or(true),
        })
    }

    /// The GraphQL endpoint, `{url}/api`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// A listed space that passed the visibility rules.
struct Visible {
    kind: Kind,
    space: wire::Space,
    label: String,
    activity: Activity,
}

#[async_trait]
impl Connector for DecidimConnector {
    fn kind(&self) -> &'static str {
        "decidim"
    }

    async fn harvest(
        &self,
        ctx: &HarvestContext,
        _checkpoint: Option<&str>,
    ) -> Result<HarvestOutput, ConnectorError> {
        let started = std::time::Instant::now();
        let mut gql = client::Gql::new(ctx, self.endpoint.clone());
        let mut warnings = Vec::new();
        let caps = probe::probe(&mut gql, self.max_complexity, &mut warnings).await?;

        let mut complete = true;
        let mut listed = Vec::new();
        for &kind in &self.kinds {
            let listing = listing::fetch(&mut gql, kind, &caps, &mut warnings).await?;
            complete &= listing.complete;
            listed.extend(listing.items.into_iter().map(|item| (kind, item)));
        }

        // Parse, drop what must not be stored, drop duplicates.
        let now = chrono::Utc::now();
        let mut failed = 0u64;
        let mut hidden: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut visible = Vec::new();
        for (kind, item) in listed {
            let space: wire::Space = match serde_json::from_value(item) {
                Ok(s) => s,
                Err(e) => {
                    failed += 1;
                    warnings.push(format!(
                        "a listed {kind} does not have Decidim's shape ({e}); skipped"
                    ));
                    continue;
                }
            };
            let id = wire::id_string(space.id.as_ref()).unwrap_or_else(|| "?".into());
            let label = format!("{kind} {}", client::one_line(&id));
            match normalize::visibility(kind, &space, now) {
                Ok(normalize::Visibility::Public) => {}
                Ok(normalize::Visibility::Private) => {
                    hidden.push(format!("{label} (private)"));
                    continue;
                }
                Ok(normalize::Visibility::Unpublished) => {
                    hidden.push(format!("{label} (unpublished)"));
                    continue;
                }
                Err(e) => {
                    failed += 1;
                    warnings.push(format!("{label}: {e}; skipped"));
                    continue;
                }
            }
            if !seen.insert((kind, id)) {
                warnings.push(format!("{label} is listed twice; the first one is kept"));
                continue;
            }
            let activity = space
                .stats
                .as_deref()
                .map(normalize::activity_from_stats)
                .unwrap_or_default();
            visible.push(Visible {
                kind,
                space,
                label,
                activity,
            });
        }
        if !hidden.is_empty() {
            warnings.push(format!(
                "the API returned {} spaces that are private or unpublished; they were not stored \
                 (anonymous access should not see them: check the instance's settings): {}",
                hidden.len(),
                hidden.join(", ")
            ));
        }

        // Count what statistics did not give.
        if self.count_components {
            let mut tasks = Vec::new();
            for (i, v) in visible.iter().enumerate() {
                for c in v.space.components.iter().flatten().flatten() {
                    let (Some(t), Some(id)) = (
                        c.typename
                            .as_deref()
                            .and_then(count::CountType::from_typename),
                        wire::id_string(c.id.as_ref()),
                    ) else {
                        continue;
                    };
                    if t.get(&v.activity).is_none() {
                        tasks.push(count::Task {
                            space: i,
                            ctype: t,
                            component: id,
                            label: v.label.clone(),
                        });
                    }
                }
            }
            let settings = count::Settings {
                page_size: self.page_size,
                max_pages: self.max_pages,
                max_complexity: caps.max_complexity,
            };
            let totals = count::count(&mut gql, tasks, settings, &mut warnings).await?;
            for ((i, t), n) in totals {
                if let Some(v) = visible.get_mut(i) {
                    t.set(&mut v.activity, n);
                }
            }
        }

        // Meetings of every visible space, read before normalising (a failure only warns).
        let mut meeting_nodes = Vec::new();
        let mut meeting_requests = 0u64;
        if self.meetings {
            let tasks: Vec<meetings::Task> = visible
                .iter()
                .enumerate()
                .flat_map(|(i, v)| {
                    v.space
                        .components
                        .iter()
                        .flatten()
                        .flatten()
                        .filter(|c| c.typename.as_deref() == Some("Meetings"))
                        .filter_map(|c| wire::id_string(c.id.as_ref()))
                        .map(move |component| meetings::Task {
                            space: i,
                            component,
                            label: v.label.clone(),
                        })
                })
                .collect();
            let settings = meetings::Settings {
                page_size: self.page_size,
                max_pages: self.max_pages,
                max_complexity: caps.max_complexity,
            };
            let fetched = meetings::fetch(&mut gql, tasks, settings, &mut warnings).await?;
            complete &= fetched.complete;
            meeting_requests = fetched.requests;
            meeting_nodes = fetched.found;
        }

        // Normalise.
        let default_locale =
            normalize::source_locale(visible.iter().filter_map(|v| v.space.title.as_ref()));
        let promoter = caps.promoter(&default_locale);
        let roots = normalize::territorial_roots(
            visible.iter().map(|v| &v.space),
            ctx.source.territory.region.as_deref(),
        );
        let src = normalize::SourceContext {
            territorial_roots: &roots,
            source_id: &self.source_id,
            base: &self.base,
            territory: &ctx.source.territory,
            promoter: &promoter,
            locales: self.locales.as_deref(),
            default_locale: &default_locale,
        };
        let mut records = Vec::with_capacity(visible.len());
        // Visible space number → its record's position in `records`.
        let mut record_of = vec![None; visible.len()];
        for (i, v) in visible.into_iter().enumerate() {
            match normalize::build_record(&src, v.kind, &v.space, v.activity, &mut warnings) {
                Ok(r) => {
                    record_of[i] = Some(records.len());
                    records.push(r);
                }
                Err(e) => {
                    failed += 1;
                    warnings.push(format!("{}: {}; skipped", v.label, client::one_line(&e)));
                }
            }
        }
        let spaces = records.len();
        let mut withheld: Vec<String> = Vec::new();
        let mut seen_meetings = BTreeSet::new();
        for found in meeting_nodes {
            // A meeting of a space that failed normalisation has no parent to point to.
            let Some(parent) = record_of[found.space].map(|j| records[j].clone()) else {
                continue;
            };
            let meeting: wire::Meeting = match serde_json::from_value(found.node) {
                Ok(m) => m,
                Err(e) => {
                    failed += 1;
                    warnings.push(format!(
                        "a meeting of component {} does not have Decidim's shape ({e}); skipped",
                        found.component
                    ));
                    continue;
                }
            };
            let id = wire::id_string(meeting.id.as_ref()).unwrap_or_else(|| "?".into());
            let label = format!("meeting {}", client::one_line(&id));
            if let Err(why) = normalize::meeting_is_public(&meeting) {
                if why == "private" {
                    withheld.push(label);
                }
                continue;
            }
            if !seen_meetings.insert(id) {
                warnings.push(format!("{label} is listed twice; the first one is kept"));
                continue;
            }
            match normalize::build_meeting(&src, &parent, &found.component, &meeting, &mut warnings)
            {
                Ok(Some(r)) => records.push(r),
                Ok(None) => {}
                Err(e) => {
                    failed += 1;
                    warnings.push(format!("{label}: {}; skipped", client::one_line(&e)));
                }
            }
        }
        if !withheld.is_empty() {
            warnings.push(format!(
                "the API returned {} private meetings; they were not stored (anonymous access \
                 should not see them: check the instance's settings): {}",
                withheld.len(),
                withheld.join(", ")
            ));
        }
        ctx.report(Progress::Records {
            n: records.len() as u64,
        });
        tracing::info!(
            source = %self.source_id,
            version = caps.version.as_deref().unwrap_or("hidden"),
            records = records.len(),
            spaces,
            meetings = records.len() - spaces,
            meeting_requests,
            failed,
            warnings = warnings.len(),
            requests = gql.sent(),
            complete,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "decidim harvest done"
        );
        Ok(HarvestOutput {
            records,
            complete,
            checkpoint: None,
            warnings,
            failed,
            ..HarvestOutput::default()
        })
    }
}

/// The parsing step, for fuzzing and tests: the nodes of one listing (`participatoryProcesses` or
/// `assemblies` as the API returns them) and the meeting nodes of one Meetings component
/// (component `1` of the first space that makes a record), read and normalised with the same
/// shapes, visibility rules and normalisation as a harvest, with no request, no counting, and the
/// source's territory and promoter left empty. Returns the records and the warnings.
pub fn normalize_nodes(
    source_id: &str,
    base: &str,
    kind: Kind,
    spaces: &[serde_json::Value],
    meetings: &[serde_json::Value],
    now: chrono::DateTime<chrono::Utc>,
) -> (Vec<snodo_model::Record>, Vec<String>) {
    let mut warnings = Vec::new();
    let visible: Vec<wire::Space> = spaces
        .iter()
        .filter_map(|v| serde_json::from_value::<wire::Space>(v.clone()).ok())
        .filter(|s| {
            matches!(
                normalize::visibility(kind, s, now),
                Ok(normalize::Visibility::Public)
            )
        })
        .collect();
    let default_locale = normalize::source_locale(visible.iter().filter_map(|s| s.title.as_ref()));
    let roots = normalize::territorial_roots(visible.iter(), None);
    let territory = snodo_model::Territory::default();
    let promoter = snodo_model::LocalizedText::new();
    let src = normalize::SourceContext {
        territorial_roots: &roots,
        source_id,
        base,
        territory: &territory,
        promoter: &promoter,
        locales: None,
        default_locale: &default_locale,
    };
    let mut records = Vec::new();
    for space in &visible {
        let activity = space
            .stats
            .as_deref()
            .map(normalize::activity_from_stats)
            .unwrap_or_default();
        if let Ok(r) = normalize::build_record(&src, kind, space, activity, &mut warnings) {
            records.push(r);
        }
    }
    if let Some(parent) = records.first().cloned() {
        for node in meetings {
            let Ok(m) = serde_json::from_value::<wire::Meeting>(node.clone()) else {
                continue;
            };
            if let Ok(Some(r)) = normalize::build_meeting(&src, &parent, "1", &m, &mut warnings) {
                records.push(r);
            }
        }
    }
    (records, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> SourceSpec {
        SourceSpec {
            id: "partecipa".into(),
            name: "ParteciPa".into(),
            url: url.into(),
            territory: snodo_model::Territory::default(),
        }
    }

    #[test]
    fn builds_the_endpoint_from_the_base_url() {
        let c = DecidimConnector::new(&spec("https://partecipa.gov.it/"), DecidimParams::default())
            .unwrap();
        assert_eq!(c.endpoint(), "https://partecipa.gov.it/api");
        assert_eq!(c.kind(), "decidim");
        assert_eq!(c.kinds, vec![Kind::Process, Kind::Assembly]);
    }

    #[test]
    fn bad_params_are_named_all_at_once() {
        let params = DecidimParams {
            page_size: Some(80),
            kinds: Some(vec!["process".into(), "conference".into()]),
            locales: Some(vec!["<it>".into()]),
            max_pages: Some(0),
            ..Default::default()
        };
        let e = DecidimConnector::new(&spec("ftp://x"), params).unwrap_err();
        for key in [
            "url:",
            "page_size:",
            "kinds:",
            "`conference`",
            "locales:",
            "max_pages:",
        ] {
            assert!(e.contains(key), "{key} missing in {e}");
        }
    }

    #[test]
    fn unknown_param_keys_are_rejected() {
        let e = serde_json::from_value::<DecidimParams>(serde_json::json!({"page_sise": 10}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("page_sise"), "{e}");
        let ok: DecidimParams =
            serde_json::from_value(serde_json::json!({"page_size": 20, "kinds": ["assembly"]}))
                .unwrap();
        assert_eq!(ok.page_size, Some(20));
    }

    #[test]
    fn normalize_nodes_keeps_public_spaces_and_sanitises() {
        let now = chrono::Utc::now();
        let tr = |t: &str| serde_json::json!({"translations": [{"locale": "it", "text": t}]});
        let spaces = vec![
            serde_json::json!({
                "id": "7", "slug": "bilancio", "publishedAt": "2024-01-01T00:00:00Z",
                "title": tr("<script>x</script>Bilancio"),
                "description": tr("<p onclick=\"x()\">Testo <a href=\"javascript:x()\">qui</a></p>")
            }),
            serde_json::json!({"id": "8", "slug": "segreto", "title": tr("Segreto")}),
            serde_json::json!("not a space"),
        ];
        let meetings = vec![
            serde_json::json!({"id": "3", "title": tr("Incontro"), "startTime": "2024-02-01T18:00:00+01:00"}),
            serde_json::json!({"id": "4", "title": tr("Ritirato"), "isWithdrawn": true}),
        ];
        let (records, _) = normalize_nodes(
            "partecipa",
            "https://partecipa.gov.it",
            Kind::Process,
            &spaces,
            &meetings,
            now,
        );
        let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        assert_eq!(ids, ["partecipa:process:7", "partecipa:meeting:3"]);
        assert_eq!(records[0].title.get("it"), Some("Bilancio"));
        let html = records[0].description_html.0["it"].as_str();
        assert!(
            !html.contains("onclick") && !html.contains("javascript:"),
            "{html}"
        );
    }
}
