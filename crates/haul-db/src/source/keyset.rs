//! The SQL of keyset pagination.
//!
//! A page is found in two steps, each one index range scan and neither using
//! OFFSET or a cursor held across pages:
//! 1. `bound`: the keys of the next `limit` rows after the cursor, of which
//!    only the count and the last key come back;
//! 2. `copy`: `COPY (SELECT … WHERE key > cursor AND key <= last ORDER BY key)`,
//!    whose output is PostgreSQL's own CSV, text or `row_to_json`.
//!
//! Every row is also capped at the high-water key recorded when the export
//! first started, so a retried or resumed export reads the same rows.

use super::sql::{ident, literal, typed_literal};
use haul_core::{Dataset, ExportSpec, Filter, Format};

/// Alias of the relation in every query, so that column references stay
/// unambiguous next to the `row_to_json` subquery.
const REL: &str = "s";

pub struct PageQuery<'a> {
    ds: &'a Dataset,
    spec: &'a ExportSpec,
    tenant: &'a str,
}

impl<'a> PageQuery<'a> {
    pub fn new(ds: &'a Dataset, spec: &'a ExportSpec, tenant: &'a str) -> Self {
        Self { ds, spec, tenant }
    }

    fn col(&self, name: &str) -> String {
        format!("{REL}.{}", ident(name))
    }

    fn type_of(&self, name: &str) -> &str {
        &self
            .ds
            .column(name)
            .expect("spec columns were checked against the catalog")
            .type_name
    }

    /// `(s."k1", s."k2")`
    fn key_tuple(&self) -> String {
        let cols: Vec<String> = self.ds.key.iter().map(|k| self.col(k)).collect();
        format!("({})", cols.join(", "))
    }

    /// `('v1'::t1, 'v2'::t2)`
    fn key_literal(&self, values: &[String]) -> String {
        assert_eq!(
            values.len(),
            self.ds.key.len(),
            "cursor arity matches the key"
        );
        let lits: Vec<String> = self
            .ds
            .key
            .iter()
            .zip(values)
            .map(|(k, v)| typed_literal(v, self.type_of(k)))
            .collect();
        format!("({})", lits.join(", "))
    }

    fn order_by(&self, desc: bool) -> String {
        let dir = if desc { " DESC" } else { "" };
        let cols: Vec<String> = self
            .ds
            .key
            .iter()
            .map(|k| format!("{}{dir}", self.col(k)))
            .collect();
        cols.join(", ")
    }

    /// The caller's tenant, when the dataset has a tenant column.
    fn tenant_scope(&self) -> Option<String> {
        let t = self.ds.tenant_column.as_ref()?;
        Some(format!("{} = {}", self.col(t), literal(self.tenant)))
    }

    /// Tenant scope and the client's filters.
    ///
    /// These values are left as untyped literals, which PostgreSQL resolves
    /// to the column's type without its modifier. A cast to the column's
    /// full type would apply `varchar(4)`, `char(3)` or `numeric(10,2)` to
    /// the value first, silently truncating or rounding it, so that `eq
    /// "abcde"` matched `abcd` and `lt "0.504"` meant `< 0.50`.
    fn scope(&self) -> Vec<String> {
        let mut conds: Vec<String> = self.tenant_scope().into_iter().collect();
        for f in &self.spec.filters {
            let c = self.col(f.column());
            conds.push(match f {
                Filter::Compare { op, value, .. } => {
                    format!("{c} {} {}", op.sql(), literal(value))
                }
                Filter::In { values, .. } => {
                    let lits: Vec<String> = values.iter().map(|v| literal(v)).collect();
                    format!("{c} IN ({})", lits.join(", "))
                }
                Filter::IsNull { is_null: true, .. } => format!("{c} IS NULL"),
                Filter::IsNull { is_null: false, .. } => format!("{c} IS NOT NULL"),
            });
        }
        conds
    }

    /// WHERE clause for rows with `after < key <= upto`, within scope.
    fn where_range(&self, after: Option<&[String]>, upto: Option<&[String]>) -> String {
        let mut conds = self.scope();
        if let Some(a) = after {
            conds.push(format!("{} > {}", self.key_tuple(), self.key_literal(a)));
        }
        match upto {
            Some(u) => conds.push(format!("{} <= {}", self.key_tuple(), self.key_literal(u))),
            None => conds.push("false".into()),
        }
        conds.join(" AND ")
    }

