//! Cinder's list queries: filters (those of its default `resource_filters.json`, unknown ones
//! refused from 3.31 to callers who are not admins; metadata as Cinder takes it),
//! sorting (created_at descending by default, as Cinder lists), and paging with
//! limit/marker and a `next` link when a page is full.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::sim::wire::paging::next_page_query;

use super::render::{Microversion, ViewContext};
use super::*;
use crate::sim::core::Table;

/// What a listed record offers the list handlers and the query.
pub(super) trait Listed: Record + Sized {
    /// Its collection, in URLs and bodies ("volumes").
    const COLLECTION: &'static str;
    /// The filters a caller who is not an admin may use from 3.31 on: Cinder's default
    /// `resource_filters.json`.
    const FILTERS: &'static [&'static str];
    /// Answers the 404 of a microversion before the collection existed.
    fn available(_mv: Microversion) -> CResult<()> {
        Ok(())
    }
    fn table(data: &BlockStorageData) -> &Table<Self>;
    /// Its list entry (`detail` for /detail).
    fn view(&self, data: &BlockStorageData, ctx: &ViewContext, detail: bool) -> Value;
    fn created_at(&self) -> DateTime<Utc>;
    /// The value of a filterable field, as text.
    fn field(&self, key: &str) -> Option<String>;
    fn metadata(&self) -> Option<&BTreeMap<String, String>> {
        None
    }
}

impl Listed for Volume {
    const COLLECTION: &'static str = "volumes";
    const FILTERS: &'static [&'static str] = &[
        "name",
        "status",
        "metadata",
        "bootable",
        "migration_status",
        "availability_zone",
        "group_id",
        "size",
        "created_at",
        "updated_at",
        "consumes_quota",
    ];
    fn table(data: &BlockStorageData) -> &Table<Self> {
        &data.volumes
    }
    fn view(&self, data: &BlockStorageData, ctx: &ViewContext, detail: bool) -> Value {
        if detail {
            data.volume_detail(self, ctx)
        } else {
            data.volume_summary(self, ctx)
        }
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn field(&self, key: &str) -> Option<String> {
        match key {
            "name" => self.name.clone(),
            "status" => Some(self.status.clone()),
            "availability_zone" => Some(self.availability_zone.clone()),
            "bootable" => Some(self.bootable.to_string()),
            "size" => Some(self.size.to_string()),
            _ => None,
        }
    }
    fn metadata(&self) -> Option<&BTreeMap<String, String>> {
        Some(&self.metadata)
    }
}

impl Listed for Snapshot {
    const COLLECTION: &'static str = "snapshots";
    const FILTERS: &'static [&'static str] = &[
        "name",
        "status",
        "volume_id",
        "metadata",
        "availability_zone",
        "consumes_quota",
    ];
    fn table(data: &BlockStorageData) -> &Table<Self> {
        &data.snapshots
    }
    fn view(&self, data: &BlockStorageData, ctx: &ViewContext, detail: bool) -> Value {
        data.snapshot_view(self, ctx, detail, detail)
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn field(&self, key: &str) -> Option<String> {
        match key {
            "name" => self.name.clone(),
            "status" => Some(self.status.clone()),
            "volume_id" => Some(self.volume_id.clone()),
            "availability_zone" => Some(AVAILABILITY_ZONE.to_string()),
            _ => None,
        }
    }
    fn metadata(&self) -> Option<&BTreeMap<String, String>> {
        Some(&self.metadata)
    }
}

impl Listed for Backup {
    const COLLECTION: &'static str = "backups";
    const FILTERS: &'static [&'static str] = &["name", "status", "volume_id"];
    fn table(data: &BlockStorageData) -> &Table<Self> {
        &data.backups
    }
    fn view(&self, data: &BlockStorageData, ctx: &ViewContext, detail: bool) -> Value {
        if detail {
            data.backup_detail(self, ctx)
        } else {
            data.backup_summary(self, ctx)
        }
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn field(&self, key: &str) -> Option<String> {
        match key {
            "name" => self.name.clone(),
            "status" => Some(self.status.clone()),
            "volume_id" => Some(self.volume_id.clone()),
            _ => None,
        }
    }
}

impl Listed for Attachment {
    const COLLECTION: &'static str = "attachments";
    const FILTERS: &'static [&'static str] =
        &["volume_id", "status", "instance_id", "attach_status"];
    /// The attachments API exists from 3.27; before, Cinder's router does not know it.
    fn available(mv: Microversion) -> CResult<()> {
        if mv.at_least(27) {
            Ok(())
        } else {
            Err(not_found("The resource could not be found."))
        }
    }
    fn table(data: &BlockStorageData) -> &Table<Self> {
        &data.attachments
    }
    fn view(&self, data: &BlockStorageData, _ctx: &ViewContext, detail: bool) -> Value {
        data.attachment_view(self, detail)
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.attached_at.unwrap_or_default()
    }
    fn field(&self, key: &str) -> Option<String> {
        match key {
            "volume_id" => Some(self.volume_id.clone()),
            "instance_id" => Some(self.server_id.clone()),
            "status" | "attach_status" => Some(self.status.clone()),
            _ => None,
        }
    }
}

