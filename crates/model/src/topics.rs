//! The national list of topics: the 13 data themes of DCAT-AP (EU Publications Office "Data
//! theme" vocabulary), which DCAT-AP_IT and dati.gov.it use, with Italian and English labels; and
//! the keyword rules that map what each platform calls its topics (Decidim areas, categories and
//! taxonomies, WordPress or feed categories) onto it. See `docs/topics.md`.

use crate::text::fold_for_matching;

/// A theme: its DCAT-AP code and its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub code: &'static str,
    pub it: &'static str,
    pub en: &'static str,
    /// Folded word beginnings that name the theme (`mobilit` matches "Mobilità sostenibile").
    keywords: &'static [&'static str],
}

pub const THEMES: [Theme; 13] = [
    Theme {
        code: "AGRI",
        it: "Agricoltura, pesca, silvicoltura e prodotti alimentari",
        en: "Agriculture, fisheries, forestry and food",
        keywords: &[
            "agricol",
            "agroaliment",
            "aliment",
            "pesca",
            "forest",
            "silvicol",
            "rural",
            "zootecn",
            "agriculture",
            "fisher",
            "food",
            "farm",
        ],
    },
    Theme {
        code: "ECON",
        it: "Economia e finanze",
        en: "Economy and finance",
        keywords: &[
            "economi",
            "finanz",
            "bilanc",
            "lavor",
            "occupaz",
            "impres",
            "commerc",
            "turism",
            "attivita produttiv",
            "tribut",
            "fiscal",
            "econom",
            "financ",
            "budget",
            "employment",
            "business",
            "tourism",
        ],
    },
    Theme {
        code: "EDUC",
        it: "Istruzione, cultura e sport",
        en: "Education, culture and sport",
        keywords: &[
            "unesco",
            "patrimonio",
            "istruz",
            "scuol",
            "educaz",
            "formaz",
            "universit",
            "cultur",
            "sport",
            "muse",
            "bibliotec",
            "patrimonio cultural",
            "educat",
            "school",
            "sport",
            "librar",
            "heritage",
        ],
    },
    Theme {
        code: "ENER",
        it: "Energia",
        en: "Energy",
        keywords: &[
            "energ",
            "rinnovabil",
            "fotovolta",
            "efficienza energetic",
            "renewabl",
        ],
    },
    Theme {
        code: "ENVI",
        it: "Ambiente",
        en: "Environment",
        keywords: &[
            "ambient",
            "clima",
            "climat",
            "verde",
            "ecolog",
            "biodivers",
            "rifiut",
            "acqua",
            "aria",
            "sviluppo sostenibil",
            "transizione ecologic",
            "natur",
            "parco",
            "parchi",
            "environment",
            "green",
            "waste",
            "water",
            "sustainable development",
        ],
    },
    Theme {
        code: "GOVE",
        it: "Governo e settore pubblico",
        en: "Government and public sector",
        keywords: &[
            "semplificaz",
            "govern",
            "partecipaz",
            "trasparen",
            "amministraz",
            "pubblica amministraz",
            "democra",
            "open government",
            "anticorruz",
            "regolament",
            "statut",
            "istituz",
            "cittadinanza attiv",
            "particip",
            "transparen",
            "public sector",
            "democrac",
        ],
    },
    Theme {
        code: "HEAL",
        it: "Salute",
        en: "Health",
        keywords: &[
            "salut",
            "sanit",
            "ospedal",
            "benesser",
            "prevenz",
            "health",
            "hospital",
            "wellbeing",
        ],
    },
    Theme {
        code: "INTR",
        it: "Tematiche internazionali",
        en: "International issues",
        keywords: &[
            "internazional",
            "europ",
            "cooperazione internazional",
            "migra",
            "international",
            "global",
        ],
    },
    Theme {
        code: "JUST",
        it: "Giustizia, sistema giuridico e sicurezza pubblica",
        en: "Justice, legal system and public safety",
        keywords: &[
            "giustiz",
            "legalit",
            "sicurezz",
            "protezione civil",
            "polizi",
            "diritt",
            "justice",
            "safety",
            "security",
            "legal",
            "rights",
        ],
    },
    Theme {
        code: "REGI",
        it: "Regioni e città",
        en: "Regions and cities",
        keywords: &[
            "pug",
            "aree interne",
            "centro storic",
            "coste",
            "costier",
            "urbanistic",
            "territor",
            "quartier",
            "rigenerazione urban",
            "pianificaz",
            "citta ",
            "urban",
            "region",
            "beni comuni",
            "spazi pubblic",
            "periferi",
            "neighbourhood",
            "cities",
            "city",
            "planning",
            "commons",
        ],
    },
    Theme {
        code: "SOCI",
        it: "Popolazione e società",
        en: "Population and society",
        keywords: &[
            "social",
            "welfare",
            "giovan",
            "anzian",
            "famigl",
            "inclusion",
            "pari opportun",
            "parita di gener",
            "disabil",
            "casa",
            "abitat",
            "volontar",
            "terzo settor",
            "comunit",
            "povert",
            "youth",
            "elderly",
            "famil",
            "housing",
            "gender",
            "volunteer",
            "communit",
            "povert",
        ],
    },
    Theme {
        code: "TECH",
        it: "Scienza e tecnologia",
        en: "Science and technology",
        keywords: &[
            "tecnolog",
            "digital",
            "innovaz",
            "scienz",
            "ricerca",
            "informatic",
            "intelligenza artificial",
            "technolog",
            "innovat",
            "scien",
            "research",
        ],
    },
    Theme {
        code: "TRAN",
        it: "Trasporti",
        en: "Transport",
        keywords: &[
            "pums",
            "traspor",
            "mobilit",
            "ciclabil",
            "viabilit",
            "strad",
            "ferrovi",
            "parchegg",
            "pedonal",
            "transport",
            "cycl",
            "road",
            "rail",
            "traffic",
        ],
    },
];

