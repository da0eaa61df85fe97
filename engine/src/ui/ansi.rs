//! Terminal output → HTML, for log lines: SGR colours and attributes (16, 256 and 24-bit
//! colours, bold, dim, italic, underline, inverse), carriage returns and backspaces (a progress
//! line shows what a terminal would end with), cursor moves along the line, erase-in-line, and
//! `http(s)://` URLs turned into links.
//!
//! Everything the line contains is escaped: the only markup in the output is what this file
//! writes (spans with fixed class names or a `color:#rrggbb` style computed from numbers, and
//! links whose `href` is an escaped `http(s)` URL). It must not read files or know about steps.

use std::fmt::Write as _;

/// The HTML of one log line (without the line's own container).
pub fn line_to_html(line: &str) -> String {
    let cells = Screen::run(line);
    let text: Vec<char> = cells.iter().map(|cell| cell.0).collect();
    let links = find_urls(&text);
    render(&cells, &links)
}

/// The visible text of one log line: what `line_to_html` shows, without markup (for search
/// results and titles).
pub fn line_to_text(line: &str) -> String {
    Screen::run(line).iter().map(|cell| cell.0).collect()
}

/// One colour: an index into the 16 named colours (themed by CSS) or an exact RGB value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    Named(u8),
    Rgb(u8, u8, u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Style {
    fg: Option<Colour>,
    bg: Option<Colour>,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    inverse: bool,
}

/// A one-line terminal: cells written at a cursor.
struct Screen {
    cells: Vec<(char, Style)>,
    cursor: usize,
    style: Style,
}

/// A line longer than this many cells is not grown further by cursor moves (a hostile
/// `ESC[999999C` must not allocate megabytes).
const MAX_CURSOR: usize = 64 * 1024;

impl Screen {
    fn run(line: &str) -> Vec<(char, Style)> {
        let mut screen = Screen {
            cells: Vec::with_capacity(line.len()),
            cursor: 0,
            style: Style::default(),
        };
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\u{1b}' => match chars.peek() {
                    Some('[') => {
                        chars.next();
                        let mut params = String::new();
                        let mut last = None;
                        for c in chars.by_ref() {
                            if ('\u{40}'..='\u{7e}').contains(&c) {
                                last = Some(c);
                                break;
                            }
                            params.push(c);
                        }
                        if let Some(command) = last {
                            screen.csi(&params, command);
                        }
                    }
                    Some(']') => {
                        // OSC (titles, hyperlinks): skipped up to BEL or ESC \.
                        chars.next();
                        while let Some(c) = chars.next() {
                            if c == '\u{7}' {
                                break;
                            }
                            if c == '\u{1b}' {
                                if chars.peek() == Some(&'\\') {
                                    chars.next();
                                }
                                break;
                            }
                        }
                    }
                    Some(_) => {
                        chars.next();
                    }
                    None => {}
                },
                '\r' => screen.cursor = 0,
                '\u{8}' => screen.cursor = screen.cursor.saturating_sub(1),
                '\t' => {
                    let next = (screen.cursor / 8 + 1) * 8;
                    while screen.cursor < next {
                        screen.put(' ');
                    }
                }
                c if c.is_control() => {}
                c => screen.put(c),
            }
        }
        screen.cells
    }

    fn put(&mut self, c: char) {
        while self.cells.len() < self.cursor {
            self.cells.push((' ', Style::default()));
        }
        if let Some(cell) = self.cells.get_mut(self.cursor) {
            *cell = (c, self.style);
        } else {
            self.cells.push((c, self.style));
        }
        self.cursor += 1;
    }

    fn csi(&mut self, params: &str, command: char) {
        let numbers: Vec<Option<u32>> = params
            .split(';')
            .map(|part| part.trim_start_matches('?').parse().ok())
            .collect();
        let first = numbers.first().copied().flatten();
        let count = first.unwrap_or(1).max(1) as usize;
        match command {
            'm' => self.sgr(&numbers),
            'K' => match first.unwrap_or(0) {
                0 => self.cells.truncate(self.cursor),
                1 => {
                    for cell in self.cells.iter_mut().take(self.cursor + 1) {
                        *cell = (' ', Style::default());
                    }
                }
                _ => {
                    for cell in self.cells.iter_mut() {
                        *cell = (' ', Style::default());
                    }
                }
            },
            'D' => self.cursor = self.cursor.saturating_sub(count),
            'C' => self.cursor = (self.cursor + count).min(MAX_CURSOR),
            'G' => self.cursor = (count - 1).min(MAX_CURSOR),
            _ => {}
        }
    }

    fn sgr(&mut self, numbers: &[Option<u32>]) {
        let mut codes = numbers.iter().map(|n| n.unwrap_or(0));
        while let Some(code) = codes.next() {
            let style = &mut self.style;
            match code {
                0 => *style = Style::default(),
                1 => style.bold = true,
                2 => style.dim = true,
                3 => style.italic = true,
                4 => style.underline = true,
                7 => style.inverse = true,
                21 | 22 => {
                    style.bold = false;
                    style.dim = false;
                }
                23 => style.italic = false,
                24 => style.underline = false,
                27 => style.inverse = false,
                30..=37 => style.fg = Some(Colour::Named((code - 30) as u8)),
                39 => style.fg = None,
                40..=47 => style.bg = Some(Colour::Named((code - 40) as u8)),
                49 => style.bg = None,
                90..=97 => style.fg = Some(Colour::Named((code - 90 + 8) as u8)),
                100..=107 => style.bg = Some(Colour::Named((code - 100 + 8) as u8)),
                38 | 48 => {
                    let colour = match codes.next() {
                        Some(5) => codes.next().map(colour_256),
                        Some(2) => {
                            let r = codes.next().unwrap_or(0).min(255) as u8;
                            let g = codes.next().unwrap_or(0).min(255) as u8;
                            let b = codes.next().unwrap_or(0).min(255) as u8;
                            Some(Colour::Rgb(r, g, b))
                        }
                        _ => None,
                    };
                    if code == 38 {
                        style.fg = colour;
                    } else {
                        style.bg = colour;
                    }
                }
                _ => {}
            }
        }
    }
}

