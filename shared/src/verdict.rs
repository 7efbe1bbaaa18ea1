//! The verdict vocabulary: one per task attempt, the same words in the summary,
//! the journal, `isobatch status` and `results.json`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How one task attempt ended (DESIGN.md, "Verdicts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// The task completed and its outputs are in place.
    Done,
    /// Up to date from an earlier run; nothing was recomputed.
    Skipped,
    /// A grid combination with no input, skipped under `--lenient`.
    Missing,
    /// The task returned an error.
    FailedError,
    /// The input cannot be read as what the pipeline needs.
    FailedInvalidInput,
    /// The attempt ran past `--timeout`.
    FailedTimeout,
    /// The process tree went over `--max-task-memory`.
    FailedMemoryLimit,
    /// A signal isobatch did not send ended the worker (SIGKILL: likely the OOM killer).
    FailedKilled,
    /// Panic, abort, segfault, or the worker vanished without a result.
    FailedCrashed,
    /// Interrupted by Ctrl-C before it finished.
    Cancelled,
}

impl Verdict {
    /// Every verdict, in the order reports list them.
    pub const ALL: [Verdict; 10] = [
        Verdict::Done,
        Verdict::Skipped,
        Verdict::Missing,
        Verdict::FailedError,
        Verdict::FailedInvalidInput,
        Verdict::FailedTimeout,
        Verdict::FailedMemoryLimit,
        Verdict::FailedKilled,
        Verdict::FailedCrashed,
        Verdict::Cancelled,
    ];

    /// The full verdict word, e.g. `failed:timeout`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Done => "done",
            Verdict::Skipped => "skipped",
            Verdict::Missing => "missing",
            Verdict::FailedError => "failed:error",
            Verdict::FailedInvalidInput => "failed:invalid-input",
            Verdict::FailedTimeout => "failed:timeout",
            Verdict::FailedMemoryLimit => "failed:memory-limit",
            Verdict::FailedKilled => "failed:killed",
            Verdict::FailedCrashed => "failed:crashed",
            Verdict::Cancelled => "cancelled",
        }
    }

    /// The coarse status column: `done`, `skipped`, `missing`, `failed` or `cancelled`.
    pub fn status(self) -> &'static str {
        self.as_str().split(':').next().unwrap_or("failed")
    }

    /// True for every `failed:*` verdict.
    pub fn is_failure(self) -> bool {
        self.status() == "failed"
    }

    /// True when the task needs no further work in this or a later run.
    pub fn is_complete(self) -> bool {
        matches!(self, Verdict::Done | Verdict::Skipped)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict word that is not in the vocabulary.
#[derive(Debug, thiserror::Error)]
#[error("unknown verdict {0:?}")]
pub struct UnknownVerdict(pub String);

impl FromStr for Verdict {
    type Err = UnknownVerdict;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownVerdict(s.to_string()))
    }
}

impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Verdict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_status() {
        for v in Verdict::ALL {
            assert_eq!(v.as_str().parse::<Verdict>().ok(), Some(v));
        }
        assert_eq!(Verdict::FailedTimeout.status(), "failed");
        assert!(Verdict::FailedCrashed.is_failure());
        assert!(!Verdict::Cancelled.is_failure());
        assert!("failed:nope".parse::<Verdict>().is_err());
    }
}
