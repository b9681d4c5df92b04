//! The hub's open-data catalogue in DCAT-AP_IT, the Italian profile of DCAT-AP that dati.gov.it
//! harvests: one dataset for the whole catalogue and one per source, each with its distributions
//! (CSV, JSON Lines, Atom, iCalendar), licence, publisher, rights holder, theme and update
//! frequency. Written as Turtle (`/catalog.ttl`) and JSON-LD (`/catalog.jsonld`).
//!
//! Licences follow the sources: a source whose licence nobody established is published with AgID's
//! "Licenza sconosciuta" (C.1.1), never with one Snodo would be asserting over others' texts.

use chrono::{DateTime, NaiveDate, Utc};
use oxrdf::{Literal, NamedNode, NamedOrBlankNode, Term, Triple};
use snodo_model::licence::{Licence, METADATA};

/// The administration that publishes the catalogue (`[catalog]` in the configuration).
#[derive(Debug, Clone)]
pub struct Publisher {
    pub name: String,
    /// Its IPA code.
    pub id: String,
    pub email: String,
}

/// What the catalogue says about one source.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    pub id: String,
    pub name: String,
    pub url: String,
    pub licence: Option<&'static Licence>,
    /// The time between two scheduled harvests; `None` for a source harvested only on demand.
    pub update_every: Option<chrono::Duration>,
    pub last_success: Option<DateTime<Utc>>,
    pub records: u64,
}

/// A term the catalogue could not write (an address that is not an IRI).
#[derive(Debug, thiserror::Error)]
#[error("the catalogue cannot name `{0}`: {1}")]
pub struct CatalogError(String, String);

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const DCATAPIT: &str = "http://dati.gov.it/onto/dcatapit#";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
const XSD_DATE: &str = "http://www.w3.org/2001/XMLSchema#date";
const EU: &str = "http://publications.europa.eu/resource/authority/";
const LICENCES: &str = "https://w3id.org/italia/controlled-vocabulary/licences/";

/// The prefixes both serialisations declare.
const PREFIXES: &[(&str, &str)] = &[
    ("dcat", DCAT),
    ("dct", DCT),
    ("dcatapit", DCATAPIT),
    ("foaf", FOAF),
    ("vcard", VCARD),
    ("skos", SKOS),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
];

/// AgID's licence vocabulary entry (IRI, type) for a licence Snodo knows; `None` for one the
/// vocabulary lacks, which is then described by its own page.
fn agid_licence(spdx: &str) -> Option<(&'static str, &'static str)> {
    Some(match spdx {
        "CC0-1.0" => ("A11_CCO10", "A1_PublicDomain"),
        "CC-BY-4.0" => ("A21_CCBY40", "A2_Attribution"),
        "CC-BY-3.0" => ("A22_CCBY30", "A2_Attribution"),
        "CC-BY-3.0-IT" => ("A23_CCBY30IT", "A2_Attribution"),
        "IODL-2.0" => ("A29_IODL20", "A2_Attribution"),
        "CC-BY-SA-4.0" => ("A31_CCBYSA40", "A3_ShareAlike"),
        "CC-BY-SA-3.0" => ("A32_CCBYSA30", "A3_ShareAlike"),
        "ODbL-1.0" => ("A310_ODBL", "A3_ShareAlike"),
        _ => return None,
    })
}

/// The EU frequency for a harvest period: how often the dataset may change.
fn frequency(every: Option<chrono::Duration>) -> &'static str {
    match every.map(|d| d.num_minutes()) {
        None => "IRREG",
        Some(m) if m <= 60 => "HOURLY",
        Some(m) if m <= 24 * 60 => "DAILY",
        Some(m) if m <= 7 * 24 * 60 => "WEEKLY",
        Some(m) if m <= 31 * 24 * 60 => "MONTHLY",
        Some(_) => "IRREG",
    }
}

