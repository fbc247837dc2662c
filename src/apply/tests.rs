//! The apply engine's tests, with a fake executor: order, bounds, failures, persistence.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;
use crate::graph;
use crate::plan::fixtures::{addr, desired, observed_as_applied, resource};
use crate::store::SledStore as Store;

/// The fake cloud's errors are their messages.
impl From<Mismatch> for String {
    fn from(m: Mismatch) -> String {
        m.to_string()
    }
}

/// Records calls; fails the creates of the addresses it is told to; takes a little time
/// per call so independent steps overlap.
#[derive(Default)]
struct FakeCloud {
    log: Mutex<Vec<String>>,
    fail_create: Vec<Address>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeCloud {
    async fn call(&self, what: String) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.log.lock().unwrap().push(format!("start {what}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.log.lock().unwrap().push(format!("end {what}"));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn position(&self, entry: &str) -> usize {
        self.log()
            .iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("{entry} not in {:?}", self.log()))
    }
}

impl Executor for FakeCloud {
    type Error = String;

    async fn create(&self, res: &DesiredResource, ids: &Ids) -> Result<String, String> {
        // Every reference must already have an id: that is what ordering is for.
        for dep in crate::resources::schema::references(res.addr.kind, &res.attrs) {
            if !ids.contains_key(&dep) {
                return Err(format!("{} created before {dep}", res.addr));
            }
        }
        self.call(format!("create {}", res.addr)).await;
        if self.fail_create.contains(&res.addr) {
            return Err("409 Conflict: quota exceeded".to_string());
        }
        Ok(format!("new-{}", res.addr.name))
    }

    async fn update(
        &self,
        res: &DesiredResource,
        current: &ObservedResource,
        _ids: &Ids,
    ) -> Result<(), String> {
        // A follow-up names what its create left out, and the id the create made.
        let unset: Vec<&str> = res
            .attrs
            .keys()
            .filter(|attr| !current.attrs.contains_key(*attr))
            .map(String::as_str)
            .collect();
        let what = match unset.is_empty() {
            true => format!("update {}", res.addr),
            false => format!("update {} ({}) {}", res.addr, current.id, unset.join(", ")),
        };
        self.call(what).await;
        Ok(())
    }

    async fn delete(&self, current: &ObservedResource, _ids: &Ids) -> Result<(), String> {
        self.call(format!("delete {}", current.addr)).await;
        Ok(())
    }
}

fn demo() -> Desired {
    desired(vec![
        resource("tenant.demo", json!({"name": "demo"})),
        resource("network.net", json!({"name": "net", "tenant": "demo"})),
        resource(
            "subnet.sub",
            json!({"name": "sub", "network": "net", "cidr": "10.0.0.0/24"}),
        ),
        resource(
            "router.r",
            json!({"name": "r", "tenant": "demo", "subnets": ["sub"]}),
        ),
        resource(
            "security_group.web",
            json!({"name": "web", "tenant": "demo"}),
        ),
        resource(
            "instance.vm",
            json!({"name": "vm", "tenant": "demo", "subnet": "sub",
                   "security_groups": ["web"], "flavor": "m1.tiny", "image": "cirros"}),
        ),
    ])
}

async fn run(
    desired: &Desired,
    observed: &Observed,
    cloud: &FakeCloud,
    store: &Store,
    parallelism: usize,
) -> (Outcome<String>, Vec<Event<String>>) {
    let graph = graph::build(desired, observed).unwrap();
    let plan = crate::plan::diff(desired, observed, &graph);
    let events = Mutex::new(Vec::new());
    let outcome = execute(
        &plan,
        desired,
        observed,
        &graph,
        cloud,
        store,
        parallelism,
        &|e| events.lock().unwrap().push(e),
    )
    .await
    .expect("the state is readable");
    (outcome, events.into_inner().unwrap())
}

#[test]
fn a_step_error_says_whether_to_retry_and_names_the_request() {
    use crate::openstack::ApiError;
    use reqwest::{Method, StatusCode};
    let api = |status, retry_after| {
        StepError::from(resources::Error::Api(ApiError::Status {
            service: "network",
            method: Method::POST,
            url: "http://cloud:9696/v2.0/networks".into(),
            status,
            message: "".into(),
            request_id: Some("req-1".into()),
            retry_after,
        }))
    };
    let busy = api(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(3)));
    assert!(busy.is_retryable());
    assert!(!busy.is_unknown_outcome());
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(busy.clone().request_id(), Some("req-1"));
    let lost = api(StatusCode::BAD_GATEWAY, None);
    assert!(lost.is_retryable() && lost.is_unknown_outcome());
    let refused = api(StatusCode::CONFLICT, None);
    assert!(!refused.is_retryable());
    assert_eq!(
        refused.to_string(),
        "network: POST http://cloud:9696/v2.0/networks → 409 Conflict (request req-1)"
    );
    let mismatch = StepError::from(Mismatch::NotInSpec(addr("network.x")));
    assert!(!mismatch.is_retryable());
    assert_eq!(mismatch.request_id(), None);
    assert_eq!(mismatch.to_string(), "network.x is not in the spec");
}

