//! `stackform watch`, the daemon, as a process against the embedded cloud (its own process,
//! reached through OS_* variables): edits applied, an invalid edit reported while the last
//! good spec stays, drift corrected (apply mode) or only reported (plan mode), `--once`, the
//! lock refusing a concurrent `stackform apply` by naming the daemon, and `/status`. Every
//! outcome is checked through the cloud's own API. The pull timer is made short through the
//! spec's `[watch]` table (the injected interval); the timers' own schedule is tested on a
//! paused clock in `src/watch/trigger.rs`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::cloud_api::CloudApi;
use crate::real_common;
use crate::support::{SimProcess, run_env, stackform};

/// Every security group (the embedded cloud of one test holds only its own).
const ALL: &str = "/security-groups";

fn spec(groups: &[&str], extra: &str) -> String {
    let mut s = String::from("[provider]\ncloud = \"env\"\n\n[tenant.watch]\n");
    for group in groups {
        s.push_str(&format!(
            "\n[security_group.{group}]\ntenant = \"watch\"\nrules = [ {{ protocol = \"tcp\", port_range = \"22\", cidr = \"10.0.0.0/8\" }} ]\n"
        ));
    }
    s.push_str(extra);
    s
}

/// Writes the spec file in place (the daemon watches the folder: it must stay the same one).
fn save(dir: &Path, text: &str) {
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs).expect("specs folder");
    std::fs::write(specs.join("all.toml"), text).expect("spec written");
}

/// `stackform watch` running, its output collected as it comes.
struct Daemon {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    base_url: String,
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut text = into.lock().unwrap_or_else(|p| p.into_inner());
            text.push_str(&line);
            text.push('\n');
        }
    });
}

