//! Phrases of common words, answered from one term instead of from positions.
//!
//! A phrase query reads the positions of its words in every record that has them all: for
//! `"bilancio partecipativo"` at a million realistic records, 450,000 records have both words
//! and 200,000 the phrase, and reading their positions was most of a 20–60 ms search. The
//! records also get one term per pair of neighbouring words when both are *common* (in at
//! least [`MIN_SHARE`] of the records, like Lucene's common grams): a phrase of two such words
//! is then one term's postings, as cheap as a word, and a longer one a phrase of pairs, whose
//! positions are few to read. A phrase with a rarer word is answered from positions as before,
//! which is cheap because the rarer word's records are few.
//!
//! Three common words next to each other make a phrase of two pairs, whose positions are few
//! only when the three rarely meet. A collocation such as `"trasporto pubblico locale"` is in
//! as many records as its pairs (200,000 of a million realistic records), and reading their
//! positions took 13–17 ms. So the generation also chooses its *common triples*: three common
//! words next to each other in at least [`MIN_TRIPLE_SHARE`] of the records (at most
//! [`MAX_TRIPLES`]). Every record gets a term for each of them it has, in the same fields as the
//! pairs, and such a phrase is one term too. Only the chosen triples are indexed (three at a
//! million realistic records: its planted collocations), so the index and the harvest grow by
//! what those phrases need and no more.
//!
//! The common words are chosen once per index generation, when it is rebuilt: from the index
//! it replaces when that has at least [`SAMPLE`] records (its term lists give every word's
//! record count), else from the rebuild's first [`SAMPLE`] records. They are kept beside the
//! index ([`FILE`]), and every document of the generation has its pairs and triples, so their
//! terms find exactly the records the phrase does. The triples are counted in the records the
//! words are chosen from, or, from an index, in a sample of its records spread over it. A
//! generation created empty (a new installation) has none, and one whose words were chosen
//! from a quarter of its records or fewer (the first records of a store are often a few
//! sources') chooses again, from itself, at the next rebuild (see
//! [`crate::Index::lacks_pair_words`]).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use snodo_model::{LocalizedText, Record};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::Searcher;

use crate::analysed::{self, Analyzers};
use crate::error::IndexError;
use crate::query::walk_terms;
use crate::schema::{Fields, LangGroup};

/// Name of the file, inside an index generation directory, that lists its common words.
pub const FILE: &str = "pair-words";

/// The first line of [`FILE`]: how many records the words were chosen from.
const FROM_HEADER: &str = "# common words of records: ";

/// Records the common words are chosen from; a rebuild of fewer chooses none (phrases over a
/// small index are cheap anyway).
#[cfg(not(test))]
pub const SAMPLE: usize = 10_000;
#[cfg(test)]
pub const SAMPLE: usize = 20;

/// A word is common when at least this share of the sampled records has it.
const MIN_SHARE: f64 = 0.05;

/// A triple of common words is chosen when at least this share of the sampled records has it:
/// below, its pairs' positions are few enough to read.
const MIN_TRIPLE_SHARE: f64 = 0.01;

/// At most this many triples: terms a record can get beside its pairs.
const MAX_TRIPLES: usize = 1_000;

/// The header of [`FILE`]'s triples, which follow the words.
const TRIPLES_HEADER: &str = "# common triples";

/// At most this many common words: a bound on the pairs a record can get.
const MAX_WORDS: usize = 1_000;

/// Two words more than this many positions apart make no pair: a phrase with two stop words
/// in a row inside is answered from positions.
const MAX_GAP: usize = 2;

/// The fewest of `records` a common word is in.
fn common_floor(records: u64) -> u64 {
    ((records as f64) * MIN_SHARE).ceil().max(1.0) as u64
}

/// foldhash rather than SipHash: every word of every record indexed is looked up here.
type Words = HashSet<String, foldhash::fast::RandomState>;

/// The common words of an index generation: terms as the analysers write them.
#[derive(Debug, Default)]
pub(crate) struct PairWords {
    words: Words,
    /// The chosen triples of common words next to each other, as their terms (`a_b_c`).
    triples: Words,
    /// How many records they were chosen from.
    from: u64,
}

