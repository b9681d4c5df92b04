//! `robots.txt` of a hostile host: any bytes, any path; matching never panics, and a file can only
//! take permission away (an empty file allows everything).
#![no_main]

use libfuzzer_sys::fuzz_target;
use snodo_connector::http::Robots;

fuzz_target!(|data: &[u8]| {
    let (file, path) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"/"[..]),
    };
    let text = String::from_utf8_lossy(file);
    let path = format!("/{}", String::from_utf8_lossy(path).trim_start_matches('/'));
    let _ = Robots::parse(&text, "snodo").allows(&path);
    assert!(Robots::parse("", "snodo").allows(&path));
});
