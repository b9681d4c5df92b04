//! ISTAT territorial codes (regions, provinces, comuni at 2020-01-01, CC BY ISTAT), embedded so that
//! territory matching needs no file at run time. Comuni merged since 2020 simply have no name yet:
//! an unknown 6-digit code stays valid input. To refresh, replace the CSVs under `data/istat/`.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::record::Territory;
use crate::text::fold_for_matching;

const REGIONS_CSV: &str = include_str!("../data/istat/istat_regioni_2020-01-01.csv");
const PROVINCES_CSV: &str = include_str!("../data/istat/istat_province_uts_2020-01-01.csv");
const COMUNI_CSV: &str = include_str!("../data/istat/istat_comuni_2020-01-01.csv");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub code: &'static str,
    pub name: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Province {
    pub code: &'static str,
    pub name: &'static str,
    pub region: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comune {
    pub code: &'static str,
    pub name: &'static str,
    pub province: &'static str,
    pub region: &'static str,
}

struct Tables {
    regions: Vec<Region>,
    provinces: Vec<Province>,
    comuni: Vec<Comune>,
    comune_by_code: HashMap<&'static str, usize>,
    /// Folded name → comuni indexes (several comuni share a name: Peglio, Samone, Castro…).
    comuni_by_name: HashMap<String, Vec<usize>>,
    provinces_by_name: HashMap<String, usize>,
    regions_by_name: HashMap<String, usize>,
}

fn rows(csv: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').collect())
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let regions: Vec<Region> = rows(REGIONS_CSV)
        .map(|r| Region {
            code: r[0],
            name: r[1],
        })
        .collect();
    let provinces: Vec<Province> = rows(PROVINCES_CSV)
        .map(|r| Province {
            code: r[0],
            name: r[1],
            region: r[3],
        })
        .collect();
    // codice_regione,codice_uts,codice_provincia_storico,codice_comune_alfanumerico,denominazione,denominazione_it,denominazione_altra_lingua,...
    let comuni: Vec<Comune> = rows(COMUNI_CSV)
        .map(|r| Comune {
            code: r[3],
            name: r[5],
            province: r[1],
            region: r[0],
        })
        .collect();
    let mut comuni_by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in comuni.iter().enumerate() {
        comuni_by_name
            .entry(fold_for_matching(c.name))
            .or_default()
            .push(i);
    }
    // Bilingual comuni ("Bolzano/Bozen") are also known by their other-language name.
    for (i, row) in rows(COMUNI_CSV).enumerate() {
        for n in row[4].split('/').chain(row[6].split('/')) {
            let f = fold_for_matching(n);
            if !f.is_empty() {
                let e = comuni_by_name.entry(f).or_default();
                if !e.contains(&i) {
                    e.push(i);
                }
            }
        }
    }
    let mut regions_by_name = HashMap::new();
    for (i, r) in regions.iter().enumerate() {
        regions_by_name.insert(fold_for_matching(r.name), i);
        for part in r.name.split('/') {
            regions_by_name.insert(fold_for_matching(part), i);
        }
    }
    // Common short forms.
    for (alias, code) in [
        ("valle d aosta", "02"),
        ("trentino alto adige", "04"),
        ("friuli venezia giulia", "06"),
        ("emilia romagna", "08"),
        ("trentino", "04"),
        ("alto adige", "04"),
        ("sudtirol", "04"),
    ] {
        if let Some(i) = regions.iter().position(|r| r.code == code) {
            regions_by_name.entry(alias.to_owned()).or_insert(i);
        }
    }
    let provinces_by_name = provinces
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.name.split('/').map(move |n| (fold_for_matching(n), i)))
        .collect();
    let comune_by_code = comuni
        .iter()
        .enumerate()
        .map(|(i, c)| (c.code, i))
        .collect();
    Tables {
        regions,
        provinces,
        comuni,
        comune_by_code,
        comuni_by_name,
        provinces_by_name,
        regions_by_name,
    }
});

/// Every region, in ISTAT order.
pub fn regions() -> &'static [Region] {
    &TABLES.regions
}

pub fn region_name(code: &str) -> Option<&'static str> {
    TABLES
        .regions
        .iter()
        .find(|r| r.code == code)
        .map(|r| r.name)
}

pub fn province(code: &str) -> Option<&'static Province> {
    TABLES.provinces.iter().find(|p| p.code == code)
}

pub fn comune(code: &str) -> Option<&'static Comune> {
    TABLES.comune_by_code.get(code).map(|&i| &TABLES.comuni[i])
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("territory `{0}` is not \"IT\", a 2-digit ISTAT region code (01-20) or a 6-digit ISTAT comune code")]
pub struct TerritoryCodeError(pub String);

/// Parses a configured default territory: `"IT"`, a 2-digit region or a 6-digit comune code.
/// A well-formed comune code not in the 2020 table is accepted (comuni merge and get new codes)
/// but then carries no region unless its first two digits… are not reliable, so none is set.
pub fn from_code(code: &str) -> Result<Territory, TerritoryCodeError> {
    let code = code.trim();
    let mut t = Territory::default();
    if code.eq_ignore_ascii_case("IT") {
        t.national = true;
        return Ok(t);
    }
    if code.len() == 2 && region_name(code).is_some() {
        t.region = Some(code.to_owned());
        return Ok(t);
    }
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(c) = comune(code) {
            t.region = Some(c.region.to_owned());
            t.province = Some(c.province.to_owned());
        }
        t.comune = Some(code.to_owned());
        return Ok(t);
    }
    Err(TerritoryCodeError(code.to_owned()))
}