/// Query keys that are not filters: paging and sorting, which Cinder takes out first, and
/// the scope (`all_tenants`, which Cinder forgives everyone, and an admin's `project_id`).
const NOT_FILTERS: [&str; 9] = [
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "all_tenants",
    "project_id",
    "offset",
    "with_count",
];

/// From 3.31 Cinder refuses, to whoever is not an admin, the filters its resource does not
/// offer, naming them all; before, it drops them silently. An admin's filters all reach the
/// database, where a key the model lacks matches nothing.
fn refuse_unknown_filters<T: Listed>(
    query: &[(String, String)],
    actor: &Actor,
    mv: Microversion,
) -> CResult<()> {
    if actor.admin || !mv.at_least(31) {
        return Ok(());
    }
    let unknown: Vec<&str> = query
        .iter()
        .map(|(key, _)| key.as_str())
        .filter(|key| !NOT_FILTERS.contains(key) && !T::FILTERS.contains(key))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(bad_request(format!(
        "Invalid filters {} are found in query options.",
        unknown.join(",")
    )))
}

/// `metadata={"k": "v"}` as Cinder takes it (a Python dict literal, as cinderclient sends
/// it, or JSON).
fn metadata_filter(text: &str) -> Option<BTreeMap<String, String>> {
    let parsed: Value = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&text.replace('\'', "\"")))
        .ok()?;
    parsed
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// One page of `rows` for `query` as `actor` asks at `mv`, and the marker of the next page
/// when this one is full.
pub(super) fn page<'a, T: Listed>(
    mut rows: Vec<&'a T>,
    query: &[(String, String)],
    actor: &Actor,
    mv: Microversion,
) -> CResult<(Vec<&'a T>, Option<String>)> {
    refuse_unknown_filters::<T>(query, actor, mv)?;
    for (key, value) in query {
        if NOT_FILTERS.contains(&key.as_str()) {
            continue;
        }
        if key == "metadata" {
            // A value that is not an object matches nothing, as Cinder's database layer
            // answers it.
            let wanted = metadata_filter(value);
            rows.retain(|row| {
                row.metadata()
                    .zip(wanted.as_ref())
                    .is_some_and(|(m, wanted)| wanted.iter().all(|(k, v)| m.get(k) == Some(v)))
            });
            continue;
        }
        if !T::FILTERS.contains(&key.as_str()) {
            // Dropped before 3.31; an admin's reaches the database and matches nothing.
            if actor.admin {
                rows.clear();
            }
            continue;
        }
        rows.retain(|row| row.field(key).as_deref() == Some(value.as_str()));
    }
    let mut sort_key = "created_at".to_string();
    let mut descending = true;
    for (key, value) in query {
        match key.as_str() {
            "sort_key" => sort_key = value.clone(),
            "sort_dir" => descending = value != "asc",
            "sort" => {
                let first = value.split(',').next().unwrap_or_default();
                let (k, dir) = first.split_once(':').unwrap_or((first, "desc"));
                sort_key = k.to_string();
                descending = dir != "asc";
            }
            _ => {}
        }
    }
    rows.sort_by(|a, b| {
        let order = match sort_key.as_str() {
            "id" => Record::id(*a).cmp(Record::id(*b)),
            "created_at" => a.created_at().cmp(&b.created_at()),
            key => a.field(key).cmp(&b.field(key)),
        }
        .then_with(|| Record::id(*a).cmp(Record::id(*b)));
        if descending { order.reverse() } else { order }
    });
    if let Some(marker) = query.iter().find(|(k, _)| k == "marker").map(|(_, v)| v) {
        let position = rows
            .iter()
            .position(|row| Record::id(*row) == marker)
            .ok_or_else(|| not_found(format!("Marker {marker} could not be found.")))?;
        rows.drain(..=position);
    }
    let limit = match query.iter().find(|(k, _)| k == "limit") {
        Some((_, value)) => Some(value.parse::<usize>().map_err(|_| {
            bad_request(format!(
                "Invalid input received: limit must be an integer: {value}"
            ))
        })?),
        None => None,
    };
    let mut next = None;
    if let Some(limit) = limit
        && rows.len() >= limit
        && limit > 0
    {
        rows.truncate(limit);
        next = rows.last().map(|row| Record::id(*row).to_string());
    }
    Ok((rows, next))
}

/// `{"<key>": items}` plus `<key>_links` with the next page when there is one.
pub(super) fn listing(
    key: &str,
    items: Vec<Value>,
    next: Option<String>,
    url: &str,
    query: &[(String, String)],
) -> Value {
    let mut body = json!({ key: items });
    if let Some(marker) = next {
        body[format!("{key}_links")] = json!([{
            "href": format!("{url}?{}", next_page_query(query, &marker)),
            "rel": "next",
        }]);
    }
    body
}
