//! A deterministic corpus of Italian (and some English) participation records.
//!
//! Record `i` of seed `s` depends only on `(s, i)`, so every engine can regenerate the same stream
//! without holding the corpus in memory, and a 10k corpus is the first 10k records of the 1M one.
//! Titles, summaries and descriptions are built from templates and the vocabulary of Italian
//! participation (bilancio partecipativo, consultazione pubblica, assemblea cittadina, patti di
//! collaborazione…); territories are real comuni over the 20 regions with their ISTAT codes
//! (resolved through `snodo_model::territory`), dates are spread over ten years around
//! [`TODAY`] so that the status filters split the corpus.

use std::sync::LazyLock;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use snodo_model::{Kind, LocalizedText, Record, RecordId, Territory};

/// The "today" every engine computes statuses against (fixed so runs are comparable).
pub const TODAY: (i32, u32, u32) = (2026, 3, 16);

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(TODAY.0, TODAY.1, TODAY.2).unwrap_or_default()
}

/// First day any record can start; the corpus covers ten years from here, plus a year ahead.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2016, 1, 1).unwrap_or_default()
}

/// SplitMix64: tiny, fast, and stable across versions and platforms.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn for_record(seed: u64, i: u64) -> Rng {
        let mut r = Rng(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u64) -> bool {
        self.next_u64() % 100 < p
    }
}

/// A topic: Italian and English names, and the words a citizen would type.
pub struct Topic {
    pub it: &'static str,
    pub en: &'static str,
    /// Area name (Decidim area / category).
    pub area: &'static str,
}

#[rustfmt::skip]
pub const TOPICS: &[Topic] = &[
    Topic { it: "bilancio partecipativo", en: "participatory budgeting", area: "Bilancio e tributi" },
    Topic { it: "mobilità sostenibile", en: "sustainable mobility", area: "Mobilità" },
    Topic { it: "piste ciclabili", en: "cycle lanes", area: "Mobilità" },
    Topic { it: "trasporto pubblico locale", en: "local public transport", area: "Mobilità" },
    Topic { it: "zone 30 e strade scolastiche", en: "30 km/h zones and school streets", area: "Mobilità" },
    Topic { it: "verde pubblico", en: "public green spaces", area: "Ambiente" },
    Topic { it: "qualità dell'aria", en: "air quality", area: "Ambiente" },
    Topic { it: "raccolta differenziata dei rifiuti", en: "separate waste collection", area: "Ambiente" },
    Topic { it: "transizione ecologica", en: "ecological transition", area: "Ambiente" },
    Topic { it: "adattamento ai cambiamenti climatici", en: "climate change adaptation", area: "Clima" },
    Topic { it: "comunità energetiche rinnovabili", en: "renewable energy communities", area: "Energia" },
    Topic { it: "efficienza energetica degli edifici pubblici", en: "energy efficiency of public buildings", area: "Energia" },
    Topic { it: "rigenerazione urbana", en: "urban regeneration", area: "Urbanistica" },
    Topic { it: "piano urbanistico generale", en: "general urban plan", area: "Urbanistica" },
    Topic { it: "riqualificazione del centro storico", en: "renewal of the historic centre", area: "Urbanistica" },
    Topic { it: "periferie e quartieri", en: "suburbs and neighbourhoods", area: "Quartieri" },
    Topic { it: "beni comuni urbani", en: "urban commons", area: "Beni comuni" },
    Topic { it: "patti di collaborazione", en: "collaboration pacts", area: "Beni comuni" },
    Topic { it: "edilizia scolastica", en: "school buildings", area: "Scuola" },
    Topic { it: "mense scolastiche", en: "school canteens", area: "Scuola" },
    Topic { it: "politiche giovanili", en: "youth policies", area: "Giovani" },
    Topic { it: "welfare di comunità", en: "community welfare", area: "Sociale" },
    Topic { it: "invecchiamento attivo", en: "active ageing", area: "Sociale" },
    Topic { it: "inclusione delle persone con disabilità", en: "inclusion of people with disabilities", area: "Sociale" },
    Topic { it: "accessibilità e barriere architettoniche", en: "accessibility and architectural barriers", area: "Sociale" },
    Topic { it: "parità di genere", en: "gender equality", area: "Pari opportunità" },
    Topic { it: "casa e politiche abitative", en: "housing policies", area: "Casa" },
    Topic { it: "biblioteche e cultura", en: "libraries and culture", area: "Cultura" },
    Topic { it: "turismo sostenibile", en: "sustainable tourism", area: "Turismo" },
    Topic { it: "impianti sportivi", en: "sports facilities", area: "Sport" },
    Topic { it: "sicurezza urbana", en: "urban safety", area: "Sicurezza" },
    Topic { it: "illuminazione pubblica", en: "street lighting", area: "Lavori pubblici" },
    Topic { it: "agricoltura urbana e orti comunitari", en: "urban farming and community gardens", area: "Ambiente" },
    Topic { it: "acqua pubblica", en: "public water", area: "Ambiente" },
    Topic { it: "digitalizzazione dei servizi comunali", en: "digital municipal services", area: "Innovazione" },
    Topic { it: "commercio di vicinato", en: "neighbourhood shops", area: "Commercio" },
    Topic { it: "lavoro e occupazione giovanile", en: "youth employment", area: "Lavoro" },
    Topic { it: "salute e case della comunità", en: "health and community health centres", area: "Salute" },
    Topic { it: "immigrazione e cittadinanza", en: "migration and citizenship", area: "Sociale" },
    Topic { it: "aree gioco inclusive", en: "inclusive playgrounds", area: "Quartieri" },
    Topic { it: "regolamento sulla partecipazione", en: "participation regulation", area: "Partecipazione" },
    Topic { it: "piano del verde e forestazione urbana", en: "green plan and urban forestry", area: "Ambiente" },
    Topic { it: "tutela degli animali", en: "animal welfare", area: "Ambiente" },
    Topic { it: "lungomare e spiagge libere", en: "seafront and public beaches", area: "Turismo" },
    Topic { it: "piano della mobilità ciclistica", en: "cycling mobility plan", area: "Mobilità" },
];

