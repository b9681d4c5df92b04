//! The query set: what citizens type into a participation search box, in classes.
//!
//! Every query asks for the first 10 hits with facets (kind, status, region, source over all
//! matches) and snippets — the work the API does for the widget. The set is deterministic from
//! the corpus seed and size (labelled queries point at records of the corpus).

use snodo_model::{Kind, Status};

use crate::corpus::{self, Rng};

/// Query classes, reported separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Word,
    /// A word of the long tail, found in a few dozen records.
    Rare,
    TwoWords,
    ThreeWords,
    Phrase,
    Accents,
    Typo,
    Prefix,
    Filtered,
    English,
    /// A record's title as typed, with a known expected record (result quality).
    Labelled,
}

impl Class {
    pub const ALL: [Class; 11] = [
        Class::Word,
        Class::Rare,
        Class::TwoWords,
        Class::ThreeWords,
        Class::Phrase,
        Class::Accents,
        Class::Typo,
        Class::Prefix,
        Class::Filtered,
        Class::English,
        Class::Labelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Word => "word",
            Class::Rare => "rare word",
            Class::TwoWords => "two words",
            Class::ThreeWords => "three words",
            Class::Phrase => "phrase",
            Class::Accents => "accents",
            Class::Typo => "typo",
            Class::Prefix => "prefix (typing)",
            Class::Filtered => "filtered",
            Class::English => "english",
            Class::Labelled => "labelled title",
        }
    }
}

/// Result order asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Relevance,
    Newest,
    Closing,
}

#[derive(Debug, Clone)]
pub struct BenchQuery {
    pub class: Class,
    /// What the user typed. For [`Class::Prefix`] the last word is still being typed.
    pub text: String,
    pub kind: Option<Kind>,
    pub status: Option<Status>,
    pub region: Option<String>,
    pub order: Order,
    /// For labelled queries: the title of the expected record (any record with this exact title
    /// in the top 3 counts as found: generated titles can repeat).
    pub expect_title: Option<String>,
    /// The last word is still being typed (search-as-you-type): prefix classes and half-typed
    /// labelled titles.
    pub typing: bool,
}

/// Page size of every query.
pub const PAGE: usize = 10;

/// One part of a query as the SQL engines see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Word(String),
    Phrase(Vec<String>),
    Prefix(String),
}

impl BenchQuery {
    /// A finished query (ends in a space: nothing completed), ranked by relevance, unfiltered.
    pub fn words(text: impl Into<String>) -> BenchQuery {
        BenchQuery::new(Class::Word, text)
    }

    /// The text as a user sends it: without trailing whitespace, its last word is being typed
    /// (and completed); with it, every word is finished.
    pub fn as_sent(text: &str) -> BenchQuery {
        let mut q = BenchQuery::new(Class::Word, text.trim_end());
        q.typing = !text.ends_with(char::is_whitespace);
        q
    }

    fn new(class: Class, text: impl Into<String>) -> BenchQuery {
        BenchQuery {
            class,
            text: text.into(),
            kind: None,
            status: None,
            region: None,
            order: Order::Relevance,
            expect_title: None,
            typing: class == Class::Prefix,
        }
    }

    /// Whether the last word is being typed (search-as-you-type).
    pub fn typing(&self) -> bool {
        self.typing
    }

    /// The words and phrases, lower-cased, split on anything that is not a letter or digit.
    pub fn parts(&self) -> Vec<Part> {
        let mut out = Vec::new();
        for (i, chunk) in self.text.split('"').enumerate() {
            let words: Vec<String> = chunk
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            if i % 2 == 1 {
                if !words.is_empty() {
                    out.push(Part::Phrase(words));
                }
            } else {
                out.extend(words.into_iter().map(Part::Word));
            }
        }
        if self.typing() {
            if let Some(Part::Word(w)) = out.last().cloned() {
                out.pop();
                out.push(Part::Prefix(w));
            }
        }
        out
    }

