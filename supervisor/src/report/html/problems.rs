//! The Problems section: failed and cancelled tasks, each with its cause.

use super::batch::Batch;
use super::esc;

/// The Problems section.
pub fn render(batch: &Batch) -> String {
    let mut body = String::new();
    for (id, t) in &batch.tasks {
        if let Some(v) = t.verdict.filter(|v| v.is_failure()) {
            body.push_str(&format!(
                "<li>{} {}: {}</li>",
                esc(id),
                v.as_str(),
                esc(&t.message)
            ));
        }
    }
    if body.is_empty() {
        return super::section("problems", "Problems", "<p>No task failed.</p>");
    }
    super::section("problems", "Problems", &format!("<ul>{body}</ul>"))
}
