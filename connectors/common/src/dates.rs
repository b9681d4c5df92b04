//! Dates as Italian sites write them: "14 giugno – 7 luglio 2024", "dal 14/06/2024 al 07/07/2024",
//! "dal 14 al 30 giugno 2024", "fino al 7 luglio 2024", "lunedì 1° luglio 2024, ore 10:00", ISO dates,
//! RFC 3339 and RFC 2822 timestamps. Everything here is total: garbage gives `None`, never a panic.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A start and end found in a text; either may be missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateRange {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

impl DateRange {
    pub fn is_empty(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Value and number of digits.
    Num(u32, usize),
    Word(String),
    Sep(char),
}

fn tokens(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut num = String::new();
    let mut word = String::new();
    let flush = |num: &mut String, word: &mut String, out: &mut Vec<Tok>| {
        if !num.is_empty() {
            // Numbers longer than 8 digits are not dates; cap to avoid overflow.
            if num.len() <= 8 {
                if let Ok(n) = num.parse() {
                    out.push(Tok::Num(n, num.len()));
                }
            }
            num.clear();
        }
        if !word.is_empty() {
            out.push(Tok::Word(std::mem::take(word)));
        }
    };
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_digit() {
            if !word.is_empty() {
                flush(&mut num, &mut word, &mut out);
            }
            num.push(c);
        } else if c.is_alphabetic() {
            if !num.is_empty() {
                flush(&mut num, &mut word, &mut out);
            }
            word.push(c);
        } else {
            flush(&mut num, &mut word, &mut out);
            match c {
                '/' | '.' | '-' | ',' | ':' => out.push(Tok::Sep(c)),
                '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push(Tok::Sep('-')),
                _ => {}
            }
        }
        if out.len() > 4096 {
            break;
        }
    }
    flush(&mut num, &mut word, &mut out);
    out
}

/// Month number of an Italian or English month name or common abbreviation.
pub fn month_number(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.');
    let months: [&[&str]; 12] = [
        &["gennaio", "gen", "january", "jan"],
        &["febbraio", "feb", "february"],
        &["marzo", "mar", "march"],
        &["aprile", "apr", "april"],
        &["maggio", "mag", "may"],
        &["giugno", "giu", "june", "jun"],
        &["luglio", "lug", "july", "jul"],
        &["agosto", "ago", "august", "aug"],
        &["settembre", "set", "sett", "september", "sep", "sept"],
        &["ottobre", "ott", "october", "oct"],
        &["novembre", "nov", "november"],
        &["dicembre", "dic", "december", "dec"],
    ];
    months
        .iter()
        .position(|names| names.contains(&w))
        .map(|i| i as u32 + 1)
}

#[derive(Debug, Clone, Copy)]
struct Mention {
    day: u32,
    month: Option<u32>,
    year: Option<i32>,
    /// Index of the first token of the mention.
    at: usize,
}

fn year_of(n: u32, digits: usize) -> Option<i32> {
    match digits {
        4 if (1900..=2200).contains(&n) => Some(n as i32),
        2 => Some(2000 + n as i32),
        _ => None,
    }
}

