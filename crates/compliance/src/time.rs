//! One instant in the three encodings the original's XmlAdapter writes side by side
//! (xccos.md §6): Unix milliseconds, an ISO-8601 UTC string with seven fractional digits,
//! and .NET ticks (100 ns since 0001-01-01T00:00:00Z). All three come from the outbox's
//! Unix nanoseconds, so they agree to the tick.

use jiff::Timestamp;

/// Ticks from 0001-01-01 to the Unix epoch: 719,162 days of 864,000,000,000 ticks.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// An instant as the archive writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instant {
    /// Unix milliseconds (`since1970`), rounded down.
    pub since1970: i64,
    /// `2008-06-04T20:15:40.9535482Z` (`string`): 100 ns precision, like .NET's "o" format.
    pub string: String,
    /// .NET ticks (`long`).
    pub ticks: i64,
}

impl Instant {
    /// From Unix nanoseconds. Sub-tick nanoseconds are dropped (rounded toward the past), so
    /// every encoding names the same 100 ns tick.
    pub fn from_unix_nanos(nanos: i64) -> Instant {
        let ticks_since_epoch = nanos.div_euclid(100);
        let whole_seconds = nanos.div_euclid(1_000_000_000);
        let fraction = nanos.rem_euclid(1_000_000_000) / 100;
        // i64 nanoseconds span ±292 years, well inside jiff's range.
        let seconds = Timestamp::from_second(whole_seconds).unwrap_or(Timestamp::UNIX_EPOCH);
        Instant {
            since1970: nanos.div_euclid(1_000_000),
            string: format!("{}.{fraction:07}Z", seconds.strftime("%Y-%m-%dT%H:%M:%S")),
            ticks: ticks_since_epoch + UNIX_EPOCH_TICKS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_references_example_in_all_three_encodings() {
        // xccos.md §6: 2008-06-04T20:15:40.9535482Z is 633482073409535482 ticks.
        let nanos = 1_212_610_540_953_548_200;
        let at = Instant::from_unix_nanos(nanos);
        assert_eq!(at.since1970, 1_212_610_540_953);
        assert_eq!(at.string, "2008-06-04T20:15:40.9535482Z");
        assert_eq!(at.ticks, 633_482_073_409_535_482);
        // The reference's formula, from milliseconds.
        assert_eq!(
            at.since1970 * 10_000 + UNIX_EPOCH_TICKS,
            633_482_073_409_530_000
        );
    }

    #[test]
    fn the_epoch_leading_zeros_and_times_before_it() {
        let epoch = Instant::from_unix_nanos(0);
        assert_eq!(epoch.string, "1970-01-01T00:00:00.0000000Z");
        assert_eq!(epoch.ticks, UNIX_EPOCH_TICKS);
        let early = Instant::from_unix_nanos(1_000_000_123);
        assert_eq!(early.string, "1970-01-01T00:00:01.0000001Z");
        // A clock stepped back past the epoch still gives one consistent instant.
        let before = Instant::from_unix_nanos(-1);
        assert_eq!(before.since1970, -1);
        assert_eq!(before.string, "1969-12-31T23:59:59.9999999Z");
        assert_eq!(before.ticks, UNIX_EPOCH_TICKS - 1);
    }
}
