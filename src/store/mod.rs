//! The state: what stackform remembers between runs, behind the [`StateStore`] trait.
//!
//! Owns the lineage id (stamped on every resource stackform creates), each managed resource's
//! address → id and last known attributes, a serial that counts changes, the schema version,
//! the append-only history (audit log) of every change applied, and the lock that keeps two
//! runs from writing one state. [`SledStore`] (an embedded sled database under the state
//! folder) is the default backend; a shared PostgreSQL backend is to implement the same trait
//! and pass the same `conformance` suite (run by the tests).
//!
//! Knows nothing of OpenStack, TOML or the apply engine: a step is a record written or
//! removed together with its audit entry, nothing more.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::addr::Address;
use crate::spec::Attrs;

#[cfg(test)]
pub(crate) mod conformance;
pub mod credentials;
mod sled_store;
pub mod snapshot;

pub use sled_store::SledStore;
pub use snapshot::{ReadOnlyStore, Snapshot};

/// Bumped when the layout of stored values changes; an older binary refuses a newer state.
pub const SCHEMA_VERSION: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Held by a process that did not say who it is (or an older stackform).
    #[error(
        "the state in {0} is locked by another stackform process; wait for it to finish, or stop it"
    )]
    Locked(PathBuf),
    #[error("the state in {path} is locked by {holder}; wait for it to finish, or stop it")]
    LockedBy { path: PathBuf, holder: LockInfo },
    #[error("cannot open the state in {path}: {detail}; check the path and its permissions")]
    Open { path: PathBuf, detail: String },
    #[error(
        "the state in {path} has schema version {found}, newer than this stackform ({SCHEMA_VERSION}); upgrade stackform"
    )]
    TooNew { path: PathBuf, found: u64 },
    /// A read or write failed in the backend (I/O, connection); the state is as it was.
    #[error("state database error: {0}")]
    Backend(String),
    #[error("corrupt state record {key}: {detail}; restore the state folder from a backup")]
    Corrupt { key: String, detail: String },
    /// The database is unreadable, or older than the snapshot written beside it (truncated,
    /// overwritten, deleted): never silently a new state, since a new lineage would orphan
    /// every resource the old one tagged.
    #[error(
        "the state in {path} is damaged ({detail}); nothing was changed: run `stackform state restore` (last snapshot), `stackform state restore --backup` (before the last apply) or `stackform state recover --lineage {}` (from the cloud's ownership tags)",
        lineage.as_deref().unwrap_or("<lineage id>")
    )]
    Damaged {
        path: PathBuf,
        detail: String,
        lineage: Option<String>,
    },
    /// A write was asked of a read-only view (a snapshot read while another run holds the lock).
    #[error("the state in {0} is open read-only; run the command again when the lock is free")]
    ReadOnly(PathBuf),
}

impl StoreError {
    /// Another run holds the state: worth waiting for (`--lock-timeout`).
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Locked(_) | StoreError::LockedBy { .. })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What the backends' methods return: boxed so that the trait is object safe (the backend is
/// chosen at run time, `Box<dyn StateStore>`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

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
    /// create, update, delete, adopt, forget
    pub action: String,
    pub id: Option<String>,
    /// "ok" or the error's one-line message.
    pub outcome: String,
}

/// What one step changes in the records; its audit entry goes with it in [`StepWrite`].
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Put(Record),
    Remove(Address),
    /// Nothing recorded changes (a failed step): only the audit entry is written.
    None,
}

/// One step of an apply, written all or nothing: after a crash the state holds either both
/// the change and its audit entry, or neither.
#[derive(Clone, Debug, PartialEq)]
pub struct StepWrite {
    pub change: Change,
    pub audit: AuditEntry,
}

/// Who holds the lock, so that the one who waits knows whom to wait for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The command: plan, apply, destroy.
    pub operation: String,
    /// user@host
    pub who: String,
    pub pid: u32,
    pub created: String,
}

impl LockInfo {
    /// This process, about to run `operation`.
    pub fn current(operation: &str) -> LockInfo {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".to_string());
        LockInfo {
            operation: operation.to_string(),
            who: format!("{user}@{host}"),
            pid: std::process::id(),
            created: now(),
        }
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stackform {} (pid {}, {}, since {})",
            self.operation, self.pid, self.who, self.created
        )
    }
}

