//! Datasets checked against the live database before Haul serves or works:
//! the relation exists, its key columns exist, are NOT NULL and are covered
//! by a unique index, and every listed column exists.

use super::sql;
use anyhow::{Context, bail};
use haul_core::{Catalog, Column, Dataset, config::DatasetConfig};
use std::collections::BTreeMap;
use tokio_postgres::Client;

struct TableColumn {
    column: Column,
    attnum: i16,
    not_null: bool,
    /// `max()` takes the column's type as it is (a domain or an enum does
    /// not match exactly), so a single-column key of it can bound pages
    /// with `max()`.
    has_max: bool,
}

pub async fn resolve_catalog(
    client: &Client,
    configs: &BTreeMap<String, DatasetConfig>,
) -> anyhow::Result<Catalog> {
    let mut datasets = Vec::new();
    for (name, cfg) in configs {
        let ds = resolve_one(client, name, cfg)
            .await
            .with_context(|| format!("dataset `{name}` (table `{}`)", cfg.table))?;
        datasets.push(ds);
    }
    Ok(Catalog::new(datasets))
}

async fn resolve_one(client: &Client, name: &str, cfg: &DatasetConfig) -> anyhow::Result<Dataset> {
    let rel = client
        .query_opt(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.oid = to_regclass($1)",
            &[&cfg.table],
        )
        .await?;
    let Some(rel) = rel else {
        bail!(
            "table or view `{}` does not exist (or is not visible to the source user)",
            cfg.table
        );
    };
    let oid: u32 = rel.get(0);
    let (schema, table, relkind): (String, String, String) = (rel.get(1), rel.get(2), rel.get(3));
    let columns: Vec<TableColumn> = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod), attnum, attnotnull,
                    to_regprocedure(format('pg_catalog.max(%s)', format_type(atttypid, NULL))) IS NOT NULL
               FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&oid],
        )
        .await?
        .into_iter()
        .map(|r| TableColumn {
            column: Column {
                name: r.get(0),
                type_name: r.get(1),
            },
            attnum: r.get(2),
            not_null: r.get(3),
            has_max: r.get(4),
        })
        .collect();
    let find = |n: &str, what: &str| {
        columns
            .iter()
            .find(|c| c.column.name == n)
            .with_context(|| format!("{what} column `{n}` does not exist"))
    };
    let mut key_attnums = Vec::new();
    for k in &cfg.key {
        let col = find(k, "key")?;
        // Tables only: a view's columns carry no NOT NULL or index information.
        if relkind != "v" && !col.not_null {
            bail!("key column `{k}` is nullable; keyset pagination needs NOT NULL keys");
        }
        key_attnums.push(col.attnum);
    }
    if relkind != "v" {
        check_unique_index(client, oid, &key_attnums, &cfg.key).await?;
    }
    let key_has_max = match cfg.key.as_slice() {
        [k] => find(k, "key")?.has_max,
        _ => false,
    };
    let exported = match &cfg.columns {
        Some(list) => {
            for c in list {
                find(c, "listed")?;
            }
            list.clone()
        }
        None => columns.iter().map(|c| c.column.name.clone()).collect(),
    };
    for f in &cfg.filterable {
        find(f, "filterable")?;
    }
    if let Some(t) = &cfg.tenant_column {
        find(t, "tenant")?;
    }
    Ok(Dataset {
        name: name.to_string(),
        relation: sql::relation(&schema, &table),
        table_columns: columns.into_iter().map(|c| c.column).collect(),
        columns: exported,
        key: cfg.key.clone(),
        filterable: cfg.filterable.clone(),
        tenant_column: cfg.tenant_column.clone(),
        key_has_max,
    })
}

/// Some valid, non-partial unique index must use only key columns: then no
/// two rows share a key, and keyset pages can neither skip nor repeat rows.
async fn check_unique_index(
    client: &Client,
    oid: u32,
    key_attnums: &[i16],
    key: &[String],
) -> anyhow::Result<()> {
    let covered: bool = client
        .query_one(
            "SELECT EXISTS (
                SELECT 1 FROM pg_index i
                 WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
                   AND i.indexprs IS NULL AND (i.indkey::int2[])::int2[] <@ $2::int2[])",
            &[&oid, &key_attnums],
        )
        .await?
        .get(0);
    if !covered {
        bail!(
            "key ({}) is not covered by a primary key or unique index; add one so that keys are unique",
            key.join(", ")
        );
    }
    Ok(())
}