/// The term of two words `gap` positions apart: `a_b`, `a__b` with a stop word between. The
/// analysers' terms are letters and digits only, so `_` cannot occur in them.
fn pair(a: &str, gap: usize, b: &str) -> String {
    let mut t = String::with_capacity(a.len() + gap + b.len());
    t.push_str(a);
    t.extend(std::iter::repeat_n('_', gap));
    t.push_str(b);
    t
}

/// The term of three words next to each other: `a_b_c` (a pair's has one or two `_` and two
/// words).
fn triple(a: &str, b: &str, c: &str) -> String {
    let mut t = String::with_capacity(a.len() + b.len() + c.len() + 2);
    push_triple(&mut t, a, b, c);
    t
}

fn push_triple(t: &mut String, a: &str, b: &str, c: &str) {
    t.push_str(a);
    t.push('_');
    t.push_str(b);
    t.push('_');
    t.push_str(c);
}

/// The texts of a record whose pairs go to the body's pair field: the body and the names.
fn body_texts(r: &Record) -> impl Iterator<Item = &LocalizedText> {
    crate::document::body_texts(r).chain(crate::document::name_texts(r))
}

/// The triples of common `words` next to each other in `terms` (a text's analysed terms, with
/// their positions), added to `out`.
fn triples_in(words: &Words, terms: &[(usize, String)], out: &mut HashSet<String>) {
    let terms = flagged(words, terms);
    for i in 0..terms.len() {
        if let Some([a, b, c]) = triple_at(&terms, i) {
            out.insert(triple(a, b, c));
        }
    }
}

/// `terms` (`(position, term)`) each with whether it is one of the common `words`.
fn flagged<'a>(words: &Words, terms: &'a [(usize, String)]) -> Vec<(usize, &'a str, bool)> {
    terms
        .iter()
        .map(|(p, t)| (*p, t.as_str(), words.contains(t.as_str())))
        .collect()
}

/// The three common words starting at `terms[i]` (`(position, term, common)`), when each is
/// next to the one before: the one rule for the triples counted, indexed and searched.
fn triple_at<'a>(terms: &[(usize, &'a str, bool)], i: usize) -> Option<[&'a str; 3]> {
    match terms.get(i..)? {
        [(p, a, true), (q, b, true), (r, c, true), ..] if *q == p + 1 && *r == p + 2 => {
            Some([a, b, c])
        }
        _ => None,
    }
}

/// The [`MAX_TRIPLES`] commonest triples of the texts of `docs` (each a record's texts) in at
/// least [`MIN_TRIPLE_SHARE`] of them.
fn common_triples<'a, D, T>(words: &Words, docs: D, analyzers: &mut Analyzers) -> Words
where
    D: IntoIterator<Item = T>,
    T: IntoIterator<Item = &'a LocalizedText>,
{
    let mut df: HashMap<String, usize> = HashMap::new();
    let mut seen = HashSet::new();
    let mut n = 0usize;
    for texts in docs {
        n += 1;
        for text in texts {
            for (locale, t) in text.iter() {
                let terms = analyzers.terms(LangGroup::of_locale(locale), t);
                triples_in(words, &terms, &mut seen);
            }
        }
        for t in seen.drain() {
            *df.entry(t).or_default() += 1;
        }
    }
    let floor = ((n as f64) * MIN_TRIPLE_SHARE).ceil().max(1.0) as usize;
    let mut common: Vec<(usize, String)> = df
        .into_iter()
        .filter(|(_, k)| *k >= floor)
        .map(|(t, k)| (k, t))
        .collect();
    common.sort_unstable_by(|a, b| b.cmp(a));
    common.truncate(MAX_TRIPLES);
    common.into_iter().map(|(_, t)| t).collect()
}

impl PairWords {
    /// The words in at least [`MIN_SHARE`] of `records` (at most [`MAX_WORDS`], the commonest).
    pub(crate) fn choose(records: &[Record], analyzers: &mut Analyzers) -> PairWords {
        let mut df: HashMap<String, usize> = HashMap::new();
        let mut seen = HashSet::new();
        for r in records {
            seen.clear();
            for text in body_texts(r) {
                for (locale, t) in text.iter() {
                    for (_, term) in analyzers.terms(LangGroup::of_locale(locale), t) {
                        seen.insert(term);
                    }
                }
            }
            for term in seen.drain() {
                *df.entry(term).or_default() += 1;
            }
        }
        let floor = common_floor(records.len() as u64) as usize;
        let common: Vec<(usize, String)> = df
            .into_iter()
            .filter(|(_, n)| *n >= floor)
            .map(|(w, n)| (n, w))
            .collect();
        let mut chosen = PairWords::commonest(common, records.len() as u64);
        chosen.triples = common_triples(&chosen.words, records.iter().map(body_texts), analyzers);
        chosen
    }

