//! The snapshot: the last committed state as one JSON file beside the database, rewritten
//! atomically (temp file, fsync, rename) after every commit, and its previous generation, the
//! backup, copied before each apply or destroy writes (Terraform's `.backup`).
//!
//! Why a file rather than a second handle on the database: sled holds an exclusive file lock
//! for as long as a process has the database open and offers no read-only mode, so while an
//! apply runs no other process can open it. Readers (`plan`, `state list`, `state show`) read
//! the snapshot instead: it is exactly the last committed step, never half written. The same
//! file is the evidence that tells a damaged database (truncated, overwritten, deleted) from a
//! new state, and the source `stackform state restore` rebuilds the database from.
//!
//! Knows the file format only; which backend writes it is the caller's business.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{AuditEntry, LockInfo, Record, Result, StateStore, StepWrite, StoreError, StoreFuture};
use crate::addr::Address;

/// The last committed state, as a file.
pub const SNAPSHOT_FILE: &str = "state.json";
/// The state as it was before the last apply or destroy started.
pub const BACKUP_FILE: &str = "state.backup.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema_version: u64,
    pub lineage: String,
    pub serial: u64,
    /// The cloud the state belongs to (see [`super::StateStore::cloud`]).
    #[serde(default)]
    pub cloud: Option<String>,
    /// Ordered by address.
    pub records: Vec<Record>,
    /// The catalogs pulled from the cloud, by name (see [`super::StateStore::catalog`]).
    #[serde(default)]
    pub catalogs: std::collections::BTreeMap<String, super::CatalogEntry>,
}

impl Snapshot {
    /// Reads the snapshot at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Snapshot>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Open {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                });
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                key: path.display().to_string(),
                detail: e.to_string(),
            })
    }

    /// Writes the snapshot to `path` atomically, readable by its owner only (it holds ids and
    /// attributes of a tenant's resources).
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| StoreError::Backend(e.to_string()))?;
        write_private(path, &bytes)
            .map_err(|e| StoreError::Backend(format!("cannot write {}: {e}", path.display())))
    }
}

/// Writes `bytes` to `path` through a temp file and a rename, mode 0600 on unix.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Creates `dir` (and its parents) readable by its owner only: the state names every resource
/// of a tenant, and the embedded cloud's data beside it holds password hashes.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes every file under `dir` 0600 and every folder 0700 (sled creates its files with the
/// process umask).
pub fn restrict_tree(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                restrict_tree(&path);
            } else {
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
}

/// A state read from its snapshot: what readers get, so that they never hold the database's
/// lock (a plan's refresh can take minutes, and an apply started meanwhile must not fail).
/// Every write is refused with [`StoreError::ReadOnly`].
pub struct ReadOnlyStore {
    dir: std::path::PathBuf,
    snapshot: Snapshot,
}

impl ReadOnlyStore {
    pub fn new(dir: &Path, snapshot: Snapshot) -> ReadOnlyStore {
        ReadOnlyStore {
            dir: dir.to_path_buf(),
            snapshot,
        }
    }

    fn refuse<T: Send + 'static>(&self) -> StoreFuture<'_, T> {
        Box::pin(std::future::ready(Err(StoreError::ReadOnly(
            self.dir.clone(),
        ))))
    }
}

impl StateStore for ReadOnlyStore {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn lock<'a>(&'a self, _holder: &'a LockInfo) -> StoreFuture<'a, ()> {
        self.refuse()
    }

    fn unlock(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn lineage(&self) -> StoreFuture<'_, String> {
        Box::pin(std::future::ready(Ok(self.snapshot.lineage.clone())))
    }

    fn serial(&self) -> StoreFuture<'_, u64> {
        Box::pin(std::future::ready(Ok(self.snapshot.serial)))
    }

    fn get<'a>(&'a self, addr: &'a Address) -> StoreFuture<'a, Option<Record>> {
        let found = self
            .snapshot
            .records
            .iter()
            .find(|r| &r.addr == addr)
            .cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn records(&self) -> StoreFuture<'_, Vec<Record>> {
        Box::pin(std::future::ready(Ok(self.snapshot.records.clone())))
    }

    fn commit<'a>(&'a self, _step: &'a StepWrite) -> StoreFuture<'a, ()> {
        self.refuse()
    }

    fn history(&self) -> StoreFuture<'_, Vec<AuditEntry>> {
        // The audit log stays in the database; a reader sees none of it.
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn cloud(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(std::future::ready(Ok(self.snapshot.cloud.clone())))
    }

    fn set_cloud<'a>(&'a self, _cloud: &'a str) -> StoreFuture<'a, ()> {
        self.refuse()
    }

    fn catalog<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<super::CatalogEntry>> {
        Box::pin(std::future::ready(Ok(self
            .snapshot
            .catalogs
            .get(name)
            .cloned())))
    }

    /// A reader's pull is used for its own plan and not kept: the next locked run keeps it.
    fn set_catalog<'a>(
        &'a self,
        _name: &'a str,
        _entry: &'a super::CatalogEntry,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn backup(&self) -> StoreFuture<'_, ()> {
        self.refuse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Kind;

    fn snapshot() -> Snapshot {
        Snapshot {
            schema_version: super::super::SCHEMA_VERSION,
            lineage: "l-1".to_string(),
            serial: 3,
            cloud: Some("the embedded cloud".to_string()),
            records: vec![Record {
                addr: Address::new(Kind::Network, "n"),
                id: "id-n".to_string(),
                attrs: Default::default(),
                updated_at: super::super::now(),
            }],
            catalogs: Default::default(),
        }
    }

    #[test]
    fn a_snapshot_round_trips_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SNAPSHOT_FILE);
        assert_eq!(Snapshot::read(&path).unwrap(), None);
        snapshot().write(&path).unwrap();
        assert_eq!(Snapshot::read(&path).unwrap(), Some(snapshot()));
        assert!(
            !path.with_extension("json.tmp").exists(),
            "no temp file left"
        );
    }

    /// A reader holds no lock, so it must never write: a write would race the run that does.
    #[tokio::test]
    async fn a_read_only_store_reads_and_refuses_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReadOnlyStore::new(dir.path(), snapshot());
        assert_eq!(store.lineage().await.unwrap(), "l-1");
        assert_eq!(store.serial().await.unwrap(), 3);
        let addr = Address::new(Kind::Network, "n");
        assert_eq!(
            store.get(&addr).await.unwrap().map(|r| r.id),
            Some("id-n".into())
        );
        let holder = LockInfo::current("apply");
        assert!(matches!(
            store.lock(&holder).await,
            Err(StoreError::ReadOnly(_))
        ));
        assert!(matches!(
            store.set_cloud("x").await,
            Err(StoreError::ReadOnly(_))
        ));
        assert!(matches!(store.backup().await, Err(StoreError::ReadOnly(_))));
    }
}
