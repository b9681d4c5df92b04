//! A small GraphQL executor over a JSON data tree, with Decidim's special resolvers.

use apollo_compiler::ast::{OperationType, Type};
use apollo_compiler::executable::{Field, Operation, SelectionSet};
use apollo_compiler::introspection;
use apollo_compiler::request::coerce_variable_values;
use apollo_compiler::response::JsonMap;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node};
use serde_json::{json, Map, Value};

use crate::analysis::{self, collect_fields, field_arguments, is_connection};
use crate::dataset::{item_is_hidden, Dataset};
use crate::errors::{errors_response, GqlError};
use crate::schema::{parse_query, schema_for, SchemaInfo};
use crate::version::Version;

/// Decidim's `default_max_page_size`.
pub(crate) const MAX_PAGE_SIZE: u64 = 50;

/// Executes a query directly (no HTTP) and returns the whole GraphQL response, as the fake server
/// would send it: `{"data": …}`, `{"data": …, "errors": […]}` or `{"errors": […]}`.
pub fn execute(version: Version, dataset: &Dataset, query: &str, variables: &Value) -> Value {
    execute_with(version, dataset, query, variables, None, None)
}

/// [`execute`] with an `operationName` and an optional injected field error: every field named
/// `field_error` (either `"stats"` or `"ParticipatoryProcess.stats"`) resolves to an error entry
/// with its `path`, and null in `data`, like a raising resolver in graphql-ruby.
pub fn execute_with(
    version: Version,
    dataset: &Dataset,
    query: &str,
    variables: &Value,
    operation_name: Option<&str>,
    field_error: Option<&str>,
) -> Value {
    let flags = &dataset.flags;
    if query.trim().is_empty() {
        return errors_response(&[GqlError::new("No query string was present")]);
    }
    let info = schema_for(version, flags.metrics_removed);
    let doc = match parse_query(info, query) {
        Ok(doc) => doc,
        Err(errors) => return errors_response(&errors),
    };
    let op = match select_operation(&doc, operation_name) {
        Ok(op) => op,
        Err(e) => return errors_response(&[e]),
    };
    let vars = match coerce_variables(info, &doc, op, variables) {
        Ok(vars) => vars,
        Err(errors) => return errors_response(&errors),
    };
    let max_depth = flags.max_depth.unwrap_or(version.default_max_depth());
    if let Err(e) = analysis::check_depth(&doc, op, max_depth) {
        return errors_response(&[e]);
    }
    let max_complexity = flags
        .max_complexity
        .unwrap_or(version.default_max_complexity());
    let complexity = analysis::complexity(info, &doc, op, &vars);
    if complexity > max_complexity {
        return errors_response(&[GqlError::new(format!(
            "Query has complexity of {complexity}, which exceeds max complexity of {max_complexity}"
        ))]);
    }
    let introspection_fields: Vec<&Node<Field>> = op
        .root_fields(&doc)
        .filter(|f| matches!(f.name.as_str(), "__schema" | "__type"))
        .collect();
    if flags.disable_introspection {
        if let Some(f) = introspection_fields.first() {
            let mut e = GqlError::new(format!("Field '{}' doesn't exist on type 'Query'", f.name))
                .at(f.location(), &doc.sources);
            e.extensions.insert("code".into(), json!("undefinedField"));
            return errors_response(&[e]);
        }
    }
    let root_type = info
        .schema
        .root_operation(OperationType::Query)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "Query".to_owned());
    let mut exec = Exec {
        version,
        info,
        doc: &doc,
        vars,
        data: dataset,
        field_error,
        root_type: root_type.clone(),
        errors: Vec::new(),
        spaces: Vec::new(),
    };
    let data = exec.selection_sets(
        &[&op.selection_set],
        &Map::new(),
        &root_type,
        &mut Vec::new(),
    );
    let mut data = data;
    if !introspection_fields.is_empty() {
        merge_introspection(info, &doc, op, &exec.vars, &mut data, &mut exec.errors);
    }
    let mut response = Map::new();
    if !exec.errors.is_empty() {
        response.insert(
            "errors".into(),
            Value::Array(exec.errors.iter().map(GqlError::to_json).collect()),
        );
    }
    response.insert("data".into(), data);
    Value::Object(response)
}

