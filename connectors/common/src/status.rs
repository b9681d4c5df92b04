//! Status words on Italian pages ("aperta", "in corso", "conclusa", "in arrivo") and what they
//! say. Snodo computes status from dates at query time; a word only fills a gap the dates leave
//! (a consultation marked "conclusa" without an end date), see [`crate::item::Item::status`].

use snodo_model::text::fold_for_matching;
use snodo_model::Status;

const UPCOMING: &[&str] = &[
    "in arrivo",
    "di prossima apertura",
    "prossima apertura",
    "non ancora aperta",
    "non ancora aperto",
    "programmata",
    "programmato",
    "upcoming",
    "coming soon",
];
const CLOSED: &[&str] = &[
    "conclusa",
    "concluso",
    "conclusi",
    "concluse",
    "chiusa",
    "chiuso",
    "chiuse",
    "chiusi",
    "terminata",
    "terminato",
    "scaduta",
    "scaduto",
    "archiviata",
    "archiviato",
    "non attiva",
    "non attivo",
    "closed",
    "finished",
    "ended",
    "past",
];
const OPEN: &[&str] = &[
    "aperta",
    "aperto",
    "aperte",
    "aperti",
    "in corso",
    "attiva",
    "attivo",
    "partecipa ora",
    "open",
    "active",
    "ongoing",
];

/// The status a word or short label states, if any (accents and case ignored).
pub fn parse_status(text: &str) -> Option<Status> {
    let folded = fold_for_matching(text);
    let padded = format!(" {folded} ");
    let has = |words: &[&str]| words.iter().any(|w| padded.contains(&format!(" {w} ")));
    if has(UPCOMING) {
        Some(Status::Upcoming)
    } else if has(CLOSED) {
        Some(Status::Closed)
    } else if has(OPEN) {
        Some(Status::Open)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words() {
        assert_eq!(parse_status("Aperta"), Some(Status::Open));
        assert_eq!(parse_status("Stato: IN CORSO"), Some(Status::Open));
        assert_eq!(parse_status("Consultazione conclusa"), Some(Status::Closed));
        assert_eq!(parse_status("Non ancora aperta"), Some(Status::Upcoming));
        assert_eq!(parse_status("non attiva"), Some(Status::Closed));
        assert_eq!(parse_status("Riaperture"), None);
        assert_eq!(parse_status(""), None);
    }
}
