//! A corpus whose text reads, statistically, like real participation records: titles of 5–15
//! words, summaries of 20–60, bodies of 100–600 (≈300 on average, ≈3 KB of text per record),
//! words drawn from a Zipf distribution over ≈700,000 Italian word forms (a head of everyday and participation words,
//! a long tail of rare technical ones built from Italian roots and affixes), collocations
//! ("bilancio partecipativo") planted at real-looking rates, the names of all 7,900 comuni, 15 %
//! of records in English, 90 sources over the 20 regions.
//!
//! Kinds, dates, methods and topics come from the template corpus ([`crate::corpus`]), so both
//! profiles split the same way by status and kind; only the texts, sources and places differ.
//! Record `i` of seed `s` depends only on `(s, i)`, as there.

use std::sync::LazyLock;

use snodo_model::{LocalizedText, Record, RecordId, Territory};

use crate::corpus::Rng;

#[rustfmt::skip]
const FUNCTION_IT: &[&str] = &[
    "di", "e", "il", "la", "che", "per", "in", "a", "del", "della", "le", "i", "un", "una", "con",
    "al", "alla", "dei", "delle", "è", "si", "da", "non", "sono", "nel", "nella", "gli", "lo",
    "come", "anche", "più", "sul", "sulla", "tra", "questo", "questa", "sia", "ai", "alle", "dal",
    "dalla", "ma", "o", "ed", "degli", "nei", "nelle", "essere", "può", "stato", "loro", "tutti",
];

#[rustfmt::skip]
const FUNCTION_EN: &[&str] = &[
    "the", "of", "and", "to", "in", "a", "for", "is", "on", "with", "that", "by", "as", "be", "are",
    "this", "from", "at", "or", "an", "will", "can", "all", "their", "its", "which", "has", "have",
];

/// Everyday and participation words, commonest first (the head of the distribution).
#[rustfmt::skip]
const HEAD_IT: &[&str] = &[
    "comune", "cittadini", "progetto", "partecipazione", "proposta", "processo", "città", "territorio",
    "comunità", "servizi", "attività", "percorso", "quartiere", "consultazione", "piano", "regione",
    "pubblico", "pubblica", "sviluppo", "cittadinanza", "spazi", "incontro", "assemblea", "sociale",
    "ambiente", "verde", "mobilità", "scuola", "giovani", "cultura", "qualità", "sostenibile",
    "sostenibilità", "bilancio", "risorse", "interventi", "area", "zona", "strada", "piazza",
    "associazioni", "amministrazione", "proposte", "idee", "fase", "laboratorio", "obiettivi",
    "documento", "regolamento", "sicurezza", "salute", "lavoro", "casa", "energia", "acqua", "rifiuti",
    "trasporto", "centro", "storico", "urbano", "urbana", "rigenerazione", "tutela", "valorizzazione",
    "inclusione", "disabilità", "anziani", "famiglie", "bambini", "sport", "turismo", "commercio",
    "imprese", "economia", "innovazione", "digitale", "trasparenza", "informazione", "opportunità",
    "priorità", "possibilità", "società", "identità", "università", "biblioteca", "biblioteche",
    "parco", "parchi", "giardino", "alberi", "clima", "aria", "rumore", "traffico", "parcheggi",
    "ciclabile", "ciclabili", "pedonale", "illuminazione", "manutenzione", "edifici", "scuole",
    "mensa", "welfare", "volontariato", "terzo", "settore", "enti", "tavolo", "gruppo", "lavori",
    "questionario", "voto", "votazione", "risultati", "esito", "relazione", "allegato", "delibera",
    "consiglio", "giunta", "sindaco", "assessore", "ufficio", "sportello", "cantiere", "opere",
    "riqualificazione", "recupero", "beni", "comuni", "patto", "collaborazione", "cura", "spazio",
    "luogo", "luoghi", "persone", "donne", "studenti", "lavoratori", "residenti", "abitanti",
    "partecipativo", "partecipativa", "partecipativi", "cittadino", "civica", "civico", "diritti",
    "accesso", "accessibilità", "barriere", "inclusivo", "inclusiva", "formazione", "educazione",
    "teatro", "musei", "eventi", "festival", "mercato", "agricoltura", "cibo", "orti", "fiume",
    "mare", "costa", "montagna", "collina", "frazione", "frazioni", "periferia", "periferie",
];

