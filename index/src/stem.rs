//! A stemmer token filter that remembers the stems it computed.
//!
//! Snowball stemming is the costliest step of analysis, and both indexing and snippets (which
//! re-analyse the description of every hit shown) stem the same few thousand words over and
//! over. A per-thread map from word to stem makes a repeat cost one hash lookup. The output is
//! exactly tantivy's `Stemmer`'s: same algorithm, same crate.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use frostem::Algorithm;
use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Languages the analysers stem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StemLanguage {
    Italian,
    English,
}

impl StemLanguage {
    fn algorithm(self) -> Algorithm {
        match self {
            StemLanguage::Italian => Algorithm::Italian,
            StemLanguage::English => Algorithm::English,
        }
    }

    fn slot(self) -> usize {
        match self {
            StemLanguage::Italian => 0,
            StemLanguage::English => 1,
        }
    }
}

/// Words remembered per language and thread; the map is emptied when it is full, which bounds
/// memory (a few MiB) and costs one cold start.
const MAX_CACHED: usize = 50_000;

/// Word → stem. foldhash rather than SipHash: several times faster on short words (SipHash was
/// 0.9 % of a first harvest's CPU), still randomly seeded, so text chosen to collide cannot
/// slow a harvest down.
type StemMap = HashMap<String, String, foldhash::fast::RandomState>;

thread_local! {
    static CACHE: RefCell<[StemMap; 2]> = RefCell::new(Default::default());
}

/// [`TokenFilter`] replacing each token by its stem.
#[derive(Clone, Copy, Debug)]
pub struct CachedStemmer(pub StemLanguage);

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter {
            language: self.0,
            inner: tokenizer,
        }
    }
}

#[derive(Clone)]
pub struct CachedStemmerFilter<T> {
    language: StemLanguage,
    inner: T,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream {
            tail: self.inner.token_stream(text),
            language: self.language,
            stemmer: frostem::Stemmer::new(self.language.algorithm()),
        }
    }
}

pub struct CachedStemmerStream<T> {
    tail: T,
    language: StemLanguage,
    stemmer: frostem::Stemmer,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if token.text.is_empty() {
            // Nothing to stem.
            return true;
        }
        let slot = self.language.slot();
        CACHE.with_borrow_mut(|caches| {
            let cache = &mut caches[slot];
            if let Some(stem) = cache.get(token.text.as_str()) {
                if *stem != token.text {
                    token.text.clear();
                    token.text.push_str(stem);
                }
                return;
            }
            let stem = match self.stemmer.stem(&token.text) {
                Cow::Owned(s) => s,
                Cow::Borrowed(s) => s.to_owned(),
            };
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            let word = std::mem::replace(&mut token.text, stem);
            cache.insert(word, token.text.clone());
        });
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::{Language, SimpleTokenizer, Stemmer, TextAnalyzer};

    use super::*;

    fn tokens(mut a: TextAnalyzer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = a.token_stream(text);
        while let Some(t) = s.next() {
            out.push(t.text.clone());
        }
        out
    }

    #[test]
    fn same_stems_as_tantivy_cold_and_warm() {
        let text = "partecipazione partecipativo bilanci bilancio città cittadini \
                    consultations consulting running runs proposte proposta";
        for (ours, theirs) in [
            (StemLanguage::Italian, Language::Italian),
            (StemLanguage::English, Language::English),
        ] {
            let reference = tokens(
                TextAnalyzer::builder(SimpleTokenizer::default())
                    .filter(Stemmer::new(theirs))
                    .build(),
                text,
            );
            for _ in 0..2 {
                let cached = tokens(
                    TextAnalyzer::builder(SimpleTokenizer::default())
                        .filter(CachedStemmer(ours))
                        .build(),
                    text,
                );
                assert_eq!(cached, reference, "{ours:?}");
            }
        }
    }
}