fn independent_tenants(n: usize) -> Desired {
    desired(
        (0..n)
            .map(|i| resource(&format!("tenant.t{i}"), json!({"name": format!("t{i}")})))
            .collect(),
    )
}

#[tokio::test]
async fn the_bound_on_steps_in_flight_holds() {
    for (n, expected) in [(1, 1), (3, 3), (8, 6)] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cloud = FakeCloud::default();
        let (outcome, _) = run(
            &independent_tenants(6),
            &Observed::default(),
            &cloud,
            &store,
            n,
        )
        .await;
        assert_eq!(outcome.added, 6);
        assert_eq!(
            cloud.max_in_flight.load(Ordering::SeqCst),
            expected,
            "parallelism {n}"
        );
    }
}

/// What others wait for starts first: with one step at a time, the tenant that a chain of
/// resources depends on goes before the tenants nothing depends on, although it comes last
/// in the plan's order.
#[tokio::test]
async fn the_longest_chain_starts_first() {
    let mut resources: Vec<DesiredResource> = (0..3)
        .map(|i| resource(&format!("tenant.a{i}"), json!({"name": format!("a{i}")})))
        .collect();
    resources.extend([
        resource("tenant.z", json!({"name": "z"})),
        resource("network.n", json!({"name": "n", "tenant": "z"})),
        resource(
            "subnet.s",
            json!({"name": "s", "network": "n", "cidr": "10.0.0.0/24"}),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let cloud = FakeCloud::default();
    let (outcome, _) = run(&desired(resources), &Observed::default(), &cloud, &store, 1).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    let started: Vec<String> = cloud
        .log()
        .into_iter()
        .filter_map(|e| e.strip_prefix("start create ").map(str::to_string))
        .collect();
    assert_eq!(
        started,
        // Then the ranks tie (nothing waits for any of them): the plan's order decides.
        [
            "tenant.z",
            "network.n",
            "tenant.a0",
            "tenant.a1",
            "tenant.a2",
            "subnet.s"
        ]
    );
}

/// A state that cannot be read: every call fails.
struct Unreadable;

impl StateStore for Unreadable {
    fn location(&self) -> String {
        "nowhere".to_string()
    }
    fn lock<'a>(&'a self, _: &'a store::LockInfo) -> store::StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
    fn unlock(&self) -> store::StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn lineage(&self) -> store::StoreFuture<'_, String> {
        Box::pin(async { Err(StoreError::Backend("disk gone".into())) })
    }
    fn serial(&self) -> store::StoreFuture<'_, u64> {
        Box::pin(async { Err(StoreError::Backend("disk gone".into())) })
    }
    fn get<'a>(&'a self, _: &'a Address) -> store::StoreFuture<'a, Option<Record>> {
        Box::pin(async { Err(StoreError::Backend("disk gone".into())) })
    }
    fn records(&self) -> store::StoreFuture<'_, Vec<Record>> {
        Box::pin(async { Err(StoreError::Backend("disk gone".into())) })
    }
    fn commit<'a>(&'a self, _: &'a StepWrite) -> store::StoreFuture<'a, ()> {
        Box::pin(async { Err(StoreError::Backend("disk gone".into())) })
    }
    fn history(&self) -> store::StoreFuture<'_, Vec<AuditEntry>> {
        Box::pin(async { Err(StoreError::Backend("disk gone".into())) })
    }
}

