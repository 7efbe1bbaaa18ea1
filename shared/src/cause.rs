//! The one line that says why something failed.
//!
//! Failure messages put their cause on the first line and the evidence (the end
//! of a program's output, a log excerpt) on the lines below, so a table, a
//! progress line or a grouped Problems entry can show one line that is the
//! reason, never a header such as `command exited with status 1; last output:`.

/// Longest cause line kept, in characters; longer lines end with `…`.
pub const CAUSE_MAX_CHARS: usize = 200;

/// Lines that frame a failure rather than state it.
fn is_noise(line: &str) -> bool {
    let l = line.trim();
    l.is_empty()
        || l.starts_with("note: run with `RUST_BACKTRACE")
        || l.starts_with("stack backtrace:")
        || l.starts_with("Traceback (most recent call last)")
        || l.starts_with("During handling of the above exception")
        || l.starts_with("The above exception was the direct cause")
}

/// The most informative line of a program's output, if any: a Rust panic's
/// message (the line after `panicked at …:`), else the last line that is not
/// indented and not a frame of boilerplate — the exception line that ends a
/// Python traceback, the last error a tool printed.
pub fn from_output<S: AsRef<str>>(lines: &[S]) -> Option<String> {
    let lines: Vec<&str> = lines.iter().map(|l| l.as_ref().trim_end()).collect();
    if let Some(i) = lines.iter().rposition(|l| l.contains("panicked at")) {
        let here = lines[i];
        if let Some(next) = lines.get(i + 1).filter(|l| !is_noise(l)) {
            return Some(clip(next.trim()));
        }
        // Before Rust 1.73 the message was on the same line: `panicked at 'msg', file:line`.
        return Some(clip(here.trim()));
    }
    let unindented = |l: &&&str| !is_noise(l) && !l.starts_with([' ', '\t']);
    lines
        .iter()
        .rev()
        .find(unindented)
        .or_else(|| lines.iter().rev().find(|l| !is_noise(l)))
        .map(|l| clip(l.trim()))
}

/// The cause line of a failure message: its first non-empty line, unless that
/// line is a header ending in `:` that introduces quoted output (a message
/// written before causes came first), in which case the most informative line
/// of that output ([`from_output`]) or, without one, the header itself.
pub fn cause_line(message: &str) -> String {
    let mut lines = message.lines().skip_while(|l| l.trim().is_empty());
    let Some(first) = lines.next() else {
        return String::new();
    };
    let first = first.trim();
    let Some(header) = first.strip_suffix(':') else {
        return clip(first);
    };
    let rest: Vec<&str> = lines.collect();
    from_output(&rest).unwrap_or_else(|| {
        clip(
            header
                .trim_end_matches("; last output")
                .trim_end_matches("; last log lines"),
        )
    })
}

/// `line` cut to [`CAUSE_MAX_CHARS`] characters.
fn clip(line: &str) -> String {
    if line.chars().count() <= CAUSE_MAX_CHARS {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(CAUSE_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_traceback_gives_its_exception_line() {
        let out = [
            "Traceback (most recent call last):",
            "  File \"run.py\", line 3, in <module>",
            "    main()",
            "  File \"run.py\", line 2, in main",
            "    raise ValueError(\"Unknown parameter 'bogus'\")",
            "ValueError: Unknown parameter 'bogus'",
        ];
        assert_eq!(
            from_output(&out).as_deref(),
            Some("ValueError: Unknown parameter 'bogus'")
        );
    }

    #[test]
    fn rust_panic_gives_its_message() {
        let new = [
            "thread 'main' panicked at src/main.rs:2:5:",
            "index out of bounds: the len is 3 but the index is 5",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        ];
        assert_eq!(
            from_output(&new).as_deref(),
            Some("index out of bounds: the len is 3 but the index is 5")
        );
        let old = ["thread 'main' panicked at 'boom', src/main.rs:2:5"];
        assert!(from_output(&old).unwrap().contains("'boom'"));
    }

    #[test]
    fn headers_are_never_the_cause() {
        let legacy = "command exited with status 1; last output:\nTraceback (most recent call last):\n  File \"x\"\nKeyError: 'a'";
        assert_eq!(cause_line(legacy), "KeyError: 'a'");
        assert_eq!(
            cause_line("worker panicked:\nthread 'w' panicked at a.rs:1:1:\nboom"),
            "boom"
        );
        assert_eq!(
            cause_line("command exited with status 3; last output:"),
            "command exited with status 3"
        );
        assert_eq!(
            cause_line("\nexceeded --timeout 2s\nmore"),
            "exceeded --timeout 2s"
        );
        assert_eq!(cause_line(""), "");
        assert_eq!(
            cause_line(&"x".repeat(500)).chars().count(),
            CAUSE_MAX_CHARS
        );
    }
}
