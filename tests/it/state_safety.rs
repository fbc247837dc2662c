//! Issue 7, the state's side: a damaged state is an error (never a new one), it can be
//! restored from its snapshot or backup and recovered from the cloud's ownership tags, it
//! remembers its cloud, readers work during an apply, the lock names its holder's command and
//! can be waited for, and the state's files are private. Through the binary, against
//! `stackform sim` processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{SimProcess, decode, run_env, stackform, write_specs};

const SPEC: &str = r#"
[provider]
cloud = "env"

[tenant.safe]

[network.safe-net]
tenant = "safe"

[security_group.ssh]
tenant = "safe"
rules = [ { protocol = "tcp", port_range = "22", cidr = "10.0.0.0/8" } ]
"#;

/// A second network, added by a later apply.
const MORE: &str = r#"
[network.more-net]
tenant = "safe"
"#;

struct Fixture {
    dir: tempfile::TempDir,
    /// The `stackform sim` process the spec's `cloud = "env"` reaches; None when the spec
    /// names the embedded cloud, which each stackform process serves itself.
    sim: Option<SimProcess>,
    env: Vec<(String, String)>,
}

impl Fixture {
    /// A cloud and a state holding [`SPEC`], applied.
    fn applied() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimProcess::start(&dir.path().join("cloud"));
        write_specs(dir.path(), &[("all.toml", SPEC)]);
        let env = sim.env.clone();
        let f = Fixture {
            dir,
            sim: Some(sim),
            env,
        };
        f.ok(&["apply", "--auto-approve"]);
        f
    }

    /// [`SPEC`] applied to the embedded cloud under the state folder.
    fn applied_on_the_embedded_cloud() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let spec = SPEC.replace(r#"cloud = "env""#, r#"cloud = "embedded""#);
        write_specs(dir.path(), &[("all.toml", &spec)]);
        let f = Fixture {
            dir,
            sim: None,
            env: Vec::new(),
        };
        f.ok(&["apply", "--auto-approve"]);
        f
    }

    fn spec(&self) -> String {
        std::fs::read_to_string(self.path().join("specs/all.toml")).unwrap()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_env(self.path(), args, &self.env)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "stackform {args:?}:\n{out}\n{err}");
        out
    }

    fn listed(&self) -> String {
        self.ok(&["state", "list"])
    }

    fn lineage(&self) -> String {
        let text = std::fs::read_to_string(self.path().join("state/state.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["lineage"].as_str().unwrap_or_default().to_string()
    }

    /// The next plan changes nothing.
    fn converged(&self) {
        let (code, out, err) = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(!out.contains("will be created"), "{out}");
    }

    /// Every command refuses the damaged state in one line that says how to recover, and
    /// changes nothing.
    fn refused_as_damaged(&self) {
        let lineage = self.lineage();
        for args in [
            &["state", "list"][..],
            &["plan", "--detailed-exitcode"],
            &["apply", "--auto-approve"],
        ] {
            let (code, out, err) = self.run(args);
            assert_eq!(code, 1, "{args:?}:\n{out}\n{err}");
            assert!(
                err.starts_with("error: the state in state is damaged ("),
                "{err}"
            );
            assert!(
                err.contains(&format!("stackform state recover --lineage {lineage}")),
                "{err}"
            );
            assert!(err.contains("stackform state restore"), "{err}");
            assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
            assert!(!out.contains("will be created"), "{out}");
        }
        assert_eq!(self.lineage(), lineage, "the snapshot is untouched");
    }
}

fn db_file(dir: &Path) -> std::path::PathBuf {
    dir.join("state/stackform.db/db")
}

/// Regression (issue 7): a truncated database was a new, empty state: `state list` empty with
/// exit 0, a new lineage, a plan to create everything again.
#[test]
fn a_truncated_database_is_refused_and_restore_brings_it_back() {
    let f = Fixture::applied();
    let before = f.listed();
    assert_eq!(before.lines().count(), 3, "{before}");
    std::fs::write(db_file(f.path()), b"").unwrap();
    f.refused_as_damaged();

    let out = f.ok(&["state", "restore"]);
    assert!(
        out.starts_with("Restored the state in state: lineage "),
        "{out}"
    );
    assert_eq!(f.listed(), before);
    f.converged();
}

#[test]
fn a_garbled_database_is_refused() {
    let f = Fixture::applied();
    let db = db_file(f.path());
    let len = std::fs::metadata(&db).unwrap().len() as usize;
    std::fs::write(&db, vec![0x5a; len.max(4096)]).unwrap();
    f.refused_as_damaged();
    f.ok(&["state", "restore"]);
    f.converged();
}

/// The backup is the state before the last apply: restoring it loses the later records, and
/// the next plan adopts what they named by its ownership tags instead of creating it again.
#[test]
fn restore_from_the_backup_then_plan_adopts_what_it_missed() {
    let f = Fixture::applied();
    let first = f.listed();
    write_specs(f.path(), &[("all.toml", &format!("{SPEC}{MORE}"))]);
    f.ok(&["apply", "--auto-approve"]);
    assert_eq!(f.listed().lines().count(), 4);
    std::fs::write(db_file(f.path()), b"").unwrap();

    f.ok(&["state", "restore", "--backup"]);
    assert_eq!(f.listed(), first, "the generation before the last apply");
    f.converged();
    f.ok(&["apply", "--auto-approve"]);
    assert_eq!(f.listed().lines().count(), 4, "adopted, not duplicated");
}

/// Regression (issue 7): a deleted state folder left the cloud's resources orphaned: a new
/// lineage, a plan of "everything to add", then 409s.
#[test]
fn a_deleted_state_is_recovered_from_the_ownership_tags() {
    let f = Fixture::applied();
    let before = f.listed();
    let lineage = f.lineage();
    std::fs::remove_dir_all(f.path().join("state")).unwrap();

    let out = f.ok(&["state", "recover", "--lineage", &lineage]);
    assert!(
        out.starts_with("Recovered 3 resources of lineage "),
        "{out}"
    );
    assert_eq!(f.listed(), before);
    assert_eq!(f.lineage(), lineage);
    // The tenant user's password was kept only in the deleted folder: the recovered state
    // adopts the tenant's user (found by its name) with a new password, and says so.
    let out = f.ok(&["plan"]);
    assert!(
        out.contains("  ~ tenant.safe\n      ~ own_user = false -> true\n"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );
    f.ok(&["apply", "--auto-approve"]);
    f.converged();

    // A second recovery over a healthy state would lose nothing and is refused.
    let (code, _, err) = f.run(&["state", "recover", "--lineage", &lineage]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing to recover"), "{err}");
}

#[test]
fn a_state_refuses_another_cloud_unless_migrating() {
    let f = Fixture::applied();
    let other = SimProcess::start(&f.path().join("other-cloud"));
    let (code, out, err) = run_env(f.path(), &["plan"], &other.env);
    assert_eq!(code, 1, "{out}\n{err}");
    let recorded = f
        .sim
        .as_ref()
        .expect("a sim process")
        .auth_url()
        .trim_end_matches("/v3");
    assert!(
        err.starts_with(&format!(
            "error: the state in state belongs to {recorded} (region"
        )),
        "{err}"
    );
    assert!(
        err.contains(other.auth_url().trim_end_matches("/v3")),
        "{err}"
    );
    assert!(err.contains("--migrate-cloud"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = run_env(f.path(), &["apply", "--auto-approve"], &other.env);
    assert_eq!(code, 1, "{err}");

    let (code, out, err) = run_env(
        f.path(),
        &["plan", "--migrate-cloud", "--detailed-exitcode"],
        &other.env,
    );
    assert_eq!(
        code, 2,
        "the other cloud lacks the resources:\n{out}\n{err}"
    );
    // The state's own cloud is still fine.
    f.converged();
}

/// An `apply` stopped at its confirmation prompt, holding the lock.
struct Waiting {
    child: Child,
}

impl Waiting {
    fn start(f: &Fixture) -> Waiting {
        let mut cmd = stackform();
        cmd.args(["apply"])
            .current_dir(f.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &f.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("stackform apply starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut seen = Vec::new();
        // The prompt has no newline: read byte by byte until it shows.
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&seen).contains("Enter a value: ") {
            match stdout.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => panic!(
                    "apply ended before its prompt:\n{}",
                    String::from_utf8_lossy(&seen)
                ),
            }
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in stdout.lines() {});
        Waiting { child }
    }

    fn answer(mut self, text: &str) -> i32 {
        let mut stdin = self.child.stdin.take().expect("piped stdin");
        stdin.write_all(text.as_bytes()).expect("answer written");
        drop(stdin);
        let out = self.child.wait_with_output().expect("apply ends");
        decode(out).0
    }
}

#[test]
fn readers_work_during_an_apply_and_a_second_apply_names_the_holder_or_waits() {
    readers_and_writers_during_an_apply(Fixture::applied());
}

/// The apply's process serves the embedded cloud; the readers reach that same cloud.
#[test]
fn readers_work_during_an_apply_on_the_embedded_cloud() {
    readers_and_writers_during_an_apply(Fixture::applied_on_the_embedded_cloud());
}

fn readers_and_writers_during_an_apply(f: Fixture) {
    write_specs(f.path(), &[("all.toml", &format!("{}{MORE}", f.spec()))]);
    let waiting = Waiting::start(&f);

    let (code, out, err) = f.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        code, 2,
        "plan reads the state during an apply:\n{out}\n{err}"
    );
    assert!(out.contains("# network.more-net will be created"), "{out}");
    assert_eq!(f.listed().lines().count(), 3);
    f.ok(&["state", "show", "network.safe-net"]);

    let (code, _, err) = f.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("error: the state in state is locked by stackform apply (pid "),
        "{err}"
    );
    assert!(
        err.contains(&format!("pid {}", waiting.child.id())),
        "{err}"
    );

    let mut second = stackform();
    second
        .args(["apply", "--auto-approve", "--lock-timeout", "20s"])
        .current_dir(f.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &f.env {
        second.env(k, v);
    }
    let second = second.spawn().expect("the second apply starts");
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    assert_eq!(waiting.answer("yes\n"), 0);
    let (code, out, err) = decode(second.wait_with_output().expect("the second apply ends"));
    assert_eq!(code, 0, "it waited for the lock:\n{out}\n{err}");
    assert!(
        out.contains("No changes."),
        "the first apply did the work:\n{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(f.listed().lines().count(), 4);
}

#[cfg(unix)]
#[test]
fn the_state_and_the_embedded_cloud_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        dir.path(),
        &[(
            "all.toml",
            "[provider]\ncloud = \"embedded\"\n\n[tenant.private]\n",
        )],
    );
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    for folder in ["state", "state/stackform.db", "state/cloud"] {
        assert_eq!(mode(folder), 0o700, "{folder}");
    }
    for file in [
        "state/stackform.db/db",
        "state/state.json",
        "state/state.backup.json",
        "state/cloud/cloud.json",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}