    /// The words of at least [`MIN_SHARE`] of an index's records, by the document frequencies
    /// of its body fields' terms (deleted versions counted too: near enough).
    pub(crate) fn from_index(
        searcher: &Searcher,
        fields: &Fields,
        analyzers: &mut Analyzers,
    ) -> Result<PairWords, IndexError> {
        let docs = searcher.num_docs();
        let floor = common_floor(docs);
        let mut df: HashMap<String, u64> = HashMap::new();
        for field in fields.body.all() {
            walk_terms(searcher, field, b"", &mut |key, n| {
                // A word common over the languages together is common in one of them, but
                // for the few split evenly between them.
                if n * 2 >= floor {
                    if let Ok(w) = std::str::from_utf8(key) {
                        *df.entry(w.to_owned()).or_default() += n;
                    }
                }
                true
            })?;
        }
        let common = df
            .into_iter()
            .filter(|(_, n)| *n >= floor)
            .map(|(w, n)| (n as usize, w))
            .collect();
        let mut chosen = PairWords::commonest(common, docs);
        let sample = crate::document::sample_texts(searcher, fields, SAMPLE)?;
        chosen.triples = common_triples(
            &chosen.words,
            sample.iter().map(|texts| texts.iter()),
            analyzers,
        );
        Ok(chosen)
    }

    /// The [`MAX_WORDS`] commonest of `(records, word)`.
    fn commonest(mut common: Vec<(usize, String)>, from: u64) -> PairWords {
        common.sort_unstable_by(|a, b| b.cmp(a));
        common.truncate(MAX_WORDS);
        PairWords {
            words: common.into_iter().map(|(_, w)| w).collect(),
            triples: Words::default(),
            from,
        }
    }

