//! An instance's attributes Nova changes in place on the server itself: `metadata` (the
//! user's keys, beside stackform's address mark, which they never replace: PUT
//! /servers/{id}/metadata replaces the whole set, so the mark is always sent along),
//! `description` (PUT /servers/{id}, 2.19+) and `tags` (PUT /servers/{id}/tags, 2.26+, also
//! replacing all: stackform's lineage mark is sent along). Drift shows only the user's.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::addr::Address;
use crate::openstack::compute::Server;
use crate::resources::common::ADDRESS_METADATA;
use crate::resources::{Context, ObservedResource, Result};
use crate::spec::{Attrs, DesiredResource};

/// Nova's limits on server metadata (its API schema): keys of 1 to 255 characters, values of
/// at most 255.
const METADATA_KEY_MAX: usize = 255;
const METADATA_VALUE_MAX: usize = 255;

/// What stackform marks its own with starts so (see `spec::fields`: users cannot write it).
const OWN_PREFIX: &str = "stackform_";
const OWN_TAG_PREFIX: &str = "stackform";

/// The user's metadata and the description, as the spec writes them.
pub(super) fn observe(server: &Server, attrs: &mut Attrs) {
    let user: Map<String, Value> = server
        .metadata
        .iter()
        .filter(|(key, _)| !key.starts_with(OWN_PREFIX))
        .map(|(key, value)| (key.clone(), json!(value)))
        .collect();
    attrs.insert("metadata".into(), Value::Object(user));
    attrs.insert(
        "description".into(),
        json!(server.description.clone().unwrap_or_default()),
    );
    let mut tags: Vec<&String> = server
        .tags
        .iter()
        .filter(|t| !t.starts_with(OWN_TAG_PREFIX))
        .collect();
    tags.sort();
    attrs.insert("tags".into(), json!(tags));
}

/// The whole tag list a server of `res` carries: stackform's `marks`, then the user's.
pub(super) fn full_tags(res: &DesiredResource, marks: &[String]) -> Vec<String> {
    let user = res
        .attrs
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string);
    marks.iter().cloned().chain(user).collect()
}

/// The whole metadata a server of `res` carries: the user's keys and the address mark.
pub(super) fn full_metadata(res: &DesiredResource, addr: &Address) -> BTreeMap<String, String> {
    let mut metadata: BTreeMap<String, String> = res
        .attrs
        .get("metadata")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    metadata.insert(ADDRESS_METADATA.into(), addr.to_string());
    metadata
}

/// The description to boot with, when the spec writes one.
pub(super) fn description(res: &DesiredResource) -> Option<&str> {
    res.attrs
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
}

/// Sets what differs from the spec: the metadata (with the mark), the description.
pub(super) async fn converge(
    cx: &Context,
    res: &DesiredResource,
    current: &ObservedResource,
) -> Result<()> {
    let compute = cx.cloud.admin().compute();
    let differs = |attr: &str| {
        res.attrs.contains_key(attr) && res.attrs.get(attr) != current.attrs.get(attr)
    };
    if differs("metadata") {
        compute
            .replace_metadata(&current.id, &full_metadata(res, &res.addr))
            .await?;
    }
    if differs("tags") {
        // The marks the server has are kept as they are (the lineage tag at least).
        let server = compute.get_server(&current.id).await?;
        let mut marks: Vec<String> = server
            .tags
            .into_iter()
            .filter(|t| t.starts_with(OWN_TAG_PREFIX))
            .collect();
        let lineage = crate::resources::common::lineage_tag(cx);
        if !marks.contains(&lineage) {
            marks.push(lineage);
        }
        compute
            .set_tags(&current.id, &full_tags(res, &marks))
            .await?;
    }
    if differs("description") {
        let description = res
            .attrs
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        compute.set_description(&current.id, description).await?;
    }
    Ok(())
}

/// Nova's limits, as located errors before any call.
pub(super) fn check(instance: &DesiredResource, out: &mut crate::diag::Diagnostics) {
    let addr = &instance.addr;
    let Some(metadata) = instance.attrs.get("metadata").and_then(Value::as_object) else {
        return;
    };
    for (key, value) in metadata {
        let value = value.as_str().unwrap_or_default();
        let problem = if key.is_empty() || key.chars().count() > METADATA_KEY_MAX {
            Some(format!(
                "metadata key `{key}` has {} characters: Nova takes 1 to {METADATA_KEY_MAX}",
                key.chars().count()
            ))
        } else if value.chars().count() > METADATA_VALUE_MAX {
            Some(format!(
                "metadata value of `{key}` has {} characters: Nova takes at most \
                 {METADATA_VALUE_MAX}",
                value.chars().count()
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push(
                crate::diag::Diagnostic::error(format!("{addr}: {problem}"))
                    .at(instance.span_of("metadata"))
                    .help("shorten it"),
            );
        }
    }
}
