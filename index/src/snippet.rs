//! Snippets: the fragment of a hit's text that shows the query's words, with those words marked.
//!
//! Built here rather than with tantivy's `SnippetGenerator`, which tokenises and stems every word
//! of the text it is given (and clones its analyzer on every call): on long descriptions that was
//! the largest single cost of a page of results. Here the query's terms are found in one pass
//! over the folded text, only the words where they occur are analysed (each distinct word once
//! per search), and the fragment is chosen from those.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use tantivy::query::Query;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Searcher;

use crate::error::{engine, IndexError};
use crate::schema::{Fields, LangGroup};
use crate::search::SNIPPET_CHARS;

/// The snippets of one search's hits: what to look for in each language's texts, worked out on
/// first use, and the words already analysed.
pub(crate) struct Snippets<'a> {
    searcher: &'a Searcher,
    query: &'a dyn Query,
    fields: &'a Fields,
    groups: BTreeMap<LangGroup, Highlighter>,
    folder: Folder,
}

/// The query's terms in one language group's body field (where descriptions and summaries are
/// indexed), and how to recognise them in a text.
struct Highlighter {
    /// Each term's number and weight: rarer terms weigh more, as in tantivy's snippets.
    terms: HashMap<String, (usize, f32)>,
    needles: Needles,
    /// The field's own analyzer, so that a word is marked exactly when the index has it as one
    /// of the query's terms.
    analyzer: TextAnalyzer,
    /// Words met so far (as written) and the term each stands for, if it is one of the query's.
    words: HashMap<String, Option<(usize, f32)>>,
}

/// A word of the text that is one of the query's terms.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Mark {
    start: usize,
    end: usize,
    term: usize,
    weight: f32,
}

impl<'a> Snippets<'a> {
    pub(crate) fn new(searcher: &'a Searcher, query: &'a dyn Query, fields: &'a Fields) -> Self {
        Snippets {
            searcher,
            query,
            fields,
            groups: BTreeMap::new(),
            folder: Folder::new(),
        }
    }

    /// The snippet of `text` (in `locale`) as safe HTML, or `None` when it does not show any of
    /// the query's terms.
    pub(crate) fn snippet(
        &mut self,
        locale: &str,
        text: &str,
    ) -> Result<Option<String>, IndexError> {
        let group = LangGroup::of_locale(locale);
        let h = match self.groups.entry(group) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                e.insert(highlighter(self.searcher, self.query, self.fields, group)?)
            }
        };
        let found = mentions(&self.folder.fold(text), &h.needles);
        // Most hits matched in their title or names only: nothing of their text is analysed.
        if found.is_empty() {
            return Ok(None);
        }
        let marks = h.marks(text, &found);
        let Some((first, last)) = best_window(&marks) else {
            return Ok(None);
        };
        let range = fragment(text, marks[first].start, marks[last].end);
        let highlighted: Vec<std::ops::Range<usize>> = marks
            .iter()
            .filter(|m| m.start >= range.start && m.end <= range.end)
            .map(|m| m.start - range.start..m.end - range.start)
            .collect();
        Ok(Some(render_snippet(
            text,
            &text[range.clone()],
            range,
            &highlighted,
        )))
    }
}

/// What to look for in one language group's texts: the query's terms in its body field.
fn highlighter(
    searcher: &Searcher,
    query: &dyn Query,
    fields: &Fields,
    group: LangGroup,
) -> Result<Highlighter, IndexError> {
    let field = fields.body.get(group);
    let mut weights: BTreeMap<String, f32> = BTreeMap::new();
    let mut failed = None;
    query.query_terms(&mut |term, _| {
        if term.field() != field || failed.is_some() {
            return;
        }
        let value = term.value();
        let Some(text) = value.as_str() else {
            return;
        };
        match searcher.doc_freq(term) {
            Ok(0) => {}
            Ok(df) => {
                weights.insert(text.to_owned(), 1.0 / (1.0 + df as f32));
            }
            Err(e) => failed = Some(e),
        }
    });
    if let Some(e) = failed {
        return Err(engine(e));
    }
    let needles: Vec<String> = weights.keys().map(|t| needle(t)).collect();
    Ok(Highlighter {
        terms: weights
            .into_iter()
            .enumerate()
            .map(|(i, (t, w))| (t, (i, w)))
            .collect(),
        needles: Needles::new(&needles),
        analyzer: searcher
            .index()
            .tokenizer_for_field(field)
            .map_err(engine)?,
        words: HashMap::new(),
    })
}

