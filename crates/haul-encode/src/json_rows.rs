//! NDJSON and JSON-array framing of `COPY (SELECT row_to_json(t) …) TO STDOUT`.
//!
//! COPY's text format prints one row per line and escapes backslashes and
//! control characters (<https://www.postgresql.org/docs/current/sql-copy.html>,
//! "Text Format"). Undoing those escapes gives back `row_to_json`'s text. A
//! raw CR or LF can then only be whitespace between JSON tokens (a `json`
//! column's value is kept verbatim, and JSON strings cannot hold raw control
//! characters), so it becomes a space: the line stays one line and parses to
//! the same value.

use memchr::memchr2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonLayout {
    /// One object per line, `\n` after every line including the last.
    Lines,
    /// One JSON array: `[`, objects separated by `,\n`, `]`.
    Array,
}

/// Streams COPY text into JSON, across arbitrary chunk boundaries.
#[derive(Clone, Debug)]
pub struct JsonFramer {
    layout: JsonLayout,
    rows: u64,
    at_line_start: bool,
    after_backslash: bool,
}

impl JsonFramer {
    /// `rows_before` is how many rows earlier parts already hold (on resume),
    /// which decides whether the next array element needs a comma.
    pub fn new(layout: JsonLayout, rows_before: u64) -> Self {
        Self {
            layout,
            rows: rows_before,
            at_line_start: true,
            after_backslash: false,
        }
    }

    /// The file's opening bytes, written once before the first part's rows.
    pub fn start(&self, out: &mut Vec<u8>) {
        if self.layout == JsonLayout::Array {
            out.push(b'[');
        }
    }

    /// The file's closing bytes, written once after the last row.
    pub fn finish(&self, out: &mut Vec<u8>) {
        if self.layout == JsonLayout::Array {
            out.extend_from_slice(if self.rows == 0 { b"]\n" } else { b"\n]\n" });
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends the JSON for `chunk` of COPY text output to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        while !chunk.is_empty() {
            if self.at_line_start {
                self.begin_row(out);
            }
            if self.after_backslash {
                self.after_backslash = false;
                out.push(unescape(chunk[0]));
                chunk = &chunk[1..];
                continue;
            }
            match memchr2(b'\\', b'\n', chunk) {
                None => {
                    out.extend_from_slice(chunk);
                    return;
                }
                Some(i) => {
                    out.extend_from_slice(&chunk[..i]);
                    if chunk[i] == b'\\' {
                        self.after_backslash = true;
                    } else {
                        self.end_row(out);
                    }
                    chunk = &chunk[i + 1..];
                }
            }
        }
    }

    fn begin_row(&mut self, out: &mut Vec<u8>) {
        self.at_line_start = false;
        if self.layout == JsonLayout::Array {
            out.extend_from_slice(if self.rows == 0 { b"\n" } else { b",\n" });
        }
    }

    fn end_row(&mut self, out: &mut Vec<u8>) {
        self.at_line_start = true;
        self.rows += 1;
        if self.layout == JsonLayout::Lines {
            out.push(b'\n');
        }
    }
}

/// The byte a COPY text escape stands for. CR and LF become spaces (see the
/// module comment); COPY TO never writes octal or hex escapes.
fn unescape(c: u8) -> u8 {
    match c {
        b'n' | b'r' => b' ',
        b't' => b'\t',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'v' => 0x0b,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// COPY text escaping, as PostgreSQL's CopyAttributeOutText does it.
    fn copy_escape(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for b in s.bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => out.push(b),
            }
        }
        out.push(b'\n');
        out
    }

    fn frame(layout: JsonLayout, input: &[u8], chunk: usize) -> Vec<u8> {
        let mut f = JsonFramer::new(layout, 0);
        let mut out = Vec::new();
        f.start(&mut out);
        for c in input.chunks(chunk.max(1)) {
            f.feed(c, &mut out);
        }
        f.finish(&mut out);
        out
    }

    #[test]
    fn empty_results_are_valid_files() {
        assert_eq!(frame(JsonLayout::Lines, b"", 1), b"");
        assert_eq!(frame(JsonLayout::Array, b"", 1), b"[]\n");
    }

    #[test]
    fn unescapes_and_flattens_whitespace() {
        let row = r#"{"a":"x\\"y","j":{"k":\n1}}"#;
        let input = format!("{row}\n");
        let out = frame(JsonLayout::Lines, input.as_bytes(), 3);
        assert_eq!(out, b"{\"a\":\"x\\\"y\",\"j\":{\"k\": 1}}\n");
    }

    proptest! {
        /// Whatever the strings and however COPY's output is chunked, the
        /// framed file parses to the original objects.
        #[test]
        fn frames_parse_back(values in proptest::collection::vec("\\PC*", 0..8), chunk in 1usize..17) {
            let objects: Vec<serde_json::Value> = values.iter().map(|v| serde_json::json!({"v": v, "n": null})).collect();
            let mut copy = Vec::new();
            for o in &objects {
                // A json column may hold raw newlines between tokens.
                let text = o.to_string().replacen(':', ":\n", 1);
                copy.extend(copy_escape(&text));
            }
            let lines = frame(JsonLayout::Lines, &copy, chunk);
            let parsed: Vec<serde_json::Value> = std::str::from_utf8(&lines).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            prop_assert_eq!(&parsed, &objects);
            let array = frame(JsonLayout::Array, &copy, chunk);
            let parsed: Vec<serde_json::Value> = serde_json::from_slice(&array).unwrap();
            prop_assert_eq!(&parsed, &objects);
        }
    }
}
