//! Nova keypairs (os-keypairs): they belong to a user, not to a project. Created by the user
//! itself (its own token); an admin lists and deletes another user's with `user_id` (2.10+).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::compute::Compute;
use super::{ApiError, ServiceType};

const COMPUTE: ServiceType = ServiceType::Compute;

/// A keypair as Nova shows it (the list omits `user_id`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Keypair {
    pub name: String,
    pub public_key: String,
    /// MD5 of the decoded key, as colon-separated hex.
    pub fingerprint: String,
    /// `ssh` or `x509` (2.2+).
    #[serde(rename = "type")]
    pub key_type: String,
    pub user_id: Option<String>,
}

/// A list entry: `{"keypair": {...}}`.
#[derive(Deserialize)]
struct Listed {
    keypair: Keypair,
}

/// A name in a URL path or query: Nova's names may hold spaces, `@` and dots.
fn escaped(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Compute<'_> {
    /// The keypairs of `user_id` (an admin's view of another user's), or of the session's
    /// user when `None`.
    pub async fn list_keypairs(self, user_id: Option<&str>) -> Result<Vec<Keypair>, ApiError> {
        let query: Vec<(String, String)> = user_id
            .map(|u| vec![("user_id".to_string(), u.to_string())])
            .unwrap_or_default();
        let listed: Vec<Listed> = self
            .0
            .list(COMPUTE, "/os-keypairs", "keypairs", &query)
            .await?;
        Ok(listed.into_iter().map(|l| l.keypair).collect())
    }

    /// Imports `public_key` as the session's user's keypair `name`.
    pub async fn create_keypair(self, name: &str, public_key: &str) -> Result<Keypair, ApiError> {
        self.0
            .send_json(
                COMPUTE,
                Method::POST,
                "/os-keypairs",
                &json!({ "keypair": { "name": name, "public_key": public_key, "type": "ssh" } }),
                Some("keypair"),
            )
            .await
    }

    /// Deletes `user_id`'s keypair `name` (admin), or the session's user's when `None`.
    pub async fn delete_keypair(self, name: &str, user_id: Option<&str>) -> Result<(), ApiError> {
        let mut path = format!("/os-keypairs/{}", escaped(name));
        if let Some(user) = user_id {
            path.push_str(&format!("?user_id={}", escaped(user)));
        }
        self.0
            .send_no_content(COMPUTE, Method::DELETE, &path, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_real_novas_list_and_escapes_names() {
        // Real Nova 2.92's answer to GET /os-keypairs (the list shows no user_id).
        let page = r#"{"keypairs": [{"keypair": {"name": "sfprobe-kp", "public_key":
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPGUr3OlcqeYBaYI1GgSBM5uDJYUEPa5hzxRXK7Masug probe@sf",
            "fingerprint": "83:83:4f:21:20:0d:18:9b:a9:1f:37:8e:cf:81:d6:0d", "type": "ssh"}}]}"#;
        let listed: Vec<Listed> = serde_json::from_value(
            serde_json::from_str::<serde_json::Value>(page).unwrap()["keypairs"].clone(),
        )
        .unwrap();
        assert_eq!(listed[0].keypair.name, "sfprobe-kp");
        assert_eq!(listed[0].keypair.key_type, "ssh");
        assert_eq!(listed[0].keypair.user_id, None);
        assert_eq!(escaped("my key@host.x"), "my%20key%40host.x");
    }
}
