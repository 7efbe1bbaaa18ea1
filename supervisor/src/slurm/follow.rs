//! Following arrays: the state of each element, from `squeue` (which keeps
//! finished jobs for `MinJobAge`), then `sacct` when accounting is on. An element
//! neither knows has been forgotten by Slurm; its result record then decides.

use std::collections::HashMap;

use super::{SlurmError, tools};

/// `(array job id, array index)` → what Slurm says of that element.
pub type States = HashMap<(String, usize), ElementState>;

/// One array element as squeue or sacct list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementState {
    /// Its state, e.g. `RUNNING`, `CANCELLED by 0`.
    pub state: String,
    /// The node it runs (or ran) on; None while pending, or from sacct.
    pub node: Option<String>,
}

/// The states of every element of `jobs` that squeue (and, with `accounting`, sacct) knows.
pub fn states(jobs: &[String], accounting: bool) -> Result<States, SlurmError> {
    let mut states = States::new();
    if jobs.is_empty() {
        return Ok(states);
    }
    let list = jobs.join(",");
    let squeue = tools::output(
        "squeue",
        &tools::args(&["-h", "-r", "-t", "all", "-o", "%F|%K|%T|%N", "-j", &list]),
    );
    match squeue {
        Ok(text) => parse_into(&text, &mut states),
        // Every job was purged already: nothing to list.
        Err(SlurmError::Command { why, .. }) if why.contains("Invalid job id") => {}
        Err(e) => return Err(e),
    }
    if accounting {
        let text = tools::output(
            "sacct",
            &tools::args(&["-n", "-P", "-X", "-o", "JobID,State", "-j", &list]),
        )?;
        for line in text.lines() {
            if let Some((id, state)) = line.split_once('|')
                && let Some((job, index)) = id.split_once('_')
                && let Ok(index) = index.parse()
            {
                states
                    .entry((job.to_string(), index))
                    .or_insert_with(|| ElementState {
                        state: state.trim().to_string(),
                        node: None,
                    });
            }
        }
    }
    Ok(states)
}

/// Reads `squeue -o '%F|%K|%T|%N'` lines.
fn parse_into(text: &str, states: &mut States) {
    for line in text.lines() {
        let mut f = line.trim().split('|');
        if let (Some(job), Some(index), Some(state)) = (f.next(), f.next(), f.next())
            && let Ok(index) = index.parse()
        {
            let node = f.next().map(str::trim).filter(|n| !n.is_empty());
            states.insert(
                (job.to_string(), index),
                ElementState {
                    state: state.to_string(),
                    node: node.map(str::to_string),
                },
            );
        }
    }
}

/// Cancels `jobs`: only their pending elements when `pending_only`.
pub fn scancel(jobs: &[String], pending_only: bool) -> Result<(), SlurmError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut args = Vec::new();
    if pending_only {
        args.push("--state=PENDING".to_string());
    }
    args.extend(jobs.iter().cloned());
    tools::output("scancel", &args).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_squeue_lines() {
        let mut s = States::new();
        parse_into(
            "12|0|COMPLETED|vm\n12|1|RUNNING|n07\n12|N/A|PENDING|\n13|4|CANCELLED by 0|\n",
            &mut s,
        );
        assert_eq!(s.len(), 3);
        let one = &s[&("12".to_string(), 1)];
        assert_eq!(
            (one.state.as_str(), one.node.as_deref()),
            ("RUNNING", Some("n07"))
        );
        let four = &s[&("13".to_string(), 4)];
        assert_eq!(
            (four.state.as_str(), four.node.as_deref()),
            ("CANCELLED by 0", None)
        );
    }
}