    /// How many records the words were chosen from.
    pub(crate) fn chosen_from(&self) -> u64 {
        self.from
    }

    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }

    /// How many triples were chosen.
    pub(crate) fn triples(&self) -> usize {
        self.triples.len()
    }

    /// The words kept in `dir`, `Ok(None)` when the generation has none.
    pub(crate) fn read(dir: &Path) -> Result<Option<PairWords>, IndexError> {
        let path = dir.join(FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let from = text
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix(FROM_HEADER))
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                // A word's term has no `_`; a triple's has.
                let (triples, words) = text
                    .lines()
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned)
                    .partition(|l| l.contains('_'));
                Ok(Some(PairWords {
                    words,
                    triples,
                    from,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IndexError::io(path, e)),
        }
    }

    /// The words, then the triples, one per line, sorted (so that the file says what it holds
    /// at a glance).
    pub(crate) fn to_file_text(&self) -> String {
        fn sorted(set: &Words) -> Vec<&str> {
            let mut v: Vec<&str> = set.iter().map(String::as_str).collect();
            v.sort_unstable();
            v
        }
        let mut out = format!("{FROM_HEADER}{}\n", self.from);
        for w in sorted(&self.words) {
            out.push_str(w);
            out.push('\n');
        }
        out.push_str(TRIPLES_HEADER);
        out.push('\n');
        for t in sorted(&self.triples) {
            out.push_str(t);
            out.push('\n');
        }
        out
    }

    /// Adds the pair terms of an encoded text (see [`analysed`]) to `pairs`: every two common
    /// words at most [`MAX_GAP`] positions apart, whatever is between them (a phrase with a
    /// stop word inside matches any word there, as it does by positions), at the first word's
    /// position after the texts added before, with a gap, so that no phrase of pairs spans two
    /// texts.
    ///
    /// A chosen triple that starts at a word gets its term at that word's position too.
    pub(crate) fn add(&self, pairs: &mut Pairs, encoded: &str) {
        // Each term looked up once: (position, term, common).
        let terms: Vec<(usize, &str, bool)> = analysed::terms(encoded)
            .map(|(p, t, _)| (p, t, self.words.contains(t)))
            .collect();
        let mut candidate = String::new();
        for (i, &(at, a, common)) in terms.iter().enumerate() {
            if !common {
                continue;
            }
            for &(position, b, b_common) in &terms[i + 1..] {
                let gap = position.saturating_sub(at);
                if gap > MAX_GAP {
                    break;
                }
                if gap >= 1 && b_common {
                    pairs.tokens.push(Token {
                        position: pairs.base + at,
                        text: pair(a, gap, b),
                        ..Token::default()
                    });
                }
            }
            if let Some([a, b, c]) = triple_at(&terms, i).filter(|_| !self.triples.is_empty()) {
                candidate.clear();
                push_triple(&mut candidate, a, b, c);
                if self.triples.contains(candidate.as_str()) {
                    pairs.tokens.push(Token {
                        position: pairs.base + at,
                        text: candidate.clone(),
                        ..Token::default()
                    });
                }
            }
        }
        pairs.base += terms.last().map_or(0, |t| t.0) + MAX_GAP + 2;
    }

    /// How a quoted phrase is searched in language group `g`'s fields.
    pub(crate) fn phrase_in(
        &self,
        analyzers: &mut Analyzers,
        g: LangGroup,
        phrase: &str,
    ) -> PhraseTerms {
        let terms = analyzers.terms(g, phrase);
        if terms.len() < 2 {
            return PhraseTerms::Other;
        }
        let common = terms.iter().all(|(_, w)| self.words.contains(w));
        let gaps: Vec<usize> = terms
            .windows(2)
            .map(|w| w[1].0.saturating_sub(w[0].0))
            .collect();
        // Two words: one pair; more: a phrase of pairs, each next to the previous one, which
        // the pairs' positions can only tell when the words are next to each other.
        let pairs_do = match gaps.as_slice() {
            [gap] => (1..=MAX_GAP).contains(gap),
            _ => gaps.iter().all(|g| *g == 1),
        };
        if terms.len() == 3 {
            if let Some([a, b, c]) = triple_at(&flagged(&self.words, &terms), 0) {
                let t = triple(a, b, c);
                if self.triples.contains(&t) {
                    return PhraseTerms::Pairs(vec![t]);
                }
            }
        }
        if common && pairs_do {
            PhraseTerms::Pairs(
                terms
                    .windows(2)
                    .zip(&gaps)
                    .map(|(w, gap)| pair(&w[0].1, *gap, &w[1].1))
                    .collect(),
            )
        } else {
            PhraseTerms::Positions(terms.into_iter().map(|(_, w)| w).collect())
        }
    }
}

/// The pair terms of a field's texts, built by [`PairWords::add`].
#[derive(Default)]
pub(crate) struct Pairs {
    tokens: Vec<Token>,
    /// Where the next text's positions start.
    base: usize,
}

impl Pairs {
    /// The value of the field: already analysed, its terms at their first words' positions.
    pub(crate) fn into_field(self) -> PreTokenizedString {
        PreTokenizedString {
            text: String::new(),
            tokens: self.tokens,
        }
    }
}

