//! The CONSUL Democracy connector: harvests budgets, polls, proposals and debates of a CONSUL
//! platform through its public GraphQL API (`POST {url}/graphql`, graphql-ruby, camel-cased
//! fields, Relay connections paged with `first`/`after`).
//!
//! The schema followed is CONSUL's `app/graphql/types` as published: `budgets { id name phase }`,
//! `proposals`/`debates { id title summary description publicCreatedAt retiredAt commentsCount
//! cachedVotesUp geozone { name } tags { edges { node { name } } } }`. `polls` is not a root
//! field in every version: when the API says it does not exist, polls are skipped with a warning.
//!
//! Mapping: a budget is a `process` (method `budgets`, its phase as the active phase), a poll a
//! `consultation`, a proposal a `proposal`, a debate a `proposal` with method `debates`. URLs are
//! CONSUL's public pages (`/budgets/ID`, `/polls/ID`, `/proposals/ID`, `/debates/ID`).
//!
//! What it must not do: touch the store or the index; ask for `publicAuthor`, `users`,
//! `comments`, `votes` or any other personal data; keep markup (texts go through
//! [`snodo_sitekit::build_record`]); page forever (a page cap and a seen-cursor set).

use std::collections::HashSet;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use snodo_connector::{
    Connector, ConnectorError, HarvestContext, HarvestOutput, Progress, SourceSpec,
};
use snodo_model::{Kind, LocalizedText, Phase, Record, RecordId};
use snodo_sitekit::{build_record, parse_instant, Item, Target};

/// What can be harvested, in config order.
pub const COLLECTIONS: [&str; 4] = ["budgets", "polls", "proposals", "debates"];

const PAGE_SIZE: u32 = 25;

/// The GraphQL documents this connector sends, and only these.
pub fn query(collection: &str) -> Option<&'static str> {
    Some(match collection {
        "budgets" => "query Budgets($first: Int!, $after: String) { budgets(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id name phase } } } }",
        "polls" => "query Polls($first: Int!, $after: String) { polls(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id title commentsCount geozone { name } } } } }",
        "proposals" => "query Proposals($first: Int!, $after: String) { proposals(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id title summary description publicCreatedAt retiredAt commentsCount cachedVotesUp geozone { name } tags { edges { node { name } } } } } } }",
        "debates" => "query Debates($first: Int!, $after: String) { debates(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id title description publicCreatedAt commentsCount tags { edges { node { name } } } } } } }",
        _ => return None,
    })
}

/// Keys of a `kind = "consul"` source besides the common ones (`url` is the platform's base URL).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsulParams {
    /// Which collections: `budgets`, `polls`, `proposals`, `debates` (default all four).
    pub collections: Option<Vec<String>>,
    /// The language of the platform's texts (default `es`: most CONSUL platforms are Spanish).
    pub locale: Option<String>,
    /// Pages read per collection at most (default 50 of 25 items).
    pub max_pages: Option<u32>,
    /// Items per run at most (default 5000).
    pub max_items: Option<u32>,
}

/// One configured CONSUL platform.
#[derive(Debug, Clone)]
pub struct ConsulConnector {
    base: String,
    endpoint: String,
    collections: Vec<&'static str>,
    locale: String,
    max_pages: u32,
    max_items: usize,
}

impl ConsulConnector {
    pub fn new(spec: &SourceSpec, params: ConsulParams) -> Result<Self, String> {
        let mut p = Vec::new();
        let base = snodo_sitekit::parse_url(
            "url",
            &spec.url,
            "the platform's base URL such as https://decide.madrid.es",
            &mut p,
        )
        .map(|u| u.as_str().trim_end_matches('/').to_owned());
        let mut collections = Vec::new();
        match &params.collections {
            None => collections = COLLECTIONS.to_vec(),
            Some(list) => {
                for c in list {
                    match COLLECTIONS.iter().find(|k| **k == c.trim()) {
                        Some(k) if !collections.contains(k) => collections.push(*k),
                        Some(_) => {}
                        None => p.push(format!(
                            "collections: unknown collection `{c}`; expected {}",
                            COLLECTIONS.join(", ")
                        )),
                    }
                }
                if list.is_empty() {
                    p.push("collections: list at least one collection".into());
                }
            }
        }
        let locale =
            snodo_sitekit::parse_locale(Some(params.locale.as_deref().unwrap_or("es")), &mut p);
        let max_pages = snodo_sitekit::bounded(
            "max_pages",
            params.max_pages,
            snodo_sitekit::DEFAULT_MAX_PAGES,
            10_000,
            &mut p,
        );
        let max_items = snodo_sitekit::bounded(
            "max_items",
            params.max_items,
            snodo_sitekit::DEFAULT_MAX_ITEMS,
            100_000,
            &mut p,
        );
        match base {
            Some(base) if p.is_empty() => Ok(ConsulConnector {
                endpoint: format!("{base}/graphql"),
                base,
                collections,
                locale,
                max_pages,
                max_items: max_items as usize,
            }),
            _ => Err(snodo_sitekit::params_error(&spec.id, "consul", &p)),
        }
    }

