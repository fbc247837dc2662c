//! Nova server actions that stackform runs on request, not to reach a desired state
//! (`stackform instance restart`, `console`, `console-log`): reboot, remote consoles and the
//! console output.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::compute::Compute;
use super::{ApiError, ServiceType};

impl Compute<'_> {
    /// `{"reboot": {"type": "SOFT" | "HARD"}}`: the server goes REBOOT (or HARD_REBOOT), then
    /// ACTIVE.
    pub async fn reboot(self, id: &str, hard: bool) -> Result<(), ApiError> {
        let kind = if hard { "HARD" } else { "SOFT" };
        self.0
            .send_no_content(
                ServiceType::Compute,
                Method::POST,
                &format!("/servers/{id}/action"),
                Some(&json!({ "reboot": { "type": kind } })),
            )
            .await
    }
}

/// A console Nova hands out: where to open it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RemoteConsole {
    pub protocol: String,
    #[serde(rename = "type")]
    pub console_type: String,
    pub url: String,
}

#[derive(Deserialize)]
struct ConsoleOutput {
    output: String,
}

impl Compute<'_> {
    /// POST /servers/{id}/remote-consoles (2.6+): a console URL for `protocol` (vnc, spice,
    /// serial) and its `console_type` (novnc, spice-html5, serial). Nova answers 400
    /// "Unavailable console type ..." for a protocol whose proxy the cloud does not run.
    pub async fn remote_console(
        self,
        id: &str,
        protocol: &str,
        console_type: &str,
    ) -> Result<RemoteConsole, ApiError> {
        self.0
            .send_json(
                ServiceType::Compute,
                Method::POST,
                &format!("/servers/{id}/remote-consoles"),
                &json!({ "remote_console": { "protocol": protocol, "type": console_type } }),
                Some("remote_console"),
            )
            .await
    }

    /// `{"os-getConsoleOutput": {"length": N}}`: what the guest printed on its console, the
    /// last `lines` lines only when given.
    pub async fn console_output(self, id: &str, lines: Option<u32>) -> Result<String, ApiError> {
        let argument = match lines {
            Some(n) => json!({ "length": n }),
            None => json!({}),
        };
        let reply: ConsoleOutput = self
            .0
            .send_json(
                ServiceType::Compute,
                Method::POST,
                &format!("/servers/{id}/action"),
                &json!({ "os-getConsoleOutput": argument }),
                None,
            )
            .await?;
        Ok(reply.output)
    }
}
