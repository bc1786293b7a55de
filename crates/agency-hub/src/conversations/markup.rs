//! Markdown-lite for messages: paragraphs and line breaks, bold and italics, lists, inline code
//! and links (web and mail addresses only). Anything else a writer types shows as the text it
//! is: raw HTML is escaped, headings are paragraphs, images are their alternative text. The
//! parser is CommonMark's (`pulldown-cmark`); this module only decides which of its events
//! reach the page.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

/// The message as safe HTML.
pub fn to_html(source: &str) -> String {
    // Whether each open link was kept (an unsafe one drops its tags and keeps its text).
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(source, Options::empty()).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        // A message's lines are its lines.
        Event::SoftBreak => Some(Event::HardBreak),
        Event::Start(Tag::Heading { .. }) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::Heading(_)) => Some(Event::End(TagEnd::Paragraph)),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => None,
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            ..
        }) => {
            // An autolinked address (`<ana@example.com>`) is written as a mailto: link.
            let safe = link_type == LinkType::Email || safe_url(&dest_url);
            links.push(safe);
            safe.then(|| {
                Event::Start(Tag::Link {
                    link_type: if link_type == LinkType::Email {
                        LinkType::Email
                    } else {
                        LinkType::Inline
                    },
                    dest_url,
                    title: CowStr::Borrowed(""),
                    id: CowStr::Borrowed(""),
                })
            })
        }
        Event::End(TagEnd::Link) => links.pop().unwrap_or(false).then_some(event),
        other => Some(other),
    });
    let mut out = String::with_capacity(source.len() + source.len() / 2);
    html::push_html(&mut out, events);
    // Links leave the portal without telling the other site where they came from.
    out.replace("<a href=", "<a rel=\"nofollow noopener noreferrer\" href=")
}

/// The message's words without their marks (for a notification's one-line excerpt): text,
/// code and raw HTML as typed, each block and line break a space.
pub fn to_text(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for event in Parser::new_ext(source, Options::empty()) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t)
            }
            Event::SoftBreak | Event::HardBreak | Event::End(_) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Web and mail addresses only: no `javascript:`, `data:` or relative paths.
fn safe_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["https://", "http://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

#[cfg(test)]
mod tests {
    use super::{to_html, to_text};

    #[test]
    fn the_text_alone_for_excerpts() {
        assert_eq!(
            to_text(
                "Hello **there**\nsecond *line*\n\n- one\n- two\n\n[site](https://example.com) `x<y`"
            ),
            "Hello there second line one two site x<y"
        );
    }

    #[test]
    fn paragraphs_bold_lists_and_links() {
        let html =
            to_html("Hello **there**\nsecond line\n\n- one\n- two\n\n[site](https://example.com)");
        assert_eq!(
            html,
            "<p>Hello <strong>there</strong><br />\nsecond line</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<p><a rel=\"nofollow noopener noreferrer\" href=\"https://example.com\">site</a></p>\n"
        );
    }

    #[test]
    fn html_is_text_and_unsafe_links_are_plain() {
        let html = to_html("<script>alert(1)</script>\n\n[x](javascript:alert(1)) <b>b</b>");
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("href"), "{html}");
        assert!(html.contains("&lt;b&gt;b&lt;/b&gt;"), "{html}");
        assert!(!to_html("![pic](https://x.test/a.png)").contains("<img"));
        assert_eq!(to_html("# Big"), "<p>Big</p>\n");
    }

    #[test]
    fn quotes_in_addresses_stay_inside_the_attribute() {
        let html = to_html("[x](https://example.com/\"onmouseover=\"alert(1))");
        assert!(!html.contains("\"onmouseover"), "{html}");
    }
}
