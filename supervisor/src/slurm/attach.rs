//! Attaching: a rerun after the supervisor was killed follows the arrays the
//! journal names instead of submitting their tasks again.

use std::collections::HashMap;
use std::path::PathBuf;

use isobatch_shared::Verdict;

use super::executor::{Element, SlurmRun};
use super::tasklist::{self, TaskList};
use super::{follow, submit, tools};
use crate::journal::{self, Record};
use crate::runner::schedule::{TaskIdx, should_retry};

/// Every `(task, (attempt, verdict))` the journal has an end for.
fn ended_attempts(records: &[Record]) -> Vec<(String, (u32, Verdict))> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::AttemptEnd {
                task,
                attempt,
                verdict,
                ..
            } => Some((task.clone(), (*attempt, *verdict))),
            _ => None,
        })
        .collect()
}

impl SlurmRun<'_> {
    /// Follows the arrays of a killed run with the same parameters; returns the tasks they own.
    pub(super) fn attach(&mut self, earlier: &[Record]) -> Vec<TaskIdx> {
        let since = earlier
            .iter()
            .rposition(|r| matches!(r, Record::RunEnd { .. }))
            .map_or(0, |i| i + 1);
        let by_id: HashMap<String, TaskIdx> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.task.id.clone(), i))
            .collect();
        let mut arrays: Vec<(String, PathBuf, usize, usize)> = earlier[since..]
            .iter()
            .filter_map(|r| match r {
                Record::SlurmArray {
                    job_id,
                    list,
                    offset,
                    count,
                    ..
                } => Some((job_id.clone(), list.clone(), *offset, *count)),
                _ => None,
            })
            .collect();
        let after = since.checked_sub(1).and_then(|i| match &earlier[i] {
            Record::RunEnd { time, .. } => Some(*time),
            _ => None,
        });
        arrays.extend(self.unrecorded(after.unwrap_or(0.0), &arrays));
        let ended = ended_attempts(earlier);
        let mut lists = Vec::new();
        for (job_id, list, offset, count) in &arrays {
            let dir = self.ctx.cfg.output.join(list);
            match TaskList::read(&dir) {
                Ok(l) if l.param_hash != self.ctx.param_hash => {
                    let _ = follow::scancel(std::slice::from_ref(job_id), false);
                    self.note(&format!(
                        "cancelled Slurm job {job_id} of an earlier run: it ran other parameters"
                    ));
                }
                Ok(l) => lists.push((job_id, dir, *offset, *count, l)),
                Err(e) => self.note(&format!("cannot attach to Slurm job {job_id}: {e}")),
            }
        }
        // A task resubmitted (node failure) is listed more than once: the latest listing owns it.
        let mut latest: HashMap<&str, u32> = HashMap::new();
        for (.., l) in &lists {
            for listed in l.elements.iter().flatten() {
                let a = latest.entry(listed.task.id.as_str()).or_default();
                *a = (*a).max(listed.attempt);
            }
        }
        let mut owned = Vec::new();
        let mut elements = Vec::new();
        for (job_id, dir, offset, count, list) in &lists {
            for index in *offset..*offset + *count {
                let tasks: Vec<TaskIdx> = list.elements.get(index).map_or_else(Vec::new, |l| {
                    l.iter()
                        .filter(|l| latest.get(l.task.id.as_str()) == Some(&l.attempt))
                        .filter_map(|l| {
                            let &t = by_id.get(&l.task.id)?;
                            let still = self.tasks[t].verdict.is_none()
                                && self.element_may_run(&l.task.id, l.attempt, &ended);
                            still.then_some(t)
                        })
                        .collect()
                });
                if tasks.is_empty() {
                    continue;
                }
                owned.extend(&tasks);
                let mut e = Element::new(
                    ((*job_id).clone(), index - offset),
                    dir.clone(),
                    index,
                    tasks,
                );
                e.known = ended
                    .iter()
                    .filter(|(task, _)| e.tasks.iter().any(|&t| self.tasks[t].task.id == **task))
                    .map(|(task, a)| (task.clone(), a.0))
                    .collect();
                elements.push(e);
            }
            if !self.jobs.contains(job_id) {
                self.jobs.push((*job_id).clone());
            }
        }
        self.elements.extend(elements);
        if !owned.is_empty() {
            self.note(&format!(
                "attached to the Slurm job(s) of the killed run for {} task(s)",
                owned.len()
            ));
        }
        owned
    }

    /// Whether the element that ran `task` from attempt `first` on may still
    /// run or report it: the killed run journaled no end from it, or the last
    /// one it journaled leaves the element a retry. A task the element has
    /// finished for good is the rerun's to run again (a failed task), never
    /// the element's and the rerun's at once.
    fn element_may_run(&self, task: &str, first: u32, ended: &[(String, (u32, Verdict))]) -> bool {
        let mine: Vec<&(u32, Verdict)> = ended
            .iter()
            .filter(|(t, (a, _))| t == task && *a >= first)
            .map(|(_, e)| e)
            .collect();
        let Some(&&(_, last)) = mine.iter().max_by_key(|(a, _)| *a) else {
            return true;
        };
        let tries = u32::try_from(mine.len()).unwrap_or(u32::MAX);
        should_retry(last, tries, self.ctx.cfg.retries)
    }

    /// Arrays a killed run submitted but did not live to journal (killed
    /// between `sbatch` and the journal line), found by job name in squeue;
    /// journaled now. Only submission folders made after `after` (the last
    /// run end, seconds since the epoch) are looked at.
    fn unrecorded(
        &mut self,
        after: f64,
        known: &[(String, PathBuf, usize, usize)],
    ) -> Vec<(String, PathBuf, usize, usize)> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(tasklist::root(&self.ctx.cfg.output)) else {
            return found;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(made) = tasklist::made_at(&name) else {
                continue;
            };
            let rel = PathBuf::from(".isobatch/slurm").join(&name);
            if made < after || known.iter().any(|k| k.1 == rel) {
                continue;
            }
            let Ok(list) = TaskList::read(&entry.path()) else {
                continue;
            };
            let max = self.plan.cluster.max_array_size;
            for (offset, count) in submit::arrays(list.elements.len(), max) {
                let job = submit::job_name(&name, offset);
                let Ok(out) = tools::output(
                    "squeue",
                    &tools::args(&["-h", "-t", "all", "-n", &job, "-o", "%F"]),
                ) else {
                    continue;
                };
                if let Some(id) = out.lines().next().map(str::trim).filter(|l| !l.is_empty()) {
                    self.ctx.journal.append(&Record::SlurmArray {
                        time: journal::now(),
                        job_id: id.to_string(),
                        list: rel.clone(),
                        offset,
                        count,
                    });
                    found.push((id.to_string(), rel.clone(), offset, count));
                }
            }
        }
        found
    }
}
