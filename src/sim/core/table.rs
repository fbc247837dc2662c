//! [`Table`]: the records of one kind, keyed by id, indexed by project and by parent, and
//! remembering which rows changed since the journal last looked.
//!
//! It answers the two questions that made the cloud O(world) per request: "what does this
//! project own" (lists, quotas) and "what hangs under this record" (a group's rules, a
//! network's ports and subnets), and it tells the journal which rows a request wrote
//! without anyone serializing the rest.
//!
//! Its methods have the shape of `BTreeMap`'s (`insert`, `get`, `get_mut`, `remove`,
//! `values`, `iter`, ...), so handlers read as if the table were a map. Every way of
//! borrowing a row mutably marks the row as changed, whether or not it is then changed: the
//! journal may rewrite a row for nothing, never miss one.
//!
//! The project and parent indexes are keyed by what a record cannot change in OpenStack (its
//! project, its network, its group); tags do change. Every row borrowed mutably is re-indexed
//! when the journal takes the changes, at the end of each writing request (before its
//! answer), so a list made after an answer sees the tags that request set.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a table needs to know about its records.
pub trait Record: Serialize + DeserializeOwned {
    /// The id the record is stored under.
    fn id(&self) -> &str;
    /// The project owning it ("" for none).
    fn project_id(&self) -> &str;
    /// The record it belongs to, listed through [`Table::children_of`] (a port's network,
    /// a rule's group), if the kind has one.
    fn parent_id(&self) -> Option<&str> {
        None
    }
    /// Its tags, listed through [`Table::ids_tagged`], if the kind shows tags.
    fn tags(&self) -> &[String] {
        &[]
    }
}

/// What a row is indexed under: its project, its parent and its tags.
#[derive(PartialEq, Eq)]
struct IndexKeys {
    project: String,
    parent: Option<String>,
    tags: Vec<String>,
}

/// One row as the journal writes it: its id and its content, None once deleted.
pub type RowChange = (String, Option<serde_json::Value>);

pub struct Table<T> {
    rows: BTreeMap<String, T>,
    by_project: HashMap<String, BTreeSet<String>>,
    by_parent: HashMap<String, BTreeSet<String>>,
    by_tag: HashMap<String, BTreeSet<String>>,
    /// What each row is indexed under, to move it when that changes.
    indexed_as: HashMap<String, IndexKeys>,
    /// Ids written (inserted, borrowed mutably or removed) since [`Table::take_changes`].
    changed: BTreeSet<String>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: BTreeMap::new(),
            by_project: HashMap::new(),
            by_parent: HashMap::new(),
            by_tag: HashMap::new(),
            indexed_as: HashMap::new(),
            changed: BTreeSet::new(),
        }
    }
}

static NO_IDS: BTreeSet<String> = BTreeSet::new();

impl<T: Record> Table<T> {
    pub fn insert(&mut self, id: String, row: T) -> Option<T> {
        self.changed.insert(id.clone());
        self.index(&id, &row);
        self.rows.insert(id, row)
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.rows.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let row = self.rows.get_mut(id)?;
        self.changed.insert(id.to_string());
        Some(row)
    }

    pub fn remove(&mut self, id: &str) -> Option<T> {
        let row = self.rows.remove(id)?;
        self.changed.insert(id.to_string());
        self.unindex(id);
        Some(row)
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.rows.contains_key(id)
    }

    #[allow(dead_code, reason = "the map-shaped API handlers may use")]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    #[allow(dead_code, reason = "the map-shaped API handlers may use")]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every row, in id order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.rows.values()
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> {
        self.rows.keys()
    }

