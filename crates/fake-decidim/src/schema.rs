//! The bundled SDLs, parsed once, and query validation against them.

use std::sync::OnceLock;

use apollo_compiler::collections::HashMap;
use apollo_compiler::executable::Operation;
use apollo_compiler::schema::{ExtendedType, Implementers};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node, Schema};
use serde_json::{Map, Value};

use crate::analysis;
use crate::errors::{self, GqlError};
use crate::version::{schema_sdl, Version, MAX_DEPTH};

/// A parsed schema and what execution needs to know about abstract types.
pub(crate) struct SchemaInfo {
    pub schema: Valid<Schema>,
    pub implementers: HashMap<Name, Implementers>,
}

impl SchemaInfo {
    /// The concrete object types a value of type `ty` can have.
    pub fn possible_types(&self, ty: &str) -> Vec<Name> {
        match self.schema.types.get(ty) {
            Some(ExtendedType::Object(o)) => vec![o.name.clone()],
            Some(ExtendedType::Interface(_)) => self
                .implementers
                .get(ty)
                .map(|i| i.objects.iter().cloned().collect())
                .unwrap_or_default(),
            Some(ExtendedType::Union(u)) => u.members.iter().map(|m| m.name.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a fragment with type condition `cond` applies to an object of type `runtime`.
    pub fn applies(&self, cond: &str, runtime: &str) -> bool {
        cond == runtime || self.schema.is_subtype(cond, runtime)
    }
}

const SLOTS: usize = Version::ALL.len() * 2;
static SCHEMAS: [OnceLock<SchemaInfo>; SLOTS] = [const { OnceLock::new() }; SLOTS];

/// The schema of `version`; without the root `metrics` field when `metrics_removed`.
pub(crate) fn schema_for(version: Version, metrics_removed: bool) -> &'static SchemaInfo {
    let index = Version::ALL.iter().position(|v| *v == version).unwrap_or(0) * 2
        + usize::from(metrics_removed);
    SCHEMAS[index].get_or_init(|| build(version, metrics_removed))
}

fn build(version: Version, metrics_removed: bool) -> SchemaInfo {
    let file = format!("decidim-{}.graphql", version.as_str());
    // The SDLs are reconstructed: take whatever parses, even if the schema is not perfectly
    // valid, and validate queries against that.
    let mut schema = match Schema::parse(schema_sdl(version), &file) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(%file, errors = e.errors.len(), "SDL parsed with errors; using the partial schema");
            e.partial
        }
    };
    if metrics_removed {
        if let Some(ExtendedType::Object(query)) = schema.types.get_mut("Query") {
            query.make_mut().fields.shift_remove("metrics");
        }
    }
    let schema = match schema.validate() {
        Ok(valid) => valid,
        Err(e) => {
            tracing::debug!(%file, errors = e.errors.len(), "SDL does not validate; assuming it valid");
            Valid::assume_valid(e.partial)
        }
    };
    let implementers = schema.implementers_map();
    SchemaInfo {
        schema,
        implementers,
    }
}

/// Parses and validates a query, with graphql-ruby's wording for the errors.
pub(crate) fn parse_query(
    info: &SchemaInfo,
    query: &str,
) -> Result<Valid<ExecutableDocument>, Vec<GqlError>> {
    match ExecutableDocument::parse_and_validate(&info.schema, query, "query.graphql") {
        Ok(doc) => Ok(doc),
        Err(with_errors) => {
            let ops = &with_errors.partial.operations;
            let op_label = match (&ops.anonymous, ops.named.len()) {
                (None, 1) => ops
                    .named
                    .keys()
                    .next()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "anonymous query".into()),
                _ => "anonymous query".to_owned(),
            };
            let diagnostics: Vec<_> = with_errors.errors.iter().collect();
            let syntax_only = diagnostics.iter().any(errors::is_syntax_error);
            Err(diagnostics
                .iter()
                .filter(|d| !syntax_only || errors::is_syntax_error(d))
                .filter_map(|d| errors::from_diagnostic(d, &info.schema, query, &op_label))
                .collect())
        }
    }
}

/// Every operation of a document, named or not.
pub(crate) fn operations(doc: &ExecutableDocument) -> impl Iterator<Item = &Node<Operation>> {
    doc.operations
        .anonymous
        .iter()
        .chain(doc.operations.named.values())
}

/// Validates a query against a version's SDL, as Decidim would before running it.
///
/// Checks everything graphql-ruby checks statically: syntax, fields, arguments, fragments,
/// variables, and the maximum depth (15). It does not check complexity, which depends on the
/// variables: see [`complexity`]. `Err` lists every problem, each with its line and column.
pub fn validate(version: Version, query: &str) -> Result<(), Vec<String>> {
    check(
        schema_for(version, false),
        version.default_max_depth(),
        query,
    )
}