    fn record_of(
        &self,
        collection: &str,
        node: &Value,
        source: &SourceSpec,
        warnings: &mut Vec<String>,
    ) -> Result<Record, String> {
        let id = match &node["id"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(format!("{}: a {collection} item has no id", self.endpoint)),
        };
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "{}: a {collection} item has an odd id `{}`",
                self.endpoint,
                snodo_model::text::truncate_words(&id, 40)
            ));
        }
        let s = |k: &str| node[k].as_str().map(str::to_owned);
        let (kind, path) = match collection {
            "budgets" => (Kind::Process, "budgets"),
            "polls" => (Kind::Consultation, "polls"),
            "proposals" => (Kind::Proposal, "proposals"),
            _ => (Kind::Proposal, "debates"),
        };
        let mut item = Item {
            upstream_id: Some(format!("{path}/{id}")),
            url: format!("{}/{path}/{id}", self.base),
            title: s("title").or_else(|| s("name")).unwrap_or_default(),
            summary: s("summary"),
            body_html: s("description"),
            published: s("publicCreatedAt").as_deref().and_then(parse_instant),
            territory: node["geozone"]["name"].as_str().map(str::to_owned),
            ..Item::default()
        };
        if let Some(edges) = node["tags"]["edges"].as_array() {
            item.topics = edges
                .iter()
                .filter_map(|e| e["node"]["name"].as_str().map(str::to_owned))
                .collect();
        }
        if let Some(retired) = s("retiredAt")
            .as_deref()
            .and_then(snodo_sitekit::parse_date)
        {
            item.end = Some(retired);
            item.status = Some(snodo_model::Status::Closed);
        }
        let target = Target {
            source: source.clone(),
            kind,
            locale: self.locale.clone(),
        };
        let mut r = build_record(item, &target, warnings)?;
        r.activity.comments = node["commentsCount"].as_u64();
        match collection {
            "budgets" => {
                r.methods = vec!["budgets".into()];
                if let Some(phase) = s("phase").filter(|p| !p.trim().is_empty()) {
                    r.phases.push(Phase {
                        title: LocalizedText::single("en", &phase.replace('_', " ")),
                        active: true,
                        ..Phase::default()
                    });
                }
            }
            "polls" => r.methods = vec!["surveys".into()],
            "debates" => r.methods = vec!["debates".into()],
            _ => r.methods = vec!["proposals".into()],
        }
        Ok(r)
    }
}

/// A GraphQL answer's errors as one line.
fn errors_of(answer: &Value) -> Option<String> {
    let errs = answer["errors"].as_array()?;
    if errs.is_empty() {
        return None;
    }
    Some(
        errs.iter()
            .take(3)
            .map(|e| e["message"].as_str().unwrap_or("unknown error").to_owned())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[async_trait]
impl Connector for ConsulConnector {
    fn kind(&self) -> &'static str {
        "consul"
    }

    async fn harvest(
        &self,
        ctx: &HarvestContext,
        _checkpoint: Option<&str>,
    ) -> Result<HarvestOutput, ConnectorError> {
        let mut out = HarvestOutput::default();
        let mut ids: HashSet<RecordId> = HashSet::new();
        let mut whole = true;
        'collections: for collection in &self.collections {
            let Some(doc) = query(collection) else {
                continue;
            };
            let mut after: Option<String> = None;
            let mut cursors: HashSet<String> = HashSet::new();
            for page in 0.. {
                ctx.check_cancelled()?;
                if page >= self.max_pages {
                    whole = false;
                    out.warnings.push(format!(
                        "{}: {collection}: more than {} pages; stopped (raise max_pages)",
                        self.endpoint, self.max_pages
                    ));
                    break;
                }
                let body = json!({"query": doc, "variables": {"first": PAGE_SIZE, "after": after}});
                let answer = ctx.http.post_json(&self.endpoint, &body).await?;
                if let Some(e) = errors_of(&answer) {
                    if *collection == "polls" && e.contains("doesn't exist") {
                        out.warnings.push(format!(
                            "{}: this CONSUL version has no `polls` in its API; polls skipped",
                            self.endpoint
                        ));
                        continue 'collections;
                    }
                    return Err(ConnectorError::Protocol {
                        url: self.endpoint.clone(),
                        message: format!("the GraphQL API refused the {collection} query: {e}"),
                    });
                }
                let conn = &answer["data"][*collection];
                let Some(edges) = conn["edges"].as_array() else {
                    return Err(ConnectorError::Protocol {
                        url: self.endpoint.clone(),
                        message: format!(
                            "expected data.{collection}.edges in the answer; is this a CONSUL /graphql endpoint?"
                        ),
                    });
                };
                ctx.report(Progress::Page {
                    what: format!("{collection} page {}", page + 1),
                });
                for e in edges {
                    match self.record_of(collection, &e["node"], &ctx.source, &mut out.warnings) {
                        Ok(r) => {
                            if ids.len() < self.max_items && ids.insert(r.id.clone()) {
                                out.records.push(r);
                            }
                        }
                        Err(msg) => {
                            out.failed += 1;
                            out.warnings.push(format!("item skipped: {msg}"));
                        }
                    }
                }
                // `ids` holds every record taken, handed over or not.
                if ids.len() >= self.max_items || ctx.limit_reached(ids.len()) {
                    whole = false;
                    break 'collections;
                }
                ctx.hand_over(&mut out).await?;
                let next = conn["pageInfo"]["hasNextPage"].as_bool() == Some(true);
                let cursor = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
                match cursor {
                    Some(c) if next && cursors.insert(c.clone()) => after = Some(c),
                    Some(_) if next => {
                        whole = false;
                        out.warnings.push(format!(
                            "{}: {collection}: the API repeated a cursor; stopped",
                            self.endpoint
                        ));
                        break;
                    }
                    _ => break,
                }
            }
        }
        ctx.report(Progress::Records {
            n: ids.len() as u64,
        });
        out.complete = whole && ctx.item_limit().is_none();
        Ok(out)
    }
}