    /// The query string Snodo's API gets: a finished query ends with a space (no completion),
    /// a query being typed does not.
    pub fn snodo_q(&self) -> String {
        if self.typing() {
            self.text.clone()
        } else {
            format!("{} ", self.text)
        }
    }
}

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "bilancio", "partecipativo", "ciclabili", "mobilità", "consultazione", "assemblea", "quartiere",
    "scolastica", "verde", "clima", "regolamento", "rifiuti", "biblioteche", "giovani", "energia",
    "rigenerazione", "periferie", "sport", "welfare", "disabilità", "turismo", "acqua", "alberi",
    "illuminazione", "Bologna", "Milano", "Olbia", "Librino", "fontanelle", "basket", "forestazione",
    "wifi", "garante", "questionario", "laboratorio", "sabato", "trasparenza", "lungomare",
];

#[rustfmt::skip]
const TWO: &[&str] = &[
    "bilancio partecipativo", "piste ciclabili", "verde pubblico", "qualità aria", "centro storico",
    "politiche giovanili", "edilizia scolastica", "mense scolastiche", "beni comuni", "patti collaborazione",
    "trasporto pubblico", "sicurezza urbana", "rigenerazione urbana", "consultazione pubblica",
    "assemblea cittadina", "comunità energetiche", "orti urbani", "area gioco", "casa abitare",
    "acqua pubblica", "bilancio Torino", "ciclabile Bari", "verde Firenze", "giovani Napoli",
    "consulta giovani", "consiglio quartiere", "turismo sostenibile", "invecchiamento attivo",
    "parità genere", "agenda 2030",
];

#[rustfmt::skip]
const THREE: &[&str] = &[
    "bilancio partecipativo Bologna", "piano urbanistico generale", "piste ciclabili Milano",
    "zone 30 scuole", "raccolta differenziata rifiuti", "adattamento cambiamenti climatici",
    "comunità energetiche rinnovabili", "consultazione pubblica regolamento", "assemblea cittadina clima",
    "laboratorio co progettazione quartiere", "mobilità sostenibile Torino", "verde pubblico Roma",
    "biblioteche cultura Firenze", "trasporto pubblico locale", "case della comunità",
    "pedonalizzazione della piazza", "programma triennale opere", "lingua dei segni",
    "passeggiata di quartiere", "politiche abitative Genova",
];

#[rustfmt::skip]
const PHRASES: &[&str] = &[
    "\"bilancio partecipativo\"", "\"piste ciclabili\"", "\"verde pubblico\"", "\"assemblea cittadina\"",
    "\"consultazione pubblica\"", "\"centro storico\"", "\"beni comuni urbani\"", "\"patti di collaborazione\"",
    "\"zone 30\"", "\"aree gioco inclusive\"", "\"trasporto pubblico locale\"", "\"comunità energetica\"",
    "\"qualità dell'aria\"", "\"consulta dei giovani\"", "\"consiglio di quartiere\"", "\"agenda 2030\"",
    "\"garante della partecipazione\"", "\"piano urbanistico generale\"", "\"area gioco\" Bari",
    "\"bilancio partecipativo\" Milano",
];

#[rustfmt::skip]
const ACCENTS: &[&str] = &[
    "mobilità", "mobilita", "qualità", "qualita", "comunità", "comunita", "città", "citta",
    "disabilità", "disabilita", "parità", "parita", "Forlì", "Forli", "attività", "attivita",
    "sostenibilità", "sostenibilita", "opportunità", "opportunita", "mobilità sostenibile",
    "mobilita sostenibile",
];

#[rustfmt::skip]
const TYPOS: &[&str] = &[
    "bilanco", "partecipatvo", "ciclabbili", "consultazzione", "assembela", "quartire", "regolamneto",
    "rigenerazone", "biblioteche culturra", "mobilità sostenbile", "illuminazone pubblica", "ambente",
    "partecipazone", "bilancio partecipatvio", "forestazone urbana", "invecchimento attivo",
    "inclusone disabilità", "questionaro", "trasparenzza", "energetiche rinnovabilli",
];

#[rustfmt::skip]
const PREFIXES: &[&str] = &[
    "bi", "bil", "bila", "bilancio part", "mob", "mobilità sos", "cicl", "piste cic", "cons", "consulta",
    "assem", "assemblea citt", "quart", "verde pub", "rig", "rigenerazione urb", "scu", "gio", "giovani",
    "ener", "comunità ener", "bib", "tur", "acq", "Bolo", "Mil", "Nap", "parte", "co-prog", "pedon",
];

