//! The unit of the traces' time column. It is part of the column's name
//! (`time_min`, `time_s`, …), so `pandas.read_csv` needs no comment line to
//! know it, and the combined `OUTPUT/traces.csv` can convert FOVs that state
//! different units into one.

/// A unit a frame interval can be stated in, finest first (so `min()` of a set
/// is the unit every member converts into without fractions of a unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeUnit {
    /// Milliseconds (`time_ms`).
    Milliseconds,
    /// Seconds (`time_s`).
    Seconds,
    /// Minutes (`time_min`).
    Minutes,
    /// Hours (`time_h`).
    Hours,
}

/// Every unit, finest first.
const ALL: [TimeUnit; 4] = [
    TimeUnit::Milliseconds,
    TimeUnit::Seconds,
    TimeUnit::Minutes,
    TimeUnit::Hours,
];

impl TimeUnit {
    /// The unit's word, as the traces' column dictionary and messages say it.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Milliseconds => "milliseconds",
            TimeUnit::Seconds => "seconds",
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
        }
    }

    /// The column's suffix: `ms`, `s`, `min`, `h`.
    pub fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Milliseconds => "ms",
            TimeUnit::Seconds => "s",
            TimeUnit::Minutes => "min",
            TimeUnit::Hours => "h",
        }
    }

    /// The time column's name: `time_min` for minutes.
    pub fn column(self) -> String {
        format!("time_{}", self.suffix())
    }

    /// The unit of a time column (`time_min` → minutes); None for any other name.
    pub fn of_column(name: &str) -> Option<TimeUnit> {
        let suffix = name.strip_prefix("time_")?;
        ALL.into_iter().find(|u| u.suffix() == suffix)
    }

    /// A unit as people and metadata write it (`m`, `min`, `minutes`, `s`, `sec`,
    /// `ms`, `h`, `hr`, …), case-insensitive; None when it is not a time unit.
    pub fn parse(word: &str) -> Option<TimeUnit> {
        match word.trim().to_ascii_lowercase().as_str() {
            "ms" | "msec" | "millisecond" | "milliseconds" => Some(TimeUnit::Milliseconds),
            "s" | "sec" | "second" | "seconds" => Some(TimeUnit::Seconds),
            "m" | "min" | "minute" | "minutes" => Some(TimeUnit::Minutes),
            "h" | "hr" | "hour" | "hours" => Some(TimeUnit::Hours),
            _ => None,
        }
    }

    /// How many of `into` one of `self` is (minutes into seconds: 60).
    pub fn factor(self, into: TimeUnit) -> f64 {
        self.millis() / into.millis()
    }

    fn millis(self) -> f64 {
        match self {
            TimeUnit::Milliseconds => 1.0,
            TimeUnit::Seconds => 1e3,
            TimeUnit::Minutes => 6e4,
            TimeUnit::Hours => 3.6e6,
        }
    }
}

/// A time value without float noise (`0.1 * 3` prints as `0.3`): six decimals,
/// trailing zeros dropped.
pub fn format(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_and_convert() {
        for u in ALL {
            assert_eq!(TimeUnit::of_column(&u.column()), Some(u));
            assert_eq!(TimeUnit::parse(u.name()), Some(u));
            assert_eq!(TimeUnit::parse(u.suffix()), Some(u));
        }
        assert_eq!(TimeUnit::of_column("time"), None);
        assert_eq!(TimeUnit::of_column("time_fortnight"), None);
        assert_eq!(TimeUnit::parse("fortnight"), None);
        assert_eq!(TimeUnit::Minutes.factor(TimeUnit::Seconds), 60.0);
        assert_eq!(TimeUnit::Hours.factor(TimeUnit::Milliseconds), 3.6e6);
        assert_eq!(format(0.1 * 3.0), "0.3");
        assert_eq!(format(30.0), "30");
        assert_eq!(
            [TimeUnit::Hours, TimeUnit::Seconds].into_iter().min(),
            Some(TimeUnit::Seconds)
        );
    }
}
