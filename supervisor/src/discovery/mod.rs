//! Input discovery: turns `--input`, `--pattern`, `--grid`, `--select` and `--limit` into the
//! ordered list of tasks (DESIGN.md, "Command line").

mod error;
mod hints;
mod naming;
mod pattern;
mod positions;
#[cfg(test)]
mod tests;
mod walk;

pub use error::DiscoveryError;
pub use positions::{PositionCounter, PositionSet};

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use globset::{Glob, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use naming::{natural_cmp_values, task_id};
use pattern::{Pattern, is_field_name, render_layout};
use walk::{example_files, walk};

/// What to discover: the input folder and the discovery flags.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryOptions {
    /// The input folder (`--input`); patterns are relative to it.
    pub input: PathBuf,
    /// A folder discovery never walks into (the output folder).
    pub exclude: Option<PathBuf>,
    /// `--pattern` templates; all must use the same field names.
    pub patterns: Vec<String>,
    /// `--grid` specs: the values each listed field must take.
    pub grid: Vec<GridSpec>,
    /// `--lenient`: list missing grid combinations instead of refusing the batch.
    pub lenient: bool,
    /// `--select` globs over task ids (a task is kept when any matches); empty keeps all. Also
    /// narrows the missing grid combinations, so a strict grid only checks selected ids.
    pub select: Vec<String>,
    /// `--limit`: keep only the first N tasks after selection.
    pub limit: Option<usize>,
    /// Splits multi-position files into one task per position (the fov pipeline's).
    pub positions: Option<PositionCounter>,
    /// `--positions`: which positions to keep.
    pub position_set: Option<PositionSet>,
}

/// One `--grid FIELD=V1,V2,...`: the values `field` must take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridSpec {
    /// A pattern field name.
    pub field: String,
    /// The required values, in the order given, without duplicates.
    pub values: Vec<String>,
}

impl FromStr for GridSpec {
    type Err = DiscoveryError;

    fn from_str(spec: &str) -> Result<GridSpec, DiscoveryError> {
        let bad = |reason: &str| DiscoveryError::InvalidGrid {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let (field, list) = spec
            .split_once('=')
            .ok_or_else(|| bad("it must have the form FIELD=V1,V2"))?;
        let field = field.trim();
        let list = list.trim();
        if !is_field_name(field) {
            return Err(bad(
                "the field name must be letters, digits and `_`, not starting with a digit",
            ));
        }
        let mut values: Vec<String> = Vec::new();
        for value in list.split(',').map(str::trim) {
            if value.is_empty() {
                return Err(bad("a value is empty (check for stray commas)"));
            }
            if !values.iter().any(|v| v == value) {
                values.push(value.to_string());
            }
        }
        Ok(GridSpec {
            field: field.to_string(),
            values,
        })
    }
}

impl fmt::Display for GridSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.field, self.values.join(","))
    }
}

/// One task: a distinct combination of captured field values and the files that gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Sanitized id: the values joined by `_`, only `[A-Za-z0-9._-]`, never hidden.
    pub id: String,
    /// `(field, value)` pairs in field order; values are exactly as captured.
    pub fields: Vec<(String, String)>,
    /// The matched files (the input folder joined with the relative path), sorted; empty for a
    /// missing grid combination.
    pub inputs: Vec<PathBuf>,
    /// The position inside a multi-position input (id `FILE_pNNN`); `None` for a file
    /// with one position.
    #[serde(default)]
    pub position: Option<usize>,
}

impl Task {
    /// The captured value of `field`, if the pattern has that field.
    pub fn field(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, value)| value.as_str())
    }

    /// The fields as `name=value` pairs joined by `, ` (for messages).
    pub fn describe_fields(&self) -> String {
        describe(&self.fields)
    }
}

/// The result of discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Tasks to run, in natural order of their field values, after `--select` and `--limit`.
    pub tasks: Vec<Task>,
    /// With `--lenient`: grid combinations without any input (their `inputs` are empty), in
    /// natural order, after `--select` (`--limit` does not apply to them).
    pub missing: Vec<Task>,
    /// Field names in order of first appearance in the first pattern.
    pub field_names: Vec<String>,
}

