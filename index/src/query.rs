//! The user's query language, and its translation to a tantivy query.
//!
//! Users write words (all must match, each in any text field), `"quoted phrases"`, parentheses,
//! `AND`, `OR`, `NOT`, and `-word` / `+word`. Everything else tantivy's grammar would treat as
//! syntax (`field:`, `^boost`, `[ranges]`, `*`, `~`, single quotes…) is turned into a space, so
//! ordinary text such as `l'acqua`, `ore 10:30` or `C++` never becomes a syntax error. The
//! apostrophe is treated as a word separator, exactly as the analysers do when indexing.
//! Typographic quotes (`“…”`, `«…»`) count as `"`.
//!
//! Errors the user can fix are [`IndexError::Query`]: unbalanced quotes, unbalanced parentheses,
//! a query over [`MAX_QUERY_CHARS`] characters, or what tantivy's strict parser rejects (e.g. a
//! dangling `AND`).
//!
//! **Search-as-you-type.** When the query does not end in whitespace and its last word (outside
//! any phrase) has at least two characters, that word is completed: the `words` field (the words
//! of the records' titles, summaries and names, folded, not stemmed) is scanned for terms
//! starting with it, and the word is
//! rewritten to `(word OR completion1 OR completion2 …)` with at most [`MAX_COMPLETIONS`]
//! completions (fewer for a two- or three-letter word), the most frequent first. The rewritten text is then parsed as usual, so every
//! completion goes through each field's own analyser (stemmed in Italian and English fields),
//! keeps the query's structure (`bilancio parte` → `bilancio (parte OR partecipativo OR …)`, all
//! words still required) and is highlighted in snippets like any other word.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::LazyLock;

use tantivy::query::{
    BooleanQuery, BoostQuery, EmptyQuery, FuzzyTermQuery, Occur, Query, QueryParser,
    QueryParserError, TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::termdict::TermMerger;
use tantivy::{Searcher, Term};

use crate::analysed::Analyzers;
use crate::error::{engine, IndexError};
use crate::exclusion::forward_exclusions;
use crate::pairs::{PairWords, PhraseTerms};
use crate::schema::{fold_analyzer, stop_words, Fields, LangGroup, TITLE_BOOST};

/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 512;

/// At most this many completions of the word being typed (fewer for a two- or three-letter word).
pub const MAX_COMPLETIONS: usize = 32;

/// A two-letter prefix starts thousands of words, and each completion is searched in every text
/// field: the most frequent few say what the user probably means, and more are added as the word
/// grows and the candidates thin out.
fn max_completions(prefix_chars: usize) -> usize {
    match prefix_chars {
        0..=2 => 8,
        3 => 16,
        _ => MAX_COMPLETIONS,
    }
}

/// Shortest word (in characters, after folding) that is completed as a prefix.
const MIN_PREFIX_CHARS: usize = 2;

/// Shortest word (in characters, after folding) corrected with one edit; from
/// [`TWO_EDITS_CHARS`] on, with two.
const ONE_EDIT_CHARS: usize = 5;
const TWO_EDITS_CHARS: usize = 9;

/// At most this many corrections of a misspelt word, the most frequent first.
const MAX_CORRECTIONS: usize = 8;

static STOP_WORDS: LazyLock<HashSet<String>> = LazyLock::new(|| stop_words().into_iter().collect());

/// The user's text made safe for tantivy's grammar, with its quotes and parentheses checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Normalized {
    pub text: String,
    /// The user is still typing the last word (no trailing whitespace).
    pub typing: bool,
}