#[derive(Default)]
struct Graph {
    triples: Vec<Triple>,
    /// What has been described already (a term's class, a label, a licence document), so that
    /// each is stated once however many datasets link to it.
    described: std::collections::HashSet<String>,
}

impl Graph {
    fn iri(s: &str) -> Result<NamedNode, CatalogError> {
        NamedNode::new(s).map_err(|e| CatalogError(s.to_owned(), e.to_string()))
    }

    /// True the first time `what` is asked about `node`.
    fn first_time(&mut self, node: &NamedNode, what: &str) -> bool {
        self.described.insert(format!("{} {what}", node.as_str()))
    }

    fn add(&mut self, s: &NamedNode, p: &str, o: impl Into<Term>) {
        self.triples.push(Triple::new(
            NamedOrBlankNode::NamedNode(s.clone()),
            NamedNode::new_unchecked(p),
            o.into(),
        ));
    }

    fn link(&mut self, s: &NamedNode, p: &str, o: &str) -> Result<(), CatalogError> {
        let o = Self::iri(o)?;
        self.add(s, p, o);
        Ok(())
    }

    /// A link to a term of a controlled vocabulary (or a page), stating the term's class once,
    /// as DCAT-AP's range constraints want it stated in the data.
    fn term(&mut self, s: &NamedNode, p: &str, o: &str, class: &str) -> Result<(), CatalogError> {
        let node = Self::iri(o)?;
        if self.first_time(&node, class) {
            self.add(&node, RDF_TYPE, NamedNode::new_unchecked(class));
        }
        self.add(s, p, node);
        Ok(())
    }

    /// Labels a vocabulary term once (SKOS concepts need a `prefLabel`, schemes a `title`).
    fn label(&mut self, o: &str, p: &str, it: &str, en: &str) -> Result<(), CatalogError> {
        let node = Self::iri(o)?;
        if self.first_time(&node, p) {
            self.text(&node, p, it, "it");
            self.text(&node, p, en, "en");
        }
        Ok(())
    }

    fn types(&mut self, s: &NamedNode, types: &[&str]) {
        for t in types {
            self.add(s, RDF_TYPE, NamedNode::new_unchecked(*t));
        }
    }

    fn text(&mut self, s: &NamedNode, p: &str, value: &str, lang: &str) {
        self.add(
            s,
            p,
            Literal::new_language_tagged_literal_unchecked(value, lang),
        );
    }

    fn plain(&mut self, s: &NamedNode, p: &str, value: &str) {
        self.add(s, p, Literal::new_simple_literal(value));
    }

    fn date(&mut self, s: &NamedNode, p: &str, d: NaiveDate) {
        self.add(
            s,
            p,
            Literal::new_typed_literal(
                d.format("%Y-%m-%d").to_string(),
                NamedNode::new_unchecked(XSD_DATE),
            ),
        );
    }
}

fn t(prefix: &str, local: &str) -> String {
    format!("{prefix}{local}")
}

