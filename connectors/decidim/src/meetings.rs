//! Harvesting meetings: page through each visible space's Meetings components with the static
//! [`queries::MEETINGS`] document (Relay `first`/`after`), one component per request.
//!
//! Pages are sized so that a request stays under half the instance's max complexity (graphql-ruby
//! multiplies a connection's items by `first`); a server that still says "too complex" gets
//! smaller pages. Pagination is guarded like counting: a repeated cursor or more than `max_pages`
//! pages stops that component with a warning. Any failure leaves the harvest incomplete (so no
//! meeting is swept as gone because of it) but never fails the run: the spaces are kept.

use std::collections::HashSet;

use serde_json::{json, Value};
use snodo_connector::ConnectorError;

use crate::client::Gql;
use crate::queries;
use crate::relay;

/// Complexity of the fixed part of [`queries::MEETINGS`] (component, `__typename`, the
/// connection, `pageInfo` and its two fields, `nodes`).
pub const FIXED_COMPLEXITY: u32 = 7;
/// Complexity of one meeting node as [`queries::MEETINGS`] asks for it.
pub const NODE_COMPLEXITY: u32 = 21;
/// The smallest page tried after "too complex" answers.
const MIN_PAGE: u32 = 1;

/// The largest `first` that keeps one page under half the budget.
pub fn page_size_for(max_complexity: u32, requested: u32) -> u32 {
    let by_budget = (max_complexity / 2).saturating_sub(FIXED_COMPLEXITY) / NODE_COMPLEXITY;
    requested
        .clamp(1, crate::MAX_PAGE_SIZE)
        .min(by_budget)
        .max(1)
}

/// One Meetings component of visible space number `space` (the caller's index).
#[derive(Debug, Clone)]
pub struct Task {
    pub space: usize,
    pub component: String,
    /// Names the space in warnings ("process 12").
    pub label: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub page_size: u32,
    pub max_pages: u32,
    pub max_complexity: u32,
}

/// A meeting node as it came, with where it came from.
#[derive(Debug)]
pub struct Found {
    pub space: usize,
    pub component: String,
    pub node: Value,
}

#[derive(Debug, Default)]
pub struct Fetched {
    pub found: Vec<Found>,
    /// False when some component could not be read whole.
    pub complete: bool,
    /// Requests sent for meetings.
    pub requests: u64,
}

/// Reads one page; `Ok(Some(cursor))` when there is a next page.
fn page(
    component: Option<&Value>,
    seen: &mut HashSet<String>,
    pages: u32,
    max_pages: u32,
    out: &mut Vec<Value>,
) -> Result<Option<String>, String> {
    let (connection, nodes) = relay::nodes(component, "meetings")?;
    out.extend(nodes.iter().filter(|n| n.is_object()).cloned());
    relay::next_cursor(connection, seen, pages, max_pages)
}

pub async fn fetch(
    gql: &mut Gql<'_>,
    tasks: Vec<Task>,
    settings: Settings,
    warnings: &mut Vec<String>,
) -> Result<Fetched, ConnectorError> {
    let mut fetched = Fetched {
        complete: true,
        ..Default::default()
    };
    let mut first = page_size_for(settings.max_complexity, settings.page_size);
    for (done, task) in tasks.iter().enumerate() {
        let mut after: Option<String> = None;
        let mut seen = HashSet::new();
        let mut pages = 0u32;
        let mut nodes = Vec::new();
        let outcome: Result<(), String> = loop {
            let vars = json!({"id": task.component, "first": first, "after": after});
            let what = format!("meetings of component {}", task.component);
            fetched.requests += 1;
            let answer = match gql.send("Meetings", queries::MEETINGS, vars, what).await {
                Ok(a) => a,
                Err(ConnectorError::Cancelled) => return Err(ConnectorError::Cancelled),
                Err(e) => {
                    // The platform is failing: stop rather than hammer it; keep what was read.
                    fetched.complete = false;
                    warnings.push(format!(
                        "meetings: stopped after a failed request ({e}); the meetings of {} components were not read",
                        tasks.len() - done
                    ));
                    return Ok(fetched);
                }
            };
            if let Some(limit) = answer.complexity_limit() {
                if first > MIN_PAGE {
                    first = (first / 2).max(MIN_PAGE);
                    warnings.push(format!(
                        "meetings: the server allows a complexity of {limit} only; pages of {first}"
                    ));
                    continue;
                }
            }
            pages += 1;
            match page(
                answer.field("component"),
                &mut seen,
                pages,
                settings.max_pages,
                &mut nodes,
            ) {
                Ok(Some(cursor)) => after = Some(cursor),
                Ok(None) => break Ok(()),
                Err(why) if answer.errors.is_empty() => break Err(why),
                Err(why) => break Err(format!("{why} ({})", answer.messages())),
            }
        };
        if let Err(why) = outcome {
            fetched.complete = false;
            warnings.push(format!(
                "{}: reading the meetings of component {} failed: {why}; those read are kept",
                task.label, task.component
            ));
        }
        fetched.found.extend(nodes.into_iter().map(|node| Found {
            space: task.space,
            component: task.component.clone(),
            node,
        }));
    }
    Ok(fetched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_page(ids: &[&str], next: Option<&str>) -> Value {
        json!({"__typename": "Meetings", "meetings": {
            "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next},
            "nodes": ids.iter().map(|i| json!({"id": i})).collect::<Vec<_>>()
        }})
    }

    #[test]
    fn pages_are_sized_for_half_the_budget() {
        assert_eq!(page_size_for(300, 50), 6);
        assert_eq!(page_size_for(5000, 50), 50);
        assert_eq!(page_size_for(5000, 20), 20);
        assert_eq!(page_size_for(10, 50), 1);
        for limit in [300, 5000] {
            let first = page_size_for(limit, 50);
            assert!(FIXED_COMPLEXITY + first * NODE_COMPLEXITY <= limit / 2);
        }
    }

    #[test]
    fn pages_are_read_and_guarded() {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let c = page(
            Some(&answer_page(&["1", "2"], Some("a"))),
            &mut seen,
            1,
            10,
            &mut out,
        );
        assert_eq!(c, Ok(Some("a".into())));
        assert!(page(
            Some(&answer_page(&["3"], Some("a"))),
            &mut seen,
            2,
            10,
            &mut out
        )
        .unwrap_err()
        .contains("repeated"));
        assert!(page(
            Some(&answer_page(&["3"], Some("b"))),
            &mut seen,
            10,
            10,
            &mut out
        )
        .unwrap_err()
        .contains("more than 10 pages"));
        assert_eq!(
            page(Some(&answer_page(&["4"], None)), &mut seen, 3, 10, &mut out),
            Ok(None)
        );
        assert_eq!(out.len(), 5);
        let wrong = json!({"__typename": "Proposals", "proposals": {}});
        assert!(page(Some(&wrong), &mut seen, 1, 10, &mut out)
            .unwrap_err()
            .contains("Proposals"));
        assert!(page(None, &mut seen, 1, 10, &mut out).is_err());
    }
}
