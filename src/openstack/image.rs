//! Glance v2: listing images (name → id), following `next` pages.

use serde::{Deserialize, Serialize};

use super::{ApiError, ServiceType, Session};

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Image {
    pub id: String,
    /// Glance images may have no name.
    pub name: Option<String>,
    pub status: String,
    pub visibility: Option<String>,
    /// In bytes; None while the image has no data.
    pub size: Option<u64>,
    /// The smallest disk (GB) the image boots from.
    pub min_disk: Option<u64>,
}

#[derive(Clone, Copy)]
pub struct ImageApi<'a>(pub &'a Session);

impl Session {
    pub fn image(&self) -> ImageApi<'_> {
        ImageApi(self)
    }
}

impl ImageApi<'_> {
    pub async fn list_images(self, query: &[(String, String)]) -> Result<Vec<Image>, ApiError> {
        self.0
            .list(ServiceType::Image, "/images", "images", query)
            .await
    }
}
