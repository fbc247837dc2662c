//! Cinder's list queries: filters (name, status, volume_id, metadata as Cinder takes it),
//! sorting (created_at descending by default, as Cinder lists), and paging with
//! limit/marker and a `next` link when a page is full.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::sim::wire::paging::next_page_query;

use super::*;

/// What a listed record offers the query.
pub(super) trait Listed {
    /// The fields a list filters on.
    const FILTERS: &'static [&'static str];
    fn id(&self) -> &str;
    fn created_at(&self) -> DateTime<Utc>;
    /// The value of a filterable field, as text.
    fn field(&self, key: &str) -> Option<String>;
    fn metadata(&self) -> Option<&BTreeMap<String, String>> {
        None
    }
}

impl Listed for Volume {
    const FILTERS: &'static [&'static str] =
        &["name", "status", "availability_zone", "bootable", "size"];
    fn id(&self) -> &str {
        &self.id
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
    const FILTERS: &'static [&'static str] = &["name", "status", "volume_id"];
    fn id(&self) -> &str {
        &self.id
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
    fn metadata(&self) -> Option<&BTreeMap<String, String>> {
        Some(&self.metadata)
    }
}

impl Listed for Backup {
    const FILTERS: &'static [&'static str] = &["name", "status", "volume_id"];
    fn id(&self) -> &str {
        &self.id
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
    const FILTERS: &'static [&'static str] = &["volume_id", "instance_id", "status"];
    fn id(&self) -> &str {
        &self.id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.attached_at.unwrap_or_default()
    }
    fn field(&self, key: &str) -> Option<String> {
        match key {
            "volume_id" => Some(self.volume_id.clone()),
            "instance_id" => Some(self.server_id.clone()),
            "status" => Some(self.status.clone()),
            _ => None,
        }
    }
}

/// Query keys that are not filters.
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

/// One page of `rows` for `query`, and the marker of the next page when this one is full.
pub(super) fn page<'a, T: Listed>(
    mut rows: Vec<&'a T>,
    query: &[(String, String)],
) -> CResult<(Vec<&'a T>, Option<String>)> {
    for (key, value) in query {
        if NOT_FILTERS.contains(&key.as_str()) {
            continue;
        }
        if key == "metadata" {
            let wanted = metadata_filter(value).unwrap_or_default();
            rows.retain(|row| {
                row.metadata()
                    .is_some_and(|m| wanted.iter().all(|(k, v)| m.get(k) == Some(v)))
            });
            continue;
        }
        // Cinder ignores filters a resource does not offer.
        if !T::FILTERS.contains(&key.as_str()) {
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
            "id" => a.id().cmp(b.id()),
            "created_at" => a.created_at().cmp(&b.created_at()),
            key => a.field(key).cmp(&b.field(key)),
        }
        .then_with(|| a.id().cmp(b.id()));
        if descending { order.reverse() } else { order }
    });
    if let Some(marker) = query.iter().find(|(k, _)| k == "marker").map(|(_, v)| v) {
        let position = rows
            .iter()
            .position(|row| row.id() == marker)
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
        next = rows.last().map(|row| row.id().to_string());
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
