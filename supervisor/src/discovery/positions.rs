//! One task per position: a multi-position input file (OME-TIFF series, CZI
//! scenes, ND2 positions) becomes one task per position, id `FILE_pNNN`
//! (zero-padded to at least three digits, so ids sort and stay stable); a
//! single-position file keeps its plain id. `--positions 0-9,12` keeps some.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::Task;

/// A `--positions` selection: inclusive ranges of position indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionSet(Vec<(usize, usize)>);

impl PositionSet {
    /// True when position `p` is selected.
    pub fn contains(&self, p: usize) -> bool {
        self.0.iter().any(|&(a, b)| (a..=b).contains(&p))
    }
}

impl FromStr for PositionSet {
    type Err = String;

    fn from_str(text: &str) -> Result<PositionSet, String> {
        let bad = |part: &str| {
            format!("--positions {text}: {part:?} is not a position (0, 1, …) or a range (0-9)")
        };
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: usize = a.trim().parse().map_err(|_| bad(part))?;
            let b: usize = b.trim().parse().map_err(|_| bad(part))?;
            if a > b {
                return Err(format!("--positions {text}: range {part} runs backwards"));
            }
            ranges.push((a, b));
        }
        Ok(PositionSet(ranges))
    }
}

impl fmt::Display for PositionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Counts the positions of an input file; `None` when its headers cannot be read
/// (the task then runs once and the worker reports why).
pub type PositionCounter = fn(&Path) -> Option<usize>;

/// Expands every single-input task into one task per position (selected by `set`).
pub(super) fn expand(
    tasks: Vec<Task>,
    count: PositionCounter,
    set: Option<&PositionSet>,
) -> Vec<Task> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let n = match task.inputs.as_slice() {
            [one] => count(one),
            _ => None,
        };
        match n {
            Some(n) if n > 1 => {
                let width = (n - 1).to_string().len().max(3);
                for p in (0..n).filter(|&p| set.is_none_or(|s| s.contains(p))) {
                    let mut t = task.clone();
                    t.id = format!("{}_p{p:0width$}", task.id);
                    t.position = Some(p);
                    out.push(t);
                }
            }
            Some(0) => {}
            _ if set.is_none_or(|s| s.contains(0)) => out.push(task),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn task(id: &str) -> Task {
        Task {
            id: id.into(),
            fields: vec![("fov".into(), id.into())],
            inputs: vec![PathBuf::from(format!("{id}.tif"))],
            position: None,
        }
    }

    fn count(p: &Path) -> Option<usize> {
        match p.to_str()? {
            "multi.tif" => Some(12),
            "huge.tif" => Some(1500),
            "bad.tif" => None,
            _ => Some(1),
        }
    }

    #[test]
    fn one_task_per_position_with_stable_padded_ids() {
        let ids = |set: Option<&str>| -> Vec<String> {
            let set = set.map(|s| s.parse::<PositionSet>().unwrap());
            expand(
                vec![task("bad"), task("multi"), task("one")],
                count,
                set.as_ref(),
            )
            .into_iter()
            .map(|t| format!("{}@{:?}", t.id, t.position))
            .collect()
        };
        let all = ids(None);
        assert_eq!(all.len(), 14);
        assert_eq!(all[1], "multi_p000@Some(0)");
        assert_eq!(all[12], "multi_p011@Some(11)");
        assert_eq!(all[13], "one@None");
        assert_eq!(
            ids(Some("0-1, 11")),
            [
                "bad@None",
                "multi_p000@Some(0)",
                "multi_p001@Some(1)",
                "multi_p011@Some(11)",
                "one@None"
            ]
        );
        assert_eq!(ids(Some("5")), ["multi_p005@Some(5)"]);
        let huge = expand(vec![task("huge")], count, None);
        assert_eq!(huge[7].id, "huge_p0007");
    }

    #[test]
    fn selections_parse_or_say_why_not() {
        let s: PositionSet = "0-9,12".parse().unwrap();
        assert!(s.contains(0) && s.contains(9) && s.contains(12) && !s.contains(10));
        assert_eq!(s.to_string(), "0-9,12");
        for bad in ["", "a", "3-1", "1-", "-2"] {
            assert!(bad.parse::<PositionSet>().is_err(), "{bad}");
        }
    }
}
