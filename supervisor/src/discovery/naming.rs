//! Task ids and the natural order of field values.

use std::cmp::Ordering;

/// Builds a task id: `values` joined by `_`, every character outside `[A-Za-z0-9._-]` replaced
/// by `_`, and a leading `.` replaced by `_` (an id is never `.`, `..` or hidden).
pub(crate) fn task_id<S: AsRef<str>>(values: &[S]) -> String {
    let mut id = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            id.push('_');
        }
        id.extend(value.as_ref().chars().map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        }));
    }
    if id.starts_with('.') {
        id.replace_range(..1, "_");
    }
    id
}

/// Compares two strings naturally: runs of ASCII digits compare as numbers (`fov2` < `fov10`),
/// everything else as text; ties are broken by plain string order, so the order is total.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return a.cmp(b),
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let (cx, rx) = split_chunk(x);
        let (cy, ry) = split_chunk(y);
        let x_digits = cx.starts_with(|c: char| c.is_ascii_digit());
        let y_digits = cy.starts_with(|c: char| c.is_ascii_digit());
        let order = match (x_digits, y_digits) {
            (true, true) => {
                let (tx, ty) = (cx.trim_start_matches('0'), cy.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            _ => cx.cmp(cy),
        };
        if order != Ordering::Equal {
            return order;
        }
        (x, y) = (rx, ry);
    }
}

/// Compares two value lists field by field with [`natural_cmp`].
pub(crate) fn natural_cmp_values(a: &[String], b: &[String]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| natural_cmp(x, y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

/// Splits off the leading run of digits or of non-digits.
fn split_chunk(s: &str) -> (&str, &str) {
    let digits = s.starts_with(|c: char| c.is_ascii_digit());
    let end = s
        .find(|c: char| c.is_ascii_digit() != digits)
        .unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sanitized() {
        assert_eq!(task_id(&["a b", "c;d"]), "a_b_c_d");
        assert_eq!(task_id(&[".."]), "_.");
        assert_eq!(task_id(&[".hidden"]), "_hidden");
        assert_eq!(task_id(&["ok-1.2_x"]), "ok-1.2_x");
        assert_eq!(task_id(&["é'\""]), "___");
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["fov10", "fov2", "fov1", "fov02", "Fov3", "fov", "10", "9"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["9", "10", "Fov3", "fov", "fov1", "fov02", "fov2", "fov10"]
        );
    }
}
