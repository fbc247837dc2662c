//! The embedded backend: a sled database under the state folder.
//!
//! Three trees: `meta` (schema version, lineage, serial), `resources` (address → record as
//! JSON) and `audit` (sequence → entry as JSON). A step is one sled transaction across the
//! three, flushed before it returns; sled logs a transaction as one batch, which recovery
//! replays whole or not at all. The lock is sled's own exclusive file lock (one handle per
//! state at a time, across processes); the holder's [`LockInfo`] sits in a small file beside
//! the database, since a process refused by the file lock cannot read the database itself.
//!
//! Beside the database, every commit rewrites the snapshot (`state.json`, see [`snapshot`]):
//! opening compares the two, so that a truncated, overwritten or deleted database is reported
//! as damaged instead of starting over with a new lineage.
//!
//! Owns the sled types: none of them leaves this file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::snapshot::{self, BACKUP_FILE, SNAPSHOT_FILE, Snapshot};
use super::{
    AuditEntry, Change, LockInfo, Record, Result, SCHEMA_VERSION, StateStore, StepWrite,
    StoreError, StoreFuture,
};
use crate::addr::Address;

/// Meta keys of the catalogs kept (`catalog:volume`).
const CATALOG_PREFIX: &str = "catalog:";
const META: &str = "meta";
const RESOURCES: &str = "resources";
const AUDIT: &str = "audit";
const HOLDER_FILE: &str = "lock.json";
const DB_DIR: &str = "stackform.db";

pub struct SledStore {
    dir: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    resources: sled::Tree,
    audit: sled::Tree,
    /// The holder this handle recorded, if it took the lock.
    holder: Mutex<Option<LockInfo>>,
}