#[rustfmt::skip]
const HEAD_EN: &[&str] = &[
    "citizens", "project", "participation", "proposal", "process", "city", "community", "services",
    "public", "consultation", "plan", "region", "development", "meeting", "assembly", "social",
    "environment", "mobility", "school", "youth", "culture", "quality", "sustainable", "budget",
    "resources", "area", "street", "square", "associations", "administration", "ideas", "workshop",
    "safety", "health", "housing", "energy", "water", "waste", "transport", "centre", "urban",
    "regeneration", "inclusion", "families", "children", "tourism", "innovation", "digital",
    "transparency", "library", "park", "trees", "climate", "air", "traffic", "cycle", "lanes",
];

/// Collocations planted as such, so that phrase queries have real adjacent matches.
#[rustfmt::skip]
pub const COLLOCATIONS: &[&str] = &[
    "bilancio partecipativo", "piste ciclabili", "verde pubblico", "centro storico", "beni comuni",
    "consultazione pubblica", "assemblea cittadina", "patti di collaborazione", "trasporto pubblico locale",
    "politiche giovanili", "edilizia scolastica", "qualità dell'aria", "rigenerazione urbana",
    "comunità energetiche", "zone 30", "agenda 2030", "piano urbanistico generale", "terzo settore",
    "consiglio di quartiere", "garante della partecipazione", "aree gioco inclusive", "orti urbani",
    "mense scolastiche", "raccolta differenziata", "cambiamenti climatici", "sicurezza urbana",
];

/// Italian roots and affixes for the long tail of rare technical words.
#[rustfmt::skip]
const ROOTS: &[&str] = &[
    "abit", "accogl", "adatt", "aggreg", "alberat", "allarg", "ammodern", "analizz", "archivi", "arred",
    "assist", "attrezz", "autorizz", "bonific", "calibr", "canalizz", "catalog", "certific", "circol",
    "classific", "coinvolg", "collaud", "collet", "combin", "compens", "comun", "concert", "condivis",
    "conserv", "consolid", "contabil", "coordin", "cost", "dematerializz", "deposit", "digitalizz",
    "drenagg", "edific", "efficient", "elettrific", "energ", "erog", "fabbric", "fatturat", "finanz",
    "fognat", "form", "frazion", "gestion", "georeferenz", "idrogeolog", "illumin", "impermeabil",
    "incentiv", "infrastrutt", "insedi", "integr", "interconn", "irrig", "istitu", "lottizz", "manuten",
    "mappat", "mitig", "monitor", "naturalizz", "normat", "ottimizz", "pavimentaz", "perimetr", "pianific",
    "piantum", "ponder", "potenzi", "prevenz", "programm", "progett", "protocoll", "quantific", "raccord",
    "razionalizz", "recinz", "regolament", "rendicont", "restaur", "rilev", "rinnov", "risanament",
    "riusc", "sanific", "segnal", "semplific", "sgombr", "smaltim", "sostitu", "sovvenz", "stabilizz",
    "stratific", "sussid", "tariff", "telerilev", "territorializz", "topograf", "tracci", "trasform",
    "urbanizz", "valut", "ventil", "verific", "viabil", "zonizz", "alluvion", "antisism", "biodivers",
    "carbon", "ciclopedon", "compost", "cooperat", "decarbonizz", "desert", "ecolog", "fotovolt",
    "geoterm", "idraul", "isolament", "microclim", "permacult", "rinaturalizz", "sismic", "termic",
];

#[rustfmt::skip]
const SUFFIXES: &[&str] = &[
    "azione", "azioni", "amento", "amenti", "ativo", "ativa", "ativi", "ative", "abile", "abili",
    "ale", "ali", "ico", "ica", "ici", "iche", "ità", "ista", "isti", "ante", "anti", "ato", "ata",
    "atore", "atori", "atrice", "aggio", "uale", "ismo", "ività",
];

#[rustfmt::skip]
const PREFIXES: &[&str] = &["", "ri", "pre", "post", "inter", "sotto", "sovra", "co", "auto", "extra", "micro", "macro"];