/// The theme with this code, any case.
pub fn theme(code: &str) -> Option<&'static Theme> {
    THEMES.iter().find(|t| t.code.eq_ignore_ascii_case(code))
}

/// An operator's rule for one source (`[sources.topics]` in the configuration): a name, or the
/// beginning of one of its words, that means a theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRule {
    /// Folded (lower case, no accents).
    pub keyword: String,
    pub theme: &'static str,
}

impl TopicRule {
    /// A rule from configuration; `None` when the theme code is not one of [`THEMES`].
    pub fn new(keyword: &str, theme_code: &str) -> Option<TopicRule> {
        theme(theme_code).map(|t| TopicRule {
            keyword: fold_for_matching(keyword),
            theme: t.code,
        })
    }
}

/// Whether a folded text says `keyword`: a phrase anywhere on word boundaries, whose last
/// word may go on (`mobilit` is in "piano della mobilita urbana") unless the keyword ends with a
/// space (`citta ` is "città", not "cittadinanza").
///
/// `padded` is the text with a space at each end (`" {text} "`), made once per text: this runs
/// for every keyword of every theme on every record harvested, so it allocates nothing.
fn says_padded(padded: &str, keyword: &str) -> bool {
    if keyword.trim().is_empty() {
        return false;
    }
    padded
        .match_indices(' ')
        .any(|(at, _)| padded[at + 1..].starts_with(keyword))
}

/// The themes some names mean, in [`THEMES`] order: the operator's rules first, then the
/// built-in keywords.
pub fn themes_of<'a>(
    names: impl IntoIterator<Item = &'a str>,
    rules: &[TopicRule],
) -> Vec<&'static str> {
    let padded: Vec<String> = names
        .into_iter()
        .map(|n| format!(" {} ", fold_for_matching(n)))
        .collect();
    let mut found: Vec<&'static str> = Vec::new();
    for name in &padded {
        for r in rules {
            if says_padded(name, &r.keyword) && !found.contains(&r.theme) {
                found.push(r.theme);
            }
        }
        for t in &THEMES {
            if t.keywords.iter().any(|k| says_padded(name, k)) && !found.contains(&t.code) {
                found.push(t.code);
            }
        }
    }
    found.sort_by_key(|c| THEMES.iter().position(|t| t.code == *c));
    found
}

