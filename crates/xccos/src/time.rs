//! XCCOS time stamps: the server writes .NET round-trip UTC (`2010-09-14T14:26:17.6206356Z`,
//! seven fractional digits = 100 ns ticks); clients send whole seconds
//! (`2013-08-03T09:16:40Z`). The calendar is jiff's.
//!
//! The text is read by a grammar of our own rather than jiff's ISO 8601 parser: that one
//! also takes forms no XCCOS peer writes (a space for `T`, `+0200`, a leap second `:60`) and
//! refuses one a peer may (more than nine fractional digits).

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::Offset;

use crate::error::TimeError;

/// Formats nanoseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.fffffffZ`, truncating
/// to 100 ns.
pub fn format_timestamp(unix_nanos: i64) -> String {
    let timestamp = Timestamp::from_nanosecond(i128::from(unix_nanos))
        .expect("jiff spans years -9999 to 9999, i64 nanoseconds 1677 to 2262");
    // jiff truncates to the precision asked for, and every year here has four digits.
    format!("{timestamp:.7}")
}

/// Parses `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any length (digits past the
/// ninth are ignored) and `Z` or a `±HH:MM` offset, into nanoseconds since the Unix epoch.
pub fn parse_timestamp(s: &str) -> Result<i64, TimeError> {
    let mut cursor = Cursor(s.as_bytes());
    let year = cursor.number(4)?;
    cursor.expect(b'-')?;
    let month = cursor.two_digits()?;
    cursor.expect(b'-')?;
    let day = cursor.two_digits()?;
    cursor.expect(b'T')?;
    let hour = cursor.two_digits()?;
    cursor.expect(b':')?;
    let minute = cursor.two_digits()?;
    cursor.expect(b':')?;
    let second = cursor.two_digits()?;
    let fraction = if cursor.eat(b'.') {
        cursor.fraction()?
    } else {
        0
    };
    let offset = cursor.offset()?;
    if !cursor.0.is_empty() {
        return Err(TimeError::Malformed);
    }
    // jiff refuses the impossible: month 13, 29 February 2013, hour 24, second 60.
    let date = Date::new(year, month, day).map_err(|_| TimeError::Malformed)?;
    let time = Time::new(hour, minute, second, 0).map_err(|_| TimeError::Malformed)?;
    let timestamp = offset
        .to_timestamp(date.to_datetime(time))
        .map_err(|_| TimeError::OutOfRange)?;
    i64::try_from(timestamp.as_nanosecond() + i128::from(fraction))
        .map_err(|_| TimeError::OutOfRange)
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

    /// Exactly `digits` (at most four) decimal digits.
    fn number(&mut self, digits: usize) -> Result<i16, TimeError> {
        let (head, rest) = self
            .0
            .split_at_checked(digits)
            .ok_or(TimeError::Malformed)?;
        if !head.iter().all(u8::is_ascii_digit) {
            return Err(TimeError::Malformed);
        }
        self.0 = rest;
        Ok(head.iter().fold(0, |n, d| n * 10 + i16::from(d - b'0')))
    }

    fn two_digits(&mut self) -> Result<i8, TimeError> {
        // At most 99: always fits.
        self.number(2).map(|n| n as i8)
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

    /// `Z` or `±HH:MM`.
    fn offset(&mut self) -> Result<Offset, TimeError> {
        if self.eat(b'Z') {
            return Ok(Offset::UTC);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Err(TimeError::Malformed);
        };
        let hours = self.two_digits()?;
        self.expect(b':')?;
        let minutes = self.two_digits()?;
        if hours > 23 || minutes > 59 {
            return Err(TimeError::Malformed);
        }
        Offset::from_seconds(sign * (i32::from(hours) * 3600 + i32::from(minutes) * 60))
            .map_err(|_| TimeError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NANOS_PER_SECOND: i64 = 1_000_000_000;

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
        fn never_panics(s in ".{0,40}") {
            let _ = parse_timestamp(&s);
        }
    }
}