/// The catalogue as RDF triples. `base` is the hub's public address without a trailing slash.
pub fn build(
    base: &str,
    publisher: &Publisher,
    sources: &[SourceEntry],
    today: NaiveDate,
) -> Result<Vec<Triple>, CatalogError> {
    let mut g = Graph::default();
    let catalog = Graph::iri(&format!("{base}/catalog"))?;
    let agent = Graph::iri(&format!("{base}/catalog/publisher"))?;
    let contact = Graph::iri(&format!("{base}/catalog/contact"))?;
    let modified = |last: Option<DateTime<Utc>>| last.map_or(today, |d| d.date_naive());
    let newest = sources.iter().filter_map(|s| s.last_success).max();

    g.types(&catalog, &[&t(DCAT, "Catalog"), &t(DCATAPIT, "Catalog")]);
    g.text(
        &catalog,
        &t(DCT, "title"),
        "Snodo: i processi partecipativi delle amministrazioni italiane",
        "it",
    );
    g.text(
        &catalog,
        &t(DCT, "title"),
        "Snodo: participatory processes of Italian administrations",
        "en",
    );
    g.text(&catalog, &t(DCT, "description"), "Processi partecipativi, consultazioni, assemblee e incontri pubblicati dalle piattaforme di partecipazione delle amministrazioni italiane, raccolti e resi cercabili in un unico schema.", "it");
    g.text(&catalog, &t(DCT, "description"), "Participatory processes, consultations, assemblies and meetings published by the participation platforms of Italian administrations, harvested into one schema and made searchable.", "en");
    g.add(&catalog, &t(DCT, "publisher"), agent.clone());
    g.date(&catalog, &t(DCT, "modified"), modified(newest));
    g.term(
        &catalog,
        &t(FOAF, "homepage"),
        &format!("{base}/"),
        &t(FOAF, "Document"),
    )?;
    for lang in ["ITA", "ENG"] {
        g.term(
            &catalog,
            &t(DCT, "language"),
            &format!("{EU}language/{lang}"),
            &t(DCT, "LinguisticSystem"),
        )?;
    }
    g.term(
        &catalog,
        &t(DCAT, "themeTaxonomy"),
        &format!("{EU}data-theme"),
        &t(SKOS, "ConceptScheme"),
    )?;
    g.label(
        &format!("{EU}data-theme"),
        &t(DCT, "title"),
        "Temi dei dati",
        "Data themes",
    )?;
    // What Snodo writes itself (this description included) is CC0.
    let own = licence_node(&mut g, Some(&METADATA))?;
    g.add(&catalog, &t(DCT, "license"), own);

    g.types(&agent, &[&t(DCATAPIT, "Agent"), &t(FOAF, "Agent")]);
    g.plain(&agent, &t(DCT, "identifier"), &publisher.id);
    g.text(&agent, &t(FOAF, "name"), &publisher.name, "it");

    g.types(
        &contact,
        &[
            &t(DCATAPIT, "Organization"),
            &t(VCARD, "Organization"),
            &t(VCARD, "Kind"),
        ],
    );
    g.text(&contact, &t(VCARD, "fn"), &publisher.name, "it");
    g.link(
        &contact,
        &t(VCARD, "hasEmail"),
        &format!("mailto:{}", publisher.email),
    )?;

    let every = sources.iter().filter_map(|s| s.update_every).min();
    let all = Dataset {
        slug: "all",
        identifier: format!("{}:snodo", publisher.id),
        title_it: "Tutti i processi partecipativi".into(),
        title_en: "Every participatory process".into(),
        description_it: format!("Tutti i processi, le consultazioni, le assemblee e gli incontri di {} piattaforme, ciascuno con la licenza e l'attribuzione della propria fonte.", sources.len()),
        description_en: format!("Every process, consultation, assembly and meeting of {} platforms, each with its own source's licence and attribution.", sources.len()),
        modified: modified(newest),
        every,
        rights_holder: agent.clone(),
        licence: None,
        landing: format!("{base}/"),
        filter: String::new(),
        mixed_licences: true,
    };
    write_dataset(&mut g, base, &catalog, &agent, &contact, &all)?;
    for s in sources {
        let holder = Graph::iri(&format!("{base}/catalog/agent/{}", s.id))?;
        g.types(&holder, &[&t(DCATAPIT, "Agent"), &t(FOAF, "Agent")]);
        // The platform's own address names it: its IPA code is not something Snodo knows.
        let host = url::Url::parse(&s.url)
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.to_owned();
                Some(match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| s.id.clone());
        g.plain(&holder, &t(DCT, "identifier"), &host);
        g.text(&holder, &t(FOAF, "name"), &s.name, "it");
        g.link(&holder, &t(FOAF, "homepage"), &s.url)?;
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("source", &s.id)
            .finish();
        let d = Dataset {
            slug: &s.id,
            identifier: format!("{}:snodo-{}", publisher.id, s.id),
            title_it: format!("Processi partecipativi di {}", s.name),
            title_en: format!("Participatory processes of {}", s.name),
            description_it: format!("I processi, le consultazioni, le assemblee e gli incontri pubblicati da {} ({}), {} alla data dell'ultima raccolta.", s.name, s.url, s.records),
            description_en: format!("The processes, consultations, assemblies and meetings published by {} ({}), {} at the last harvest.", s.name, s.url, s.records),
            modified: modified(s.last_success),
            every: s.update_every,
            rights_holder: holder,
            licence: s.licence,
            landing: format!("{base}/?{q}"),
            filter: q,
            mixed_licences: false,
        };
        write_dataset(&mut g, base, &catalog, &agent, &contact, &d)?;
    }
    // Each subject's statements together, in the order the subjects first appear: one block per
    // resource in the Turtle file, one object per resource in JSON-LD.
    let mut blocks: Vec<Vec<Triple>> = Vec::new();
    let mut block_of: std::collections::HashMap<NamedOrBlankNode, usize> = Default::default();
    for tr in g.triples {
        let i = *block_of.entry(tr.subject.clone()).or_insert_with(|| {
            blocks.push(Vec::new());
            blocks.len() - 1
        });
        blocks[i].push(tr);
    }
    Ok(blocks.into_iter().flatten().collect())
}