/// The themes of a record: from the topics its platform gives it (areas, categories,
/// taxonomies); when it has none, from its title, the one text that always says what it is about.
pub fn classify(r: &crate::Record, rules: &[TopicRule]) -> Vec<String> {
    let from_topics = themes_of(
        r.topics.iter().flat_map(|t| t.iter().map(|(_, s)| s)),
        rules,
    );
    let found = if from_topics.is_empty() {
        themes_of(r.title.iter().map(|(_, s)| s), rules)
    } else {
        from_topics
    };
    found.into_iter().map(str::to_owned).collect()
}

/// Bump when [`classify`] decides differently for the same keywords (not needed for keyword
/// changes: [`classification_fingerprint`] reads those).
const CLASSIFIER_VERSION: u32 = 1;

/// Names how records of a source are classified: the built-in keywords, the source's own rules
/// and the classifier's version. Stored records classified under another fingerprint must be
/// classified again, so a harvester that skips re-reading unchanged records compares it first.
pub fn classification_fingerprint(rules: &[TopicRule]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(CLASSIFIER_VERSION.to_le_bytes());
    for t in &THEMES {
        h.update(t.code.as_bytes());
        for k in t.keywords {
            h.update([0u8]);
            h.update(k.as_bytes());
        }
        h.update([1u8]);
    }
    for r in rules {
        h.update([2u8]);
        h.update(r.keyword.as_bytes());
        h.update([0u8]);
        h.update(r.theme.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_map_to_themes() {
        let t = |names: &[&str]| themes_of(names.iter().copied(), &[]);
        assert_eq!(t(&["Mobilità sostenibile"]), ["TRAN"]);
        assert_eq!(t(&["Ambiente e clima"]), ["ENVI"]);
        assert_eq!(t(&["Politiche giovanili"]), ["SOCI"]);
        assert_eq!(t(&["Trasparenza"]), ["GOVE"]);
        assert_eq!(t(&["Innovazione e partecipazione"]), ["GOVE", "TECH"]);
        assert_eq!(
            t(&["Youth policy", "Urban mobility"]),
            ["REGI", "SOCI", "TRAN"]
        );
        assert_eq!(t(&["Scuole e sport"]), ["EDUC"]);
        // Word beginnings only: "aria" is not in "bibliotecaria"… but a library is culture.
        assert_eq!(t(&["Rete bibliotecaria"]), ["EDUC"]);
        assert!(t(&["Varie"]).is_empty());
        assert_eq!(t(&["Carta della cittadinanza digitale"]), ["TECH"]);
        assert_eq!(t(&["Città e quartieri"]), ["REGI"]);
        assert_eq!(t(&["Bari si muove: il PUMS partecipato"]), ["TRAN"]);
    }

    #[test]
    fn the_fingerprint_changes_with_the_rules_only() {
        let none = classification_fingerprint(&[]);
        assert_eq!(none, classification_fingerprint(&[]));
        let rule = [TopicRule::new("Quartieri", "REGI").unwrap()];
        assert_ne!(none, classification_fingerprint(&rule));
        let other = [TopicRule::new("Quartieri", "SOCI").unwrap()];
        assert_ne!(
            classification_fingerprint(&rule),
            classification_fingerprint(&other)
        );
        assert_eq!(none.len(), 32);
    }

    #[test]
    fn an_operator_rule_adds_a_theme() {
        let rules = [TopicRule::new("Cammini", "TRAN").unwrap()];
        assert_eq!(themes_of(["Cammini e sentieri"], &rules), ["TRAN"]);
        assert!(TopicRule::new("x", "NOPE").is_none());
        assert_eq!(TopicRule::new("x", "envi").unwrap().theme, "ENVI");
    }

    #[test]
    fn every_theme_has_labels_and_keywords() {
        for t in &THEMES {
            assert!(!t.it.is_empty() && !t.en.is_empty() && !t.keywords.is_empty());
            for k in t.keywords {
                assert_eq!(
                    k.trim_end(),
                    fold_for_matching(k),
                    "{} keyword {k} is folded",
                    t.code
                );
            }
        }
    }
}