#[rustfmt::skip]
const ENGLISH: &[&str] = &[
    "participatory budgeting", "cycle lanes", "public consultation", "citizens assembly", "air quality",
    "urban regeneration", "youth policies", "energy communities", "public transport", "climate change",
    "community gardens", "street lighting", "housing", "libraries", "proposal playground",
];

const FILTER_WORDS: &[&str] = &[
    "bilancio",
    "ciclabili",
    "verde",
    "consultazione",
    "giovani",
    "quartiere",
    "clima",
    "scuola",
    "energia",
    "mobilità",
];

/// Introduces a one-letter typo (swap, drop or double) into one word of 6+ letters.
fn typo(rng: &mut Rng, text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].chars().count() >= 6 && words[i].chars().all(char::is_alphabetic))
        .collect();
    let Some(&w) = long.get(rng.below(long.len().max(1))) else {
        return text.to_owned();
    };
    let mut chars: Vec<char> = words[w].chars().collect();
    let at = 1 + rng.below(chars.len() - 2);
    match rng.below(3) {
        0 => chars.swap(at, at + 1),
        1 => {
            chars.remove(at);
        }
        _ => chars.insert(at, chars[at]),
    }
    let mut out: Vec<String> = words.iter().map(|s| (*s).to_owned()).collect();
    out[w] = chars.into_iter().collect();
    out.join(" ")
}

/// The whole set for a corpus of `n` records of `seed`: 260 queries, or the first `limit`
/// (taken evenly over the classes) when `limit` is smaller.
pub fn build(seed: u64, n: u64, limit: usize) -> Vec<BenchQuery> {
    let mut rng = Rng::new(seed ^ 0x5155_4552_5953);
    let mut v = Vec::new();
    if corpus::profile() == corpus::Profile::Realistic {
        v = realistic(&mut rng, n);
    } else {
        template(&mut v, &mut rng);
    }
    labelled(&mut v, &mut rng, seed, n);
    if limit < v.len() {
        // Evenly over the list, so every class stays represented.
        let step = v.len() as f64 / limit.max(1) as f64;
        v = (0..limit)
            .map(|k| v[((k as f64) * step) as usize].clone())
            .collect();
    }
    v
}

/// The realistic corpus's citizen queries: common words, rare words (a few dozen hits), two and
/// three words, phrases, unaccented forms, typos, prefixes being typed, English; every other one
/// filtered by status, region or kind.
fn realistic(rng: &mut Rng, n: u64) -> Vec<BenchQuery> {
    use crate::realistic::{COLLOCATIONS, ITALIAN};
    let words = &ITALIAN.words;
    let head = |rng: &mut Rng, top: usize| words[rng.below(top)].clone();
    let mut v = Vec::new();
    for _ in 0..40 {
        v.push(BenchQuery::new(Class::Word, head(rng, 60)));
    }
    // Rare: ranks whose expected number of records is 19–61 at this size (≈360 words per
    // record, 85 % Italian, 53 % of the words drawn from the content vocabulary).
    let tokens = 360.0 * 0.85 * 0.53;
    let rare: Vec<usize> = (0..words.len())
        .filter(|&r| {
            let hits = n as f64 * tokens * ITALIAN.share(r);
            (19.0..=61.0).contains(&hits)
        })
        .collect();
    for _ in 0..40 {
        if let Some(&r) = rare.get(rng.below(rare.len().max(1))) {
            v.push(BenchQuery::new(Class::Rare, words[r].clone()));
        }
    }
    for _ in 0..40 {
        let t = format!("{} {}", head(rng, 200), head(rng, 2000));
        v.push(BenchQuery::new(Class::TwoWords, t));
    }
    for _ in 0..20 {
        let t = format!("{} {} {}", head(rng, 100), head(rng, 400), head(rng, 3000));
        v.push(BenchQuery::new(Class::ThreeWords, t));
    }
    for c in COLLOCATIONS.iter().take(26) {
        v.push(BenchQuery::new(Class::Phrase, format!("\"{c}\"")));
    }
    let accented: Vec<&String> = words
        .iter()
        .take(3000)
        .filter(|w| w.chars().any(|c| "àèéìòù".contains(c)))
        .collect();
    for _ in 0..15 {
        let w = accented[rng.below(accented.len())];
        v.push(BenchQuery::new(Class::Accents, w.clone()));
        v.push(BenchQuery::new(
            Class::Accents,
            snodo_model::text::fold_for_matching(w),
        ));
    }
    for _ in 0..40 {
        let w = head(rng, 3000);
        let t = typo(rng, &w);
        v.push(BenchQuery::new(Class::Typo, t));
    }
    for _ in 0..30 {
        let w = head(rng, 500);
        let keep: String = w.chars().take(2 + rng.below(4)).collect();
        v.push(BenchQuery::new(Class::Prefix, keep));
    }
    for t in ENGLISH.iter().take(15) {
        v.push(BenchQuery::new(Class::English, *t));
    }
    let kinds = [
        Kind::Process,
        Kind::Consultation,
        Kind::Meeting,
        Kind::Assembly,
    ];
    for (i, q) in v.iter_mut().enumerate() {
        if i % 2 == 1 {
            match (i / 2) % 3 {
                0 => q.status = Some(Status::Open),
                1 => q.region = Some(format!("{:02}", 1 + rng.below(20))),
                _ => q.kind = Some(kinds[rng.below(kinds.len())]),
            }
        }
    }
    v
}

