//! Save-to-reconcile latency of `stackform watch`: from a spec file written to the start of
//! the reconcile it causes.
//!
//! `cargo run --release --example watch_bench -- [SAVES]` runs the daemon in this process on
//! a temporary spec folder and state (the embedded cloud), saves the spec SAVES times (default
//! 20), each save as an editor does it (a temporary file renamed over the spec: a burst of
//! events, one change), and prints the median and worst latency. The latency is the debounce
//! quiet period (`watch::trigger::DEBOUNCE`, 200 ms) plus the file watcher's delivery: it must
//! stay well under a second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stackform::ops::Workspace;
use stackform::watch::{self, Log, Mode};
use tokio::sync::mpsc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reports the moment each spec-change reconcile starts.
struct Starts(mpsc::UnboundedSender<Instant>);

impl Log for Starts {
    fn info(&self, text: &str) {
        if text == "stackform watch: reconcile (spec-change)" {
            let _ = self.0.send(Instant::now());
        }
    }
    fn error(&self, text: &str) {
        eprintln!("{text}");
    }
}

fn spec(description: usize) -> String {
    format!(
        "[provider]\ncloud = \"embedded\"\n\n[tenant.bench]\ndescription = \"save {description}\"\n"
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let saves: usize = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .map_err(|e| format!("SAVES must be a number: {e}"))?,
        None => 20,
    };
    let dir = tempfile::tempdir()?;
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(&specs)?;
    std::fs::write(specs.join("all.toml"), spec(0))?;
    let (sender, mut starts) = mpsc::unbounded_channel();
    let options = watch::Options {
        ws: Workspace {
            specs: specs.clone(),
            state: dir.path().join("state"),
        },
        mode: Mode::Apply,
        listen: "127.0.0.1:0".parse()?,
        once: false,
        color: false,
    };
    tokio::spawn(watch::run(options, Arc::new(Starts(sender))));
    // The first reconcile (start) makes the tenant; let it settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut latencies = Vec::with_capacity(saves);
    for n in 1..=saves {
        let tmp = specs.join(".all.toml.swp");
        let saved = Instant::now();
        std::fs::write(&tmp, spec(n))?;
        std::fs::rename(&tmp, specs.join("all.toml"))?;
        let started = tokio::time::timeout(Duration::from_secs(10), starts.recv())
            .await
            .map_err(|_| format!("save {n}: no reconcile within 10 s"))?
            .ok_or("the daemon stopped")?;
        latencies.push(started.saturating_duration_since(saved));
        // Let that reconcile end before the next save.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    println!(
        "save to reconcile start, {saves} saves: median {} ms, worst {} ms (debounce {} ms)",
        median.as_millis(),
        worst.as_millis(),
        watch::trigger::DEBOUNCE.as_millis()
    );
    Ok(())
}
