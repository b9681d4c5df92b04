//! Counting what a space holds (proposals, meetings, debates, surveys, budgets) when its
//! statistics do not say: page through each component's Relay connection asking only for `id`
//! (never authors) and count the nodes.
//!
//! Pages are sized for the instance's max complexity. graphql-ruby multiplies a connection's item
//! complexity by `first`; a one-component query costs about `first + 7`, so `first = 50` is 57,
//! well under 0.26's 300. Where the budget allows it (0.27 on: 5000) up to eight components are
//! counted per request with aliases. A server that still says "too complex" gets smaller pages.
//! Pagination is guarded: a repeated cursor or more than `max_pages` pages stops that component
//! with a warning and leaves its count unknown, as does any failure. Counting never fails a run.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde_json::{json, Map, Value};
use snodo_connector::ConnectorError;
use snodo_model::Activity;

use crate::client::{one_line, Answer, Gql};
use crate::queries;
use crate::relay;

/// Component types whose contents are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CountType {
    Proposals,
    Meetings,
    Debates,
    Surveys,
    Budgets,
}

impl CountType {
    pub const ALL: [CountType; 5] = [
        CountType::Proposals,
        CountType::Meetings,
        CountType::Debates,
        CountType::Surveys,
        CountType::Budgets,
    ];

    pub fn from_typename(t: &str) -> Option<Self> {
        CountType::ALL.into_iter().find(|c| c.typename() == t)
    }

    pub fn typename(self) -> &'static str {
        match self {
            CountType::Proposals => "Proposals",
            CountType::Meetings => "Meetings",
            CountType::Debates => "Debates",
            CountType::Surveys => "Surveys",
            CountType::Budgets => "Budgets",
        }
    }

    /// The connection field on the component type (also the plural used in messages).
    pub fn field(self) -> &'static str {
        match self {
            CountType::Proposals => "proposals",
            CountType::Meetings => "meetings",
            CountType::Debates => "debates",
            CountType::Surveys => "surveys",
            CountType::Budgets => "budgets",
        }
    }

    fn single_query(self) -> (&'static str, &'static str) {
        match self {
            CountType::Proposals => ("CountProposals", queries::COUNT_PROPOSALS),
            CountType::Meetings => ("CountMeetings", queries::COUNT_MEETINGS),
            CountType::Debates => ("CountDebates", queries::COUNT_DEBATES),
            CountType::Surveys => ("CountSurveys", queries::COUNT_SURVEYS),
            CountType::Budgets => ("CountBudgets", queries::COUNT_BUDGETS),
        }
    }

    pub fn get(self, a: &Activity) -> Option<u64> {
        *self.slot_ref(a)
    }

    pub fn set(self, a: &mut Activity, v: Option<u64>) {
        *self.slot(a) = v;
    }

    fn slot(self, a: &mut Activity) -> &mut Option<u64> {
        match self {
            CountType::Proposals => &mut a.proposals,
            CountType::Meetings => &mut a.meetings,
            CountType::Debates => &mut a.debates,
            CountType::Surveys => &mut a.surveys,
            CountType::Budgets => &mut a.budgets,
        }
    }

    fn slot_ref(self, a: &Activity) -> &Option<u64> {
        match self {
            CountType::Proposals => &a.proposals,
            CountType::Meetings => &a.meetings,
            CountType::Debates => &a.debates,
            CountType::Surveys => &a.surveys,
            CountType::Budgets => &a.budgets,
        }
    }
}

/// One component to count, within space number `space` (the caller's index).
#[derive(Debug, Clone)]
pub struct Task {
    pub space: usize,
    pub ctype: CountType,
    pub component: String,
    /// Names the space in warnings ("process 12").
    pub label: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Requested page size (1–50).
    pub page_size: u32,
    pub max_pages: u32,
    pub max_complexity: u32,
}

/// Counts per `(space, type)`: `Some(n)` when every component of that type was counted.
pub type Totals = BTreeMap<(usize, CountType), Option<u64>>;

/// The smallest page tried after "too complex" answers.
const MIN_PAGE: u32 = 5;

/// The largest `first` that keeps a one-component count query under half the budget.
pub fn page_size_for(max_complexity: u32, requested: u32) -> u32 {
    let by_budget = (max_complexity / 2).saturating_sub(7);
    requested.clamp(1, 50).min(by_budget).max(1)
}