/// Discovers the tasks under `opts.input` (see the module docs and DESIGN.md).
pub fn discover(opts: &DiscoveryOptions) -> Result<Discovery, DiscoveryError> {
    let patterns = parse_patterns(&opts.patterns)?;
    let field_names: Vec<String> = patterns[0].fields().to_vec();
    // For each pattern, where each of its fields sits in `field_names`.
    let orders: Vec<Vec<usize>> = patterns
        .iter()
        .map(|p| {
            p.fields()
                .iter()
                .map(|f| field_names.iter().position(|n| n == f).unwrap_or(0))
                .collect()
        })
        .collect();
    let grid = check_grid(&opts.grid, &field_names)?;
    let quoted = quote_patterns(&patterns);
    let layout = || {
        indent(
            &render_layout(&opts.input.display().to_string(), &patterns),
            2,
        )
    };
    let input = opts.input.clone();
    match fs::metadata(&opts.input) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(DiscoveryError::InputNotDirectory {
                input,
                layout: layout(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DiscoveryError::InputMissing {
                input,
                layout: layout(),
            });
        }
        Err(source) => {
            return Err(DiscoveryError::Unreadable {
                path: input,
                source,
            });
        }
    }

    // Walk and match: combination of values -> files.
    let max_depth = patterns.iter().map(Pattern::depth).max().unwrap_or(1);
    let mut found: HashMap<Vec<String>, Vec<PathBuf>> = HashMap::new();
    let mut visit = |rel: &str, path: PathBuf| {
        for (pattern, order) in patterns.iter().zip(&orders) {
            if let Some(values) = pattern.match_path(rel) {
                let mut combo = vec![String::new(); field_names.len()];
                for (value, &slot) in values.into_iter().zip(order) {
                    combo[slot] = value;
                }
                found.entry(combo).or_default().push(path);
                break;
            }
        }
    };
    let descend = |depth: usize, name: &str| patterns.iter().any(|p| p.could_descend(depth, name));
    walk(
        &opts.input,
        opts.exclude.as_deref(),
        &descend,
        max_depth,
        &mut visit,
    )?;

    if found.is_empty() {
        let examples = example_files(&opts.input);
        if examples.is_empty() {
            return Err(DiscoveryError::InputEmpty {
                input,
                layout: layout(),
            });
        }
        return Err(DiscoveryError::NothingMatches {
            input,
            patterns: quoted,
            layout: layout(),
            hint: hints::extension_hint(&opts.patterns, &examples),
            examples: indent(&examples.join("\n"), 2),
        });
    }

    // Grid: keep on-grid combinations, work out the required ones that are absent.
    let mut missing_combos: Vec<Vec<String>> = Vec::new();
    if !grid.is_empty() {
        let grid_slots: Vec<(usize, &GridSpec)> = grid
            .iter()
            .filter_map(|g| {
                field_names
                    .iter()
                    .position(|f| *f == g.field)
                    .map(|i| (i, *g))
            })
            .collect();
        let mut bases: Vec<Vec<String>> = Vec::new();
        let mut seen: HashSet<Vec<String>> = HashSet::new();
        for combo in found.keys() {
            let mut base = combo.clone();
            for (slot, _) in &grid_slots {
                base[*slot].clear();
            }
            if seen.insert(base.clone()) {
                bases.push(base);
            }
        }
        found.retain(|combo, _| {
            grid_slots
                .iter()
                .all(|(slot, g)| g.values.contains(&combo[*slot]))
        });
        for base in bases {
            let mut combos = vec![base];
            for (slot, g) in &grid_slots {
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        g.values.iter().map(move |v| {
                            let mut c = c.clone();
                            c[*slot] = v.clone();
                            c
                        })
                    })
                    .collect();
            }
            missing_combos.extend(combos.into_iter().filter(|c| !found.contains_key(c)));
        }
    }

    let make_task = |values: Vec<String>, mut inputs: Vec<PathBuf>| {
        inputs.sort();
        inputs.dedup();
        Task {
            id: task_id(&values),
            fields: field_names.iter().cloned().zip(values).collect(),
            inputs,
            position: None,
        }
    };
    let mut combos: Vec<(Vec<String>, Vec<PathBuf>)> = found.into_iter().collect();
    combos.sort_by(|a, b| natural_cmp_values(&a.0, &b.0));
    missing_combos.sort_by(|a, b| natural_cmp_values(a, b));
    let mut tasks: Vec<Task> = combos.into_iter().map(|(v, i)| make_task(v, i)).collect();
    if let Some(count) = opts.positions {
        tasks = positions::expand(tasks, count, opts.position_set.as_ref());
    }
    let mut missing: Vec<Task> = missing_combos
        .into_iter()
        .map(|v| make_task(v, Vec::new()))
        .collect();
    check_collisions(tasks.iter().chain(&missing))?;

    if !opts.select.is_empty() {
        let mut builder = GlobSetBuilder::new();
        for glob in &opts.select {
            let parsed = Glob::new(glob).map_err(|source| DiscoveryError::InvalidSelect {
                glob: glob.clone(),
                source,
            })?;
            builder.add(parsed);
        }
        let set = builder
            .build()
            .map_err(|source| DiscoveryError::InvalidSelect {
                glob: opts.select.join(" "),
                source,
            })?;
        let found: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
        tasks.retain(|t| set.is_match(&t.id));
        missing.retain(|t| set.is_match(&t.id));
        if tasks.is_empty() {
            return Err(DiscoveryError::NothingSelected {
                select: opts.select.join(" "),
                count: found.len(),
                examples: examples(&found),
            });
        }
    }
    if !missing.is_empty() && !opts.lenient {
        let list = missing
            .iter()
            .map(|t| format!("  {} ({})", t.id, t.describe_fields()))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(DiscoveryError::MissingCombinations {
            input,
            patterns: quoted,
            count: missing.len(),
            list,
        });
    }
    if let Some(limit) = opts.limit {
        tasks.truncate(limit);
    }
    Ok(Discovery {
        tasks,
        missing,
        field_names,
    })
}

