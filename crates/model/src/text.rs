//! Harvested text never carries active markup. Plain text has every tag stripped (after decoding
//! entities, so an escaped tag goes too); rich text survives only as HTML sanitised by an allow-list.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// HTML that went through the allow-list sanitiser: no `<script>`, `<iframe>`, event handlers,
/// `style`, or `javascript:` URLs. The only way to build one is [`SafeHtml::sanitize`] (or
/// deserialising what was sanitised before, which re-sanitises to stay safe across upgrades).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SafeHtml(String);

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .rm_tags(["img"]);
    b
});

static STRIPPER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.clean_content_tags(
        [
            "script", "style", "template", "iframe", "noscript", "object", "svg", "math", "title",
            "textarea",
        ]
        .into_iter()
        .collect(),
    );
    b
});

impl SafeHtml {
    pub fn sanitize(raw: &str) -> SafeHtml {
        SafeHtml(SANITIZER.clean(raw).to_string().trim().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SafeHtml {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(SafeHtml::sanitize(&s))
    }
}

/// Turns anything (HTML, escaped HTML, plain text) into plain text: tags and their script/style
/// content removed, entities decoded, whitespace collapsed. Repeats while decoding reveals new
/// tags, so `&lt;script&gt;` cannot come back to life as markup.
pub fn plain_text(input: &str) -> String {
    // Nothing to strip or decode (most titles, many whole records): the HTML parser would give
    // the text back as it is, but for NUL and CR, which collapsing whitespace and this check
    // cover.
    if !input.contains(['<', '&', '\0']) {
        return collapse_whitespace(input);
    }
    strip_markup(input)
}

fn strip_markup(input: &str) -> String {
    let mut current = space_block_boundaries(input);
    for _ in 0..4 {
        let stripped = STRIPPER.clean(&current).to_string();
        let decoded = html_escape::decode_html_entities(&stripped).into_owned();
        let done = decoded == current;
        current = decoded;
        if done {
            break;
        }
    }
    // If decoding still reveals markup after the rounds above, drop every '<' and '>' rather than risk it.
    let again =
        html_escape::decode_html_entities(&STRIPPER.clean(&current).to_string()).into_owned();
    if again != current {
        current = current.replace(['<', '>'], " ");
    }
    collapse_whitespace(&current)
}

/// Block elements separate words (`<p>a</p><p>b</p>` reads "a b", not "ab"): put a space before
/// each block-level tag so stripping tags keeps the words apart.
fn space_block_boundaries(html: &str) -> String {
    const BLOCKS: &[&str] = &[
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "td",
        "th",
        "table",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "dd",
        "dt",
        "hr",
        "pre",
    ];
    let mut out = String::with_capacity(html.len() + 16);
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tag = rest[i + 1..].trim_start_matches('/');
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if BLOCKS.contains(&name.as_str()) {
            out.push(' ');
        }
        out.push('<');
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out
}

fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The first `max_chars` characters of `text`, cut at a word boundary, with an ellipsis.
pub fn truncate_words(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max_chars / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', '.', ' ']))
}

/// Lower case, accents removed, punctuation as spaces: for matching names (scopes against ISTAT
/// comuni, duplicate titles), never for display.
pub fn fold_for_matching(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let base = match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' | 'č' | 'ć' => 'c',
            'ñ' => 'n',
            'ß' => 's',
            'š' => 's',
            'ž' => 'z',
            'đ' => 'd',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        out.push(base);
    }
    collapse_whitespace(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_active_content() {
        let raw = r#"<p onclick="x()">Ciao <a href="javascript:alert(1)">link</a><script>alert(1)</script><iframe src="https://evil"></iframe><img src=x onerror=alert(1)><a href="https://ok.it">ok</a></p>"#;
        let safe = SafeHtml::sanitize(raw);
        let s = safe.as_str();
        for bad in [
            "<script",
            "onclick",
            "javascript:",
            "<iframe",
            "onerror",
            "<img",
        ] {
            assert!(!s.contains(bad), "{bad} survived in {s}");
        }
        assert!(s.contains(r#"href="https://ok.it""#));
        assert!(s.contains("<p>Ciao"));
    }

    #[test]
    fn deserialising_safe_html_resanitises() {
        let h: SafeHtml = serde_json::from_str(r#""<b>x</b><script>y</script>""#).unwrap();
        assert_eq!(h.as_str(), "<b>x</b>");
    }

    #[test]
    fn text_without_markup_reads_as_the_html_parser_would_read_it() {
        for s in [
            "Bilancio partecipativo 2024",
            "  a\r\nb\rc \u{a0}d\te\u{c}f  ",
            "a > b \"quoted\" 'single' `tick` = x",
            "Città, Forlì–Cesena — «virgolette» \u{feff}bom \u{200b}zw",
            "emoji 🚲 and \u{1}\u{7f} controls",
        ] {
            assert_eq!(plain_text(s), strip_markup(s), "{s:?}");
        }
    }

    #[test]
    fn plain_text_strips_tags_and_escaped_tags() {
        assert_eq!(
            plain_text("<p>Bilancio <b>partecipativo</b></p>"),
            "Bilancio partecipativo"
        );
        assert_eq!(
            plain_text("&lt;script&gt;alert(1)&lt;/script&gt;Ciao"),
            "Ciao"
        );
        assert_eq!(
            plain_text("&amp;lt;img src=x onerror=alert(1)&amp;gt;Ok"),
            "Ok"
        );
        assert_eq!(plain_text("Città &amp; territorio"), "Città & territorio");
        assert_eq!(plain_text("a < b e c > d"), "a < b e c > d");
        assert_eq!(plain_text("  riga\n\n uno\t due "), "riga uno due");
        assert_eq!(
            plain_text("<p>Fase 1</p><p>Fase 2</p><ul><li>a</li><li>b</li></ul>x<br>y"),
            "Fase 1 Fase 2 a b x y"
        );
        assert_eq!(plain_text("Citt<b>à</b>"), "Città");
    }

    #[test]
    fn truncation_cuts_at_words() {
        assert_eq!(
            truncate_words("uno due tre quattro", 100),
            "uno due tre quattro"
        );
        assert_eq!(truncate_words("uno due tre quattro", 12), "uno due tre…");
    }

    #[test]
    fn folding_for_matching() {
        assert_eq!(
            fold_for_matching("Città di  Forlì-Cesena"),
            "citta di forli cesena"
        );
        assert_eq!(
            fold_for_matching("Valle d'Aosta/Vallée d'Aoste"),
            "valle d aosta vallee d aoste"
        );
    }
}
