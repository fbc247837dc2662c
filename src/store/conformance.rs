//! The conformance suite every [`StateStore`] backend must pass, in the spirit of Terraform's
//! `statemgr.TestFull`: round trips, the atomic step, lock exclusion naming the holder, the
//! serial, a lineage stable across reopening, and no completed step lost by a crash.
//!
//! Generic over a factory `open(name)` that opens (creating if needed) the state called
//! `name`; opening the same name again must reach the same state, as another process would.
//! Each check uses its own name, so the checks do not depend on one another. Knows nothing of
//! any backend.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Output;
use std::time::Duration;

use serde_json::json;

use super::{AuditEntry, Change, LockInfo, Record, Result, StateStore, StepWrite, StoreError};
use crate::addr::{Address, Kind};
use crate::spec::Attrs;

/// Opens the state called by the argument.
pub type Factory<'a> = dyn Fn(&str) -> Result<Box<dyn StateStore>> + 'a;

/// Every check but the crash one, which needs a child process ([`reopen_after_crash`]).
pub async fn run_all(open: &Factory<'_>) {
    round_trips(open).await;
    a_step_writes_its_change_and_audit_entry_together(open).await;
    the_lock_excludes_others_and_names_its_holder(open).await;
    the_serial_counts_changes_and_survives_reopen(open).await;
    the_lineage_is_stable_across_reopen_and_distinct_per_state(open).await;
    the_cloud_is_remembered_across_reopen(open).await;
    catalogs_are_kept_with_their_time_and_replaced(open).await;
}

/// A catalog pulled from the cloud is kept with the time it was pulled, per name, across
/// reopening; a newer pull replaces it.
async fn catalogs_are_kept_with_their_time_and_replaced(open: &Factory<'_>) {
    let first = super::CatalogEntry {
        pulled_at: "2026-01-02T03:04:05Z".into(),
        content: json!({"volume_types": ["__DEFAULT__", "ssd"], "zones": ["nova"]}),
    };
    {
        let store = opened(open, "catalog");
        assert_eq!(
            store.catalog("volume").await.unwrap(),
            None,
            "none before a pull"
        );
        store.set_catalog("volume", &first).await.unwrap();
        assert_eq!(store.catalog("volume").await.unwrap(), Some(first.clone()));
        assert_eq!(store.catalog("other").await.unwrap(), None, "per name");
    }
    let store = opened(open, "catalog");
    assert_eq!(store.catalog("volume").await.unwrap(), Some(first.clone()));
    let newer = super::CatalogEntry {
        pulled_at: super::now(),
        content: json!({"volume_types": ["__DEFAULT__"], "zones": ["nova"]}),
    };
    store.set_catalog("volume", &newer).await.unwrap();
    assert_eq!(store.catalog("volume").await.unwrap(), Some(newer.clone()));
    assert!(newer.age().is_some_and(|age| age.as_secs() < 60));
    assert!(first.age().is_some_and(|age| age.as_secs() > 3600));
}

/// A state remembers which cloud it belongs to, so that a run against another is refused.
async fn the_cloud_is_remembered_across_reopen(open: &Factory<'_>) {
    let cloud = "https://keystone.example:5000 (region RegionOne, project domain Default)";
    {
        let store = opened(open, "cloud");
        assert_eq!(
            store.cloud().await.unwrap(),
            None,
            "a new state knows no cloud"
        );
        store.set_cloud(cloud).await.unwrap();
    }
    let store = opened(open, "cloud");
    assert_eq!(store.cloud().await.unwrap().as_deref(), Some(cloud));
}

fn addr(name: &str) -> Address {
    Address::new(Kind::Network, name)
}

fn record(name: &str, id: &str) -> Record {
    Record {
        addr: addr(name),
        id: id.to_string(),
        // Nested values and non-ASCII text must come back exactly.
        attrs: Attrs::from([
            ("name".to_string(), json!(name)),
            ("tags".to_string(), json!(["a", "ü", {"k": [1, 2.5, null]}])),
        ]),
        updated_at: super::now(),
    }
}

fn entry(name: &str, action: &str, id: Option<&str>, outcome: &str) -> AuditEntry {
    AuditEntry {
        at: super::now(),
        addr: addr(name),
        action: action.to_string(),
        id: id.map(str::to_string),
        outcome: outcome.to_string(),
    }
}

fn put(name: &str, id: &str, action: &str) -> StepWrite {
    StepWrite {
        change: Change::Put(record(name, id)),
        audit: entry(name, action, Some(id), "ok"),
    }
}