/// Comuni (name, region code): resolved to ISTAT codes through `snodo_model::territory`.
#[rustfmt::skip]
const COMUNI: &[(&str, &str)] = &[
    ("Torino", "01"), ("Novara", "01"), ("Cuneo", "01"), ("Asti", "01"), ("Alessandria", "01"), ("Ivrea", "01"),
    ("Aosta", "02"),
    ("Milano", "03"), ("Bergamo", "03"), ("Brescia", "03"), ("Monza", "03"), ("Como", "03"), ("Pavia", "03"), ("Cremona", "03"), ("Mantova", "03"), ("Lecco", "03"),
    ("Trento", "04"), ("Bolzano", "04"), ("Rovereto", "04"),
    ("Venezia", "05"), ("Verona", "05"), ("Padova", "05"), ("Vicenza", "05"), ("Treviso", "05"),
    ("Trieste", "06"), ("Udine", "06"), ("Pordenone", "06"),
    ("Genova", "07"), ("La Spezia", "07"), ("Savona", "07"),
    ("Bologna", "08"), ("Modena", "08"), ("Reggio nell'Emilia", "08"), ("Parma", "08"), ("Ferrara", "08"), ("Ravenna", "08"), ("Forlì", "08"), ("Rimini", "08"), ("Cesena", "08"), ("Imola", "08"),
    ("Firenze", "09"), ("Prato", "09"), ("Livorno", "09"), ("Pisa", "09"), ("Siena", "09"), ("Lucca", "09"), ("Arezzo", "09"),
    ("Perugia", "10"), ("Terni", "10"), ("Foligno", "10"),
    ("Ancona", "11"), ("Pesaro", "11"), ("Macerata", "11"),
    ("Roma", "12"), ("Latina", "12"), ("Viterbo", "12"), ("Frosinone", "12"),
    ("L'Aquila", "13"), ("Pescara", "13"), ("Chieti", "13"),
    ("Campobasso", "14"), ("Isernia", "14"),
    ("Napoli", "15"), ("Salerno", "15"), ("Caserta", "15"), ("Avellino", "15"),
    ("Bari", "16"), ("Lecce", "16"), ("Taranto", "16"), ("Foggia", "16"), ("Brindisi", "16"),
    ("Potenza", "17"), ("Matera", "17"),
    ("Reggio di Calabria", "18"), ("Cosenza", "18"), ("Catanzaro", "18"),
    ("Palermo", "19"), ("Catania", "19"), ("Messina", "19"), ("Siracusa", "19"), ("Ragusa", "19"),
    ("Cagliari", "20"), ("Sassari", "20"), ("Nuoro", "20"), ("Olbia", "20"),
];