    #[allow(dead_code, reason = "the map-shaped API handlers may use")]
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &T)> {
        self.rows.iter()
    }

    /// Every row, mutably: all of them count as changed, so prefer [`Table::get_mut`] on
    /// the ids an index gives.
    #[allow(dead_code, reason = "the map-shaped API handlers may use")]
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.changed.extend(self.rows.keys().cloned());
        self.rows.values_mut()
    }

    /// Keeps the rows `keep` accepts; the others are removed (and journaled as deleted).
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut T) -> bool) {
        let mut removed = Vec::new();
        self.rows.retain(|id, row| {
            let kept = keep(id, row);
            if !kept {
                removed.push(id.clone());
            }
            kept
        });
        for id in removed {
            self.unindex(&id);
            self.changed.insert(id);
        }
    }

    /// Ids of the rows `project_id` owns, in id order.
    pub fn ids_of_project(&self, project_id: &str) -> &BTreeSet<String> {
        self.by_project.get(project_id).unwrap_or(&NO_IDS)
    }

    /// The rows `project_id` owns, in id order.
    pub fn of_project<'a>(&'a self, project_id: &str) -> impl Iterator<Item = &'a T> + 'a {
        let ids = self.ids_of_project(project_id);
        ids.iter().filter_map(|id| self.rows.get(id))
    }

    /// Ids of the rows under `parent_id` (see [`Record::parent_id`]), in id order.
    pub fn ids_under(&self, parent_id: &str) -> &BTreeSet<String> {
        self.by_parent.get(parent_id).unwrap_or(&NO_IDS)
    }

    /// The rows under `parent_id`, in id order.
    pub fn children_of<'a>(&'a self, parent_id: &str) -> impl Iterator<Item = &'a T> + 'a {
        let ids = self.ids_under(parent_id);
        ids.iter().filter_map(|id| self.rows.get(id))
    }

    /// Ids of the rows tagged `tag`, in id order.
    pub fn ids_tagged(&self, tag: &str) -> &BTreeSet<String> {
        self.by_tag.get(tag).unwrap_or(&NO_IDS)
    }

    /// The rows written since the last call, each with its current content (None: deleted),
    /// and forgets them. Re-indexes those rows first, in case a write moved one.
    pub fn take_changes(&mut self) -> Result<Vec<RowChange>, serde_json::Error> {
        let changed = std::mem::take(&mut self.changed);
        let mut out = Vec::with_capacity(changed.len());
        for id in changed {
            match self.rows.get(&id) {
                Some(row) => {
                    let value = serde_json::to_value(row)?;
                    let keys = keys_of(row);
                    let moved = self
                        .indexed_as
                        .get(&id)
                        .is_none_or(|indexed| *indexed != keys);
                    if moved {
                        self.unindex(&id);
                        self.index_keys(&id, keys);
                    }
                    out.push((id, Some(value)));
                }
                None => out.push((id, None)),
            }
        }
        Ok(out)
    }

    /// Re-indexes the rows borrowed mutably since the changes were last taken (their tags may
    /// have changed), keeping them marked as changed: for lists made before the end of the
    /// request that changed them.
    pub fn reindex_changed(&mut self) {
        let changed: Vec<String> = self.changed.iter().cloned().collect();
        for id in changed {
            if let Some(row) = self.rows.get(&id) {
                let keys = keys_of(row);
                if self.indexed_as.get(&id) != Some(&keys) {
                    self.unindex(&id);
                    self.index_keys(&id, keys);
                }
            }
        }
    }

    /// Forgets which rows changed (nothing journals them). Re-indexes them, as
    /// [`Table::take_changes`] does.
    pub fn forget_changes(&mut self) {
        for id in std::mem::take(&mut self.changed) {
            if let Some(row) = self.rows.get(&id) {
                let keys = keys_of(row);
                self.unindex(&id);
                self.index_keys(&id, keys);
            }
        }
    }

    /// Changes every row in a way that is a pure function of the stored row and the clock
    /// (a server's build finishing on time), which reopening the cloud would redo anyway:
    /// not journaled, so that settling all rows does not rewrite them all.
    pub fn settle_each(&mut self, mut settle: impl FnMut(&mut T)) {
        for row in self.rows.values_mut() {
            settle(row);
        }
    }

    /// Settles one row, as [`Table::settle_each`] does.
    pub fn settle_one(&mut self, id: &str, settle: impl FnOnce(&mut T)) {
        if let Some(row) = self.rows.get_mut(id) {
            settle(row);
        }
    }

    /// Applies one journaled row (replay on open); it does not count as a change.
    pub fn replay(&mut self, id: String, row: Option<serde_json::Value>) -> serde_json::Result<()> {
        match row {
            Some(value) => {
                let row: T = serde_json::from_value(value)?;
                self.unindex(&id);
                self.index(&id, &row);
                self.rows.insert(id, row);
            }
            None => {
                self.rows.remove(&id);
                self.unindex(&id);
            }
        }
        Ok(())
    }

    /// Whether some row changed since the last [`Table::take_changes`].
    #[cfg_attr(not(test), allow(dead_code, reason = "tests ask"))]
    pub fn has_changes(&self) -> bool {
        !self.changed.is_empty()
    }

    fn index(&mut self, id: &str, row: &T) {
        if self.indexed_as.contains_key(id) {
            self.unindex(id);
        }
        self.index_keys(id, keys_of(row));
    }

    fn index_keys(&mut self, id: &str, keys: IndexKeys) {
        self.by_project
            .entry(keys.project.clone())
            .or_default()
            .insert(id.to_string());
        if let Some(parent) = &keys.parent {
            self.by_parent
                .entry(parent.clone())
                .or_default()
                .insert(id.to_string());
        }
        for tag in &keys.tags {
            self.by_tag
                .entry(tag.clone())
                .or_default()
                .insert(id.to_string());
        }
        self.indexed_as.insert(id.to_string(), keys);
    }

    fn unindex(&mut self, id: &str) {
        let Some(keys) = self.indexed_as.remove(id) else {
            return;
        };
        remove_from(&mut self.by_project, &keys.project, id);
        if let Some(parent) = &keys.parent {
            remove_from(&mut self.by_parent, parent, id);
        }
        for tag in &keys.tags {
            remove_from(&mut self.by_tag, tag, id);
        }
    }
}