impl Highlighter {
    /// The words of `text` that are query terms, in text order, from where their needles were
    /// found: a needle counts only at the start of a word, and the whole word is analysed as the
    /// index analyses it (so `comu` finds `comunità` but not `comunicare`, and never `lacomu`).
    fn marks(&mut self, text: &str, found: &[usize]) -> Vec<Mark> {
        let mut out: Vec<Mark> = Vec::new();
        for &start in found {
            if out.last().is_some_and(|m| start < m.end)
                || text[..start]
                    .chars()
                    .next_back()
                    .is_some_and(char::is_alphanumeric)
            {
                continue;
            }
            let end = text[start..]
                .find(|c: char| !c.is_alphanumeric())
                .map_or(text.len(), |i| start + i);
            let word = &text[start..end];
            if word.is_empty() {
                continue;
            }
            let term = match self.words.get(word) {
                Some(t) => *t,
                None => {
                    let t = self.term_of(word);
                    self.words.insert(word.to_owned(), t);
                    t
                }
            };
            if let Some((term, weight)) = term {
                out.push(Mark {
                    start,
                    end,
                    term,
                    weight,
                });
            }
        }
        out
    }

    /// The query term a word stands for, if any: the word is one token (it is a run of letters
    /// and digits, which is how the tokenizer splits), analysed as the index analyses it.
    fn term_of(&mut self, word: &str) -> Option<(usize, f32)> {
        let mut stream = self.analyzer.token_stream(word);
        let token = stream.next()?;
        self.terms.get(&token.text).copied()
    }
}

/// The marks that make the best fragment, as (first, last) indices: the most different terms
/// within one fragment's length, then the most weight; the earliest of equals.
fn best_window(marks: &[Mark]) -> Option<(usize, usize)> {
    let terms = marks.iter().map(|m| m.term + 1).max()?;
    let mut counts = vec![0u32; terms];
    let (mut distinct, mut weight, mut lo) = (0usize, 0f32, 0);
    let mut best: Option<(usize, f32, usize, usize)> = None;
    for (hi, m) in marks.iter().enumerate() {
        counts[m.term] += 1;
        if counts[m.term] == 1 {
            distinct += 1;
        }
        weight += m.weight;
        while lo <= hi && m.end - marks[lo].start > SNIPPET_CHARS {
            let gone = marks[lo];
            counts[gone.term] -= 1;
            if counts[gone.term] == 0 {
                distinct -= 1;
            }
            weight -= gone.weight;
            lo += 1;
        }
        if lo > hi {
            continue; // one word longer than a fragment
        }
        if best.is_none_or(|(d, w, _, _)| distinct > d || (distinct == d && weight > w + 1e-6)) {
            best = Some((distinct, weight, lo, hi));
        }
    }
    best.map(|(_, _, lo, hi)| (lo, hi))
}

/// The fragment shown around the words from `first` to `last` (byte offsets): up to
/// [`SNIPPET_CHARS`] bytes, about half the spare room before them and the rest after, starting
/// and ending between words; the whole text when it is short enough.
fn fragment(text: &str, first: usize, last: usize) -> std::ops::Range<usize> {
    let trimmed_start = text.len() - text.trim_start().len();
    let trimmed_end = text.trim_end().len();
    if trimmed_end - trimmed_start <= SNIPPET_CHARS {
        return trimmed_start..trimmed_end;
    }
    let spare = SNIPPET_CHARS.saturating_sub(last - first);
    // near the end, the room left after the words goes before them
    let from = first
        .saturating_sub(spare / 2)
        .min(trimmed_end.saturating_sub(SNIPPET_CHARS));
    let start = if from <= trimmed_start {
        trimmed_start
    } else {
        // after the first whitespace from there, or the first word itself
        let from = ceil_char_boundary(text, from);
        text[from..first]
            .find(char::is_whitespace)
            .map_or(first, |i| first - text[from + i..first].trim_start().len())
    };
    let limit = start + SNIPPET_CHARS;
    let end = if limit >= trimmed_end {
        trimmed_end
    } else {
        // at the end of the last word that fits
        let limit = floor_char_boundary(text, limit).max(last);
        text[last..limit]
            .rfind(char::is_whitespace)
            .map_or(last, |i| last + i)
    };
    start..text[..end].trim_end().len().max(last)
}

