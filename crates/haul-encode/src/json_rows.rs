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

    /// Feeds `input` to a framer in pieces cut at `cuts` (indexes into it).
    fn feed_cut(f: &mut JsonFramer, input: &[u8], cuts: &[prop::sample::Index], out: &mut Vec<u8>) {
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        at.push(input.len());
        at.sort_unstable();
        let mut start = 0;
        for end in at {
            f.feed(&input[start..end], out);
            start = end;
        }
    }

    /// Any JSON a `json`/`jsonb` column or `row_to_json` can print: strings
    /// with every character (control characters, quotes, backslashes,
    /// non-BMP), nested arrays and objects. Floats are left out because
    /// serde_json's own parser does not promise to round-trip them.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A row as PostgreSQL may print it: an object whose text holds raw
    /// newlines, CRLFs and tabs between tokens (a `json` column keeps its
    /// input's whitespace), escaped for COPY's text format.
    fn copy_rows(rows: &[serde_json::Map<String, serde_json::Value>], crlf: bool) -> Vec<u8> {
        let mut copy = Vec::new();
        for row in rows {
            let mut text = serde_json::to_string_pretty(row).unwrap();
            if crlf {
                text = text.replace('\n', "\r\n\t");
            }
            copy.extend(copy_escape(&text));
        }
        copy
    }

    fn row_strategy() -> impl Strategy<Value = Vec<serde_json::Map<String, serde_json::Value>>> {
        proptest::collection::vec(
            proptest::collection::btree_map(any::<String>(), json_value(), 0..5)
                .prop_map(|m| m.into_iter().collect()),
            0..6,
        )
    }

    proptest! {
        /// Arbitrary rows, raw whitespace inside them and cuts anywhere
        /// (inside escapes, between CR and LF, inside UTF-8 sequences): NDJSON
        /// is one parseable line per row and JSON one array of the rows.
        #[test]
        fn any_rows_at_any_cuts_parse_back(
            rows in row_strategy(),
            crlf in any::<bool>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let copy = copy_rows(&rows, crlf);
            let want: Vec<serde_json::Value> = rows.iter().cloned().map(serde_json::Value::Object).collect();

            let mut f = JsonFramer::new(JsonLayout::Lines, 0);
            let mut lines = Vec::new();
            f.start(&mut lines);
            feed_cut(&mut f, &copy, &cuts, &mut lines);
            f.finish(&mut lines);
            prop_assert_eq!(f.rows(), rows.len() as u64);
            prop_assert!(lines.is_empty() || lines.ends_with(b"\n"));
            let text = std::str::from_utf8(&lines).unwrap();
            let parsed: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            prop_assert_eq!(&parsed, &want);

            let mut f = JsonFramer::new(JsonLayout::Array, 0);
            let mut array = Vec::new();
            f.start(&mut array);
            feed_cut(&mut f, &copy, &cuts, &mut array);
            f.finish(&mut array);
            let parsed: Vec<serde_json::Value> = serde_json::from_slice(&array).unwrap();
            prop_assert_eq!(&parsed, &want);
        }

        /// A framer restarted after `k` rows (a resumed export's next part)
        /// continues the file exactly as one framer over all rows would.
        #[test]
        fn a_resumed_framer_continues_the_same_file(
            rows in row_strategy(),
            split in any::<prop::sample::Index>(),
            array in any::<bool>(),
        ) {
            let layout = if array { JsonLayout::Array } else { JsonLayout::Lines };
            let k = split.index(rows.len() + 1);
            let whole = frame(layout, &copy_rows(&rows, false), 7);

            let mut first = JsonFramer::new(layout, 0);
            let mut out = Vec::new();
            first.start(&mut out);
            first.feed(&copy_rows(&rows[..k], false), &mut out);
            let mut second = JsonFramer::new(layout, first.rows());
            second.feed(&copy_rows(&rows[k..], false), &mut out);
            second.finish(&mut out);
            prop_assert_eq!(out, whole);
        }
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
