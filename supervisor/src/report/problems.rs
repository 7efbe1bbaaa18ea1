//! Problems grouped by verdict and cause, so 200 identical failures read as one
//! line — `200 × failed:error "ValueError: Unknown parameter 'bogus'" — m001,
//! m002, m003, m004, m005, … (+195)` — in the summary, `status` and the report.
//!
//! The cause is one line ([`cause_line`]): the panic message, the last line of a
//! Python traceback, the exit status or signal; never a header.

use std::collections::HashMap;
use std::fmt;

use isobatch_shared::Verdict;

/// Task ids a group line names before it says how many more there are.
pub const IDS_SHOWN: usize = 5;

/// The cause line of a failure message: the most informative single line (see
/// [`isobatch_shared::cause::cause_line`]).
pub fn cause_line(message: &str) -> String {
    isobatch_shared::cause::cause_line(message)
}

/// Tasks that ended with the same verdict for the same cause.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProblemGroup {
    /// Their verdict.
    pub verdict: Verdict,
    /// Their cause line ([`cause_line`] of each task's message).
    pub cause: String,
    /// Their task ids, in the order they were given.
    pub tasks: Vec<String>,
}

/// Groups `(task id, verdict, message)` triples by verdict and cause line:
/// the largest group first, ties in the order their first task was given.
pub fn group<'a, I>(problems: I) -> Vec<ProblemGroup>
where
    I: IntoIterator<Item = (&'a str, Verdict, &'a str)>,
{
    let mut groups: Vec<ProblemGroup> = Vec::new();
    let mut index: HashMap<(Verdict, String), usize> = HashMap::new();
    for (task, verdict, message) in problems {
        let cause = cause_line(message);
        let i = *index.entry((verdict, cause.clone())).or_insert_with(|| {
            groups.push(ProblemGroup {
                verdict,
                cause,
                tasks: Vec::new(),
            });
            groups.len() - 1
        });
        groups[i].tasks.push(task.to_string());
    }
    // A stable sort keeps first-seen order among groups of equal size.
    groups.sort_by_key(|g| std::cmp::Reverse(g.tasks.len()));
    groups
}

/// One line: `N × verdict "cause" — id, id, … (+more)`.
impl fmt::Display for ProblemGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} × {}", self.tasks.len(), self.verdict)?;
        if !self.cause.is_empty() {
            write!(f, " \"{}\"", self.cause)?;
        }
        let shown = &self.tasks[..self.tasks.len().min(IDS_SHOWN)];
        write!(f, " — {}", shown.join(", "))?;
        let more = self.tasks.len() - shown.len();
        if more > 0 {
            write!(f, ", … (+{more})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_failures_make_one_line() {
        let msg = "ValueError: Unknown parameter 'bogus'\ncommand exited with status 1\nlast output:\n...";
        let ids: Vec<String> = (1..=200).map(|i| format!("m{i:03}")).collect();
        let mut input: Vec<(&str, Verdict, &str)> = ids
            .iter()
            .map(|id| (id.as_str(), Verdict::FailedError, msg))
            .collect();
        input.push((
            "x",
            Verdict::FailedCrashed,
            "worker panicked:\nthread 'w' panicked at a.rs:1:1:\nboom",
        ));
        let groups = group(input);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0].to_string(),
            "200 × failed:error \"ValueError: Unknown parameter 'bogus'\" — m001, m002, m003, m004, m005, … (+195)"
        );
        assert_eq!(groups[1].to_string(), "1 × failed:crashed \"boom\" — x");
    }

    #[test]
    fn same_cause_other_verdict_is_another_group() {
        let groups = group([
            ("a", Verdict::Cancelled, "interrupted"),
            ("b", Verdict::FailedError, "interrupted"),
            ("c", Verdict::Cancelled, "interrupted"),
        ]);
        assert_eq!(groups[0].tasks, ["a", "c"]);
        assert_eq!(
            groups[1].to_string(),
            "1 × failed:error \"interrupted\" — b"
        );
    }
}