fn ceil_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Folds texts as the fields' analyzers do (lower case, then ASCII folding), one pass per text:
/// ASCII is folded inline, and each other character through tantivy's own filters once per
/// search, so the result is the analyzers' to the byte.
struct Folder {
    analyzer: tantivy::tokenizer::TextAnalyzer,
    non_ascii: HashMap<char, String>,
}

/// A folded text, and where its bytes come from in the original text.
struct Folded {
    text: String,
    /// Where the folded text stops following the original byte for byte: at each non-ASCII
    /// character (whose folded form maps to its start) and right after it. Sorted by the first
    /// element; ASCII text (most of it) needs no entry.
    jumps: Vec<Jump>,
}

#[derive(Clone, Copy)]
struct Jump {
    /// Offset in the folded text.
    folded: u32,
    /// Offset in the original text.
    original: u32,
    /// The folded bytes from here on come from one character (at `original`); else they follow
    /// the original one for one.
    within_char: bool,
}

impl Folded {
    /// The offset in the original text of the character the folded byte `at` comes from.
    fn origin(&self, at: usize) -> usize {
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        let i = self.jumps.partition_point(|j| j.folded <= at);
        match i.checked_sub(1).map(|i| self.jumps[i]) {
            None => at as usize,
            Some(j) if j.within_char => j.original as usize,
            Some(j) => (j.original + (at - j.folded)) as usize,
        }
    }
}

impl Folder {
    fn new() -> Folder {
        Folder {
            analyzer: folder(),
            non_ascii: HashMap::new(),
        }
    }

    /// Lower case and ASCII folding as the analysers do; runs of ASCII (most of a text) are
    /// copied and lower-cased in bulk.
    fn fold(&mut self, text: &str) -> Folded {
        let mut out = String::with_capacity(text.len());
        let mut jumps = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let ascii = rest
                .bytes()
                .position(|b| !b.is_ascii())
                .unwrap_or(rest.len());
            let from = out.len();
            out.push_str(&rest[..ascii]);
            out[from..].make_ascii_lowercase();
            rest = &rest[ascii..];
            let Some(c) = rest.chars().next() else { break };
            let at = text.len() - rest.len();
            let analyzer = &mut self.analyzer;
            let f = self.non_ascii.entry(c).or_insert_with(|| {
                let mut buf = [0u8; 4];
                let mut stream = analyzer.token_stream(c.encode_utf8(&mut buf));
                let mut folded = String::new();
                while let Some(t) = stream.next() {
                    folded.push_str(&t.text);
                }
                folded
            });
            let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            jumps.push(Jump {
                folded: offset(out.len()),
                original: offset(at),
                within_char: true,
            });
            out.push_str(f);
            rest = &rest[c.len_utf8()..];
            jumps.push(Jump {
                folded: offset(out.len()),
                original: offset(at + c.len_utf8()),
                within_char: false,
            });
        }
        Folded { text: out, jumps }
    }
}

/// The query's terms as they start a folded word, found all at once.
struct Needles(Option<aho_corasick::AhoCorasick>);

impl Needles {
    fn new(needles: &[String]) -> Needles {
        // The NFA: it is built for one search and runs over some twenty texts, and the DFA the
        // default picks for a few needles took longer to build than the searches it sped up.
        // Beyond the automaton's size limits: no snippets, not an error.
        Needles(
            aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::NoncontiguousNFA))
                .build(needles)
                .ok(),
        )
    }
}

/// Where a text mentions the query's terms: offsets in the text, in text order, in one pass
/// however many terms a query expands to.
fn mentions(folded: &Folded, needles: &Needles) -> Vec<usize> {
    let Some(finder) = &needles.0 else {
        return Vec::new();
    };
    let mut at: Vec<usize> = finder
        .find_overlapping_iter(folded.text.as_str())
        .map(|m| folded.origin(m.start()))
        .collect();
    // reported by where they end
    at.sort_unstable();
    at.dedup();
    at
}

/// The analyzer chain up to the stemmer, over the whole text as one token.
fn folder() -> tantivy::tokenizer::TextAnalyzer {
    use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer};
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The part of a stem that the folded word it came from surely begins with: stemmers may change
/// a word's last letter (English `happy` → `happi`), never what comes before it.
fn needle(stem: &str) -> String {
    let n = stem.chars().count();
    if n >= 4 {
        stem.chars().take(n - 1).collect()
    } else {
        stem.to_owned()
    }
}

