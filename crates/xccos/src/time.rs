//! XCCOS time stamps: the server writes .NET round-trip UTC (`2010-09-14T14:26:17.6206356Z`,
//! seven fractional digits = 100 ns ticks); clients send whole seconds
//! (`2013-08-03T09:16:40Z`). The calendar math is the proleptic Gregorian civil-from-days
//! algorithm, so no date crate is needed.

use crate::error::TimeError;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Formats nanoseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.fffffffZ`, truncating
/// to 100 ns.
pub fn format_timestamp(unix_nanos: i64) -> String {
    let seconds = unix_nanos.div_euclid(NANOS_PER_SECOND);
    let ticks = unix_nanos.rem_euclid(NANOS_PER_SECOND) / 100;
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ticks:07}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any length (digits past the
/// ninth are ignored) and `Z` or a `±HH:MM` offset, into nanoseconds since the Unix epoch.
pub fn parse_timestamp(s: &str) -> Result<i64, TimeError> {
    let mut cursor = Cursor(s.as_bytes());
    let year = cursor.number(4)?;
    cursor.expect(b'-')?;
    let month = cursor.number(2)?;
    cursor.expect(b'-')?;
    let day = cursor.number(2)?;
    cursor.expect(b'T')?;
    let hour = cursor.number(2)?;
    cursor.expect(b':')?;
    let minute = cursor.number(2)?;
    cursor.expect(b':')?;
    let second = cursor.number(2)?;
    let fraction = if cursor.eat(b'.') {
        cursor.fraction()?
    } else {
        0
    };
    let offset_seconds = cursor.offset()?;
    if !cursor.0.is_empty() {
        return Err(TimeError::Malformed);
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(TimeError::Malformed);
    }
    let seconds =
        days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second
            - offset_seconds;
    seconds
        .checked_mul(NANOS_PER_SECOND)
        .and_then(|n| n.checked_add(fraction))
        .ok_or(TimeError::OutOfRange)
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn eat(&mut self, byte: u8) -> bool {
        match self.0.split_first() {
            Some((&b, rest)) if b == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), TimeError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(TimeError::Malformed)
        }
    }

    /// Exactly `digits` decimal digits.
    fn number(&mut self, digits: usize) -> Result<i64, TimeError> {
        let (head, rest) = self
            .0
            .split_at_checked(digits)
            .ok_or(TimeError::Malformed)?;
        if !head.iter().all(u8::is_ascii_digit) {
            return Err(TimeError::Malformed);
        }
        self.0 = rest;
        Ok(head.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    /// One or more digits after the decimal point, as nanoseconds.
    fn fraction(&mut self) -> Result<i64, TimeError> {
        let len = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return Err(TimeError::Malformed);
        }
        let (digits, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok((0..9).fold(0, |n, i| {
            n * 10 + digits.get(i).map_or(0, |d| i64::from(d - b'0'))
        }))
    }

    /// `Z` or `±HH:MM`, as seconds east of UTC.
    fn offset(&mut self) -> Result<i64, TimeError> {
        if self.eat(b'Z') {
            return Ok(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Err(TimeError::Malformed);
        };
        let hours = self.number(2)?;
        self.expect(b':')?;
        let minutes = self.number(2)?;
        if hours > 23 || minutes > 59 {
            return Err(TimeError::Malformed);
        }
        Ok(sign * (hours * 3600 + minutes * 60))
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_dotnet_round_trip_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.0000000Z");
        assert_eq!(
            format_timestamp(1_284_474_377_620_635_600),
            "2010-09-14T14:26:17.6206356Z"
        );
        assert_eq!(
            format_timestamp(1_284_474_377_620_635_699),
            "2010-09-14T14:26:17.6206356Z",
            "truncates below 100 ns"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.9999999Z");
        assert_eq!(
            format_timestamp(951_782_400 * NANOS_PER_SECOND),
            "2000-02-29T00:00:00.0000000Z"
        );
    }

    #[test]
    fn parses_client_and_server_forms() {
        assert_eq!(
            parse_timestamp("2013-08-03T09:16:40Z"),
            Ok(1_375_521_400 * NANOS_PER_SECOND)
        );
        assert_eq!(
            parse_timestamp("2010-09-14T14:26:17.6206356Z"),
            Ok(1_284_474_377_620_635_600)
        );
        assert_eq!(
            parse_timestamp("2026-11-23T14:07:20.826937Z"),
            Ok(1_795_442_840_826_937_000)
        );
        assert_eq!(
            parse_timestamp("2013-08-03T11:16:40.5+02:00"),
            Ok(1_375_521_400_500_000_000)
        );
        assert_eq!(
            parse_timestamp("2013-08-03T09:16:40.1234567891234Z"),
            Ok(1_375_521_400_123_456_789)
        );
    }

    #[test]
    fn compliance_example_agrees_with_its_unix_milliseconds() {
        let nanos = parse_timestamp("2008-06-04T20:15:40.9535482Z").unwrap();
        assert_eq!(nanos / 1_000_000, 1_212_610_540_953);
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        for bad in [
            "",
            "2013-08-03",
            "2013-08-03T09:16:40",
            "2013-08-03 09:16:40Z",
            "2013-8-03T09:16:40Z",
            "2013-08-03T09:16:40.Z",
            "2013-08-03T09:16:40Zx",
            "2013-13-03T09:16:40Z",
            "2013-02-29T09:16:40Z",
            "2013-04-31T09:16:40Z",
            "2013-08-03T24:00:00Z",
            "2013-08-03T09:60:00Z",
            "2013-08-03T09:16:60Z",
            "2013-08-03T09:16:40+2:00",
            "+013-08-03T09:16:40Z",
            "2013-08-03T09:16:40.５Z",
        ] {
            assert_eq!(parse_timestamp(bad), Err(TimeError::Malformed), "{bad}");
        }
        assert_eq!(parse_timestamp("2012-02-29T00:00:00Z").map(|_| ()), Ok(()));
        assert_eq!(
            parse_timestamp("9999-12-31T23:59:59Z"),
            Err(TimeError::OutOfRange)
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity_at_100ns(nanos in (i64::MIN + NANOS_PER_SECOND)..=i64::MAX) {
            let truncated = nanos - nanos.rem_euclid(100);
            let text = format_timestamp(nanos);
            prop_assert_eq!(parse_timestamp(&text), Ok(truncated));
        }

        #[test]
        fn civil_days_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_timestamp(&s);
        }
    }
}