/// Checks and rewrites the user's text. `Ok(None)` when there is nothing to search for.
pub(crate) fn normalize(q: &str) -> Result<Option<Normalized>, IndexError> {
    let n = q.chars().count();
    if n > MAX_QUERY_CHARS {
        return Err(IndexError::query(format!(
            "the query has {n} characters; at most {MAX_QUERY_CHARS} are accepted"
        )));
    }
    let mut out = String::with_capacity(q.len());
    let mut in_phrase = false;
    let mut depth: i64 = 0;
    for c in q.chars() {
        let c = match c {
            '“' | '”' | '„' | '‟' | '«' | '»' => '"',
            '\'' | '’' | '‘' | '`' | '´' | ':' | '^' | '{' | '}' | '[' | ']' | '\\' | '*' | '~'
            | '!' | '?' | '<' | '>' | '=' | '|' | '&' | '/' => ' ',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        match c {
            '"' => in_phrase = !in_phrase,
            '(' if !in_phrase => depth += 1,
            ')' if !in_phrase => {
                depth -= 1;
                if depth < 0 {
                    return Err(IndexError::query(
                        "unbalanced parentheses: a `)` has no matching `(`",
                    ));
                }
            }
            _ => {}
        }
        out.push(c);
    }
    if in_phrase {
        return Err(IndexError::query(
            "unbalanced quotes: a `\"` opens a phrase that is never closed",
        ));
    }
    if depth > 0 {
        return Err(IndexError::query(
            "unbalanced parentheses: a `(` is never closed",
        ));
    }
    let text = tidy(&out);
    if text.trim().is_empty() {
        return Ok(None);
    }
    let typing = !q.ends_with(char::is_whitespace);
    Ok(Some(Normalized { text, typing }))
}

/// A piece of the query: a word (possibly with operators or parentheses glued to it) or a
/// quoted phrase (with its quotes and any sign glued before it).
enum Item {
    Word(String),
    Phrase(String),
}

fn is_operator(w: &str) -> bool {
    matches!(w, "AND" | "OR" | "NOT")
}

/// Rewrites what tantivy's grammar would reject in ordinary text: a lone `-` or `+`, doubled
/// signs, the keyword `IN`, and operators with nothing to combine (`AND` at either end, `NOT` at
/// the end, two operators in a row), which become plain words — and stop words, so they vanish.
/// Quotes are balanced when this runs.
fn tidy(s: &str) -> String {
    let mut items: Vec<Item> = Vec::new();
    let mut word = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut phrase = String::from('"');
                for p in chars.by_ref() {
                    phrase.push(p);
                    if p == '"' {
                        break;
                    }
                }
                // A sign directly before the phrase applies to it; other glued text is a word.
                let sign = match word.chars().next() {
                    Some(c @ ('-' | '+')) if word.chars().all(|c| c == '-' || c == '+') => Some(c),
                    _ => None,
                };
                if let Some(c) = sign {
                    phrase.insert(0, c);
                } else if !word.is_empty() {
                    items.push(Item::Word(std::mem::take(&mut word)));
                }
                word.clear();
                items.push(Item::Phrase(phrase));
            }
            ' ' => {
                if !word.is_empty() {
                    items.push(Item::Word(std::mem::take(&mut word)));
                }
            }
            // Parentheses stand alone, except for a sign glued before `(`.
            '(' => {
                if word.chars().all(|c| c == '-' || c == '+') {
                    word.push('(');
                    items.push(Item::Word(std::mem::take(&mut word)));
                } else {
                    items.push(Item::Word(std::mem::take(&mut word)));
                    items.push(Item::Word("(".to_owned()));
                }
            }
            ')' => {
                if !word.is_empty() {
                    items.push(Item::Word(std::mem::take(&mut word)));
                }
                items.push(Item::Word(")".to_owned()));
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        items.push(Item::Word(word));
    }

    let mut words: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::Phrase(p) => words.push(p),
            Item::Word(w) => {
                let signs = w.chars().take_while(|c| matches!(c, '-' | '+')).count();
                if signs == w.chars().count() {
                    continue; // a lone sign
                }
                let w = if signs > 1 {
                    // Keep the first sign only: `--x` → `-x`.
                    let first = &w[..1];
                    format!("{first}{}", &w[signs..])
                } else {
                    w
                };
                words.push(if w == "IN" { "in".to_owned() } else { w });
            }
        }
    }
    // Empty groups `( )` are a syntax error: drop them.
    let mut i = 0;
    while i + 1 < words.len() {
        if words[i].ends_with('(') && words[i + 1] == ")" {
            words.drain(i..i + 2);
            i = i.saturating_sub(1);
        } else {
            i += 1;
        }
    }
    // Operators with nothing to combine become plain words.
    for i in 0..words.len() {
        if !is_operator(&words[i]) {
            continue;
        }
        let first = i == 0 || words[i - 1].ends_with('(');
        let last = i + 1 == words.len() || words[i + 1] == ")";
        let after_operator = i > 0 && is_operator(&words[i - 1]);
        let dangling = match words[i].as_str() {
            "NOT" => last || after_operator && words[i - 1] == "NOT",
            _ => first || last || after_operator,
        };
        if dangling {
            words[i] = words[i].to_lowercase();
        }
    }
    words.join(" ")
}

/// The last word when it can be completed: `(byte range of the word, folded prefix)`.
fn last_word(text: &str) -> Option<(std::ops::Range<usize>, String)> {
    let trimmed = text.trim_end_matches([')', ' ']);
    let start = trimmed
        .rfind(|c: char| !c.is_alphanumeric())
        .map_or(0, |i| {
            i + trimmed[i..].chars().next().map_or(1, char::len_utf8)
        });
    let word = &trimmed[start..];
    if word.is_empty() || matches!(word, "AND" | "OR" | "NOT") {
        return None;
    }
    // Only a word that stands alone: not `-word`, `+word`, nor the end of a phrase.
    let before = trimmed[..start].chars().last();
    if !matches!(before, None | Some(' ') | Some('(')) {
        return None;
    }
    let mut fold = fold_analyzer();
    let mut stream = fold.token_stream(word);
    let mut folded = String::new();
    while let Some(t) = stream.next() {
        if !folded.is_empty() {
            // Folding split the word (it should not, it is alphanumeric): do not complete.
            return None;
        }
        folded = t.text.clone();
    }
    (folded.chars().count() >= MIN_PREFIX_CHARS).then_some((start..trimmed.len(), folded))
}

/// Terms of the `words` field that start with `prefix`, most frequent first (alphabetical among
/// equals). The segments' term lists are merged in order, so each term's frequency is summed
/// across segments as it passes, and only the few kept are copied: a two-letter prefix passes
/// thousands of terms.
pub(crate) fn completions(
    searcher: &Searcher,
    fields: &Fields,
    common: Option<&CommonWords>,
    prefix: &str,
) -> Result<Vec<String>, IndexError> {
    let keep = max_completions(prefix.chars().count());
    if let Some(found) = common.and_then(|c| c.complete(prefix, keep)) {
        return Ok(found);
    }
    let mut kept: BinaryHeap<(Reverse<u64>, Vec<u8>)> = BinaryHeap::with_capacity(keep + 1);
    walk_terms(searcher, fields.words, prefix.as_bytes(), &mut |key, df| {
        if !key.starts_with(prefix.as_bytes()) {
            return false;
        }
        offer(&mut kept, keep, df, || key.to_vec());
        true
    })?;
    // Ascending (Reverse(df), key) is most frequent first, then alphabetical.
    Ok(kept
        .into_sorted_vec()
        .into_iter()
        .filter_map(|(_, k)| String::from_utf8(k).ok())
        .collect())
}

