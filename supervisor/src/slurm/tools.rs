//! Running the Slurm commands (`sbatch`, `squeue`, `scontrol`, `sinfo`, `scancel`, `sacct`).

use std::process::{Command, Stdio};

use super::SlurmError;

/// Runs `program args`, returns its standard output; a non-zero exit is an
/// error carrying its standard error.
pub fn output(program: &str, args: &[String]) -> Result<String, SlurmError> {
    let command = describe(program, args);
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SlurmError::Command {
            command: command.clone(),
            why: if e.kind() == std::io::ErrorKind::NotFound {
                format!("{program} is not installed here (is this a Slurm login node?)")
            } else {
                e.to_string()
            },
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(SlurmError::Command {
            command,
            why: if err.is_empty() {
                out.status.to_string()
            } else {
                err
            },
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `program` and its first arguments, for messages.
fn describe(program: &str, args: &[String]) -> String {
    let mut s = program.to_string();
    for a in args.iter().take(4) {
        s.push(' ');
        s.push_str(a);
    }
    if args.len() > 4 {
        s.push_str(" …");
    }
    s
}

/// Strings from string slices, for argument lists.
pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// One value of `scontrol show config` (`Key = Value` lines).
pub fn config_value(config: &str, key: &str) -> Option<String> {
    config.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The cluster settings isobatch depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `MaxArraySize`: array indices must be below it.
    pub max_array_size: usize,
    /// Accounting is on, so `sacct` knows finished jobs.
    pub accounting: bool,
    /// `DefMemPerCPU`, MiB: what an element without `--mem` gets per CPU.
    pub def_mem_per_cpu: Option<u64>,
}

impl ClusterConfig {
    /// Reads them from `scontrol show config`.
    pub fn read() -> Result<ClusterConfig, SlurmError> {
        let text = output("scontrol", &args(&["show", "config"]))?;
        Ok(ClusterConfig::parse(&text))
    }

    /// Parses `scontrol show config` output (Slurm's defaults where a key is absent).
    pub fn parse(text: &str) -> ClusterConfig {
        let max_array_size = config_value(text, "MaxArraySize")
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 1)
            .unwrap_or(1001);
        let accounting = config_value(text, "AccountingStorageType")
            .is_some_and(|v| !v.is_empty() && v != "accounting_storage/none" && v != "(null)");
        let def_mem_per_cpu =
            config_value(text, "DefMemPerCPU").and_then(|v| v.parse().ok().filter(|&m| m > 0));
        ClusterConfig {
            max_array_size,
            accounting,
            def_mem_per_cpu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_settings_isobatch_needs() {
        let text = "MaxArraySize            = 1001\nAccountingStorageType   = \
                    accounting_storage/none\nDefMemPerCPU            = 1024\n";
        assert_eq!(
            ClusterConfig::parse(text),
            ClusterConfig {
                max_array_size: 1001,
                accounting: false,
                def_mem_per_cpu: Some(1024),
            }
        );
        let text = "MaxArraySize = 40\nAccountingStorageType = accounting_storage/slurmdbd\n\
                    DefMemPerNode = UNLIMITED\n";
        assert_eq!(
            ClusterConfig::parse(text),
            ClusterConfig {
                max_array_size: 40,
                accounting: true,
                def_mem_per_cpu: None,
            }
        );
    }
}
