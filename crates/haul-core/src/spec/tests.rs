use super::*;
use crate::catalog::Column;
use serde_json::json;

fn catalog() -> Catalog {
    let col = |n: &str, t: &str| Column {
        name: n.into(),
        type_name: t.into(),
    };
    Catalog::new([Dataset {
        name: "events".into(),
        relation: "\"public\".\"events\"".into(),
        table_columns: vec![
            col("id", "bigint"),
            col("kind", "text"),
            col("secret", "text"),
        ],
        columns: vec!["id".into(), "kind".into()],
        key: vec!["id".into()],
        filterable: vec!["kind".into()],
        tenant_column: None,
        key_has_max: true,
    }])
}

fn parse(body: serde_json::Value) -> Result<ExportSpec, SpecError> {
    let req: ExportRequest = serde_json::from_value(body).unwrap();
    ExportSpec::from_request(&req, &catalog(), &Signer::new("s".repeat(32)), "acme", "ID")
}

#[test]
fn defaults() {
    let spec = parse(json!({"dataset": "events"})).unwrap();
    assert_eq!(spec.format, Format::Csv);
    assert_eq!(spec.columns, ["id", "kind"]);
    assert_eq!(spec.filename, "events-ID.csv");
    assert!(spec.header);
    assert_eq!(spec.timezone, "UTC");
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (json!({"dataset": "nope"}), "dataset-not-found", "nope"),
        (
            json!({"dataset": "events", "columns": ["secret"]}),
            "column-not-found",
            "secret",
        ),
        (
            json!({"dataset": "events", "format": "xml"}),
            "format-not-supported",
            "xml",
        ),
        (
            json!({"dataset": "events", "filter": {"id": {"eq": 1}}}),
            "column-not-filterable",
            "filter.id",
        ),
        (
            json!({"dataset": "events", "filter": {"kind": {"like": "a"}}}),
            "unknown-filter-operator",
            "filter.kind.like",
        ),
        (
            json!({"dataset": "events", "filter": {"kind": {"in": "a"}}}),
            "invalid-filter-value",
            "filter.kind.in",
        ),
        (
            json!({"dataset": "events", "since": "abc"}),
            "invalid-since",
            "since",
        ),
        (
            json!({"dataset": "events", "filename": "../x"}),
            "invalid-filename",
            "filename",
        ),
        (
            json!({"dataset": "events", "timezone": "UTC'; drop"}),
            "invalid-timezone",
            "timezone",
        ),
    ];
    for (body, code, needle) in cases {
        let e = parse(body.clone()).unwrap_err();
        assert_eq!(e.code, code, "{body}");
        assert!(e.detail.contains(needle), "{} lacks {needle}", e.detail);
    }
}

#[test]
fn unknown_fields_are_rejected() {
    let r = serde_json::from_value::<ExportRequest>(json!({"dataset": "events", "colums": []}));
    assert!(r.unwrap_err().to_string().contains("colums"));
}

#[test]
fn filters_keep_values_as_text() {
    let spec =
        parse(json!({"dataset": "events", "filter": {"kind": {"in": ["a", 2], "ne": true}}}))
            .unwrap();
    assert_eq!(
        spec.filters,
        vec![
            Filter::In {
                column: "kind".into(),
                values: vec!["a".into(), "2".into()]
            },
            Filter::Compare {
                column: "kind".into(),
                op: FilterOp::Ne,
                value: "true".into()
            },
        ]
    );
}
