//! `--pattern` templates: parsing, matching relative paths, and rendering the expected layout.

use regex::Regex;

use super::DiscoveryError;
use crate::braces::{self, BraceError, Part};

/// One piece of a pattern segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Text that must appear as is.
    Literal(String),
    /// `{name}`: index into [`Pattern::fields`].
    Field(usize),
    /// `*`: any run of characters (possibly empty) within the segment.
    Star,
}

/// A parsed `--pattern`: path segments of literals, `{field}` captures and `*` globs.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// The pattern as the user wrote it.
    source: String,
    /// One token list per `/`-separated segment.
    segments: Vec<Vec<Token>>,
    /// Field names in order of first appearance.
    fields: Vec<String>,
    /// The whole pattern, anchored; one lazy group per field occurrence.
    regex: Regex,
    /// For capture group `i + 1`, the field it captures.
    group_fields: Vec<usize>,
    /// One anchored regex per segment, to prune directories during the walk.
    segment_regexes: Vec<Regex>,
    /// Whether some field occurs more than once (needs the consistency check).
    repeated: bool,
}

impl Pattern {
    /// Parses `source`, refusing bad syntax with [`DiscoveryError::InvalidPattern`].
    pub(crate) fn parse(source: &str) -> Result<Pattern, DiscoveryError> {
        let bad = |reason: String| DiscoveryError::InvalidPattern {
            pattern: source.to_string(),
            reason,
        };
        if source.is_empty() {
            return Err(bad("it is empty".into()));
        }
        if source.starts_with('/') {
            return Err(bad(
                "it is an absolute path; a pattern is relative to --input".into(),
            ));
        }
        let mut fields: Vec<String> = Vec::new();
        let mut occurrences = 0usize;
        let mut segments = Vec::new();
        for segment in source.split('/') {
            if segment.is_empty() {
                return Err(bad(
                    "it has an empty path segment (`//` or a trailing `/`)".into()
                ));
            }
            if segment == "." || segment == ".." {
                return Err(bad(format!("`{segment}` segments are not allowed")));
            }
            if segment.starts_with('.') {
                return Err(bad(format!(
                    "segment `{segment}` starts with `.`, and hidden files and folders are skipped"
                )));
            }
            let tokens = parse_segment(segment, &mut fields, &mut occurrences).map_err(bad)?;
            segments.push(tokens);
        }
        if fields.is_empty() {
            return Err(bad(
                "it has no `{field}`, so every file would be the same task".into(),
            ));
        }
        let mut group_fields = Vec::new();
        let mut whole = String::from("^");
        let mut segment_regexes = Vec::new();
        for (i, tokens) in segments.iter().enumerate() {
            if i > 0 {
                whole.push('/');
            }
            let mut seg = String::from("^");
            for token in tokens {
                match token {
                    Token::Literal(text) => {
                        let escaped = regex::escape(text);
                        whole.push_str(&escaped);
                        seg.push_str(&escaped);
                    }
                    Token::Field(index) => {
                        group_fields.push(*index);
                        whole.push_str("([^/]+?)");
                        seg.push_str("[^/]+?");
                    }
                    Token::Star => {
                        whole.push_str("[^/]*?");
                        seg.push_str("[^/]*?");
                    }
                }
            }
            seg.push('$');
            segment_regexes.push(Regex::new(&seg).map_err(|e| bad(e.to_string()))?);
        }
        whole.push('$');
        let regex = Regex::new(&whole).map_err(|e| bad(e.to_string()))?;
        Ok(Pattern {
            source: source.to_string(),
            repeated: occurrences > fields.len(),
            segments,
            fields,
            regex,
            group_fields,
            segment_regexes,
        })
    }

    /// The pattern as written.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Field names in order of first appearance.
    pub(crate) fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Number of path segments (the walk depth this pattern needs).
    pub(crate) fn depth(&self) -> usize {
        self.segments.len()
    }

    /// Whether a folder named `name` at segment `depth` (0-based) could lead to a match.
    pub(crate) fn could_descend(&self, depth: usize, name: &str) -> bool {
        depth + 1 < self.segments.len()
            && self
                .segment_regexes
                .get(depth)
                .is_some_and(|re| re.is_match(name))
    }

