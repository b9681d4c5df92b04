//! iCalendar (RFC 5545) for the feed of upcoming meetings: a small writer, because the feed
//! needs four things done exactly right and nothing else: TEXT escaping (`\\`, `;`, `,`, line
//! breaks), content lines folded at 75 octets without splitting a UTF-8 character, CRLF line
//! ends, and times in UTC (`…Z`), which needs no `VTIMEZONE` and which every client reads the
//! same way. (The `icalendar` crate was considered: in 0.17.6 its folding mixed character and
//! byte positions and a bare `\r` was not escaped; its parser is used by the end-to-end test.)
//!
//! Every value written here is plain text from the store; escaping makes it inert for
//! calendar clients, and no property carries HTML.

use chrono::{DateTime, NaiveDate, Utc};

/// Octets per content line, CRLF excluded (RFC 5545 §3.1).
const LINE_OCTETS: usize = 75;

/// When an event starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// An instant, written in UTC.
    Time(DateTime<Utc>),
    /// A whole day, for sources that give no time.
    Day(NaiveDate),
}

/// One `VEVENT`.
#[derive(Debug, Clone)]
pub struct Event {
    pub uid: String,
    /// When the event's information last changed (RFC 5545 §3.8.7.2: without `METHOD`,
    /// `DTSTAMP` is that time), so the calendar is stable between harvests.
    pub stamp: DateTime<Utc>,
    pub start: When,
    pub end: Option<When>,
    pub summary: String,
    pub description: String,
    pub location: Option<String>,
    /// An http(s) URL.
    pub url: Option<String>,
    pub categories: Vec<String>,
}

