//! The Problems section: every task that did not succeed, grouped by verdict
//! and cause as the summary and `status` group them ([`crate::report::problems`]),
//! each group with all its task ids and one example's whole message and log.

use isobatch_shared::Verdict;

use super::batch::Batch;
use super::esc;
use crate::layout;
use crate::report::problems;

/// Lines of an example message shown under its group.
const EXAMPLE_LINES: usize = 30;

/// The Problems section.
pub fn render(batch: &Batch) -> String {
    let failing: Vec<(&str, Verdict, &str)> = batch
        .tasks
        .iter()
        .filter(|(_, t)| !t.running)
        .filter_map(|(id, t)| Some((id.as_str(), t.verdict?, t.message.as_str())))
        .filter(|(_, v, _)| !v.is_complete() && *v != Verdict::Missing)
        .collect();
    if failing.is_empty() {
        return super::section("problems", "Problems", "<p>Every task succeeded.</p>");
    }
    let mut body = String::new();
    for g in problems::group(failing.iter().copied()) {
        body.push_str(&format!("<div><p><b>{}</b></p>", esc(&g.to_string())));
        if g.tasks.len() > problems::IDS_SHOWN {
            body.push_str(&format!(
                "<details><summary>all {} tasks</summary><p>{}</p></details>",
                g.tasks.len(),
                esc(&g.tasks.join(", "))
            ));
        }
        let example = g
            .tasks
            .first()
            .and_then(|id| batch.tasks.get(id).map(|t| (id, t)));
        if let Some((id, t)) = example {
            let lines: Vec<&str> = t.message.lines().take(EXAMPLE_LINES).collect();
            let log = layout::attempt_log(&batch.output, id, t.attempts);
            body.push_str(&format!(
                "<details><summary>{}, attempt {}: message and log</summary><pre>{}</pre>\
                 <p>log: <code>{}</code></p></details>",
                esc(id),
                t.attempts,
                esc(&lines.join("\n")),
                esc(&log.display().to_string())
            ));
        }
        body.push_str("</div>");
    }
    super::section("problems", "Problems", &body)
}
