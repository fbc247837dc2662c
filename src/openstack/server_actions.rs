//! Nova server actions that stackform runs on request, not to reach a desired state
//! (`stackform instance restart`): reboot.

use reqwest::Method;
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