struct Dataset<'a> {
    slug: &'a str,
    identifier: String,
    title_it: String,
    title_en: String,
    description_it: String,
    description_en: String,
    modified: NaiveDate,
    every: Option<chrono::Duration>,
    rights_holder: NamedNode,
    licence: Option<&'static Licence>,
    landing: String,
    /// The query string that narrows each distribution to this dataset (empty for all).
    filter: String,
    /// Records of several sources, each under its own licence.
    mixed_licences: bool,
}

fn write_dataset(
    g: &mut Graph,
    base: &str,
    catalog: &NamedNode,
    agent: &NamedNode,
    contact: &NamedNode,
    d: &Dataset,
) -> Result<(), CatalogError> {
    let ds = Graph::iri(&format!("{base}/catalog/dataset/{}", d.slug))?;
    g.add(catalog, &t(DCAT, "dataset"), ds.clone());
    g.types(&ds, &[&t(DCAT, "Dataset"), &t(DCATAPIT, "Dataset")]);
    g.plain(&ds, &t(DCT, "identifier"), &d.identifier);
    g.text(&ds, &t(DCT, "title"), &d.title_it, "it");
    g.text(&ds, &t(DCT, "title"), &d.title_en, "en");
    g.text(&ds, &t(DCT, "description"), &d.description_it, "it");
    g.text(&ds, &t(DCT, "description"), &d.description_en, "en");
    g.date(&ds, &t(DCT, "modified"), d.modified);
    g.term(
        &ds,
        &t(DCAT, "theme"),
        &format!("{EU}data-theme/GOVE"),
        &t(SKOS, "Concept"),
    )?;
    g.label(
        &format!("{EU}data-theme/GOVE"),
        &t(SKOS, "prefLabel"),
        "Governo e settore pubblico",
        "Government and public sector",
    )?;
    g.term(
        &ds,
        &t(DCT, "accrualPeriodicity"),
        &format!("{EU}frequency/{}", frequency(d.every)),
        &t(DCT, "Frequency"),
    )?;
    g.add(&ds, &t(DCT, "publisher"), agent.clone());
    g.add(&ds, &t(DCT, "rightsHolder"), d.rights_holder.clone());
    g.add(&ds, &t(DCAT, "contactPoint"), contact.clone());
    g.term(
        &ds,
        &t(DCAT, "landingPage"),
        &d.landing,
        &t(FOAF, "Document"),
    )?;
    g.term(
        &ds,
        &t(DCT, "spatial"),
        &format!("{EU}country/ITA"),
        &t(DCT, "Location"),
    )?;
    g.term(
        &ds,
        &t(DCT, "language"),
        &format!("{EU}language/ITA"),
        &t(DCT, "LinguisticSystem"),
    )?;
    for k in [
        "partecipazione",
        "consultazione pubblica",
        "processi partecipativi",
    ] {
        g.text(&ds, &t(DCAT, "keyword"), k, "it");
    }
    let licence = if d.mixed_licences {
        // Each record of the whole catalogue carries its own source's licence.
        None
    } else {
        Some(d.licence)
    };
    let sep = if d.filter.is_empty() { "" } else { "?" };
    for (slug, path, format, media, it, en) in [
        (
            "csv",
            "/api/v1/export.csv",
            "CSV",
            "text/csv",
            "Tabella CSV",
            "CSV table",
        ),
        (
            "jsonl",
            "/api/v1/export.jsonl",
            "JSON",
            "application/jsonl",
            "JSON Lines, un record per riga",
            "JSON Lines, one record per line",
        ),
        (
            "atom",
            "/feeds/open.atom",
            "ATOM",
            "application/atom+xml",
            "Feed Atom dei processi aperti",
            "Atom feed of open processes",
        ),
        (
            "ics",
            "/feeds/meetings.ics",
            "ICS",
            "text/calendar",
            "Calendario iCalendar degli incontri",
            "iCalendar of the meetings",
        ),
    ] {
        let dist = Graph::iri(&format!("{base}/catalog/dataset/{}/{slug}", d.slug))?;
        let url = format!("{base}{path}{sep}{}", d.filter);
        g.add(&ds, &t(DCAT, "distribution"), dist.clone());
        g.types(
            &dist,
            &[&t(DCAT, "Distribution"), &t(DCATAPIT, "Distribution")],
        );
        g.text(&dist, &t(DCT, "title"), it, "it");
        g.text(&dist, &t(DCT, "title"), en, "en");
        g.link(&dist, &t(DCAT, "accessURL"), &url)?;
        g.link(&dist, &t(DCAT, "downloadURL"), &url)?;
        g.term(
            &dist,
            &t(DCT, "format"),
            &format!("{EU}file-type/{format}"),
            &t(DCT, "MediaTypeOrExtent"),
        )?;
        g.term(
            &dist,
            &t(DCAT, "mediaType"),
            &format!("https://www.iana.org/assignments/media-types/{media}"),
            &t(DCT, "MediaType"),
        )?;
        let node = match licence {
            Some(l) => licence_node(g, l)?,
            None => mixed_licence_node(g, base)?,
        };
        g.add(&dist, &t(DCT, "license"), node);
    }
    Ok(())
}