fn keys_of<T: Record>(row: &T) -> IndexKeys {
    IndexKeys {
        project: row.project_id().to_string(),
        parent: row.parent_id().map(str::to_string),
        tags: row.tags().to_vec(),
    }
}

fn remove_from(index: &mut HashMap<String, BTreeSet<String>>, key: &str, id: &str) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

/// `table[id]`, as on a map: panics when the id is absent (tests and proven ids only).
impl<T: Record> std::ops::Index<&str> for Table<T> {
    type Output = T;
    fn index(&self, id: &str) -> &T {
        match self.rows.get(id) {
            Some(row) => row,
            None => panic!("no row {id}"),
        }
    }
}

impl<T: Record> std::ops::Index<&String> for Table<T> {
    type Output = T;
    fn index(&self, id: &String) -> &T {
        &self[id.as_str()]
    }
}

impl<T: Record> FromIterator<T> for Table<T> {
    fn from_iter<I: IntoIterator<Item = T>>(rows: I) -> Self {
        let mut table = Table::default();
        for row in rows {
            let id = row.id().to_string();
            table.index(&id, &row);
            table.rows.insert(id, row);
        }
        table
    }
}

/// Stored as the map `{id: row}`, as the `BTreeMap`s before it were.
impl<T: Record> Serialize for Table<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.rows.serialize(serializer)
    }
}

/// Reads the map `{id: row}`, or a list of rows (how tables that were `Vec`s were stored).
impl<'de, T: Record> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, bound = "T: DeserializeOwned")]
        enum Stored<T> {
            Map(BTreeMap<String, T>),
            List(Vec<T>),
        }
        let rows: Vec<T> = match Stored::<T>::deserialize(deserializer)? {
            Stored::Map(map) => map.into_values().collect(),
            Stored::List(list) => list,
        };
        Ok(rows.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    struct Row {
        id: String,
        project: String,
        parent: Option<String>,
    }

    impl Record for Row {
        fn id(&self) -> &str {
            &self.id
        }
        fn project_id(&self) -> &str {
            &self.project
        }
        fn parent_id(&self) -> Option<&str> {
            self.parent.as_deref()
        }
    }

    fn row(id: &str, project: &str, parent: Option<&str>) -> Row {
        Row {
            id: id.into(),
            project: project.into(),
            parent: parent.map(str::to_string),
        }
    }

    #[test]
    fn indexes_follow_inserts_moves_and_removals() {
        let mut table = Table::default();
        table.insert("b".into(), row("b", "p1", Some("g")));
        table.insert("a".into(), row("a", "p1", None));
        table.insert("c".into(), row("c", "p2", Some("g")));
        let ids =
            |t: &Table<Row>, p: &str| t.of_project(p).map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&table, "p1"), ["a", "b"]);
        assert_eq!(table.children_of("g").count(), 2);
        if let Some(moved) = table.get_mut("b") {
            moved.project = "p2".into();
        }
        table.take_changes().unwrap();
        assert_eq!(ids(&table, "p1"), ["a"]);
        assert_eq!(ids(&table, "p2"), ["b", "c"]);
        table.remove("c");
        table.retain(|id, _| id != "b");
        assert!(ids(&table, "p2").is_empty());
        assert_eq!(table.children_of("g").count(), 0);
    }

    #[test]
    fn changes_are_the_rows_written_since_last_taken() {
        let mut table = Table::default();
        table.insert("a".into(), row("a", "p", None));
        table.insert("b".into(), row("b", "p", None));
        assert_eq!(table.take_changes().unwrap().len(), 2);
        let _ = table.get("a");
        assert!(!table.has_changes(), "reading is not writing");
        table.remove("b");
        let changes = table.take_changes().unwrap();
        assert_eq!(changes, vec![("b".to_string(), None)]);
    }

    #[test]
    fn reads_the_map_it_writes_and_the_list_a_vec_wrote() {
        let table: Table<Row> = [row("x", "p", None), row("y", "q", None)]
            .into_iter()
            .collect();
        let text = serde_json::to_string(&table).unwrap();
        assert!(text.starts_with("{\"x\":"));
        let again: Table<Row> = serde_json::from_str(&text).unwrap();
        assert_eq!(again.len(), 2);
        let list = serde_json::to_string(&[row("x", "p", None)]).unwrap();
        let from_list: Table<Row> = serde_json::from_str(&list).unwrap();
        assert_eq!(from_list.of_project("p").count(), 1);
    }
}
