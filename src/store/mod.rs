//! The state: a sled database under the state folder.
//!
//! Owns what stackform remembers between runs: the lineage id (stamped on every resource
//! stackform creates), each managed resource's address → id and last known attributes, a
//! serial incremented on every write, the schema version, and an append-only audit log of
//! every change applied. Every write is flushed before returning, so a killed apply loses
//! nothing it reported done. Knows nothing of OpenStack or TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::addr::Address;
use crate::spec::Attrs;

/// Bumped when the layout of stored values changes; an older binary refuses a newer state.
pub const SCHEMA_VERSION: u64 = 1;

const META: &str = "meta";
const RESOURCES: &str = "resources";
const AUDIT: &str = "audit";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the state in {0} is locked by another stackform process; wait for it to finish, or stop it"
    )]
    Locked(PathBuf),
    #[error("cannot open the state in {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error(
        "the state in {path} has schema version {found}, newer than this stackform ({SCHEMA_VERSION}); upgrade stackform"
    )]
    TooNew { path: PathBuf, found: u64 },
    #[error("state database error: {0}")]
    Db(#[from] sled::Error),
    #[error("corrupt state record {key}: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One managed resource as last recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub addr: Address,
    pub id: String,
    /// The attributes as last applied or observed (normalized like spec attributes).
    pub attrs: Attrs,
    pub updated_at: String,
}

/// One line of the audit log: a change stackform made, or tried to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub addr: Address,
    /// create, update, delete, adopt
    pub action: String,
    pub id: Option<String>,
    /// "ok" or the error's one-line message.
    pub outcome: String,
}

pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    resources: sled::Tree,
    audit: sled::Tree,
}

impl Store {
    /// Opens (creating if needed) the state under `dir`. Fails with [`StoreError::Locked`]
    /// while another process has it open: sled holds an exclusive file lock.
    pub fn open(dir: &Path) -> Result<Store> {
        let path = dir.join("stackform.db");
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            source: sled::Error::Io(e),
        })?;
        let db = sled::Config::new()
            .path(&path)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if is_lock_error(io) => {
                    StoreError::Locked(dir.to_path_buf())
                }
                source => StoreError::Open {
                    path: path.clone(),
                    source,
                },
            })?;
        let store = Store {
            meta: db.open_tree(META)?,
            resources: db.open_tree(RESOURCES)?,
            audit: db.open_tree(AUDIT)?,
            db,
        };
        match store.meta_u64("schema_version")? {
            Some(found) if found > SCHEMA_VERSION => {
                return Err(StoreError::TooNew { path, found });
            }
            Some(_) => {}
            None => store.set_meta("schema_version", SCHEMA_VERSION.to_string().as_bytes())?,
        }
        if store.meta.get("lineage")?.is_none() {
            let lineage = uuid::Uuid::new_v4().to_string();
            store.set_meta("lineage", lineage.as_bytes())?;
        }
        Ok(store)
    }

    /// The id that ties cloud resources to this state (their `stackform-lineage:` tag).
    pub fn lineage(&self) -> Result<String> {
        Ok(self
            .meta
            .get("lineage")?
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default())
    }

    /// Incremented on every write; lets a reader tell whether the state moved.
    pub fn serial(&self) -> Result<u64> {
        Ok(self.meta_u64("serial")?.unwrap_or(0))
    }

    pub fn get(&self, addr: &Address) -> Result<Option<Record>> {
        let key = addr.to_string();
        match self.resources.get(key.as_bytes())? {
            Some(v) => Ok(Some(decode(&key, &v)?)),
            None => Ok(None),
        }
    }

    /// Every record, ordered by address.
    pub fn records(&self) -> Result<Vec<Record>> {
        let mut out: Vec<Record> = Vec::new();
        for item in self.resources.iter() {
            let (k, v) = item?;
            out.push(decode(&String::from_utf8_lossy(&k), &v)?);
        }
        out.sort_by(|a, b| a.addr.cmp(&b.addr));
        Ok(out)
    }

    /// address → id of every record.
    pub fn ids(&self) -> Result<BTreeMap<Address, String>> {
        Ok(self
            .records()?
            .into_iter()
            .map(|r| (r.addr, r.id))
            .collect())
    }

    pub fn put(&self, record: &Record) -> Result<()> {
        let value = serde_json::to_vec(record).map_err(|source| StoreError::Corrupt {
            key: record.addr.to_string(),
            source,
        })?;
        self.resources
            .insert(record.addr.to_string().as_bytes(), value)?;
        self.bump_and_flush()
    }

    pub fn remove(&self, addr: &Address) -> Result<()> {
        self.resources.remove(addr.to_string().as_bytes())?;
        self.bump_and_flush()
    }

    pub fn audit(&self, entry: &AuditEntry) -> Result<()> {
        let seq = self.db.generate_id()?;
        let value = serde_json::to_vec(entry).map_err(|source| StoreError::Corrupt {
            key: format!("audit {seq}"),
            source,
        })?;
        self.audit.insert(seq.to_be_bytes(), value)?;
        self.db.flush()?;
        Ok(())
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        for item in self.audit.iter() {
            let (k, v) = item?;
            out.push(decode(&format!("audit {k:?}"), &v)?);
        }
        Ok(out)
    }

    fn bump_and_flush(&self) -> Result<()> {
        let next = self.serial()? + 1;
        self.set_meta("serial", next.to_string().as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.meta.insert(key, value)?;
        self.db.flush()?;
        Ok(())
    }

    fn meta_u64(&self, key: &str) -> Result<Option<u64>> {
        Ok(self
            .meta
            .get(key)?
            .and_then(|v| String::from_utf8_lossy(&v).parse().ok()))
    }
}

fn decode<T: for<'de> Deserialize<'de>>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        key: key.to_string(),
        source,
    })
}

fn is_lock_error(e: &std::io::Error) -> bool {
    // sled reports the lock held by another process as WouldBlock (flock EWOULDBLOCK) or
    // with a message naming the lock.
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("lock")
}

/// The current time, as stored in records and the audit log.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Kind;

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
}
