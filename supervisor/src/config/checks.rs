//! Refusals before anything runs (exit 2, naming the flag and the reason):
//! options the pipeline would only fail on later, task after task, options it
//! would silently ignore, and values that make no sense.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use isobatch_shared::Pipeline;
use isobatch_shared::task::param_env_name;

use super::usage;
use crate::error::Error;

/// Most extra attempts `--retries` takes.
pub const MAX_RETRIES: u32 = 100;
/// `--workers` above this many per core needs `--force-run`.
pub const WORKERS_PER_CORE: usize = 4;

/// Which options were given, besides the parameters, for [`pipeline_options`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Given<'a> {
    /// `--from-stage`.
    pub from: Option<&'a str>,
    /// `--to-stage`.
    pub to: Option<&'a str>,
    /// `--checkpoint-format` was given.
    pub checkpoint_format: bool,
    /// `--keep-checkpoints` was given.
    pub keep_checkpoints: bool,
}

/// Refuses `--param`s the pipeline cannot take (unknown fov keys, any key for
/// selftest, exec keys that cannot be an environment variable), stage names it
/// does not have, and stage options for a pipeline without stages.
pub fn pipeline_options(
    pipeline: Pipeline,
    params: &BTreeMap<String, String>,
    given: Given<'_>,
) -> Result<(), Error> {
    let stages: &[&str] = match pipeline {
        Pipeline::Fov => {
            isobatch_worker::fov::FovConfig::from_params(params)
                .map_err(|e| usage(e.to_string()))?;
            isobatch_worker::fov::STAGES
        }
        Pipeline::Exec => {
            exec_params(params)?;
            &[]
        }
        _ => {
            if let Some(k) = params.keys().next() {
                return Err(usage(format!(
                    "--param {k}: the {pipeline} pipeline takes no parameters, so it would be ignored"
                )));
            }
            &[]
        }
    };
    for (flag, set) in [
        ("--checkpoint-format", given.checkpoint_format),
        ("--keep-checkpoints", given.keep_checkpoints),
    ] {
        if set && stages.is_empty() {
            return Err(usage(format!(
                "{flag}: the {pipeline} pipeline has no stage checkpoints, so it would be ignored"
            )));
        }
    }
    let position = |flag: &str, name: Option<&str>| -> Result<Option<usize>, Error> {
        let Some(name) = name else { return Ok(None) };
        if stages.is_empty() {
            return Err(usage(format!(
                "{flag}: the {pipeline} pipeline has no stages"
            )));
        }
        stages
            .iter()
            .position(|s| *s == name)
            .map(Some)
            .ok_or_else(|| {
                usage(format!(
                    "{flag} {name}: the {pipeline} pipeline has no such stage (stages: {})",
                    stages.join(", ")
                ))
            })
    };
    let from = position("--from-stage", given.from)?;
    let to = position("--to-stage", given.to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(usage(format!(
            "--from-stage {} comes after --to-stage {}",
            stages[f], stages[t]
        )));
    }
    Ok(())
}

/// An exec `--param` reaches the command as `{param.KEY}` and as the
/// environment variable `ISOBATCH_PARAM_KEY`: the key must make a valid
/// variable name, and no two keys may make the same one.
fn exec_params(params: &BTreeMap<String, String>) -> Result<(), Error> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for k in params.keys() {
        let valid = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(usage(format!(
                "--param {k}: an exec parameter reaches the command as the environment variable \
                 ISOBATCH_PARAM_KEY, so KEY must be letters, digits and '_', not starting with a digit"
            )));
        }
        if let Some(other) = seen.insert(param_env_name(k), k) {
            return Err(usage(format!(
                "--param {other} and --param {k} would both be {}; use one spelling",
                param_env_name(k)
            )));
        }
    }
    Ok(())
}

/// The folder as the file system resolves it: its nearest existing ancestor
/// canonicalised (symlinks resolved), the rest appended.
fn resolved(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            return rest.iter().rev().fold(c, |p: PathBuf, r| p.join(r));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Refuses an output folder equal to or inside the input folder: a rerun would
/// discover its own outputs as inputs.
pub fn output_outside_input(input: &Path, output: &Path) -> Result<(), Error> {
    let (i, o) = (resolved(input), resolved(output));
    if o == i {
        return Err(usage(format!(
            "--output {} is the input folder: outputs would be discovered as inputs on the next run",
            output.display()
        )));
    }
    if o.starts_with(&i) {
        return Err(usage(format!(
            "--output {} is inside --input {}: outputs would be discovered as inputs on the next run",
            output.display(),
            input.display()
        )));
    }
    Ok(())
}

/// Refuses more workers than [`WORKERS_PER_CORE`] per core without `--force-run`.
pub fn workers(n: usize, force_run: bool) -> Result<(), Error> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    if n > WORKERS_PER_CORE * cores && !force_run {
        return Err(usage(format!(
            "--workers {n} is more than {WORKERS_PER_CORE} per core ({cores} cores here); \
             give --force-run if you mean it"
        )));
    }
    Ok(())
}

/// Refuses `--retries` above [`MAX_RETRIES`].
pub fn retries(n: u32) -> Result<(), Error> {
    if n > MAX_RETRIES {
        return Err(usage(format!(
            "--retries {n} is more than {MAX_RETRIES}; a task that fails that often will not succeed"
        )));
    }
    Ok(())
}

/// Refuses a zero size or duration (`--timeout 0`, `--max-task-memory 0`, ...).
pub fn positive<T: PartialEq + Default>(flag: &str, value: Option<T>) -> Result<Option<T>, Error> {
    match value {
        Some(v) if v == T::default() => Err(usage(format!("--{flag} must be more than zero"))),
        v => Ok(v),
    }
}

/// Each `--rerun-on` file, absolute; it must exist and be a file.
pub fn rerun_on(files: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    files
        .iter()
        .map(|f| {
            let abs = std::path::absolute(f).map_err(|e| Error::io(f, e))?;
            if !abs.is_file() {
                return Err(usage(format!("--rerun-on {}: no such file", f.display())));
            }
            Ok(abs)
        })
        .collect()
}
