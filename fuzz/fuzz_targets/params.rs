//! Query-string parsing of `/api/v1/search` (and the feed and page, which share it): any bytes
//! must give a request or a 400 naming a parameter, never a panic; an accepted request is within
//! the documented bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snodo_api::error::ApiError;
use snodo_api::params::{search_request, Params, MAX_LIMIT, MAX_OFFSET, SEARCH_PARAMS};

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    match Params::parse(Some(&raw), SEARCH_PARAMS).and_then(|p| search_request(&p)) {
        Ok(r) => {
            assert!((1..=MAX_LIMIT).contains(&r.limit));
            assert!(r.offset <= MAX_OFFSET);
            if let Some(q) = &r.q {
                assert!(q.chars().count() <= snodo_api::params::MAX_QUERY_CHARS);
                assert!(!q.chars().any(|c| c.is_control() && !c.is_whitespace()));
            }
            if let Some(l) = &r.lang {
                assert!(l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase()));
            }
        }
        Err(ApiError::BadParam { param, .. }) => assert!(param.chars().count() <= 41),
        Err(other) => panic!("not a parameter error: {other}"),
    }
});
