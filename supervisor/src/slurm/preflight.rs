//! Pre-flight against the cluster: the partition's largest node must hold
//! `--mem` and its time limit must allow `--time`, or nothing is submitted.

use super::submit::Resources;
use super::{SlurmError, tools};

/// What a partition allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The partition's name.
    pub partition: String,
    /// Memory of its largest node, MiB.
    pub max_node_mib: u64,
    /// Its time limit, minutes (None: infinite).
    pub max_minutes: Option<u64>,
}

/// The partition `--slurm-arg` names (`--partition X`, `--partition=X`, `-p X`, `-pX`), if any.
pub fn partition(args: &[String]) -> Option<String> {
    option_value(args, "--partition", "-p")
}

/// The value of sbatch option `long`/`short` in `args` (`--long X`, `--long=X`,
/// `-s X`, `-sX`), if given.
pub fn option_value(args: &[String], long: &str, short: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_string());
        }
        if a == long || a == short {
            return it.next().cloned();
        }
        if !a.starts_with("--")
            && let Some(v) = a.strip_prefix(short)
        {
            return Some(v.to_string());
        }
    }
    None
}

/// Reads the limits of `partition` (the default partition if None) from sinfo.
pub fn limits(partition: Option<&str>) -> Result<Limits, SlurmError> {
    let text = tools::output("sinfo", &tools::args(&["-h", "-o", "%P|%m|%l"]))?;
    parse(&text, partition).ok_or_else(|| {
        SlurmError::Refused(match partition {
            Some(p) => format!("sinfo lists no partition {p:?}"),
            None => "sinfo lists no default partition: pass --slurm-arg --partition=NAME".into(),
        })
    })
}

/// Parses `sinfo -o '%P|%m|%l'` for `partition` (the one marked `*` if None).
pub fn parse(text: &str, partition: Option<&str>) -> Option<Limits> {
    let mut found: Option<Limits> = None;
    for line in text.lines() {
        let mut f = line.trim().split('|');
        let (Some(name), Some(mem), Some(limit)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let default = name.ends_with('*');
        let name = name.trim_end_matches('*');
        let wanted = match partition {
            Some(p) => p.split(',').next() == Some(name),
            None => default,
        };
        if !wanted {
            continue;
        }
        let mem: u64 = mem.trim_end_matches('+').parse().unwrap_or(0);
        let l = found.get_or_insert(Limits {
            partition: name.to_string(),
            max_node_mib: 0,
            max_minutes: minutes(limit),
        });
        l.max_node_mib = l.max_node_mib.max(mem);
    }
    found
}

/// A Slurm time limit (`infinite`, `D-HH:MM:SS`, `HH:MM:SS`, `MM:SS`, `MM`) in minutes.
fn minutes(limit: &str) -> Option<u64> {
    let limit = limit.trim();
    if limit.eq_ignore_ascii_case("infinite") || limit.eq_ignore_ascii_case("unlimited") {
        return None;
    }
    let (days, rest) = match limit.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().ok()?, r),
        None => (0, limit),
    };
    let parts: Vec<u64> = rest
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let secs = match parts[..] {
        [m] => m * 60,
        [m, s] => m * 60 + s,
        [h, m, s] => h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(days * 1440 + secs / 60)
}

/// Refuses resources the partition cannot give, naming its limit.
pub fn check(res: Resources, limits: &Limits) -> Result<(), SlurmError> {
    if let Some(mem) = res.mem_mib
        && mem > limits.max_node_mib
    {
        return Err(SlurmError::Refused(format!(
            "each array element needs --mem={mem}M (from --max-task-memory or the memory \
             estimate, plus {} MiB for isobatch itself), but the largest node of partition {} \
             has {} MiB",
            super::submit::MEMORY_MARGIN >> 20,
            limits.partition,
            limits.max_node_mib
        )));
    }
    if let (Some(want), Some(max)) = (res.minutes, limits.max_minutes)
        && want > max
    {
        return Err(SlurmError::Refused(format!(
            "each array element needs --time={want} minutes (from --timeout, --retries and \
             --batch-size, plus a start-up margin), but partition {} allows {max} minutes",
            limits.partition
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partition_limits() {
        let text = "main*|21694|infinite\nshort|4000|1:00:00\nshort|8000+|1:00:00\n";
        let l = parse(text, None).unwrap();
        assert_eq!(
            (l.partition.as_str(), l.max_node_mib, l.max_minutes),
            ("main", 21694, None)
        );
        let l = parse(text, Some("short")).unwrap();
        assert_eq!((l.max_node_mib, l.max_minutes), (8000, Some(60)));
        assert!(parse(text, Some("gpu")).is_none());
        assert_eq!(minutes("2-00:30:00"), Some(2 * 1440 + 30));
        assert_eq!(minutes("45"), Some(45));
    }

    #[test]
    fn refuses_what_the_partition_cannot_give() {
        let l = Limits {
            partition: "short".into(),
            max_node_mib: 1000,
            max_minutes: Some(60),
        };
        let ok = Resources {
            minutes: Some(60),
            mem_mib: Some(1000),
        };
        assert!(check(ok, &l).is_ok());
        let e = check(
            Resources {
                mem_mib: Some(1001),
                ..ok
            },
            &l,
        )
        .unwrap_err();
        assert!(e.to_string().contains("1000 MiB"), "{e}");
        let e = check(
            Resources {
                minutes: Some(61),
                ..ok
            },
            &l,
        )
        .unwrap_err();
        assert!(e.to_string().contains("allows 60 minutes"), "{e}");
    }

    #[test]
    fn finds_the_partition_argument() {
        let a = |v: &[&str]| partition(&tools::args(v));
        assert_eq!(a(&["--partition=gpu"]), Some("gpu".into()));
        assert_eq!(a(&["--qos", "x", "-p", "big"]), Some("big".into()));
        assert_eq!(a(&["-pbig"]), Some("big".into()));
        assert_eq!(a(&["--account=lab"]), None);
    }
}
