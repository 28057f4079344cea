//! Durations in a bot's settings, written as a number of a unit (`remind_after_minutes = 30`).
//!
//! A config file is untrusted input: `Duration::from_secs_f64` panics on a negative number, on
//! `nan` or `inf` (TOML has both) and on a number too large for a `Duration`. These types refuse
//! such numbers when the settings are read, so the runner reports them as a config error naming
//! the key, before anything runs.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::time::Duration;

/// A duration in a bot's settings, written as a number of minutes (`30`, or `0.5` for thirty
/// seconds): 0 or more, and finite.
///
/// ```
/// use chatty_dispatch::Minutes;
/// use std::time::Duration;
///
/// #[derive(serde::Deserialize)]
/// struct Desk {
///     remind_after_minutes: Minutes,
/// }
///
/// let desk: Desk = serde_json::from_str(r#"{ "remind_after_minutes": 1.5 }"#).unwrap();
/// assert_eq!(Duration::from(desk.remind_after_minutes), Duration::from_secs(90));
///
/// let error = serde_json::from_str::<Desk>(r#"{ "remind_after_minutes": -1 }"#).err().unwrap();
/// assert!(error.to_string().contains("a number of minutes, 0 or more"), "{error}");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minutes(pub Duration);

/// A duration in a bot's settings, written as a number of seconds (`10`, or `0.25`): 0 or more,
/// and finite.
///
/// ```
/// use chatty_dispatch::Seconds;
/// use std::time::Duration;
///
/// let wait: Seconds = serde_json::from_str("0.25").unwrap();
/// assert_eq!(Duration::from(wait), Duration::from_millis(250));
/// assert!(serde_json::from_str::<Seconds>("1e300").is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(pub Duration);

/// The unit of a duration type: its name and its length in seconds.
trait Unit: From<Duration> + Into<Duration> {
    const NAME: &'static str;
    const SECONDS: f64;
}

impl Unit for Minutes {
    const NAME: &'static str = "minutes";
    const SECONDS: f64 = 60.0;
}

impl Unit for Seconds {
    const NAME: &'static str = "seconds";
    const SECONDS: f64 = 1.0;
}

/// `number` of `U`, or why it is not a duration.
fn duration<U: Unit, E: de::Error>(number: f64) -> Result<U, E> {
    if number.is_nan() || number < 0.0 {
        let expected = format!("a number of {}, 0 or more", U::NAME);
        return Err(E::invalid_value(
            de::Unexpected::Float(number),
            &expected.as_str(),
        ));
    }
    Duration::try_from_secs_f64(number * U::SECONDS)
        .map(U::from)
        .map_err(|_| {
            let expected = format!(
                "a number of {} that a duration can hold (at most {:e})",
                U::NAME,
                Duration::MAX.as_secs_f64() / U::SECONDS
            );
            E::invalid_value(de::Unexpected::Float(number), &expected.as_str())
        })
}

macro_rules! unit_impls {
    ($unit:ident) => {
        impl From<Duration> for $unit {
            fn from(duration: Duration) -> Self {
                Self(duration)
            }
        }

        impl From<$unit> for Duration {
            fn from(unit: $unit) -> Self {
                unit.0
            }
        }

        impl<'de> Deserialize<'de> for $unit {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                duration(f64::deserialize(deserializer)?)
            }
        }

        impl Serialize for $unit {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_f64(self.0.as_secs_f64() / <$unit as Unit>::SECONDS)
            }
        }
    };
}

unit_impls!(Minutes);
unit_impls!(Seconds);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{IntoDeserializer, value::Error};

    fn read<U: for<'de> Deserialize<'de>>(number: f64) -> Result<U, String> {
        U::deserialize(IntoDeserializer::<Error>::into_deserializer(number))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_and_fractional_numbers_are_durations() {
        assert_eq!(
            read::<Minutes>(30.0),
            Ok(Minutes(Duration::from_secs(1800)))
        );
        assert_eq!(
            read::<Minutes>(0.025),
            Ok(Minutes(Duration::from_millis(1500)))
        );
        assert_eq!(read::<Minutes>(0.0), Ok(Minutes(Duration::ZERO)));
        assert_eq!(
            read::<Seconds>(2.5),
            Ok(Seconds(Duration::from_millis(2500)))
        );
        let whole: Minutes = serde_json::from_str("30").unwrap();
        assert_eq!(whole, Minutes(Duration::from_secs(1800)));
    }

    #[test]
    fn negative_nan_infinite_and_too_large_numbers_are_errors_not_panics() {
        for number in [-1.0, -0.001, f64::NAN, f64::NEG_INFINITY] {
            let error = read::<Minutes>(number).unwrap_err();
            assert!(
                error.contains("a number of minutes, 0 or more"),
                "{number}: {error}"
            );
        }
        for number in [f64::INFINITY, 1e300, 3.1e17] {
            let error = read::<Minutes>(number).unwrap_err();
            assert!(
                error.contains("that a duration can hold"),
                "{number}: {error}"
            );
        }
        let error = read::<Seconds>(1.9e19).unwrap_err();
        assert!(
            error.contains("a number of seconds that a duration"),
            "{error}"
        );
        assert!(read::<Seconds>(1.8e19).is_ok());
    }

    #[test]
    fn a_duration_written_out_reads_back_the_same() {
        let minutes = Minutes(Duration::from_secs(90));
        let json = serde_json::to_string(&minutes).unwrap();
        assert_eq!(json, "1.5");
        assert_eq!(serde_json::from_str::<Minutes>(&json).unwrap(), minutes);
    }
}
