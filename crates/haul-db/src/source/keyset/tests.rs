use super::*;
use haul_core::{Column, Compression, FilterOp};

fn dataset() -> Dataset {
    let col = |n: &str, t: &str| Column {
        name: n.into(),
        type_name: t.into(),
    };
    Dataset {
        name: "items".into(),
        relation: "\"public\".\"items\"".into(),
        table_columns: vec![
            col("order_id", "bigint"),
            col("line", "integer"),
            col("sku", "text"),
            col("org", "text"),
        ],
        columns: vec!["order_id".into(), "line".into(), "sku".into()],
        key: vec!["order_id".into(), "line".into()],
        filterable: vec!["sku".into()],
        tenant_column: Some("org".into()),
        key_has_max: false,
    }
}

fn spec(format: Format) -> ExportSpec {
    ExportSpec {
        dataset: "items".into(),
        format,
        compression: Compression::None,
        columns: vec!["sku".into(), "line".into()],
        filters: vec![Filter::Compare {
            column: "sku".into(),
            op: FilterOp::Ne,
            value: "x'); DROP TABLE items; --".into(),
        }],
        since: None,
        header: true,
        timezone: "UTC".into(),
        filename: "f.csv".into(),
        callback_url: None,
    }
}

#[test]
fn bound_query_uses_composite_keys_and_literals() {
    let ds = dataset();
    let spec = spec(Format::Csv);
    let q = PageQuery::new(&ds, &spec, "acme");
    let sql = q.bound(
        Some(&["5".into(), "2".into()]),
        &["9".into(), "1".into()],
        100,
    );
    assert!(
        sql.contains(r#"(s."order_id", s."line") > ('5'::bigint, '2'::integer)"#),
        "{sql}"
    );
    assert!(
        sql.contains(r#"(s."order_id", s."line") <= ('9'::bigint, '1'::integer)"#),
        "{sql}"
    );
    assert!(sql.contains(r#"s."org" = 'acme' AND"#), "{sql}");
    assert!(
        sql.contains(r#"s."sku" <> 'x''); DROP TABLE items; --' AND"#),
        "{sql}"
    );
    assert!(sql.contains("LIMIT 100"));
    assert!(!sql.to_uppercase().contains("OFFSET"));
}

#[test]
fn copy_query_selects_requested_columns_in_order() {
    let ds = dataset();
    let spec = spec(Format::Csv);
    let q = PageQuery::new(&ds, &spec, "acme");
    let sql = q.copy(None, Some(&["9".into(), "1".into()]), true);
    assert!(
        sql.starts_with(r#"COPY (SELECT s."sku", s."line" FROM"#),
        "{sql}"
    );
    assert!(
        sql.ends_with(r#"ORDER BY s."order_id", s."line") TO STDOUT (FORMAT csv, HEADER)"#),
        "{sql}"
    );
    let empty = q.copy(None, None, true);
    assert!(empty.contains("AND false"), "{empty}");
}

#[test]
fn json_rows_come_from_row_to_json() {
    let ds = dataset();
    let spec = spec(Format::Ndjson);
    let sql = PageQuery::new(&ds, &spec, "acme").copy(None, Some(&["1".into(), "1".into()]), true);
    assert!(sql.contains("SELECT row_to_json(t.*) FROM"), "{sql}");
    assert!(sql.ends_with("(FORMAT text)"), "{sql}");
}

#[test]
fn bound_query_folds_keys_without_a_window() {
    let mut ds = dataset();
    let spec = spec(Format::Csv);
    let composite = PageQuery::new(&ds, &spec, "acme").bound(None, &["9".into(), "1".into()], 50);
    assert!(
        composite.starts_with("SELECT (SELECT count(*) FROM (SELECT"),
        "{composite}"
    );
    assert!(
        composite.contains(r#"ORDER BY l."order_id" DESC, l."line" DESC LIMIT 1) AS p"#),
        "{composite}"
    );
    assert!(!composite.contains("OVER"), "{composite}");

    ds.key = vec!["order_id".into()];
    ds.key_has_max = true;
    let single = PageQuery::new(&ds, &spec, "acme").bound(None, &["9".into()], 50);
    assert!(
        single.starts_with(
            r#"SELECT count(*), max(p."order_id")::text FROM (SELECT s."order_id" FROM"#
        ),
        "{single}"
    );
    assert!(
        single.ends_with("LIMIT 50) AS p HAVING count(*) > 0"),
        "{single}"
    );
}