#[rustfmt::skip]
const EN_SUFFIXES: &[&str] = &["ation", "ations", "ment", "ments", "ity", "al", "ive", "ing", "er", "ers"];

/// A vocabulary with Zipf weights: `words[r]` is the word of rank `r`, `cdf[r]` the cumulative
/// share of ranks `0..=r`.
pub struct Vocabulary {
    pub words: Vec<String>,
    cdf: Vec<f64>,
}

impl Vocabulary {
    fn new(words: Vec<String>, exponent: f64) -> Vocabulary {
        let mut acc = 0.0;
        let mut cdf = Vec::with_capacity(words.len());
        for r in 0..words.len() {
            acc += 1.0 / (r as f64 + 2.7).powf(exponent);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Vocabulary { words, cdf }
    }

    /// A rank drawn from the distribution.
    pub fn rank(&self, rng: &mut Rng) -> usize {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        self.cdf
            .partition_point(|&c| c < u)
            .min(self.words.len() - 1)
    }

    /// The share of draws that give rank `r`.
    pub fn share(&self, r: usize) -> f64 {
        self.cdf[r] - if r == 0 { 0.0 } else { self.cdf[r - 1] }
    }

    pub fn draw(&self, rng: &mut Rng) -> &str {
        &self.words[self.rank(rng)]
    }
}

/// The tail: every prefix × root × suffix, then compounds of two roots (`idrogeo…`), each part
/// in a fixed shuffled order, up to `limit` words: a vocabulary much larger than any corpus, so
/// that, as in real text, a good share of the words met appear in one record only.
fn tail_words(roots: &[&str], suffixes: &[&str], prefixes: &[&str], limit: usize) -> Vec<String> {
    let mut rng = Rng::new(0x7A11);
    let mut shuffle = |v: &mut Vec<String>| {
        // Fisher–Yates with a fixed seed.
        for i in (1..v.len()).rev() {
            let j = rng.below(i + 1);
            v.swap(i, j);
        }
    };
    let mut v = Vec::new();
    for p in prefixes {
        for r in roots {
            for s in suffixes {
                v.push(format!("{p}{r}{s}"));
            }
        }
    }
    shuffle(&mut v);
    if v.len() < limit {
        let mut compounds = Vec::new();
        for a in roots {
            for b in roots.iter().filter(|b| *b != a) {
                for s in suffixes {
                    compounds.push(format!("{a}o{b}{s}"));
                }
            }
        }
        shuffle(&mut compounds);
        v.extend(compounds);
    }
    v.truncate(limit);
    v
}

pub static ITALIAN: LazyLock<Vocabulary> = LazyLock::new(|| {
    let mut words: Vec<String> = HEAD_IT.iter().map(|s| (*s).to_owned()).collect();
    let seen: std::collections::HashSet<String> = words.iter().cloned().collect();
    words.extend(
        tail_words(ROOTS, SUFFIXES, PREFIXES, 700_000)
            .into_iter()
            .filter(|w| !seen.contains(w)),
    );
    Vocabulary::new(words, 1.05)
});

pub static ENGLISH: LazyLock<Vocabulary> = LazyLock::new(|| {
    let mut words: Vec<String> = HEAD_EN.iter().map(|s| (*s).to_owned()).collect();
    words.extend(tail_words(ROOTS, EN_SUFFIXES, &PREFIXES[..6], 30_000));
    Vocabulary::new(words, 1.05)
});

static FUNCTION_WORDS_IT: LazyLock<Vocabulary> =
    LazyLock::new(|| Vocabulary::new(FUNCTION_IT.iter().map(|s| (*s).to_owned()).collect(), 1.0));

static FUNCTION_WORDS_EN: LazyLock<Vocabulary> =
    LazyLock::new(|| Vocabulary::new(FUNCTION_EN.iter().map(|s| (*s).to_owned()).collect(), 1.0));

/// A platform of the corpus: its id, and the place its records are about (a comune, a region,
/// or the whole country).
pub struct Platform {
    pub id: String,
    pub territory: Territory,
    pub place_name: Option<&'static str>,
}

/// 90 platforms: 68 of comuni spread over the 20 regions, 20 regional, 1 national… and one more
/// comune for a round number.
pub static PLATFORMS: LazyLock<Vec<Platform>> = LazyLock::new(|| {
    let regions = snodo_model::territory::regions();
    let comuni = snodo_model::territory::comuni();
    let mut v = Vec::new();
    for k in 0..69usize {
        let region = &regions[k % regions.len()];
        let of_region: Vec<_> = comuni.iter().filter(|c| c.region == region.code).collect();
        let c = of_region[(k * 7919) % of_region.len()];
        let territory = snodo_model::territory::from_code(c.code).unwrap_or_default();
        v.push(Platform {
            id: format!(
                "comune-{}",
                snodo_model::text::fold_for_matching(c.name)
                    .chars()
                    .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
                    .collect::<String>()
            ),
            territory,
            place_name: Some(c.name),
        });
    }
    for r in regions {
        v.push(Platform {
            id: format!("regione-{}", r.code),
            territory: snodo_model::territory::from_code(r.code).unwrap_or_default(),
            place_name: Some(r.name),
        });
    }
    v.push(Platform {
        id: "partecipa".into(),
        territory: Territory::default(),
        place_name: None,
    });
    v
});

/// `n` words as running text: sentences of 8–25 words, function words between content words,
/// collocations and comune names now and then; the first letter of each sentence capitalised.
fn text(rng: &mut Rng, english: bool, words: usize, place: Option<&str>) -> String {
    let (content, function) = if english {
        (&*ENGLISH, &*FUNCTION_WORDS_EN)
    } else {
        (&*ITALIAN, &*FUNCTION_WORDS_IT)
    };
    let comuni = snodo_model::territory::comuni();
    let mut out = String::with_capacity(words * 8);
    let mut written = 0;
    let mut sentence_left = 0;
    let mut capital = true;
    while written < words {
        if sentence_left == 0 {
            if !out.is_empty() {
                out.push_str(". ");
            }
            sentence_left = 8 + rng.below(18);
            capital = true;
        } else if rng.chance(6) {
            out.push_str(", ");
        } else {
            out.push(' ');
        }
        let roll = rng.below(1000);
        let w: &str = if roll < 420 {
            function.draw(rng)
        } else if roll < 440 && !english {
            COLLOCATIONS[rng.below(COLLOCATIONS.len())]
        } else if roll < 452 {
            match place {
                Some(p) if rng.chance(60) => p,
                _ => rng.pick(comuni).name,
            }
        } else {
            content.draw(rng)
        };
        if capital {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
            capital = false;
        } else {
            out.push_str(w);
        }
        let n = w.split(' ').count();
        written += n;
        sentence_left = sentence_left.saturating_sub(n);
    }
    out.push('.');
    out
}

/// Record `i` of the realistic corpus of `seed`.
pub fn record(seed: u64, i: u64) -> Record {
    let base = crate::corpus::template_record(seed, i);
    let mut rng = Rng::for_record(seed ^ 0x5EA1_1571C, i);
    let platform = &PLATFORMS[rng.below(PLATFORMS.len())];
    let english = rng.chance(15);
    let lang = if english { "en" } else { "it" };
    let place = platform.place_name;
    let title_words = 5 + rng.below(11);
    let summary_words = 20 + rng.below(41);
    let mut body_words = 100 + rng.below(201) + rng.below(201);
    if rng.chance(10) {
        body_words += rng.below(101);
    }
    let title = text(&mut rng, english, title_words, place);
    let title = title.trim_end_matches('.').to_owned();
    let summary = text(&mut rng, english, summary_words, place);
    let mut body = String::new();
    let mut left = body_words;
    while left > 0 {
        // paragraphs of 40–120 words
        let p = left.min(40 + rng.below(81));
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&text(&mut rng, english, p, place));
        left -= p;
    }
    let upstream = format!("{}", 1000 + i);
    let url = format!(
        "https://{}.example.it/{}/{upstream}",
        platform.id,
        base.id.kind.as_str()
    );
    let mut r = Record::new(
        RecordId::new(&platform.id, base.id.kind, upstream),
        url,
        lang,
        LocalizedText::single(lang, &title),
    );
    r.summary = LocalizedText::single(lang, &summary);
    r.description = LocalizedText::single(lang, &body);
    r.territory = platform.territory.clone();
    r.promoter = LocalizedText::single(
        "it",
        &match place {
            Some(p) => format!("Ufficio partecipazione, {p}"),
            None => "Dipartimento della Funzione Pubblica".to_owned(),
        },
    );
    r.topics = base.topics;
    r.start_date = base.start_date;
    r.end_date = base.end_date;
    r.published_at = base.published_at;
    r.updated_at = base.updated_at;
    r.methods = base.methods;
    r.themes = snodo_model::topics::classify(&r, &[]);
    r
}

