//! Submitting: what each array asks of Slurm (`--time` from `--timeout`,
//! `--mem` from `--max-task-memory` or the memory estimate, the throttle from
//! `--workers` or the partition's size), arrays split at the cluster's `MaxArraySize`, one `sbatch` each.

use std::path::Path;
use std::time::Duration;

use super::{SlurmError, tasklist, tools};
use crate::config::RunConfig;
use crate::runner::schedule::backoff;

/// Added to `--time`: the element's own start-up and the worker's, plus Slurm's rounding.
pub const START_MARGIN: Duration = Duration::from_secs(60);
/// Added to `--mem`: the element's supervisor and worker before a task allocates.
pub const MEMORY_MARGIN: u64 = 128 << 20;

/// `sbatch` options isobatch sets itself: giving them in `--slurm-arg` is refused.
const OWN_OPTIONS: &[(&str, &str)] = &[
    ("--array", "isobatch submits the arrays itself"),
    ("-a", "isobatch submits the arrays itself"),
    ("--wrap", "each element runs isobatch"),
    ("--time", "isobatch derives it from --timeout"),
    ("-t", "isobatch derives it from --timeout"),
    (
        "--mem",
        "isobatch derives it from --max-task-memory or the memory estimate",
    ),
    (
        "--output",
        "isobatch keeps element logs under OUTPUT/.isobatch/slurm",
    ),
    (
        "-o",
        "isobatch keeps element logs under OUTPUT/.isobatch/slurm",
    ),
    (
        "--error",
        "isobatch keeps element logs under OUTPUT/.isobatch/slurm",
    ),
    (
        "-e",
        "isobatch keeps element logs under OUTPUT/.isobatch/slurm",
    ),
    ("--parsable", "isobatch reads sbatch's answer itself"),
];

/// What every element of a submission asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// `--time`, whole minutes (None: the partition's default).
    pub minutes: Option<u64>,
    /// `--mem`, MiB (None: the cluster's default, `DefMemPerCPU`).
    pub mem_mib: Option<u64>,
}

/// Refuses `--slurm-arg` values that isobatch sets itself.
pub fn check_args(args: &[String]) -> Result<(), SlurmError> {
    for arg in args {
        let name = arg.split('=').next().unwrap_or(arg);
        let short = (arg.len() > 2 && !arg.starts_with("--")).then(|| &arg[..2]);
        if let Some((opt, why)) = OWN_OPTIONS
            .iter()
            .find(|(o, _)| *o == name || Some(*o) == short)
        {
            return Err(SlurmError::SlurmArg {
                arg: arg.clone(),
                why: format!("{opt} is not passed through: {why}"),
            });
        }
    }
    Ok(())
}

/// The resources of an element running `tasks` tasks, with the largest task
/// memory estimate `estimate` (bytes).
pub fn resources(cfg: &RunConfig, tasks: usize, estimate: Option<u64>) -> Resources {
    let minutes = cfg.timeout.map(|t| {
        let tries = cfg.retries + 1;
        let per_try = t + cfg.kill_grace;
        let waits: Duration = (1..tries).map(backoff).sum();
        let total = (per_try * tries + waits) * tasks as u32 + START_MARGIN;
        total.as_secs().div_ceil(60).max(1)
    });
    let mem = cfg
        .max_task_memory
        .or_else(|| estimate.map(|e| e + e / 4))
        .map(|m| (m + MEMORY_MARGIN).div_ceil(1 << 20));
    Resources {
        minutes,
        mem_mib: mem,
    }
}

/// `(offset, length)` of each array for `elements` elements: indices must stay
/// below `max_array_size`.
pub fn arrays(elements: usize, max_array_size: usize) -> Vec<(usize, usize)> {
    let step = max_array_size.max(2) - 1;
    (0..elements)
        .step_by(step)
        .map(|o| (o, step.min(elements - o)))
        .collect()
}

/// The job name of the array at `offset` of submission `name`: how a rerun
/// finds an array its killed run submitted but did not journal.
pub fn job_name(name: &str, offset: usize) -> String {
    format!("isobatch-{name}-{offset}")
}

/// Quotes `s` for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `sbatch` command line for the array of `len` elements starting at
/// element `offset` of submission folder `dir`.
pub fn sbatch_args(
    dir: &Path,
    (offset, len): (usize, usize),
    throttle: usize,
    res: Resources,
    user: &[String],
    program: &Path,
) -> Vec<String> {
    let mut array = format!("--array=0-{}", len - 1);
    if throttle < len {
        array.push_str(&format!("%{throttle}"));
    }
    let mut args = vec![
        "--parsable".to_string(),
        format!(
            "--job-name={}",
            job_name(
                &dir.file_name().unwrap_or_default().to_string_lossy(),
                offset
            )
        ),
        "--no-requeue".into(),
        array,
        format!(
            "--output={}",
            tasklist::slurm_log_pattern(dir).to_string_lossy()
        ),
    ];
    if let Some(m) = res.minutes {
        args.push(format!("--time={m}"));
    }
    if let Some(m) = res.mem_mib {
        args.push(format!("--mem={m}M"));
    }
    args.extend(user.iter().cloned());
    args.push(format!(
        "--wrap=exec {} slurm-element {} {offset}",
        sh_quote(&program.to_string_lossy()),
        sh_quote(&dir.to_string_lossy())
    ));
    args
}

/// Submits one array; returns its job id.
pub fn sbatch(args: &[String]) -> Result<String, SlurmError> {
    let out = tools::output("sbatch", args)?;
    let id = out.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SlurmError::Output {
            command: "sbatch --parsable".into(),
            output: out,
        });
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_split_below_max_array_size() {
        assert_eq!(arrays(5, 1001), vec![(0, 5)]);
        assert_eq!(arrays(1000, 1001), vec![(0, 1000)]);
        assert_eq!(arrays(1001, 1001), vec![(0, 1000), (1000, 1)]);
        assert_eq!(arrays(7, 4), vec![(0, 3), (3, 3), (6, 1)]);
    }

    #[test]
    fn own_options_are_refused() {
        assert!(check_args(&["--partition=gpu".into(), "--qos".into(), "high".into()]).is_ok());
        for bad in ["--mem=4G", "--time=10", "-t10", "--array=1-3"] {
            assert!(check_args(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_line_maps_the_flags() {
        let res = Resources {
            minutes: Some(3),
            mem_mib: Some(228),
        };
        let a = sbatch_args(
            Path::new("/o/.isobatch/slurm/s1"),
            (1000, 5),
            2,
            res,
            &["--partition=main".into()],
            Path::new("/bin/isobatch"),
        );
        assert!(a.contains(&"--array=0-4%2".to_string()), "{a:?}");
        assert!(a.contains(&"--time=3".to_string()));
        assert!(a.contains(&"--mem=228M".to_string()));
        assert!(a.contains(&"--partition=main".to_string()));
        assert_eq!(
            a.last().unwrap(),
            "--wrap=exec '/bin/isobatch' slurm-element '/o/.isobatch/slurm/s1' 1000"
        );
    }
}
