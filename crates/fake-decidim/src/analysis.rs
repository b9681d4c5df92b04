//! Static analysis shared by validation and execution: field collection, argument values,
//! graphql-ruby's depth and complexity.

use std::collections::HashSet;

use apollo_compiler::ast::Value as GqlValue;
use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node};
use serde_json::{Map, Value};

use crate::errors::GqlError;
use crate::schema::SchemaInfo;

/// Fields grouped by response key, in query order (the spec's CollectFields).
pub(crate) type Grouped<'d> = Vec<(&'d str, Vec<&'d Node<Field>>)>;

/// Collects the fields of `sets` that apply to an object of type `runtime`.
pub(crate) fn collect_fields<'d>(
    info: &SchemaInfo,
    doc: &'d ExecutableDocument,
    sets: &[&'d SelectionSet],
    runtime: &str,
    vars: &Map<String, Value>,
) -> Grouped<'d> {
    let mut out: Grouped<'d> = Vec::new();
    let mut visited = HashSet::new();
    for set in sets {
        collect_into(info, doc, set, runtime, vars, &mut out, &mut visited);
    }
    out
}

fn collect_into<'d>(
    info: &SchemaInfo,
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    runtime: &str,
    vars: &Map<String, Value>,
    out: &mut Grouped<'d>,
    visited: &mut HashSet<&'d str>,
) {
    for selection in &set.selections {
        if skipped(selection.directives(), vars) {
            continue;
        }
        match selection {
            Selection::Field(field) => {
                let key = field.response_key().as_str();
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, list)) => list.push(field),
                    None => out.push((key, vec![field])),
                }
            }
            Selection::InlineFragment(inline) => {
                let applies = inline
                    .type_condition
                    .as_ref()
                    .is_none_or(|cond| info.applies(cond, runtime));
                if applies {
                    collect_into(
                        info,
                        doc,
                        &inline.selection_set,
                        runtime,
                        vars,
                        out,
                        visited,
                    );
                }
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.fragment_name.as_str();
                if !visited.insert(name) {
                    continue;
                }
                if let Some(fragment) = doc.fragments.get(name) {
                    if info.applies(fragment.type_condition(), runtime) {
                        collect_into(
                            info,
                            doc,
                            &fragment.selection_set,
                            runtime,
                            vars,
                            out,
                            visited,
                        );
                    }
                }
            }
        }
    }
}

/// `@skip(if: true)` or `@include(if: false)`.
fn skipped(directives: &apollo_compiler::ast::DirectiveList, vars: &Map<String, Value>) -> bool {
    let flag = |name: &str| {
        directives
            .get_all(name)
            .next()
            .and_then(|d| d.specified_argument_by_name("if"))
            .map(|v| value_to_json(v, vars) == Value::Bool(true))
    };
    flag("skip") == Some(true) || flag("include") == Some(false)
}

/// A literal or variable as JSON; absent variables are null.
pub(crate) fn value_to_json(value: &GqlValue, vars: &Map<String, Value>) -> Value {
    match value {
        GqlValue::Null => Value::Null,
        GqlValue::Enum(n) => Value::String(n.to_string()),
        GqlValue::Variable(n) => vars.get(n.as_str()).cloned().unwrap_or(Value::Null),
        GqlValue::String(s) => Value::String(s.clone()),
        GqlValue::Float(f) => f
            .try_to_f64()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        GqlValue::Int(i) => i
            .as_str()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::Null),
        GqlValue::Boolean(b) => Value::Bool(*b),
        GqlValue::List(items) => {
            Value::Array(items.iter().map(|v| value_to_json(v, vars)).collect())
        }
        GqlValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), value_to_json(v, vars)))
                .collect(),
        ),
    }
}

/// A field's arguments as JSON, with the SDL's defaults for the unspecified ones. Arguments given
/// as absent variables are left out, like graphql-ruby does.
pub(crate) fn field_arguments(field: &Field, vars: &Map<String, Value>) -> Map<String, Value> {
    let mut args = Map::new();
    for def in &field.definition.arguments {
        let given = field
            .arguments
            .iter()
            .find(|a| a.name == def.name)
            .map(|a| &a.value);
        let value = match given {
            Some(v) => match v.as_ref() {
                GqlValue::Variable(n) if !vars.contains_key(n.as_str()) => {
                    def.default_value.as_ref().map(|d| value_to_json(d, vars))
                }
                other => Some(value_to_json(other, vars)),
            },
            None => def.default_value.as_ref().map(|d| value_to_json(d, vars)),
        };
        if let Some(v) = value {
            args.insert(def.name.to_string(), v);
        }
    }
    args
}