/// A quoted phrase as one language group analyses it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PhraseTerms {
    /// Common words: their pair terms, in order (one for two words), or the term of a chosen
    /// triple.
    Pairs(Vec<String>),
    /// Words not all common, or too far apart: the words, whose positions are needed.
    Positions(Vec<String>),
    /// One word or none: no phrase.
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> PairWords {
        PairWords {
            words: ws.iter().map(|w| (*w).to_owned()).collect(),
            triples: Words::default(),
            from: 0,
        }
    }

    #[test]
    fn pairs_join_neighbouring_common_words_and_count_the_stop_words_between() {
        let mut an = Analyzers::new();
        let p = words(&["bilanc", "partecip", "patt", "collabor"]);
        let mut out = Pairs {
            tokens: Vec::new(),
            base: 100,
        };
        let text = "Il bilancio partecipativo e i patti di collaborazione, bilancio nuovo";
        p.add(&mut out, &an.encode(LangGroup::It, text));
        // The next text's pairs start past this one's last word (position 9), with a gap.
        assert_eq!(out.base, 100 + 9 + MAX_GAP + 2);
        // Like positions, pairs see through stop words and punctuation.
        let pairs: Vec<(usize, &str)> = out.tokens.iter().map(|t| (t.position, &*t.text)).collect();
        assert_eq!(
            pairs,
            [
                (101, "bilanc_partecip"),
                (105, "patt__collabor"),
                (107, "collabor_bilanc")
            ]
        );
        let phrase = |q: &str| p.phrase_in(&mut Analyzers::new(), LangGroup::It, q);
        let strings = |ws: &[&str]| ws.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            phrase("patti di collaborazione"),
            PhraseTerms::Pairs(strings(&["patt__collabor"]))
        );
        assert_eq!(
            phrase("bilancio nuovo"),
            PhraseTerms::Positions(strings(&["bilanc", "nuov"]))
        );
        assert_eq!(
            phrase("bilancio partecipativo patti"),
            PhraseTerms::Pairs(strings(&["bilanc_partecip", "partecip_patt"]))
        );
        // Longer phrases of pairs only when every word is next to the previous one.
        assert_eq!(
            phrase("bilancio partecipativo di patti"),
            PhraseTerms::Positions(strings(&["bilanc", "partecip", "patt"]))
        );
        assert_eq!(phrase("bilancio"), PhraseTerms::Other);
    }

    #[test]
    fn a_chosen_triple_is_a_term_beside_its_pairs_and_its_phrase() {
        let mut an = Analyzers::new();
        let mut p = words(&["trasport", "pubblic", "local", "bilanc"]);
        p.triples.insert(triple("trasport", "pubblic", "local"));
        let mut out = Pairs::default();
        let text = "Il trasporto pubblico locale, bilancio trasporto pubblico e locale";
        p.add(&mut out, &an.encode(LangGroup::It, text));
        let terms: Vec<(usize, &str)> = out.tokens.iter().map(|t| (t.position, &*t.text)).collect();
        // Only where the three are next to each other; "trasporto pubblico e locale" is not.
        assert_eq!(
            terms,
            [
                (1, "trasport_pubblic"),
                (1, "trasport__local"),
                (1, "trasport_pubblic_local"),
                (2, "pubblic_local"),
                (2, "pubblic__bilanc"),
                (3, "local_bilanc"),
                (3, "local__trasport"),
                (4, "bilanc_trasport"),
                (4, "bilanc__pubblic"),
                (5, "trasport_pubblic"),
                (6, "pubblic__local"),
            ]
        );
        let phrase = |q: &str| p.phrase_in(&mut Analyzers::new(), LangGroup::It, q);
        assert_eq!(
            phrase("Trasporto pubblico locale"),
            PhraseTerms::Pairs(vec!["trasport_pubblic_local".to_owned()])
        );
        // Not chosen: a phrase of pairs, as before.
        assert_eq!(
            phrase("bilancio trasporto pubblico"),
            PhraseTerms::Pairs(vec![
                "bilanc_trasport".to_owned(),
                "trasport_pubblic".to_owned()
            ])
        );
    }

    #[test]
    fn common_words_are_those_of_enough_records() {
        let mut an = Analyzers::new();
        let record = |i: usize, text: &str| {
            use snodo_model::{Kind, RecordId};
            let mut r = Record::new(
                RecordId::new("s", Kind::Process, i.to_string()),
                format!("https://s.example.it/{i}"),
                "it",
                LocalizedText::single("it", "titolo"),
            );
            r.description.insert_plain("it", text);
            r
        };
        let mut records: Vec<Record> = (0..100)
            .map(|i| record(i, "bilancio partecipativo della città"))
            .collect();
        records.push(record(100, "parola rarissima"));
        // Three common words next to each other in 2 % of the records: a triple.
        for i in 101..103 {
            records.push(record(i, "città bilancio partecipativo"));
        }
        let p = PairWords::choose(&records, &mut an);
        assert!(p.words.contains("bilanc") && p.words.contains("partecip"));
        assert!(!p.words.contains("rarissim"), "{:?}", p.words);
        let triples: Vec<&str> = p.triples.iter().map(String::as_str).collect();
        assert_eq!(triples, ["citt_bilanc_partecip"]);
        let back = {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(FILE), p.to_file_text()).unwrap();
            PairWords::read(dir.path()).unwrap().unwrap()
        };
        assert_eq!(
            (back.words, back.triples, back.from),
            (p.words, p.triples, 103)
        );
    }
}
