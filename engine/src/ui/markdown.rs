//! `$GITHUB_STEP_SUMMARY` Markdown → HTML that is safe to show: raw HTML in the Markdown is shown
//! as text (escaped), and link and image targets other than `http(s)`, `mailto` and same-site
//! paths become `#`. Pure.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

/// Renders `markdown` (GitHub-flavoured tables, strikethrough, task lists) to sanitised HTML.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let allowed = lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || lower.starts_with('#')
        || (lower.starts_with('/') && !lower.starts_with("//"));
    if allowed { url } else { CowStr::Borrowed("#") }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders_and_raw_html_is_escaped() {
        let html = render(
            "# Results\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>\n\n**ok** <b onclick=x>bold</b>",
        );
        assert!(html.contains("<h1>Results</h1>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<strong>ok</strong>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b onclick"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn unsafe_link_targets_are_dropped() {
        let html = render(
            "[x](javascript:alert(1)) [y](https://example.com) ![i](data:image/png;base64,AA)",
        );
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
    }
}
