//! The end-to-end tests live in `tests/`; this empty library only gives the package a target.
