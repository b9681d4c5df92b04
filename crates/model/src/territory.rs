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
    /// The UTS code (`codice_uts`): metropolitan cities have their own (Bologna `237`).
    pub code: &'static str,
    pub name: &'static str,
    pub region: &'static str,
    /// The vehicle-registration sigla (`BO`).
    pub sigla: &'static str,
    /// The historical province code (`037` for Bologna); the UTS code where they agree.
    pub historical: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comune {
    pub code: &'static str,
    /// The Italian name (`Merano`).
    pub name: &'static str,
    /// The official name, every language (`Merano/Meran`).
    pub official: &'static str,
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

/// Every name a bilingual or trilingual official name is known by: the whole (`Merano/Meran`)
/// and each part, split at `/` (German, French, Ladin) or at the `-` that joins an Italian and a
/// Slovene name (`Duino Aurisina-Devin Nabrežina`, only where `parts` says so).
fn name_forms(official: &str, parts: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |n: &str| {
        let f = fold_for_matching(n);
        if !f.is_empty() && !out.contains(&f) {
            out.push(f);
        }
    };
    push(official);
    for n in official.split('/') {
        push(n);
    }
    for p in parts {
        for n in p.split('/') {
            push(n);
        }
    }
    out
}

/// Names people use that are not the official ones (folded), with the UTS code they mean.
const PROVINCE_ALIASES: &[(&str, &str)] = &[
    ("reggio emilia", "035"),
    ("reggio calabria", "280"),
    ("reggio di calabria", "280"),
    ("pesaro urbino", "041"),
    ("monza brianza", "108"),
    ("monza e brianza", "108"),
    ("forli", "040"),
    ("bat", "110"),
    ("alto adige", "021"),
    ("sudtirol", "021"),
    ("suedtirol", "021"),
    ("bolzano alto adige", "021"),
    ("trentino", "022"),
    ("aosta", "007"),
];

/// The same for comuni, with their ISTAT code.
const COMUNE_ALIASES: &[(&str, &str)] = &[
    ("reggio emilia", "035033"),
    ("reggio calabria", "080063"),
    ("bozen", "021008"),
    ("roma capitale", "058091"),
];

/// The same for regions, with their code.
const REGION_ALIASES: &[(&str, &str)] = &[
    ("valle d aosta", "02"),
    ("val d aosta", "02"),
    ("vallee d aoste", "02"),
    ("trentino alto adige", "04"),
    ("trentino sudtirol", "04"),
    ("trentino sudtirolo", "04"),
    ("friuli venezia giulia", "06"),
    ("friuli", "06"),
    ("friul venezia julia", "06"),
    ("emilia romagna", "08"),
];

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let regions: Vec<Region> = rows(REGIONS_CSV)
        .map(|r| Region {
            code: r[0],
            name: r[1],
        })
        .collect();
    // codice_regione,codice_uts,codice_provincia_storico,codice_comune_alfanumerico,denominazione,denominazione_it,denominazione_altra_lingua,...
    let comune_rows: Vec<Vec<&'static str>> = rows(COMUNI_CSV).collect();
    let historical_of = |uts: &'static str| -> &'static str {
        comune_rows
            .iter()
            .find(|r| r[1] == uts)
            .map_or(uts, |r| r[2])
    };
    let provinces: Vec<Province> = rows(PROVINCES_CSV)
        .map(|r| Province {
            code: r[0],
            name: r[1],
            region: r[3],
            sigla: r[2],
            historical: historical_of(r[0]),
        })
        .collect();
    let comuni: Vec<Comune> = comune_rows
        .iter()
        .map(|r| Comune {
            code: r[3],
            name: r[5],
            official: r[4],
            province: r[1],
            region: r[0],
        })
        .collect();
    let mut comuni_by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in comune_rows.iter().enumerate() {
        for f in name_forms(r[4], &[r[5], r[6]]) {
            let e = comuni_by_name.entry(f).or_default();
            if !e.contains(&i) {
                e.push(i);
            }
        }
    }
    let comune_by_code: HashMap<&'static str, usize> = comuni
        .iter()
        .enumerate()
        .map(|(i, c)| (c.code, i))
        .collect();
    for (alias, code) in COMUNE_ALIASES {
        if let Some(&i) = comune_by_code.get(code) {
            let e = comuni_by_name.entry((*alias).to_owned()).or_default();
            if !e.contains(&i) {
                e.push(i);
            }
        }
    }
    let mut regions_by_name = HashMap::new();
    for (i, r) in regions.iter().enumerate() {
        for f in name_forms(r.name, &[]) {
            regions_by_name.insert(f, i);
        }
    }
    for (alias, code) in REGION_ALIASES {
        if let Some(i) = regions.iter().position(|r| r.code == *code) {
            regions_by_name.entry((*alias).to_owned()).or_insert(i);
        }
    }
    let mut provinces_by_name = HashMap::new();
    for (i, p) in provinces.iter().enumerate() {
        for f in name_forms(p.name, &[]) {
            provinces_by_name.insert(f, i);
        }
    }
    for (alias, code) in PROVINCE_ALIASES {
        if let Some(i) = provinces.iter().position(|p| p.code == *code) {
            provinces_by_name.entry((*alias).to_owned()).or_insert(i);
        }
    }
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

/// Every province and metropolitan city (UTS), in ISTAT order.
pub fn provinces() -> &'static [Province] {
    &TABLES.provinces
}

