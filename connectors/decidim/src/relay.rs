//! Reading one page of a component's Relay connection, shared by counting and by meetings:
//! the nodes, then the cursor of the next page with the guards against a server that pages
//! forever.

use std::collections::HashSet;

use serde_json::Value;

use crate::client::one_line;

/// The connection `field` of a component in an answer, and its nodes.
pub(crate) fn nodes<'a>(
    component: Option<&'a Value>,
    field: &str,
) -> Result<(&'a Value, &'a [Value]), String> {
    let component = component.ok_or("the component is not in the answer")?;
    let connection = component
        .get(field)
        .filter(|c| !c.is_null())
        .ok_or_else(|| {
            let t = component
                .get("__typename")
                .and_then(Value::as_str)
                .unwrap_or("unknown type");
            format!("the component ({}) has no `{field}`", one_line(t))
        })?;
    let nodes = connection
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or("the page has no `nodes`")?;
    Ok((connection, nodes))
}

/// The cursor of the next page, `None` on the last one. `pages` counts the pages read so far,
/// this one included; a cursor seen before, or more than `max_pages` pages, is an error.
pub(crate) fn next_cursor(
    connection: &Value,
    seen: &mut HashSet<String>,
    pages: u32,
    max_pages: u32,
) -> Result<Option<String>, String> {
    let info = connection.get("pageInfo");
    let has_next = info
        .and_then(|i| i.get("hasNextPage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !has_next {
        return Ok(None);
    }
    let cursor = info
        .and_then(|i| i.get("endCursor"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or("`hasNextPage` is true but there is no `endCursor`")?;
    if !seen.insert(cursor.to_owned()) {
        return Err(format!(
            "the server repeated the cursor `{}`; stopped to avoid paging forever",
            one_line(cursor)
        ));
    }
    if pages >= max_pages {
        return Err(format!("more than {max_pages} pages; stopped"));
    }
    Ok(Some(cursor.to_owned()))
}
