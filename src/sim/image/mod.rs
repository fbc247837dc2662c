//! Glance v2 of the embedded cloud: image records, their visibility, tags and properties,
//! their data (streamed to and from one file per image), and the image schema.
//!
//! Layout: `model` (records, seed, visibility), `ops` (Glance's rules without HTTP: attribute
//! changes, ownership, faults), `data` (image files: streamed upload with its hashes and size
//! cap, streamed download), `render` (image view, version documents), `query` (the image
//! list: filters, order, paging links), `api` (routes, webob error layer, handlers), and
//! `tests` of the data layer.

mod api;
mod data;
mod model;
mod ops;
mod query;
mod render;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use model::*;
use ops::*;
use query::*;
use render::*;

pub use api::routes;
pub use model::Snapshot;

/// Glance's image schema, as `GET /v2/schemas/image` serves it (copied from glance's api-ref).
const IMAGE_SCHEMA: &str = include_str!("glance-image-schema.json");

const DISK_FORMATS: [&str; 11] = [
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];

const CONTAINER_FORMATS: [&str; 7] = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker"];
const VISIBILITIES: [&str; 4] = ["public", "private", "shared", "community"];

/// Attributes Glance computes itself; a client may not set them.
const READ_ONLY: [&str; 12] = [
    "status",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
];

/// The media types Glance takes a PATCH in.
const JSON_PATCH_TYPES: [&str; 2] = [
    "application/openstack-images-v2.0-json-patch",
    "application/openstack-images-v2.1-json-patch",
];

const DEFAULT_PAGE: usize = 25;
const MAX_PAGE: usize = 1000;

#[derive(Default, Serialize, Deserialize)]
pub struct ImageData {
    images: Vec<Image>,
}

/// The few images of a test cloud are journaled whole when one changes.
impl crate::sim::core::Journaled for ImageData {
    fn tables(&mut self) -> Vec<(&'static str, &mut dyn crate::sim::core::JournalTable)> {
        Vec::new()
    }
    fn rest(&self) -> serde_json::Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("images", serde_json::to_vec(&self.images)?)])
    }
    fn replay_rest(&mut self, field: &str, value: serde_json::Value) -> serde_json::Result<()> {
        match field {
            "images" => self.images = serde_json::from_value(value)?,
            _ => return Err(serde::de::Error::custom(format!("no field {field}"))),
        }
        Ok(())
    }
}