/// Escapes the fragment and wraps the highlighted ranges in `<mark>`; an ellipsis marks text cut
/// on either side. Built here rather than with tantivy's `to_html`, so that exactly this markup
/// and nothing else can appear.
fn render_snippet(
    text: &str,
    fragment: &str,
    range: std::ops::Range<usize>,
    highlighted: &[std::ops::Range<usize>],
) -> String {
    let mut ranges: Vec<std::ops::Range<usize>> = highlighted.to_vec();
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out = String::new();
    if !text
        .get(..range.start)
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        out.push('…');
    }
    let mut pos = 0;
    for r in ranges {
        if r.start < pos || r.end > fragment.len() || r.is_empty() {
            continue; // overlapping, out of bounds or empty: leave unmarked
        }
        let (Some(before), Some(word)) = (fragment.get(pos..r.start), fragment.get(r.clone()))
        else {
            continue;
        };
        out.push_str(&html_escape::encode_text(before));
        out.push_str("<mark>");
        out.push_str(&html_escape::encode_text(word));
        out.push_str("</mark>");
        pos = r.end;
    }
    out.push_str(&html_escape::encode_text(
        fragment.get(pos..).unwrap_or_default(),
    ));
    if range.end < text.trim_end().len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_rendering_escapes_and_marks() {
        let text = "a <b> bilancio & c";
        let start = text.find("bilancio").unwrap();
        // The empty range is ignored.
        let marks = [start..start + 8, text.len()..text.len()];
        let html = render_snippet(text, text, 0..text.len(), &marks);
        assert_eq!(html, "a &lt;b&gt; <mark>bilancio</mark> &amp; c");
        let html = render_snippet(text, &text[2..], 2..text.len(), &[]);
        assert_eq!(html, "…&lt;b&gt; bilancio &amp; c");
        // only text cut off gets an ellipsis, not the whitespace around it
        let padded = "  bilancio  ";
        let html = render_snippet(padded, "bilancio", 2..10, std::slice::from_ref(&(0..8)));
        assert_eq!(html, "<mark>bilancio</mark>");
    }

    /// One pass folds exactly as the analyzer chain does over the whole text, and every folded
    /// byte points back to the character it came from.
    #[test]
    fn folding_matches_the_analyzers_and_maps_back() {
        let text = "Città di ÉVORA: l'Ærø, Straße, İzmir, ŒUVRE — “naïve” café ½ ﬁne Ω";
        let mut expected = String::new();
        let mut analyzer = folder();
        let mut stream = analyzer.token_stream(text);
        while let Some(t) = stream.next() {
            expected.push_str(&t.text);
        }
        let mut f = Folder::new();
        let folded = f.fold(text);
        assert_eq!(folded.text, expected);
        let at = folded.text.find("strasse").unwrap();
        assert_eq!(&text[folded.origin(at)..][..4], "Stra");
        let at = folded.text.find("naive").unwrap();
        assert_eq!(&text[folded.origin(at)..][..2], "na");
        // Every folded byte maps to the start of the character it comes from.
        let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        let mut previous = 0;
        for at in 0..folded.text.len() {
            let o = folded.origin(at);
            assert!(starts.contains(&o) && o >= previous, "byte {at} -> {o}");
            previous = o;
        }
        // `ß` folds to two bytes, both from it.
        let at = folded.text.find("ss").unwrap();
        assert_eq!(folded.origin(at), folded.origin(at + 1));
        assert_eq!(&text[folded.origin(at)..][..2], "ß");
        assert_eq!(f.fold("").text, "");
        assert_eq!(f.fold("ABC").jumps.len(), 0);
    }

    fn italian(words: &[&str]) -> Highlighter {
        let mut analyzer = crate::schema::analyzer(Some(crate::stem::StemLanguage::Italian));
        let stems: Vec<String> = words
            .iter()
            .map(|w| analyzer.token_stream(w).next().unwrap().text.clone())
            .collect();
        let needles: Vec<String> = stems.iter().map(|t| needle(t)).collect();
        Highlighter {
            terms: stems
                .into_iter()
                .enumerate()
                .map(|(i, t)| (t, (i, 1.0)))
                .collect(),
            needles: Needles::new(&needles),
            analyzer,
            words: HashMap::new(),
        }
    }

    fn marked<'t>(h: &mut Highlighter, text: &'t str) -> Vec<&'t str> {
        let found = mentions(&Folder::new().fold(text), &h.needles);
        h.marks(text, &found)
            .into_iter()
            .map(|m| &text[m.start..m.end])
            .collect()
    }

    /// A word is marked when the index would have it as one of the query's terms, and only
    /// then: not where the query's letters start another word or sit inside one.
    #[test]
    fn words_are_marked_only_when_they_are_the_querys_terms() {
        let mut h = italian(&["comunità", "bilancio"]);
        assert_eq!(
            marked(
                &mut h,
                "La Comunita e le comunità; comunicare il BILANCIO (bilanci), subilancio."
            ),
            ["Comunita", "comunità", "BILANCIO", "bilanci"]
        );
        // each distinct word was analysed once, however often it occurs
        let before = h.words.len();
        marked(&mut h, "comunità comunità comunità");
        assert_eq!(h.words.len(), before);
        assert!(marked(&mut h, "nessuna parola").is_empty());
    }

    fn mark(start: usize, term: usize) -> Mark {
        Mark {
            start,
            end: start + 5,
            term,
            weight: 1.0,
        }
    }

    #[test]
    fn the_best_window_shows_the_most_different_terms_then_the_most_weight() {
        // term 0 often early; further on, terms 0, 1 and 2 within one fragment
        let mut marks: Vec<Mark> = (0..10).map(|i| mark(i * 10, 0)).collect();
        marks.extend([mark(1000, 1), mark(1050, 0), mark(1100, 2)]);
        assert_eq!(best_window(&marks), Some((10, 12)));
        // the same three spread wider than a fragment: the first pair that fits
        let spread = [mark(0, 1), mark(150, 0), mark(400, 2)];
        assert_eq!(best_window(&spread), Some((0, 1)));
        // equal terms: the rarer (heavier) one wins, the earliest of equals otherwise
        let mut heavy = [mark(0, 0), mark(500, 1)];
        heavy[1].weight = 2.0;
        assert_eq!(best_window(&heavy), Some((1, 1)));
        assert_eq!(best_window(&[mark(0, 0), mark(500, 0)]), Some((0, 0)));
        assert_eq!(best_window(&[]), None);
    }

    #[test]
    fn fragments_stay_within_bounds_and_cut_between_words() {
        let short = "  Un riassunto sul verde.  ";
        let at = short.find("verde").unwrap();
        assert_eq!(
            &short[fragment(short, at, at + 5)],
            "Un riassunto sul verde."
        );

        let text = format!(
            "{} parco giochi {}",
            "prima ".repeat(100),
            "dopo ".repeat(100)
        );
        let at = text.find("parco").unwrap();
        let r = fragment(&text, at, at + "parco giochi".len());
        let f = &text[r.clone()];
        assert!(f.len() <= SNIPPET_CHARS, "{}", f.len());
        assert!(f.starts_with("prima ") && f.ends_with("dopo"), "{f}");
        assert!(r.start <= at && r.end >= at + 12);
        // about as much context before the words as after them
        let before = at - r.start;
        let after = r.end - at - 12;
        assert!(
            before.abs_diff(after) <= 12,
            "{before} before, {after} after"
        );
        // at the very start: no text is skipped before it
        let start = format!("parco {}", "dopo ".repeat(100));
        assert_eq!(fragment(&start, 0, 5).start, 0);
        // at the very end: the fragment fills up with what comes before
        let end = format!("{}parco.", "prima ".repeat(100));
        let at = end.find("parco").unwrap();
        let r = fragment(&end, at, at + 5);
        assert_eq!(r.end, end.len());
        assert!(r.len() > SNIPPET_CHARS - 8, "{}", r.len());
    }

    /// Wherever the words are, in a text of multi-byte letters and spaces: a fragment is a valid
    /// slice that contains them and fits.
    #[test]
    fn fragments_never_split_a_character() {
        let text = "è perché più così ".repeat(40);
        for (at, _) in text.char_indices().filter(|(_, c)| *c == 'p') {
            let end = at + "perché".len();
            let r = fragment(&text, at, end);
            assert!(text.get(r.clone()).is_some(), "{r:?}");
            assert!(r.start <= at && r.end >= end && r.len() <= SNIPPET_CHARS);
        }
    }
}
