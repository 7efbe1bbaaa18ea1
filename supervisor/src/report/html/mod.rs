//! `report.html`: one self-contained page (inline CSS, SVG charts drawn by
//! plotters, PNG images as data URIs, no script, no external fetch — its
//! Content-Security-Policy forbids them) that shows what a batch did. One file
//! per panel; [`batch`] reads the output folder, [`render`] puts the panels together.

pub mod batch;
mod chart;
mod frames;
mod problems;
mod provenance;
mod qc;
mod resources;
mod tasks;
mod timeline;
mod traces;

use std::fmt::Write;

pub use batch::{Batch, ReportError, load};
pub use provenance::state as provenance_state;

/// The page's style: readable without any external font or sheet.
const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1200px}\
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}\
h3{font-size:1em}table{border-collapse:collapse;font-size:.9em}\
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}\
.warn{background:#fff4d6;border:1px solid #e0b040;padding:.5em}\
.live{background:#dcecff;border:1px solid #5a8fd0;padding:.5em}\
.sw{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 .8em;vertical-align:middle}\
.frames{display:flex;gap:8px;flex-wrap:wrap}.frame{position:relative}\
.frame img,.frame svg.outline{position:absolute;left:0;top:0;image-rendering:pixelated}\
.fov{border:1px solid #ddd;padding:.5em;margin:.8em 0}code{font-size:.9em}\
.msg{max-width:40em;overflow-wrap:anywhere}";

/// The whole page for `batch`.
pub fn render(batch: &Batch) -> String {
    let mut page = String::with_capacity(64 << 10);
    let title = format!("isobatch report: {}", batch.output.display());
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         img-src data:; style-src 'unsafe-inline'\">\
         <link rel=\"icon\" href=\"data:,\"><title>{}</title><style>{STYLE}</style></head><body>\
         <h1>{}</h1>",
        esc(&title),
        esc(&title)
    );
    page.push_str(&provenance::render(batch));
    page.push_str(&timeline::render(batch));
    page.push_str(&problems::render(batch));
    page.push_str(&resources::render(batch));
    page.push_str(&qc::render(batch));
    page.push_str(&tasks::render(batch));
    page.push_str("</body></html>\n");
    page
}

/// `text` with the characters HTML gives meaning to escaped.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `<h2 id=ID>TITLE</h2>` followed by `body`.
fn section(id: &str, title: &str, body: &str) -> String {
    format!(
        "<section id=\"{id}\"><h2>{}</h2>{body}</section>\n",
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