/// A state backend.
///
/// Async, because the shared backend (PostgreSQL) is a network round trip and the apply engine
/// runs on tokio next to the API calls in flight: a blocking trait would stall a runtime worker
/// per write (and blocking PostgreSQL clients refuse to run inside a runtime). The futures are
/// boxed so that `dyn StateStore` works: the backend is chosen by configuration at run time.
/// A local backend may do its work before returning a ready future, as [`SledStore`] does.
///
/// Every write is durable when its future resolves: a crash afterwards loses nothing reported
/// done. Writes of one step are atomic ([`StateStore::commit`]).
pub trait StateStore: Send + Sync {
    /// Where the state lives, for messages (a folder, a database URL without credentials).
    fn location(&self) -> String;

    /// Takes the lock for `holder`'s run; fails with [`StoreError::LockedBy`] naming the
    /// current holder while another handle holds it. The lock lives until [`unlock`] or until
    /// this handle is dropped.
    ///
    /// [`unlock`]: StateStore::unlock
    fn lock<'a>(&'a self, holder: &'a LockInfo) -> StoreFuture<'a, ()>;

    fn unlock(&self) -> StoreFuture<'_, ()>;

    /// The id that ties cloud resources to this state (their `stackform-lineage:` tag); made
    /// once when the state is created, never changed.
    fn lineage(&self) -> StoreFuture<'_, String>;

    /// Incremented by every commit that changes a record; lets a reader tell whether the
    /// state moved.
    fn serial(&self) -> StoreFuture<'_, u64>;

    fn get<'a>(&'a self, addr: &'a Address) -> StoreFuture<'a, Option<Record>>;

    /// Every record, ordered by address.
    fn records(&self) -> StoreFuture<'_, Vec<Record>>;

    /// Writes one step atomically: the record change, its audit entry and the serial, all or
    /// nothing, durable on return.
    fn commit<'a>(&'a self, step: &'a StepWrite) -> StoreFuture<'a, ()>;

    /// The audit log, oldest first.
    fn history(&self) -> StoreFuture<'_, Vec<AuditEntry>>;

    /// The cloud this state belongs to (auth URL, region, project domain, or the embedded
    /// cloud), once a run recorded it; planning against another cloud is refused. A backend
    /// that records none (a test double) answers `None`, which accepts any cloud.
    fn cloud(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Records the cloud this state belongs to.
    fn set_cloud<'a>(&'a self, _cloud: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// The catalog `name` last pulled from the cloud (the volume catalog: types, zones,
    /// limits), with the time it was pulled; `None` before any pull. A backend that keeps
    /// none answers `None`, and every plan then pulls it again.
    fn catalog<'a>(&'a self, _name: &'a str) -> StoreFuture<'a, Option<CatalogEntry>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Records catalog `name`, replacing the one before.
    fn set_catalog<'a>(&'a self, _name: &'a str, _entry: &'a CatalogEntry) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Keeps a copy of the state as it is now (the previous generation, restored by
    /// `stackform state restore --backup`), before a run changes it. A backend with a history
    /// of its own (PostgreSQL) may keep nothing more.
    fn backup(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// address → id of every record.
    fn ids(&self) -> StoreFuture<'_, BTreeMap<Address, String>> {
        Box::pin(async move {
            Ok(self
                .records()
                .await?
                .into_iter()
                .map(|r| (r.addr, r.id))
                .collect())
        })
    }
}

/// A catalog read from the cloud, as the state keeps it: what was read, and when.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CatalogEntry {
    /// RFC 3339, as [`now`] writes it.
    pub pulled_at: String,
    pub content: serde_json::Value,
}

impl CatalogEntry {
    /// How long ago it was pulled (zero for a time in the future or unreadable: a clock
    /// set back must not make a catalog look fresh forever, so unreadable counts as old).
    pub fn age(&self) -> Option<std::time::Duration> {
        let pulled = chrono::DateTime::parse_from_rfc3339(&self.pulled_at).ok()?;
        (chrono::Utc::now() - pulled.with_timezone(&chrono::Utc))
            .to_std()
            .ok()
    }
}

/// The current time, as stored in records and the audit log.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