/// Walks `field`'s terms from `from` on, in order, each once with its document frequency
/// summed over the segments (their term lists merged as they go), until `visit` returns false.
pub(crate) fn walk_terms(
    searcher: &Searcher,
    field: tantivy::schema::Field,
    from: &[u8],
    visit: &mut dyn FnMut(&[u8], u64) -> bool,
) -> Result<(), IndexError> {
    let inverted = searcher
        .segment_readers()
        .iter()
        .map(|seg| seg.inverted_index(field))
        .collect::<Result<Vec<_>, _>>()
        .map_err(engine)?;
    let streams = inverted
        .iter()
        .map(|inv| inv.terms().range().ge(from).into_stream())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| engine(e.into()))?;
    let mut merger = TermMerger::new(streams);
    while merger.advance() {
        let df = merger
            .current_segment_ords_and_term_infos()
            .map(|(_, info)| u64::from(info.doc_freq))
            .sum();
        if !visit(merger.key(), df) {
            break;
        }
    }
    Ok(())
}

/// Keeps the `keep` commonest of the terms offered in order: the worst kept is on top (least
/// frequent, then last alphabetically), and a term that only ties it never displaces it.
fn offer<T: Ord>(
    kept: &mut BinaryHeap<(Reverse<u64>, T)>,
    keep: usize,
    df: u64,
    term: impl FnOnce() -> T,
) {
    if kept.len() < keep {
        kept.push((Reverse(df), term()));
    } else if kept.peek().is_some_and(|(Reverse(worst), _)| df > *worst) {
        kept.pop();
        kept.push((Reverse(df), term()));
    }
}

/// Terms the table of common words holds at most: ≈2 MB, and enough that every prefix of two
/// letters or more that users type finds its completions there.
pub(crate) const COMMON_WORDS: usize = 65_536;

/// The commonest words of one index generation, with their document frequencies, sorted: the
/// word being typed is completed from here in microseconds instead of walking every term that
/// starts like it. It holds *every* word at least as frequent as its rarest, so whenever it has
/// as many completions of a prefix as are asked for, they are exactly the commonest of the whole
/// index; otherwise (a long or rare prefix, few terms to walk) the term lists are walked.
pub(crate) struct CommonWords {
    words: Vec<(Box<str>, u64)>,
}

impl CommonWords {
    /// Reads the `words` field's terms twice: once for how frequent they are, once to keep those
    /// frequent enough for at most `cap` of them.
    pub(crate) fn build(
        searcher: &Searcher,
        fields: &Fields,
        cap: usize,
    ) -> Result<CommonWords, IndexError> {
        let mut by_df: HashMap<u64, usize> = HashMap::new();
        walk_terms(searcher, fields.words, b"", &mut |_, df| {
            *by_df.entry(df).or_default() += 1;
            true
        })?;
        // The lowest frequency whose words, with all the more frequent ones, fit in `cap`.
        let mut dfs: Vec<(u64, usize)> = by_df.into_iter().collect();
        dfs.sort_unstable_by_key(|&(df, _)| Reverse(df));
        let (mut kept, mut floor) = (0, u64::MAX);
        for (df, n) in dfs {
            if kept + n > cap {
                break;
            }
            kept += n;
            floor = df;
        }
        let mut words = Vec::with_capacity(kept);
        walk_terms(searcher, fields.words, b"", &mut |key, df| {
            if df >= floor {
                if let Ok(w) = std::str::from_utf8(key) {
                    words.push((w.into(), df));
                }
            }
            true
        })?;
        Ok(CommonWords { words })
    }

    /// The `keep` commonest words starting with `prefix`, or `None` when the table has fewer.
    fn complete(&self, prefix: &str, keep: usize) -> Option<Vec<String>> {
        let from = self.words.partition_point(|(w, _)| &**w < prefix);
        let matching = self.words[from..]
            .iter()
            .take_while(|(w, _)| w.starts_with(prefix));
        let mut kept: BinaryHeap<(Reverse<u64>, &str)> = BinaryHeap::with_capacity(keep + 1);
        let mut seen = 0;
        for (w, df) in matching {
            seen += 1;
            offer(&mut kept, keep, *df, || &**w);
        }
        (seen >= keep).then(|| {
            kept.into_sorted_vec()
                .into_iter()
                .map(|(_, w)| w.to_owned())
                .collect()
        })
    }
}

/// The folded form of a plain word (letters only), or `None` for anything else.
fn fold_word(word: &str) -> Option<String> {
    if word.is_empty() || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    let mut fold = fold_analyzer();
    let mut stream = fold.token_stream(word);
    let mut folded: Option<String> = None;
    while let Some(t) = stream.next() {
        if folded.is_some() {
            return None;
        }
        folded = Some(t.text.clone());
    }
    folded
}