/// Up to [`SHOWN_IDS`] task ids, listed for a "nothing to run" error.
fn examples(ids: &[String]) -> String {
    let mut list = ids
        .iter()
        .take(SHOWN_IDS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN_IDS {
        list.push_str(&format!(", ... ({} more)", ids.len() - SHOWN_IDS));
    }
    list
}

/// How many task ids a "nothing to run" error lists.
const SHOWN_IDS: usize = 20;

/// Parses every pattern and checks that they share one set of field names.
fn parse_patterns(sources: &[String]) -> Result<Vec<Pattern>, DiscoveryError> {
    let patterns = sources
        .iter()
        .map(|s| Pattern::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let first = patterns.first().ok_or(DiscoveryError::NoPattern)?;
    let sorted = |p: &Pattern| {
        let mut f = p.fields().to_vec();
        f.sort();
        f
    };
    for other in &patterns[1..] {
        if sorted(other) != sorted(first) {
            return Err(DiscoveryError::PatternFieldsDiffer {
                first: first.source().to_string(),
                first_fields: first.fields().join(", "),
                other: other.source().to_string(),
                other_fields: other.fields().join(", "),
            });
        }
    }
    Ok(patterns)
}

/// Checks the grid against the field names; returns the specs.
fn check_grid<'a>(
    grid: &'a [GridSpec],
    fields: &[String],
) -> Result<Vec<&'a GridSpec>, DiscoveryError> {
    let mut checked: Vec<&GridSpec> = Vec::new();
    for spec in grid {
        if !fields.contains(&spec.field) {
            return Err(DiscoveryError::GridFieldUnknown {
                field: spec.field.clone(),
                fields: fields.join(", "),
            });
        }
        if checked.iter().any(|g| g.field == spec.field) {
            return Err(DiscoveryError::GridFieldRepeated {
                field: spec.field.clone(),
            });
        }
        if spec.values.is_empty() || spec.values.iter().any(String::is_empty) {
            return Err(DiscoveryError::InvalidGrid {
                spec: spec.to_string(),
                reason: "every value must be non-empty and at least one is required".into(),
            });
        }
        checked.push(spec);
    }
    Ok(checked)
}

/// Refuses two different combinations with the same id, listing every such clash.
fn check_collisions<'a>(tasks: impl Iterator<Item = &'a Task>) -> Result<(), DiscoveryError> {
    let mut by_id: HashMap<&str, &Task> = HashMap::new();
    let mut lines = Vec::new();
    for task in tasks {
        if let Some(other) = by_id.insert(&task.id, task) {
            lines.push(format!(
                "  {}: ({}) and ({})",
                task.id,
                other.describe_fields(),
                task.describe_fields()
            ));
        }
    }
    if lines.is_empty() {
        Ok(())
    } else {
        Err(DiscoveryError::IdCollision {
            collisions: lines.join("\n"),
        })
    }
}

/// `name=value` pairs joined by `, `.
fn describe(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The patterns as `` `a` `` or `` `a` or `b` ``.
fn quote_patterns(patterns: &[Pattern]) -> String {
    let quoted: Vec<String> = patterns
        .iter()
        .map(|p| format!("`{}`", p.source()))
        .collect();
    quoted.join(" or ")
}

/// Indents every line of `text` by `by` spaces.
fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|line| format!("{pad}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