#[rustfmt::skip]
const REGION_SLUGS: &[&str] = &[
    "piemonte", "valle-aosta", "lombardia", "trentino", "veneto", "fvg", "liguria", "emilia-romagna",
    "toscana", "umbria", "marche", "lazio", "abruzzo", "molise", "campania", "puglia", "basilicata",
    "calabria", "sicilia", "sardegna",
];

#[rustfmt::skip]
const QUARTIERI: &[&str] = &[
    "Centro", "San Donato", "Navile", "Borgo Panigale", "Santo Stefano", "Porta Nuova", "San Salvario",
    "Barriera di Milano", "Quarto Oggiaro", "Bovisa", "Librino", "Scampia", "Sant'Ambrogio", "Isolotto",
    "San Lorenzo", "Pigneto", "Testaccio", "Marina", "Stazione", "Borgo Vecchio", "Ponte", "Castello",
];

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "via Roma", "piazza Garibaldi", "viale Mazzini", "corso Vittorio Emanuele", "via Dante", "piazza del Duomo",
    "via Verdi", "via Matteotti", "piazza della Repubblica", "via XX Settembre", "lungomare Colombo",
    "via Gramsci", "parco della Resistenza", "via Cavour", "piazza Municipio",
];

#[rustfmt::skip]
const PROPOSAL_ACTIONS: &[(&str, &str)] = &[
    ("una nuova pista ciclabile", "a new cycle lane"),
    ("più alberi e ombra", "more trees and shade"),
    ("un'area gioco inclusiva", "an inclusive playground"),
    ("illuminazione a led", "LED street lighting"),
    ("un attraversamento pedonale sicuro", "a safe pedestrian crossing"),
    ("una biblioteca di quartiere", "a neighbourhood library"),
    ("orti urbani condivisi", "shared urban gardens"),
    ("fontanelle di acqua pubblica", "public drinking fountains"),
    ("una casa delle associazioni", "a house for local associations"),
    ("panchine e rastrelliere", "benches and bike racks"),
    ("un campo da basket", "a basketball court"),
    ("la pedonalizzazione della piazza", "pedestrianising the square"),
    ("una comunità energetica", "an energy community"),
    ("wifi pubblico gratuito", "free public wifi"),
    ("un centro giovani", "a youth centre"),
];