/// Validates a query like [`validate`], against any SDL: a schema transcribed from a Decidim
/// release this crate does not serve (the maximum depth is 15 on every release). Unlike the
/// served versions, the SDL itself must be valid: an `Err` then says what is wrong with it.
pub fn validate_sdl(sdl: &str, file: &str, query: &str) -> Result<(), Vec<String>> {
    let schema = Schema::parse_and_validate(sdl, file)
        .map_err(|e| vec![format!("{file} is not a valid schema: {}", e.errors)])?;
    let implementers = schema.implementers_map();
    check(
        &SchemaInfo {
            schema,
            implementers,
        },
        MAX_DEPTH,
        query,
    )
}

fn check(info: &SchemaInfo, max: u64, query: &str) -> Result<(), Vec<String>> {
    let doc = parse_query(info, query)
        .map_err(|errs| errs.iter().map(GqlError::to_line).collect::<Vec<_>>())?;
    let problems: Vec<String> = operations(&doc)
        .filter_map(|op| analysis::check_depth(&doc, op, max).err())
        .map(|e| e.to_line())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The complexity graphql-ruby would compute for a query with these variables (the largest over
/// the document's operations), after validating it like [`validate`].
///
/// Compare it with [`Version::default_max_complexity`] to size pages for an instance.
pub fn complexity(version: Version, query: &str, variables: &Value) -> Result<u64, Vec<String>> {
    validate(version, query)?;
    let info = schema_for(version, false);
    let doc = parse_query(info, query)
        .map_err(|errs| errs.iter().map(GqlError::to_line).collect::<Vec<_>>())?;
    let vars: Map<String, Value> = variables.as_object().cloned().unwrap_or_default();
    Ok(operations(&doc)
        .map(|op| analysis::complexity(info, &doc, op, &vars))
        .max()
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_parses_with_a_query_root() {
        for v in Version::ALL {
            for removed in [false, true] {
                let info = schema_for(v, removed);
                let query = info.schema.get_object("Query").expect("Query type");
                assert!(query.fields.contains_key("participatoryProcesses"), "{v}");
                assert_eq!(query.fields.contains_key("metrics"), !removed, "{v}");
                assert!(!info.possible_types("ComponentInterface").is_empty());
            }
        }
    }

    #[test]
    fn validate_reports_graphql_ruby_messages() {
        let errs = validate(Version::V0_28, "{ organization { nome } }").unwrap_err();
        assert_eq!(
            errs,
            vec!["Field 'nome' doesn't exist on type 'Organization' (at 1:18)".to_owned()]
        );
        let errs = validate(Version::V0_30Dev2024_10, "{ organization { name } }").unwrap_err();
        assert!(
            errs[0].starts_with("Field must have selections (field 'name' returns TranslatedField"),
            "{errs:?}"
        );
        let errs = validate(
            Version::V0_28,
            "{ organization { name { translation(locale: \"it\") } } }",
        )
        .unwrap_err();
        assert!(
            errs[0].starts_with(
                "Selections can't be made on scalars (field 'name' returns String but has selections [translation])"
            ),
            "{errs:?}"
        );
        let errs = validate(Version::V0_28, "{ organization { name } ").unwrap_err();
        assert!(errs[0].starts_with("Parse error"), "{errs:?}");
        assert_eq!(errs.len(), 1);
    }

    #[test]
    fn validate_checks_arguments_and_variables() {
        let errs = validate(
            Version::V0_27,
            "query Q($x: ID) { participatoryProcess(slog: \"a\") { id } }",
        )
        .unwrap_err();
        assert!(errs
            .iter()
            .any(|e| e.starts_with("Field 'participatoryProcess' doesn't accept argument 'slog'")));
        assert!(errs
            .iter()
            .any(|e| e.starts_with("Variable $x is declared by Q but not used")));
        let errs = validate(
            Version::V0_27,
            "{ participatoryProcesses { title { translation } } }",
        )
        .unwrap_err();
        assert!(
            errs[0].starts_with("Field 'translation' is missing required arguments: locale"),
            "{errs:?}"
        );
    }

    #[test]
    fn no_spurious_errors_for_dropped_fields() {
        // apollo-compiler drops the undefined field; graphql-ruby reports only that.
        let q = "query Q($with: Boolean!) { participatoryProcesses { id taxonomies @include(if: $with) { ...T } } } fragment T on Scope { id }";
        let errs = validate(Version::V0_28, q).unwrap_err();
        assert_eq!(
            errs,
            vec![
                "Field 'taxonomies' doesn't exist on type 'ParticipatoryProcess' (at 1:56)"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn version_differences_come_from_the_sdl() {
        let q = "{ participatoryProcesses { taxonomies { id } } }";
        assert!(validate(Version::V0_30Dev2025_01, q).is_ok());
        assert!(validate(Version::V0_30Dev2024_10, q).is_err());
        let q = "{ participatoryProcesses { scope { id } } }";
        assert!(validate(Version::V0_28, q).is_ok());
        assert!(validate(Version::V0_30Dev2025_01, q).is_err());
        let q = "{ organization { name } }";
        assert!(validate(Version::V0_28, q).is_ok());
        assert!(validate(Version::V0_30Dev2024_10, q).is_err());
    }
}