/// Estimated complexity of [`queries::COUNT_BATCH`] if the server adds up every type branch of
/// every slot (the pessimistic reading; graphql-ruby takes the max over branches).
pub fn batch_complexity(first: u32) -> u32 {
    let per_branch = 1 + first + 3 + 1;
    queries::BATCH_SLOTS as u32 * (5 * per_branch + 2)
}

/// Batching is used only when even the pessimistic estimate stays under half the budget.
pub fn batch_allowed(max_complexity: u32, first: u32) -> bool {
    batch_complexity(first) <= max_complexity / 2
}

struct Running {
    task: Task,
    after: Option<String>,
    seen: HashSet<String>,
    pages: u32,
    nodes: u64,
}

/// Reads one page of a component's connection; `Ok(true)` when there is a next page.
fn step(r: &mut Running, component: Option<&Value>, max_pages: u32) -> Result<bool, String> {
    let (connection, nodes) = relay::nodes(component, r.task.ctype.field())?;
    r.nodes += nodes.iter().filter(|n| !n.is_null()).count() as u64;
    r.pages += 1;
    r.after = relay::next_cursor(connection, &mut r.seen, r.pages, max_pages)?;
    Ok(r.after.is_some())
}

fn finish(totals: &mut Totals, r: &Running) {
    if let Some(Some(n)) = totals.get_mut(&(r.task.space, r.task.ctype)) {
        *n += r.nodes;
    }
}

fn fail(totals: &mut Totals, r: &Running, why: &str, warnings: &mut Vec<String>) {
    totals.insert((r.task.space, r.task.ctype), None);
    warnings.push(format!(
        "{}: counting the {} of component {} failed: {why}; the count is left unknown",
        r.task.label,
        r.task.ctype.field(),
        r.task.component
    ));
}

/// Errors whose path starts with `key` (an alias or `component`), for a failed slot's message.
fn slot_errors(answer: &Answer, key: &str) -> String {
    let msgs: Vec<String> = answer
        .errors
        .iter()
        .filter(|e| {
            matches!(e.path.as_deref(), Some([graphql_client::PathFragment::Key(k), ..]) if k == key)
        })
        .map(|e| one_line(&e.message))
        .collect();
    msgs.join("; ")
}

