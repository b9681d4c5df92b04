//! The index schema and the text analysis, built in one place with a version number.
//!
//! Bump [`SCHEMA_VERSION`] whenever anything here changes how documents are indexed (fields,
//! options, tokenizers, stop words): an index written with another version is detected on open and
//! rebuilt from the store.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, STORED,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter,
    TextAnalyzer, TextAnalyzerBuilder, Tokenizer, TokenizerManager,
};

use crate::stem::{CachedStemmer, StemLanguage};

/// Version of the schema and analysis. Stored next to the index in [`VERSION_FILE`].
pub const SCHEMA_VERSION: u32 = 10;

/// Bytes of stored documents compressed together. A hit reads its whole block: with tantivy's
/// 16 KB default, three or four records of realistic length were decompressed for each of the
/// twenty hits of a page; at 4 KB a block holds about one record.
const DOCSTORE_BLOCK_BYTES: usize = 4096;

/// The settings every index generation is created with.
pub fn index_settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        ..Default::default()
    }
}

/// Name of the file, inside each index generation directory, that holds [`SCHEMA_VERSION`].
pub const VERSION_FILE: &str = "snodo-index-version";

/// Tokenizer names registered on every index.
pub const TOKENIZER_IT: &str = "it";
pub const TOKENIZER_EN: &str = "en";
pub const TOKENIZER_GENERIC: &str = "generic";
/// Pair terms (see the `pairs` module), written already analysed and separated by spaces.
pub const TOKENIZER_PAIRS: &str = "pairs";

/// Tokens longer than this many bytes are dropped (base64 blobs, URLs glued together).
const MAX_TOKEN_LEN: usize = 40;

/// Which analysed field family a locale's text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LangGroup {
    It,
    En,
    Other,
}

impl LangGroup {
    pub const ALL: [LangGroup; 3] = [LangGroup::It, LangGroup::En, LangGroup::Other];

    /// `"it"`, `"it-CH"` → Italian; `"en"`, `"en-GB"` → English; anything else → generic.
    pub fn of_locale(locale: &str) -> LangGroup {
        let lang = locale.split(['-', '_']).next().unwrap_or_default();
        if lang.eq_ignore_ascii_case("it") {
            LangGroup::It
        } else if lang.eq_ignore_ascii_case("en") {
            LangGroup::En
        } else {
            LangGroup::Other
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            LangGroup::It => "it",
            LangGroup::En => "en",
            LangGroup::Other => "other",
        }
    }

    /// The stemmer of the group's analyser.
    pub fn stemmer(self) -> Option<StemLanguage> {
        match self {
            LangGroup::It => Some(StemLanguage::Italian),
            LangGroup::En => Some(StemLanguage::English),
            LangGroup::Other => None,
        }
    }

    pub(crate) fn tokenizer(self) -> &'static str {
        match self {
            LangGroup::It => TOKENIZER_IT,
            LangGroup::En => TOKENIZER_EN,
            LangGroup::Other => TOKENIZER_GENERIC,
        }
    }

    /// Its place in [`LangGroup::ALL`] (and in a [`PerLang`]).
    pub(crate) fn index(self) -> usize {
        match self {
            LangGroup::It => 0,
            LangGroup::En => 1,
            LangGroup::Other => 2,
        }
    }
}

/// One analysed text field per language group.
#[derive(Debug, Clone, Copy)]
pub struct PerLang([Field; 3]);

impl PerLang {
    pub fn get(&self, g: LangGroup) -> Field {
        self.0[g.index()]
    }

    pub fn all(&self) -> [Field; 3] {
        self.0
    }
}

/// How much more a word counts in a title than in the rest of a record.
pub const TITLE_BOOST: f32 = 2.0;

