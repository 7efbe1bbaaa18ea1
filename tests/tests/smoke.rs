//! The smallest end-to-end check: a batch of done tasks exits 0 with a summary.
mod common;
use common::*;

#[test]
fn a_clean_batch_is_done() {
    let b = Batch::new();
    b.task("a", "output=100\n").task("b", "sleep=0.05\n");
    let out = b.run(&["--workers", "2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        b.verdicts(),
        vec![("a".into(), "done".into()), ("b".into(), "done".into())]
    );
    assert_eq!(read_all(&b.out().join("a/output.bin")).len(), 100);
}