/// Regression: an unreadable state was taken as an empty one (`unwrap_or_default`), so the
/// apply went on and created again what the state held.
#[tokio::test]
async fn an_unreadable_state_stops_the_apply_before_any_call() {
    let desired = independent_tenants(2);
    let observed = Observed::default();
    let graph = graph::build(&desired, &observed).unwrap();
    let plan = crate::plan::diff(&desired, &observed, &graph);
    let cloud = FakeCloud::default();
    let result = execute(
        &plan,
        &desired,
        &observed,
        &graph,
        &cloud,
        &Unreadable,
        2,
        &|_| {},
    )
    .await;
    match result {
        Err(e) => assert_eq!(e.to_string(), "state database error: disk gone"),
        Ok(outcome) => panic!("expected the read error, got {outcome:?}"),
    }
    assert!(cloud.log().is_empty(), "{:?}", cloud.log());
}

#[tokio::test]
async fn each_step_commits_its_record_with_its_audit_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let cloud = FakeCloud {
        fail_create: vec![addr("tenant.t1")],
        ..FakeCloud::default()
    };
    let (outcome, _) = run(
        &independent_tenants(3),
        &Observed::default(),
        &cloud,
        &store,
        2,
    )
    .await;
    assert_eq!(outcome.added, 2);
    // Two records, one serial step each; the failure is audited without moving the serial.
    assert_eq!(store.serial().unwrap(), 2);
    let mut audited: Vec<(String, String)> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .map(|e| (e.addr.to_string(), e.outcome))
        .collect();
    audited.sort();
    assert_eq!(
        audited,
        [
            ("tenant.t0".to_string(), "ok".to_string()),
            (
                "tenant.t1".to_string(),
                "409 Conflict: quota exceeded".to_string()
            ),
            ("tenant.t2".to_string(), "ok".to_string()),
        ]
    );
}

#[tokio::test]
async fn creates_follow_dependencies_in_parallel_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let cloud = FakeCloud::default();
    let (outcome, _) = run(&demo(), &Observed::default(), &cloud, &store, 2).await;
    assert_eq!(outcome.added, 6);
    assert!(outcome.succeeded(), "{outcome:?}");
    let end = |a: &str| cloud.position(&format!("end create {a}"));
    let start = |a: &str| cloud.position(&format!("start create {a}"));
    assert!(end("tenant.demo") < start("network.net"));
    assert!(end("subnet.sub") < start("router.r"));
    // The implicit edge: the instance waits for the router interface of its subnet.
    assert!(end("router.r") < start("instance.vm"));
    assert!(end("security_group.web") < start("instance.vm"));
    // network and security group are independent: they ran side by side, never above 2.
    assert_eq!(cloud.max_in_flight.load(Ordering::SeqCst), 2);
    let ids = store.ids().unwrap();
    assert_eq!(ids.len(), 6);
    assert_eq!(ids[&addr("instance.vm")], "new-vm");
}

#[tokio::test]
async fn a_failure_skips_its_dependents_and_independent_branches_finish() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let cloud = FakeCloud {
        fail_create: vec![addr("network.net")],
        ..FakeCloud::default()
    };
    let (outcome, events) = run(&demo(), &Observed::default(), &cloud, &store, 4).await;
    assert_eq!(
        outcome.failed,
        [(
            addr("network.net"),
            "409 Conflict: quota exceeded".to_string()
        )]
    );
    let mut skipped: Vec<String> = outcome.skipped.iter().map(|(a, _)| a.to_string()).collect();
    skipped.sort();
    assert_eq!(skipped, ["instance.vm", "router.r", "subnet.sub"]);
    assert!(
        outcome
            .skipped
            .iter()
            .all(|(_, b)| *b == addr("network.net"))
    );
    // The state holds exactly what exists.
    let recorded: Vec<String> = store.ids().unwrap().keys().map(|a| a.to_string()).collect();
    assert_eq!(recorded, ["tenant.demo", "security_group.web"]);
    assert!(events.contains(&Event::Skipped {
        addr: addr("instance.vm"),
        action: ActionKind::Create,
        because: addr("network.net"),
    }));
    let log = store.audit_log().unwrap();
    assert!(
        log.iter()
            .any(|e| e.addr == addr("network.net") && e.outcome == "409 Conflict: quota exceeded")
    );
}