#[rustfmt::skip]
const IT_SENTENCES: &[&str] = &[
    "Il percorso è aperto a tutte le persone che vivono, studiano o lavorano a {comune}.",
    "Le proposte raccolte saranno valutate dagli uffici tecnici e votate dalla cittadinanza.",
    "L'amministrazione comunale mette a disposizione risorse dedicate a {topic}.",
    "Gli incontri si svolgono nelle sale di quartiere e online, con interpretariato nella lingua dei segni.",
    "Chi partecipa può presentare idee, commentare le proposte degli altri e sostenere quelle che preferisce.",
    "La fase di ascolto prevede questionari, passeggiate di quartiere e laboratori di co-progettazione.",
    "Il regolamento comunale sulla partecipazione stabilisce tempi, modalità e criteri di ammissibilità.",
    "I risultati della consultazione saranno pubblicati in un rapporto finale entro sessanta giorni.",
    "La Regione sostiene il processo con un contributo previsto dalla legge regionale sulla partecipazione.",
    "Il tavolo di negoziazione riunisce associazioni, comitati, scuole e imprese del territorio.",
    "Le scuole del territorio sono coinvolte con attività dedicate alle ragazze e ai ragazzi.",
    "Il documento di proposta partecipata sarà consegnato al Consiglio comunale per la decisione finale.",
    "Per partecipare è necessario registrarsi sulla piattaforma e verificare la propria residenza.",
    "Le idee possono riguardare {topic}, la cura degli spazi pubblici e i servizi di prossimità.",
    "Il garante della partecipazione vigila sulla trasparenza e sull'imparzialità del percorso.",
    "Le proposte più votate entreranno nel programma triennale delle opere pubbliche.",
    "Sono previsti momenti di restituzione pubblica e una mappa interattiva dei progetti.",
    "L'iniziativa rientra negli obiettivi dell'Agenda 2030 per lo sviluppo sostenibile.",
    "Il quartiere {quartiere} ospiterà un laboratorio aperto ogni sabato mattina.",
    "La partecipazione è gratuita e non è richiesta alcuna competenza tecnica.",
    "Le osservazioni pervenute saranno esaminate e riceveranno una risposta motivata.",
    "Il progetto prevede interventi in {strada} e nelle aree limitrofe.",
    "Il percorso si conclude con il voto delle proposte finanziabili e il monitoraggio della loro realizzazione.",
    "La città metropolitana coordina il confronto tra i comuni dell'area vasta.",
];

#[rustfmt::skip]
const EN_SENTENCES: &[&str] = &[
    "The process is open to everyone who lives, studies or works in {comune}.",
    "Proposals will be assessed by the technical offices and voted on by residents.",
    "The city council has set aside dedicated funding for {topic}.",
    "Meetings take place in neighbourhood halls and online.",
    "Participants can submit ideas, comment on other proposals and support the ones they like.",
    "The listening phase includes surveys, neighbourhood walks and co-design workshops.",
    "The results of the consultation will be published in a final report within sixty days.",
    "Local schools are involved with activities for young people.",
    "The most voted proposals will be included in the three-year public works programme.",
    "Participation is free and no technical knowledge is required.",
];

/// The kinds generated, with their share in percent.
const KIND_SHARES: &[(Kind, u64)] = &[
    (Kind::Process, 20),
    (Kind::Assembly, 5),
    (Kind::Consultation, 10),
    (Kind::Meeting, 30),
    (Kind::Proposal, 35),
];

struct Place {
    name: &'static str,
    region: &'static str,
    territory: Territory,
    slug: String,
}

static PLACES: LazyLock<Vec<Place>> = LazyLock::new(|| {
    COMUNI
        .iter()
        .map(|&(name, region)| {
            let territory = snodo_model::territory::match_name(name, Some(region))
                .filter(|t| t.comune.is_some())
                .unwrap_or_else(|| Territory {
                    region: Some(region.to_owned()),
                    ..Territory::default()
                });
            let slug: String = snodo_model::text::fold_for_matching(name)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            Place {
                name,
                region,
                territory,
                slug,
            }
        })
        .collect()
});

/// The corpus's comuni that resolved to an ISTAT code, with their names: the places of the "near
/// me" queries.
pub fn placed_comuni() -> Vec<(&'static str, Territory)> {
    if profile() == Profile::Realistic {
        return crate::realistic::PLATFORMS
            .iter()
            .filter(|p| p.territory.comune.is_some())
            .filter_map(|p| Some((p.place_name?, p.territory.clone())))
            .collect();
    }
    PLACES
        .iter()
        .filter(|p| p.territory.comune.is_some())
        .map(|p| (p.name, p.territory.clone()))
        .collect()
}

/// How many of the comuni were resolved to an ISTAT comune code (a check for tests).
pub fn resolved_comuni() -> (usize, usize) {
    let ok = PLACES
        .iter()
        .filter(|p| p.territory.comune.is_some())
        .count();
    (ok, PLACES.len())
}