/// xterm's 256-colour palette: 16 named, a 6×6×6 cube, 24 greys.
fn colour_256(index: u32) -> Colour {
    match index {
        0..=15 => Colour::Named(index as u8),
        16..=231 => {
            let i = index - 16;
            let level = |v: u32| if v == 0 { 0 } else { (55 + v * 40) as u8 };
            Colour::Rgb(level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        _ => {
            let grey = (8 + (index.min(255) - 232) * 10) as u8;
            Colour::Rgb(grey, grey, grey)
        }
    }
}

/// Character ranges `[start, end)` of the `http://` and `https://` URLs in `text`.
fn find_urls(text: &[char]) -> Vec<(usize, usize)> {
    let mut links = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let scheme = if starts_with(rest, "https://") {
            8
        } else if starts_with(rest, "http://") {
            7
        } else {
            0
        };
        let boundary = i == 0 || !text[i - 1].is_alphanumeric();
        if scheme == 0 || !boundary {
            i += 1;
            continue;
        }
        let mut end = i + scheme;
        while end < text.len() && !text[end].is_whitespace() && !"<>\"'`".contains(text[end]) {
            end += 1;
        }
        while end > i + scheme && ".,;:!?)]}".contains(text[end - 1]) {
            end -= 1;
        }
        if end > i + scheme {
            links.push((i, end));
        }
        i = end.max(i + 1);
    }
    links
}

fn starts_with(text: &[char], prefix: &str) -> bool {
    let mut chars = text.iter();
    prefix
        .chars()
        .all(|p| chars.next().is_some_and(|c| c.eq_ignore_ascii_case(&p)))
}

fn render(cells: &[(char, Style)], links: &[(usize, usize)]) -> String {
    let mut html = String::with_capacity(cells.len() + 16);
    let mut open_style: Option<Style> = None;
    let mut open_link: Option<usize> = None;
    for (index, (c, style)) in cells.iter().enumerate() {
        let link = links
            .iter()
            .position(|(start, end)| (*start..*end).contains(&index));
        if link != open_link || open_style != Some(*style) {
            if open_style.is_some_and(|open| open != Style::default()) {
                html.push_str("</span>");
            }
            if link != open_link {
                if open_link.is_some() {
                    html.push_str("</a>");
                }
                if let Some(link) = link {
                    let (start, end) = links[link];
                    let url: String = cells[start..end].iter().map(|cell| cell.0).collect();
                    html.push_str("<a href=\"");
                    escape_into(&mut html, &url);
                    html.push_str("\" rel=\"noopener noreferrer nofollow\">");
                }
                open_link = link;
            }
            if *style != Style::default() {
                open_span(&mut html, style);
            }
            open_style = Some(*style);
        }
        escape_char(&mut html, *c);
    }
    if open_style.is_some_and(|open| open != Style::default()) {
        html.push_str("</span>");
    }
    if open_link.is_some() {
        html.push_str("</a>");
    }
    html
}

fn open_span(html: &mut String, style: &Style) {
    let (fg, bg) = if style.inverse {
        (
            style.bg.or(Some(Colour::Named(0))),
            style.fg.or(Some(Colour::Named(7))),
        )
    } else {
        (style.fg, style.bg)
    };
    let mut classes = Vec::new();
    let mut inline = String::new();
    match fg {
        Some(Colour::Named(n)) => classes.push(format!("f{n}")),
        Some(Colour::Rgb(r, g, b)) => {
            let _ = write!(inline, "color:#{r:02x}{g:02x}{b:02x};");
        }
        None => {}
    }
    match bg {
        Some(Colour::Named(n)) => classes.push(format!("b{n}")),
        Some(Colour::Rgb(r, g, b)) => {
            let _ = write!(inline, "background:#{r:02x}{g:02x}{b:02x};");
        }
        None => {}
    }
    for (on, class) in [
        (style.bold, "ab"),
        (style.dim, "ad"),
        (style.italic, "ai"),
        (style.underline, "au"),
    ] {
        if on {
            classes.push(class.to_string());
        }
    }
    html.push_str("<span");
    if !classes.is_empty() {
        let _ = write!(html, " class=\"{}\"", classes.join(" "));
    }
    if !inline.is_empty() {
        let _ = write!(html, " style=\"{inline}\"");
    }
    html.push('>');
}

/// Escapes `text` for HTML text and attribute values.
pub fn escape_into(html: &mut String, text: &str) {
    for c in text.chars() {
        escape_char(html, c);
    }
}

fn escape_char(html: &mut String, c: char) {
    match c {
        '&' => html.push_str("&amp;"),
        '<' => html.push_str("&lt;"),
        '>' => html.push_str("&gt;"),
        '"' => html.push_str("&quot;"),
        '\'' => html.push_str("&#39;"),
        c => html.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(line_to_html(input), expected, "input: {input:?}");
    }

    #[test]
    fn plain_text_is_escaped() {
        check(
            "a < b && c > \"d\" 'e'",
            "a &lt; b &amp;&amp; c &gt; &quot;d&quot; &#39;e&#39;",
        );
        check(
            "<script>alert(1)</script>",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
        );
    }

    #[test]
    fn sgr_colours_and_attributes() {
        check(
            "\u{1b}[31merror\u{1b}[0m done",
            "<span class=\"f1\">error</span> done",
        );
        check("\u{1b}[1;92mok", "<span class=\"f10 ab\">ok</span>");
        check(
            "\u{1b}[38;5;196mx",
            "<span style=\"color:#ff0000;\">x</span>",
        );
        check(
            "\u{1b}[38;2;1;2;3mx\u{1b}[39my",
            "<span style=\"color:#010203;\">x</span>y",
        );
        check(
            "\u{1b}[44;4mu\u{1b}[24mv",
            "<span class=\"b4 au\">u</span><span class=\"b4\">v</span>",
        );
        check("\u{1b}[7mi", "<span class=\"f0 b7\">i</span>");
    }

    #[test]
    fn carriage_returns_keep_what_a_terminal_shows() {
        check("10%\r20%\r30%", "30%");
        check("downloading\r\u{1b}[Kdone", "done");
        check("abcdef\rXY", "XYcdef");
        check("abc\u{1b}[2D\u{1b}[K!", "a!");
        check("abc\u{8}\u{8}Z", "aZc");
        check("progress\u{1b}[2Knew", "        new");
        check("a\u{1b}[5Gb", "a   b");
    }

    #[test]
    fn unknown_and_osc_sequences_are_dropped() {
        check("\u{1b}]0;title\u{7}text", "text");
        check("\u{1b}[?25lhidden cursor\u{1b}[?25h", "hidden cursor");
        check("bell\u{7}", "bell");
        check("\u{1b}[99999999Cx", &format!("{}x", " ".repeat(MAX_CURSOR)));
    }

    #[test]
    fn urls_are_linked_and_escaped() {
        check(
            "see https://example.com/a?b=1&c=2.",
            "see <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"noopener noreferrer nofollow\">https://example.com/a?b=1&amp;c=2</a>.",
        );
        check(
            "\u{1b}[32mhttp://x.io\u{1b}[0m",
            "<a href=\"http://x.io\" rel=\"noopener noreferrer nofollow\"><span class=\"f2\">http://x.io</span></a>",
        );
        check(
            "javascript:alert(1) nothttp://x",
            "javascript:alert(1) nothttp://x",
        );
        check("https://\"><script>", "https://&quot;&gt;&lt;script&gt;");
    }

    #[test]
    fn text_without_markup() {
        assert_eq!(
            line_to_text("\u{1b}[31mred\u{1b}[0m\r\u{1b}[Kgreen"),
            "green"
        );
    }
}
