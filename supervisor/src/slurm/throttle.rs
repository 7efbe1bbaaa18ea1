//! The array throttle (`%N`): `--workers N`, or with `--workers auto` what the
//! partition's nodes hold at once — per node, the elements its CPUs and its
//! memory fit, summed. That is the cluster's counterpart of the local `auto`
//! (min of cores and what RAM admits); Slurm may still run fewer when the
//! partition is shared.

use super::{SlurmError, tools};
use crate::config::Workers;

/// One node of the partition, as sinfo lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Its CPUs.
    pub cpus: u64,
    /// Its memory, MiB.
    pub mem_mib: u64,
}

/// What each element takes from a node, for `--workers auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// CPUs (`--slurm-arg --cpus-per-task`, else 1).
    pub cpus: u64,
    /// Memory, MiB: `--mem`, else the cluster's `DefMemPerCPU` × CPUs (None: neither).
    pub mem_mib: Option<u64>,
}

/// The throttle of a run and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throttle {
    /// `--workers N`.
    Fixed(usize),
    /// `--workers auto`: what the partition's nodes hold at once.
    Auto {
        /// Elements at once.
        elements: usize,
        /// The partition.
        partition: String,
        /// Its nodes.
        nodes: Vec<Node>,
        /// What one element takes.
        per_element: Footprint,
    },
}

impl Throttle {
    /// Resolves `workers` for elements of `per_element` in `partition`
    /// (asks sinfo for its nodes when `auto`).
    pub fn resolve(
        workers: Workers,
        partition: &str,
        per_element: Footprint,
    ) -> Result<Throttle, SlurmError> {
        match workers {
            Workers::Fixed(n) => Ok(Throttle::Fixed(n)),
            Workers::Auto => {
                let text = tools::output(
                    "sinfo",
                    &tools::args(&["-h", "-N", "-p", partition, "-o", "%N|%c|%m"]),
                )?;
                let nodes = parse_nodes(&text);
                if nodes.is_empty() {
                    return Err(SlurmError::Refused(format!(
                        "--workers auto: sinfo lists no node in partition {partition}; \
                         pass --workers N to set the array throttle yourself"
                    )));
                }
                Ok(Throttle::Auto {
                    elements: fit(&nodes, per_element),
                    partition: partition.to_string(),
                    nodes,
                    per_element,
                })
            }
        }
    }

    /// Elements at once.
    pub fn elements(&self) -> usize {
        match self {
            Throttle::Fixed(n) => *n,
            Throttle::Auto { elements, .. } => *elements,
        }
    }

    /// For the plan: how many at once, and why.
    pub fn describe(&self) -> String {
        match self {
            Throttle::Fixed(n) => format!("{n} element(s) at once (--workers {n})"),
            Throttle::Auto {
                elements,
                partition,
                nodes,
                per_element,
            } => {
                let cpus: u64 = nodes.iter().map(|n| n.cpus).sum();
                let mem = match per_element.mem_mib {
                    Some(m) => format!(" and {m} MiB"),
                    None => String::new(),
                };
                format!(
                    "{elements} element(s) at once (--workers auto: what the {} node(s) of \
                     partition {partition} hold, {cpus} CPU(s) in all, at {} CPU(s){mem} per \
                     element)",
                    nodes.len(),
                    per_element.cpus
                )
            }
        }
    }
}

/// Elements the nodes hold at once (at least 1: Slurm queues the rest).
pub fn fit(nodes: &[Node], per: Footprint) -> usize {
    let total: u64 = nodes
        .iter()
        .map(|n| {
            let by_cpu = n.cpus / per.cpus.max(1);
            per.mem_mib
                .map_or(by_cpu, |m| by_cpu.min(n.mem_mib / m.max(1)))
        })
        .sum();
    usize::try_from(total).unwrap_or(usize::MAX).max(1)
}

/// Parses `sinfo -h -N -o '%N|%c|%m'`: one line per node (a node listed twice once).
pub fn parse_nodes(text: &str) -> Vec<Node> {
    let mut seen = std::collections::BTreeMap::new();
    for line in text.lines() {
        let mut f = line.trim().split('|');
        let (Some(name), Some(cpus), Some(mem)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(cpus), Ok(mem_mib)) = (cpus.parse(), mem.trim_end_matches('+').parse()) else {
            continue;
        };
        seen.insert(name.to_string(), Node { cpus, mem_mib });
    }
    seen.into_values().collect()
}

/// The CPUs per element `--slurm-arg` asks for (`--cpus-per-task N|=N`, `-c N|-cN`), else 1.
pub fn cpus_per_task(args: &[String]) -> Result<u64, SlurmError> {
    let Some(v) = super::preflight::option_value(args, "--cpus-per-task", "-c") else {
        return Ok(1);
    };
    v.parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| SlurmError::SlurmArg {
            arg: format!("--cpus-per-task {v}"),
            why: "not a whole number of CPUs above 0".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_fits_cpus_and_memory_per_node() {
        let nodes = parse_nodes("a|2|21694\nb|8|4000+\nb|8|4000\nbad line\n");
        assert_eq!(
            nodes,
            vec![
                Node {
                    cpus: 2,
                    mem_mib: 21694
                },
                Node {
                    cpus: 8,
                    mem_mib: 4000
                }
            ]
        );
        let per = |cpus, mem_mib| Footprint { cpus, mem_mib };
        assert_eq!(fit(&nodes, per(1, None)), 10);
        assert_eq!(fit(&nodes, per(1, Some(1024))), 2 + 3);
        assert_eq!(fit(&nodes, per(4, Some(100))), 2);
        assert_eq!(fit(&nodes, per(16, None)), 1, "at least one");
    }

    #[test]
    fn reads_cpus_per_task() {
        let a = |v: &[&str]| cpus_per_task(&tools::args(v)).ok();
        assert_eq!(a(&["--partition=main"]), Some(1));
        assert_eq!(a(&["--cpus-per-task=4"]), Some(4));
        assert_eq!(a(&["-c", "3"]), Some(3));
        assert_eq!(a(&["-c2"]), Some(2));
        assert_eq!(a(&["--cpus-per-task=0"]), None);
        assert_eq!(a(&["-c", "x"]), None);
    }
}