fn fill(template: &str, comune: &str, topic: &str, quartiere: &str, strada: &str) -> String {
    template
        .replace("{comune}", comune)
        .replace("{topic}", topic)
        .replace("{quartiere}", quartiere)
        .replace("{strada}", strada)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn pick_kind(rng: &mut Rng) -> Kind {
    let mut roll = rng.below(100) as u64;
    for &(k, share) in KIND_SHARES {
        if roll < share {
            return k;
        }
        roll -= share;
    }
    Kind::Proposal
}

/// Scope of a record: a comune (most), a whole region, or the whole country.
enum Scope<'a> {
    Comune(&'a Place),
    Region(usize),
    National,
}

/// Which corpus the process benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Template sentences over 45 topics and 85 comuni: the first corpus, kept for comparison.
    Template,
    /// Text that reads like real records ([`crate::realistic`]).
    Realistic,
}

static PROFILE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Chooses the corpus for the whole process (before generating any record).
pub fn set_profile(p: Profile) {
    PROFILE.store(
        p == Profile::Realistic,
        std::sync::atomic::Ordering::Relaxed,
    );
}

pub fn profile() -> Profile {
    if PROFILE.load(std::sync::atomic::Ordering::Relaxed) {
        Profile::Realistic
    } else {
        Profile::Template
    }
}

/// Record `i` of the corpus of `seed`, in the chosen profile.
pub fn record(seed: u64, i: u64) -> Record {
    match profile() {
        Profile::Template => template_record(seed, i),
        Profile::Realistic => crate::realistic::record(seed, i),
    }
}