    /// Matches a `/`-separated relative path; returns one value per field (in [`Self::fields`] order).
    pub(crate) fn match_path(&self, rel: &str) -> Option<Vec<String>> {
        let caps = self.regex.captures(rel)?;
        let mut values: Vec<Option<&str>> = vec![None; self.fields.len()];
        let mut consistent = true;
        for (group, &field) in self.group_fields.iter().enumerate() {
            let text = caps.get(group + 1).map(|m| m.as_str())?;
            match values[field] {
                None => values[field] = Some(text),
                Some(previous) if previous == text => {}
                Some(_) => consistent = false,
            }
        }
        if consistent {
            return values.into_iter().map(|v| v.map(str::to_string)).collect();
        }
        if !self.repeated {
            return None;
        }
        // The leftmost-lazy split disagrees between occurrences of a repeated field (for example
        // `{s}/{s}_{d}.tif` on `a_b/a_b_c.tif`): try the other splits, in the same priority order.
        let mut tokens: Vec<Token> = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                tokens.push(Token::Literal("/".into()));
            }
            tokens.extend(segment.iter().cloned());
        }
        let mut bound: Vec<Option<(usize, usize)>> = vec![None; self.fields.len()];
        let mut budget = BACKTRACK_BUDGET;
        if backtrack(&tokens, rel, 0, &mut bound, &mut budget) {
            bound
                .into_iter()
                .map(|b| b.map(|(start, end)| rel[start..end].to_string()))
                .collect()
        } else {
            None
        }
    }

    /// This pattern's segments, rendered: `<field>`, `*` and literals.
    fn rendered_segments(&self) -> Vec<String> {
        self.segments
            .iter()
            .map(|tokens| {
                tokens
                    .iter()
                    .map(|t| match t {
                        Token::Literal(text) => text.clone(),
                        Token::Field(i) => format!("<{}>", self.fields[*i]),
                        Token::Star => "*".to_string(),
                    })
                    .collect()
            })
            .collect()
    }
}

/// How many steps the backtracking matcher may take for one path before giving up (a path
/// that needs more, which takes a pathological pattern, does not match).
const BACKTRACK_BUDGET: usize = 1_000_000;

/// Tries every split of `text[pos..]` against `tokens`, shortest captures first; `bound` holds
/// the span each field captured so far.
fn backtrack(
    tokens: &[Token],
    text: &str,
    pos: usize,
    bound: &mut [Option<(usize, usize)>],
    budget: &mut usize,
) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return pos == text.len();
    };
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let tail = &text[pos..];
    match first {
        Token::Literal(lit) => {
            tail.starts_with(lit.as_str()) && backtrack(rest, text, pos + lit.len(), bound, budget)
        }
        Token::Field(field) => {
            if let Some((start, end)) = bound[*field] {
                let value = &text[start..end];
                return tail.starts_with(value)
                    && backtrack(rest, text, pos + value.len(), bound, budget);
            }
            for (offset, c) in tail.char_indices() {
                if c == '/' {
                    break;
                }
                let end = pos + offset + c.len_utf8();
                bound[*field] = Some((pos, end));
                if backtrack(rest, text, end, bound, budget) {
                    return true;
                }
            }
            bound[*field] = None;
            false
        }
        Token::Star => {
            if backtrack(rest, text, pos, bound, budget) {
                return true;
            }
            for (offset, c) in tail.char_indices() {
                if c == '/' {
                    break;
                }
                if backtrack(rest, text, pos + offset + c.len_utf8(), bound, budget) {
                    return true;
                }
            }
            false
        }
    }
}