/// The licence document for a licence, or AgID's "Licenza sconosciuta" when nobody established it.
fn licence_node(g: &mut Graph, licence: Option<&Licence>) -> Result<NamedNode, CatalogError> {
    let (iri, kind, name_it, name_en) = match licence {
        Some(l) => match agid_licence(l.spdx) {
            Some((code, kind)) => (
                format!("{LICENCES}{code}"),
                format!("{LICENCES}{kind}"),
                l.name.to_owned(),
                l.name.to_owned(),
            ),
            None => (
                l.url.to_owned(),
                format!("{LICENCES}A_OpenLicense"),
                l.name.to_owned(),
                l.name.to_owned(),
            ),
        },
        None => (
            format!("{LICENCES}C11_Unknown"),
            format!("{LICENCES}C1_Unknown"),
            "Licenza Sconosciuta".to_owned(),
            "Unknown IPR".to_owned(),
        ),
    };
    let node = Graph::iri(&iri)?;
    if g.first_time(&node, "licence document") {
        g.types(
            &node,
            &[&t(DCT, "LicenseDocument"), &t(DCATAPIT, "LicenseDocument")],
        );
        g.term(&node, &t(DCT, "type"), &kind, &t(SKOS, "Concept"))?;
        let (kind_it, kind_en) = match kind.trim_start_matches(LICENCES) {
            "A1_PublicDomain" => ("Pubblico dominio", "Public domain"),
            "A2_Attribution" => ("Attribuzione", "Attribution"),
            "A3_ShareAlike" => ("Condivisione allo stesso modo", "Share-alike"),
            "C1_Unknown" => ("Licenza sconosciuta", "Unknown licence"),
            _ => ("Licenza aperta", "Open licence"),
        };
        g.label(&kind, &t(SKOS, "prefLabel"), kind_it, kind_en)?;
        g.text(&node, &t(FOAF, "name"), &name_it, "it");
        g.text(&node, &t(FOAF, "name"), &name_en, "en");
    }
    Ok(node)
}

