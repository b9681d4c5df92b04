//! Licences of harvested texts. Snodo republishes what platforms publish, so every record carries
//! its source's licence as the operator states it in the configuration; Snodo never asserts one
//! over others' texts. What Snodo writes itself (ids, territory codes, status, topics, methods) is
//! [`METADATA`].

/// A licence a source may publish under, by its SPDX identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Licence {
    pub spdx: &'static str,
    pub name: &'static str,
    pub url: &'static str,
}

/// The licences a source may be configured with (besides [`UNKNOWN`]): those Italian
/// administrations use for open data (AgID's guidelines name CC BY 4.0 and CC0; IODL 2.0 is the
/// older Italian one) and the other common open ones.
pub const KNOWN: &[Licence] = &[
    Licence {
        spdx: "CC-BY-4.0",
        name: "CC BY 4.0",
        url: "https://creativecommons.org/licenses/by/4.0/",
    },
    Licence {
        spdx: "CC-BY-SA-4.0",
        name: "CC BY-SA 4.0",
        url: "https://creativecommons.org/licenses/by-sa/4.0/",
    },
    Licence {
        spdx: "CC0-1.0",
        name: "CC0 1.0",
        url: "https://creativecommons.org/publicdomain/zero/1.0/",
    },
    Licence {
        spdx: "CC-BY-3.0-IT",
        name: "CC BY 3.0 IT",
        url: "https://creativecommons.org/licenses/by/3.0/it/",
    },
    Licence {
        spdx: "CC-BY-3.0",
        name: "CC BY 3.0",
        url: "https://creativecommons.org/licenses/by/3.0/",
    },
    Licence {
        spdx: "CC-BY-SA-3.0",
        name: "CC BY-SA 3.0",
        url: "https://creativecommons.org/licenses/by-sa/3.0/",
    },
    Licence {
        spdx: "IODL-2.0",
        name: "IODL 2.0",
        url: "https://www.dati.gov.it/iodl/2.0/",
    },
    Licence {
        spdx: "ODbL-1.0",
        name: "ODbL 1.0",
        url: "https://opendatacommons.org/licenses/odbl/1-0/",
    },
];

/// The configuration value of a source whose licence nobody has established.
pub const UNKNOWN: &str = "unknown";

/// The licence of the metadata Snodo itself writes about each record.
pub const METADATA: Licence = Licence {
    spdx: "CC0-1.0",
    name: "CC0 1.0",
    url: "https://creativecommons.org/publicdomain/zero/1.0/",
};

/// The licence with this SPDX identifier (case-insensitive), if Snodo knows it.
pub fn by_spdx(id: &str) -> Option<&'static Licence> {
    KNOWN
        .iter()
        .find(|l| l.spdx.eq_ignore_ascii_case(id.trim()))
}

/// What to credit for a record: the source's own attribution text with its licence, or, when the
/// licence is unknown, a plain statement that it is (no licence is implied).
pub fn attribution_text(credit: &str, licence: Option<&Licence>, source_url: &str) -> String {
    match licence {
        Some(l) => format!("{credit}, {} ({})", l.name, l.url),
        None if source_url.is_empty() => {
            format!("{credit}; licence not stated by the source: reuse only as the source allows")
        }
        None => {
            format!("{credit}; licence not stated by the source: reuse only as {source_url} allows")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_licences_resolve_and_unknown_ones_never_claim_one() {
        assert_eq!(by_spdx("cc-by-4.0").map(|l| l.name), Some("CC BY 4.0"));
        assert_eq!(by_spdx(UNKNOWN), None);
        assert!(KNOWN.iter().all(|l| l.url.starts_with("https://")));
        let t = attribution_text("Comune di Bologna", None, "https://partecipa.bo.it");
        assert!(!t.contains("CC"), "{t}");
        assert!(t.contains("licence not stated"));
        let t = attribution_text("Regione Puglia", by_spdx("CC-BY-SA-4.0"), "https://x.it");
        assert_eq!(
            t,
            "Regione Puglia, CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)"
        );
    }
}