/// Parses one segment into tokens, registering new field names in `fields`.
fn parse_segment(
    segment: &str,
    fields: &mut Vec<String>,
    occurrences: &mut usize,
) -> Result<Vec<Token>, String> {
    let parts = braces::tokenize(segment, &['*']).map_err(|e| match e {
        BraceError::UnmatchedClose => {
            "it has a `}` without a matching `{` (write `}}` for a literal brace)".to_string()
        }
        BraceError::Unclosed(name) => {
            format!("`{{{name}` is not closed by `}}` within its path segment")
        }
    })?;
    let mut tokens = Vec::new();
    for part in parts {
        match part {
            Part::Literal(text) => tokens.push(Token::Literal(text)),
            Part::Name(name) => {
                if name.is_empty() {
                    return Err("it has an empty field name `{}`".into());
                }
                if !is_field_name(&name) {
                    return Err(format!(
                        "`{{{name}}}` is not a valid field name (letters, digits and `_`, not starting with a digit)"
                    ));
                }
                let index = match fields.iter().position(|f| *f == name) {
                    Some(i) => i,
                    None => {
                        fields.push(name);
                        fields.len() - 1
                    }
                };
                *occurrences += 1;
                tokens.push(Token::Field(index));
            }
            Part::Special(_) => {
                // Two specials in a row can only come from two adjacent `*`.
                if matches!(tokens.last(), Some(Token::Star)) {
                    return Err(
                        "`**` is not supported: each `*` matches within one path segment".into(),
                    );
                }
                tokens.push(Token::Star);
            }
        }
    }
    Ok(tokens)
}

/// Whether `name` is `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Renders the layout the patterns expect under `root`, as an indented tree.
///
/// `raw` with `{sample}/{sample}_{dye}_*.tif` gives `raw/`, `  <sample>/`,
/// `    <sample>_<dye>_*.tif`, one per line.
pub(crate) fn render_layout(root: &str, patterns: &[Pattern]) -> String {
    /// A node of the merged tree: label, whether it is a folder, children.
    struct Node {
        label: String,
        dir: bool,
        children: Vec<Node>,
    }
    let mut roots: Vec<Node> = Vec::new();
    for pattern in patterns {
        let segments = pattern.rendered_segments();
        let mut level = &mut roots;
        for (i, label) in segments.iter().enumerate() {
            let dir = i + 1 < segments.len();
            let at = match level.iter().position(|n| n.label == *label && n.dir == dir) {
                Some(at) => at,
                None => {
                    level.push(Node {
                        label: label.clone(),
                        dir,
                        children: Vec::new(),
                    });
                    level.len() - 1
                }
            };
            level = &mut level[at].children;
        }
    }
    /// Appends `nodes` at `depth` to `out`.
    fn render(nodes: &[Node], depth: usize, out: &mut String) {
        for node in nodes {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
            out.push_str(&node.label);
            if node.dir {
                out.push('/');
            }
            render(&node.children, depth + 1, out);
        }
    }
    let mut out = format!("{}/", root.trim_end_matches('/'));
    render(&roots, 1, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, rel: &str) -> Option<Vec<String>> {
        Pattern::parse(pattern).expect("pattern").match_path(rel)
    }

    #[test]
    fn repeated_fields_backtrack_to_a_consistent_split() {
        assert_eq!(
            matches("{a}_{a}.tif", "x_y_x_y.tif"),
            Some(vec!["x_y".into()])
        );
        assert_eq!(matches("{a}_{a}.tif", "x_y_x_z.tif"), None);
        assert_eq!(
            matches("{s}/{s}_{d}_*.tif", "a_b/a_b_c_d_1.tif"),
            Some(vec!["a_b".into(), "c".into()])
        );
    }

    #[test]
    fn lazy_captures_and_stars_stay_in_their_segment() {
        assert_eq!(
            matches("{a}_{b}.tif", "x_y_z.tif"),
            Some(vec!["x".into(), "y_z".into()])
        );
        assert_eq!(matches("{a}*.tif", "x/y.tif"), None);
        assert_eq!(matches("{a}.tif", "ä ö.tif"), Some(vec!["ä ö".into()]));
    }

    #[test]
    fn pathological_paths_finish() {
        let name = format!("{}b.x", "_".repeat(300));
        assert_eq!(matches("{a}*_*_*_*_*_{a}.x", &name), None);
    }

    #[test]
    fn layout_merges_common_folders() {
        let patterns = [
            Pattern::parse("{s}/{s}_*.tif").expect("p"),
            Pattern::parse("{s}/{s}_*.tiff").expect("p"),
        ];
        assert_eq!(
            render_layout("raw/", &patterns),
            "raw/\n  <s>/\n    <s>_*.tif\n    <s>_*.tiff"
        );
    }
}