/// Every comune of the 2020 table, in ISTAT order.
pub fn comuni() -> &'static [Comune] {
    &TABLES.comuni
}

pub fn region_name(code: &str) -> Option<&'static str> {
    TABLES
        .regions
        .iter()
        .find(|r| r.code == code)
        .map(|r| r.name)
}

/// A province by its UTS code.
pub fn province(code: &str) -> Option<&'static Province> {
    TABLES.provinces.iter().find(|p| p.code == code)
}

/// A province by its UTS code, its historical code (`037` for Bologna, whose UTS code is `237`)
/// or its sigla (`BO`, any case).
pub fn province_by_any(code: &str) -> Option<&'static Province> {
    let code = code.trim();
    province(code)
        .or_else(|| TABLES.provinces.iter().find(|p| p.historical == code))
        .or_else(|| {
            (code.len() == 2)
                .then(|| {
                    TABLES
                        .provinces
                        .iter()
                        .find(|p| p.sigla.eq_ignore_ascii_case(code))
                })
                .flatten()
        })
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

/// Prefixes naming the kind of entity, in the official languages (folded).
const REGION_PREFIXES: &[&str] = &[
    "regione autonoma ",
    "regione ",
    "region autonome ",
    "region ",
    "autonome region ",
];
const PROVINCE_PREFIXES: &[&str] = &[
    "provincia autonoma di ",
    "autonome provinz ",
    "provincia di ",
    "citta metropolitana di ",
    "provincia del ",
    "provincia dell ",
    "provincia della ",
    "libero consorzio comunale di ",
    "provincia ",
    "provinz ",
];
const COMUNE_PREFIXES: &[&str] = &[
    "comune di ",
    "comune del ",
    "comune dell ",
    "comune della ",
    "comune ",
    "citta di ",
    "gemeinde ",
    "stadtgemeinde ",
    "marktgemeinde ",
    "stadt ",
    "obcina ",
    "commune de ",
    "comun de ",
    "comun ",
];

/// Matches a scope name from a platform ("Comune di Forlì", "Regione Puglia", "Bari",
/// "Città metropolitana di Bologna", "Merano/Meran", "Comune di Merano - Gemeinde Meran") against
/// ISTAT names in every official language, ignoring case and accents. `within` limits comune
/// matches to one region, which resolves homonyms when the source's region is known.
pub fn match_name(name: &str, within: Option<&str>) -> Option<Territory> {
    if let Some(t) = match_one(name, within) {
        return Some(t);
    }
    // Bilingual forms written out: "Comune di Bolzano - Gemeinde Bozen", "Merano / Meran".
    let parts: Vec<&str> = name
        .split(" - ")
        .flat_map(|p| p.split('/'))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() < 2 {
        return None;
    }
    let found: Vec<Territory> = parts.iter().filter_map(|p| match_one(p, within)).collect();
    match found.as_slice() {
        [first, rest @ ..] if rest.iter().all(|t| t == first) => Some(first.clone()),
        _ => None,
    }
}