fn remove(name: &str) -> StepWrite {
    StepWrite {
        change: Change::Remove(addr(name)),
        audit: entry(name, "delete", None, "ok"),
    }
}

fn opened(open: &Factory<'_>, name: &str) -> Box<dyn StateStore> {
    open(name).unwrap_or_else(|e| panic!("opening state {name}: {e}"))
}

async fn commit(store: &dyn StateStore, step: &StepWrite) {
    store
        .commit(step)
        .await
        .unwrap_or_else(|e| panic!("commit {step:?}: {e}"));
}

async fn round_trips(open: &Factory<'_>) {
    let a = put("a", "id-a", "create");
    let b = put("b", "id-b", "create");
    let a2 = put("a", "id-a2", "update");
    {
        let store = opened(open, "round-trip");
        assert!(store.records().await.unwrap().is_empty(), "a new state");
        assert!(store.history().await.unwrap().is_empty(), "a new state");
        for step in [&b, &a, &a2, &remove("b")] {
            commit(store.as_ref(), step).await;
        }
        let Change::Put(expected) = &a2.change else {
            unreachable!()
        };
        assert_eq!(
            store.get(&addr("a")).await.unwrap().as_ref(),
            Some(expected)
        );
        assert_eq!(store.get(&addr("b")).await.unwrap(), None);
        assert_eq!(store.get(&addr("never")).await.unwrap(), None);
    }
    let store = opened(open, "round-trip");
    let Change::Put(expected) = &a2.change else {
        unreachable!()
    };
    assert_eq!(
        store.records().await.unwrap(),
        std::slice::from_ref(expected)
    );
    assert_eq!(
        store.ids().await.unwrap().into_iter().collect::<Vec<_>>(),
        [(addr("a"), "id-a2".to_string())]
    );
    let history = store.history().await.unwrap();
    let expected: Vec<AuditEntry> = [&b, &a, &a2, &remove("b")]
        .iter()
        .map(|s| s.audit.clone())
        .collect();
    let strip = |h: &[AuditEntry]| -> Vec<(Address, String, Option<String>, String)> {
        h.iter()
            .map(|e| {
                (
                    e.addr.clone(),
                    e.action.clone(),
                    e.id.clone(),
                    e.outcome.clone(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&history), strip(&expected), "history, oldest first");

    // Records come back ordered by address, whatever the order of writing.
    let store = opened(open, "ordering");
    for name in ["m", "c", "x", "a"] {
        commit(store.as_ref(), &put(name, name, "create")).await;
    }
    let names: Vec<String> = store
        .records()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.addr.name)
        .collect();
    assert_eq!(names, ["a", "c", "m", "x"]);
}

async fn a_step_writes_its_change_and_audit_entry_together(open: &Factory<'_>) {
    let store = opened(open, "atomic-step");
    let step = put("net", "id-1", "create");
    commit(store.as_ref(), &step).await;
    assert_eq!(
        store.ids().await.unwrap().get(&addr("net")).cloned(),
        Some("id-1".into())
    );
    assert_eq!(store.history().await.unwrap().last(), Some(&step.audit));

    let failed = StepWrite {
        change: Change::None,
        audit: entry("other", "create", None, "409 Conflict: quota exceeded"),
    };
    let serial = store.serial().await.unwrap();
    commit(store.as_ref(), &failed).await;
    assert_eq!(store.history().await.unwrap().last(), Some(&failed.audit));
    assert_eq!(store.get(&addr("other")).await.unwrap(), None);
    assert_eq!(
        store.serial().await.unwrap(),
        serial,
        "a failure changes no record"
    );

    let gone = remove("net");
    commit(store.as_ref(), &gone).await;
    assert!(store.records().await.unwrap().is_empty());
    assert_eq!(store.history().await.unwrap().last(), Some(&gone.audit));
    assert_eq!(store.history().await.unwrap().len(), 3);
}

async fn the_lock_excludes_others_and_names_its_holder(open: &Factory<'_>) {
    let first = LockInfo {
        operation: "apply".to_string(),
        who: "alice@ci-1".to_string(),
        pid: 4242,
        created: super::now(),
    };
    let second = LockInfo {
        operation: "plan".to_string(),
        who: "bob@laptop".to_string(),
        pid: 7,
        created: super::now(),
    };
    let holder = opened(open, "lock");
    holder.lock(&first).await.expect("a free state locks");
    let refused = match open("lock") {
        Err(e) => e,
        Ok(other) => other
            .lock(&second)
            .await
            .expect_err("a second lock while the first is held"),
    };
    match &refused {
        StoreError::LockedBy { holder, .. } => assert_eq!(holder, &first),
        other => panic!("expected LockedBy naming the holder, got {other}"),
    }
    let message = refused.to_string();
    for part in [
        "stackform apply",
        "pid 4242",
        "alice@ci-1",
        "wait for it to finish",
    ] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }
    assert!(!message.contains('\n'), "one line: {message}");
    // The same handle cannot take it twice either.
    assert!(matches!(
        holder.lock(&second).await,
        Err(StoreError::LockedBy { .. })
    ));

    holder.unlock().await.expect("unlock");
    drop(holder);
    let next = opened(open, "lock");
    next.lock(&second).await.expect("free again once released");
    drop(next);
    // Dropping a handle releases its lock too (a run that ends by an error).
    opened(open, "lock")
        .lock(&first)
        .await
        .expect("free again once the handle is gone");
}

async fn the_serial_counts_changes_and_survives_reopen(open: &Factory<'_>) {
    {
        let store = opened(open, "serial");
        assert_eq!(store.serial().await.unwrap(), 0);
        commit(store.as_ref(), &put("a", "1", "create")).await;
        assert_eq!(store.serial().await.unwrap(), 1);
        commit(store.as_ref(), &put("a", "2", "update")).await;
        commit(store.as_ref(), &remove("a")).await;
        assert_eq!(store.serial().await.unwrap(), 3);
    }
    let store = opened(open, "serial");
    assert_eq!(store.serial().await.unwrap(), 3);
    commit(store.as_ref(), &put("b", "1", "create")).await;
    assert_eq!(store.serial().await.unwrap(), 4);
}

async fn the_lineage_is_stable_across_reopen_and_distinct_per_state(open: &Factory<'_>) {
    let lineage = opened(open, "lineage").lineage().await.unwrap();
    assert!(!lineage.is_empty());
    let store = opened(open, "lineage");
    commit(store.as_ref(), &put("a", "1", "create")).await;
    assert_eq!(store.lineage().await.unwrap(), lineage);
    drop(store);
    assert_eq!(opened(open, "lineage").lineage().await.unwrap(), lineage);
    let other = opened(open, "lineage-other").lineage().await.unwrap();
    assert_ne!(other, lineage, "each state has its own lineage");
}

/// The state the crash check uses.
const CRASHED: &str = "crashed";

/// Runs in a child process: commits step after step, printing `done N` once step N's commit
/// returned, until the process aborts itself mid-stream (no destructor, no flush).
pub fn crash_child(open: &Factory<'_>) {
    let store = opened(open, CRASHED);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(300));
        std::process::abort();
    });
    let mut stdout = std::io::stdout();
    for i in 0.. {
        runtime.block_on(commit(
            store.as_ref(),
            &put(&format!("n{i}"), &format!("id-{i}"), "create"),
        ));
        let _ = writeln!(stdout, "done {i}");
        let _ = stdout.flush();
    }
}

