//! The one place that turns names and values into SQL text.
//!
//! COPY cannot take bind parameters, so page queries carry their cursor and
//! filter values as literals. Every literal is produced here: the value is
//! quoted as a standard string literal (quotes doubled, which is the only
//! escape under `standard_conforming_strings = on`, which Haul sets on every
//! source session). Key values are cast to the column's type, so PostgreSQL's
//! own input function parses them; client filter values stay untyped and take
//! the column's type without its modifier (see `PageQuery::scope`).
//! <https://www.postgresql.org/docs/current/sql-syntax-lexical.html>

/// A quoted identifier: `"name"` with embedded quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A schema-qualified relation, each part quoted.
pub fn relation(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A string literal. NUL cannot occur in PostgreSQL text, so one here is a bug
/// upstream; it is refused rather than silently truncated.
pub fn literal(value: &str) -> String {
    assert!(
        !value.contains('\0'),
        "literal values never contain NUL (checked at the API)"
    );
    format!("'{}'", value.replace('\'', "''"))
}

/// `'value'::type`. `type_name` comes from `format_type()` on the catalog,
/// never from a client.
pub fn typed_literal(value: &str, type_name: &str) -> String {
    format!("{}::{type_name}", literal(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            relation("public", "Order Items"),
            "\"public\".\"Order Items\""
        );
        assert_eq!(literal("it's \\ fine"), "'it''s \\ fine'");
        assert_eq!(typed_literal("1", "bigint"), "'1'::bigint");
    }
}