/// Handles to every field of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    /// The record id (`source:kind:upstream_id`), untokenized: the delete term of an upsert.
    pub id: Field,
    /// Exact-match filters and facets (fast string columns).
    pub kind: Field,
    pub source: Field,
    pub region: Field,
    /// Where the record is, for place filters: `c:{comune}`, `p:{province}`, `r:{region}` for
    /// every level it lies within, and `at:…` for its finest level (`at:c:…`, `at:p:…`,
    /// `at:r:…`, `at:it` for national), so "records above this place" is a term too.
    pub place: Field,
    /// The record's province and comune codes (fast string columns), for the map's counts.
    pub province: Field,
    pub comune: Field,
    /// How people take part ([`snodo_model::METHODS`]).
    pub method: Field,
    /// National topics (theme codes), for the filter.
    pub topic: Field,
    /// The same as a bitmask (bit i = `THEMES[i]`), the value the topic facet reads per match.
    pub themes: Field,
    /// Days (`num_days_from_ce`) with sentinels: start missing = `i64::MIN`, end missing = `i64::MAX`.
    pub start_day: Field,
    pub end_day: Field,
    /// The later of start date and publication date, `i64::MIN` when neither is known.
    pub newest_day: Field,
    /// Kind, region, start and end packed in one dense column (see the `packed` module): the
    /// one value facets and ranking read per match.
    pub facets: Field,
    /// A stable hash of the id: the last tie-breaker, so equal keys sort the same way in any
    /// index (incremental or rebuilt), independent of internal doc ids.
    pub tie: Field,
    pub title: PerLang,
    /// Title, subtitle, summary and description together: one posting list per word and
    /// language instead of four, which is what a search walks for every match. The title has
    /// its own field too, for its boost.
    pub body: PerLang,
    /// Names around the record: promoter, group, topics, scope, region and comune names, methods;
    /// per language like the other texts, so that every searched field gets the same analysis
    /// (`partecipazioni` finds a promoter called "Ufficio partecipazione").
    pub extra: PerLang,
    /// The words of the record's titles, summaries and names, folded but not stemmed: only its
    /// term dictionary is used, to complete the last word typed (search-as-you-type) and to
    /// correct typos. Not the descriptions: they are four fifths of the text, and indexing them
    /// twice took a quarter of a first harvest's time; the completions and corrections worth
    /// offering (the most frequent words) are in titles and summaries too.
    pub words: Field,
    /// Pairs of neighbouring common words of the titles, and of the body and names (see the
    /// `pairs` module): a phrase of two common words is one term here, a longer one a phrase of
    /// pairs (each at its first word's position).
    pub pairs_title: Field,
    pub pairs_body: Field,
    /// JSON of the display data ([`crate::document::Display`]).
    pub display: Field,
}

impl Fields {
    /// All fields the query parser searches, with their boosts.
    pub fn searched(&self) -> Vec<(Field, f32)> {
        let mut v = Vec::new();
        for (fields, boost) in [(self.title, TITLE_BOOST), (self.body, 1.0)] {
            for f in fields.all() {
                v.push((f, boost));
            }
        }
        for f in self.extra.all() {
            v.push((f, 1.0));
        }
        v
    }
}

fn analysed(tokenizer: &str, positions: bool) -> TextOptions {
    let option = if positions {
        IndexRecordOption::WithFreqsAndPositions
    } else {
        IndexRecordOption::Basic
    };
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(option)
            .set_fieldnorms(positions),
    )
}

/// An exact-match filter field; `fast` when a collector also reads its values.
fn keyword(fast: bool) -> TextOptions {
    let o = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    );
    if fast {
        o.set_fast("raw")
    } else {
        o
    }
}

/// Builds the schema. The only place fields are declared.
pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let id = b.add_text_field(
        "id",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        ),
    );
    // Kind and region are read from `facets`; a region that is not an ISTAT code (never written
    // by the model, kept for safety) is read from its own column.
    let kind = b.add_text_field("kind", keyword(false));
    let source = b.add_text_field("source", keyword(true));
    let region = b.add_text_field("region", keyword(true));
    let place = b.add_text_field("place", keyword(false));
    let province = b.add_text_field("province", keyword(true));
    let comune = b.add_text_field("comune", keyword(true));
    let method = b.add_text_field("method", keyword(false));
    let topic = b.add_text_field("topic", keyword(false));
    let themes = b.add_u64_field("themes", NumericOptions::default().set_fast());
    let day = NumericOptions::default().set_fast();
    let start_day = b.add_i64_field("start_day", day.clone());
    let end_day = b.add_i64_field("end_day", day.clone());
    let newest_day = b.add_i64_field("newest_day", day);
    let facets = b.add_u64_field("facets", NumericOptions::default().set_fast());
    let tie = b.add_u64_field("tie", NumericOptions::default().set_fast());
    let mut per_lang = |name: &str| {
        PerLang(LangGroup::ALL.map(|g| {
            b.add_text_field(
                &format!("{name}_{}", g.suffix()),
                analysed(g.tokenizer(), true),
            )
        }))
    };
    let title = per_lang("title");
    let body = per_lang("body");
    let extra = per_lang("extra");
    let words = b.add_text_field("words", analysed(TOKENIZER_GENERIC, false));
    let pairs = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER_PAIRS)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
            .set_fieldnorms(true),
    );
    let pairs_title = b.add_text_field("pairs_title", pairs.clone());
    let pairs_body = b.add_text_field("pairs_body", pairs);
    let display = b.add_text_field("display", STORED);
    let fields = Fields {
        id,
        kind,
        source,
        region,
        place,
        province,
        comune,
        method,
        topic,
        themes,
        start_day,
        end_day,
        newest_day,
        facets,
        tie,
        title,
        body,
        extra,
        words,
        pairs_title,
        pairs_body,
        display,
    };
    (b.build(), fields)
}