impl Daemon {
    fn start(dir: &Path, env: &[(String, String)], args: &[&str]) -> Daemon {
        let mut cmd = stackform();
        cmd.args(["watch", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("stackform watch starts");
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().expect("piped"), out.clone());
        collect(child.stderr.take().expect("piped"), err.clone());
        let mut daemon = Daemon {
            child,
            out,
            err,
            base_url: String::new(),
        };
        let text = daemon.wait_for("status on http://", 1);
        daemon.base_url = text
            .split("status on ")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .expect("the status address is printed")
            .to_string();
        daemon
    }

    fn out(&self) -> String {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn err(&self) -> String {
        self.err.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until standard output holds `needle` `count` times; returns it.
    fn wait_for(&self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.out();
            if out.matches(needle).count() >= count {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {count} × {needle:?}; stdout:\n{out}\nstderr:\n{}",
                self.err()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::get(format!("{}{path}", self.base_url))
            .await
            .expect("the daemon answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    async fn status(&self) -> Value {
        let (code, body) = self.get("/status").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).expect("JSON status")
    }

    /// SIGTERM, then the exit code.
    fn terminate(mut self) -> (i32, String) {
        let pid = self.child.id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(killed.map(|s| s.success()).unwrap_or(false));
        let status = self.child.wait().expect("the daemon exits");
        // The readers finish with the pipes.
        std::thread::sleep(Duration::from_millis(100));
        (status.code().unwrap_or(-1), self.out())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The security groups' names (the `default` one aside) of a list path.
async fn group_names(api: &CloudApi, groups: &str) -> Vec<String> {
    let mut names: Vec<String> = api
        .list("network", groups, "security_groups")
        .await
        .iter()
        .filter_map(|g| g["name"].as_str())
        .filter(|n| *n != "default")
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

async fn delete_group(api: &CloudApi, groups: &str, name: &str) -> String {
    let group = api.one("network", groups, "security_groups", name).await;
    let id = group["id"].as_str().unwrap_or_default().to_string();
    let (status, _) = api
        .request(
            Method::DELETE,
            "network",
            &format!("/security-groups/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_applied_an_invalid_edit_changes_nothing_and_the_lock_names_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    save(dir.path(), &spec(&["ssh"], ""));
    let daemon = Daemon::start(dir.path(), &sim.env, &[]);
    daemon.wait_for("reconcile (start) applied", 1);
    assert_eq!(group_names(&api, ALL).await, ["ssh"]);
    let (code, body) = daemon.get("/readyz").await;
    assert_eq!((code, body.as_str()), (200, "ready\n"));

    // An edit: applied with no command.
    save(dir.path(), &spec(&["ssh", "web"], ""));
    daemon.wait_for("reconcile (spec-change) applied", 1);
    assert_eq!(group_names(&api, ALL).await, ["ssh", "web"]);

    // An invalid edit: reported as `plan` reports it, nothing made, the daemon lives on.
    let invalid = spec(&["ssh", "web", "db"], "").replace(
        "[security_group.db]\ntenant = \"watch\"\nrules",
        "[security_group.db]\ntenant = \"watch\"\nrulez",
    );
    save(dir.path(), &invalid);
    daemon.wait_for(
        "the spec is invalid; nothing applied, the last good spec stays enforced",
        1,
    );
    let (code, _, plan_err) = run_env(dir.path(), &["plan"], &sim.env);
    assert_eq!(code, 1, "{plan_err}");
    assert!(
        plan_err.contains("unknown field `rulez` in security_group.db"),
        "{plan_err}"
    );
    assert!(
        daemon.err().contains(plan_err.trim_end()),
        "the daemon's error is plan's:\n{plan_err}\ndaemon:\n{}",
        daemon.err()
    );
    assert_eq!(group_names(&api, ALL).await, ["ssh", "web"]);
    let status = daemon.status().await;
    assert_eq!(status["last"]["spec-change"]["result"], "invalid-spec");
    assert!(
        status["spec_error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown field `rulez`")),
        "{status}"
    );
    assert_eq!(status["spec_loaded"], true);
    assert_eq!(daemon.get("/readyz").await.0, 200);

    // The fix: applied.
    save(dir.path(), &spec(&["ssh", "web", "db"], ""));
    daemon.wait_for("reconcile (spec-change) applied", 2);
    assert_eq!(group_names(&api, ALL).await, ["db", "ssh", "web"]);
    // The lock: a concurrent apply is refused, naming the daemon; `plan` still works (above).
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 1, "{out}\n{err}");
    let pid = daemon.child.id();
    assert!(
        err.contains(&format!("is locked by stackform watch (pid {pid}, ")),
        "{err}"
    );

    let status = daemon.status().await;
    assert_eq!(status["spec_error"], Value::Null);
    assert_eq!(status["last"]["spec-change"]["result"], "applied");
    assert_eq!(status["last"]["spec-change"]["added"], 1);
    assert_eq!(status["last"]["start"]["added"], 2);
    assert_eq!(status["mode"], "apply");
    assert_eq!(status["pid"], pid);
    assert_eq!(status["timers"]["pull-resources"]["every_secs"], 3600);
    assert_eq!(status["timers"]["pull-sub-resources"]["every_secs"], 7200);
    assert_eq!(status["timers"]["pull-quotas"]["every_secs"], 43200);
    assert_eq!(status["timers"]["pull-properties"]["every_secs"], 86400);

    let (code, out) = daemon.terminate();
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("stackform watch: stopped\n"), "{out}");
    // The lock went with the daemon.
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_corrected_in_apply_mode_and_only_reported_in_plan_mode() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    drift_scenario(dir.path(), &sim.env, &api, "watch").await;
}

/// The same against the real services of `REAL_OS_OPENRC`, in a tenant of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_drift_is_corrected_in_apply_mode_and_only_reported_in_plan_mode() {
    let Some(env) = real_common::real_cloud_env() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let api = CloudApi::login_env(&env).await;
    let tenant = real_common::unique_name("sf-watch");
    let cleanup = Destroy {
        dir: dir.path(),
        env: &env,
    };
    drift_scenario(dir.path(), &env, &api, &tenant).await;
    drop(cleanup);
}

/// Destroys what the state holds when dropped, even when the test failed midway: the real
/// cloud is shared.
struct Destroy<'a> {
    dir: &'a Path,
    env: &'a [(String, String)],
}

impl Drop for Destroy<'_> {
    fn drop(&mut self) {
        let (code, out, err) = run_env(self.dir, &["destroy", "--auto-approve"], self.env);
        if code != 0 && !std::thread::panicking() {
            panic!("destroy failed:\n{out}\n{err}");
        }
    }
}

/// Drift with a pull every second: a security group deleted behind stackform's back is made
/// again in apply mode; in plan mode it is reported at every pull and nothing is made.
async fn drift_scenario(dir: &Path, env: &[(String, String)], api: &CloudApi, tenant: &str) {
    save(
        dir,
        &spec(&["ssh"], "\n[watch]\npull_resources = \"1s\"\n").replace(
            "[tenant.watch]\n",
            &format!("[tenant.watch]\nname = \"{tenant}\"\n"),
        ),
    );
    let daemon = Daemon::start(dir, env, &[]);
    daemon.wait_for("reconcile (start) applied", 1);
    let project = api.one("identity", "/projects", "projects", tenant).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let groups = format!("/security-groups?project_id={project}");
    let old_id = delete_group(api, &groups, "ssh").await;
    daemon.wait_for("drift found: 1 change(s) corrected", 1);
    assert_eq!(group_names(api, &groups).await, ["ssh"]);
    let new_id = api.one("network", &groups, "security_groups", "ssh").await["id"].clone();
    assert_ne!(new_id, Value::from(old_id));
    let status = daemon.status().await;
    assert_eq!(status["drift_corrected"], true, "{status}");
    assert!(status["drift_found_at"].is_string(), "{status}");
    assert_eq!(status["drift"][0]["address"], "security_group.ssh");
    assert_eq!(status["drift"][0]["action"], "create");
    assert_eq!(
        status["drift"][0]["reason"]["type"],
        "deleted_outside_stackform"
    );
    assert_eq!(status["timers"]["pull-resources"]["every_secs"], 1);
    let (code, _) = daemon.terminate();
    assert_eq!(code, 0);

    let daemon = Daemon::start(dir, env, &["--mode", "plan"]);
    daemon.wait_for("reconcile (start) converged", 1);
    delete_group(api, &groups, "ssh").await;
    let out = daemon.wait_for(
        "drift found: 1 change(s) reported, not applied (plan mode)",
        1,
    );
    assert!(
        out.contains("# security_group.ssh will be created (deleted outside stackform)"),
        "{out}"
    );
    // Later pulls report it again, and still make nothing.
    daemon.wait_for("reconcile (pull-resources) planned", 2);
    assert_eq!(group_names(api, &groups).await, Vec::<String>::new());
    let status = daemon.status().await;
    assert_eq!(status["mode"], "plan");
    assert_eq!(status["drift_corrected"], false);
    assert_eq!(status["drift"][0]["address"], "security_group.ssh");
    assert_eq!(status["last"]["pull-resources"]["result"], "planned");
    let (code, _) = daemon.terminate();
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_started_on_an_invalid_spec_is_alive_not_ready_and_waits_for_a_valid_one() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    save(
        dir.path(),
        &spec(&["ssh"], "").replace("tenant = ", "tenantt = "),
    );
    let daemon = Daemon::start(dir.path(), &sim.env, &[]);
    daemon.wait_for(
        "the spec is invalid; nothing applied, waiting for a valid one",
        1,
    );
    assert!(
        daemon.err().contains("unknown field `tenantt`"),
        "{}",
        daemon.err()
    );
    assert_eq!(daemon.get("/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(
        daemon.get("/readyz").await,
        (503, "not ready: no valid spec loaded\n".to_string())
    );
    let status = daemon.status().await;
    assert_eq!(status["spec_loaded"], false);
    assert_eq!(status["last"]["start"]["result"], "invalid-spec");
    assert_eq!(group_names(&api, ALL).await, Vec::<String>::new());

    save(dir.path(), &spec(&["ssh"], ""));
    daemon.wait_for("reconcile (spec-change) applied", 1);
    assert_eq!(daemon.get("/readyz").await, (200, "ready\n".to_string()));
    assert_eq!(group_names(&api, ALL).await, ["ssh"]);
    assert_eq!(daemon.get("/nothing").await.0, 404);
}

/// Makes the embedded cloud answer the next security group create `ms` late.
async fn delay_group_create(api: &CloudApi, ms: u64) {
    let (status, body) = api
        .request(
            Method::POST,
            "identity",
            "/../../_sim/faults",
            Some(serde_json::json!({"delay": {"method": "POST",
                "path_suffix": "/v2.0/security-groups", "ms": ms}})),
        )
        .await;
    assert!(status < 300, "fault injection: {status} {body}");
}

fn signal(daemon: &Daemon, name: &str) {
    let pid = daemon.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args([name, &pid])
        .status();
    assert!(
        sent.map(|s| s.success()).unwrap_or(false),
        "kill {name} {pid}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_lets_the_step_in_flight_finish_and_a_second_one_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    save(dir.path(), &spec(&["ssh"], ""));
    let daemon = Daemon::start(dir.path(), &sim.env, &[]);
    daemon.wait_for("reconcile (start) applied", 1);

    // SIGTERM while a create is in flight: it finishes and is recorded, then exit 0.
    delay_group_create(&api, 1500).await;
    save(dir.path(), &spec(&["ssh", "web"], ""));
    daemon.wait_for("security_group.web: Creating...", 1);
    let (code, out) = daemon.terminate();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("security_group.web: Creation complete after"),
        "{out}"
    );
    assert!(out.ends_with("stackform watch: stopped\n"), "{out}");
    assert_eq!(group_names(&api, ALL).await, ["ssh", "web"]);
    let (_, state, _) = run_env(dir.path(), &["state", "list"], &sim.env);
    assert!(state.contains("security_group.web\t"), "{state}");

    // A second signal: out at once, the create still unanswered.
    let daemon = Daemon::start(dir.path(), &sim.env, &[]);
    daemon.wait_for("reconcile (start) converged", 1);
    delay_group_create(&api, 5000).await;
    save(dir.path(), &spec(&["ssh", "web", "db"], ""));
    daemon.wait_for("security_group.db: Creating...", 1);
    let signalled = Instant::now();
    signal(&daemon, "-TERM");
    std::thread::sleep(Duration::from_millis(200));
    signal(&daemon, "-INT");
    let mut daemon = daemon;
    let status = daemon.child.wait().expect("the daemon exits");
    assert_eq!(status.code(), Some(130));
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "{:?}",
        signalled.elapsed()
    );
    drop(daemon);

    // The next run goes on: the create whose reply was never read is adopted, not repeated.
    std::thread::sleep(Duration::from_secs(5));
    let (code, out, err) = run_env(dir.path(), &["watch", "--once"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(group_names(&api, ALL).await, ["db", "ssh", "web"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_reconciles_one_time_and_exits_like_apply() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    save(dir.path(), &spec(&["ssh"], ""));
    let (code, out, err) = run_env(dir.path(), &["watch", "--once"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Apply complete! Resources: 2 added"), "{out}");
    assert_eq!(group_names(&api, ALL).await, ["ssh"]);

    delete_group(&api, ALL, "ssh").await;
    let (code, out, err) = run_env(dir.path(), &["watch", "--once", "--mode", "plan"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("# security_group.ssh will be created (deleted outside stackform)"),
        "{out}"
    );
    assert_eq!(group_names(&api, ALL).await, Vec::<String>::new());

    save(
        dir.path(),
        "[provider]\ncloud = \"env\"\n[tenant.watch]\nname = 3\n",
    );
    let (code, out, err) = run_env(dir.path(), &["watch", "--once"], &sim.env);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("--> specs/all.toml:4:"), "{err}");
}
