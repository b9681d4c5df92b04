//! Query-string parsing with an error per parameter. Hand-rolled rather than serde's derive so a
//! bad value, a repeated parameter or an unknown one gets a 400 that names it and says why.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use snodo_index::{Scope, SearchRequest, Sort};
use snodo_model::{territory, Kind, Status, Territory, METHODS};

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
    "q", "kind", "status", "region", "province", "comune", "place", "scope", "method", "topic",
    "open_on", "from", "to", "source", "sort", "limit", "offset", "lang",
];

/// The `source` parameter: a well-formed source id, or none.
pub fn source_id(p: &Params) -> Result<Option<String>, ApiError> {
    match p.get("source") {
        Some(s) if !snodo_model::record::is_valid_source_id(s) => {
            Err(ApiError::bad("source", "a source id matches [a-z0-9-]+"))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// The query text as the index takes it: leading whitespace dropped, trailing whitespace kept as
/// one space, `None` when nothing is left. A trailing space says the last word is finished
/// (`casa ` is the word, `casa` also its completions, `Casalecchio`…): trimming it made every
/// query's last word a prefix, whatever the client sent.
fn query_text(q: &str) -> Option<String> {
    let q = q.trim_start();
    let words = q.trim_end();
    if words.is_empty() {
        None
    } else if words.len() < q.len() {
        Some(format!("{words} "))
    } else {
        Some(words.to_owned())
    }
}

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
        other => other.and_then(query_text),
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
    let place = place_filter(p)?;
    let scope = match p.get("scope") {
        None | Some("local") => Scope::Local,
        Some("all") => Scope::All,
        Some(other) => {
            return Err(ApiError::bad(
                "scope",
                format!(
                    "unknown scope `{}`; expected local (the place's own records) or all (with its province, region and national ones)",
                    truncate(other)
                ),
            ))
        }
    };
    let method = match p.get("method") {
        None => None,
        Some(m) if METHODS.contains(&m) => Some(m.to_owned()),
        Some(other) => {
            return Err(ApiError::bad(
                "method",
                format!(
                    "unknown method `{}`; expected one of {}",
                    truncate(other),
                    METHODS.join(", ")
                ),
            ))
        }
    };
    let topic = match p.get("topic") {
        None => None,
        Some(t) => match snodo_model::topics::theme(t) {
            Some(theme) => Some(theme.code.to_owned()),
            None => {
                let all: Vec<String> = snodo_model::topics::THEMES
                    .iter()
                    .map(|t| format!("{} ({})", t.code, t.it))
                    .collect();
                return Err(ApiError::bad(
                    "topic",
                    format!(
                        "unknown topic `{}`; expected one of {}",
                        truncate(t),
                        all.join(", ")
                    ),
                ));
            }
        },
    };
    let period = period(p)?;
    let source = source_id(p)?;
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
        region: None,
        place,
        scope,
        method,
        topic,
        period,
        source,
        sort,
        limit,
        offset,
        lang,
        place_facets: false,
    })
}

/// The place a search is about, from `comune`, `province`, `region` and `place` together: the
/// finest one given, which every other one must contain (`comune=037011&region=08` is
/// Casalecchio; `comune=037011&region=16` is a mistake, said as such).
fn place_filter(p: &Params) -> Result<Option<Territory>, ApiError> {
    let mut given: Vec<(&str, Territory)> = Vec::new();
    if let Some(v) = p.get("comune") {
        given.push(("comune", comune_param(v)?));
    }
    if let Some(v) = p.get("province") {
        given.push(("province", province_param(v)?));
    }
    if let Some(v) = p.get("region") {
        given.push((
            "region",
            Territory {
                region: Some(region_code(v)?),
                ..Territory::default()
            },
        ));
    }
    if let Some(v) = p.get("place") {
        let t = territory::resolve_place(v).map_err(|e| ApiError::bad("place", e.to_string()))?;
        given.push(("place", t));
    }
    let level = |t: &Territory| {
        if t.comune.is_some() {
            3
        } else if t.province.is_some() {
            2
        } else if t.region.is_some() {
            1
        } else {
            0
        }
    };
    let Some((_, finest)) = given.iter().max_by_key(|(_, t)| level(t)).cloned() else {
        return Ok(None);
    };
    for (param, t) in &given {
        let inside = |a: &Option<String>, b: &Option<String>| a.is_none() || a == b;
        let contains = if t.national && level(t) == 0 {
            true
        } else {
            inside(&t.comune, &finest.comune)
                && inside(&t.province, &finest.province)
                && inside(&t.region, &finest.region)
        };
        if !contains {
            return Err(ApiError::bad(
                param,
                format!(
                    "does not contain the place the other parameters name ({}); give one place, or places inside each other",
                    describe(&finest)
                ),
            ));
        }
    }
    Ok(Some(finest))
}