/// Looks up the fields of [`build_schema`] in a schema (for an index opened from disk).
pub fn fields_of(schema: &Schema) -> Option<Fields> {
    let (expected, fields) = build_schema();
    (expected == *schema).then_some(fields)
}

/// Registers the analysers every text field uses. Must run on each opened or created index.
pub fn register_tokenizers(manager: &TokenizerManager) {
    for g in LangGroup::ALL {
        manager.register(g.tokenizer(), analyzer(g.stemmer()));
    }
    manager.register(
        TOKENIZER_PAIRS,
        TextAnalyzer::from(tantivy::tokenizer::WhitespaceTokenizer::default()),
    );
}

/// `SimpleTokenizer → RemoveLongFilter(40) → LowerCaser → AsciiFoldingFilter → stop words →
/// Stemmer(language)`; without a language, the same chain with no stemmer.
///
/// Every analyser removes the same stop words (Italian and English, folded): a word dropped by one
/// field's analyser but kept by another would otherwise have to match in that other field, and a
/// conjunctive query like `bilancio del comune` would miss Italian records.
pub fn analyzer(stem: Option<StemLanguage>) -> TextAnalyzer {
    match stem {
        Some(lang) => unstemmed().filter(CachedStemmer(lang)).build(),
        None => unstemmed().build(),
    }
}

/// Every analyser's chain up to the stemmer.
fn unstemmed() -> TextAnalyzerBuilder<impl Tokenizer> {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(STOP_WORD_FILTER.clone())
}

/// Built once: the filter holds its words behind an `Arc`.
static STOP_WORD_FILTER: LazyLock<StopWordFilter> =
    LazyLock::new(|| StopWordFilter::remove(stop_words()));

/// Lower case and ASCII folding only: the shape of the `words` field's terms, for matching the
/// word being typed against them (stop words kept: `la` may start `lavoro`).
pub fn fold_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Folded Italian stop words that are also common content words once the accent is gone
/// (`farò` → `faro`, `sarà` → `sara`, `farà` → `fara` as in Fara in Sabina): keep them searchable.
const FOLDED_COLLISIONS: &[&str] = &["faro", "sara", "fara"];

/// The stop words of every analyser: Snowball's Italian list and Lucene's English list, folded
/// the way tokens are (`più` → `piu`, `è` → `e`), so that accented and unaccented forms behave
/// the same.
pub fn stop_words() -> Vec<String> {
    let mut fold = fold_analyzer();
    let mut out = BTreeSet::new();
    for w in ITALIAN_STOP_WORDS.iter().chain(ENGLISH_STOP_WORDS) {
        let mut stream = fold.token_stream(w);
        while let Some(tok) = stream.next() {
            if !FOLDED_COLLISIONS.contains(&tok.text.as_str()) {
                out.insert(tok.text.clone());
            }
        }
    }
    out.into_iter().collect()
}