/// The whole catalogue mixes sources' licences: its licence document says so and points to the
/// `licence` column each record carries.
fn mixed_licence_node(g: &mut Graph, base: &str) -> Result<NamedNode, CatalogError> {
    let node = Graph::iri(&format!("{base}/catalog/licence/per-source"))?;
    if g.first_time(&node, "licence document") {
        g.types(
            &node,
            &[&t(DCT, "LicenseDocument"), &t(DCATAPIT, "LicenseDocument")],
        );
        g.text(
            &node,
            &t(FOAF, "name"),
            "Licenza di ciascuna fonte, indicata per ogni record (campi licence e attribution)",
            "it",
        );
        g.text(
            &node,
            &t(FOAF, "name"),
            "Each source's own licence, given for every record (licence and attribution fields)",
            "en",
        );
    }
    Ok(node)
}

/// Turtle, with the usual prefixes.
pub fn turtle(triples: &[Triple]) -> std::io::Result<Vec<u8>> {
    let mut ser = oxttl::TurtleSerializer::new();
    for (p, iri) in PREFIXES {
        ser = ser
            .with_prefix(*p, *iri)
            .expect("the prefixes are valid IRIs");
    }
    let mut w = ser.for_writer(Vec::new());
    for tr in triples {
        w.serialize_triple(tr)?;
    }
    w.finish()
}