impl SledStore {
    /// Opens (creating if needed) the state under `dir`. Fails with [`StoreError::LockedBy`]
    /// (or [`StoreError::Locked`] when the holder did not say who it is) while another handle
    /// has it open: sled holds an exclusive file lock. Fails with [`StoreError::Damaged`] when
    /// the database is unreadable, or empty or behind while its snapshot (or a backup) shows an
    /// earlier state: a damaged state is never silently a new one.
    pub fn open(dir: &Path) -> Result<SledStore> {
        let path = dir.join(DB_DIR);
        snapshot::create_private_dir(dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let snap = dir.join(SNAPSHOT_FILE);
        // A snapshot that cannot be parsed is no evidence either way; the database decides.
        let previous = Snapshot::read(&snap).unwrap_or_default();
        let had_db = path.join("db").exists();
        let db = open_db(&path).map_err(|e| match e {
            sled::Error::Io(ref io) if is_lock_error(io) => match read_holder(dir) {
                Some(holder) => StoreError::LockedBy {
                    path: dir.to_path_buf(),
                    holder,
                },
                None => StoreError::Locked(dir.to_path_buf()),
            },
            other if had_db || previous.is_some() => StoreError::Damaged {
                path: dir.to_path_buf(),
                detail: format!("the database cannot be read: {other}"),
                lineage: previous.as_ref().map(|p| p.lineage.clone()),
            },
            other => StoreError::Open {
                path: path.clone(),
                detail: other.to_string(),
            },
        })?;
        // The file lock is ours: a holder file left behind is a crashed run's.
        let _ = std::fs::remove_file(dir.join(HOLDER_FILE));
        let store = SledStore::with_trees(db, dir)?;
        let schema = store.meta_u64("schema_version")?;
        if let Some(found) = schema.filter(|found| *found > SCHEMA_VERSION) {
            return Err(StoreError::TooNew { path, found });
        }
        // Decided before anything is written: a damaged database is left as it was found.
        let lineage = store.meta.get("lineage").map_err(db_error)?;
        match (lineage, previous) {
            (None, Some(previous)) => {
                return Err(store.damaged(
                    format!(
                        "the database is empty or missing, but {SNAPSHOT_FILE} records {} resources at serial {}",
                        previous.records.len(),
                        previous.serial
                    ),
                    Some(previous.lineage),
                ));
            }
            (None, None) => {
                if let Ok(Some(backup)) = Snapshot::read(&dir.join(BACKUP_FILE)) {
                    return Err(store.damaged(
                        format!(
                            "the database and {SNAPSHOT_FILE} are missing, but {BACKUP_FILE} is left"
                        ),
                        Some(backup.lineage),
                    ));
                }
                let lineage = uuid::Uuid::new_v4().to_string();
                store.set_meta("lineage", lineage.as_bytes())?;
                store.write_snapshot()?;
            }
            (Some(lineage), Some(previous)) => {
                let lineage = String::from_utf8_lossy(&lineage).into_owned();
                let serial = store.serial()?;
                if lineage != previous.lineage {
                    return Err(store.damaged(
                        format!(
                            "the database's lineage {lineage} is not its snapshot's {}",
                            previous.lineage
                        ),
                        Some(previous.lineage),
                    ));
                }
                if serial < previous.serial {
                    return Err(store.damaged(
                        format!(
                            "the database is at serial {serial}, its snapshot at {}: committed steps are missing",
                            previous.serial
                        ),
                        Some(previous.lineage),
                    ));
                }
                if serial > previous.serial {
                    // A crash between the database's commit and the snapshot's rename.
                    store.write_snapshot()?;
                }
            }
            // A state written before snapshots existed.
            (Some(_), None) => store.write_snapshot()?,
        }
        if schema.is_none() {
            store.set_meta("schema_version", SCHEMA_VERSION.to_string().as_bytes())?;
        }
        snapshot::restrict_tree(dir);
        Ok(store)
    }

    /// Replaces whatever is under `dir` with a new database holding `from` (its lineage,
    /// serial, cloud and records): `state restore` and `state recover`. A database or snapshot
    /// found there is kept aside as `*.damaged-<unix time>`, never deleted.
    pub fn replace(dir: &Path, from: &Snapshot) -> Result<SledStore> {
        let path = dir.join(DB_DIR);
        snapshot::create_private_dir(dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if path.exists() {
            // Refuse while a run holds it: moving an open database away would lose its steps.
            match open_db(&path) {
                Err(sled::Error::Io(ref io)) if is_lock_error(io) => {
                    return Err(match read_holder(dir) {
                        Some(holder) => StoreError::LockedBy {
                            path: dir.to_path_buf(),
                            holder,
                        },
                        None => StoreError::Locked(dir.to_path_buf()),
                    });
                }
                _ => {}
            }
        }
        let stamp = chrono::Utc::now().timestamp();
        for name in [DB_DIR, SNAPSHOT_FILE] {
            let old = dir.join(name);
            if old.exists() {
                std::fs::rename(&old, dir.join(format!("{name}.damaged-{stamp}"))).map_err(
                    |e| StoreError::Backend(format!("cannot move {} aside: {e}", old.display())),
                )?;
            }
        }
        let db = open_db(&path).map_err(db_error)?;
        let store = SledStore::with_trees(db, dir)?;
        store.set_meta("schema_version", SCHEMA_VERSION.to_string().as_bytes())?;
        store.set_meta("lineage", from.lineage.as_bytes())?;
        store.set_meta("serial", from.serial.to_string().as_bytes())?;
        if let Some(cloud) = &from.cloud {
            store.set_meta("cloud", cloud.as_bytes())?;
        }
        for record in &from.records {
            store
                .resources
                .insert(record.addr.to_string().as_bytes(), encode(record)?)
                .map_err(db_error)?;
        }
        store.db.flush().map_err(db_error)?;
        store.write_snapshot()?;
        snapshot::restrict_tree(dir);
        Ok(store)
    }

    fn with_trees(db: sled::Db, dir: &Path) -> Result<SledStore> {
        Ok(SledStore {
            meta: db.open_tree(META).map_err(db_error)?,
            resources: db.open_tree(RESOURCES).map_err(db_error)?,
            audit: db.open_tree(AUDIT).map_err(db_error)?,
            db,
            dir: dir.to_path_buf(),
            holder: Mutex::new(None),
        })
    }

    fn damaged(&self, detail: String, lineage: Option<String>) -> StoreError {
        StoreError::Damaged {
            path: self.dir.clone(),
            detail,
            lineage,
        }
    }

    /// The state as it is now, as a snapshot.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot {
            schema_version: SCHEMA_VERSION,
            lineage: self.lineage()?,
            serial: self.serial()?,
            cloud: self.cloud()?,
            records: self.records()?,
            catalogs: self.catalogs()?,
        })
    }

    /// Every catalog kept, by name (meta keys `catalog:<name>`, JSON).
    fn catalogs(&self) -> Result<std::collections::BTreeMap<String, super::CatalogEntry>> {
        let mut out = std::collections::BTreeMap::new();
        for item in self.meta.scan_prefix(CATALOG_PREFIX) {
            let (key, value) = item.map_err(db_error)?;
            let name = String::from_utf8_lossy(&key[CATALOG_PREFIX.len()..]).into_owned();
            // A catalog is a cache: one that does not read is pulled again, not an error.
            if let Ok(entry) = serde_json::from_slice(&value) {
                out.insert(name, entry);
            }
        }
        Ok(out)
    }

    pub fn catalog(&self, name: &str) -> Result<Option<super::CatalogEntry>> {
        let value = self
            .meta
            .get(format!("{CATALOG_PREFIX}{name}"))
            .map_err(db_error)?;
        Ok(value.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    pub fn set_catalog(&self, name: &str, entry: &super::CatalogEntry) -> Result<()> {
        let bytes = serde_json::to_vec(entry)
            .map_err(|e| StoreError::Backend(format!("cannot encode catalog {name}: {e}")))?;
        self.set_meta(&format!("{CATALOG_PREFIX}{name}"), &bytes)?;
        self.write_snapshot()
    }

    /// Rewrites the snapshot from the database. It costs one pass over the records per step,
    /// which is what keeps readers off the lock; a state of thousands of resources would want
    /// an incremental format.
    fn write_snapshot(&self) -> Result<()> {
        self.snapshot()?.write(&self.dir.join(SNAPSHOT_FILE))
    }

    pub fn cloud(&self) -> Result<Option<String>> {
        Ok(self
            .meta
            .get("cloud")
            .map_err(db_error)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn set_cloud(&self, cloud: &str) -> Result<()> {
        self.set_meta("cloud", cloud.as_bytes())?;
        self.write_snapshot()
    }

    /// Copies the state as it is now to the backup file.
    pub fn backup(&self) -> Result<()> {
        self.snapshot()?.write(&self.dir.join(BACKUP_FILE))
    }

    pub fn lineage(&self) -> Result<String> {
        Ok(self
            .meta
            .get("lineage")
            .map_err(db_error)?
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default())
    }

    pub fn serial(&self) -> Result<u64> {
        Ok(self.meta_u64("serial")?.unwrap_or(0))
    }

    pub fn get(&self, addr: &Address) -> Result<Option<Record>> {
        let key = addr.to_string();
        match self.resources.get(key.as_bytes()).map_err(db_error)? {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every record, ordered by address.
    pub fn records(&self) -> Result<Vec<Record>> {
        let mut out: Vec<Record> = Vec::new();
        for item in self.resources.iter() {
            let (k, v) = item.map_err(db_error)?;
            out.push(decode(&String::from_utf8_lossy(&k), &v)?);
        }
        out.sort_by(|a, b| a.addr.cmp(&b.addr));
        Ok(out)
    }

    pub fn ids(&self) -> Result<BTreeMap<Address, String>> {
        Ok(self
            .records()?
            .into_iter()
            .map(|r| (r.addr, r.id))
            .collect())
    }

    /// Records `record` without an audit entry (tests and tools; apply uses [`commit`]).
    ///
    /// [`commit`]: SledStore::commit
    pub fn put(&self, record: &Record) -> Result<()> {
        self.write(Some(&Change::Put(record.clone())), None)
    }

    /// Forgets `addr` without an audit entry (tests and tools; apply uses [`commit`]).
    ///
    /// [`commit`]: SledStore::commit
    pub fn remove(&self, addr: &Address) -> Result<()> {
        self.write(Some(&Change::Remove(addr.clone())), None)
    }

    /// Appends to the audit log alone.
    pub fn audit(&self, entry: &AuditEntry) -> Result<()> {
        self.write(None, Some(entry))
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        for item in self.audit.iter() {
            let (k, v) = item.map_err(db_error)?;
            out.push(decode(&format!("audit {k:?}"), &v)?);
        }
        Ok(out)
    }

    /// One step: change, audit entry and serial in one transaction, then one flush.
    pub fn commit(&self, step: &StepWrite) -> Result<()> {
        self.write(Some(&step.change), Some(&step.audit))
    }

    fn write(&self, change: Option<&Change>, audit: Option<&AuditEntry>) -> Result<()> {
        let put = match change {
            Some(Change::Put(record)) => Some((record.addr.to_string(), encode(record)?)),
            _ => None,
        };
        let audit = audit.map(encode).transpose()?;
        let bumps = matches!(change, Some(Change::Put(_) | Change::Remove(_)));
        // The sequence comes from outside the transaction: sled may run the closure again on
        // a conflict, and a skipped number in the log is harmless.
        let seq = match audit {
            Some(_) => Some(self.db.generate_id().map_err(db_error)?),
            None => None,
        };
        (&self.meta, &self.resources, &self.audit)
            .transaction(|(meta, resources, log)| {
                match (change, &put) {
                    (_, Some((key, value))) => {
                        resources.insert(key.as_bytes(), value.as_slice())?;
                    }
                    (Some(Change::Remove(addr)), _) => {
                        resources.remove(addr.to_string().as_bytes())?;
                    }
                    _ => {}
                }
                if let (Some(seq), Some(entry)) = (seq, &audit) {
                    log.insert(&seq.to_be_bytes(), entry.as_slice())?;
                }
                if bumps {
                    let serial = meta
                        .get("serial")?
                        .and_then(|v| String::from_utf8_lossy(&v).parse::<u64>().ok())
                        .unwrap_or(0);
                    meta.insert("serial", (serial + 1).to_string().as_bytes())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => db_error(e),
                TransactionError::Abort(()) => StoreError::Backend("transaction aborted".into()),
            })?;
        self.db.flush().map_err(db_error)?;
        if bumps {
            self.write_snapshot()?;
        }
        Ok(())
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.meta.insert(key, value).map_err(db_error)?;
        self.db.flush().map_err(db_error)?;
        Ok(())
    }

    fn meta_u64(&self, key: &str) -> Result<Option<u64>> {
        Ok(self
            .meta
            .get(key)
            .map_err(db_error)?
            .and_then(|v| String::from_utf8_lossy(&v).parse().ok()))
    }

    fn take_lock(&self, holder: &LockInfo) -> Result<()> {
        let mut mine = self.holder.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(current) = mine.as_ref() {
            return Err(StoreError::LockedBy {
                path: self.dir.clone(),
                holder: current.clone(),
            });
        }
        let json = serde_json::to_vec(holder).map_err(|e| StoreError::Backend(e.to_string()))?;
        // Written aside and renamed so that a waiting process never reads half a file.
        let tmp = self.dir.join(format!("{HOLDER_FILE}.tmp"));
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, self.dir.join(HOLDER_FILE)))
            .map_err(|e| StoreError::Backend(format!("cannot record the lock holder: {e}")))?;
        *mine = Some(holder.clone());
        Ok(())
    }

    fn release_lock(&self) {
        let mut mine = self.holder.lock().unwrap_or_else(|p| p.into_inner());
        if mine.take().is_some() {
            let _ = std::fs::remove_file(self.dir.join(HOLDER_FILE));
        }
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.release_lock();
    }
}

/// sled works in memory and on local files: each call returns at once, its result wrapped in
/// a ready future.
impl StateStore for SledStore {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn lock<'a>(&'a self, holder: &'a LockInfo) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(self.take_lock(holder)))
    }

    fn unlock(&self) -> StoreFuture<'_, ()> {
        self.release_lock();
        Box::pin(std::future::ready(Ok(())))
    }

    fn lineage(&self) -> StoreFuture<'_, String> {
        Box::pin(std::future::ready(SledStore::lineage(self)))
    }

    fn serial(&self) -> StoreFuture<'_, u64> {
        Box::pin(std::future::ready(SledStore::serial(self)))
    }

    fn get<'a>(&'a self, addr: &'a Address) -> StoreFuture<'a, Option<Record>> {
        Box::pin(std::future::ready(SledStore::get(self, addr)))
    }

    fn records(&self) -> StoreFuture<'_, Vec<Record>> {
        Box::pin(std::future::ready(SledStore::records(self)))
    }

    fn commit<'a>(&'a self, step: &'a StepWrite) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(SledStore::commit(self, step)))
    }

    fn history(&self) -> StoreFuture<'_, Vec<AuditEntry>> {
        Box::pin(std::future::ready(self.audit_log()))
    }

    fn cloud(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(std::future::ready(SledStore::cloud(self)))
    }

    fn set_cloud<'a>(&'a self, cloud: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(SledStore::set_cloud(self, cloud)))
    }

    fn catalog<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<super::CatalogEntry>> {
        Box::pin(std::future::ready(SledStore::catalog(self, name)))
    }

    fn set_catalog<'a>(
        &'a self,
        name: &'a str,
        entry: &'a super::CatalogEntry,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(SledStore::set_catalog(
            self, name, entry,
        )))
    }

    fn backup(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(SledStore::backup(self)))
    }
}