/// Escapes a TEXT value (§3.3.11): backslash, semicolon, comma and line breaks; other control
/// characters are dropped (they are not allowed in TEXT).
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds one content line: at most 75 octets per physical line, breaking only between UTF-8
/// characters, each continuation starting with one space (which counts toward its 75), and
/// every physical line ending in CRLF.
pub fn fold(line: &str, out: &mut String) {
    let mut rest = line;
    let mut budget = LINE_OCTETS;
    loop {
        if rest.len() <= budget {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = budget;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        budget = LINE_OCTETS - 1;
    }
}

fn when(name: &str, w: When) -> String {
    match w {
        When::Time(t) => format!("{name}:{}", t.format("%Y%m%dT%H%M%SZ")),
        When::Day(d) => format!("{name};VALUE=DATE:{}", d.format("%Y%m%d")),
    }
}

/// A calendar named `name` with these events, as CRLF-terminated, folded lines.
pub fn calendar(name: &str, description: &str, events: &[Event]) -> String {
    let mut out = String::with_capacity(1024 + events.len() * 1024);
    let mut line = |l: &str| fold(l, &mut out);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//Snodo//Meetings feed//IT");
    line("CALSCALE:GREGORIAN");
    line(&format!("X-WR-CALNAME:{}", escape_text(name)));
    line(&format!("X-WR-CALDESC:{}", escape_text(description)));
    line("X-WR-TIMEZONE:Europe/Rome");
    for e in events {
        line("BEGIN:VEVENT");
        line(&format!("UID:{}", escape_text(&e.uid)));
        line(&format!("DTSTAMP:{}", e.stamp.format("%Y%m%dT%H%M%SZ")));
        line(&when("DTSTART", e.start));
        // A day-long event without an end lasts its day; a timed one is a point in time.
        if let Some(end) = e.end {
            let end = match (e.start, end) {
                // DTEND of a DATE event is exclusive: the day after the last one.
                (When::Day(_), When::Day(d)) => When::Day(d.succ_opt().unwrap_or(d)),
                (When::Day(_), When::Time(t)) => {
                    let d = t.date_naive();
                    When::Day(d.succ_opt().unwrap_or(d))
                }
                (When::Time(_), When::Day(d)) => match d.succ_opt() {
                    Some(next) => {
                        When::Time(next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                    }
                    None => When::Day(d),
                },
                (When::Time(_), t) => t,
            };
            line(&when("DTEND", end));
        }
        line(&format!("SUMMARY:{}", escape_text(&e.summary)));
        if !e.description.is_empty() {
            line(&format!("DESCRIPTION:{}", escape_text(&e.description)));
        }
        if let Some(l) = e.location.as_deref().filter(|l| !l.is_empty()) {
            line(&format!("LOCATION:{}", escape_text(l)));
        }
        if let Some(u) = &e.url {
            // URL is a URI value, not TEXT: no escaping, but only a clean http(s) URL.
            if (u.starts_with("https://") || u.starts_with("http://"))
                && !u.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                line(&format!("URL:{u}"));
            }
        }
        if !e.categories.is_empty() {
            let cats: Vec<String> = e.categories.iter().map(|c| escape_text(c)).collect();
            line(&format!("CATEGORIES:{}", cats.join(",")));
        }
        line("CLASS:PUBLIC");
        line("TRANSP:OPAQUE");
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

/// Whether a meeting is still to come: it ends now or later, or, without an end, it starts
/// today or later (a time-less start counts as today until the day is over).
pub fn is_upcoming(r: &snodo_model::Record, now: DateTime<Utc>, today: NaiveDate) -> bool {
    match (r.end_time, r.end_date, r.start_time, r.start_date) {
        (Some(end), _, _, _) => end.with_timezone(&Utc) >= now,
        (None, Some(end), _, _) => end >= today,
        (None, None, Some(start), _) => {
            start.with_timezone(&Utc) >= now || start.date_naive() >= today
        }
        (None, None, None, Some(start)) => start >= today,
        (None, None, None, None) => false,
    }
}

/// What every event of the feed shares.
pub struct FeedContext<'a> {
    /// Host part of every UID (the hub's public host).
    pub host: &'a str,
    pub lang: Option<&'a str>,
    /// Source id → credit and licence.
    pub names: &'a crate::export::SourceNames,
}

/// The event of one meeting record, or `None` when it has no start to put in a calendar.
pub fn meeting_event(
    r: &snodo_model::Record,
    last_changed: DateTime<Utc>,
    ctx: &FeedContext,
) -> Option<Event> {
    let start = match (r.start_time, r.start_date) {
        (Some(t), _) => When::Time(t.with_timezone(&Utc)),
        (None, Some(d)) => When::Day(d),
        (None, None) => return None,
    };
    let end = match (r.end_time, r.end_date) {
        (Some(t), _) => Some(When::Time(t.with_timezone(&Utc))),
        (None, Some(d)) => Some(When::Day(d)),
        (None, None) => None,
    };
    let pick = |t: &snodo_model::LocalizedText| {
        t.pick(ctx.lang, &r.default_locale)
            .map(|(_, s)| s.to_owned())
            .unwrap_or_default()
    };
    let english = ctx.lang == Some("en");
    let mut description = pick(&r.description);
    if let Some(p) = &r.parent {
        let title = pick(&p.title);
        if !title.is_empty() {
            let label = if english { "Part of" } else { "Parte di" };
            description.push_str(&format!("\n\n{label}: {title} ({})", p.url));
        }
    }
    let credit = crate::credit::of(ctx.names, &r.id.source);
    let name = credit.name.clone();
    let label = if english { "Source" } else { "Fonte" };
    let at = if credit.url.is_empty() {
        String::new()
    } else {
        format!(" ({})", credit.url)
    };
    description.push_str(&format!(
        "\n\n{label}: {name}{at}. {}.",
        credit.attribution()
    ));
    let details = r.meeting.as_ref();
    let mut place: Vec<String> = Vec::new();
    if let Some(d) = details {
        let venue = pick(&d.location);
        if !venue.is_empty() {
            place.push(venue);
        }
        if let Some(a) = d.address.as_deref().filter(|a| !a.is_empty()) {
            if !place.iter().any(|p| p == a) {
                place.push(a.to_owned());
            }
        }
        if place.is_empty() && d.mode == Some(snodo_model::MeetingMode::Online) {
            place.push("Online".to_owned());
        }
    }
    let mut categories = vec![name];
    if let Some(mode) = details.and_then(|d| d.mode) {
        categories.push(mode.as_str().to_owned());
    }
    Some(Event {
        uid: format!("{}@{}", r.id, ctx.host),
        stamp: last_changed,
        start,
        end,
        summary: pick(&r.title),
        description: description.trim().to_owned(),
        location: (!place.is_empty()).then(|| place.join(", ")),
        url: Some(r.url.clone()),
        categories,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parser does first: join continuation lines.
    fn unfold(s: &str) -> String {
        s.replace("\r\n ", "").replace("\r\n\t", "")
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\r\nf\rg"),
            "a\\\\b\\;c\\,d\\ne\\nf\\ng"
        );
        assert_eq!(escape_text("x\u{0}y\u{7}z\tw"), "xyz\tw");
        assert_eq!(escape_text("àè 🎉"), "àè 🎉");
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        for text in [
            "a".repeat(200),
            "è".repeat(120),
            "🎉".repeat(60),
            format!("x{}", "è🎉a".repeat(50)),
        ] {
            let mut out = String::new();
            fold(&format!("DESCRIPTION:{text}"), &mut out);
            assert!(out.ends_with("\r\n"));
            let lines: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
            assert!(lines.len() > 1);
            for (i, l) in lines.iter().enumerate() {
                assert!(l.len() <= LINE_OCTETS, "{i}: {} octets", l.len());
                if i > 0 {
                    assert!(l.starts_with(' '), "{l:?}");
                }
            }
            // Lines are as long as they may be: a fold happens only where the next character
            // would not fit.
            for l in &lines[..lines.len() - 1] {
                assert!(l.len() > LINE_OCTETS - 4, "{}", l.len());
            }
            assert_eq!(unfold(&out), format!("DESCRIPTION:{text}\r\n"));
        }
        let mut short = String::new();
        fold("VERSION:2.0", &mut short);
        assert_eq!(short, "VERSION:2.0\r\n");
    }

    fn event() -> Event {
        Event {
            uid: "p:meeting:1@snodo.example".into(),
            stamp: "2026-10-01T08:00:00Z".parse().unwrap(),
            start: When::Time("2029-01-15T09:00:00Z".parse().unwrap()),
            end: Some(When::Time("2029-01-15T12:00:00Z".parse().unwrap())),
            summary: "Assemblea; pubblica, aperta".into(),
            description: "Riga uno\nRiga due".into(),
            location: Some("Sala \"Rossa\", Via Roma 1".into()),
            url: Some("https://x.it/processes/a/f/1/meetings/1".into()),
            categories: vec!["meeting".into()],
        }
    }

    #[test]
    fn a_calendar_has_crlf_lines_and_the_required_properties() {
        let cal = calendar("Snodo", "Incontri", &[event()]);
        assert!(cal.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:"));
        assert!(cal.ends_with("END:VCALENDAR\r\n"));
        assert!(!cal.replace("\r\n", "").contains('\n'), "bare LF");
        assert!(!cal.replace("\r\n", "").contains('\r'), "bare CR");
        let u = unfold(&cal);
        for l in [
            "UID:p:meeting:1@snodo.example",
            "DTSTAMP:20261001T080000Z",
            "DTSTART:20290115T090000Z",
            "DTEND:20290115T120000Z",
            "SUMMARY:Assemblea\\; pubblica\\, aperta",
            "DESCRIPTION:Riga uno\\nRiga due",
            "LOCATION:Sala \"Rossa\"\\, Via Roma 1",
            "URL:https://x.it/processes/a/f/1/meetings/1",
        ] {
            assert!(u.contains(&format!("\r\n{l}\r\n")), "{l} missing in {u}");
        }
    }

    fn meeting() -> snodo_model::Record {
        use snodo_model::*;
        let mut r = Record::new(
            RecordId::new("partecipa", Kind::Meeting, "421"),
            "https://partecipa.gov.it/processes/ogp/f/42/meetings/421",
            "it",
            LocalizedText::single("it", "Tavolo, aperto; a tutti"),
        );
        r.description = LocalizedText::single("it", "Ordine del giorno");
        r.start_time = chrono::DateTime::parse_from_rfc3339("2029-01-15T10:00:00+01:00").ok();
        r.end_time = chrono::DateTime::parse_from_rfc3339("2029-01-15T13:00:00+01:00").ok();
        r.start_date = r.start_time.map(|t| t.date_naive());
        r.end_date = r.end_time.map(|t| t.date_naive());
        r.meeting = Some(MeetingDetails {
            mode: Some(MeetingMode::Hybrid),
            address: Some("Via del Corso 1, Roma".into()),
            location: LocalizedText::single("it", "Sala delle Colonne"),
        });
        r.parent = Some(ParentRef {
            id: RecordId::new("partecipa", Kind::Process, "4"),
            title: LocalizedText::single("it", "Piano OGP"),
            url: "https://partecipa.gov.it/processes/ogp".into(),
        });
        r
    }

    #[test]
    fn a_meeting_becomes_an_event_in_utc_with_its_space_and_source() {
        let mut names = crate::export::SourceNames::new();
        names.insert(
            "partecipa".into(),
            crate::credit::SourceCredit {
                name: "ParteciPa".into(),
                url: "https://partecipa.gov.it".into(),
                licence: snodo_model::licence::by_spdx("CC-BY-4.0"),
                credit: "Dipartimento della funzione pubblica".into(),
            },
        );
        let ctx = FeedContext {
            host: "snodo.example",
            lang: None,
            names: &names,
        };
        let stamp = "2026-10-01T08:00:00Z".parse().unwrap();
        let e = meeting_event(&meeting(), stamp, &ctx).unwrap();
        assert_eq!(e.uid, "partecipa:meeting:421@snodo.example");
        // 10:00 in Rome in January is 09:00 UTC.
        assert_eq!(e.start, When::Time("2029-01-15T09:00:00Z".parse().unwrap()));
        assert_eq!(
            e.location.as_deref(),
            Some("Sala delle Colonne, Via del Corso 1, Roma")
        );
        assert!(
            e.description.contains("Parte di: Piano OGP"),
            "{}",
            e.description
        );
        assert!(e
            .description
            .contains("Fonte: ParteciPa (https://partecipa.gov.it). Dipartimento della funzione pubblica, CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)."), "{}", e.description);
        assert_eq!(e.categories, vec!["ParteciPa", "hybrid"]);
        let en = FeedContext {
            lang: Some("en"),
            ..ctx
        };
        assert!(meeting_event(&meeting(), stamp, &en)
            .unwrap()
            .description
            .contains("Source: ParteciPa"));
        let mut untimed = meeting();
        untimed.start_time = None;
        untimed.start_date = None;
        assert!(meeting_event(&untimed, stamp, &ctx).is_none());
    }

    #[test]
    fn upcoming_means_not_yet_ended() {
        let r = meeting();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(
            is_upcoming(&r, t("2029-01-15T11:59:00Z"), d("2029-01-15")),
            "under way"
        );
        assert!(
            !is_upcoming(&r, t("2029-01-15T12:01:00Z"), d("2029-01-15")),
            "over"
        );
        let mut no_end = r.clone();
        no_end.end_time = None;
        no_end.end_date = None;
        assert!(
            is_upcoming(&no_end, t("2029-01-15T20:00:00Z"), d("2029-01-15")),
            "same day"
        );
        assert!(!is_upcoming(
            &no_end,
            t("2029-01-16T08:00:00Z"),
            d("2029-01-16")
        ));
        let mut days = no_end.clone();
        days.start_time = None;
        assert!(is_upcoming(
            &days,
            t("2029-01-15T22:00:00Z"),
            d("2029-01-15")
        ));
        assert!(!is_upcoming(
            &days,
            t("2029-01-16T22:00:00Z"),
            d("2029-01-16")
        ));
    }

    #[test]
    fn days_and_unsafe_urls() {
        let mut e = event();
        e.start = When::Day("2029-03-01".parse().unwrap());
        e.end = Some(When::Day("2029-03-02".parse().unwrap()));
        e.url = Some("javascript:alert(1)".into());
        let u = unfold(&calendar("S", "D", &[e.clone()]));
        assert!(u.contains("DTSTART;VALUE=DATE:20290301\r\n"));
        assert!(u.contains("DTEND;VALUE=DATE:20290303\r\n"), "exclusive end");
        assert!(!u.contains("URL:"));
        e.url = Some("https://x.it/a\r\nX-EVIL:1".into());
        e.end = None;
        let u = unfold(&calendar("S", "D", &[e]));
        assert!(!u.contains("X-EVIL") && !u.contains("DTEND"));
    }
}
