//! What every match needs for facets and ranking, packed into one `u64` fast field.
//!
//! Counting facets over all matches reads a few values per match; at a million records a common
//! word matches a hundred thousand of them. Five separate columns (kind, region, start, end,
//! and their optional-value indexes) cost five dynamic lookups per match; one dense column costs
//! one, and can be read in batches.
//!
//! Layout, low bits first: end day (20 bits), start day (20 bits), kind (4 bits), region (5 bits),
//! participation methods (6 bits, one per [`snodo_model::METHODS`] entry).
//! Days count from 1970-01-01 and are clamped: a date before 1970 behaves as "long ago" and one
//! after the year 4840 as "never", which gives every status the model gives for any today
//! between those years.

use chrono::NaiveDate;
use snodo_model::{Kind, Status};

use crate::document::day;

const DAY_BITS: u32 = 20;
const DAY_MASK: u64 = (1 << DAY_BITS) - 1;
/// A missing end: still running.
const NO_END: u64 = DAY_MASK;
const KIND_SHIFT: u32 = 2 * DAY_BITS;
const REGION_SHIFT: u32 = KIND_SHIFT + 4;
const METHOD_SHIFT: u32 = REGION_SHIFT + 5;
/// A region value that is not an ISTAT region code (01–20): read it from the string column.
pub const REGION_OTHER: u8 = 31;

/// Day number of 1970-01-01 in [`day`]'s scale.
fn epoch() -> i64 {
    day(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default())
}

/// A day as an offset from 1970, within `0..=NO_END - 1`.
pub fn day_offset(d: i64) -> u64 {
    (d.saturating_sub(epoch())).clamp(0, (NO_END - 1) as i64) as u64
}

/// The packed value of a record's facets.
pub fn pack(
    kind: Kind,
    region: Option<&str>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    methods: &[&str],
) -> u64 {
    let methods = snodo_model::METHODS
        .iter()
        .enumerate()
        .filter(|(_, m)| methods.contains(m))
        .fold(0u64, |acc, (i, _)| acc | 1 << i);
    let end = end.map_or(NO_END, |d| day_offset(day(d)));
    let start = start.map_or(0, |d| day_offset(day(d)));
    let kind = kind_number(kind) as u64;
    let region = region.map_or(0, |r| istat_region(r).unwrap_or(REGION_OTHER));
    end | start << DAY_BITS
        | kind << KIND_SHIFT
        | u64::from(region) << REGION_SHIFT
        | methods << METHOD_SHIFT
}

/// The kind's index in [`Kind::ALL`] (what [`kind_index`] reads back).
pub fn kind_number(kind: Kind) -> usize {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// The number (1–20) of an ISTAT region code (`01`–`20`); `None` for any other value.
pub fn istat_region(r: &str) -> Option<u8> {
    match r.parse::<u8>() {
        Ok(n @ 1..=20) if r.len() == 2 => Some(n),
        _ => None,
    }
}

/// The participation methods, one bit per [`snodo_model::METHODS`] entry.
pub fn methods(v: u64) -> u64 {
    (v >> METHOD_SHIFT) & 0x3f
}

/// Index of the kind in [`Kind::ALL`].
pub fn kind_index(v: u64) -> usize {
    ((v >> KIND_SHIFT) & 0xf) as usize
}

/// 0 for no region, 1–20 for an ISTAT region, [`REGION_OTHER`] otherwise.
pub fn region(v: u64) -> u8 {
    ((v >> REGION_SHIFT) & 0x1f) as u8
}

/// Status against `today`, an offset from [`day_offset`]; the same as [`Status::from_dates`].
pub fn status(v: u64, today: u64) -> Status {
    let end = v & DAY_MASK;
    let start = (v >> DAY_BITS) & DAY_MASK;
    if start > today {
        Status::Upcoming
    } else if end < today {
        Status::Closed
    } else {
        Status::Open
    }
}

/// Whether the period of `v` overlaps the days `from..=to` (offsets from
/// [`period_offsets`]): it started by `to` and had not ended before `from`.
pub fn overlaps(v: u64, from: u64, to: u64) -> bool {
    let end = v & DAY_MASK;
    let start = (v >> DAY_BITS) & DAY_MASK;
    start <= to && end >= from
}

/// The offsets of a period's days for [`overlaps`], when it answers exactly for them: days after
/// 1970-01-01 and before the last day kept, so that a record's days clamped to either end still
/// compare as its real days do. `None` for other periods.
pub fn period_offsets(from: NaiveDate, to: NaiveDate) -> Option<(u64, u64)> {
    let inside = |d: NaiveDate| {
        let offset = day(d) - epoch();
        (1..=(NO_END - 2) as i64)
            .contains(&offset)
            .then_some(offset as u64)
    };
    Some((inside(from)?, inside(to)?))
}

/// The region code as stored in records: `"01"`…`"20"`.
pub fn region_code(n: u8) -> String {
    format!("{n:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_two_digit_codes_01_to_20_are_istat_regions() {
        assert_eq!(istat_region("07"), Some(7));
        assert_eq!(istat_region("20"), Some(20));
        for other in ["7", "00", "21", "Estero", "", "007"] {
            assert_eq!(istat_region(other), None, "{other}");
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn status_matches_the_model_on_every_combination() {
        let days = [
            None,
            Some("1950-01-01"),
            Some("2026-05-09"),
            Some("2026-05-10"),
            Some("2026-05-11"),
            Some("9999-12-31"),
        ];
        let today = d("2026-05-10");
        let t = day_offset(day(today));
        for s in days {
            for e in days {
                let (s, e) = (s.map(d), e.map(d));
                let v = pack(Kind::Process, None, s, e, &[]);
                assert_eq!(
                    status(v, t),
                    Status::from_dates(s, e, today),
                    "start {s:?} end {e:?}"
                );
            }
        }
    }

    #[test]
    fn kind_and_region_round_trip() {
        for (i, k) in Kind::ALL.iter().enumerate() {
            for r in [
                None,
                Some("01"),
                Some("08"),
                Some("20"),
                Some("21"),
                Some("8"),
                Some("xx"),
            ] {
                let v = pack(
                    *k,
                    r,
                    Some(d("2024-01-01")),
                    None,
                    &["budgets", "consultation"],
                );
                assert_eq!(methods(v), 0b10_0010);
                assert_eq!(kind_index(v), i);
                let want = match r {
                    None => 0,
                    Some("01") => 1,
                    Some("08") => 8,
                    Some("20") => 20,
                    Some(_) => REGION_OTHER,
                };
                assert_eq!(region(v), want, "{r:?}");
            }
        }
        assert_eq!(region_code(8), "08");
    }
}