pub async fn count(
    gql: &mut Gql<'_>,
    tasks: Vec<Task>,
    settings: Settings,
    warnings: &mut Vec<String>,
) -> Result<Totals, ConnectorError> {
    let mut totals: Totals = BTreeMap::new();
    for t in &tasks {
        totals.insert((t.space, t.ctype), Some(0));
    }
    let mut queue: VecDeque<Running> = tasks
        .into_iter()
        .map(|task| Running {
            task,
            after: None,
            seen: HashSet::new(),
            pages: 0,
            nodes: 0,
        })
        .collect();
    let mut first = page_size_for(settings.max_complexity, settings.page_size);
    let mut batch = batch_allowed(settings.max_complexity, first);
    while !queue.is_empty() {
        let take = if batch { queries::BATCH_SLOTS } else { 1 };
        let slots: Vec<Running> = queue.drain(..take.min(queue.len())).collect();
        let sent = if batch {
            let mut vars = Map::new();
            vars.insert("first".into(), json!(first));
            for i in 0..queries::BATCH_SLOTS {
                let n = i + 1;
                let slot = slots.get(i);
                vars.insert(format!("use{n}"), json!(slot.is_some()));
                vars.insert(
                    format!("id{n}"),
                    json!(slot.map_or("0", |r| r.task.component.as_str())),
                );
                vars.insert(
                    format!("after{n}"),
                    json!(slot.and_then(|r| r.after.clone())),
                );
            }
            let what = format!("component contents ({} components)", slots.len());
            gql.send(
                "CountBatch",
                queries::COUNT_BATCH,
                Value::Object(vars),
                what,
            )
            .await
        } else {
            let r = &slots[0];
            let (name, query) = r.task.ctype.single_query();
            let vars = json!({"id": r.task.component, "first": first, "after": r.after});
            let what = format!("{} of component {}", r.task.ctype.field(), r.task.component);
            gql.send(name, query, vars, what).await
        };
        let answer = match sent {
            Ok(a) => a,
            Err(ConnectorError::Cancelled) => return Err(ConnectorError::Cancelled),
            Err(e) => {
                // The platform is failing: stop counting rather than hammer it; keep the records.
                let left = slots.len() + queue.len();
                for r in slots.iter().chain(queue.iter()) {
                    totals.insert((r.task.space, r.task.ctype), None);
                }
                warnings.push(format!(
                    "counting stopped after a failed request ({e}); {left} component counts are left unknown"
                ));
                break;
            }
        };
        if let Some(limit) = answer.complexity_limit() {
            let requeue = |q: &mut VecDeque<Running>, slots: Vec<Running>| {
                for r in slots.into_iter().rev() {
                    q.push_front(r);
                }
            };
            if batch {
                batch = false;
                warnings.push(format!(
                    "counting: the server allows a complexity of {limit} only; counting one component per request"
                ));
                requeue(&mut queue, slots);
                continue;
            }
            if first > MIN_PAGE {
                first = (first / 2).max(MIN_PAGE);
                warnings.push(format!(
                    "counting: the server allows a complexity of {limit} only; pages of {first}"
                ));
                requeue(&mut queue, slots);
                continue;
            }
        }
        if batch && answer.data.is_none() {
            batch = false;
            warnings.push(format!(
                "counting: the batched count query was refused ({}); counting one component per request",
                answer.messages()
            ));
            for r in slots.into_iter().rev() {
                queue.push_front(r);
            }
            continue;
        }
        for (i, mut r) in slots.into_iter().enumerate() {
            let key = if batch {
                format!("c{}", i + 1)
            } else {
                "component".to_owned()
            };
            match step(&mut r, answer.field(&key), settings.max_pages) {
                Ok(true) => queue.push_back(r),
                Ok(false) => finish(&mut totals, &r),
                Err(why) => {
                    let upstream = match slot_errors(&answer, &key) {
                        e if !e.is_empty() => e,
                        _ if answer.data.is_none() => answer.messages(),
                        _ => String::new(),
                    };
                    let why = if upstream.is_empty() {
                        why
                    } else {
                        format!("{why} ({upstream})")
                    };
                    fail(&mut totals, &r, &why, warnings);
                }
            }
        }
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> Running {
        Running {
            task: Task {
                space: 0,
                ctype: CountType::Proposals,
                component: "5".into(),
                label: "process 1".into(),
            },
            after: None,
            seen: HashSet::new(),
            pages: 0,
            nodes: 0,
        }
    }

    fn page(n: usize, next: Option<&str>) -> Value {
        json!({"__typename": "Proposals", "proposals": {
            "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next},
            "nodes": (0..n).map(|i| json!({"id": i.to_string()})).collect::<Vec<_>>()
        }})
    }

    #[test]
    fn pages_are_sized_for_the_budget() {
        assert_eq!(page_size_for(300, 50), 50);
        assert_eq!(page_size_for(5000, 50), 50);
        assert_eq!(page_size_for(5000, 80), 50);
        assert_eq!(page_size_for(60, 50), 23);
        assert_eq!(page_size_for(10, 50), 1);
        assert!(!batch_allowed(300, 50));
        assert!(batch_allowed(5000, 50));
        assert!(batch_complexity(50) < 2500);
    }

    #[test]
    fn pages_are_counted_and_followed() {
        let mut r = running();
        assert_eq!(step(&mut r, Some(&page(50, Some("a"))), 10), Ok(true));
        assert_eq!(r.after.as_deref(), Some("a"));
        assert_eq!(step(&mut r, Some(&page(3, None)), 10), Ok(false));
        assert_eq!(r.nodes, 53);
    }

    #[test]
    fn repeated_cursors_and_endless_pages_stop() {
        let mut r = running();
        assert_eq!(step(&mut r, Some(&page(1, Some("a"))), 10), Ok(true));
        assert!(step(&mut r, Some(&page(1, Some("a"))), 10)
            .unwrap_err()
            .contains("repeated"));
        let mut r = running();
        for i in 0..2 {
            assert_eq!(
                step(&mut r, Some(&page(1, Some(&format!("c{i}")))), 3),
                Ok(true)
            );
        }
        assert!(step(&mut r, Some(&page(1, Some("c9"))), 3)
            .unwrap_err()
            .contains("more than 3 pages"));
        let mut r = running();
        assert!(step(&mut r, Some(&page(1, Some(""))), 3).is_err());
        assert!(step(&mut r, Some(&json!({"__typename": "Meetings"})), 3)
            .unwrap_err()
            .contains("Meetings"));
        assert!(step(&mut r, None, 3).is_err());
    }
}
