//! Glance v2: listing images (name → id), following `next` pages; creating an image record,
//! streaming its data from a file (`PUT /v2/images/{id}/file`), reading and deleting one.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// The smallest RAM (MB) the image boots with.
    pub min_ram: Option<u64>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    /// The project that owns it.
    pub owner: Option<String>,
    pub tags: Vec<String>,
    /// `sha512` on every Glance since Rocky.
    pub os_hash_algo: Option<String>,
    /// The hash of the data Glance stored (hex); None while the image has no data.
    pub os_hash_value: Option<String>,
    /// MD5 of the data (hex), Glance's legacy checksum.
    pub checksum: Option<String>,
}

#[derive(Clone, Copy)]
pub struct ImageApi<'a>(pub &'a Session);

impl Session {
    pub fn image(&self) -> ImageApi<'_> {
        ImageApi(self)
    }
}

/// Where an upload stands, for a progress display: bytes sent so far of the total.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// Bytes read from the file per chunk sent: memory stays flat whatever the image's size.
const CHUNK: usize = 256 * 1024;

impl ImageApi<'_> {
    pub async fn list_images(self, query: &[(String, String)]) -> Result<Vec<Image>, ApiError> {
        self.0
            .list(ServiceType::Image, "/images", "images", query)
            .await
    }

    /// Creates the image record (status `queued`, no data). Glance answers with the image
    /// itself, not under a key.
    pub async fn create_image(self, body: &Value) -> Result<Image, ApiError> {
        self.0
            .send_json(ServiceType::Image, Method::POST, "/images", body, None)
            .await
    }

    /// Glance's GET of one image answers the image itself, not under a key.
    pub async fn get_image(self, id: &str) -> Result<Image, ApiError> {
        let path = format!("/images/{id}");
        let value = self
            .0
            .call(ServiceType::Image, Method::GET, &path, &[], None)
            .await?;
        serde_json::from_value(value.unwrap_or_default()).map_err(|e| ApiError::Decode {
            service: ServiceType::Image.as_str(),
            method: Method::GET,
            url: path,
            detail: e.to_string(),
        })
    }

    pub async fn delete_image(self, id: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                ServiceType::Image,
                Method::DELETE,
                &format!("/images/{id}"),
                None,
            )
            .await
    }

    /// Streams `path` (of `size` bytes) as the image's data, in chunks read as they are sent,
    /// within `timeout` for the whole transfer. Not retried: the stream cannot be replayed,
    /// and Glance puts an image whose upload broke back to `queued` for the caller to decide.
    pub async fn upload_file(
        self,
        id: &str,
        path: &Path,
        size: u64,
        timeout: Duration,
        progress: Progress<'_>,
    ) -> Result<(), UploadError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| UploadError::Read(format!("{}: {e}", path.display())))?;
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let chunks = futures_util::stream::unfold(file, move |mut file| {
            let counter = counter.clone();
            async move {
                use tokio::io::AsyncReadExt;
                let mut buffer = vec![0u8; CHUNK];
                match file.read(&mut buffer).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buffer.truncate(n);
                        counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                        Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buffer)), file))
                    }
                    Err(e) => Some((Err(e), file)),
                }
            }
        });
        let body = reqwest::Body::wrap_stream(chunks);
        let path = format!("/images/{id}/file");
        let transfer = self.0.send_raw(
            ServiceType::Image,
            Method::PUT,
            &path,
            "application/octet-stream",
            body,
            Some(timeout),
        );
        tokio::pin!(transfer);
        // Progress is reported from the bytes the stream handed to the connection.
        let mut ticks = tokio::time::interval(Duration::from_millis(500));
        let result = loop {
            tokio::select! {
                result = &mut transfer => break result,
                _ = ticks.tick() => progress(sent.load(std::sync::atomic::Ordering::Relaxed), size),
            }
        };
        progress(sent.load(std::sync::atomic::Ordering::Relaxed), size);
        result.map(|_| ()).map_err(UploadError::Api)
    }

    /// Changes attributes with a JSON patch (`[{"op": "replace", "path": "/name", ...}]`),
    /// the only update Glance v2 takes.
    pub async fn update_image(self, id: &str, patch: &Value) -> Result<(), ApiError> {
        self.0
            .send_raw(
                ServiceType::Image,
                Method::PATCH,
                &format!("/images/{id}"),
                "application/openstack-images-v2.1-json-patch",
                reqwest::Body::from(patch.to_string()),
                None,
            )
            .await
            .map(|_| ())
    }
}

/// An upload that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("cannot read the image file {0}")]
    Read(String),
    #[error(transparent)]
    Api(ApiError),
}
