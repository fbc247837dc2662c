//! Image files on this machine: their content identified by SHA-512, computed streaming (a
//! multi-GiB disk is never read into memory) and cached by (path, size, modification time)
//! in the state folder, so a plan does not read every image again. The spec loader records
//! each file it identified; the apply finds it again by its content id.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// The cache's file in the state folder.
const CACHE_FILE: &str = "image-hashes.json";

/// Where the hash cache lives (the state folder), once a command has said.
static CACHE_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The files the spec named, by content id.
static KNOWN: Mutex<Option<HashMap<String, LocalImage>>> = Mutex::new(None);

/// A file to upload, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalImage {
    pub path: PathBuf,
    pub size: u64,
    /// SHA-512 of the content (hex), what Glance reports as `os_hash_value`.
    pub sha512: String,
}

impl LocalImage {
    /// How the plan names the content: `sha512:` and the hash's first 16 hex digits.
    pub fn content_id(&self) -> String {
        content_id(&self.sha512)
    }
}

/// The plan's name of the content whose SHA-512 is `sha512` (hex).
pub fn content_id(sha512: &str) -> String {
    format!("sha512:{}", sha512.get(..16).unwrap_or(sha512))
}

/// Caches hashes in `state_dir` from now on (commands call this before loading the spec).
pub fn use_hash_cache(state_dir: &Path) {
    *CACHE_DIR.lock().unwrap_or_else(PoisonError::into_inner) = Some(state_dir.to_path_buf());
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    files: BTreeMap<String, Cached>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Cached {
    size: u64,
    modified_ns: u128,
    sha512: String,
}

/// Reads the file's size and SHA-512 (the cache's when the path, size and modification time
/// match), and remembers it for the apply. Fails when the file is missing, not a regular
/// file, or unreadable.
pub fn identify(path: &Path) -> std::io::Result<LocalImage> {
    let absolute = std::path::absolute(path)?;
    let mut file = std::fs::File::open(&absolute)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let key = absolute.display().to_string();
    let cache_dir = CACHE_DIR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let cached = cache_dir
        .as_deref()
        .and_then(|dir| read_cache(dir).files.remove(&key))
        .filter(|c| c.size == meta.len() && c.modified_ns == modified_ns);
    let (size, sha512) = match cached {
        Some(c) => (c.size, c.sha512),
        None => {
            let (size, sha512) = hash_stream(&mut file)?;
            if let Some(dir) = cache_dir.as_deref() {
                let entry = Cached {
                    size,
                    modified_ns,
                    sha512: sha512.clone(),
                };
                write_cache(dir, key, entry);
            }
            (size, sha512)
        }
    };
    let local = LocalImage {
        path: absolute,
        size,
        sha512,
    };
    remember(&local);
    Ok(local)
}

/// Size and SHA-512 (hex) of what `reader` yields, read in 1 MiB blocks.
pub fn hash_stream(reader: &mut impl Read) -> std::io::Result<(u64, String)> {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA512);
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        digest.update(&buffer[..n]);
    }
    let hex = digest
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex))
}

fn remember(local: &LocalImage) {
    KNOWN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(local.content_id(), local.clone());
}

/// The file the spec named whose content id is `content_id`, if this process read it.
pub fn known(content_id: &str) -> Option<LocalImage> {
    KNOWN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()?
        .get(content_id)
        .cloned()
}

/// The cache, empty when missing or unreadable (it is only a shortcut).
fn read_cache(dir: &Path) -> Cache {
    std::fs::read(dir.join(CACHE_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Adds one entry, written whole to a temporary file then renamed (a reader never sees half
/// a file). Failing to write costs only a re-read next time.
fn write_cache(dir: &Path, key: String, entry: Cached) {
    if !dir.is_dir() {
        return;
    }
    let mut cache = read_cache(dir);
    cache.files.insert(key, entry);
    let temporary = dir.join(format!("{CACHE_FILE}.{}", std::process::id()));
    let written = serde_json::to_vec(&cache)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&temporary, bytes))
        .and_then(|()| std::fs::rename(&temporary, dir.join(CACHE_FILE)));
    if let Err(e) = written {
        tracing::debug!("cannot write the image hash cache in {}: {e}", dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_cached_by_path_size_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disk.raw");
        std::fs::write(&file, b"abc").unwrap();
        use_hash_cache(dir.path());
        let first = identify(&file).unwrap();
        // SHA-512("abc"), FIPS 180-2's example.
        assert!(first.sha512.starts_with("ddaf35a193617aba"));
        assert_eq!(first.content_id(), "sha512:ddaf35a193617aba");
        assert_eq!(first.size, 3);
        // The cache answers as long as size and time match: a forged entry proves it is read.
        let key = first.path.display().to_string();
        let mut cache = read_cache(dir.path());
        cache.files.get_mut(&key).unwrap().sha512 = "f".repeat(128);
        std::fs::write(dir.path().join(CACHE_FILE), serde_json::to_vec(&cache).unwrap()).unwrap();
        assert_eq!(identify(&file).unwrap().sha512, "f".repeat(128));
        // A new content (another size) is read again.
        std::fs::write(&file, b"abcd").unwrap();
        let changed = identify(&file).unwrap();
        assert_eq!(changed.size, 4);
        assert!(changed.sha512.starts_with("d8022f2060ad6efd"));
        assert_eq!(known(&changed.content_id()), Some(changed));
    }
}
