//! Helpers shared by the integration tests: running the binary, the embedded cloud as a
//! separate process, and the `openstack` CLI in a virtualenv the tests install themselves.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;

pub fn stackform() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stackform"))
}

/// Runs stackform with `args` in `dir`, returning (exit code, stdout, stderr).
pub fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = stackform()
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the stackform binary runs");
    decode(out)
}

pub fn decode(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `stackform sim` running as its own process, with the OS_* variables it printed.
pub struct SimProcess {
    child: Child,
    pub env: Vec<(String, String)>,
}

impl SimProcess {
    pub fn start(data: &Path) -> SimProcess {
        SimProcess::start_with_build_delay(data, 200)
    }

    /// As [`SimProcess::start`], with servers staying in BUILD for `build_delay_ms`.
    pub fn start_with_build_delay(data: &Path, build_delay_ms: u64) -> SimProcess {
        SimProcess::start_with_args(data, &["--build-delay-ms", &build_delay_ms.to_string()])
    }

    /// As [`SimProcess::start`], with more arguments of `stackform sim` (`--volume-delay-ms`).
    pub fn start_with_args(data: &Path, args: &[&str]) -> SimProcess {
        let mut child = stackform()
            .args(["sim", "--listen", "127.0.0.1:0"])
            .args(args)
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("stackform sim starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut env = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("readable stdout");
            let (k, v) = line
                .strip_prefix("export ")
                .and_then(|kv| kv.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            env.push((k.to_string(), v.to_string()));
            if k == "OS_INTERFACE" {
                break;
            }
        }
        SimProcess { child, env }
    }

    pub fn auth_url(&self) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == "OS_AUTH_URL")
            .map(|(_, v)| v.as_str())
            .expect("OS_AUTH_URL printed")
    }

    /// SIGTERM, then the exit status: the server must shut down cleanly.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            killed.map(|s| s.success()).unwrap_or(false),
            "kill -TERM {pid}"
        );
        self.child.wait().expect("sim exits")
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// python-openstackclient, pinned, installed once into target/tmp by the tests themselves.
const OPENSTACKCLIENT: &str = "python-openstackclient==10.5.0";

static VENV: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The `openstack` executable, installing it on first use (about a minute).
pub fn openstack_cli() -> PathBuf {
    let mut guard = VENV.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(path) = guard.as_ref() {
        return path.clone();
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("osc-venv");
    let bin = venv.join("bin").join("openstack");
    let marker = venv.join(".installed");
    if !marker.exists() {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
        let status = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv runs");
        assert!(status.success(), "python3 -m venv {}", venv.display());
        let out = Command::new(venv.join("bin").join("pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                OPENSTACKCLIENT,
            ])
            .output()
            .expect("pip runs");
        assert!(
            out.status.success(),
            "pip install {OPENSTACKCLIENT} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&marker, OPENSTACKCLIENT).expect("marker written");
    }
    *guard = Some(bin.clone());
    bin
}

/// Runs stackform in `dir` with extra environment variables (e.g. a cloud's OS_* set).
pub fn run_env(dir: &Path, args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let mut cmd = stackform();
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    decode(cmd.output().expect("the stackform binary runs"))
}

/// Writes `files` (name, content) into `dir/specs`, replacing what was there.
pub fn write_specs(dir: &Path, files: &[(&str, &str)]) {
    let specs = dir.join("specs");
    let _ = std::fs::remove_dir_all(&specs);
    std::fs::create_dir_all(&specs).expect("specs folder");
    for (name, content) in files {
        std::fs::write(specs.join(name), content).expect("spec written");
    }
}
