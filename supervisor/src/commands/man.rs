//! `isobatch man [--out DIR]`: the manual pages, generated from the
//! command-line definition (clap_mangen): `isobatch.1` on stdout, or with
//! `--out` one page per command (`isobatch.1`, `isobatch-run.1`, ...) in DIR.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{EXIT_OK, Error};

/// Prints or writes the man pages.
pub fn run(args: ManArgs) -> Result<i32, Error> {
    let cmd = Cli::command();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            clap_mangen::generate_to(cmd, &dir).map_err(|e| Error::io(&dir, e))?;
            eprintln!("isobatch: man pages written to {}", dir.display());
        }
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| Error::Internal(e.into()))?;
            write_stdout(&buf)?;
        }
    }
    Ok(EXIT_OK)
}

/// Writes generated text to stdout; a closed stdout (`| head`) is not an error.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Internal(e.into())),
        _ => Ok(()),
    }
}