#[tokio::test]
async fn a_replacement_deletes_dependents_first_and_recreates_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let before = demo();
    let observed = observed_as_applied(&before);
    for (a, r) in &observed.resources {
        store
            .put(&Record {
                addr: a.clone(),
                id: r.id.clone(),
                attrs: r.attrs.clone(),
                updated_at: store::now(),
            })
            .unwrap();
    }
    let mut after = demo();
    let sub = after.resources.get_mut(&addr("subnet.sub")).unwrap();
    sub.attrs.insert("cidr".into(), json!("10.0.1.0/24"));
    let cloud = FakeCloud::default();
    let (outcome, _) = run(&after, &observed, &cloud, &store, 4).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(
        (outcome.added, outcome.changed, outcome.destroyed),
        (2, 1, 2)
    );
    let p = |e: &str| cloud.position(e);
    assert!(p("end delete instance.vm") < p("start delete subnet.sub"));
    assert!(p("end delete subnet.sub") < p("start create subnet.sub"));
    assert!(p("end create subnet.sub") < p("start update router.r"));
    assert!(p("end update router.r") < p("start create instance.vm"));
    let ids = store.ids().unwrap();
    assert_eq!(ids[&addr("subnet.sub")], "new-sub");
    assert_eq!(ids[&addr("instance.vm")], "new-vm");
    assert_eq!(ids[&addr("network.net")], "id-net", "untouched");
}

#[tokio::test]
async fn removed_resources_are_deleted_dependents_first_and_leave_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let observed = observed_as_applied(&demo());
    let empty = desired(vec![]);
    let cloud = FakeCloud::default();
    let (outcome, _) = run(&empty, &observed, &cloud, &store, 3).await;
    assert_eq!(outcome.destroyed, 6);
    let p = |a: &str| cloud.position(&format!("end delete {a}"));
    let s = |a: &str| cloud.position(&format!("start delete {a}"));
    assert!(p("instance.vm") < s("router.r"));
    assert!(p("instance.vm") < s("security_group.web"));
    assert!(p("router.r") < s("subnet.sub"));
    assert!(p("subnet.sub") < s("network.net"));
    assert!(p("network.net") < s("tenant.demo"));
    assert!(store.ids().unwrap().is_empty());
}

/// Two groups whose rules name each other: both are made (each without the rules naming the
/// other, which has no id yet), then each one's follow-up sets its rules; the outcome counts
/// two creates, and the follow-ups are recorded as the groups' state.
#[tokio::test]
async fn groups_naming_each_other_are_made_then_completed() {
    let group = |name: &str, other: &str| {
        resource(
            &format!("security_group.{name}"),
            json!({"name": name, "tenant": "demo",
                   "rules": [{"direction": "ingress", "remote_group": other}]}),
        )
    };
    let spec = desired(vec![
        resource("tenant.demo", json!({"name": "demo"})),
        group("web", "app"),
        group("app", "web"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let cloud = FakeCloud::default();
    let (outcome, _) = run(&spec, &Observed::default(), &cloud, &store, 4).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!((outcome.added, outcome.changed), (3, 0));
    let p = |e: &str| cloud.position(e);
    for (name, other) in [("web", "app"), ("app", "web")] {
        let follow_up = p(&format!(
            "start update security_group.{name} (new-{name}) rules"
        ));
        assert!(p(&format!("end create security_group.{name}")) < follow_up);
        assert!(p(&format!("end create security_group.{other}")) < follow_up);
    }
    let updates = cloud
        .log()
        .iter()
        .filter(|e| e.starts_with("end update"))
        .count();
    assert_eq!(updates, 2, "{:?}", cloud.log());
}
