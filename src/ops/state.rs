//! The state side of a run: opening it locked (waiting up to `--lock-timeout`) or read-only,
//! checking that it belongs to the cloud the run reaches, and rebuilding it — from its
//! snapshot or backup (`state restore`) or from the cloud's ownership tags (`state recover`).
//!
//! Sees only [`StateStore`] and the sled backend's constructors; knows nothing of clap.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{OpsError, Result, Workspace};
use crate::openstack::{AuthConfig, DomainRef};
use crate::store::snapshot::{BACKUP_FILE, SNAPSHOT_FILE};
use crate::store::{
    LockInfo, ReadOnlyStore, SCHEMA_VERSION, SledStore, Snapshot, StateStore, StoreError,
};

/// How often a run waiting for the lock tries again.
const LOCK_RETRY: Duration = Duration::from_millis(250);

/// Opens the state and takes its lock for `operation`, retrying while another run holds it
/// until `timeout` has passed (zero: fail at once, naming the holder).
pub async fn open_locked(
    ws: &Workspace,
    operation: &str,
    timeout: Duration,
) -> Result<Box<dyn StateStore>> {
    let started = Instant::now();
    loop {
        match SledStore::open(&ws.state) {
            Ok(store) => {
                let store: Box<dyn StateStore> = Box::new(store);
                store.lock(&LockInfo::current(operation)).await?;
                return Ok(store);
            }
            Err(e) if e.is_locked() && started.elapsed() < timeout => {
                let left = timeout.saturating_sub(started.elapsed());
                tokio::time::sleep(left.min(LOCK_RETRY)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The state for reading (plan, state list, state show), without its lock.
///
/// sled has no read-only mode and its exclusive file lock keeps a second process out while a
/// run has the database open, so a reader opens the database only for the moment it takes
/// to copy it when it is free (a run starting meanwhile waits out sled's short grace period),
/// and otherwise reads the snapshot that every commit rewrites atomically: the last committed
/// step, never half of one.
pub fn open_read(ws: &Workspace) -> Result<Box<dyn StateStore>> {
    let snapshot = match SledStore::open(&ws.state) {
        Ok(store) => store.snapshot()?,
        Err(e) if e.is_locked() => match Snapshot::read(&ws.state.join(SNAPSHOT_FILE))? {
            Some(snapshot) => snapshot,
            // Held by a stackform that writes no snapshot: nothing to read but the database.
            None => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    Ok(Box::new(ReadOnlyStore::new(&ws.state, snapshot)))
}

/// What identifies the cloud a run reaches, as recorded in the state: the embedded cloud (its
/// port changes every run, its data sits in the state folder), or the auth URL, region and
/// project domain of a real one.
pub fn cloud_identity(auth: Option<&AuthConfig>) -> String {
    let Some(auth) = auth else {
        return "the embedded cloud".to_string();
    };
    let url = auth.auth_url.trim_end_matches('/');
    let url = url.strip_suffix("/v3").unwrap_or(url);
    let domain = match &auth.project_domain {
        DomainRef::Name(name) => name.clone(),
        DomainRef::Id(id) => format!("id {id}"),
    };
    format!(
        "{url} (region {}, project domain {domain})",
        auth.region.as_deref().unwrap_or("any")
    )
}

/// Refuses a run against another cloud than the one the state belongs to, unless `migrate`.
pub async fn check_cloud(store: &dyn StateStore, reached: &str, migrate: bool) -> Result<()> {
    match store.cloud().await? {
        Some(recorded) if recorded != reached && !migrate => Err(OpsError::OtherCloud {
            state: PathBuf::from(store.location()),
            recorded,
            reached: reached.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Where `state restore` reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreFrom {
    /// The last committed step.
    Snapshot,
    /// The state as it was before the last apply or destroy.
    Backup,
}

/// Rebuilds the state's database from its snapshot or backup; the damaged database is kept
/// aside. Returns what was restored.
pub fn restore(ws: &Workspace, from: RestoreFrom) -> Result<Snapshot> {
    let file = match from {
        RestoreFrom::Snapshot => SNAPSHOT_FILE,
        RestoreFrom::Backup => BACKUP_FILE,
    };
    let path = ws.state.join(file);
    let Some(snapshot) = Snapshot::read(&path)? else {
        return Err(StoreError::Open {
            path,
            detail: "no such file; try `stackform state restore --backup`, or `stackform state recover --lineage ID`".to_string(),
        }
        .into());
    };
    SledStore::replace(&ws.state, &snapshot)?;
    Ok(snapshot)
}

/// Makes a new, empty state with `lineage`, for [`super::recover`]: refused when the state
/// opens fine and holds resources (nothing is lost, nothing to recover).
pub fn create_for_recovery(ws: &Workspace, lineage: &str) -> Result<Box<dyn StateStore>> {
    let usable = lineage.len() <= 64
        && !lineage.is_empty()
        && lineage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !usable {
        return Err(OpsError::Usage(format!(
            "{lineage:?} is not a lineage id; it is the value of the resources' `stackform-lineage:` tag"
        )));
    }
    match SledStore::open(&ws.state) {
        Ok(store) => {
            let records = store.records()?.len();
            if records > 0 {
                return Err(OpsError::Usage(format!(
                    "the state in {} is readable and holds {records} resources: nothing to recover; move it away first if it really is wrong",
                    ws.state.display()
                )));
            }
        }
        Err(StoreError::Damaged { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let empty = Snapshot {
        schema_version: SCHEMA_VERSION,
        lineage: lineage.to_string(),
        serial: 0,
        cloud: None,
        records: Vec::new(),
        catalogs: Default::default(),
    };
    Ok(Box::new(SledStore::replace(&ws.state, &empty)?))
}
