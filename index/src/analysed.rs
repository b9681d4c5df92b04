//! Texts analysed before they reach the index writer.
//!
//! tantivy indexes a commit's documents on one thread per writer, and analysing their texts
//! (splitting, folding, stop words, stemming) was about two fifths of that thread's work: at a
//! million realistic records the thread was the whole catch-up's bottleneck while the thread
//! feeding it mostly waited. So the thread that builds a document analyses its texts
//! ([`Analyzers::encode`]) and hands the writer their terms, separated by spaces, one more space
//! for each position a dropped word (a stop word, an over-long token) left empty. The writer's
//! tokenizers ([`write_tokenizers`]) only split them again, with the same positions. Searches
//! and snippets keep the real analysers (registered on the index itself), so the terms, their
//! positions and the field lengths a score uses are exactly the analysers'. The encoding is
//! smaller than the text, so documents waiting in tantivy's queue cost no more memory.
//!
//! A space never occurs inside a term: `SimpleTokenizer` splits on every character that is not
//! a letter or a digit, and ASCII folding maps none to a space (`⑴` becomes `(1)`; the tests
//! cover symbols that fold to several characters).

use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer, TokenizerManager};

use crate::schema::{analyzer, LangGroup, TOKENIZER_PAIRS};

/// One analyser per language group, built once per batch of documents.
pub(crate) struct Analyzers([TextAnalyzer; 3]);

impl Analyzers {
    pub(crate) fn new() -> Analyzers {
        Analyzers(LangGroup::ALL.map(|g| analyzer(g.stemmer())))
    }

    fn get(&mut self, g: LangGroup) -> &mut TextAnalyzer {
        &mut self.0[g.index()]
    }

    /// The terms of `text` with their positions.
    pub(crate) fn terms(&mut self, g: LangGroup, text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        self.get(g)
            .token_stream(text)
            .process(&mut |t| out.push((t.position, t.text.clone())));
        out
    }

    /// `text` analysed by group `g`'s analyser, encoded for the writer's tokenizers (see the
    /// module's documentation); [`terms`] reads it back.
    pub(crate) fn encode(&mut self, g: LangGroup, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        // The position the decoder is at: each space moves it on by one.
        let mut at = 0;
        let mut first = true;
        self.get(g).token_stream(text).process(&mut |t| {
            let spaces = if first {
                t.position
            } else {
                // Positions only grow; at least one space keeps two terms apart.
                t.position.saturating_sub(at).max(1)
            };
            at += spaces;
            first = false;
            out.extend(std::iter::repeat_n(' ', spaces));
            out.push_str(&t.text);
        });
        out
    }
}

/// The terms of an encoded text with their positions.
pub(crate) fn terms(encoded: &str) -> Terms<'_> {
    Terms {
        text: encoded,
        offset: 0,
        position: 0,
    }
}

/// Iterator of [`terms`].
pub(crate) struct Terms<'a> {
    text: &'a str,
    offset: usize,
    position: usize,
}

impl<'a> Iterator for Terms<'a> {
    /// `(position, term, byte offset of the term)`.
    type Item = (usize, &'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        while bytes.get(self.offset) == Some(&b' ') {
            self.offset += 1;
            self.position += 1;
        }
        if self.offset >= bytes.len() {
            return None;
        }
        let start = self.offset;
        let end = bytes[start..]
            .iter()
            .position(|b| *b == b' ')
            .map_or(bytes.len(), |n| start + n);
        self.offset = end;
        Some((self.position, &self.text[start..end], start))
    }
}

/// The writer's tokenizer for analysed text fields: reads back [`Analyzers::encode`].
#[derive(Clone, Default)]
struct Encoded {
    token: Token,
}

struct EncodedStream<'a> {
    terms: Terms<'a>,
    token: &'a mut Token,
}

impl Tokenizer for Encoded {
    type TokenStream<'a> = EncodedStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> EncodedStream<'a> {
        self.token.reset();
        EncodedStream {
            terms: terms(text),
            token: &mut self.token,
        }
    }
}

impl TokenStream for EncodedStream<'_> {
    fn advance(&mut self) -> bool {
        let Some((position, term, offset)) = self.terms.next() else {
            return false;
        };
        self.token.text.clear();
        self.token.text.push_str(term);
        self.token.position = position;
        self.token.offset_from = offset;
        self.token.offset_to = offset + term.len();
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// The tokenizers of the index writer: every analysed field's reads [`Analyzers::encode`]'s
/// output; the keyword and pair fields' are the index's own.
pub(crate) fn write_tokenizers() -> TokenizerManager {
    let manager = TokenizerManager::default();
    for g in LangGroup::ALL {
        manager.register(g.tokenizer(), TextAnalyzer::from(Encoded::default()));
    }
    manager.register(
        TOKENIZER_PAIRS,
        TextAnalyzer::from(tantivy::tokenizer::WhitespaceTokenizer::default()),
    );
    manager
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Terms with their positions.
    type Positioned = Vec<(usize, String)>;

    /// What the field's own analyser gives, and what the writer reads from the encoding.
    fn both(g: LangGroup, text: &str) -> (Positioned, Positioned) {
        let mut an = Analyzers::new();
        let direct = an.terms(g, text);
        let encoded = an.encode(g, text);
        let mut writer = write_tokenizers().get(g.tokenizer()).unwrap();
        let mut read = Vec::new();
        writer
            .token_stream(&encoded)
            .process(&mut |t| read.push((t.position, t.text.clone())));
        (direct, read)
    }

    #[test]
    fn the_writer_reads_the_analysers_terms_at_their_positions() {
        for (g, text) in [
            (
                LangGroup::It,
                "Il bilancio partecipativo è della città: più   verde, e i patti di collaborazione.",
            ),
            (LangGroup::It, "di e il la"),
            (LangGroup::It, ""),
            (LangGroup::En, "The consultation on the running of schools, and THE budget"),
            (
                LangGroup::Other,
                "Ein Bürgerhaushalt für die Stadt ÆØÅ ½ ⑴ 東京 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa fine",
            ),
            (LangGroup::It, "  e  inizio con parole vuote e finisce con una di"),
        ] {
            let (direct, read) = both(g, text);
            assert_eq!(read, direct, "{g:?} {text:?}");
        }
        // Dropped words leave their positions empty, as the analyser does.
        let (direct, _) = both(LangGroup::It, "il bilancio del comune");
        assert_eq!(direct, [(1, "bilanc".into()), (3, "comun".into())]);
    }

    #[test]
    fn the_encoding_is_the_terms_spaced_by_their_positions() {
        let mut an = Analyzers::new();
        assert_eq!(
            an.encode(LangGroup::It, "Il bilancio del comune"),
            " bilanc  comun"
        );
        let read: Vec<(usize, &str)> = terms(" bilanc  comun").map(|(p, t, _)| (p, t)).collect();
        assert_eq!(read, [(1, "bilanc"), (3, "comun")]);
        assert_eq!(terms("   ").count(), 0);
    }
}