/// Record `i` of the template corpus of `seed`.
pub fn template_record(seed: u64, i: u64) -> Record {
    let mut rng = Rng::for_record(seed, i);
    let kind = pick_kind(&mut rng);
    let topic = rng.pick(TOPICS);
    let place = rng.pick(&PLACES);
    let scope = match rng.below(100) {
        0..=5 => Scope::National,
        6..=15 => Scope::Region(place.region.parse::<usize>().unwrap_or(1).saturating_sub(1)),
        _ => Scope::Comune(place),
    };
    let year = 2016 + (rng.below(11) as i32);
    let quartiere = *rng.pick(QUARTIERI);
    let strada = *rng.pick(STREETS);
    let (where_it, where_en, source, territory) = match &scope {
        Scope::Comune(p) => (
            format!("a {}", p.name),
            format!("in {}", p.name),
            format!("{}-partecipa", p.slug),
            p.territory.clone(),
        ),
        Scope::Region(r) => {
            let code = format!("{:02}", r + 1);
            let name = snodo_model::territory::region_name(&code).unwrap_or("Italia");
            (
                format!("in {name}"),
                format!("in {name}"),
                format!("regione-{}", REGION_SLUGS.get(*r).copied().unwrap_or("x")),
                Territory {
                    region: Some(code),
                    ..Territory::default()
                },
            )
        }
        Scope::National => (
            "in Italia".to_owned(),
            "in Italy".to_owned(),
            "partecipa".to_owned(),
            Territory {
                national: true,
                ..Territory::default()
            },
        ),
    };
    let comune_name = match &scope {
        Scope::Comune(p) => p.name,
        _ => place.name,
    };
    let action = rng.pick(PROPOSAL_ACTIONS);

    let title_it = match kind {
        Kind::Process => match rng.below(5) {
            0 => format!("Bilancio partecipativo {year} {where_it}"),
            1 => format!("Percorso partecipativo su {} {where_it}", topic.it),
            2 => format!(
                "{}: il futuro {where_it} si decide insieme",
                capitalize(topic.it)
            ),
            3 => format!(
                "Piano di {} {where_it} – percorso di partecipazione {year}",
                topic.it
            ),
            _ => format!("Co-progettazione del quartiere {quartiere}: {}", topic.it),
        },
        Kind::Assembly => match rng.below(4) {
            0 => format!("Assemblea cittadina per il clima {where_it}"),
            1 => format!("Consulta dei giovani {where_it}"),
            2 => format!("Consiglio di quartiere {quartiere}"),
            _ => format!("Osservatorio permanente su {} {where_it}", topic.it),
        },
        Kind::Consultation => match rng.below(4) {
            0 => format!("Consultazione pubblica su {} {where_it}", topic.it),
            1 => format!("Consultazione sul regolamento per {} ({year})", topic.it),
            2 => format!("Questionario: {} {where_it}", topic.it),
            _ => format!("Avviso pubblico: osservazioni al piano per {}", topic.it),
        },
        Kind::Meeting => match rng.below(4) {
            0 => format!(
                "Incontro pubblico su {} nel quartiere {quartiere}",
                topic.it
            ),
            1 => format!("Laboratorio di co-progettazione: {}", topic.it),
            2 => format!("Passeggiata di quartiere a {quartiere} {where_it}"),
            _ => format!("Assemblea pubblica: {} {where_it}", topic.it),
        },
        _ => format!("Proposta: {} in {strada}", action.0),
    };
    let title_en = match kind {
        Kind::Process => format!("Participatory process on {} {where_en}", topic.en),
        Kind::Assembly => format!("Citizens' assembly on {} {where_en}", topic.en),
        Kind::Consultation => format!("Public consultation on {} {where_en}", topic.en),
        Kind::Meeting => format!("Public meeting on {} {where_en}", topic.en),
        _ => format!("Proposal: {} in {strada}", action.1),
    };

    let promoter = match &scope {
        Scope::Comune(p) => format!("Comune di {}", p.name),
        Scope::Region(_) => format!("Regione {}", where_it.trim_start_matches("in ")),
        Scope::National => "Dipartimento della Funzione Pubblica".to_owned(),
    };
    let summary_it = format!(
        "{} invita cittadine e cittadini a partecipare: {} {where_it}. {}",
        promoter,
        topic.it,
        fill(
            rng.pick::<&str>(IT_SENTENCES),
            comune_name,
            topic.it,
            quartiere,
            strada
        )
    );
    // Descriptions of realistic length: processes and consultations long, proposals short.
    let sentences = match kind {
        Kind::Process | Kind::Consultation => 10 + rng.below(20),
        Kind::Assembly => 8 + rng.below(10),
        Kind::Meeting => 4 + rng.below(8),
        _ => 3 + rng.below(6),
    };
    let mut body_it = String::new();
    for s in 0..sentences {
        if s > 0 {
            body_it.push(if s % 4 == 0 { '\n' } else { ' ' });
        }
        body_it.push_str(&fill(
            rng.pick::<&str>(IT_SENTENCES),
            comune_name,
            rng.pick(TOPICS).it,
            quartiere,
            strada,
        ));
    }
    if kind == Kind::Proposal {
        body_it.push_str(&format!(
            " Proponiamo {} in {strada}, nel quartiere {quartiere}, per migliorare {}.",
            action.0, topic.it
        ));
    }

    // ~20 % bilingual, ~5 % English only.
    let lang_roll = rng.below(100);
    let english_only = lang_roll < 5;
    let bilingual = (5..25).contains(&lang_roll);
    let default_locale = if english_only { "en" } else { "it" };
    let mut title = LocalizedText::new();
    let mut summary = LocalizedText::new();
    let mut description = LocalizedText::new();
    if !english_only {
        title.insert_plain("it", &title_it);
        summary.insert_plain("it", &summary_it);
        description.insert_plain("it", &body_it);
    }
    if english_only || bilingual {
        title.insert_plain("en", &title_en);
        summary.insert_plain("en", &format!("Have your say on {} {where_en}.", topic.en));
        let mut body_en = String::new();
        for s in 0..(sentences / 2 + 2) {
            if s > 0 {
                body_en.push(' ');
            }
            body_en.push_str(&fill(
                rng.pick::<&str>(EN_SENTENCES),
                comune_name,
                rng.pick(TOPICS).en,
                quartiere,
                strada,
            ));
        }
        description.insert_plain("en", &body_en);
    }

    let upstream = format!("{}", 1000 + i);
    let url = format!("https://{source}.example.it/{}/{upstream}", kind.as_str());
    let mut r = Record::new(
        RecordId::new(source, kind, upstream),
        url,
        default_locale,
        title,
    );
    r.summary = summary;
    r.description = description;
    r.territory = territory;
    r.promoter = LocalizedText::single("it", &promoter);
    r.topics = vec![LocalizedText::single("it", topic.area)];

    // Dates over ten years (2016-2026) plus some upcoming ones.
    let start_offset = rng.below(11 * 365) as u64;
    let start = epoch() + Days::new(start_offset);
    let duration = match kind {
        Kind::Process => Some(30 + rng.below(335) as u64),
        Kind::Assembly => rng.chance(40).then(|| 365 + rng.below(1000) as u64),
        Kind::Consultation => Some(15 + rng.below(75) as u64),
        Kind::Meeting => Some(rng.below(2) as u64),
        _ => Some(60 + rng.below(300) as u64),
    };
    r.start_date = Some(start);
    r.end_date = duration.map(|d| start + Days::new(d));
    r.published_at = Some(at_noon(start - Days::new(rng.below(30) as u64)));
    r.updated_at = r.published_at;
    r.methods = match kind {
        Kind::Process => {
            let mut m: Vec<String> = ["proposals", "meetings", "surveys", "budgets", "debates"]
                .iter()
                .filter(|_| rng.chance(50))
                .map(|s| (*s).to_owned())
                .collect();
            m.sort();
            m
        }
        _ => Vec::new(),
    };
    // national topics as the harvester sets them, from the area
    r.themes = snodo_model::topics::classify(&r, &[]);
    r
}

