//! Every task in one table: latest verdict, attempts, time, peak memory, QC
//! warnings and the message, with a link to its latest attempt log.

use std::time::Duration;

use isobatch_shared::qc_warnings;
use isobatch_shared::units::{format_bytes, format_duration};

use super::batch::Batch;
use super::esc;

/// Characters of a message shown in the table (the log has the rest).
const MESSAGE_CHARS: usize = 300;

/// The Tasks section.
pub fn render(batch: &Batch) -> String {
    let mut body = String::from(
        "<table><tr><th>task</th><th>verdict</th><th>attempts</th><th>duration</th>\
         <th>peak memory</th><th>message, QC warnings</th></tr>",
    );
    for (id, t) in &batch.tasks {
        let verdict = match t.verdict {
            Some(v) if !t.running => v.as_str(),
            _ => batch.running_label(),
        };
        let mut message: String = t.message.chars().take(MESSAGE_CHARS).collect();
        if message.len() < t.message.len() {
            message.push('…');
        }
        let warnings = qc_warnings(&t.stages).join("; ");
        let text = [message, warnings]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" — ");
        body.push_str(&format!(
            "<tr><td>{}</td><td>{verdict}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"msg\">{}</td></tr>",
            esc(id),
            t.attempts,
            if t.attempts > 0 {
                format_duration(Duration::from_secs_f64(t.duration_s.max(0.0)))
            } else {
                String::new()
            },
            if t.peak_rss_bytes > 0 {
                format_bytes(t.peak_rss_bytes)
            } else {
                String::new()
            },
            esc(&text)
        ));
    }
    body.push_str("</table>");
    super::section("tasks", "Tasks", &body)
}