/// The comune a postal address names (`Via Roma 1, 40033 Casalecchio di Reno (BO)`,
/// `Piazza del Grano 1 - Bolzano/Bozen`), if it lies within `within`, the territory of what the
/// address belongs to (a meeting's process): an address only ever makes a place finer, never moves
/// it elsewhere. The comune must be a whole part of the address between commas or dashes, after
/// its postal code and province sigla are set aside, so the street in `Via Roma` is never Rome;
/// a sigla, when given, must agree and picks among homonyms.
pub fn match_address(address: &str, within: &Territory) -> Option<Territory> {
    let t = &*TABLES;
    let region = within.region.as_deref();
    // the town comes last in Italian addresses: try the parts from the end
    let parts: Vec<&str> = address
        .split([',', ';', '\n', '–', '—'])
        .flat_map(|p| p.split(" - "))
        .map(str::trim)
        .collect();
    for &part in parts.iter().rev() {
        let (name, sigla) = address_part(part);
        if name.is_empty() {
            continue;
        }
        let found = match sigla {
            Some(sigla) => {
                let folded = fold_for_matching(name);
                let key = COMUNE_PREFIXES
                    .iter()
                    .find_map(|p| folded.strip_prefix(p))
                    .map_or(folded.as_str(), str::trim);
                let in_province: Vec<&Comune> = t
                    .comuni_by_name
                    .get(key)
                    .into_iter()
                    .flatten()
                    .map(|&i| &t.comuni[i])
                    .filter(|c| province(c.province).is_some_and(|p| p.sigla == sigla))
                    .collect();
                match in_province.as_slice() {
                    [c] => Some(comune_territory(c)),
                    _ => None,
                }
            }
            None => match_name(name, region),
        };
        let Some(found) = found.filter(|f| f.comune.is_some()) else {
            continue;
        };
        let inside = match (&within.comune, &within.province, &within.region) {
            (Some(c), _, _) => found.comune.as_ref() == Some(c),
            (None, Some(p), _) => found.province.as_ref() == Some(p),
            (None, None, Some(r)) => found.region.as_ref() == Some(r),
            (None, None, None) => true,
        };
        return inside.then_some(found);
    }
    None
}

/// One part of an address without its postal code and province sigla: `40033 Casalecchio di
/// Reno (BO)` → (`Casalecchio di Reno`, `BO`).
fn address_part(part: &str) -> (&str, Option<&'static str>) {
    let mut s = part.trim();
    // a leading or trailing CAP
    let is_cap = |w: &str| w.len() == 5 && w.bytes().all(|b| b.is_ascii_digit());
    if let Some((first, rest)) = s.split_once(char::is_whitespace) {
        if is_cap(first) {
            s = rest.trim();
        }
    }
    if let Some((rest, last)) = s.rsplit_once(char::is_whitespace) {
        if is_cap(last) {
            s = rest.trim();
        }
    }
    // a trailing sigla, bare or in parentheses: `Bologna BO`, `Bologna (BO)`
    let mut sigla = None;
    if let Some((rest, last)) = s.rsplit_once(char::is_whitespace) {
        let code = last.trim_start_matches('(').trim_end_matches(')');
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            if let Some(p) = provinces().iter().find(|p| p.sigla == code) {
                sigla = Some(p.sigla);
                s = rest.trim();
            }
        }
    }
    (s, sigla)
}

fn match_one(name: &str, within: Option<&str>) -> Option<Territory> {
    let t = &*TABLES;
    let folded = fold_for_matching(name);
    if folded.is_empty() {
        return None;
    }
    if matches!(
        folded.as_str(),
        "italia" | "italy" | "nazionale" | "tutta italia" | "territorio nazionale" | "italien"
    ) {
        return Some(Territory {
            national: true,
            ..Territory::default()
        });
    }
    // Comuni whose name starts like a prefix: "Città di Castello", "Comun Nuovo".
    if t.comuni_by_name.contains_key(&folded) {
        return comune_named(&folded, within);
    }
    let strip = |prefixes: &[&str]| {
        prefixes
            .iter()
            .find_map(|p| folded.strip_prefix(p).map(|r| r.trim().to_owned()))
    };
    if let Some(rest) = strip(REGION_PREFIXES) {
        return t
            .regions_by_name
            .get(&rest)
            .map(|&i| region_territory(&t.regions[i]));
    }
    if let Some(rest) = strip(PROVINCE_PREFIXES) {
        return t
            .provinces_by_name
            .get(&rest)
            .map(|&i| province_territory(&t.provinces[i]));
    }
    let comune_name = strip(COMUNE_PREFIXES);
    if comune_name.is_none() {
        if let Some(&i) = t.regions_by_name.get(&folded) {
            return Some(region_territory(&t.regions[i]));
        }
    }
    let key = comune_name.unwrap_or(folded);
    if t.comuni_by_name.contains_key(&key) {
        return comune_named(&key, within);
    }
    t.provinces_by_name
        .get(&key)
        .map(|&i| province_territory(&t.provinces[i]))
}

