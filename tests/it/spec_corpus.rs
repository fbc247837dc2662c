//! The bad-input corpus: every folder of `tests/fixtures/specs/corpus/` is a spec with one
//! kind of mistake. Each runs through the binary, `plan` then `apply --auto-approve`, against
//! `stackform sim` in its own process: both exit 1 with the located error (snapshotted, one
//! snapshot per case), no call but reads (and tokens) reaches the cloud, and the state is as
//! it was. Most mistakes are found while loading; unknown flavors and images are found by plan
//! after refresh, still before any write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::Value;

use crate::cloud_api::CloudApi;
use crate::support::{SimProcess, run_env, write_specs};

const CORPUS: &str = "tests/fixtures/specs/corpus";

/// The seeded state every case must leave alone.
const BASE: &str = "[provider]\ncloud = \"env\"\n\n[tenant.base]\n";

/// Every case folder, with its files (name, content) in name order.
fn cases() -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("corpus folder")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .expect("case folder")
            .map(|e| e.expect("case entry").path())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&p).expect("case file");
                (name, text)
            })
            .collect();
        files.sort();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        out.push((name, files));
    }
    out
}

/// Every file under `dir` with its bytes: what "the state did not change" compares.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(tree(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.insert(path, bytes);
        }
    }
    out
}

/// The calls the cloud saw since the last clear that could have changed it.
async fn writes(api: &CloudApi) -> Vec<Value> {
    let (status, log) = api
        .request(Method::GET, "identity", "/../../_sim/requests", None)
        .await;
    assert_eq!(status, 200);
    log["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            r["method"] != "GET" && !r["path"].as_str().unwrap_or("").ends_with("/auth/tokens")
        })
        .collect()
}

async fn clear_log(api: &CloudApi) {
    let (status, _) = api
        .request(Method::DELETE, "identity", "/../../_sim/requests", None)
        .await;
    assert_eq!(status, 204);
}

#[test]
fn the_corpus_is_large_enough() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_fail_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    write_specs(&ws, &[("main.toml", BASE)]);
    let (code, out, err) = run_env(&ws, &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "the base spec applies:\n{out}\n{err}");
    let (_, listed, _) = run_env(&ws, &["state", "list"], &sim.env);
    let state_dir = ws.join("state");

    for (case, files) in cases() {
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        write_specs(&ws, &files);
        let before = tree(&state_dir);
        clear_log(&api).await;

        let (code, out, plan_err) = run_env(&ws, &["plan"], &sim.env);
        assert_eq!(code, 1, "{case}: plan exits 1\n{out}\n{plan_err}");
        assert!(
            plan_err.contains("specs/") && plan_err.contains("help:"),
            "{case}: the error is located and says what to do:\n{plan_err}"
        );
        insta::assert_snapshot!(format!("corpus_{case}"), plan_err);

        let (code, out, apply_err) = run_env(&ws, &["apply", "--auto-approve"], &sim.env);
        assert_eq!(code, 1, "{case}: apply exits 1\n{out}\n{apply_err}");
        assert_eq!(apply_err, plan_err, "{case}: apply reports what plan does");

        let written = writes(&api).await;
        assert!(written.is_empty(), "{case}: the cloud saw {written:?}");
        let (_, now_listed, _) = run_env(&ws, &["state", "list"], &sim.env);
        assert_eq!(now_listed, listed, "{case}: the state's resources changed");
        assert!(
            tree(&state_dir) == before,
            "{case}: the state folder changed"
        );
    }
}
