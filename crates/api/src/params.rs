//! Query-string parsing with an error per parameter. Hand-rolled rather than serde's derive so a
//! bad value, a repeated parameter or an unknown one gets a 400 that names it and says why.

use std::collections::BTreeMap;

use snodo_index::{SearchRequest, Sort};
use snodo_model::{Kind, Status};

use crate::error::ApiError;

/// Longest accepted `q`, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Deepest page reachable with `offset`: deeper paging costs a lot and helps no one.
pub const MAX_OFFSET: usize = 10_000;
pub const MAX_LIMIT: usize = 100;
pub const DEFAULT_LIMIT: usize = 20;

/// Decoded parameters, each at most once.
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let mut map = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k).map_err(|lossy| {
                ApiError::bad(
                    &truncate(&lossy),
                    "the parameter name is not UTF-8 once percent-decoded; percent-encode UTF-8 text",
                )
            })?;
            let v = decode(v).map_err(|_| {
                ApiError::bad(
                    &truncate(&k),
                    "the value is not UTF-8 once percent-decoded; percent-encode UTF-8 text (`%C3%A8` for `è`)",
                )
            })?;
            if !allowed.contains(&k.as_ref()) {
                return Err(ApiError::bad(
                    &truncate(&k),
                    format!(
                        "unknown parameter; known parameters: {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::bad(&k, "given more than once; give it once"));
            }
        }
        Ok(Params(map))
    }

    /// The value, with empty strings treated as absent (HTML forms send empty selects). Other
    /// values are taken as they are: `" 5"` is not a number and `" it"` not a language.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn pairs(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    pub fn number(
        &self,
        k: &str,
        default: usize,
        min: usize,
        max: usize,
    ) -> Result<usize, ApiError> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= min as i64 && n <= max as i64 => Ok(n as usize),
                Ok(_) => Err(ApiError::bad(k, format!("must be between {min} and {max}"))),
                Err(_) => Err(ApiError::bad(
                    k,
                    format!("`{}` is not a whole number", truncate(v)),
                )),
            },
        }
    }
}

/// One `application/x-www-form-urlencoded` name or value; invalid UTF-8 is an error (with the
/// lossy text, to name it) rather than silently replaced.
fn decode(part: &str) -> Result<String, String> {
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&part.replace('+', " ")).collect();
    String::from_utf8(bytes).map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_owned()
    }
}

pub const SEARCH_PARAMS: &[&str] = &[
    "q", "kind", "status", "region", "source", "sort", "limit", "offset", "lang",
];

/// Builds the index request from `/api/v1/search` parameters.
pub fn search_request(p: &Params) -> Result<SearchRequest, ApiError> {
    let q = match p.get("q") {
        Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
            return Err(ApiError::bad(
                "q",
                format!(
                    "the query is {} characters long; at most {MAX_QUERY_CHARS} are accepted",
                    q.chars().count()
                ),
            ))
        }
        Some(q) if q.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            return Err(ApiError::bad("q", "contains control characters"))
        }
        other => other
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned),
    };
    let kind = p
        .get("kind")
        .map(|k| {
            k.parse::<Kind>()
                .map_err(|e| ApiError::bad("kind", e.to_string()))
        })
        .transpose()?;
    let status = p
        .get("status")
        .map(|s| s.parse::<Status>().map_err(|e| ApiError::bad("status", e)))
        .transpose()?;
    let region = p.get("region").map(region_code).transpose()?;
    let source = match p.get("source") {
        Some(s) if !snodo_model::record::is_valid_source_id(s) => {
            return Err(ApiError::bad("source", "a source id matches [a-z0-9-]+"))
        }
        other => other.map(str::to_owned),
    };
    let sort = match p.get("sort") {
        None | Some("relevance") => Sort::Relevance,
        Some("newest") => Sort::Newest,
        Some("closing") => Sort::Closing,
        Some(other) => {
            return Err(ApiError::bad(
                "sort",
                format!(
                    "unknown sort `{}`; expected relevance, newest or closing",
                    truncate(other)
                ),
            ))
        }
    };
    let limit = p.number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
    let offset = p.number("offset", 0, 0, MAX_OFFSET)?;
    let lang = p.get("lang").map(lang_code).transpose()?;
    Ok(SearchRequest {
        q,
        kind,
        status,
        region,
        source,
        sort,
        limit,
        offset,
        lang,
    })
}

