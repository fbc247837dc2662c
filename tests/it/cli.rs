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