/// The one comune with this folded name (within a region when given); homonyms in different
/// regions give nothing rather than a guess.
fn comune_named(key: &str, within: Option<&str>) -> Option<Territory> {
    let t = &*TABLES;
    let candidates: Vec<&Comune> = t
        .comuni_by_name
        .get(key)?
        .iter()
        .map(|&i| &t.comuni[i])
        .filter(|c| within.is_none_or(|r| c.region == r))
        .collect();
    match candidates.as_slice() {
        [c] => Some(comune_territory(c)),
        _ => None,
    }
}

/// A place a user names (the API's `place=`), resolved to one entity, or why not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// Several entities have this name; each candidate says which.
    #[error("`{name}` names more than one place: {}", candidates.join("; "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    /// A postal code (CAP): no openly licensed list maps them to comuni (Poste Italiane publishes
    /// none, and the community lists say their CAP data has no clear licence), so Snodo ships none.
    #[error("`{0}` looks like a postal code (CAP), which Snodo cannot resolve: no openly licensed list of postal codes exists; give the comune's name or its 6-digit ISTAT code")]
    PostalCode(String),
    /// Nothing has this name or code; the nearest names, if any are close.
    #[error("no comune, province or region is called `{name}`{}", suggest(nearest))]
    Unknown { name: String, nearest: Vec<String> },
}

fn suggest(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", nearest.join(", "))
    }
}

/// How a candidate is named in messages: `Castro (BG, Lombardia; 016065)`.
pub fn describe_comune(c: &Comune) -> String {
    let sigla = province(c.province).map_or("", |p| p.sigla);
    let region = region_name(c.region).unwrap_or("");
    format!("{} ({sigla}, {region}; comune={})", c.official, c.code)
}

fn describe_province(p: &Province) -> String {
    format!("{} ({}; province={})", p.name, p.sigla, p.code)
}

/// Resolves what a citizen types for "near me": an ISTAT code (comune, province in any of its
/// codes or sigla, region), `IT`, or a name in any official language ("Merano", "Meran",
/// "Casalecchio di Reno", "Provincia di Lecce", "Südtirol"). A name several comuni share is
/// ambiguous, never guessed; a province and its capital share a name, and the comune is meant.
pub fn resolve_place(text: &str) -> Result<Territory, PlaceError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("IT") {
        return Ok(Territory {
            national: true,
            ..Territory::default()
        });
    }
    if text.len() == 5 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PlaceError::PostalCode(text.to_owned()));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let found = match text.len() {
            6 => comune(text).map(comune_territory),
            3 => province_by_any(text).map(province_territory),
            2 => region_name(text).map(|_| Territory {
                region: Some(text.to_owned()),
                ..Territory::default()
            }),
            _ => None,
        };
        return found.ok_or_else(|| PlaceError::Unknown {
            name: text.to_owned(),
            nearest: Vec::new(),
        });
    }
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase()) {
        if let Some(p) = province_by_any(text) {
            return Ok(province_territory(p));
        }
    }
    let t = &*TABLES;
    let folded = fold_for_matching(text);
    let bare = if t.comuni_by_name.contains_key(&folded) {
        &folded
    } else {
        COMUNE_PREFIXES
            .iter()
            .find_map(|p| folded.strip_prefix(p))
            .unwrap_or(&folded)
    };
    if let Some(found) = t.comuni_by_name.get(bare) {
        if let [i] = found.as_slice() {
            return Ok(comune_territory(&t.comuni[*i]));
        }
        return Err(PlaceError::Ambiguous {
            name: text.to_owned(),
            candidates: found
                .iter()
                .map(|&i| describe_comune(&t.comuni[i]))
                .collect(),
        });
    }
    if let Some(found) = match_name(text, None) {
        return Ok(found);
    }
    Err(PlaceError::Unknown {
        name: text.to_owned(),
        nearest: nearest_names(&folded),
    })
}

