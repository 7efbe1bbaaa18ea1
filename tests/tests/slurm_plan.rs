//! What a Slurm run says it will ask of the cluster (the plan `--dry-run`
//! prints) and the array throttle `--workers auto` gives, on the real
//! single-node cluster of scripts/slurm-up. `#[ignore]`d like slurm.rs:
//! `.ci/run` runs them with `-- --ignored`, and without a cluster they fail.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::slurm::*;
use common::*;

const LIMIT: Duration = Duration::from_secs(180);

/// Five no-op tasks.
fn five_tasks() -> Batch {
    let b = Batch::new();
    for t in ["a", "b", "c", "d", "e"] {
        b.task(t, "sleep=0\n");
    }
    b
}

/// Elements of `mem_mib` and one CPU the partition's nodes hold at once,
/// from sinfo: per node, the lesser of its CPUs and its memory over `mem_mib`.
fn partition_holds(partition: &str, mem_mib: u64) -> usize {
    let nodes: BTreeMap<String, (u64, u64)> =
        slurm("sinfo", &["-h", "-N", "-p", partition, "-o", "%N|%c|%m"])
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.trim().split('|').collect();
                let num = |s: &str| s.trim_end_matches('+').parse::<u64>().expect(l);
                (f[0].to_string(), (num(f[1]), num(f[2])))
            })
            .collect();
    nodes
        .values()
        .map(|&(cpus, mem)| cpus.min(mem / mem_mib) as usize)
        .sum()
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm_plan -- --ignored"]
fn dry_run_prints_what_each_array_element_asks_of_slurm() {
    require_slurm();
    let b = five_tasks();
    let runs: [(&str, &[&str]); 2] = [
        (
            "slurm_plan_fixed",
            &[
                "--workers",
                "2",
                "--timeout",
                "30s",
                "--max-task-memory",
                "100M",
                "--batch-size",
                "2",
                "--slurm-arg",
                "--partition=main",
            ],
        ),
        ("slurm_plan_auto", &["--workers", "auto"]),
    ];
    for (name, extra) in runs {
        let mut cmd = b.run_cmd(&["--executor", "slurm", "--dry-run"]);
        cmd.args(extra);
        let out = run_within(cmd, LIMIT);
        ok(&out);
        assert!(
            !b.out().join(".isobatch").exists(),
            "a dry run submits nothing"
        );
        let plan = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut s = insta::Settings::clone_current();
        s.add_filter(&regex_escape(&b.dir.path().display().to_string()), "[TMP]");
        // What the machine running the tests has: node memory, CPUs, free disk.
        s.add_filter(r"largest node \d+ MiB", "largest node [MiB] MiB");
        s.add_filter(
            r"\d+ element\(s\) at once \(--workers auto: what the \d+ node\(s\) of partition (\w+) hold, \d+ CPU\(s\)",
            "[N] element(s) at once (--workers auto: what the [N] node(s) of partition $1 hold, [N] CPU(s)",
        );
        s.add_filter(r"; no more elements than that, so no %N", "");
        s.add_filter(
            r"outputs, \d+(\.\d+)? (B|KiB|MiB|GiB|TiB) free",
            "outputs, [SIZE] free",
        );
        s.bind(|| insta::assert_snapshot!(name, plan));
    }
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-up, then cargo test --test slurm_plan -- --ignored"]
fn workers_auto_throttles_the_array_to_what_the_partition_holds() {
    require_slurm();
    // Each element asks --mem = 100 MiB + 128 MiB for isobatch itself.
    let holds = partition_holds("main", 228);
    let b = Batch::new();
    // One element more than the partition holds, so the array carries a throttle.
    for i in 0..=holds {
        b.task(&format!("t{i:03}"), "sleep=0\n");
    }
    let cmd = b.run_cmd(&[
        "--executor",
        "slurm",
        "--workers",
        "auto",
        "--max-task-memory",
        "100M",
        "--slurm-arg",
        "--partition=main",
    ]);
    ok(&run_within(cmd, LIMIT));
    assert!(
        b.verdicts().iter().all(|(_, v)| v == "done"),
        "{:?}",
        b.verdicts()
    );
    let jobs = arrays(&b);
    assert_eq!(jobs.len(), 1, "one array");
    let show = slurm("scontrol", &["show", "job", &jobs[0]]);
    assert!(
        show.contains(&format!("ArrayTaskThrottle={holds} ")),
        "expected the throttle {holds}, what sinfo says partition main holds:\n{show}"
    );
    let runs = b
        .journal()
        .into_iter()
        .find(|e| e["event"] == "run_start")
        .expect("run_start");
    assert_eq!(runs["workers"], holds, "the journal's workers");
}