fn db_error(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            key: format!("at {at:?}"),
            detail: "sled found a damaged page".to_string(),
        },
        other => StoreError::Backend(other.to_string()),
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("cannot encode: {e}")))
}

fn decode<T: for<'de> Deserialize<'de>>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        detail: e.to_string(),
    })
}

/// How long a lock may outlive the handle that held it: sled's background writer threads keep
/// the database file, and with it the lock, for a moment after the last handle is dropped (a
/// run that reopens its own state at once would otherwise find it "locked").
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

fn open_db(path: &Path) -> sled::Result<sled::Db> {
    let started = std::time::Instant::now();
    loop {
        match sled::Config::new().path(path).open() {
            Err(sled::Error::Io(ref io)) if is_lock_error(io) && started.elapsed() < LOCK_GRACE => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn read_holder(dir: &Path) -> Option<LockInfo> {
    let bytes = std::fs::read(dir.join(HOLDER_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn is_lock_error(e: &std::io::Error) -> bool {
    // sled reports the lock held by another process as WouldBlock (flock EWOULDBLOCK) or
    // with a message naming the lock.
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("lock")
}

#[cfg(test)]
mod tests {
    use super::super::{conformance, now};
    use super::SledStore as Store;
    use super::*;
    use crate::addr::Kind;
    use crate::spec::Attrs;

    fn record(name: &str, id: &str) -> Record {
        Record {
            addr: Address::new(Kind::Network, name),
            id: id.to_string(),
            attrs: Attrs::from([("name".to_string(), serde_json::json!(name))]),
            updated_at: now(),
        }
    }

    #[test]
    fn records_survive_reopen_and_serial_counts_writes() {
        let dir = tempfile::tempdir().unwrap();
        let lineage;
        {
            let store = Store::open(dir.path()).unwrap();
            lineage = store.lineage().unwrap();
            assert_eq!(lineage.len(), 36);
            store.put(&record("b", "id-b")).unwrap();
            store.put(&record("a", "id-a")).unwrap();
            store.remove(&Address::new(Kind::Network, "b")).unwrap();
            assert_eq!(store.serial().unwrap(), 3);
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.lineage().unwrap(), lineage);
        let ids = store.ids().unwrap();
        assert_eq!(
            ids,
            BTreeMap::from([(Address::new(Kind::Network, "a"), "id-a".to_string())])
        );
        assert_eq!(store.serial().unwrap(), 3);
    }

    #[test]
    fn audit_log_keeps_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for action in ["create", "update", "delete"] {
            store
                .audit(&AuditEntry {
                    at: now(),
                    addr: Address::new(Kind::Tenant, "demo"),
                    action: action.to_string(),
                    id: None,
                    outcome: "ok".to_string(),
                })
                .unwrap();
        }
        let actions: Vec<_> = store
            .audit_log()
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["create", "update", "delete"]);
    }

    #[test]
    fn a_second_open_while_held_says_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _held = Store::open(dir.path()).unwrap();
        // sled's lock is per process file descriptor (flock), so a second open in the same
        // process conflicts too, as a second stackform process would.
        match Store::open(dir.path()) {
            Err(StoreError::Locked(p)) => assert_eq!(p, dir.path()),
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("expected Locked, got a second handle"),
        }
    }

    /// Fills a state with two records and returns its lineage; the handle is dropped.
    fn filled(dir: &Path) -> String {
        let store = Store::open(dir).unwrap();
        store.put(&record("a", "id-a")).unwrap();
        store.put(&record("b", "id-b")).unwrap();
        store.lineage().unwrap()
    }

    fn expect_damaged(dir: &Path, lineage: &str) -> String {
        match Store::open(dir) {
            Err(e @ StoreError::Damaged { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains(&format!("stackform state recover --lineage {lineage}")),
                    "{message}"
                );
                assert!(message.contains("stackform state restore"), "{message}");
                assert!(!message.contains('\n'), "one line: {message}");
                message
            }
            Err(other) => panic!("expected Damaged, got {other}"),
            Ok(_) => panic!("expected Damaged, got a state"),
        }
    }

    /// Regression (issue 7): a truncated database opened as a new, empty state with a new
    /// lineage, orphaning every resource the old one had tagged.
    #[test]
    fn a_truncated_database_is_damaged_not_new_and_restore_brings_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let lineage = filled(dir.path());
        std::thread::sleep(LOCK_GRACE);
        std::fs::write(dir.path().join(DB_DIR).join("db"), b"").unwrap();
        expect_damaged(dir.path(), &lineage);
        // Refusing changed nothing: the evidence is still there, the refusal repeats.
        expect_damaged(dir.path(), &lineage);

        let snapshot = Snapshot::read(&dir.path().join(SNAPSHOT_FILE))
            .unwrap()
            .expect("the snapshot");
        drop(Store::replace(dir.path(), &snapshot).unwrap());
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.lineage().unwrap(), lineage);
        assert_eq!(store.ids().unwrap().len(), 2);
        assert_eq!(store.serial().unwrap(), 2);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".damaged-"))
            .count();
        assert_eq!(aside, 2, "the damaged database and snapshot are kept aside");
    }

    #[test]
    fn a_garbled_database_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let lineage = filled(dir.path());
        std::thread::sleep(LOCK_GRACE);
        let db = dir.path().join(DB_DIR).join("db");
        let len = std::fs::metadata(&db).unwrap().len() as usize;
        std::fs::write(&db, vec![0x5a; len.max(4096)]).unwrap();
        expect_damaged(dir.path(), &lineage);
    }

    #[test]
    fn a_deleted_database_beside_its_snapshot_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let lineage = filled(dir.path());
        std::thread::sleep(LOCK_GRACE);
        std::fs::remove_dir_all(dir.path().join(DB_DIR)).unwrap();
        expect_damaged(dir.path(), &lineage);
    }

    #[test]
    fn a_lone_backup_is_a_sign_of_an_earlier_state() {
        let dir = tempfile::tempdir().unwrap();
        let lineage = {
            let store = Store::open(dir.path()).unwrap();
            store.put(&record("a", "id-a")).unwrap();
            store.backup().unwrap();
            store.lineage().unwrap()
        };
        std::thread::sleep(LOCK_GRACE);
        std::fs::remove_dir_all(dir.path().join(DB_DIR)).unwrap();
        std::fs::remove_file(dir.path().join(SNAPSHOT_FILE)).unwrap();
        expect_damaged(dir.path(), &lineage);
    }

    #[cfg(unix)]
    #[test]
    fn the_state_folder_and_its_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let store = Store::open(&state).unwrap();
        store.put(&record("a", "id-a")).unwrap();
        store.backup().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join(DB_DIR)), 0o700);
        assert_eq!(mode(&state.join(DB_DIR).join("db")), 0o600);
        assert_eq!(mode(&state.join(SNAPSHOT_FILE)), 0o600);
        assert_eq!(mode(&state.join(BACKUP_FILE)), 0o600);
    }

    fn factory(base: &Path) -> impl Fn(&str) -> Result<Box<dyn StateStore>> + '_ {
        move |name| SledStore::open(&base.join(name)).map(|s| Box::new(s) as Box<dyn StateStore>)
    }

    /// The conformance suite, run for sled: every backend must pass it.
    #[tokio::test]
    async fn sled_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        conformance::run_all(&factory(dir.path())).await;
    }

    /// The child of [`sled_loses_no_completed_step_when_the_process_aborts_mid_step`]; does
    /// nothing when run as an ordinary test.
    #[test]
    fn crash_child() {
        if let Ok(dir) = std::env::var("STACKFORM_CRASH_CHILD_DIR") {
            conformance::crash_child(&factory(Path::new(&dir)));
        }
    }

    #[tokio::test]
    async fn sled_loses_no_completed_step_when_the_process_aborts_mid_step() {
        let dir = tempfile::tempdir().unwrap();
        conformance::reopen_after_crash(&factory(dir.path()), || {
            std::process::Command::new(std::env::current_exe().expect("the test binary"))
                .args([
                    "--exact",
                    "store::sled_store::tests::crash_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("STACKFORM_CRASH_CHILD_DIR", dir.path())
                .output()
                .expect("the test binary runs as the crashing child")
        })
        .await;
    }
}
