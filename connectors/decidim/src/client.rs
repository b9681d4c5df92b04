//! Sending one GraphQL document and reading graphql_client's response envelope. Transport,
//! politeness and retries belong to the shared [`snodo_connector::HttpClient`]; this module adds
//! the GraphQL layer: the request body, the `data`/`errors` envelope, and reading Decidim's error
//! messages (complexity limits, unknown fields).

use graphql_client::{PathFragment, QueryBody, Response};
use serde_json::Value;
use snodo_connector::{ConnectorError, HarvestContext, Progress};

/// One answer: `data` (absent when the whole document failed, e.g. validation) and the errors.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub data: Option<Value>,
    pub errors: Vec<graphql_client::Error>,
}

impl Answer {
    /// The value at `key` of `data`, when present and not null.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.data
            .as_ref()
            .and_then(|d| d.get(key))
            .filter(|v| !v.is_null())
    }

    /// All error messages, joined, for warnings and failures.
    pub fn messages(&self) -> String {
        let mut msgs: Vec<String> = self.errors.iter().map(describe).collect();
        msgs.dedup();
        if msgs.len() > 3 {
            let more = msgs.len() - 3;
            msgs.truncate(3);
            msgs.push(format!("and {more} more"));
        }
        msgs.join("; ")
    }

    /// The max complexity the server announced, when it refused the query for being too complex.
    pub fn complexity_limit(&self) -> Option<u32> {
        self.errors
            .iter()
            .find_map(|e| complexity_limit(&e.message))
    }
}

/// An error with its path, as one line.
pub(crate) fn describe(e: &graphql_client::Error) -> String {
    let msg = one_line(&e.message);
    match &e.path {
        Some(path) if !path.is_empty() => format!("{} ({msg})", path_string(path)),
        _ => msg,
    }
}

pub(crate) fn path_string(path: &[PathFragment]) -> String {
    path.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// Error messages come from the network: keep them short, on one line, and free of markup.
pub(crate) fn one_line(s: &str) -> String {
    snodo_model::text::truncate_words(&snodo_model::text::plain_text(s), 200)
}

/// Parses graphql-ruby's "Query has complexity of 310, which exceeds max complexity of 300".
pub(crate) fn complexity_limit(message: &str) -> Option<u32> {
    let lower = message.to_ascii_lowercase();
    let rest = &lower[lower.find("max complexity of")? + "max complexity of".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Sends documents to one endpoint within one run, counting requests.
pub(crate) struct Gql<'a> {
    ctx: &'a HarvestContext,
    endpoint: String,
    sent: u64,
}

impl<'a> Gql<'a> {
    pub fn new(ctx: &'a HarvestContext, endpoint: String) -> Self {
        Gql {
            ctx,
            endpoint,
            sent: 0,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Requests sent by this run (each GraphQL document once, whatever the HTTP retries).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// POSTs `{query, variables, operationName}` and reads the envelope. HTTP and network
    /// failures (after the client's retries) and answers that are not a GraphQL response are
    /// errors naming the URL; GraphQL `errors` are returned for the caller to judge.
    pub async fn send(
        &mut self,
        operation: &'static str,
        query: &'static str,
        variables: Value,
        what: impl Into<String>,
    ) -> Result<Answer, ConnectorError> {
        self.ctx.check_cancelled()?;
        let body = QueryBody {
            variables,
            query,
            operation_name: operation,
        };
        let body = serde_json::to_value(&body).map_err(|e| self.protocol(e.to_string()))?;
        self.sent += 1;
        let value = self.ctx.http.post_json(&self.endpoint, &body).await?;
        self.ctx.report(Progress::Page { what: what.into() });
        let response: Response<Value> = serde_json::from_value(value).map_err(|e| {
            self.protocol(format!(
                "the answer to {operation} is JSON but not a GraphQL response ({e}); \
                 check that the URL is a Decidim platform"
            ))
        })?;
        if response.data.is_none() && response.errors.is_none() {
            return Err(self.protocol(format!(
                "the answer to {operation} has neither `data` nor `errors`; \
                 check that the URL is a Decidim platform"
            )));
        }
        Ok(Answer {
            data: response.data.filter(|d| !d.is_null()),
            errors: response.errors.unwrap_or_default(),
        })
    }

    pub fn protocol(&self, message: String) -> ConnectorError {
        ConnectorError::Protocol {
            url: self.endpoint.clone(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_graphql_ruby_complexity_errors() {
        assert_eq!(
            complexity_limit("Query has complexity of 310, which exceeds max complexity of 300"),
            Some(300)
        );
        assert_eq!(
            complexity_limit("Query has complexity of 9000, which exceeds max complexity of 5000."),
            Some(5000)
        );
        assert_eq!(
            complexity_limit("Field 'x' doesn't exist on type 'Y'"),
            None
        );
    }

    #[test]
    fn error_lines_are_plain_and_carry_the_path() {
        let e = graphql_client::Error {
            message: "<b>boom</b>\n<script>x()</script>".into(),
            locations: None,
            path: Some(vec![
                PathFragment::Key("participatoryProcesses".into()),
                PathFragment::Index(2),
                PathFragment::Key("stats".into()),
            ]),
            extensions: None,
        };
        assert_eq!(describe(&e), "participatoryProcesses.2.stats (boom)");
    }
}
