//! Image data on disk, one file per image: an upload streamed into its file (hashed and held
//! to the size cap as it arrives, never whole in memory), read back as a stream, and removed
//! with its image. A partial upload is written beside the final name and only renamed once
//! complete, so a broken or refused upload never leaves data that looks whole.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::StatusCode;
use md5::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sim::core::{Fault, Service};

/// Writes go to disk in pieces this large: big enough for throughput, small enough that an
/// upload of any size holds only this much.
const WRITE_BUFFER: usize = 1 << 20;
/// Downloads are read in pieces this large.
const READ_CHUNK: usize = 256 << 10;

/// What a complete upload left on disk.
pub(super) struct Stored {
    pub(super) size: u64,
    /// The format Glance's format inspector would find in the data (`raw` when none).
    pub(super) format: &'static str,
    /// The disk size the data describes: a qcow2 header's, else the data's own size.
    pub(super) virtual_size: u64,
    /// SHA-512 of the stored data, hex (Glance's `os_hash_value`).
    pub(super) sha512: String,
    /// MD5 of the stored data, hex (Glance's `checksum`).
    pub(super) md5: String,
}

/// Why an upload was not stored.
#[derive(Debug)]
pub(super) enum StoreError {
    /// More than the cloud's `image_size_cap` arrived.
    TooLarge,
    /// The client's body broke off.
    Body(axum::Error),
    /// The disk refused.
    Io(std::io::Error),
}

impl StoreError {
    /// The answer real Glance gives (`glance/api/v2/image_data.py`, `upload`).
    pub(super) fn fault(&self) -> Fault {
        match self {
            // LimitingReader raises ImageSizeLimitExceeded ("The provided image is too
            // large."), which upload() wraps.
            StoreError::TooLarge => Fault::new(
                Service::Image,
                StatusCode::PAYLOAD_TOO_LARGE,
                "The incoming image is too large: The provided image is too large.",
            ),
            StoreError::Body(err) => Fault::bad_request(
                Service::Image,
                format!("Error in store: the upload was interrupted: {err}"),
            ),
            StoreError::Io(err) if err.kind() == std::io::ErrorKind::StorageFull => Fault::new(
                Service::Image,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Image storage media is full: {err}"),
            ),
            StoreError::Io(err) => Fault::new(
                Service::Image,
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Error in store: {err}"),
            ),
        }
    }
}

/// The file of image `id` in the image folder `dir` (ids are UUIDs Glance checked).
pub(super) fn data_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(id)
}

fn partial_path(path: &Path) -> PathBuf {
    path.with_extension("partial")
}

/// Streams `body` into `path`, at most `cap` bytes. When `corrupt`, the first byte is stored
/// flipped (an injected `corrupt_upload`), so the hashes are those of data that differs from
/// what the client sent. Nothing is left at `path` (or beside it) unless the upload completed.
pub(super) async fn store(
    body: Body,
    path: &Path,
    cap: u64,
    corrupt: bool,
) -> Result<Stored, StoreError> {
    let partial = partial_path(path);
    let stored = write(body, &partial, cap, corrupt).await;
    let renamed = match stored {
        Ok(stored) => tokio::fs::rename(&partial, path)
            .await
            .map(|()| stored)
            .map_err(StoreError::Io),
        Err(err) => Err(err),
    };
    if renamed.is_err() {
        // Best effort: the partial file may not even have been created.
        let _ = tokio::fs::remove_file(&partial).await;
    }
    renamed
}

async fn write(
    mut body: Body,
    partial: &Path,
    cap: u64,
    mut corrupt: bool,
) -> Result<Stored, StoreError> {
    let file = tokio::fs::File::create(partial)
        .await
        .map_err(StoreError::Io)?;
    let mut file = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut size = 0u64;
    let mut sha512 = sha2::Sha512::new();
    let mut md5 = md5::Md5::new();
    let mut head = Vec::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(StoreError::Body)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry no image data
        };
        size += data.len() as u64;
        if size > cap {
            return Err(StoreError::TooLarge);
        }
        let data = if corrupt && !data.is_empty() {
            corrupt = false;
            flip_first_byte(&data)
        } else {
            data
        };
        sha512.update(&data);
        md5.update(&data);
        if head.len() < HEAD_LEN {
            let wanted = (HEAD_LEN - head.len()).min(data.len());
            head.extend_from_slice(data.get(..wanted).unwrap_or_default());
        }
        file.write_all(&data).await.map_err(StoreError::Io)?;
    }
    file.flush().await.map_err(StoreError::Io)?;
    let format = detect_format(&head);
    Ok(Stored {
        size,
        format,
        virtual_size: qcow2_virtual_size(&head)
            .filter(|_| format == "qcow2")
            .unwrap_or(size),
        sha512: hex(&sha512.finalize()),
        md5: hex(&md5.finalize()),
    })
}

/// How much of the data's start the format detection reads (an ISO's descriptor is at 32 KiB).
const HEAD_LEN: usize = 0x8006;

/// The formats Glance's format inspector recognizes (`format_inspector.ALL_FORMATS`, less
/// those the embedded cloud does not detect: gpt, luks).
pub(super) const INSPECTABLE: [&str; 7] = ["raw", "qcow2", "vhd", "vhdx", "vmdk", "vdi", "iso"];

/// The format of data starting with `head`, by the magic numbers Glance's inspectors read;
/// `raw` when none matches.
pub(super) fn detect_format(head: &[u8]) -> &'static str {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"QFI\xfb") {
        "qcow2"
    } else if at(0, b"KDMV") {
        "vmdk"
    } else if at(0, b"vhdxfile") {
        "vhdx"
    } else if at(0, b"conectix") {
        "vhd"
    } else if at(0x40, &[0x7f, 0x10, 0xda, 0xbe]) {
        "vdi"
    } else if at(0x8001, b"CD001") {
        "iso"
    } else {
        "raw"
    }
}

/// A qcow2 header's virtual size (big-endian u64 at offset 24).
fn qcow2_virtual_size(head: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = head.get(24..32)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn flip_first_byte(data: &Bytes) -> Bytes {
    let mut flipped = data.to_vec();
    if let Some(first) = flipped.first_mut() {
        *first ^= 0xff;
    }
    Bytes::from(flipped)
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file at `path` as a streamed body, read a piece at a time.
pub(super) async fn read(path: &Path) -> std::io::Result<Body> {
    let file = tokio::fs::File::open(path).await?;
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0u8; READ_CHUNK];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok(Bytes::from(buffer)), Some(file)))
            }
            // The error ends the body (the client sees a short download); nothing follows.
            Err(err) => Some((Err(err), None)),
        }
    });
    Ok(Body::from_stream(chunks))
}

/// Removes image data, if there is any.
pub(super) fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}