/// Answers `__schema` and `__type` with apollo-compiler's introspection executor, into `data`.
fn merge_introspection(
    info: &SchemaInfo,
    doc: &Valid<ExecutableDocument>,
    op: &Operation,
    vars: &Map<String, Value>,
    data: &mut Value,
    errors: &mut Vec<GqlError>,
) {
    let fail = |errors: &mut Vec<GqlError>, message: String| errors.push(GqlError::new(message));
    let raw: JsonMap = match serde_json::from_value(Value::Object(vars.clone())) {
        Ok(m) => m,
        Err(e) => return fail(errors, format!("Introspection failed: {e}")),
    };
    let coerced = match coerce_variable_values(&info.schema, op, &raw) {
        Ok(c) => c,
        Err(e) => return fail(errors, e.message().to_string()),
    };
    if let Err(e) = introspection::check_max_depth(doc, op) {
        return fail(errors, e.message().to_string());
    }
    match introspection::partial_execute(&info.schema, &info.implementers, doc, op, &coerced) {
        Ok(response) => {
            let partial = response
                .data
                .and_then(|d| serde_json::to_value(d).ok())
                .unwrap_or(Value::Null);
            if let (Value::Object(out), Value::Object(partial)) = (data, partial) {
                for (k, v) in partial {
                    out.insert(k, v);
                }
            }
            for e in response.errors {
                fail(errors, e.message);
            }
        }
        Err(e) => fail(errors, e.message().to_string()),
    }
}

fn select_operation<'d>(
    doc: &'d Valid<ExecutableDocument>,
    name: Option<&str>,
) -> Result<&'d Node<Operation>, GqlError> {
    let name = name.filter(|n| !n.is_empty());
    doc.operations.get(name).map_err(|_| match name {
        Some(n) => GqlError::new(format!("No operation named \"{n}\"")),
        None => GqlError::new("An operation name is required"),
    })
}

