//! Datasets as checked against the live database: what may be exported,
//! ordered by which key, filtered on which columns.

use std::collections::BTreeMap;

/// A table column and PostgreSQL's name for its type (`format_type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
}

#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    /// Schema-qualified, already quoted relation name, e.g. `"public"."events"`.
    pub relation: String,
    /// Every column of the relation, in table order.
    pub table_columns: Vec<Column>,
    /// The columns exported by default, in the operator's order.
    pub columns: Vec<String>,
    pub key: Vec<String>,
    pub filterable: Vec<String>,
    pub tenant_column: Option<String>,
    /// The key is one column whose type has a `max()` aggregate, so a page's
    /// last key can be aggregated while its keys are counted.
    pub key_has_max: bool,
}

impl Dataset {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.table_columns.iter().find(|c| c.name == name)
    }

    /// The key columns with their types.
    pub fn key_columns(&self) -> Vec<&Column> {
        self.key.iter().filter_map(|k| self.column(k)).collect()
    }

    pub fn is_exported(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name)
    }

    pub fn is_filterable(&self, name: &str) -> bool {
        self.filterable.iter().any(|c| c == name)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    datasets: BTreeMap<String, Dataset>,
}

impl Catalog {
    pub fn new(datasets: impl IntoIterator<Item = Dataset>) -> Self {
        Self {
            datasets: datasets.into_iter().map(|d| (d.name.clone(), d)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Dataset> {
        self.datasets.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Dataset> {
        self.datasets.values()
    }
}