/// A place as messages name it.
fn describe(t: &Territory) -> String {
    if let Some(c) = t.comune.as_deref().and_then(territory::comune) {
        territory::describe_comune(c)
    } else if let Some(p) = t.province.as_deref().and_then(territory::province) {
        format!("{} ({})", p.name, p.sigla)
    } else if let Some(r) = t.region.as_deref().and_then(territory::region_name) {
        r.to_owned()
    } else {
        "Italia".to_owned()
    }
}

/// `comune=`: a 6-digit ISTAT code of the 2020 table.
fn comune_param(v: &str) -> Result<Territory, ApiError> {
    if let Some(c) = territory::comune(v) {
        return Ok(Territory {
            comune: Some(c.code.to_owned()),
            province: Some(c.province.to_owned()),
            region: Some(c.region.to_owned()),
            ..Territory::default()
        });
    }
    if v.len() != 6 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad(
            "comune",
            format!(
                "`{}` is not a 6-digit ISTAT comune code such as 037011 (Casalecchio di Reno); to search by name use place=",
                truncate(v)
            ),
        ));
    }
    // The first three digits are the historical province code: name that province's range.
    let same: Vec<&territory::Comune> = territory::comuni()
        .iter()
        .filter(|c| c.code[..3] == v[..3])
        .collect();
    let hint = match (same.first(), same.last()) {
        (Some(first), Some(last)) => format!(
            "; the comuni of the province of {} run from {} ({}) to {} ({})",
            territory::province(first.province).map_or("", |p| p.name),
            first.code,
            first.name,
            last.code,
            last.name
        ),
        _ => "; the first three digits name no province".to_owned(),
    };
    Err(ApiError::bad(
        "comune",
        format!("no comune has ISTAT code `{v}`{hint}"),
    ))
}

/// `province=`: a UTS code (`237`), a historical code (`037`) or a sigla (`BO`).
fn province_param(v: &str) -> Result<Territory, ApiError> {
    if let Some(p) = territory::province_by_any(v) {
        return Ok(Territory {
            province: Some(p.code.to_owned()),
            region: Some(p.region.to_owned()),
            ..Territory::default()
        });
    }
    let first = v.chars().next().map(|c| c.to_ascii_uppercase());
    let near: Vec<String> = territory::provinces()
        .iter()
        .filter(|p| p.sigla.starts_with(|c| Some(c) == first) || p.code.get(..2) == v.get(..2))
        .take(8)
        .map(|p| format!("{} ({}, {})", p.sigla, p.code, p.name))
        .collect();
    let hint = if near.is_empty() {
        String::new()
    } else {
        format!("; for example {}", near.join(", "))
    };
    Err(ApiError::bad(
        "province",
        format!(
            "`{}` is not a province: give its 3-digit UTS code (237 for Bologna), its historical code (037) or its sigla (BO){hint}",
            truncate(v)
        ),
    ))
}