/// Whether a type is a Relay connection (graphql-ruby's convention, as in the SDLs).
pub(crate) fn is_connection(type_name: &str) -> bool {
    type_name.ends_with("Connection")
}

/// graphql-ruby's `max_depth` check.
pub(crate) fn check_depth(
    doc: &Valid<ExecutableDocument>,
    op: &Operation,
    max: u64,
) -> Result<(), GqlError> {
    let depth = set_depth(doc, &op.selection_set, &mut Vec::new());
    if depth > max {
        Err(GqlError::new(format!(
            "Query has depth of {depth}, which exceeds max depth of {max}"
        )))
    } else {
        Ok(())
    }
}

fn set_depth<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    stack: &mut Vec<&'d str>,
) -> u64 {
    set.selections
        .iter()
        .map(|s| match s {
            Selection::Field(f) => {
                if f.selection_set.selections.is_empty() {
                    1
                } else {
                    1 + set_depth(doc, &f.selection_set, stack)
                }
            }
            Selection::InlineFragment(i) => set_depth(doc, &i.selection_set, stack),
            Selection::FragmentSpread(spread) => {
                let name = spread.fragment_name.as_str();
                if stack.contains(&name) {
                    return 0;
                }
                match doc.fragments.get(name) {
                    Some(fragment) => {
                        stack.push(name);
                        let d = set_depth(doc, &fragment.selection_set, stack);
                        stack.pop();
                        d
                    }
                    None => 0,
                }
            }
        })
        .max()
        .unwrap_or(0)
}

/// graphql-ruby's complexity: 1 per field; a connection's items are multiplied by `first` (or
/// `last`, or the default page size of 50); on abstract types, the most complex possible type
/// counts.
pub(crate) fn complexity(
    info: &SchemaInfo,
    doc: &Valid<ExecutableDocument>,
    op: &Operation,
    vars: &Map<String, Value>,
) -> u64 {
    sets_complexity(info, doc, &[&op.selection_set], vars, 0)
}

const DEFAULT_PAGE_SIZE: u64 = 50;

fn sets_complexity(
    info: &SchemaInfo,
    doc: &ExecutableDocument,
    sets: &[&SelectionSet],
    vars: &Map<String, Value>,
    level: usize,
) -> u64 {
    let Some(first) = sets.first() else {
        return 0;
    };
    if level > 64 {
        return 0;
    }
    let mut types = info.possible_types(&first.ty);
    if types.is_empty() {
        types.push(first.ty.clone());
    }
    types
        .iter()
        .map(|runtime| {
            collect_fields(info, doc, sets, runtime, vars)
                .iter()
                .map(|(_, fields)| field_complexity(info, doc, fields, vars, level))
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0)
}

fn field_complexity(
    info: &SchemaInfo,
    doc: &ExecutableDocument,
    fields: &[&Node<Field>],
    vars: &Map<String, Value>,
    level: usize,
) -> u64 {
    let Some(field) = fields.first() else {
        return 0;
    };
    let children: Vec<&SelectionSet> = fields
        .iter()
        .map(|f| &f.selection_set)
        .filter(|s| !s.selections.is_empty())
        .collect();
    let child = sets_complexity(info, doc, &children, vars, level + 1);
    let ty = field.definition.ty.inner_named_type();
    if !is_connection(ty) || children.is_empty() {
        return 1 + child;
    }
    let args = field_arguments(field, vars);
    let page = |k: &str| args.get(k).and_then(Value::as_u64);
    let page_size = match (page("first"), page("last")) {
        (Some(f), Some(l)) => f.max(l),
        (Some(f), None) => f,
        (None, Some(l)) => l,
        (None, None) => DEFAULT_PAGE_SIZE,
    };
    // Metadata (pageInfo and its fields, edges, nodes) is counted once, not per item.
    let grouped = collect_fields(info, doc, &children, ty, vars);
    let mut metadata = 0;
    let mut nodes_edges = 0;
    for (_, fs) in &grouped {
        match fs[0].name.as_str() {
            "pageInfo" => {
                let sub: Vec<&SelectionSet> = fs.iter().map(|f| &f.selection_set).collect();
                metadata += 1 + collect_fields(info, doc, &sub, "PageInfo", vars).len() as u64;
            }
            "edges" | "nodes" => nodes_edges += 1,
            _ => {}
        }
    }
    let items = child.saturating_sub(metadata + nodes_edges);
    1 + page_size.saturating_mul(items) + metadata + nodes_edges
}
