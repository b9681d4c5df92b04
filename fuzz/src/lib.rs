//! Properties shared by the fuzz targets: what every record a connector produces from untrusted
//! input must satisfy, however hostile the input.
//!
//! - it passes [`Record::validate`] (connectors validate before returning; this checks they do);
//! - its URL, parent URL and image URL are http(s);
//! - its sanitised HTML has no active markup: every tag is one a browser cannot run script from
//!   (no `script`, `iframe`, `style`, `svg`, `img`, forms…), no `on…` or `style` attribute, no
//!   `javascript:`/`vbscript:`/`data:` URL (after entity decoding, as a browser reads it), no
//!   comment or processing instruction; text `<` is always escaped;
//! - its plain-text fields carry no markup: no `<` followed by a letter, `!` or `?`, no `</`
//!   followed by anything (an end tag or a bogus comment).

use snodo_model::{LocalizedText, Record};

/// Tags that must never survive the sanitiser.
const FORBIDDEN_TAGS: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "img", "svg",
    "math", "form", "input", "button", "select", "textarea", "base", "link", "meta", "template",
    "noscript", "video", "audio", "source", "picture", "portal",
];

/// Attributes whose value a browser treats as a URL.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "cite",
    "background",
    "poster",
    "srcset",
    "xlink:href",
    "longdesc",
];

/// Panics (with the offending input) unless `r` has every property listed in the crate docs.
pub fn check_record(r: &Record) {
    if let Err(e) = r.validate() {
        panic!("a connector returned an invalid record: {e}");
    }
    assert!(is_http(&r.url), "record url `{}` is not http(s)", r.url);
    if let Some(i) = &r.image_url {
        assert!(is_http(i), "image url `{i}` is not http(s)");
    }
    if let Some(p) = &r.parent {
        assert!(is_http(&p.url), "parent url `{}` is not http(s)", p.url);
        check_plain_texts(&p.title);
    }
    for (_, html) in r.description_html.0.iter() {
        check_safe_html(html.as_str());
    }
    for t in [
        &r.title,
        &r.subtitle,
        &r.summary,
        &r.description,
        &r.promoter,
        &r.group,
        &r.territory.scope_name,
    ] {
        check_plain_texts(t);
    }
    for t in &r.topics {
        check_plain_texts(t);
    }
    for p in &r.phases {
        check_plain_texts(&p.title);
    }
    if let Some(m) = &r.meeting {
        check_plain_texts(&m.location);
        if let Some(a) = &m.address {
            check_plain(a);
        }
    }
}

fn is_http(u: &str) -> bool {
    u.starts_with("https://") || u.starts_with("http://")
}

fn check_plain_texts(t: &LocalizedText) {
    for (_, s) in t.iter() {
        check_plain(s);
    }
}

/// Plain text has no tag in it.
pub fn check_plain(s: &str) {
    let b = s.as_bytes();
    for (i, _) in s.match_indices('<') {
        // As an HTML tokenizer reads it: a tag, a comment, a processing instruction, an end
        // tag or a bogus comment (`</` then anything; `</` at the very end is text).
        let markup = match b.get(i + 1) {
            Some(n) if n.is_ascii_alphabetic() || matches!(n, b'!' | b'?') => true,
            Some(b'/') => i + 2 < b.len(),
            _ => false,
        };
        assert!(!markup, "plain text carries markup: {s:?}");
    }
}

/// Sanitised HTML, read the way a browser tokenises it, has no active content.
pub fn check_safe_html(html: &str) {
    let b = html.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        if b.get(i) == Some(&b'/') {
            i += 1;
        }
        assert!(
            b.get(i).is_some_and(u8::is_ascii_alphabetic),
            "a `<` that is not a tag, a comment or a bogus tag in sanitised HTML: {html:?}"
        );
        let start = i;
        while i < b.len() && !matches!(b[i], b'\t' | b'\n' | b'\x0c' | b' ' | b'/' | b'>') {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        assert!(
            !FORBIDDEN_TAGS.contains(&name.as_str()),
            "tag <{name}> survived sanitising: {html:?}"
        );
        // Attributes up to the closing `>`, values quoted or not.
        loop {
            while i < b.len() && matches!(b[i], b'\t' | b'\n' | b'\x0c' | b' ' | b'/') {
                i += 1;
            }
            if i >= b.len() {
                panic!("an unterminated tag in sanitised HTML: {html:?}");
            }
            if b[i] == b'>' {
                i += 1;
                break;
            }
            let a = i;
            while i < b.len()
                && !matches!(b[i], b'\t' | b'\n' | b'\x0c' | b' ' | b'/' | b'>' | b'=')
            {
                i += 1;
            }
            let attr = html[a..i].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(i) == Some(&b'=') {
                i += 1;
                match b.get(i) {
                    Some(&q @ (b'"' | b'\'')) => {
                        let v = i + 1;
                        let end = html[v..]
                            .find(q as char)
                            .map(|e| v + e)
                            .unwrap_or_else(|| panic!("unterminated attribute value: {html:?}"));
                        value = html[v..end].to_owned();
                        i = end + 1;
                    }
                    _ => {
                        let v = i;
                        while i < b.len() && !matches!(b[i], b'\t' | b'\n' | b'\x0c' | b' ' | b'>')
                        {
                            i += 1;
                        }
                        value = html[v..i].to_owned();
                    }
                }
            }
            assert!(
                !attr.starts_with("on"),
                "event handler `{attr}` survived sanitising: {html:?}"
            );
            assert!(
                attr != "style" && attr != "srcdoc",
                "attribute `{attr}` survived sanitising: {html:?}"
            );
            if URL_ATTRIBUTES.contains(&attr.as_str()) {
                check_url_value(&value, html);
            }
        }
    }
}

/// A URL attribute as a browser reads it: entities decoded, tabs and newlines removed, leading
/// spaces and control characters trimmed, scheme case-insensitive.
fn check_url_value(value: &str, html: &str) {
    let decoded = html_escape::decode_html_entities(value);
    let url: String = decoded
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .to_ascii_lowercase();
    for scheme in ["javascript:", "vbscript:", "data:"] {
        assert!(
            !url.starts_with(scheme),
            "a `{scheme}` URL survived sanitising: {html:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_catch_active_markup() {
        check_safe_html("<p>a &lt;script&gt; <a href=\"https://x\" rel=\"noopener\">b</a></p>");
        for bad in [
            "<script>x</script>",
            "<p onclick=\"x\">a</p>",
            "<a href=\" JaVa&#83;cript:x\">a</a>",
            "<!-- c -->",
            "<p style=\"a\">",
        ] {
            assert!(
                std::panic::catch_unwind(|| check_safe_html(bad)).is_err(),
                "{bad}"
            );
        }
        check_plain("a < b <1 <> c</");
        for bad in ["a <b>", "a </1>", "<!x"] {
            assert!(
                std::panic::catch_unwind(|| check_plain(bad)).is_err(),
                "{bad}"
            );
        }
    }
}