/// Typo tolerance: when a word of [`ONE_EDIT_CHARS`]+ letters (folded) is in no record at all,
/// the words of the titles, summaries and names within one edit (two from [`TWO_EDITS_CHARS`]
/// letters; a swap of two letters counts as one) stand in for it, the most frequent first. A word
/// that some record has (as the search analyses it) is never corrected, so exact matches are all
/// there is when they exist; nor is a finished word completed (`pressupost` does not become
/// `pressupostos`). `Ok(None)`: leave it.
///
/// Words that begin with the same letter are looked for first, and all words only when none
/// does: misspellings rarely touch a word's first letter (Lucene's spell checker and
/// Elasticsearch's suggester assume the same by default), and walking only that letter's part of
/// the dictionary costs a fraction of walking all of it. So are words one edit away before two:
/// most misspellings are one edit (a word one edit away is what was meant more often than a
/// commoner one two away, which the noisy-channel spellers rank the same way), and the automaton
/// of two edits of a long word takes three and a half times as long to build as one edit's (61
/// against 17 µs for 19 letters; building them was 2 % of the server's CPU over the query mix at
/// 1M records).
fn corrections(
    searcher: &Searcher,
    fields: &Fields,
    folded: &str,
) -> Result<Option<Vec<String>>, IndexError> {
    let n = folded.chars().count();
    if n < ONE_EDIT_CHARS || STOP_WORDS.contains(folded) {
        return Ok(None);
    }
    let term = Term::from_field_text(fields.words, folded);
    if searcher.doc_freq(&term).map_err(engine)? > 0 || in_descriptions(searcher, fields, folded)? {
        return Ok(None);
    }
    let first = &folded[..folded.chars().next().map_or(0, char::len_utf8)];
    // Nearest first: words one edit away with the same first letter, then (long words) two
    // edits away, then two edits away with any first letter.
    let mut steps = vec![(1, Some(first))];
    if n >= TWO_EDITS_CHARS {
        steps.push((2, Some(first)));
    }
    steps.push((steps.last().map_or(1, |s| s.0), None));
    let mut found = HashMap::new();
    let mut built: Option<(u8, tantivy::query::DfaWrapper)> = None;
    for (distance, prefix) in steps {
        // Built once per distance: a two-edit automaton of a long word costs as much as
        // walking a segment's terms.
        let automaton = match built.take() {
            Some((d, a)) if d == distance => a,
            _ => FuzzyTermQuery::new(term.clone(), distance, true)
                .automaton()
                .map_err(engine)?,
        };
        found = similar_words(searcher, fields, &automaton, folded, prefix)?;
        if !found.is_empty() {
            break;
        }
        built = Some((distance, automaton));
    }
    let mut v: Vec<(String, u64)> = found.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(MAX_CORRECTIONS);
    Ok((!v.is_empty()).then(|| v.into_iter().map(|(t, _)| t).collect()))
}

/// The words of the `words` field that `automaton` accepts (only those starting with `prefix`,
/// if given), with how many records have each.
fn similar_words(
    searcher: &Searcher,
    fields: &Fields,
    automaton: &tantivy::query::DfaWrapper,
    folded: &str,
    prefix: Option<&str>,
) -> Result<HashMap<String, u64>, IndexError> {
    let mut freq: HashMap<String, u64> = HashMap::new();
    for seg in searcher.segment_readers() {
        let inverted = seg.inverted_index(fields.words).map_err(engine)?;
        let mut builder = inverted.terms().search(automaton);
        if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
            // The keys that start with the prefix's bytes: from the prefix itself up to it with
            // its last byte one higher (never 0xFF in UTF-8).
            let mut end = prefix.as_bytes().to_vec();
            if let Some(last) = end.last_mut() {
                *last += 1;
            }
            builder = builder.ge(prefix.as_bytes()).lt(end);
        }
        let mut stream = builder.into_stream().map_err(|e| engine(e.into()))?;
        while stream.advance() {
            if let Ok(t) = std::str::from_utf8(stream.key()) {
                // Corrections that are stop words would vanish in analysis, and one that only
                // adds letters at the end would complete a finished word (only the word being
                // typed is completed): skip both.
                if !STOP_WORDS.contains(t) && !t.starts_with(folded) {
                    *freq.entry(t.to_owned()).or_default() += u64::from(stream.value().doc_freq);
                }
            }
        }
    }
    Ok(freq)
}