/// A 2-digit ISTAT region code, 01 to 20.
pub fn region_code(v: &str) -> Result<String, ApiError> {
    if snodo_model::territory::region_name(v).is_some() {
        Ok(v.to_owned())
    } else {
        Err(ApiError::bad(
            "region",
            "expected a 2-digit ISTAT region code from 01 (Piemonte) to 20 (Sardegna)",
        ))
    }
}

/// An ISO 639-1 language code (two lower-case letters).
pub fn lang_code(v: &str) -> Result<String, ApiError> {
    if v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(ApiError::bad(
            "lang",
            "expected an ISO 639-1 language code such as `it` or `en`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(q: &str) -> Result<SearchRequest, ApiError> {
        search_request(&Params::parse(Some(q), SEARCH_PARAMS)?)
    }

    fn param_of(e: ApiError) -> String {
        match e {
            ApiError::BadParam { param, .. } => param,
            other => panic!("not a bad parameter: {other}"),
        }
    }

    #[test]
    fn defaults_and_values() {
        let r = req("").unwrap();
        assert_eq!((r.limit, r.offset, r.sort), (20, 0, Sort::Relevance));
        let r = req("q=bilancio+partecipativo&kind=process&status=open&region=16&sort=closing&limit=5&offset=10&lang=EN").unwrap();
        assert_eq!(r.q.as_deref(), Some("bilancio partecipativo"));
        assert_eq!(
            (r.kind, r.status, r.region.as_deref()),
            (Some(Kind::Process), Some(Status::Open), Some("16"))
        );
        assert_eq!((r.limit, r.offset, r.lang.as_deref()), (5, 10, Some("en")));
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (qs, param) in [
            ("limit=100000", "limit"),
            ("limit=-1", "limit"),
            ("limit=0", "limit"),
            ("offset=abc", "offset"),
            ("offset=99999999", "offset"),
            ("status=bogus", "status"),
            ("kind=petition", "kind"),
            ("region=99", "region"),
            ("region=Puglia", "region"),
            ("sort=random", "sort"),
            ("lang=italiano", "lang"),
            ("source=Not%20An%20Id", "source"),
            ("regione=16", "regione"),
            ("q=a&q=b", "q"),
        ] {
            assert_eq!(param_of(req(qs).unwrap_err()), param, "{qs}");
        }
        let long = format!("q={}", "a".repeat(10_000));
        assert_eq!(param_of(req(&long).unwrap_err()), "q");
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_not_replaced() {
        assert_eq!(param_of(req("q=%FF%FE").unwrap_err()), "q");
        assert_eq!(param_of(req("q=caf%C3").unwrap_err()), "q");
        assert!(param_of(req("%FF=1").unwrap_err()).contains('\u{FFFD}'));
        let r = req("q=citt%C3%A0+di+Bari").unwrap();
        assert_eq!(r.q.as_deref(), Some("città di Bari"));
    }

    #[test]
    fn empty_values_mean_absent() {
        let r = req("q=&kind=&region=&status=").unwrap();
        assert!(r.q.is_none() && r.kind.is_none() && r.region.is_none() && r.status.is_none());
        assert!(req("q=+++").unwrap().q.is_none());
    }

    #[test]
    fn values_are_not_trimmed_into_validity() {
        for (qs, param) in [
            ("limit=+5", "limit"),
            ("lang=%0B+", "lang"),
            ("lang=+it", "lang"),
            ("kind=+", "kind"),
            ("region=+", "region"),
        ] {
            assert_eq!(param_of(req(qs).unwrap_err()), param, "{qs}");
        }
    }
}
