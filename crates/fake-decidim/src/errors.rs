//! GraphQL errors, worded like graphql-ruby (the library behind Decidim's API).

use apollo_compiler::diagnostic::{Diagnostic, ToCliReport};
use apollo_compiler::parser::{SourceMap, SourceSpan};
use apollo_compiler::validation::{DiagnosticData, Valid};
use apollo_compiler::Schema;
use serde_json::{json, Map, Value};

/// One entry of a response's `errors` list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GqlError {
    pub message: String,
    /// `(line, column)`, both from 1.
    pub locations: Vec<(usize, usize)>,
    pub path: Vec<Value>,
    pub extensions: Map<String, Value>,
}

impl GqlError {
    pub fn new(message: impl Into<String>) -> Self {
        GqlError {
            message: message.into(),
            locations: Vec::new(),
            path: Vec::new(),
            extensions: Map::new(),
        }
    }

    pub fn at(mut self, span: Option<SourceSpan>, sources: &SourceMap) -> Self {
        if let Some(lc) = span.and_then(|s| s.line_column(sources)) {
            self.locations.push((lc.line, lc.column));
        }
        self
    }

    fn code(mut self, code: &str, more: &[(&str, &str)]) -> Self {
        self.extensions.insert("code".into(), json!(code));
        for (k, v) in more {
            self.extensions.insert((*k).into(), json!(v));
        }
        self
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("message".into(), json!(self.message));
        if !self.locations.is_empty() {
            let locs: Vec<Value> = self
                .locations
                .iter()
                .map(|(l, c)| json!({"line": l, "column": c}))
                .collect();
            m.insert("locations".into(), Value::Array(locs));
        }
        if !self.path.is_empty() {
            m.insert("path".into(), Value::Array(self.path.clone()));
        }
        if !self.extensions.is_empty() {
            m.insert("extensions".into(), Value::Object(self.extensions.clone()));
        }
        Value::Object(m)
    }

    /// One line for [`crate::validate`]: the message and where it is.
    pub fn to_line(&self) -> String {
        match self.locations.first() {
            Some((l, c)) => format!("{} (at {l}:{c})", self.message),
            None => self.message.clone(),
        }
    }
}

