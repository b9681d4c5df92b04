//! Status is computed from dates at query time, never frozen at harvest time: a process open
//! yesterday may be closed today without any harvest.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Where a record stands relative to today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Upcoming,
    Open,
    Closed,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Upcoming, Status::Open, Status::Closed];

    /// Dates are inclusive days: a process ending today is still open today.
    /// No start means "already started"; no end means "still running" (assemblies, permanent
    /// consultations), so such records count as open once started.
    pub fn from_dates(
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Status {
        match (start, end) {
            (Some(s), _) if s > today => Status::Upcoming,
            (_, Some(e)) if e < today => Status::Closed,
            _ => Status::Open,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Upcoming => "upcoming",
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown status `{s}`; expected one of: upcoming, open, closed"))
    }
}

/// Today's date in Italy (Europe/Rome), the day against which statuses are computed.
pub fn today_in_italy() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Rome)
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn status_from_dates_is_inclusive() {
        let today = d("2026-05-10");
        let st = |a: Option<&str>, b: Option<&str>| Status::from_dates(a.map(d), b.map(d), today);
        assert_eq!(st(Some("2026-05-11"), Some("2026-06-01")), Status::Upcoming);
        assert_eq!(st(Some("2026-05-10"), Some("2026-06-01")), Status::Open);
        assert_eq!(st(Some("2026-01-01"), Some("2026-05-10")), Status::Open);
        assert_eq!(st(Some("2026-01-01"), Some("2026-05-09")), Status::Closed);
        assert_eq!(st(None, None), Status::Open);
        assert_eq!(st(None, Some("2020-01-01")), Status::Closed);
        assert_eq!(st(Some("2027-01-01"), None), Status::Upcoming);
    }

    #[test]
    fn status_parses_only_known_values() {
        assert_eq!("open".parse::<Status>(), Ok(Status::Open));
        assert!("bogus"
            .parse::<Status>()
            .unwrap_err()
            .contains("upcoming, open, closed"));
    }
}
