//! The folder where services keep bulk data that has no place in the journal (Glance's image
//! data): `<data_dir>/files` for a persisted cloud, or a private temporary folder that lives
//! and dies with an in-memory cloud.

use std::path::{Path, PathBuf};

use super::SimError;

pub(super) struct FilesFolder {
    path: PathBuf,
    /// Removed with its content when the cloud is dropped (an in-memory cloud's data).
    temporary: bool,
}

impl FilesFolder {
    pub(super) fn open(data_dir: Option<&Path>) -> Result<FilesFolder, SimError> {
        let (path, temporary) = match data_dir {
            Some(dir) => (dir.join("files"), false),
            None => (
                std::env::temp_dir().join(format!("stackform-sim-{}", uuid::Uuid::new_v4())),
                true,
            ),
        };
        std::fs::create_dir_all(&path).map_err(|source| SimError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(FilesFolder { path, temporary })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FilesFolder {
    fn drop(&mut self) {
        if self.temporary {
            // Best effort: a temporary folder left behind only costs disk space.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