fn mentions(toks: &[Tok]) -> Vec<Mention> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        // Numeric: d/m/y, d.m.y, d-m-y, or ISO y-m-d.
        if let (
            Some(Tok::Num(a, la)),
            Some(Tok::Sep(s1)),
            Some(Tok::Num(b, lb)),
            Some(Tok::Sep(s2)),
            Some(Tok::Num(c, lc)),
        ) = (
            toks.get(i),
            toks.get(i + 1),
            toks.get(i + 2),
            toks.get(i + 3),
            toks.get(i + 4),
        ) {
            if s1 == s2 && matches!(s1, '/' | '.' | '-') && *lb <= 2 {
                let m = if *la == 4 && *lc <= 2 {
                    Some(Mention {
                        day: *c,
                        month: Some(*b),
                        year: year_of(*a, 4),
                        at: i,
                    })
                } else if *la <= 2 && (*lc == 4 || *lc == 2) {
                    Some(Mention {
                        day: *a,
                        month: Some(*b),
                        year: year_of(*c, *lc),
                        at: i,
                    })
                } else {
                    None
                };
                if let Some(m) = m {
                    out.push(m);
                    i += 5;
                    continue;
                }
            }
        }
        // Textual: "14 giugno 2024", "14 giugno", "1° luglio", and a bare day before another date
        // ("dal 14 al 30 giugno 2024", "14-30 giugno 2024").
        if let Some(Tok::Num(d, ld)) = toks.get(i) {
            if *ld <= 2 {
                if let Some(Tok::Word(w)) = toks.get(i + 1) {
                    if let Some(month) = month_number(w) {
                        let mut j = i + 2;
                        if let Some(Tok::Sep('.' | ',')) = toks.get(j) {
                            j += 1;
                        }
                        let year = match toks.get(j) {
                            Some(Tok::Num(y, 4)) => {
                                j += 1;
                                year_of(*y, 4)
                            }
                            _ => {
                                j = i + 2;
                                None
                            }
                        };
                        out.push(Mention {
                            day: *d,
                            month: Some(month),
                            year,
                            at: i,
                        });
                        i = j;
                        continue;
                    }
                }
                let joins_next = match toks.get(i + 1) {
                    Some(Tok::Sep('-')) => true,
                    Some(Tok::Word(w)) => matches!(w.as_str(), "al" | "a" | "e" | "all" | "fino"),
                    _ => false,
                };
                let next_is_day = matches!(toks.get(i + 2), Some(Tok::Num(_, 1..=2)))
                    || matches!(
                        (toks.get(i + 2), toks.get(i + 3)),
                        (Some(Tok::Word(_)), Some(Tok::Num(_, 1..=2)))
                    );
                if joins_next && next_is_day {
                    out.push(Mention {
                        day: *d,
                        month: None,
                        year: None,
                        at: i,
                    });
                }
            }
        }
        i += 1;
    }
    // A mention missing its month or year takes them from the next one ("14 – 30 giugno 2024").
    for k in (0..out.len().saturating_sub(1)).rev() {
        let next = out[k + 1];
        if out[k].month.is_none() {
            out[k].month = next.month;
        }
        if out[k].year.is_none() {
            out[k].year = next.year;
        }
    }
    out
}

fn to_date(m: &Mention) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(m.year?, m.month?, m.day)
}

/// Words that make a lone date an end ("fino al", "entro il", "scadenza").
const END_WORDS: &[&str] = &[
    "fino", "entro", "scadenza", "scade", "termine", "chiusura", "chiude", "chiusa", "conclusa",
    "until", "deadline", "closes", "end", "fine",
];

/// Finds a start and end in a text. Two dates are a range; a lone date is the end when words like
/// "fino al", "entro il", "scadenza" precede it, else the start. An end before the start is dropped.
pub fn parse_range(text: &str) -> DateRange {
    let toks = tokens(text);
    let found: Vec<(NaiveDate, usize)> = mentions(&toks)
        .iter()
        .filter_map(|m| to_date(m).map(|d| (d, m.at)))
        .collect();
    match found.as_slice() {
        [] => DateRange::default(),
        [(d, at)] => {
            let is_end = toks[..*at].iter().rev().take(4).any(|t| match t {
                Tok::Word(w) => END_WORDS.contains(&w.as_str()),
                _ => false,
            });
            if is_end {
                DateRange {
                    start: None,
                    end: Some(*d),
                }
            } else {
                DateRange {
                    start: Some(*d),
                    end: None,
                }
            }
        }
        [(s, _), (e, _), ..] => DateRange {
            start: Some(*s),
            end: (e >= s).then_some(*e),
        },
    }
}

/// The first complete date in a text (any of the forms above), or the date of a timestamp.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if let Some(dt) = parse_timestamp(text) {
        return Some(dt.with_timezone(&chrono_tz::Europe::Rome).date_naive());
    }
    mentions(&tokens(text)).iter().find_map(to_date)
}

