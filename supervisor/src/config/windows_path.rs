//! A path typed the Windows way (`C:\Users\ana\raw`, `D:/data`, `\\server\share`)
//! is, on Linux, a relative name with backslashes in it: isobatch would look
//! for (or create) a folder called `C:\Users\ana\raw` in the current folder.
//! Refuse it, and under WSL suggest the `/mnt/c/...` form of the same place.

use std::path::Path;

use super::usage;
use crate::error::Error;

/// Refuses `path` given as `flag` when it looks like a Windows path and does not
/// exist as given (a folder really named that way is taken as it is).
pub fn refuse_windows_path(flag: &str, path: &Path) -> Result<(), Error> {
    let Some(text) = path.to_str() else {
        return Ok(());
    };
    if path.exists() {
        return Ok(());
    }
    let b = text.as_bytes();
    let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':';
    if drive && (b[2] == b'\\' || b[2] == b'/') {
        let letter = char::from(b[0]).to_ascii_lowercase();
        let rest = text[3..].replace('\\', "/");
        let wsl = format!("/mnt/{letter}/{rest}");
        return Err(usage(format!(
            "{flag} {text}: this looks like a Windows path, which Linux reads as a relative name. \
             Under WSL the same place is {flag} {}",
            wsl.trim_end_matches('/')
        )));
    }
    if text.starts_with("\\\\") {
        return Err(usage(format!(
            "{flag} {text}: this looks like a Windows network path, which Linux reads as a \
             relative name. Mount the share (e.g. under /mnt) and give the mounted path"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_wsl_form() {
        let err = refuse_windows_path("--input", Path::new(r"C:\Users\ana\raw\")).unwrap_err();
        assert!(
            err.to_string().ends_with("--input /mnt/c/Users/ana/raw"),
            "{err}"
        );
        let err = refuse_windows_path("--output", Path::new("D:/data")).unwrap_err();
        assert!(err.to_string().ends_with("--output /mnt/d/data"), "{err}");
        assert!(refuse_windows_path("--input", Path::new(r"\\lab\share")).is_err());
        for fine in ["raw", "/mnt/c/raw", "a:b", "C:"] {
            assert!(
                refuse_windows_path("--input", Path::new(fine)).is_ok(),
                "{fine}"
            );
        }
    }
}