/// Matches a scope name from a platform ("Comune di Forlì", "Regione Puglia", "Bari",
/// "Città metropolitana di Bologna") against ISTAT names, ignoring case and accents. `within` limits
/// comune matches to one region, which resolves homonyms when the source's region is known.
pub fn match_name(name: &str, within: Option<&str>) -> Option<Territory> {
    let t = &*TABLES;
    let folded = fold_for_matching(name);
    if folded.is_empty() {
        return None;
    }
    if matches!(
        folded.as_str(),
        "italia" | "italy" | "nazionale" | "tutta italia" | "territorio nazionale"
    ) {
        return Some(Territory {
            national: true,
            ..Territory::default()
        });
    }
    let strip = |prefixes: &[&str]| {
        prefixes
            .iter()
            .find_map(|p| folded.strip_prefix(p).map(|r| r.trim().to_owned()))
    };
    if let Some(rest) = strip(&["regione ", "region "]) {
        return t
            .regions_by_name
            .get(&rest)
            .map(|&i| region_territory(&t.regions[i]));
    }
    if let Some(rest) = strip(&[
        "provincia autonoma di ",
        "provincia di ",
        "citta metropolitana di ",
        "provincia del ",
        "provincia dell ",
        "provincia ",
    ]) {
        return t
            .provinces_by_name
            .get(&rest)
            .map(|&i| province_territory(&t.provinces[i]));
    }
    let comune_name = strip(&[
        "comune di ",
        "comune del ",
        "comune dell ",
        "comune della ",
        "comune ",
        "citta di ",
    ]);
    if comune_name.is_none() {
        if let Some(&i) = t.regions_by_name.get(&folded) {
            return Some(region_territory(&t.regions[i]));
        }
    }
    let key = comune_name.unwrap_or(folded);
    if let Some(found) = t.comuni_by_name.get(&key) {
        let candidates: Vec<&Comune> = found
            .iter()
            .map(|&i| &t.comuni[i])
            .filter(|c| within.is_none_or(|r| c.region == r))
            .collect();
        if let [c] = candidates.as_slice() {
            return Some(Territory {
                region: Some(c.region.to_owned()),
                province: Some(c.province.to_owned()),
                comune: Some(c.code.to_owned()),
                ..Territory::default()
            });
        }
        // Homonyms in different regions: say nothing rather than guess.
        return None;
    }
    t.provinces_by_name
        .get(&key)
        .map(|&i| province_territory(&t.provinces[i]))
}

fn region_territory(r: &Region) -> Territory {
    Territory {
        region: Some(r.code.to_owned()),
        ..Territory::default()
    }
}

fn province_territory(p: &Province) -> Territory {
    Territory {
        region: Some(p.region.to_owned()),
        province: Some(p.code.to_owned()),
        ..Territory::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_load() {
        assert_eq!(regions().len(), 20);
        assert_eq!(region_name("16"), Some("Puglia"));
        assert_eq!(comune("072006").map(|c| c.name), Some("Bari"));
        assert_eq!(comune("072006").map(|c| c.region), Some("16"));
        assert!(TABLES.comuni.len() > 7900);
    }

    #[test]
    fn codes_from_config() {
        assert!(from_code("IT").unwrap().national);
        assert_eq!(from_code("08").unwrap().region.as_deref(), Some("08"));
        let bari = from_code("072006").unwrap();
        assert_eq!(
            (bari.region.as_deref(), bari.province.as_deref()),
            (Some("16"), Some("272"))
        );
        // A merged comune's newer code: accepted, no names known.
        assert_eq!(
            from_code("099999").unwrap().comune.as_deref(),
            Some("099999")
        );
        assert!(from_code("21").is_err());
        assert!(from_code("puglia").is_err());
    }

    #[test]
    fn names_match_accent_and_case_insensitively() {
        let forli = match_name("Comune di FORLI", None).unwrap();
        assert_eq!(forli.comune.as_deref(), Some("040012"));
        assert_eq!(forli.region.as_deref(), Some("08"));
        assert_eq!(
            match_name("Regione Puglia", None)
                .unwrap()
                .region
                .as_deref(),
            Some("16")
        );
        assert_eq!(
            match_name("emilia-romagna", None)
                .unwrap()
                .region
                .as_deref(),
            Some("08")
        );
        assert_eq!(
            match_name("Città metropolitana di Bologna", None)
                .unwrap()
                .province
                .as_deref(),
            Some("237")
        );
        assert_eq!(
            match_name("Bozen", None).unwrap().comune.as_deref(),
            Some("021008")
        );
        assert!(match_name("Italia", None).unwrap().national);
        assert_eq!(match_name("Quartiere Navile", None), None);
    }

    #[test]
    fn homonyms_resolve_only_within_a_region() {
        // "Castro" is a comune in Lombardia (BG) and in Puglia (LE).
        assert_eq!(match_name("Castro", None), None);
        assert_eq!(
            match_name("Castro", Some("16")).unwrap().region.as_deref(),
            Some("16")
        );
    }
}