/// A timestamp: RFC 3339, RFC 2822, or a naive ISO date-time taken as Italian local time.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if t.len() > 64 {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(t) {
        return Some(dt.with_timezone(&Utc));
    }
    // Ruby's Time#to_s ("2024-03-01 10:00:00 +0100"), as CONSUL's API sends.
    if let Ok(dt) = DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S %z") {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
            return chrono_tz::Europe::Rome
                .from_local_datetime(&naive)
                .earliest()
                .map(|d| d.with_timezone(&Utc));
        }
    }
    None
}

/// A date or timestamp as a timestamp (a bare date is midnight in Italy).
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    parse_timestamp(text).or_else(|| {
        let d = parse_date(text)?;
        chrono_tz::Europe::Rome
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|d| d.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        Some(s.parse().unwrap())
    }

    fn range(s: &str) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let r = parse_range(s);
        (r.start, r.end)
    }

    #[test]
    fn italian_ranges() {
        assert_eq!(
            range("14 giugno – 7 luglio 2024"),
            (d("2024-06-14"), d("2024-07-07"))
        );
        assert_eq!(
            range("dal 14/06/2024 al 07/07/2024"),
            (d("2024-06-14"), d("2024-07-07"))
        );
        assert_eq!(
            range("Dal 14 al 30 giugno 2024"),
            (d("2024-06-14"), d("2024-06-30"))
        );
        assert_eq!(
            range("14-30 giugno 2024"),
            (d("2024-06-14"), d("2024-06-30"))
        );
        assert_eq!(
            range("dal 1° dicembre 2023 al 15 gennaio 2024"),
            (d("2023-12-01"), d("2024-01-15"))
        );
        assert_eq!(
            range("Periodo: 2024-03-01 - 2024-04-30"),
            (d("2024-03-01"), d("2024-04-30"))
        );
        assert_eq!(
            range("14.6.24 — 7.7.24"),
            (d("2024-06-14"), d("2024-07-07"))
        );
    }

    #[test]
    fn lone_dates_are_start_or_end_by_their_words() {
        assert_eq!(range("Fino al 7 luglio 2024"), (None, d("2024-07-07")));
        assert_eq!(range("Scadenza: 07/07/2024"), (None, d("2024-07-07")));
        assert_eq!(
            range("entro il 31 ott. 2025 ore 12:00"),
            (None, d("2025-10-31"))
        );
        assert_eq!(
            range("lunedì 1° luglio 2024, ore 10:00"),
            (d("2024-07-01"), None)
        );
        assert_eq!(range("A partire dal 3 set 2024"), (d("2024-09-03"), None));
    }

    #[test]
    fn garbage_and_impossible_dates_give_nothing() {
        for s in [
            "",
            "aperta",
            "31/02/2024",
            "99 giugno 2024",
            "14 giugno",
            "123456789012345678901234567890",
            "💥 — / - . ,",
            "dal al",
        ] {
            assert_eq!(parse_range(s), DateRange::default(), "{s}");
            assert_eq!(parse_date(s), None, "{s}");
        }
        // An end before the start is dropped rather than making an invalid record.
        assert_eq!(
            range("dal 10/07/2024 al 01/07/2024"),
            (d("2024-07-10"), None)
        );
        let long = "1 ".repeat(100_000);
        assert_eq!(parse_range(&long), DateRange::default());
    }

    #[test]
    fn single_dates_and_timestamps() {
        assert_eq!(parse_date("2024-06-14"), d("2024-06-14"));
        assert_eq!(parse_date("Pubblicato il 14 giugno 2024"), d("2024-06-14"));
        assert_eq!(parse_date("2024-06-14T23:30:00Z"), d("2024-06-15"));
        assert_eq!(
            parse_timestamp("Fri, 14 Jun 2024 10:00:00 +0200").map(|t| t.to_rfc3339()),
            Some("2024-06-14T08:00:00+00:00".into())
        );
        assert_eq!(
            parse_timestamp("2024-06-14T10:00:00").map(|t| t.to_rfc3339()),
            Some("2024-06-14T08:00:00+00:00".into())
        );
        assert_eq!(
            parse_instant("14/06/2024").map(|t| t.to_rfc3339()),
            Some("2024-06-13T22:00:00+00:00".into())
        );
    }
}
