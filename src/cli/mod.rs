//! Command-line interface: clap types and one file per command. Commands are thin: options
//! in, an `ops` call, output out. Knows nothing of HTTP, sled or petgraph.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ops::{OpsError, RunOptions, Workspace};

mod apply;
mod catalog;
mod console;
mod graph;
mod image;
mod instance;
mod plan;
mod sim;
mod state;
mod tenant;
mod watch;

#[derive(Debug, Parser)]
#[command(
    name = "stackform",
    version,
    about = "Declarative reconciler for OpenStack: keeps a cloud in the shape TOML specs describe"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub ws: WorkspaceArgs,
    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Refresh from the cloud, compare with the spec, print what apply would do.
    Plan(plan::PlanArgs),
    /// Plan, ask for confirmation, then make the changes.
    Apply(apply::ApplyArgs),
    /// Delete everything the state manages, dependents first.
    Destroy(apply::DestroyArgs),
    /// Check the spec folder without contacting any cloud.
    Validate,
    /// Print the dependency graph in DOT format.
    Graph,
    /// Inspect the state.
    #[command(subcommand)]
    State(state::StateCommand),
    /// Serve the embedded OpenStack-compatible cloud for other clients (the `openstack` CLI).
    Sim(sim::SimArgs),
    /// Pull the volume catalog (types, zones, limits) and the compute catalog (flavors, images,
    /// zones) from the cloud into the state.
    RefreshCatalog(catalog::RefreshCatalogArgs),
    /// Tenants' own users.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Actions on an instance of the state (not a desired state: nothing in the spec changes).
    #[command(subcommand)]
    Instance(instance::InstanceCommand),
    /// Images that no spec names: `image upload FILE --tenant NAME --name NAME`.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Print the URL of an instance's remote console (Nova's remote-consoles).
    Console(console::ConsoleArgs),
    /// Print what an instance wrote on its console (Nova's os-getConsoleOutput).
    ConsoleLog(console::ConsoleLogArgs),
    /// Keep reconciling: on every spec edit, on pull timers (drift), with status endpoints.
    Watch(watch::WatchArgs),
}

/// Where every command finds its spec and state. Global: accepted before or after the
/// subcommand (`stackform --state s plan`, `stackform state list --state s`), on every command.
#[derive(Clone, Debug, Args)]
pub struct WorkspaceArgs {
    /// The spec folder (*.toml files).
    #[arg(long, global = true, default_value = "specs")]
    pub specs: PathBuf,
    /// The state folder.
    #[arg(long, global = true, default_value = "state")]
    pub state: PathBuf,
}

impl WorkspaceArgs {
    pub fn workspace(&self) -> Workspace {
        Workspace {
            specs: self.specs.clone(),
            state: self.state.clone(),
        }
    }
}

/// How a run that writes the state treats it: `--lock-timeout`, `--migrate-cloud`.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// How long to wait for another run's lock on the state (e.g. 30s, 5m); 0s fails at once,
    /// naming the holder.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Accept a cloud other than the one the state belongs to (and record it on apply).
    #[arg(long)]
    pub migrate_cloud: bool,
}

impl RunArgs {
    pub fn options(&self) -> RunOptions {
        RunOptions {
            lock_timeout: self.lock_timeout,
            migrate_cloud: self.migrate_cloud,
            parallelism: None,
        }
    }
}

/// A duration as `500ms`, `10s`, `5m` or `1h`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. 30s, 5m or 500ms"))?;
    let millis = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?} is not a duration; write e.g. 30s, 5m or 500ms"))?;
    Ok(std::time::Duration::from_millis(millis))
}

/// What went wrong, printed by `main` as is.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Ops(#[from] OpsError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Watch(crate::watch::WatchError),
}

impl CliError {
    /// Spec diagnostics render with colour and source lines; everything else is one line.
    /// Always ends with a newline.
    pub fn render(&self, color: bool) -> String {
        match self {
            CliError::Ops(OpsError::Spec(d)) => d.render(color),
            other => format!("error: {other}\n"),
        }
    }
}

pub struct Output {
    pub color: bool,
}

impl Cli {
    pub fn color_enabled(&self) -> bool {
        match self.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        }
    }
}

pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let out = Output {
        color: cli.color_enabled(),
    };
    let ws = cli.ws.workspace();
    match cli.command {
        Command::Plan(args) => plan::run(args, &ws, &out).await,
        Command::Apply(args) => apply::run(args, &ws, &out).await,
        Command::Destroy(args) => apply::destroy(args, &ws, &out).await,
        Command::Validate => graph::validate(&ws, &out),
        Command::Graph => graph::run(&ws, &out).await,
        Command::State(cmd) => state::run(cmd, &ws, &out).await,
        Command::Sim(args) => sim::run(args).await,
        Command::RefreshCatalog(args) => catalog::run(args, &ws, &out).await,
        Command::Tenant(cmd) => tenant::run(cmd, &ws, &out).await,
        Command::Instance(cmd) => instance::run(cmd, &ws).await,
        Command::Image(cmd) => image::run(cmd, &ws).await,
        Command::Console(args) => console::url(args, &ws).await,
        Command::ConsoleLog(args) => console::log(args, &ws).await,
        Command::Watch(args) => watch::run(args, &ws, &out).await,
    }
}

/// Prints a rendered block, ending it with exactly one newline whatever the renderer did.
/// The spec's warnings, on standard error so that plans and JSON stay clean on standard output.
pub fn print_warnings(desired: &crate::spec::Desired, color: bool) {
    if !desired.warnings.is_empty() {
        eprintln!("{}", desired.warnings.render(color).trim_end_matches('\n'));
    }
}

pub fn print_block(text: &str) {
    println!("{}", text.trim_end_matches('\n'));
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_or_without_unit() {
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