fn coerce_variables(
    info: &SchemaInfo,
    doc: &ExecutableDocument,
    op: &Operation,
    provided: &Value,
) -> Result<Map<String, Value>, Vec<GqlError>> {
    let empty = Map::new();
    let given = match provided {
        Value::Object(m) => m,
        _ => &empty,
    };
    let mut out = Map::new();
    let mut errors = Vec::new();
    for def in &op.variables {
        let name = def.name.as_str();
        let invalid = |value: &Value, explanation: String| {
            let mut e = GqlError::new(format!(
                "Variable ${name} of type {} was provided invalid value",
                def.ty
            ))
            .at(def.location(), &doc.sources);
            e.extensions.insert("value".into(), value.clone());
            e.extensions.insert(
                "problems".into(),
                json!([{"path": [], "explanation": explanation}]),
            );
            e
        };
        match given.get(name) {
            Some(v) if input_ok(info, v, &def.ty) => {
                out.insert(name.to_owned(), v.clone());
            }
            Some(v) => errors.push(invalid(
                v,
                if v.is_null() {
                    "Expected value to not be null".to_owned()
                } else {
                    format!(
                        "Could not coerce value {v} to {}",
                        def.ty.inner_named_type()
                    )
                },
            )),
            None => match &def.default_value {
                Some(d) => {
                    out.insert(name.to_owned(), analysis::value_to_json(d, &Map::new()));
                }
                None if def.ty.is_non_null() => errors.push(invalid(
                    &Value::Null,
                    "Expected value to not be null".to_owned(),
                )),
                None => {}
            },
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn input_ok(info: &SchemaInfo, v: &Value, ty: &Type) -> bool {
    if v.is_null() {
        return !ty.is_non_null();
    }
    if ty.is_list() {
        return match v {
            Value::Array(items) => items.iter().all(|i| input_ok(info, i, ty.item_type())),
            other => input_ok(info, other, ty.item_type()),
        };
    }
    match ty.inner_named_type().as_str() {
        "Int" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "Float" => v.is_number(),
        "String" => v.is_string(),
        "Boolean" => v.is_boolean(),
        "ID" => v.is_string() || v.is_i64() || v.is_u64(),
        other => match info.schema.types.get(other) {
            Some(ExtendedType::Enum(e)) => v.as_str().is_some_and(|s| e.values.contains_key(s)),
            Some(ExtendedType::InputObject(_)) => v.is_object(),
            _ => true,
        },
    }
}

struct Exec<'d> {
    version: Version,
    info: &'d SchemaInfo,
    doc: &'d Valid<ExecutableDocument>,
    vars: Map<String, Value>,
    data: &'d Dataset,
    field_error: Option<&'d str>,
    root_type: String,
    errors: Vec<GqlError>,
    /// The participatory spaces being executed, innermost last (for `participatorySpace`).
    spaces: Vec<Value>,
}

const SPACE_TYPES: [&str; 4] = [
    "ParticipatoryProcess",
    "Assembly",
    "Conference",
    "Initiative",
];

impl<'d> Exec<'d> {
    fn selection_sets(
        &mut self,
        sets: &[&'d SelectionSet],
        obj: &Map<String, Value>,
        runtime: &str,
        path: &mut Vec<Value>,
    ) -> Value {
        let grouped = collect_fields(self.info, self.doc, sets, runtime, &self.vars);
        let is_space = SPACE_TYPES.contains(&runtime);
        if is_space {
            self.spaces.push(shallow_space(obj, runtime));
        }
        let mut out = Map::new();
        for (key, fields) in grouped {
            path.push(Value::from(key));
            let value = self.field(obj, runtime, &fields, path);
            path.pop();
            out.insert(key.to_owned(), value);
        }
        if is_space {
            self.spaces.pop();
        }
        Value::Object(out)
    }

    fn field(
        &mut self,
        obj: &Map<String, Value>,
        parent: &str,
        fields: &[&'d Node<Field>],
        path: &mut Vec<Value>,
    ) -> Value {
        let Some(field) = fields.first() else {
            return Value::Null;
        };
        if field.name == "__typename" {
            return Value::String(parent.to_owned());
        }
        let args = field_arguments(field, &self.vars);
        match self.resolve(obj, parent, field, &args) {
            Ok(raw) => {
                let sets: Vec<&'d SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
                self.complete(&field.definition.ty, raw, &sets, path)
            }
            Err(message) => {
                let mut e = GqlError::new(message).at(field.location(), &self.doc.sources);
                e.path = path.clone();
                self.errors.push(e);
                Value::Null
            }
        }
    }

    fn complete(
        &mut self,
        ty: &Type,
        raw: Value,
        sets: &[&'d SelectionSet],
        path: &mut Vec<Value>,
    ) -> Value {
        if raw.is_null() {
            return Value::Null;
        }
        if ty.is_list() {
            let items = match raw {
                Value::Array(items) => items,
                other => vec![other],
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(Value::from(i));
                out.push(self.complete(ty.item_type(), item, sets, path));
                path.pop();
            }
            return Value::Array(out);
        }
        let name = ty.inner_named_type().as_str();
        match self.info.schema.types.get(name) {
            Some(t) if t.is_leaf() => self.leaf(name, raw),
            Some(_) => {
                let obj = match raw {
                    Value::Object(m) => m,
                    Value::String(s) if name == "TranslatedField" => {
                        translated_from_str(&s, &self.data.flags.default_locale)
                    }
                    _ => return Value::Null,
                };
                let runtime = self.runtime_type(name, &obj);
                self.selection_sets(sets, &obj, &runtime, path)
            }
            None => raw,
        }
    }

    fn runtime_type(&self, name: &str, obj: &Map<String, Value>) -> String {
        if let Some(ExtendedType::Object(_)) = self.info.schema.types.get(name) {
            return name.to_owned();
        }
        if let Some(t) = obj.get("__typename").and_then(Value::as_str) {
            if self.info.applies(name, t) {
                return t.to_owned();
            }
        }
        let possible = self.info.possible_types(name);
        let preferred = name.strip_suffix("Interface").unwrap_or(name);
        possible
            .iter()
            .find(|p| p.as_str() == preferred)
            .or(possible.first())
            .map(|p| p.to_string())
            .unwrap_or_else(|| name.to_owned())
    }

    /// Scalar results: converts what differs between versions (String vs TranslatedField,
    /// Date vs DateTime, numeric IDs).
    fn leaf(&self, ty: &str, v: Value) -> Value {
        match (ty, v) {
            ("String", Value::Object(m)) => text_of(&m, &self.data.flags.default_locale),
            ("ID", Value::Number(n)) => Value::String(n.to_string()),
            ("Date", Value::String(s)) if s.len() > 10 && s.as_bytes()[10] == b'T' => {
                Value::String(s[..10].to_owned())
            }
            ("DateTime", Value::String(s)) if is_plain_date(&s) => {
                let offset = rome_offset(&s);
                Value::String(format!("{s}T00:00:00{offset}"))
            }
            (_, v) => v,
        }
    }

    fn resolve(
        &mut self,
        obj: &Map<String, Value>,
        parent: &str,
        field: &Field,
        args: &Map<String, Value>,
    ) -> Result<Value, String> {
        let name = field.name.as_str();
        if let Some(target) = self.field_error {
            if target == name || target == format!("{parent}.{name}") {
                return Err(format!("Internal server error resolving {parent}.{name}"));
            }
        }
        if parent == self.root_type {
            return Ok(self.root(name, &field.definition.ty, args));
        }
        if parent == "TranslatedField" {
            return Ok(translated_field(obj, name, args));
        }
        if is_connection(field.definition.ty.inner_named_type()) {
            let items = match obj.get(name) {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            };
            return self.paginate(name, items, args);
        }
        let value = match obj.get(name) {
            Some(v) => v.clone(),
            None => match args.get("id").filter(|id| !id.is_null()) {
                // `proposal(id:)` on a component finds one of its `proposals`, etc.
                Some(id) => self.find_item(obj, &format!("{name}s"), id),
                None => self.fallback(obj, parent, name),
            },
        };
        Ok(self.adjust(parent, name, value, args))
    }

    /// The visible item of the list under `plural` whose id is `id`.
    fn find_item(&self, obj: &Map<String, Value>, plural: &str, id: &Value) -> Value {
        obj.get(plural)
            .and_then(Value::as_array)
            .and_then(|items| {
                items.iter().find(|i| {
                    same_id(&i["id"], id) && (self.data.flags.leak_private || !item_is_hidden(i))
                })
            })
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Values the data does not spell out but Decidim computes.
    fn fallback(&self, obj: &Map<String, Value>, parent: &str, name: &str) -> Value {
        let space_type = obj
            .get("__typename")
            .and_then(Value::as_str)
            .unwrap_or(parent);
        match name {
            "type" if SPACE_TYPES.contains(&space_type) => json!(format!("Decidim::{space_type}")),
            "manifest" if SPACE_TYPES.contains(&space_type) => manifest(space_type),
            "participatorySpace" => self.spaces.last().cloned().unwrap_or(Value::Null),
            "participatoryProcess" if parent == "ParticipatoryProcessStep" => self
                .spaces
                .last()
                .filter(|s| s["__typename"] == "ParticipatoryProcess")
                .cloned()
                .unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    fn adjust(&self, parent: &str, name: &str, value: Value, args: &Map<String, Value>) -> Value {
        match (name, value) {
            ("components", Value::Array(items)) if SPACE_TYPES.contains(&parent) => {
                let wanted_type = args
                    .get("filter")
                    .and_then(|f| f.get("type"))
                    .and_then(Value::as_str);
                Value::Array(
                    items
                        .into_iter()
                        .filter(|c| self.data.flags.leak_private || !item_is_hidden(c))
                        .filter(|c| {
                            wanted_type.is_none_or(|t| {
                                c.get("__typename")
                                    .and_then(Value::as_str)
                                    .is_some_and(|n| n.eq_ignore_ascii_case(t))
                            })
                        })
                        .collect(),
                )
            }
            ("heroImage" | "bannerImage", Value::String(s))
                if s.starts_with('/') && self.version.full_image_urls() =>
            {
                let base = self
                    .data
                    .flags
                    .base_url
                    .as_deref()
                    .unwrap_or("http://localhost");
                Value::String(format!("{}{s}", base.trim_end_matches('/')))
            }
            (_, v) => v,
        }
    }

    fn root(&self, name: &str, ty: &Type, args: &Map<String, Value>) -> Value {
        let data = self.data;
        let arg = |k: &str| args.get(k).filter(|v| !v.is_null());
        match name {
            "participatoryProcesses" => Value::Array(list_spaces(
                data.visible_processes(),
                args,
                "ParticipatoryProcess",
            )),
            "assemblies" => Value::Array(list_spaces(data.visible_assemblies(), args, "Assembly")),
            "participatoryProcess" => {
                let found = if let Some(id) = arg("id") {
                    data.visible_processes().find(|p| same_id(&p["id"], id))
                } else if let Some(slug) = arg("slug") {
                    data.visible_processes().find(|p| &p["slug"] == slug)
                } else {
                    None
                };
                found
                    .map(|p| with_typename(p, "ParticipatoryProcess"))
                    .unwrap_or(Value::Null)
            }
            "assembly" => arg("id")
                .and_then(|id| data.visible_assemblies().find(|a| same_id(&a["id"], id)))
                .map(|a| with_typename(a, "Assembly"))
                .unwrap_or(Value::Null),
            "component" => arg("id")
                .map(|id| self.find_component(id))
                .unwrap_or(Value::Null),
            "organization" => data.organization.clone(),
            "decidim" => {
                let version = if data.flags.disclose_version {
                    json!(data
                        .flags
                        .version_string
                        .as_deref()
                        .unwrap_or(self.version.release()))
                } else {
                    Value::Null
                };
                let app = data.flags.application_name.as_deref().unwrap_or("Decidim");
                json!({"version": version, "applicationName": app})
            }
            "metrics" => {
                let names: Option<Vec<&str>> = arg("names")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect());
                Value::Array(
                    data.metrics
                        .iter()
                        .filter(|m| {
                            names.as_ref().is_none_or(|n| {
                                m["name"].as_str().is_some_and(|name| n.contains(&name))
                            })
                        })
                        .cloned()
                        .collect(),
                )
            }
            "session" => Value::Null,
            _ => data.root.get(name).cloned().unwrap_or_else(|| {
                if ty.is_list() {
                    Value::Array(Vec::new())
                } else {
                    Value::Null
                }
            }),
        }
    }

    fn find_component(&self, id: &Value) -> Value {
        let data = self.data;
        let spaces = data
            .visible_processes()
            .map(|p| (p, "ParticipatoryProcess"))
            .chain(data.visible_assemblies().map(|a| (a, "Assembly")));
        for (space, ty) in spaces {
            let Some(components) = space.get("components").and_then(Value::as_array) else {
                continue;
            };
            let found = components
                .iter()
                .find(|c| same_id(&c["id"], id) && (data.flags.leak_private || !item_is_hidden(c)));
            if let Some(Value::Object(c)) = found {
                let mut c = c.clone();
                if let Value::Object(space) = with_typename(space, ty) {
                    c.entry("participatorySpace")
                        .or_insert_with(|| shallow_space(&space, ty));
                }
                return Value::Object(c);
            }
        }
        Value::Null
    }

    /// A Relay connection over `items`, like graphql-ruby's array connection with Decidim's
    /// page size cap of 50.
    fn paginate(
        &self,
        field: &str,
        items: Vec<Value>,
        args: &Map<String, Value>,
    ) -> Result<Value, String> {
        let items: Vec<Value> = items
            .into_iter()
            .filter(|i| self.data.flags.leak_private || !item_is_hidden(i))
            .collect();
        let total = items.len();
        let count = |k: &str| -> Result<Option<usize>, String> {
            match args.get(k).and_then(Value::as_i64) {
                None => Ok(None),
                Some(n) if n < 0 => Err(format!(
                    "Argument '{k}' on Field '{field}' has an invalid value ({n}). Expected type 'Int' (not negative)."
                )),
                Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            }
        };
        let cursor = |k: &str| -> Result<Option<usize>, String> {
            match args.get(k).and_then(Value::as_str) {
                None => Ok(None),
                Some(c) => decode_cursor(c)
                    .map(Some)
                    .ok_or_else(|| format!("Invalid cursor: \"{c}\"")),
            }
        };
        let (first, last) = (count("first")?, count("last")?);
        let (after, before) = (cursor("after")?, cursor("before")?);
        let cap = MAX_PAGE_SIZE as usize;
        let mut start = after.unwrap_or(0).min(total);
        let mut end = before
            .map(|b| b.saturating_sub(1).min(total))
            .unwrap_or(total)
            .max(start);
        let first = match (first, last) {
            (None, None) => Some(cap),
            (Some(f), _) => Some(f.min(cap)),
            (None, Some(_)) => None,
        };
        let mut has_next = before.is_some() && end < total;
        let mut has_previous = after.is_some() && start > 0;
        if let Some(f) = first {
            has_next = end - start > f;
            if has_next {
                end = start + f;
            }
        }
        if let Some(l) = last.map(|l| l.min(cap)) {
            has_previous = end - start > l;
            if has_previous {
                start = end - l;
            }
        }
        let page = &items[start..end];
        let edges: Vec<Value> = page
            .iter()
            .enumerate()
            .map(|(i, node)| json!({"cursor": encode_cursor(start + i + 1), "node": node}))
            .collect();
        let (start_cursor, end_cursor) = if page.is_empty() {
            (Value::Null, Value::Null)
        } else {
            (json!(encode_cursor(start + 1)), json!(encode_cursor(end)))
        };
        Ok(json!({
            "edges": edges,
            "nodes": page,
            "pageInfo": {
                "hasNextPage": has_next,
                "hasPreviousPage": has_previous,
                "startCursor": start_cursor,
                "endCursor": end_cursor,
            }
        }))
    }
}

/// The spaces of a root list, with `filter` and `order` applied like Decidim does.
fn list_spaces<'a>(
    spaces: impl Iterator<Item = &'a Value>,
    args: &Map<String, Value>,
    typename: &str,
) -> Vec<Value> {
    let filter = args.get("filter").and_then(Value::as_object);
    let get = |k: &str| filter.and_then(|f| f.get(k)).and_then(Value::as_str);
    let (since, before, hashtag) = (
        get("publishedSince"),
        get("publishedBefore"),
        get("hashtag"),
    );
    let published = |s: &Value| {
        s["publishedAt"]
            .as_str()
            .map(|p| p.get(..10).unwrap_or(p).to_owned())
    };
    let mut out: Vec<Value> = spaces
        .filter(|s| since.is_none_or(|d| published(s).is_some_and(|p| p.as_str() >= d)))
        .filter(|s| before.is_none_or(|d| published(s).is_some_and(|p| p.as_str() <= d)))
        .filter(|s| {
            hashtag.is_none_or(|h| s["hashtag"].as_str() == Some(h.trim_start_matches('#')))
        })
        .map(|s| with_typename(s, typename))
        .collect();
    if let Some(order) = args.get("order").and_then(Value::as_object) {
        for (key, dir) in order {
            let desc = dir.as_str().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            out.sort_by(|a, b| {
                let ord = compare_field(&a[key.as_str()], &b[key.as_str()]);
                if desc {
                    ord.reverse()
                } else {
                    ord
                }
            });
        }
    }
    out
}

fn compare_field(a: &Value, b: &Value) -> std::cmp::Ordering {
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.as_str().unwrap_or("").cmp(b.as_str().unwrap_or("")),
    }
}

fn with_typename(v: &Value, typename: &str) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.entry("__typename")
            .or_insert_with(|| Value::String(typename.to_owned()));
    }
    v
}

/// A space without its components (what `component { participatorySpace }` can see).
fn shallow_space(obj: &Map<String, Value>, typename: &str) -> Value {
    let mut m: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| k.as_str() != "components")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    m.entry("__typename")
        .or_insert_with(|| Value::String(typename.to_owned()));
    m.entry("type")
        .or_insert_with(|| Value::String(format!("Decidim::{typename}")));
    Value::Object(m)
}

fn manifest(space_type: &str) -> Value {
    let (name, single, plural) = match space_type {
        "ParticipatoryProcess" => (
            "participatory_processes",
            "Processo partecipativo",
            "Processi partecipativi",
        ),
        "Assembly" => ("assemblies", "Assemblea", "Assemblee"),
        "Conference" => ("conferences", "Conferenza", "Conferenze"),
        _ => ("initiatives", "Iniziativa", "Iniziative"),
    };
    let tf = |t: &str| json!({"translations": [{"locale": "it", "text": t, "machineTranslated": false}]});
    json!({"name": name, "humanName": {"single": tf(single), "plural": tf(plural)}})
}

fn same_id(a: &Value, b: &Value) -> bool {
    let s = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    matches!((s(a), s(b)), (Some(x), Some(y)) if x == y)
}

/// `TranslatedField { translation(locale) translations(locales) locales }`.
fn translated_field(obj: &Map<String, Value>, name: &str, args: &Map<String, Value>) -> Value {
    let translations: Vec<&Map<String, Value>> = obj
        .get("translations")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let locale_of =
        |t: &Map<String, Value>| t.get("locale").and_then(Value::as_str).map(str::to_owned);
    match name {
        "translation" => {
            let wanted = args.get("locale").and_then(Value::as_str);
            translations
                .iter()
                .find(|t| locale_of(t).as_deref() == wanted)
                .and_then(|t| t.get("text").cloned())
                .unwrap_or(Value::Null)
        }
        "translations" => {
            let wanted: Option<Vec<&str>> = args
                .get("locales")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect());
            Value::Array(
                translations
                    .iter()
                    .filter(|t| {
                        wanted.as_ref().is_none_or(|w| {
                            locale_of(t).is_some_and(|l| w.contains(&l.as_str()))
                        })
                    })
                    .map(|t| {
                        json!({
                            "locale": t.get("locale").cloned().unwrap_or(Value::Null),
                            "text": t.get("text").cloned().unwrap_or(Value::Null),
                            "machineTranslated": t.get("machineTranslated").cloned().unwrap_or(Value::Bool(false)),
                        })
                    })
                    .collect(),
            )
        }
        "locales" => Value::Array(
            translations
                .iter()
                .filter_map(|t| t.get("locale").cloned())
                .collect(),
        ),
        _ => obj.get(name).cloned().unwrap_or(Value::Null),
    }
}

fn translated_from_str(s: &str, locale: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "translations".into(),
        json!([{"locale": locale, "text": s, "machineTranslated": false}]),
    );
    m
}