/// `open_on=` one day, or `from=`/`to=` a span: records whose period overlaps it.
fn period(p: &Params) -> Result<Option<(NaiveDate, NaiveDate)>, ApiError> {
    let date = |k: &str| {
        p.get(k)
            .map(|v| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                    ApiError::bad(
                        k,
                        format!(
                            "`{}` is not a date like 2027-03-01 (YYYY-MM-DD)",
                            truncate(v)
                        ),
                    )
                })
            })
            .transpose()
    };
    let (on, from, to) = (date("open_on")?, date("from")?, date("to")?);
    match (on, from, to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::bad(
            "open_on",
            "give either open_on (one day) or from and to (a span), not both",
        )),
        (Some(d), None, None) => Ok(Some((d, d))),
        (None, Some(f), Some(t)) if f > t => Err(ApiError::bad(
            "to",
            format!("{t} is before from={f}; the span must end on or after its start"),
        )),
        (None, None, None) => Ok(None),
        (None, f, t) => Ok(Some((
            f.unwrap_or(NaiveDate::MIN),
            t.unwrap_or(NaiveDate::MAX),
        ))),
    }
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
            (r.kind, r.status, r.place.and_then(|t| t.region).as_deref()),
            (Some(Kind::Process), Some(Status::Open), Some("16"))
        );
        assert_eq!((r.limit, r.offset, r.lang.as_deref()), (5, 10, Some("en")));
    }

    #[test]
    fn places_resolve_from_any_parameter_and_must_nest() {
        let place = |qs: &str| req(qs).unwrap().place.unwrap();
        let c = place("comune=037011");
        assert_eq!(
            (
                c.comune.as_deref(),
                c.province.as_deref(),
                c.region.as_deref()
            ),
            (Some("037011"), Some("237"), Some("08"))
        );
        assert_eq!(place("comune=037011&province=BO&region=08"), c);
        assert_eq!(place("place=Casalecchio+di+Reno"), c);
        for p in ["province=237", "province=037", "province=bo", "place=BO"] {
            assert_eq!(place(p).province.as_deref(), Some("237"), "{p}");
        }
        assert_eq!(place("place=Meran").comune.as_deref(), Some("021051"));
        assert!(place("place=IT").national);
        assert!(req("").unwrap().place.is_none());
        for (qs, param, says) in [
            ("comune=037999", "comune", "037001"),
            ("comune=Bologna", "comune", "place="),
            ("province=XX", "province", "sigla"),
            ("province=B", "province", "BO"),
            ("comune=037011&region=16", "region", "Casalecchio di Reno"),
            ("place=Castro", "place", "LE, Puglia"),
            ("place=Casalechio", "place", "did you mean"),
            ("scope=everywhere", "scope", "local"),
        ] {
            match req(qs).unwrap_err() {
                ApiError::BadParam { param: p, reason } => {
                    assert_eq!(p, param, "{qs}");
                    assert!(reason.contains(says), "{qs}: {reason}");
                }
                other => panic!("{qs}: {other}"),
            }
        }
    }

    #[test]
    fn methods_and_periods() {
        assert_eq!(
            req("method=budgets").unwrap().method.as_deref(),
            Some("budgets")
        );
        assert_eq!(param_of(req("method=voting").unwrap_err()), "method");
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            req("open_on=2027-03-01").unwrap().period,
            Some((d("2027-03-01"), d("2027-03-01")))
        );
        assert_eq!(
            req("from=2027-08-01&to=2027-08-31").unwrap().period,
            Some((d("2027-08-01"), d("2027-08-31")))
        );
        assert_eq!(
            req("from=2027-08-01").unwrap().period,
            Some((d("2027-08-01"), NaiveDate::MAX))
        );
        assert_eq!(
            param_of(req("from=2027-09-01&to=2027-08-01").unwrap_err()),
            "to"
        );
        assert_eq!(param_of(req("open_on=2027-02-30").unwrap_err()), "open_on");
        assert_eq!(
            param_of(req("open_on=2027-03-01&to=2027-04-01").unwrap_err()),
            "open_on"
        );
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
    fn a_trailing_space_says_the_last_word_is_finished() {
        assert_eq!(req("q=++casa").unwrap().q.as_deref(), Some("casa"));
        assert_eq!(req("q=casa+").unwrap().q.as_deref(), Some("casa "));
        // one space, however many were sent: one cached answer for both
        assert_eq!(
            req("q=+piano+casa%20%0A+").unwrap().q.as_deref(),
            Some("piano casa ")
        );
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