fn at_noon(d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(12, 0, 0).unwrap_or_default();
    Utc.from_utc_datetime(&naive)
}

/// The first `n` records of the corpus of `seed`.
pub fn records(seed: u64, n: u64) -> impl Iterator<Item = Record> {
    (0..n).map(move |i| record(seed, i))
}

/// Plain texts of a record for the SQL engines: every locale joined, in the order the record has
/// them (Italian first when present).
pub struct FlatTexts {
    pub title: String,
    pub summary: String,
    pub body: String,
    /// Promoter, topics and territory names: searchable like Snodo's `extra` field.
    pub extra: String,
}

pub fn flat(r: &Record) -> FlatTexts {
    let join = |t: &LocalizedText| -> String {
        let mut v: Vec<(&str, &str)> = t.iter().collect();
        v.sort_by_key(|(l, _)| *l != "it");
        v.into_iter().map(|(_, s)| s).collect::<Vec<_>>().join("\n")
    };
    let mut extra = Vec::new();
    for t in [&r.promoter, &r.group, &r.territory.scope_name]
        .into_iter()
        .chain(&r.topics)
    {
        extra.extend(t.iter().map(|(_, s)| s.to_owned()));
    }
    if let Some(name) = r
        .territory
        .region
        .as_deref()
        .and_then(snodo_model::territory::region_name)
    {
        extra.push(name.to_owned());
    }
    if let Some(c) = r
        .territory
        .comune
        .as_deref()
        .and_then(snodo_model::territory::comune)
    {
        extra.push(c.name.to_owned());
    }
    extra.extend(r.methods.iter().cloned());
    FlatTexts {
        title: join(&r.title),
        summary: join(&r.summary),
        body: join(&r.description),
        extra: extra.join(" "),
    }
}

/// A day number shared by the SQL engines (days from the common era, as Snodo's fast fields).
pub fn day(d: NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(d.num_days_from_ce())
}

/// Every source id the corpus can use (comuni platforms, regional platforms, the national one).
pub fn all_sources() -> Vec<String> {
    if profile() == Profile::Realistic {
        return crate::realistic::PLATFORMS
            .iter()
            .map(|p| p.id.clone())
            .collect();
    }
    let mut v: Vec<String> = PLACES
        .iter()
        .map(|p| format!("{}-partecipa", p.slug))
        .collect();
    v.extend(REGION_SLUGS.iter().map(|s| format!("regione-{s}")));
    v.push("partecipa".to_owned());
    v.sort();
    v.dedup();
    v
}