/// A TranslatedField object as a plain String: the default locale's text, else the first.
fn text_of(m: &Map<String, Value>, default_locale: &str) -> Value {
    let Some(list) = m.get("translations").and_then(Value::as_array) else {
        return Value::Null;
    };
    let text = |t: &Value| t.get("text").filter(|v| !v.is_null()).cloned();
    list.iter()
        .find(|t| t["locale"] == default_locale)
        .and_then(text)
        .or_else(|| list.iter().find_map(text))
        .unwrap_or(Value::Null)
}

fn is_plain_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Europe/Rome's UTC offset at midnight of a `YYYY-MM-DD` date (EU summer time rules).
fn rome_offset(date: &str) -> &'static str {
    let num =
        |r: std::ops::Range<usize>| date.get(r).and_then(|s| s.parse::<i64>().ok()).unwrap_or(1);
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let last_sunday = |month: i64| 31 - day_of_week(y, month, 31);
    let summer = match m {
        4..=9 => true,
        3 => d > last_sunday(3),
        10 => d <= last_sunday(10),
        _ => false,
    };
    if summer {
        "+02:00"
    } else {
        "+01:00"
    }
}

/// 0 = Sunday (Sakamoto's method).
fn day_of_week(y: i64, m: i64, d: i64) -> i64 {
    const T: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if m < 3 { y - 1 } else { y };
    let idx = usize::try_from(m - 1).unwrap_or(0).min(11);
    (y + y / 4 - y / 100 + y / 400 + T[idx] + d).rem_euclid(7)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// graphql-ruby's opaque cursor: the 1-based position, base64 (URL-safe, no padding).
pub(crate) fn encode_cursor(position: usize) -> String {
    let bytes = position.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The position in a cursor made by [`encode_cursor`] (standard or URL-safe alphabet, padded or
/// not).
pub(crate) fn decode_cursor(cursor: &str) -> Option<usize> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut bytes = Vec::new();
    for c in cursor.trim_end_matches('=').bytes() {
        let v = match c {
            b'+' => 62,
            b'/' => 63,
            _ => B64.iter().position(|&b| b == c)? as u32,
        };
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push(((bits >> nbits) & 0xff) as u8);
        }
    }
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(encode_cursor(1), "MQ");
        assert_eq!(decode_cursor("MQ=="), Some(1));
        for n in [1, 9, 10, 49, 50, 51, 123, 9999, 123456] {
            assert_eq!(decode_cursor(&encode_cursor(n)), Some(n), "{n}");
        }
        assert_eq!(decode_cursor("not a cursor!"), None);
    }

    #[test]
    fn rome_offsets() {
        assert_eq!(rome_offset("2026-01-15"), "+01:00");
        assert_eq!(rome_offset("2026-07-01"), "+02:00");
        // 2026: summer time from Sunday 29 March to Sunday 25 October.
        assert_eq!(rome_offset("2026-03-29"), "+01:00");
        assert_eq!(rome_offset("2026-03-30"), "+02:00");
        assert_eq!(rome_offset("2026-10-25"), "+02:00");
        assert_eq!(rome_offset("2026-10-26"), "+01:00");
    }
}
