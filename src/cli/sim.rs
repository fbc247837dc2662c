//! `stackform sim`: serve the embedded cloud until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::sim::{ADMIN_PASSWORD, ADMIN_PROJECT, ADMIN_USER, Chaos, Sim, SimConfig};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (loopback recommended: the admin password is fixed and public).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub listen: SocketAddr,
    /// Where the cloud keeps its data between runs.
    #[arg(long, default_value = "state/cloud")]
    pub data: PathBuf,
    /// How long new servers stay in BUILD, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub build_delay_ms: u64,
    /// How long a volume, snapshot or backup stays creating (backing-up, restoring-backup,
    /// extending, deleting; a Nova attach or detach) before it settles, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub volume_delay_ms: u64,
    /// Random faults, as JSON: {"seed": 1, "error_rate": 0.05, "throttle_rate": 0.02,
    /// "retry_after_secs": 1, "reset_rate": 0.01, "lose_reply_rate": 0.05, "latency_ms": [0, 50],
    /// "build_error_rate": 0.1, "services": ["/networking"]}; also `PUT /_sim/chaos`.
    #[arg(long, value_parser = parse_chaos)]
    pub chaos: Option<Chaos>,
    /// How many recent requests GET /_sim/requests lists (its totals count every request).
    #[arg(long, default_value_t = crate::sim::DEFAULT_REQUEST_LOG_LIMIT)]
    pub request_log_limit: usize,
    /// The remote-console protocols the cloud serves (Nova's `[vnc]`, `[spice]`,
    /// `[serial_console]` enabled), comma-separated; `none` for no console at all.
    #[arg(long, value_delimiter = ',', default_value = "vnc",
          value_parser = ["vnc", "spice", "serial", "none"])]
    pub consoles: Vec<String>,
    /// Glance's `image_size_cap`: the most bytes an image upload may hold (413 beyond).
    #[arg(long, default_value_t = crate::sim::DEFAULT_IMAGE_SIZE_CAP)]
    pub image_size_cap: u64,
}

fn parse_chaos(text: &str) -> Result<Chaos, String> {
    serde_json::from_str(text).map_err(|e| format!("not a chaos setting ({e})"))
}

pub async fn run(args: SimArgs) -> Result<ExitCode, CliError> {
    // Password hashes and token digests live there: private before the cloud writes.
    crate::store::snapshot::create_private_dir(&args.data)?;
    let sim = Sim::open(SimConfig {
        data_dir: Some(args.data.clone()),
        build_delay: Duration::from_millis(args.build_delay_ms),
        volume_delay: Duration::from_millis(args.volume_delay_ms),
        chaos: args.chaos.clone().unwrap_or_default(),
        request_log_limit: args.request_log_limit,
        enabled_consoles: args
            .consoles
            .iter()
            .filter(|c| *c != "none")
            .cloned()
            .collect(),
        image_size_cap: args.image_size_cap,
        ..SimConfig::default()
    })
    .map_err(|e| CliError::Usage(format!("embedded cloud: {e}")))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let bound = listener.local_addr()?;
    // The embedded cloud's admin password is a fixed, documented, local-only value: printing
    // it is what makes `eval "$(stackform sim)"` configure the openstack CLI.
    println!("export OS_AUTH_URL=http://{bound}/identity/v3");
    println!("export OS_USERNAME={ADMIN_USER}");
    println!("export OS_PASSWORD={ADMIN_PASSWORD}");
    println!("export OS_PROJECT_NAME={ADMIN_PROJECT}");
    println!("export OS_USER_DOMAIN_NAME=Default");
    println!("export OS_PROJECT_DOMAIN_NAME=Default");
    println!("export OS_IDENTITY_API_VERSION=3");
    println!("export OS_REGION_NAME=RegionOne");
    println!("export OS_INTERFACE=public");
    eprintln!(
        "embedded cloud listening on http://{bound}, data in {}; Ctrl-C stops it",
        args.data.display()
    );
    sim.serve(listener, shutdown_signal())
        .await
        .map_err(|e| CliError::Usage(format!("embedded cloud: {e}")))?;
    eprintln!("embedded cloud stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