/// Runs `run_child` (which must run [`crash_child`] on the same state in another process),
/// then reopens: every step reported done is there, and no step is there by half.
pub async fn reopen_after_crash(open: &Factory<'_>, run_child: impl FnOnce() -> Output) {
    let out = run_child();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the child must abort: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Vec<usize> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("done ")?.parse().ok())
        .collect();
    let Some(&last_done) = done.last() else {
        panic!("the child completed no step before aborting:\n{stdout}");
    };
    let store = opened(open, CRASHED);
    let recorded: BTreeSet<String> = store
        .records()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.addr.name)
        .collect();
    let audited: BTreeSet<String> = store
        .history()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.addr.name)
        .collect();
    assert_eq!(
        recorded, audited,
        "a step is recorded and audited, or neither"
    );
    let expected_at_least: BTreeSet<String> = (0..=last_done).map(|i| format!("n{i}")).collect();
    assert!(
        recorded.is_superset(&expected_at_least),
        "completed steps lost: {:?}",
        expected_at_least.difference(&recorded).collect::<Vec<_>>()
    );
    // Steps are sequential: what survives is a prefix, at most one beyond the last reported.
    let prefix: BTreeSet<String> = (0..recorded.len()).map(|i| format!("n{i}")).collect();
    assert_eq!(recorded, prefix);
    assert!(
        recorded.len() <= last_done + 2,
        "{} > {}",
        recorded.len(),
        last_done + 2
    );
    assert_eq!(store.serial().await.unwrap(), recorded.len() as u64);
}
