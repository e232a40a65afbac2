//! One instant in the three encodings the original's XmlAdapter writes side by side
//! (xccos.md §6): Unix milliseconds, an ISO-8601 UTC string with seven fractional digits,
//! and .NET ticks (100 ns since 0001-01-01T00:00:00Z). All three come from the outbox's
//! Unix nanoseconds, so they agree to the tick.
//!
//! Every event of an export carries one, so the string is made by arithmetic into a fixed
//! array: no allocation and no general-purpose formatter. i64 nanoseconds span the years
//! 1677 to 2262, so the year always has four digits and the string always 28 bytes.

/// Ticks from 0001-01-01 to the Unix epoch: 719,162 days of 864,000,000,000 ticks.
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;
/// `2008-06-04T20:15:40.9535482Z`.
const STRING_LEN: usize = 28;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// An instant as the archive writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    /// Unix milliseconds (`since1970`), rounded down.
    pub since1970: i64,
    /// .NET ticks (`long`).
    pub ticks: i64,
    /// The `string` encoding, ASCII.
    text: [u8; STRING_LEN],
}

impl Instant {
    /// From Unix nanoseconds. Sub-tick nanoseconds are dropped (rounded toward the past), so
    /// every encoding names the same 100 ns tick.
    pub fn from_unix_nanos(nanos: i64) -> Instant {
        let seconds = nanos.div_euclid(NANOS_PER_SECOND);
        let fraction = nanos.rem_euclid(NANOS_PER_SECOND) / 100;
        let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
        let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let mut text = *b"0000-00-00T00:00:00.0000000Z";
        digits(&mut text[0..4], year);
        digits(&mut text[5..7], month);
        digits(&mut text[8..10], day);
        digits(&mut text[11..13], of_day / 3_600);
        digits(&mut text[14..16], of_day / 60 % 60);
        digits(&mut text[17..19], of_day % 60);
        digits(&mut text[20..27], fraction);
        Instant {
            since1970: nanos.div_euclid(1_000_000),
            ticks: nanos.div_euclid(100) + UNIX_EPOCH_TICKS,
            text,
        }
    }

    /// `2008-06-04T20:15:40.9535482Z` (`string`): 100 ns precision, like .NET's "o" format.
    pub fn string(&self) -> &str {
        // Only ASCII digits and separators are ever written into it.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

/// Writes `value`'s last `out.len()` decimal digits into `out`, zero-padded.
fn digits(out: &mut [u8], mut value: i64) {
    for place in out.iter_mut().rev() {
        *place = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01: Howard
/// Hinnant's `civil_from_days`, which counts in 400-year eras beginning on March 1st so
/// that the leap day is the last day of its year.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_references_example_in_all_three_encodings() {
        // xccos.md §6: 2008-06-04T20:15:40.9535482Z is 633482073409535482 ticks.
        let nanos = 1_212_610_540_953_548_200;
        let at = Instant::from_unix_nanos(nanos);
        assert_eq!(at.since1970, 1_212_610_540_953);
        assert_eq!(at.string(), "2008-06-04T20:15:40.9535482Z");
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
        assert_eq!(epoch.string(), "1970-01-01T00:00:00.0000000Z");
        assert_eq!(epoch.ticks, UNIX_EPOCH_TICKS);
        let early = Instant::from_unix_nanos(1_000_000_123);
        assert_eq!(early.string(), "1970-01-01T00:00:01.0000001Z");
        // A clock stepped back past the epoch still gives one consistent instant.
        let before = Instant::from_unix_nanos(-1);
        assert_eq!(before.since1970, -1);
        assert_eq!(before.string(), "1969-12-31T23:59:59.9999999Z");
        assert_eq!(before.ticks, UNIX_EPOCH_TICKS - 1);
    }

    #[test]
    fn leap_days_and_the_ends_of_the_range() {
        let at = |s: &str| {
            let t: jiff::Timestamp = s.parse().unwrap();
            Instant::from_unix_nanos(t.as_nanosecond() as i64)
        };
        assert_eq!(
            at("2000-02-29T12:00:00Z").string(),
            "2000-02-29T12:00:00.0000000Z"
        );
        assert_eq!(
            at("2100-03-01T00:00:00Z").string(),
            "2100-03-01T00:00:00.0000000Z"
        );
        assert_eq!(
            Instant::from_unix_nanos(i64::MIN).string(),
            "1677-09-21T00:12:43.1452241Z"
        );
        assert_eq!(
            Instant::from_unix_nanos(i64::MAX).string(),
            "2262-04-11T23:47:16.8547758Z"
        );
    }

    proptest! {
        /// The arithmetic agrees with jiff's calendar for every representable instant.
        #[test]
        fn the_string_is_jiffs(nanos in any::<i64>()) {
            let seconds = nanos.div_euclid(NANOS_PER_SECOND);
            let fraction = nanos.rem_euclid(NANOS_PER_SECOND) / 100;
            let t = jiff::Timestamp::from_second(seconds).unwrap();
            let expected = format!("{}.{fraction:07}Z", t.strftime("%Y-%m-%dT%H:%M:%S"));
            let at = Instant::from_unix_nanos(nanos);
            prop_assert_eq!(at.string(), expected);
        }
    }
}