fn template(v: &mut Vec<BenchQuery>, rng: &mut Rng) {
    v.extend(WORDS.iter().map(|t| BenchQuery::new(Class::Word, *t)));
    v.extend(TWO.iter().map(|t| BenchQuery::new(Class::TwoWords, *t)));
    v.extend(THREE.iter().map(|t| BenchQuery::new(Class::ThreeWords, *t)));
    v.extend(PHRASES.iter().map(|t| BenchQuery::new(Class::Phrase, *t)));
    v.extend(ACCENTS.iter().map(|t| BenchQuery::new(Class::Accents, *t)));
    v.extend(TYPOS.iter().map(|t| BenchQuery::new(Class::Typo, *t)));
    v.extend(PREFIXES.iter().map(|t| BenchQuery::new(Class::Prefix, *t)));
    v.extend(ENGLISH.iter().map(|t| BenchQuery::new(Class::English, *t)));
    let kinds = [
        Kind::Process,
        Kind::Consultation,
        Kind::Meeting,
        Kind::Proposal,
        Kind::Assembly,
    ];
    for i in 0..40 {
        let mut q = BenchQuery::new(Class::Filtered, FILTER_WORDS[i % FILTER_WORDS.len()]);
        match i % 5 {
            0 => q.status = Some(Status::Open),
            1 => q.region = Some(format!("{:02}", 1 + rng.below(20))),
            2 => q.kind = Some(kinds[rng.below(kinds.len())]),
            3 => {
                q.status = Some(Status::Open);
                q.kind = Some(Kind::Process);
                q.order = Order::Closing;
            }
            _ => {
                q.region = Some(format!("{:02}", 1 + rng.below(20)));
                q.status = Some(Status::Closed);
                q.order = Order::Newest;
            }
        }
        v.push(q);
    }
}

/// Labelled: a record's title, as typed, with a typo, or half typed; the record is expected in
/// the top 3.
fn labelled(v: &mut Vec<BenchQuery>, rng: &mut Rng, seed: u64, n: u64) {
    for j in 0..45 {
        let i = rng.next_u64() % n.max(1);
        let r = corpus::record(seed, i);
        let Some((_, title)) = r.title.pick(None, &r.default_locale) else {
            continue;
        };
        let title = title.to_owned();
        let plain: String = title
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let text = match j % 3 {
            0 => plain.clone(),
            1 => typo(rng, &plain),
            _ => {
                // Cut the last word in half, as if still typing.
                let mut words: Vec<&str> = plain.split(' ').collect();
                let last = words.pop().unwrap_or_default();
                let keep: String = last
                    .chars()
                    .take(last.chars().count().div_ceil(2).max(2))
                    .collect();
                let mut s = words.join(" ");
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(&keep);
                s
            }
        };
        let mut q = BenchQuery::new(Class::Labelled, text);
        q.expect_title = Some(title);
        q.typing = j % 3 == 2;
        v.push(q);
    }
}
