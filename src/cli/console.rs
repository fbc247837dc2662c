//! `stackform console ADDRESS [--type novnc|spice|serial]` and `stackform console-log ADDRESS
//! [--lines N]`: an instance's remote console URL and its console output, read from Nova.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{CliError, RunArgs};
use crate::ops::instance::ConsoleKind;
use crate::ops::{self, Workspace};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConsoleType {
    /// noVNC in a browser (Nova's vnc protocol).
    Novnc,
    /// SPICE in a browser (spice-html5).
    Spice,
    /// The serial console, over a websocket.
    Serial,
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The instance's address in the state, `instance.NAME`.
    pub address: String,
    /// Which console; the cloud must have enabled its proxy.
    #[arg(long = "type", value_enum, default_value = "novnc")]
    pub console_type: ConsoleType,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ConsoleLogArgs {
    /// The instance's address in the state, `instance.NAME`.
    pub address: String,
    /// Only the last N lines.
    #[arg(long)]
    pub lines: Option<u32>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Prints the URL alone on its line, so that scripts can open it.
pub async fn url(args: ConsoleArgs, ws: &Workspace) -> Result<ExitCode, CliError> {
    let kind = match args.console_type {
        ConsoleType::Novnc => ConsoleKind::NoVnc,
        ConsoleType::Spice => ConsoleKind::Spice,
        ConsoleType::Serial => ConsoleKind::Serial,
    };
    let console = ops::instance::console_url(ws, args.run.options(), &args.address, kind).await?;
    println!("{}", console.url);
    Ok(ExitCode::SUCCESS)
}

/// Prints the output as Nova returns it, ending with a newline when it has none so that the
/// shell's prompt starts on its own line.
pub async fn log(args: ConsoleLogArgs, ws: &Workspace) -> Result<ExitCode, CliError> {
    let output =
        ops::instance::console_log(ws, args.run.options(), &args.address, args.lines).await?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(output.as_bytes())?;
    if !output.is_empty() && !output.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
