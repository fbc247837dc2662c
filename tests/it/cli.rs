//! The commands that need no cloud: `validate` and `graph`, on the repository's demo specs.

use crate::support::run_in;

fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn validate_counts_the_demo_resources() {
    let (code, out, err) = run_in(repo(), &["validate"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "The spec is valid: 7 resources in specs.\n"),
        "{err}"
    );
}

#[test]
fn graph_prints_explicit_and_implicit_dependencies_as_dot() {
    let (code, out, err) = run_in(repo(), &["graph"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("digraph stackform {\n"), "{out}");
    for edge in [
        "\"tenant.demo\" -> \"network.demo-net\"",
        "\"network.demo-net\" -> \"subnet.demo-subnet\"",
        "\"subnet.demo-subnet\" -> \"router.demo-router\"",
        "\"security_group.web\" -> \"instance.web-1\"",
    ] {
        assert!(out.contains(edge), "{edge} missing:\n{out}");
    }
    // The instance needs its subnet's router interface, though the spec never says so.
    assert!(
        out.lines()
            .any(|l| l.contains("\"router.demo-router\" -> \"instance.web-1\"")),
        "{out}"
    );
}

/// Runs stackform with `input` on its standard input.
fn run_with_input(dir: &std::path::Path, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = crate::support::stackform()
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("stackform starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("input written");
    crate::support::decode(child.wait_with_output().expect("stackform ends"))
}

#[test]
fn apply_asks_and_only_yes_approves_then_the_state_shows_what_was_made() {
    let dir = tempfile::tempdir().unwrap();
    let specs = repo().join("specs");
    let specs = specs.to_string_lossy();
    let args = ["apply", "--specs", &specs, "--state", "state"];

    for answer in ["no\n", ""] {
        let (code, out, _) = run_with_input(dir.path(), &args, answer);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("Only 'yes' will be accepted to approve."),
            "{out}"
        );
        assert!(out.trim_end().ends_with("Apply cancelled."), "{out}");
        let (_, listed, _) = run_in(dir.path(), &["state", "list"]);
        assert_eq!(listed, "", "a cancelled apply records nothing");
    }

    let (code, out, err) = run_with_input(dir.path(), &args, "yes\n");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let (code, listed, _) = run_in(dir.path(), &["state", "list"]);
    assert_eq!(code, 0);
    let addresses: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(
        addresses,
        [
            "tenant.demo",
            "network.demo-net",
            "subnet.demo-subnet",
            "router.demo-router",
            "security_group.web",
            "instance.web-1",
            "instance.web-2"
        ]
    );
    let (code, shown, _) = run_in(dir.path(), &["state", "show", "instance.web-2"]);
    assert_eq!(code, 0);
    assert!(shown.starts_with("# instance.web-2\nid = \""), "{shown}");
    for line in [
        "flavor = \"m1.small\"",
        "power_state = \"stopped\"",
        "subnet = \"demo-subnet\"",
    ] {
        assert!(shown.contains(line), "{line} missing:\n{shown}");
    }
    let (code, _, err) = run_in(dir.path(), &["state", "show", "instance.nope"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: instance.nope is not in the state; `stackform state list` shows what is\n"
    );
    let (code, _, err) = run_in(dir.path(), &["state", "show", "bucket.x"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: unknown resource kind `bucket`"),
        "{err}"
    );
}

/// Regression: `stackform state list --specs specs` was refused ("unexpected argument"), though
/// the README says every command takes `--specs` and `--state`. They are global now: accepted
/// before or after the subcommand, on every command.
#[test]
fn workspace_options_are_accepted_before_and_after_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let specs = repo().join("specs");
    let specs = specs.to_string_lossy();
    let valid = format!("The spec is valid: 7 resources in {specs}.\n");
    for args in [
        vec!["validate", "--specs", &specs, "--state", "st"],
        vec!["--specs", &specs, "--state", "st", "validate"],
    ] {
        let (code, out, err) = run_in(dir.path(), &args);
        assert_eq!((code, out.as_str()), (0, valid.as_str()), "{args:?}: {err}");
    }
    for args in [
        vec!["graph", "--specs", &specs],
        vec!["--specs", &specs, "graph", "--state", "st"],
    ] {
        let (code, out, err) = run_in(dir.path(), &args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.starts_with("digraph stackform {\n"), "{args:?}: {out}");
    }
    for args in [
        vec!["state", "list", "--specs", &specs, "--state", "st"],
        vec!["--specs", &specs, "--state", "st", "state", "list"],
        vec!["state", "--state", "st", "list", "--specs", &specs],
    ] {
        let (code, out, err) = run_in(dir.path(), &args);
        assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""), "{args:?}");
    }
    for args in [
        vec![
            "state",
            "show",
            "tenant.demo",
            "--specs",
            &specs,
            "--state",
            "st",
        ],
        vec![
            "--state",
            "st",
            "--specs",
            &specs,
            "state",
            "show",
            "tenant.demo",
        ],
    ] {
        let (code, _, err) = run_in(dir.path(), &args);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(
            err, "error: tenant.demo is not in the state; `stackform state list` shows what is\n",
            "{args:?}"
        );
    }
    // Every command read the state named on its command line, never the default.
    assert!(dir.path().join("st").join("stackform.db").exists());
    assert!(!dir.path().join("state").exists());
    for command in ["plan", "apply", "destroy"] {
        for args in [
            vec![command, "--specs", "missing", "--state", "st"],
            vec!["--specs", "missing", "--state", "st", command],
        ] {
            let (code, _, err) = run_in(dir.path(), &args);
            assert_eq!(code, 1, "{args:?}");
            assert!(
                err.starts_with("error: spec folder `missing` does not exist"),
                "{args:?}: {err}"
            );
        }
    }
}