/// The response for errors that stop a request before execution: `errors` and no `data`.
pub(crate) fn errors_response(errors: &[GqlError]) -> Value {
    json!({ "errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>() })
}

/// Whether a diagnostic is a syntax error (graphql-ruby stops at those and reports nothing else).
pub(crate) fn is_syntax_error(d: &Diagnostic<'_, DiagnosticData>) -> bool {
    let text = d.error.to_string();
    text.starts_with("syntax error") || d.error.unstable_error_name() == Some("RecursionLimitError")
}

/// Texts between double quotes, in order.
fn quoted(msg: &str) -> Vec<&str> {
    msg.split('"').skip(1).step_by(2).collect()
}

/// Converts an apollo-compiler diagnostic into graphql-ruby's wording.
///
/// `op_label` is how graphql-ruby names the operation in variable errors (its name, or
/// "anonymous query").
pub(crate) fn from_diagnostic(
    d: &Diagnostic<'_, DiagnosticData>,
    schema: &Valid<Schema>,
    query: &str,
    op_label: &str,
) -> Option<GqlError> {
    let span = d.error.location();
    let start = d
        .line_column_range()
        .map(|r| (r.start.line, r.start.column));
    let with_loc = |e: GqlError| -> GqlError {
        let mut e = e;
        if let Some(lc) = start {
            e.locations.push(lc);
        }
        e
    };
    let display = d.error.to_string();
    if let Some(rest) = display.strip_prefix("syntax error: ") {
        let (l, c) = start.unwrap_or((1, 1));
        return Some(with_loc(GqlError::new(format!(
            "Parse error: {rest} at [{l}, {c}]"
        ))));
    }
    let compat = d.error.unstable_compat_message().unwrap_or(display);
    let q = quoted(&compat);
    let name = d.error.unstable_error_name().unwrap_or("");
    let err = match (name, q.as_slice()) {
        ("UndefinedField", [field, ty, ..]) => {
            GqlError::new(format!("Field '{field}' doesn't exist on type '{ty}'"))
                .code("undefinedField", &[("typeName", ty), ("fieldName", field)])
        }
        ("MissingSubselection", [field, parent, ..]) => {
            // apollo-compiler drops undefined fields, which can leave an empty selection set;
            // graphql-ruby only reports the undefined field.
            if span.is_some_and(|s| has_selection_in_source(query, s.offset())) {
                return None;
            }
            let returns = schema
                .type_field(parent, field)
                .map(|f| f.ty.inner_named_type().to_string())
                .unwrap_or_else(|_| "an object".to_owned());
            let node = format!("field '{field}'");
            GqlError::new(format!(
                "Field must have selections ({node} returns {returns} but has no selections. Did you mean '{field} {{ ... }}'?)"
            ))
            .code("selectionMismatch", &[("nodeName", &node)])
        }
        ("SubselectionOnScalarType" | "SubselectionOnEnumType", [field, ty, ..]) => {
            let kind = if name == "SubselectionOnEnumType" {
                "enums"
            } else {
                "scalars"
            };
            let names = span
                .map(|s| selection_names(query, s.offset()))
                .unwrap_or_default();
            let node = format!("field '{field}'");
            GqlError::new(format!(
                "Selections can't be made on {kind} ({node} returns {ty} but has selections [{}])",
                names.join(", ")
            ))
            .code("selectionMismatch", &[("nodeName", &node)])
        }
        ("UndefinedArgument", [arg, coord, ..]) => {
            let field = coord.rsplit('.').next().unwrap_or(coord);
            GqlError::new(format!("Field '{field}' doesn't accept argument '{arg}'")).code(
                "argumentNotAccepted",
                &[
                    ("name", field),
                    ("typeName", "Field"),
                    ("argumentName", arg),
                ],
            )
        }
        ("RequiredArgument", [field, arg, ..]) => GqlError::new(format!(
            "Field '{field}' is missing required arguments: {arg}"
        ))
        .code(
            "missingRequiredArguments",
            &[("className", "Field"), ("name", field), ("arguments", arg)],
        ),
        ("UndefinedVariable", [var, ..]) => {
            let var = var.trim_start_matches('$');
            GqlError::new(format!(
                "Variable ${var} is used by {op_label} but not declared"
            ))
            .code("variableNotDefined", &[("variableName", var)])
        }
        ("UnusedVariable", [var, ..]) => {
            let var = var.trim_start_matches('$');
            // Used by a field apollo-compiler dropped (an undefined one): not graphql-ruby's error.
            if occurrences(query, &format!("${var}")) > 1 {
                return None;
            }
            GqlError::new(format!(
                "Variable ${var} is declared by {op_label} but not used"
            ))
            .code("variableNotUsed", &[("variableName", var)])
        }
        ("UndefinedFragment", [frag, ..]) => {
            GqlError::new(format!("Fragment {frag} was used, but not defined"))
                .code("useAndDefineFragment", &[("fragmentName", frag)])
        }
        ("UnusedFragment", [frag, ..]) => {
            if occurrences(query, &format!("...{frag}"))
                + occurrences(query, &format!("... {frag}"))
                > 0
            {
                return None;
            }
            GqlError::new(format!("Fragment {frag} was defined, but not used"))
                .code("useAndDefineFragment", &[("fragmentName", frag)])
        }
        (
            "UndefinedTypeInNamedFragmentTypeCondition"
            | "UndefinedTypeInInlineFragmentTypeCondition",
            [ty, ..],
        ) => GqlError::new(format!(
            "No such type {ty}, so it can't be a fragment condition"
        ))
        .code("undefinedType", &[("typeName", ty)]),
        ("UndefinedDefinition", [ty, ..]) => {
            GqlError::new(format!("{ty} isn't a defined input type"))
                .code("variableRequiresValidType", &[("typeName", ty)])
        }
        ("InvalidFragmentSpread", [frag, parent, cond]) => GqlError::new(format!(
            "Fragment {frag} on {cond} can't be spread inside {parent}"
        ))
        .code("cannotSpreadFragment", &[("fragmentName", frag)]),
        ("InvalidFragmentSpread", [parent, cond]) => GqlError::new(format!(
            "Fragment on {cond} can't be spread inside {parent}"
        ))
        .code("cannotSpreadFragment", &[("fragmentName", "unknown")]),
        ("DisallowedVariableUsage", [var, var_ty, arg_ty, ..]) => {
            let var = var.trim_start_matches('$');
            GqlError::new(format!(
                "Type mismatch on variable ${var} and argument ({var_ty} / {arg_ty})"
            ))
            .code("variableMismatch", &[("variableName", var)])
        }
        ("UndefinedDirective", [dir, ..]) => {
            let dir = dir.trim_start_matches('@');
            GqlError::new(format!("Directive @{dir} is not defined"))
                .code("undefinedDirective", &[("directiveName", dir)])
        }
        _ => GqlError::new(compat),
    };
    Some(with_loc(err))
}

/// How many times `token` occurs in `text` not followed by a name character.
fn occurrences(text: &str, token: &str) -> usize {
    text.match_indices(token)
        .filter(|(i, _)| {
            !text[i + token.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .count()
}

/// Whether the field at `offset` in the query text is followed by `{` (after its arguments and
/// directives).
fn has_selection_in_source(query: &str, offset: usize) -> bool {
    let Some(rest) = query.get(offset..) else {
        return false;
    };
    let mut chars = rest.chars().peekable();
    let skip_name = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            chars.next();
        }
    };
    let skip_parens = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        let mut depth = 0usize;
        for c in chars.by_ref() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
    };
    skip_name(&mut chars);
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        match chars.peek() {
            Some('{') => return true,
            Some('(') => skip_parens(&mut chars),
            Some('@') => {
                chars.next();
                skip_name(&mut chars);
            }
            _ => return false,
        }
    }
}

/// The names selected right inside the first `{ … }` after `offset` (for the "selections on
/// scalars" message).
fn selection_names(query: &str, offset: usize) -> Vec<String> {
    let Some(rest) = query.get(offset..) else {
        return Vec::new();
    };
    let Some(open) = rest.find('{') else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let (mut braces, mut parens) = (0usize, 0usize);
    let mut word = String::new();
    let mut pending: Option<String> = None;
    for ch in rest[open..].chars() {
        if ch.is_alphanumeric() || ch == '_' {
            word.push(ch);
            continue;
        }
        if !word.is_empty() {
            if braces == 1 && parens == 0 {
                if let Some(prev) = pending.take() {
                    names.push(prev);
                }
                pending = Some(std::mem::take(&mut word));
            }
            word.clear();
        }
        match ch {
            ':' if braces == 1 && parens == 0 => pending = None, // an alias: the name follows
            '{' => braces += 1,
            '}' => {
                if braces == 1 {
                    break;
                }
                braces = braces.saturating_sub(1);
            }
            '(' => parens += 1,
            ')' => parens = parens.saturating_sub(1),
            _ => {}
        }
    }
    if let Some(prev) = pending {
        names.push(prev);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_occurrences() {
        assert_eq!(
            occurrences("query($a: Int, $ab: Int) { f(x: $a) }", "$a"),
            2
        );
        assert_eq!(occurrences("{ ...Frag ...FragTwo }", "...Frag"), 1);
    }

    #[test]
    fn quoted_parts() {
        assert_eq!(
            quoted(r#"Cannot query field "x" on type "Y"."#),
            vec!["x", "Y"]
        );
    }

    #[test]
    fn selection_names_skip_aliases_and_arguments() {
        let q = r#"{ name { t: translation(locale: "it") locales } }"#;
        assert_eq!(selection_names(q, 2), vec!["translation", "locales"]);
    }
}