/// True when some record's text has `folded` as its own language's analyser indexes it: the
/// words of descriptions are not in the `words` field.
fn in_descriptions(searcher: &Searcher, fields: &Fields, folded: &str) -> Result<bool, IndexError> {
    for field in fields.body.all() {
        let mut analyzer = searcher
            .index()
            .tokenizer_for_field(field)
            .map_err(engine)?;
        let mut stream = analyzer.token_stream(folded);
        while let Some(t) = stream.next() {
            let term = Term::from_field_text(field, &t.text);
            if searcher.doc_freq(&term).map_err(engine)? > 0 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Rewrites every plain word that no record has (outside phrases, not excluded with `-`, not an
/// operator) to `(word OR correction …)`. `keep_last`: the last item is being typed and is left
/// to completion.
fn correct_typos(
    searcher: &Searcher,
    fields: &Fields,
    text: &str,
    keep_last: bool,
) -> Result<String, IndexError> {
    // Split on spaces outside phrases (`normalize` has balanced the quotes).
    let mut items: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_phrase = false;
    for c in text.chars() {
        if c == '"' {
            in_phrase = !in_phrase;
        }
        if c == ' ' && !in_phrase {
            if !cur.is_empty() {
                items.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        items.push(cur);
    }
    let last = items.len().saturating_sub(1);
    let mut changed = false;
    for (i, item) in items.iter_mut().enumerate() {
        if (keep_last && i == last) || is_operator(item) {
            continue;
        }
        let Some(folded) = fold_word(item) else {
            continue;
        };
        if let Some(alts) = corrections(searcher, fields, &folded)? {
            *item = format!("({item} OR {})", alts.join(" OR "));
            changed = true;
        }
    }
    Ok(if changed {
        items.join(" ")
    } else {
        text.to_owned()
    })
}

/// Whether any segment has a term in `field`.
fn has_text(searcher: &Searcher, field: tantivy::schema::Field) -> bool {
    searcher.segment_readers().iter().any(|seg| {
        seg.inverted_index(field)
            .map_or(true, |inverted| inverted.terms().num_terms() > 0)
    })
}

/// The words of a query that is one plain word or one group of alternatives `(a OR b …)` of
/// plain words (what a word being typed, or a misspelt one, becomes), else `None`.
fn alternatives(text: &str) -> Option<Vec<&str>> {
    let t = text.trim();
    let inner = t
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(t);
    let mut words = Vec::new();
    for (i, w) in inner.split_whitespace().enumerate() {
        if i % 2 == 1 {
            if w != "OR" {
                return None;
            }
        } else if is_plain(w) {
            words.push(w);
        } else {
            return None;
        }
    }
    // Not empty, and not ending in `OR`.
    (!words.is_empty() && inner.split_whitespace().count() == 2 * words.len() - 1).then_some(words)
}

fn is_plain(w: &str) -> bool {
    !w.is_empty() && w.chars().all(char::is_alphanumeric) && !is_operator(w)
}

/// The words of a query whose score is a sum of term scores: one group of [`alternatives`], or
/// words and groups `(a OR b …)` all required (`bilancio (parte OR partecipativo …)`: a word
/// being typed after others, a typo among them), else `None` (phrases, exclusions, explicit
/// operators, nested groups).
fn summed_words(text: &str) -> Option<Vec<Vec<&str>>> {
    if let Some(words) = alternatives(text) {
        return Some(vec![words]);
    }
    required_groups(text).filter(|groups| !groups.is_empty())
}

/// The words and groups `(a OR b …)` of plain words of `text`, all required; `Some` of none
/// when it has none, `None` when it has anything else.
fn required_groups(text: &str) -> Option<Vec<Vec<&str>>> {
    // Parentheses the user typed stand alone (`tidy`); the groups of completions and
    // corrections are glued to their words.
    let mut tokens = Vec::new();
    for w in text.split_whitespace() {
        let open = w.len() - w.trim_start_matches('(').len();
        let close = w.len() - w.trim_end_matches(')').len();
        if open + close >= w.len() {
            tokens.extend(w.split_inclusive(['(', ')']));
            continue;
        }
        tokens.extend(std::iter::repeat_n("(", open));
        tokens.push(&w[open..w.len() - close]);
        tokens.extend(std::iter::repeat_n(")", close));
    }
    let mut groups = Vec::new();
    let mut tokens = tokens.into_iter();
    while let Some(t) = tokens.next() {
        if t != "(" {
            if !is_plain(t) {
                return None;
            }
            groups.push(vec![t]);
            continue;
        }
        // A group: word (OR word)* `)`.
        let mut group = Vec::new();
        let mut expect_word = true;
        loop {
            match tokens.next()? {
                ")" if !expect_word => break,
                "OR" if !expect_word => expect_word = true,
                w if expect_word && is_plain(w) => {
                    group.push(w);
                    expect_word = false;
                }
                _ => return None,
            }
        }
        groups.push(group);
    }
    Some(groups)
}

/// A query whose score is a sum of term scores (see [`summed_words`]) as one flat union of term
/// queries, one per word and searched field, each boosted like the parser boosts it: tantivy
/// ranks a union of plain terms by block-max WAND (blocks whose best score cannot enter the
/// page are skipped), while the parser's nested unions and intersections (word → fields) are
/// scored match by match. For a record the query matches, the same score (the sum of the same
/// term scores); the union also matches records the query does not, which the caller leaves
/// out. `None` when a word analyses to more than one token in some field (the parser makes a
/// phrase of it) or to none in every field.
fn flat_union(
    searcher: &Searcher,
    groups: &[Summed<'_>],
    searched: &[(tantivy::schema::Field, f32)],
) -> Result<Option<Ranking>, IndexError> {
    let index = searcher.index();
    let mut terms: Vec<RankTerm> = Vec::new();
    // Words of a group that analyse alike in a field (`scuola`, `scuole` → `scuol`, two
    // completions of a word being typed) are one term there, with their boosts added: the
    // same score, its postings read once.
    let mut seen: HashMap<(Term, usize), usize> = HashMap::new();
    let mut add = |term: Term, group: usize, boost: f32| match seen.entry((term.clone(), group)) {
        std::collections::hash_map::Entry::Occupied(at) => terms[*at.get()].boost += boost,
        std::collections::hash_map::Entry::Vacant(at) => {
            at.insert(terms.len());
            terms.push(RankTerm { term, group, boost });
        }
    };
    let words = groups.iter().enumerate().flat_map(|(g, summed)| {
        match summed {
            Summed::Words(words) => words.as_slice(),
            Summed::Terms(_) => &[],
        }
        .iter()
        .map(move |w| (g, *w))
    });
    for &(field, boost) in searched {
        let mut analyzer = index.tokenizer_for_field(field).map_err(engine)?;
        for (group, word) in words.clone() {
            let mut tokens = Vec::with_capacity(1);
            let mut stream = analyzer.token_stream(word);
            while let Some(t) = stream.next() {
                tokens.push(t.text.clone());
            }
            if tokens.len() > 1 {
                return Ok(None);
            }
            for t in tokens {
                add(Term::from_field_text(field, &t), group, boost);
            }
        }
    }
    for (group, summed) in groups.iter().enumerate() {
        if let Summed::Terms(given) = summed {
            for (term, boost) in given {
                add(term.clone(), group, *boost);
            }
        }
    }
    let clauses: Vec<(Occur, Box<dyn Query>)> =
        terms.iter().map(|t| (Occur::Should, t.query())).collect();
    Ok((!clauses.is_empty()).then(|| Ranking {
        query: BooleanQuery::new(clauses),
        terms,
        groups: groups.len(),
    }))
}

/// A query with its phrases' pair terms (see [`pair_phrases`]): its text for the parser, and its
/// required items when its score is their sum.
type Paired<'t> = (String, Option<Vec<Summed<'t>>>);

/// A required word or group of a query whose score is a sum of term scores.
pub(crate) enum Summed<'a> {
    /// Any of these words, searched in every field.
    Words(Vec<&'a str>),
    /// Any of these terms, each with its boost: a phrase's pair terms.
    Terms(Vec<(Term, f32)>),
}

/// A query's text as a flat union of its terms, for ranking by block-max WAND.
pub(crate) struct Ranking {
    /// `Should` clauses only: a term query (boosted where the parser boosts) per term.
    pub query: BooleanQuery,
    /// The union's terms, in the order of its clauses.
    pub terms: Vec<RankTerm>,
    pub groups: usize,
}

impl Ranking {
    /// The query the parser builds from the same text: each word or group required, as the
    /// union of its terms (a group without terms, a stop word, is dropped as the parser drops
    /// it). The same matches and the same scores, summed in another order.
    fn required(&self) -> Box<dyn Query> {
        let mut groups: Vec<Vec<(Occur, Box<dyn Query>)>> = Vec::new();
        groups.resize_with(self.groups, Vec::new);
        for t in &self.terms {
            if let Some(g) = groups.get_mut(t.group) {
                g.push((Occur::Should, t.query()));
            }
        }
        Box::new(BooleanQuery::new(
            groups
                .into_iter()
                .filter(|g| !g.is_empty())
                .map(|g| -> (Occur, Box<dyn Query>) {
                    (Occur::Must, Box::new(BooleanQuery::new(g)))
                })
                .collect(),
        ))
    }
}

/// A term of a [`Ranking`].
pub(crate) struct RankTerm {
    pub term: Term,
    /// The required word or group it stands for: how many records the query and the union can
    /// match.
    pub group: usize,
    /// The boost the parser gives its field, added up over the group's words that are this
    /// term there.
    pub boost: f32,
}

impl RankTerm {
    /// Its term query, boosted as the parser boosts it.
    fn query(&self) -> Box<dyn Query> {
        let term: Box<dyn Query> = Box::new(TermQuery::new(
            self.term.clone(),
            IndexRecordOption::WithFreqs,
        ));
        if self.boost == 1.0 {
            term
        } else {
            Box::new(BoostQuery::new(term, self.boost))
        }
    }
}

/// What an index generation knows of its words, beside its terms.
#[derive(Clone, Copy, Default)]
pub(crate) struct Vocabulary<'a> {
    /// The commonest words, to complete the word being typed (built after each commit).
    pub common: Option<&'a CommonWords>,
    /// The words whose pairs are terms (chosen when the generation was built).
    pub pairs: Option<&'a PairWords>,
}

/// A parsed user query.
pub(crate) struct Parsed {
    pub query: Box<dyn Query>,
    /// The query as written, for highlighting, when `query` searches pair terms instead of
    /// some of its phrases (see [`pair_phrases`]).
    pub highlight: Option<Box<dyn Query>>,
    /// The same scores as a flat union of terms, when the query's score is their sum (see
    /// [`flat_union`]).
    pub union: Option<Ranking>,
}

/// The parsed user query: `None` matches everything.
pub(crate) fn parse(
    searcher: &Searcher,
    fields: &Fields,
    words: Vocabulary<'_>,
    q: Option<&str>,
) -> Result<Option<Parsed>, IndexError> {
    let Some(norm) = q.map(normalize).transpose()?.flatten() else {
        return Ok(None);
    };
    let typing_word = if norm.typing {
        last_word(&norm.text)
    } else {
        None
    };
    let mut text = correct_typos(searcher, fields, &norm.text, typing_word.is_some())?;
    if let Some((_, prefix)) = typing_word {
        // The typed word is still the end of `text` (corrections leave the last word alone).
        if let Some((range, _)) = last_word(&text) {
            let mut alternatives = vec![text[range.clone()].to_owned()];
            alternatives.extend(
                completions(searcher, fields, words.common, &prefix)?
                    .into_iter()
                    .filter(|c| *c != prefix),
            );
            if alternatives.len() == 1 {
                // Nothing starts with it: a misspelt word, perhaps.
                if let Some(alts) = corrections(searcher, fields, &prefix)? {
                    alternatives.extend(alts);
                }
            }
            if alternatives.len() > 1 {
                let group = format!("({})", alternatives.join(" OR "));
                text.replace_range(range, &group);
            }
        }
    }
    let index = searcher.index();
    // A field no record has text in (often the generic language's) adds a scorer per word and
    // segment and finds nothing: left out, unless nothing has text yet.
    let all = fields.searched();
    let with_text: Vec<(tantivy::schema::Field, f32)> = all
        .iter()
        .copied()
        .filter(|(f, _)| has_text(searcher, *f))
        .collect();
    let searched = if with_text.is_empty() { all } else { with_text };
    let mut parser = QueryParser::for_index(index, searched.iter().map(|(f, _)| *f).collect());
    parser.set_conjunction_by_default();
    for &(f, boost) in &searched {
        parser.set_field_boost(f, boost);
    }
    // Only exclusions ("-scuole", or a phrase that analyses to nothing beside one): everything
    // except those, as people mean it, rather than tantivy's "only excluding terms" error.
    let parse = |text: &str| {
        let query = match parser.parse_query(text) {
            Err(QueryParserError::AllButQueryForbidden) => parser.parse_query(&format!("* {text}")),
            other => other,
        };
        query.map(forward_exclusions).map_err(|e| {
            IndexError::query(format!(
                "the query could not be understood ({e}); use words, \"quoted phrases\", \
                 parentheses, AND, OR, NOT and -word to exclude"
            ))
        })
    };
    let paired = match words.pairs {
        Some(pairs) if text.contains('"') => {
            pair_phrases(searcher, fields, pairs, &searched, &text)?
        }
        _ => None,
    };
    let (query, highlight, union) = match paired {
        Some((paired, summed)) => {
            let highlight = parse(&text)?;
            let union = match summed {
                Some(groups) => flat_union(searcher, &groups, &searched)?,
                None => None,
            };
            (parse(&paired)?, Some(highlight), union)
        }
        None => {
            let union = match summed_words(&text) {
                Some(groups) => {
                    let groups: Vec<Summed> = groups.into_iter().map(Summed::Words).collect();
                    flat_union(searcher, &groups, &searched)?
                }
                None => None,
            };
            // A sum of term scores is the parser's query rebuilt from the union's terms,
            // without the parser analysing every word again (a word being typed brings 32).
            let query = match &union {
                Some(union) => union.required(),
                None => parse(&text)?,
            };
            (query, None, union)
        }
    };
    // Nothing searchable left (only stop words, or only punctuation): match everything.
    if query.downcast_ref::<EmptyQuery>().is_some() {
        return Ok(None);
    }
    Ok(Some(Parsed {
        query,
        highlight,
        union,
    }))
}

/// `text` with each quoted phrase of two common words replaced by its pair terms, searched in
/// the pair fields (see the `pairs` module); `None` when no phrase is. In a language where the
/// phrase is not such a pair but could match (a place name in every language's names, say),
/// the phrase is still searched by positions in that language's fields: the records found are
/// exactly the phrase's.
///
/// With it, the rewritten query as required words, groups and phrases when its score is a sum of
/// term scores (see [`summed_words`]): every phrase one or more single pair terms, searched in
/// no field by positions.
fn pair_phrases<'t>(
    searcher: &Searcher,
    fields: &Fields,
    words: &PairWords,
    searched: &[(tantivy::schema::Field, f32)],
    text: &'t str,
) -> Result<Option<Paired<'t>>, IndexError> {
    let mut analyzers = Analyzers::new();
    let schema = searcher.schema();
    let mut out = String::with_capacity(text.len());
    let mut summed = Some(Vec::new());
    let mut replaced = false;
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let Some(len) = rest[open + 1..].find('"') else {
            break;
        };
        let phrase = &rest[open + 1..open + 1 + len];
        out.push_str(&rest[..open]);
        add_required(&mut summed, &rest[..open]);
        match phrase_pairs(searcher, fields, words, searched, &mut analyzers, phrase)? {
            Some((terms, positional)) => {
                let mut clauses: Vec<String> = terms
                    .iter()
                    .flat_map(|t| {
                        [
                            format!("pairs_title:{t}^{TITLE_BOOST}"),
                            format!("pairs_body:{t}"),
                        ]
                    })
                    .collect();
                let single = positional.is_empty() && terms.iter().all(|t| !t.starts_with('"'));
                match summed.as_mut() {
                    Some(s) if single => s.push(Summed::Terms(
                        terms
                            .iter()
                            .flat_map(|t| {
                                [
                                    (Term::from_field_text(fields.pairs_title, t), TITLE_BOOST),
                                    (Term::from_field_text(fields.pairs_body, t), 1.0),
                                ]
                            })
                            .collect(),
                    )),
                    _ => summed = None,
                }
                for (f, boost) in positional {
                    let name = schema.get_field_name(f);
                    clauses.push(format!("{name}:\"{phrase}\"^{boost}"));
                }
                out.push('(');
                out.push_str(&clauses.join(" OR "));
                out.push(')');
                replaced = true;
            }
            None => {
                out.push_str(&rest[open..open + len + 2]);
                summed = None;
            }
        }
        rest = &rest[open + len + 2..];
    }
    out.push_str(rest);
    add_required(&mut summed, rest);
    Ok(replaced.then_some((out, summed)))
}

/// Adds the required words and groups of `between` (text between phrases) to `summed`, or
/// drops it when that text is anything else.
fn add_required<'t>(summed: &mut Option<Vec<Summed<'t>>>, between: &'t str) {
    match required_groups(between) {
        Some(groups) => {
            if let Some(s) = summed.as_mut() {
                s.extend(groups.into_iter().map(Summed::Words));
            }
        }
        None => *summed = None,
    }
}

/// The pair terms a phrase is searched by (a term, or a phrase of pairs, per language where its
/// words are common), and the fields, with their boosts, where it must still be searched by positions;
/// `None` when no language has it as pairs, or a language analyses it to fewer than two words.
#[allow(clippy::type_complexity)]
fn phrase_pairs(
    searcher: &Searcher,
    fields: &Fields,
    words: &PairWords,
    searched: &[(tantivy::schema::Field, f32)],
    analyzers: &mut Analyzers,
    phrase: &str,
) -> Result<Option<(Vec<String>, Vec<(tantivy::schema::Field, f32)>)>, IndexError> {
    let mut terms: Vec<String> = Vec::new();
    let mut positional = Vec::new();
    for g in LangGroup::ALL {
        let group_fields: Vec<(tantivy::schema::Field, f32)> =
            [fields.title, fields.body, fields.extra]
                .map(|f| f.get(g))
                .into_iter()
                .filter_map(|f| searched.iter().find(|(s, _)| *s == f).copied())
                .collect();
        if group_fields.is_empty() {
            continue;
        }
        match words.phrase_in(analyzers, g, phrase) {
            PhraseTerms::Pairs(pairs) => {
                // One pair is a term; more are a phrase of pairs.
                let t = match pairs.as_slice() {
                    [one] => one.clone(),
                    _ => format!("\"{}\"", pairs.join(" ")),
                };
                if !terms.contains(&t) {
                    terms.push(t);
                }
            }
            PhraseTerms::Positions(ws) => {
                // A word no field of this language has: the phrase cannot match here.
                let mut absent = false;
                for w in &ws {
                    let mut df = 0;
                    for (f, _) in &group_fields {
                        df += searcher
                            .doc_freq(&Term::from_field_text(*f, w))
                            .map_err(engine)?;
                    }
                    absent |= df == 0;
                }
                if !absent {
                    positional.extend(group_fields);
                }
            }
            PhraseTerms::Other => return Ok(None),
        }
    }
    Ok((!terms.is_empty()).then_some((terms, positional)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(q: &str) -> Option<String> {
        normalize(q).unwrap().map(|n| n.text)
    }

    #[test]
    fn ordinary_text_is_made_safe() {
        assert_eq!(norm("l'acqua").as_deref(), Some("l acqua"));
        assert_eq!(norm("ore 10:30").as_deref(), Some("ore 10 30"));
        assert_eq!(norm("«bilancio»").as_deref(), Some("\"bilancio\""));
        assert_eq!(norm("a IN b").as_deref(), Some("a in b"));
        assert_eq!(norm("\"a IN b\"").as_deref(), Some("\"a IN b\""));
        assert_eq!(norm("a - b").as_deref(), Some("a b"));
        assert_eq!(norm("--a +-\"b c\"").as_deref(), Some("-a +\"b c\""));
        assert_eq!(norm("x\"b\"").as_deref(), Some("x \"b\""));
        assert_eq!(norm("AND a OR").as_deref(), Some("and a or"));
        assert_eq!(norm("a AND OR b NOT").as_deref(), Some("a AND or b not"));
        assert_eq!(norm("(OR a) NOT b").as_deref(), Some("( or a ) NOT b"));
        assert_eq!(norm("x -(a b)").as_deref(), Some("x -( a b )"));
        assert_eq!(norm("--(a)").as_deref(), Some("-( a )"));
        assert_eq!(norm("a (()) b").as_deref(), Some("a b"));
        assert_eq!(norm("   "), None);
        assert_eq!(norm(""), None);
    }

    #[test]
    fn unbalanced_syntax_is_reported() {
        let msg = |q: &str| match normalize(q) {
            Err(IndexError::Query { message }) => message,
            other => panic!("expected a query error for {q:?}, got {other:?}"),
        };
        assert!(msg("\"bilancio partecipativo").contains("quotes"));
        assert!(msg("(bilancio OR budget").contains("parentheses"));
        assert!(msg("bilancio)").contains("parentheses"));
        assert!(msg(&"a".repeat(513)).contains("512"));
        // Parentheses inside a phrase are just text.
        assert!(normalize("\"a (b\"").is_ok());
        assert!(normalize(&"a".repeat(512)).is_ok());
    }

    #[test]
    fn only_sums_of_plain_words_are_ranked_as_a_union() {
        let sw = summed_words;
        assert_eq!(sw("comune"), Some(vec![vec!["comune"]]));
        assert_eq!(
            sw("(parte OR partecipativo)"),
            Some(vec![vec!["parte", "partecipativo"]])
        );
        assert_eq!(sw("a OR b"), Some(vec![vec!["a", "b"]]));
        assert_eq!(
            sw("bilancio partecipativo"),
            Some(vec![vec!["bilancio"], vec!["partecipativo"]])
        );
        assert_eq!(
            sw("bilancio (parte OR partecipativo) città"),
            Some(vec![
                vec!["bilancio"],
                vec!["parte", "partecipativo"],
                vec!["città"]
            ])
        );
        assert_eq!(sw("( a OR b ) c"), Some(vec![vec!["a", "b"], vec!["c"]]));
        assert_eq!(sw("(a) b"), Some(vec![vec!["a"], vec!["b"]]));
        // Anything whose score is not a sum of required words' terms.
        assert_eq!(sw("a OR b c"), None);
        assert_eq!(sw("a AND b"), None);
        assert_eq!(sw("a -b"), None);
        assert_eq!(sw("a +b"), None);
        assert_eq!(sw("\"a b\" c"), None);
        assert_eq!(sw("( a b ) c"), None);
        assert_eq!(sw("((a OR b)) c"), None);
        assert_eq!(sw("(a OR b"), None);
        assert_eq!(sw("(a OR) b"), None);
        assert_eq!(sw("a NOT b"), None);
        assert_eq!(sw("( )"), None);
    }

    #[test]
    fn last_word_is_found_only_when_it_stands_alone() {
        let lw = |s: &str| last_word(s).map(|(r, p)| (s[r].to_owned(), p));
        assert_eq!(lw("bilan"), Some(("bilan".into(), "bilan".into())));
        assert_eq!(lw("bilancio Parte"), Some(("Parte".into(), "parte".into())));
        assert_eq!(lw("(a OR citt)"), Some(("citt".into(), "citt".into())));
        assert_eq!(lw("Città"), Some(("Città".into(), "citta".into())));
        assert_eq!(lw("bilancio -parte"), None);
        assert_eq!(lw("\"bilancio parte\""), None);
        assert_eq!(lw("a AND"), None);
        assert_eq!(lw("b"), None);
    }
}