/// Lucene's English stop words (the list tantivy uses for English).
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Snowball's Italian stop words (BSD licence), as shipped by tantivy.
#[rustfmt::skip]
const ITALIAN_STOP_WORDS: &[&str] = &[
    "ad", "al", "allo", "ai", "agli", "all", "agl", "alla", "alle", "con", "col", "coi", "da", "dal",
    "dallo", "dai", "dagli", "dall", "dagl", "dalla", "dalle", "di", "del", "dello", "dei", "degli",
    "dell", "degl", "della", "delle", "in", "nel", "nello", "nei", "negli", "nell", "negl", "nella",
    "nelle", "su", "sul", "sullo", "sui", "sugli", "sull", "sugl", "sulla", "sulle", "per", "tra",
    "contro", "io", "tu", "lui", "lei", "noi", "voi", "loro", "mio", "mia", "miei", "mie", "tuo",
    "tua", "tuoi", "tue", "suo", "sua", "suoi", "sue", "nostro", "nostra", "nostri", "nostre",
    "vostro", "vostra", "vostri", "vostre", "mi", "ti", "ci", "vi", "lo", "la", "li", "le", "gli",
    "ne", "il", "un", "uno", "una", "ma", "ed", "se", "perché", "anche", "come", "dov", "dove",
    "che", "chi", "cui", "non", "più", "quale", "quanto", "quanti", "quanta", "quante", "quello",
    "quelli", "quella", "quelle", "questo", "questi", "questa", "queste", "si", "tutto", "tutti",
    "a", "c", "e", "i", "l", "o", "ho", "hai", "ha", "abbiamo", "avete", "hanno", "abbia",
    "abbiate", "abbiano", "avrò", "avrai", "avrà", "avremo", "avrete", "avranno", "avrei",
    "avresti", "avrebbe", "avremmo", "avreste", "avrebbero", "avevo", "avevi", "aveva", "avevamo",
    "avevate", "avevano", "ebbi", "avesti", "ebbe", "avemmo", "aveste", "ebbero", "avessi",
    "avesse", "avessimo", "avessero", "avendo", "avuto", "avuta", "avuti", "avute", "sono", "sei",
    "è", "siamo", "siete", "sia", "siate", "siano", "sarò", "sarai", "sarà", "saremo", "sarete",
    "saranno", "sarei", "saresti", "sarebbe", "saremmo", "sareste", "sarebbero", "ero", "eri",
    "era", "eravamo", "eravate", "erano", "fui", "fosti", "fu", "fummo", "foste", "furono", "fossi",
    "fosse", "fossimo", "fossero", "essendo", "faccio", "fai", "facciamo", "fanno", "faccia",
    "facciate", "facciano", "farò", "farai", "farà", "faremo", "farete", "faranno", "farei",
    "faresti", "farebbe", "faremmo", "fareste", "farebbero", "facevo", "facevi", "faceva",
    "facevamo", "facevate", "facevano", "feci", "facesti", "fece", "facemmo", "faceste", "fecero",
    "facessi", "facesse", "facessimo", "facessero", "facendo", "sto", "stai", "sta", "stiamo",
    "stanno", "stia", "stiate", "stiano", "starò", "starai", "starà", "staremo", "starete",
    "staranno", "starei", "staresti", "starebbe", "staremmo", "stareste", "starebbero", "stavo",
    "stavi", "stava", "stavamo", "stavate", "stavano", "stetti", "stesti", "stette", "stemmo",
    "steste", "stettero", "stessi", "stesse", "stessimo", "stessero", "stando",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(a: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = a.token_stream(text);
        while let Some(t) = s.next() {
            out.push(t.text.clone());
        }
        out
    }

    #[test]
    fn italian_chain_folds_stems_and_drops_stop_words() {
        let mut it = analyzer(Some(StemLanguage::Italian));
        assert_eq!(tokens(&mut it, "Città"), tokens(&mut it, "citta"));
        assert_eq!(
            tokens(&mut it, "partecipazione"),
            tokens(&mut it, "partecipazioni")
        );
        assert_eq!(
            tokens(&mut it, "partecipativo"),
            tokens(&mut it, "partecipativa")
        );
        // Stop words go in accented and unaccented form alike.
        assert!(tokens(&mut it, "più piu è e della Più").is_empty());
        assert_eq!(tokens(&mut it, "il bilancio").len(), 1);
        // Long tokens are dropped.
        assert!(tokens(&mut it, &"x".repeat(41)).is_empty());
    }

    #[test]
    fn english_chain_stems() {
        let mut en = analyzer(Some(StemLanguage::English));
        assert_eq!(tokens(&mut en, "budgets"), vec!["budget"]);
        assert_eq!(tokens(&mut en, "budgeting"), vec!["budget"]);
        assert!(tokens(&mut en, "the of").is_empty());
    }

    #[test]
    fn generic_chain_folds_without_stemming() {
        let mut g = analyzer(None);
        assert_eq!(
            tokens(&mut g, "Bürgerhaushalt Pressupostos"),
            vec!["burgerhaushalt", "pressupostos"]
        );
    }

    #[test]
    fn folded_collisions_stay_searchable() {
        let words = stop_words();
        assert!(words.contains(&"piu".to_owned()));
        assert!(words.contains(&"perche".to_owned()));
        assert!(!words.contains(&"sara".to_owned()));
        assert!(!words.contains(&"fara".to_owned()));
    }

    #[test]
    fn locale_groups() {
        assert_eq!(LangGroup::of_locale("it"), LangGroup::It);
        assert_eq!(LangGroup::of_locale("en-GB"), LangGroup::En);
        assert_eq!(LangGroup::of_locale("de"), LangGroup::Other);
        assert_eq!(LangGroup::of_locale("ca"), LangGroup::Other);
    }

    #[test]
    fn schema_round_trips_through_fields_of() {
        let (schema, _) = build_schema();
        assert!(fields_of(&schema).is_some());
    }
}