/// An apply waiting for its confirmation holds the state: another apply is refused, and told
/// whom it waits for. (Readers — `state list`, `plan` — read the snapshot instead and work
/// meanwhile: `state_safety`.)
#[test]
fn a_held_state_names_its_holder() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let specs = repo().join("specs");
    let specs = specs.to_string_lossy();
    let mut apply = crate::support::stackform()
        .args(["apply", "--specs", &specs])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("stackform starts");
    let mut stdout = apply.stdout.take().expect("piped stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("Enter a value: ") {
        let n = stdout.read(&mut buf).expect("readable stdout");
        assert!(
            n > 0,
            "apply ended early:\n{}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let (code, out, err) = run_in(dir.path(), &["apply", "--specs", &specs, "--auto-approve"]);
    let holder = format!("locked by stackform apply (pid {}, ", apply.id());
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.starts_with("error: the state in state is "), "{err}");
    assert!(err.contains(&holder), "{holder} missing from: {err}");
    assert!(
        err.trim_end()
            .ends_with("wait for it to finish, or stop it"),
        "{err}"
    );

    let mut stdin = apply.stdin.take().expect("piped stdin");
    stdin.write_all(b"no\n").expect("answer written");
    drop(stdin);
    assert_eq!(apply.wait().expect("apply ends").code(), Some(1));
    let (code, out, err) = run_in(dir.path(), &["state", "list"]);
    assert_eq!(
        (code, out.as_str()),
        (0, ""),
        "free once the apply ended: {err}"
    );
}

/// A spec with no `[provider]` is refused, located, by every command that reads the spec,
/// before any call: a real-cloud spec that lost its table must not plan against another cloud.
#[test]
fn a_spec_without_provider_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::write_specs(dir.path(), &[("main.toml", "[tenant.t]\n")]);
    for args in [&["validate"][..], &["plan"], &["apply", "--auto-approve"]] {
        let (code, out, err) = run_in(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert_eq!(out, "", "{args:?}");
        assert!(
            err.starts_with(
                "error: no [provider] table: the spec does not say which cloud it targets\n --> specs/main.toml:1:1"
            ),
            "{err}"
        );
        assert!(
            err.contains("add [provider] with cloud = \"embedded\""),
            "{err}"
        );
    }
    assert!(
        !dir.path().join("state").exists(),
        "nothing was written: no state, no embedded cloud"
    );
}

/// What real Neutron would refuse about a router is found in plan, located, before any call:
/// a route whose nexthop is on none of the router's subnets (400 InvalidRoutes) and gateway
/// settings on a router without a gateway. The embedded cloud is left untouched.
#[test]
fn routes_off_the_routers_subnets_and_gateway_settings_without_gateway_fail_in_plan() {
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"[provider]
cloud = "embedded"

[tenant.t]

[network.n]
tenant = "t"

[subnet.s]
network = "n"
cidr = "10.5.0.0/24"

[router.r]
tenant = "t"
enable_snat = false
subnets = ["s"]
routes = [{ destination = "192.168.1.0/24", nexthop = "10.6.0.9" }]
"#;
    crate::support::write_specs(dir.path(), &[("main.toml", spec)]);
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let (code, out, err) = run_in(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}\n{err}");
        assert!(
            err.contains(
                "error: router.r: `enable_snat` needs an external gateway\n  --> specs/main.toml:15:15"
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "error: router.r: the nexthop 10.6.0.9 of the route to 192.168.1.0/24 is on none of the router's subnets\n  --> specs/main.toml:17:10"
            ),
            "{err}"
        );
        assert!(
            err.contains("the router is on 10.5.0.0/24: pick a nexthop there"),
            "{err}"
        );
    }
    let (code, out, err) = run_in(dir.path(), &["state", "list"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "", "nothing was applied: {out}");
}