/// What the corpus looks like, for BENCHMARKS.md.
#[derive(Debug, Default, serde::Serialize)]
pub struct Stats {
    pub records: u64,
    pub english_share: f64,
    pub title_words: [usize; 3],
    pub summary_words: [usize; 3],
    pub body_words: [usize; 3],
    pub text_bytes_per_record: f64,
    pub distinct_words: usize,
    pub words_in_one_record_only: usize,
    pub top10: Vec<(String, f64)>,
    pub sources: usize,
    pub regions: usize,
}

/// Statistics over the first `n` records (min / median / max word counts, vocabulary, the share
/// of records containing each of the ten commonest content words).
pub fn stats(seed: u64, n: u64) -> Stats {
    use std::collections::{HashMap, HashSet};
    let mut titles = Vec::new();
    let mut summaries = Vec::new();
    let mut bodies = Vec::new();
    let mut bytes = 0usize;
    let mut english = 0u64;
    let mut df: HashMap<String, u32> = HashMap::new();
    let mut sources = HashSet::new();
    let mut regions = HashSet::new();
    let stop: HashSet<&str> = FUNCTION_IT.iter().chain(FUNCTION_EN).copied().collect();
    for i in 0..n {
        let r = record(seed, i);
        let count = |t: &LocalizedText| {
            t.iter()
                .map(|(_, s)| s.split_whitespace().count())
                .sum::<usize>()
        };
        titles.push(count(&r.title));
        summaries.push(count(&r.summary));
        bodies.push(count(&r.description));
        english += u64::from(r.default_locale == "en");
        sources.insert(r.id.source.clone());
        if let Some(reg) = &r.territory.region {
            regions.insert(reg.clone());
        }
        let mut seen = HashSet::new();
        for t in [&r.title, &r.summary, &r.description] {
            for (_, s) in t.iter() {
                bytes += s.len();
                for w in s.split(|c: char| !c.is_alphanumeric()) {
                    let w = w.to_lowercase();
                    if !w.is_empty() && !stop.contains(w.as_str()) && seen.insert(w.clone()) {
                        *df.entry(w).or_default() += 1;
                    }
                }
            }
        }
    }
    let three = |v: &mut Vec<usize>| {
        v.sort_unstable();
        [v[0], v[v.len() / 2], v[v.len() - 1]]
    };
    let mut top: Vec<(String, u32)> = df.iter().map(|(w, c)| (w.clone(), *c)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Stats {
        records: n,
        english_share: english as f64 / n as f64,
        title_words: three(&mut titles),
        summary_words: three(&mut summaries),
        body_words: three(&mut bodies),
        text_bytes_per_record: bytes as f64 / n as f64,
        distinct_words: df.len(),
        words_in_one_record_only: df.values().filter(|&&c| c == 1).count(),
        top10: top
            .iter()
            .take(10)
            .map(|(w, c)| (w.clone(), f64::from(*c) / n as f64))
            .collect(),
        sources: sources.len(),
        regions: regions.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_look_like_real_ones_and_are_deterministic() {
        let a = record(42, 7);
        let b = record(42, 7);
        assert_eq!(a.title.iter().next(), b.title.iter().next());
        let s = stats(42, 300);
        assert!(s.title_words[0] >= 5 && s.title_words[2] <= 16, "{s:?}");
        assert!(s.body_words[0] >= 100 && s.body_words[2] <= 620, "{s:?}");
        assert!((250..=380).contains(&s.body_words[1]), "{s:?}");
        assert!((0.08..0.25).contains(&s.english_share), "{s:?}");
        assert!(s.distinct_words > 5_000, "{s:?}");
        assert!(s.sources > 60 && s.regions == 20, "{s:?}");
    }
}