/// Up to five names close to a folded name that matched nothing (a typo, a missing word).
fn nearest_names(folded: &str) -> Vec<String> {
    let t = &*TABLES;
    let max = (folded.chars().count() / 4).clamp(1, 3);
    let len = folded.chars().count();
    // The whole name, or its start when only the start was typed ("Casalechio" for
    // "Casalecchio di Reno"), which costs one more.
    let distance = |name: &str| {
        let name = fold_for_matching(name);
        let whole = strsim::levenshtein(folded, &name);
        let start: String = name.chars().take(len + 1).collect();
        if start.len() < name.len() {
            whole.min(strsim::levenshtein(folded, &start) + 1)
        } else {
            whole
        }
    };
    let mut scored: Vec<(usize, String)> = Vec::new();
    for c in &t.comuni {
        let d = distance(c.name);
        if d <= max {
            scored.push((d, describe_comune(c)));
        }
    }
    for p in &t.provinces {
        let d = distance(p.name);
        if d <= max {
            scored.push((d, describe_province(p)));
        }
    }
    scored.sort();
    scored.into_iter().take(5).map(|(_, s)| s).collect()
}

fn comune_territory(c: &Comune) -> Territory {
    Territory {
        region: Some(c.region.to_owned()),
        province: Some(c.province.to_owned()),
        comune: Some(c.code.to_owned()),
        ..Territory::default()
    }
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
    fn addresses_name_the_comune_within_the_place_they_belong_to() {
        let at = |code: &str| resolve_place(code).unwrap();
        let comune = |a: &str, within: &Territory| match_address(a, within).and_then(|t| t.comune);
        let emilia = at("08");
        for a in [
            "Via Roma 1, 40033 Casalecchio di Reno (BO)",
            "Via Roma 1, 40033 Casalecchio di Reno BO, Italia",
            "Casa della Conoscenza, via Porrettana 360 - Casalecchio di Reno",
            "Comune di Casalecchio di Reno",
            "Piazza del Popolo 1\n40033 Casalecchio di Reno",
        ] {
            assert_eq!(comune(a, &emilia).as_deref(), Some("037011"), "{a}");
        }
        // the metropolitan city holds it; the Italian or German name, in either order
        assert_eq!(
            comune("Via Nazionale 2, Casalecchio di Reno", &at("237")).as_deref(),
            Some("037011")
        );
        assert_eq!(
            comune("Rennweg 10, 39012 Meran", &at("04")).as_deref(),
            Some("021051")
        );
        assert_eq!(
            comune("Piazza del Grano - Merano/Meran", &Territory::default()).as_deref(),
            Some("021051")
        );
        // a sigla picks among homonyms; without one, a homonym gives nothing
        assert_eq!(
            comune("Piazza Municipio, 73030 Castro (LE)", &Territory::default()).as_deref(),
            Some("075096")
        );
        assert_eq!(
            comune("Piazza Municipio, Castro", &Territory::default()),
            None
        );
        assert_eq!(
            comune("Piazza Municipio, Castro (MI)", &Territory::default()),
            None
        );
        // a street named after a town is not the town; nor is a bare CAP, a region or Italy
        for a in [
            "Via Roma 1",
            "Viale Bologna 12",
            "40033",
            "Emilia-Romagna",
            "Italia",
            "",
            "online",
        ] {
            assert_eq!(comune(a, &Territory::default()), None, "{a}");
        }
        // never outside what it belongs to: a Bologna process meeting in Modena stays Bologna's
        assert_eq!(comune("Piazza Grande, 41121 Modena", &at("237")), None);
        assert_eq!(comune("Piazza Grande, 41121 Modena", &at("037006")), None);
        assert_eq!(
            comune("Piazza Maggiore 6, 40124 Bologna", &at("037006")).as_deref(),
            Some("037006")
        );
        assert_eq!(comune("Via Sparano, Bari", &emilia), None);
    }

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

    /// Every row of the ISTAT comuni and province files: each official name, each part of a
    /// bilingual name and each code resolves to that entity. A name several comuni share
    /// resolves within the comune's region (as a source's region resolves it), and `place=`
    /// answers it as ambiguous with this comune among the candidates.
    #[test]
    fn every_istat_comune_and_province_resolves_by_every_name_and_code() {
        let (mut checked, mut homonyms, mut misses) = (0, 0, Vec::new());
        for (row, c) in rows(COMUNI_CSV).zip(comuni()) {
            let mut names = vec![row[4], row[5]];
            names.extend(row[4].split('/'));
            names.extend(row[6].split('/').filter(|n| !n.is_empty()));
            for name in names {
                checked += 1;
                let shared = TABLES.comuni_by_name[&fold_for_matching(name)].len() > 1;
                let got = if shared {
                    homonyms += 1;
                    match resolve_place(name) {
                        Err(PlaceError::Ambiguous { candidates, .. })
                            if candidates.iter().any(|d| d.contains(c.code)) => {}
                        other => misses.push(format!("place={name}: {other:?}")),
                    }
                    match_name(name, Some(c.region))
                } else {
                    resolve_place(name).ok()
                };
                if got.as_ref().and_then(|t| t.comune.as_deref()) != Some(c.code) {
                    misses.push(format!("{name} → {got:?}, not {}", c.code));
                }
            }
            checked += 1;
            if resolve_place(c.code).ok().and_then(|t| t.comune) != Some(c.code.to_owned()) {
                misses.push(format!("code {}", c.code));
            }
        }
        for p in provinces() {
            let want = Some(p.code.to_owned());
            let mut forms: Vec<String> = vec![
                p.code.into(),
                p.historical.into(),
                p.sigla.into(),
                format!("Provincia di {}", p.name),
            ];
            forms.extend(p.name.split('/').map(|n| format!("Provincia di {n}")));
            for f in forms {
                checked += 1;
                let got = resolve_place(&f).ok().and_then(|t| t.province);
                if got != want {
                    misses.push(format!("province {f} → {got:?}, not {}", p.code));
                }
            }
        }
        for r in regions() {
            for n in std::iter::once(r.name).chain(r.name.split('/')) {
                checked += 1;
                if resolve_place(n).ok().and_then(|t| t.region) != Some(r.code.to_owned()) {
                    misses.push(format!("region {n}"));
                }
            }
        }
        println!("ISTAT names and codes checked: {checked} ({homonyms} shared by several comuni); misses: {}", misses.len());
        assert!(checked > 16_000, "{checked}");
        assert!(
            misses.is_empty(),
            "{} misses:\n{}",
            misses.len(),
            misses.join("\n")
        );
    }

    #[test]
    fn bilingual_and_common_forms_match() {
        let comune = |s: &str| match_name(s, None).and_then(|t| t.comune);
        for (s, code) in [
            ("Merano/Meran", "021051"),
            ("Meran", "021051"),
            ("Comune di Merano - Gemeinde Meran", "021051"),
            ("Gemeinde Bozen", "021008"),
            ("Bolzano/Bozen", "021008"),
            ("Reggio Emilia", "035033"),
            ("Reggio nell'Emilia", "035033"),
            ("Comune di Casalecchio di Reno", "037011"),
            ("Duino Aurisina", "032001"),
            ("Sgonico-Zgonik", "032005"),
            ("Zgonik", "032005"),
        ] {
            assert_eq!(comune(s).as_deref(), Some(code), "{s}");
        }
        let region = |s: &str| match_name(s, None).and_then(|t| t.region);
        for (s, code) in [
            ("Valle d'Aosta/Vallée d'Aoste", "02"),
            ("Vallée d'Aoste", "02"),
            ("Trentino-Alto Adige/Südtirol", "04"),
            ("Regione autonoma Friuli Venezia Giulia", "06"),
        ] {
            assert_eq!(region(s).as_deref(), Some(code), "{s}");
        }
        let province = |s: &str| match_name(s, None).and_then(|t| t.province);
        assert_eq!(
            province("Città metropolitana di Bologna").as_deref(),
            Some("237")
        );
        assert_eq!(
            province("Provincia autonoma di Bolzano").as_deref(),
            Some("021")
        );
        assert_eq!(province("Alto Adige").as_deref(), Some("021"));
        assert_eq!(province_by_any("037").map(|p| p.code), Some("237"));
        assert_eq!(province_by_any("bo").map(|p| p.code), Some("237"));
    }

    #[test]
    fn places_people_type_resolve_or_say_why_not() {
        assert_eq!(
            resolve_place("Casalecchio di Reno")
                .unwrap()
                .comune
                .as_deref(),
            Some("037011")
        );
        assert_eq!(
            resolve_place("LE").unwrap().province.as_deref(),
            Some("075")
        );
        assert!(resolve_place("IT").unwrap().national);
        match resolve_place("Castro") {
            Err(PlaceError::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates.len(), 2, "{candidates:?}");
                assert!(candidates.iter().any(|c| c.contains("LE, Puglia")));
            }
            other => panic!("{other:?}"),
        }
        match resolve_place("Casalechio di Reno") {
            Err(PlaceError::Unknown { nearest, .. }) => {
                assert!(nearest[0].starts_with("Casalecchio di Reno"), "{nearest:?}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve_place("999999"),
            Err(PlaceError::Unknown { .. })
        ));
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
