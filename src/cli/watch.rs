//! `stackform watch`

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::{CliError, Output};
use crate::ops::Workspace;
use crate::watch::{self, Log, Mode, WatchError};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// apply: make the changes; plan: only report them.
    #[arg(long, value_enum, default_value_t = WatchMode::Apply)]
    pub mode: WatchMode,
    /// Where /healthz, /readyz and /status answer.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// One full reconcile (refresh everything, apply or report), then exit, for cron.
    #[arg(long)]
    pub once: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WatchMode {
    Apply,
    Plan,
}

/// Progress on standard output, errors and spec diagnostics on standard error.
struct Printer;

impl Log for Printer {
    fn info(&self, text: &str) {
        println!("{text}");
    }
    fn error(&self, text: &str) {
        eprintln!("{text}");
    }
}

pub async fn run(args: WatchArgs, ws: &Workspace, out: &Output) -> Result<ExitCode, CliError> {
    let options = watch::Options {
        ws: ws.clone(),
        mode: match args.mode {
            WatchMode::Apply => Mode::Apply,
            WatchMode::Plan => Mode::Plan,
        },
        listen: args.listen,
        once: args.once,
        color: out.color,
    };
    match watch::run(options, Arc::new(Printer)).await {
        Ok(true) => Ok(ExitCode::SUCCESS),
        Ok(false) => Ok(ExitCode::from(1)),
        Err(WatchError::Ops(e)) => Err(CliError::Ops(e)),
        Err(e) => Err(CliError::Watch(e)),
    }
}