/// JSON-LD (a `@graph` with the prefixes in its context).
pub fn jsonld(triples: &[Triple]) -> std::io::Result<Vec<u8>> {
    let mut ser = oxjsonld::JsonLdSerializer::new();
    for (p, iri) in PREFIXES {
        ser = ser
            .with_prefix(*p, *iri)
            .expect("the prefixes are valid IRIs");
    }
    let mut w = ser.for_writer(Vec::new());
    for tr in triples {
        w.serialize_quad(tr.as_ref().in_graph(oxrdf::GraphNameRef::DefaultGraph))?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<SourceEntry> {
        vec![
            SourceEntry {
                id: "partecipa".into(),
                name: "ParteciPa".into(),
                url: "https://partecipa.gov.it".into(),
                licence: None,
                update_every: Some(chrono::Duration::hours(6)),
                last_success: Some("2026-12-01T10:00:00Z".parse().unwrap()),
                records: 120,
            },
            SourceEntry {
                id: "emr".into(),
                name: "PartecipAzioni \"ER\" <b>".into(),
                url: "https://partecipazione.regione.emilia-romagna.it".into(),
                licence: snodo_model::licence::by_spdx("CC-BY-4.0"),
                update_every: Some(chrono::Duration::minutes(30)),
                last_success: None,
                records: 7,
            },
        ]
    }

    fn publisher() -> Publisher {
        Publisher {
            name: "Dipartimento della Funzione Pubblica".into(),
            id: "dfp".into(),
            email: "opendata@example.it".into(),
        }
    }

    fn objects(g: &[Triple], s: &str, p: &str) -> Vec<String> {
        g.iter()
            .filter(|tr| {
                matches!(&tr.subject, NamedOrBlankNode::NamedNode(n) if n.as_str() == s)
                    && tr.predicate.as_str() == p
            })
            .map(|tr| match &tr.object {
                Term::NamedNode(n) => n.as_str().to_owned(),
                Term::Literal(l) => l.value().to_owned(),
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn each_source_is_a_dataset_with_its_own_licence_and_the_unknown_one_claims_none() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let g = build("https://hub.example.it", &publisher(), &sample(), today).unwrap();
        let cat = "https://hub.example.it/catalog";
        assert_eq!(objects(&g, cat, &t(DCAT, "dataset")).len(), 3);
        assert_eq!(objects(&g, cat, &t(DCT, "modified")), ["2026-12-01"]);
        let d = "https://hub.example.it/catalog/dataset/partecipa";
        assert_eq!(
            objects(&g, d, &t(DCT, "identifier")),
            ["dfp:snodo-partecipa"]
        );
        assert_eq!(
            objects(&g, d, &t(DCT, "accrualPeriodicity")),
            [format!("{EU}frequency/DAILY")]
        );
        let csv = "https://hub.example.it/catalog/dataset/partecipa/csv";
        assert_eq!(
            objects(&g, csv, &t(DCAT, "accessURL")),
            ["https://hub.example.it/api/v1/export.csv?source=partecipa"]
        );
        assert_eq!(
            objects(&g, csv, &t(DCT, "license")),
            [format!("{LICENCES}C11_Unknown")]
        );
        let emr_ics = "https://hub.example.it/catalog/dataset/emr/ics";
        assert_eq!(
            objects(&g, emr_ics, &t(DCT, "license")),
            [format!("{LICENCES}A21_CCBY40")]
        );
        assert_eq!(
            objects(
                &g,
                "https://hub.example.it/catalog/dataset/emr",
                &t(DCT, "modified")
            ),
            ["2026-12-03"],
            "never harvested: today"
        );
        let all_csv = "https://hub.example.it/catalog/dataset/all/csv";
        assert_eq!(
            objects(&g, all_csv, &t(DCAT, "accessURL")),
            ["https://hub.example.it/api/v1/export.csv"]
        );
        assert_eq!(
            objects(&g, all_csv, &t(DCT, "license")),
            ["https://hub.example.it/catalog/licence/per-source"]
        );
        // No licence claimed as CC BY for the unknown source anywhere in the graph.
        let ttl = String::from_utf8(turtle(&g).unwrap()).unwrap();
        assert!(
            ttl.contains("@prefix dcat: <http://www.w3.org/ns/dcat#>"),
            "{ttl}"
        );
        assert!(ttl.contains("PartecipAzioni \\\"ER\\\" <b>"), "{ttl}");
    }

    #[test]
    fn both_serialisations_parse_back_to_the_same_graph() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let g = build("https://hub.example.it", &publisher(), &sample(), today).unwrap();
        let ttl = turtle(&g).unwrap();
        let back: Vec<Triple> = oxttl::TurtleParser::new()
            .for_slice(&ttl)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back.len(), g.len());
        let json = jsonld(&g).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert!(v["@graph"].as_array().is_some_and(|a| a.len() > 10), "{v}");
        let quads: Vec<_> = oxjsonld::JsonLdParser::new()
            .for_slice(&json)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(quads.len(), g.len());
    }

    #[test]
    fn an_address_that_is_not_an_iri_is_an_error_not_a_broken_file() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let mut s = sample();
        s[0].url = "https://exa mple.it/".into();
        assert!(build("https://hub.example.it", &publisher(), &s, today).is_err());
    }

    #[test]
    fn frequency_follows_the_schedule() {
        assert_eq!(frequency(None), "IRREG");
        assert_eq!(frequency(Some(chrono::Duration::minutes(15))), "HOURLY");
        assert_eq!(frequency(Some(chrono::Duration::hours(6))), "DAILY");
        assert_eq!(frequency(Some(chrono::Duration::days(7))), "WEEKLY");
        assert_eq!(frequency(Some(chrono::Duration::days(30))), "MONTHLY");
    }
}