    fn key_as_text(&self, alias: &str) -> String {
        let cols: Vec<String> = self
            .ds
            .key
            .iter()
            .map(|k| format!("{alias}.{}::text", ident(k)))
            .collect();
        cols.join(", ")
    }

    /// The key of the last row in scope now (within the tenant, ignoring
    /// filters): the export never reads past it.
    pub fn high_water(&self) -> String {
        let filter = match self.tenant_scope() {
            Some(tenant) => format!(" WHERE {tenant}"),
            None => String::new(),
        };
        format!(
            "SELECT {} FROM {} AS {REL}{filter} ORDER BY {} LIMIT 1",
            self.key_as_text(REL),
            self.ds.relation,
            self.order_by(true)
        )
    }

    /// The planner's estimate of the rows the export will hold.
    pub fn estimate(&self, after: Option<&[String]>, upto: Option<&[String]>) -> String {
        format!(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM {} AS {REL} WHERE {}",
            self.ds.relation,
            self.where_range(after, upto)
        )
    }

    /// Count and last key of the next page of at most `limit` rows; no row
    /// when the page is empty.
    ///
    /// The page's keys are read from the index and folded as they stream:
    /// with `max()` in one pass, otherwise in two (a count, then a top-1
    /// sort). A window `count(*) OVER ()` would store and sort every key of
    /// the page, which costs several times the index scan itself.
    pub fn bound(&self, after: Option<&[String]>, upto: &[String], limit: u32) -> String {
        let keys: Vec<String> = self.ds.key.iter().map(|k| self.col(k)).collect();
        let page = format!(
            "SELECT {} FROM {} AS {REL} WHERE {} ORDER BY {} LIMIT {limit}",
            keys.join(", "),
            self.ds.relation,
            self.where_range(after, Some(upto)),
            self.order_by(false),
        );
        if self.ds.key_has_max {
            let key = ident(&self.ds.key[0]);
            return format!(
                "SELECT count(*), max(p.{key})::text FROM ({page}) AS p HAVING count(*) > 0"
            );
        }
        let desc: Vec<String> = self
            .ds
            .key
            .iter()
            .map(|k| format!("l.{} DESC", ident(k)))
            .collect();
        format!(
            "SELECT (SELECT count(*) FROM ({page}) AS c), {} \
             FROM (SELECT * FROM ({page}) AS l ORDER BY {} LIMIT 1) AS p",
            self.key_as_text("p"),
            desc.join(", "),
        )
    }

    /// The page's rows as COPY output. `through: None` selects no rows, which
    /// is how an empty export still gets its header line.
    pub fn copy(
        &self,
        after: Option<&[String]>,
        through: Option<&[String]>,
        header: bool,
    ) -> String {
        let cols: Vec<String> = self.spec.columns.iter().map(|c| self.col(c)).collect();
        let range = self.where_range(after, through);
        let order = self.order_by(false);
        let rel = &self.ds.relation;
        let select = match self.spec.format {
            Format::Csv | Format::Tsv => format!(
                "SELECT {} FROM {rel} AS {REL} WHERE {range} ORDER BY {order}",
                cols.join(", ")
            ),
            // `t.*`, not `t`: a bare `t` would mean a table column named
            // `t` if there is one, and `t.*` can only be the row.
            Format::Ndjson | Format::Json => format!(
                "SELECT row_to_json(t.*) FROM {rel} AS {REL} CROSS JOIN LATERAL (SELECT {}) AS t WHERE {range} ORDER BY {order}",
                cols.join(", ")
            ),
        };
        let options = match (self.spec.format, header) {
            (Format::Csv, true) => "FORMAT csv, HEADER",
            (Format::Csv, false) => "FORMAT csv",
            (Format::Tsv, true) => "FORMAT text, HEADER",
            (Format::Tsv, false) | (Format::Ndjson | Format::Json, _) => "FORMAT text",
        };
        format!("COPY ({select}) TO STDOUT ({options})")
    }
}

#[cfg(test)]
mod tests;
