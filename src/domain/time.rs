//! Points in time as plain data (milliseconds since the Unix epoch, UTC), and how they are
//! shown: RFC 3339 in exports, Dutch local dates (Europe/Amsterdam) in charts and messages.
//!
//! Time is always passed in; nothing in the domain reads the clock.

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    fn utc(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `2026-11-29T20:50:38Z`, for exports.
    pub fn rfc3339(self) -> String {
        let t = self.utc();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// The time in the Netherlands (CET, or CEST in summer).
    pub fn amsterdam(self) -> OffsetDateTime {
        let utc = self.utc();
        let offset = if is_eu_summer_time(utc) { 2 } else { 1 };
        utc.to_offset(UtcOffset::from_hms(offset, 0, 0).expect("valid offset"))
    }

    /// `29-11-2026`, the Dutch way, in Dutch local time.
    pub fn date_nl(self) -> String {
        let t = self.amsterdam();
        format!("{:02}-{:02}-{:04}", t.day(), u8::from(t.month()), t.year())
    }

    /// `2026-11-29`, sortable, for file names.
    pub fn date_iso(self) -> String {
        let t = self.amsterdam();
        format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
    }
}

/// EU summer time: from the last Sunday of March 01:00 UTC to the last Sunday of October
/// 01:00 UTC.
fn is_eu_summer_time(utc: OffsetDateTime) -> bool {
    let year = utc.year();
    let start = last_sunday(year, Month::March)
        .with_hms(1, 0, 0)
        .expect("valid")
        .assume_utc();
    let end = last_sunday(year, Month::October)
        .with_hms(1, 0, 0)
        .expect("valid")
        .assume_utc();
    utc >= start && utc < end
}

fn last_sunday(year: i32, month: Month) -> Date {
    let mut day = Date::from_calendar_date(year, month, month.length(year)).expect("valid date");
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day().expect("in range");
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc: &str) -> Timestamp {
        let t = OffsetDateTime::parse(rfc, &time::format_description::well_known::Rfc3339).unwrap();
        Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(at("2026-11-29T20:50:38Z").rfc3339(), "2026-11-29T20:50:38Z");
    }

    #[test]
    fn dutch_dates_follow_local_time() {
        // Winter: UTC+1, so 23:30 UTC is the next day in Amsterdam.
        assert_eq!(at("2026-11-29T23:30:00Z").date_nl(), "30-11-2026");
        // Summer: UTC+2.
        assert_eq!(at("2026-07-01T21:59:00Z").date_nl(), "01-07-2026");
        assert_eq!(at("2026-07-01T22:00:00Z").date_nl(), "02-07-2026");
        // The switch: last Sunday of March 2026 is 29 March, 01:00 UTC.
        assert_eq!(at("2026-03-29T00:59:00Z").amsterdam().hour(), 1);
        assert_eq!(at("2026-03-29T01:00:00Z").amsterdam().hour(), 3);
        // Back: last Sunday of October 2026 is 25 October, 01:00 UTC.
        assert_eq!(at("2026-10-25T00:59:00Z").amsterdam().hour(), 2);
        assert_eq!(at("2026-10-25T01:00:00Z").amsterdam().hour(), 2);
        assert_eq!(at("2026-11-29T20:50:00Z").date_iso(), "2026-11-29");
    }
}
