//! os-keypairs as real Nova keeps them: per *user* (not per project), imported OpenSSH public
//! keys with Nova's MD5 fingerprint, the `key_pairs` quota, and the admin's view of another
//! user's keypairs through `?user_id=` (2.10+). A server's `key_name` is looked up among the
//! keypairs of the user who creates it.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sim::core::{Caller, Fault, Service, SimState, parse_json};
use crate::sim::wire::json_reply;

use super::*;

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Keypair {
    pub(super) name: String,
    pub(super) public_key: String,
    pub(super) fingerprint: String,
    pub(super) user_id: String,
    /// Numbered as Nova's database numbers them.
    pub(super) id: u64,
    pub(super) created: DateTime<Utc>,
}

/// User id → name → keypair.
pub(super) type Keypairs = BTreeMap<String, BTreeMap<String, Keypair>>;

impl ComputeData {
    /// Whether `user_id` has the keypair `name` (a server create's `key_name`).
    pub(super) fn has_keypair(&self, user_id: &str, name: &str) -> bool {
        self.keypairs
            .get(user_id)
            .is_some_and(|keys| keys.contains_key(name))
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        if c == b'=' {
            break;
        }
        buffer = (buffer << 6) | BASE64.iter().position(|a| *a == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Nova's fingerprint of an OpenSSH public key: MD5 of the decoded key, colon-separated hex;
/// `None` where Nova fails to make one (its 400 "failed to generate fingerprint").
fn fingerprint(public_key: &str) -> Option<String> {
    let mut words = public_key.split_whitespace();
    let kind = words.next()?;
    if !matches!(
        kind,
        "ssh-rsa"
            | "ssh-dss"
            | "ssh-ed25519"
            | "ecdsa-sha2-nistp256"
            | "ecdsa-sha2-nistp384"
            | "ecdsa-sha2-nistp521"
    ) {
        return None;
    }
    let decoded = decode_base64(words.next()?).filter(|d| !d.is_empty())?;
    let digest = <md5::Md5 as md5::Digest>::digest(&decoded);
    let pairs: Vec<String> = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    Some(pairs.join(":"))
}

fn not_found(name: &str, user_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Keypair {name} not found for user {user_id}"),
    )
}

/// Whose keypairs a call reaches: the caller's, or with `?user_id=` another user's (admins only,
/// 2.10+), as Nova's policy allows.
fn user_of(caller: &Caller, query: &[(String, String)], mv: Microversion) -> Result<String, Fault> {
    match query.iter().find(|(k, _)| k == "user_id") {
        Some((_, user)) if mv.at_least(10) && user != &caller.user_id => {
            if !caller.is_admin() {
                return Err(fault(
                    StatusCode::FORBIDDEN,
                    "Policy doesn't allow os_compute_api:os-keypairs:index to be performed.",
                ));
            }
            Ok(user.clone())
        }
        _ => Ok(caller.user_id.clone()),
    }
}

fn summary(keypair: &Keypair) -> Value {
    json!({
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
        "type": "ssh",
    })
}

/// GET /os-keypairs: `{"keypairs": [{"keypair": {...}}]}` (the list shows no user_id).
pub(super) async fn list_keypairs(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let user_id = user_of(&caller, &query, mv)?;
    let world = state.world();
    let keypairs: Vec<Value> = world
        .compute
        .keypairs
        .get(&user_id)
        .into_iter()
        .flat_map(|keys| keys.values())
        .map(|k| json!({ "keypair": summary(k) }))
        .collect();
    Ok(json_reply(StatusCode::OK, json!({ "keypairs": keypairs })))
}

/// GET /os-keypairs/{name}
pub(super) async fn show_keypair(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let user_id = user_of(&caller, &query, mv)?;
    let world = state.world();
    let keypair = world
        .compute
        .keypairs
        .get(&user_id)
        .and_then(|keys| keys.get(&name))
        .ok_or_else(|| not_found(&name, &user_id))?;
    let mut body = summary(keypair);
    body["user_id"] = json!(keypair.user_id);
    body["created_at"] = json!(keypair.created.format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
    body["deleted"] = json!(false);
    body["deleted_at"] = Value::Null;
    body["updated_at"] = Value::Null;
    body["id"] = json!(keypair.id);
    Ok(json_reply(StatusCode::OK, json!({ "keypair": body })))
}

/// POST /os-keypairs: imports a public key (stackform never asks Nova to generate one).
pub(super) async fn create_keypair(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    body: Bytes,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let project_id = project_of(&caller)?;
    let body = parse_json(Service::Compute, &body)?;
    let input = body
        .get("keypair")
        .filter(|k| k.is_object())
        .ok_or_else(|| invalid_field("keypair", &body, "'keypair' is a required property"))?;
    let name_value = input.get("name").unwrap_or(&Value::Null);
    let Some(name) = name_value.as_str() else {
        return Err(bad_request(
            "Invalid input for field/attribute keypair. Value: {}. 'name' is a required property",
        ));
    };
    let valid = !name.is_empty()
        && name.chars().count() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@' | '.' | ' '));
    if !valid {
        return Err(bad_request(format!(
            r"Invalid input for field/attribute name. Value: {name}. '{name}' does not match '^[_\\-\\@\\. a-zA-Z0-9]+$'"
        )));
    }
    let Some(public_key) = input.get("public_key").and_then(Value::as_str) else {
        // Nova generates a key below 2.92; the embedded cloud only imports.
        return Err(bad_request(if mv.at_least(92) {
            "Invalid input for field/attribute keypair. 'public_key' is a required property"
        } else {
            "The embedded cloud imports keypairs only: give a public_key"
        }));
    };
    let fingerprint = fingerprint(public_key)
        .ok_or_else(|| bad_request("Keypair data is invalid: failed to generate fingerprint"))?;
    let mut world = state.world();
    let compute = &mut world.compute;
    let limit = compute.quota(&project_id).key_pairs;
    let user_id = caller.user_id.clone();
    let owned = compute.keypairs.get(&user_id).map_or(0, BTreeMap::len) as i64;
    if limit >= 0 && owned >= limit {
        return Err(fault(
            StatusCode::FORBIDDEN,
            "Quota exceeded, too many key pairs.",
        ));
    }
    if compute.has_keypair(&user_id, name) {
        return Err(fault(
            StatusCode::CONFLICT,
            format!("Key pair '{name}' already exists."),
        ));
    }
    compute.next_keypair_id += 1;
    let keypair = Keypair {
        name: name.to_string(),
        public_key: public_key.to_string(),
        fingerprint,
        user_id: user_id.clone(),
        id: compute.next_keypair_id,
        created: Utc::now(),
    };
    let mut body = summary(&keypair);
    body["user_id"] = json!(user_id);
    compute
        .keypairs
        .entry(user_id)
        .or_default()
        .insert(keypair.name.clone(), keypair);
    let status = if mv.at_least(2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_reply(status, json!({ "keypair": body })))
}

/// DELETE /os-keypairs/{name}: 204 (202 before 2.2).
pub(super) async fn delete_keypair(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Fault> {
    let caller = state.caller(&headers, Service::Compute)?;
    let user_id = user_of(&caller, &query, mv)?;
    let mut world = state.world();
    world
        .compute
        .keypairs
        .get_mut(&user_id)
        .and_then(|keys| keys.remove(&name))
        .ok_or_else(|| not_found(&name, &user_id))?;
    Ok(if mv.at_least(2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    }
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fingerprints_as_real_nova() {
        // Real Nova's fingerprint of this key (and `ssh-keygen -l -E md5`).
        assert_eq!(
            fingerprint(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPGUr3OlcqeYBaYI1GgSBM5uDJYUEPa5hzxRXK7Masug probe@sf"
            )
            .as_deref(),
            Some("83:83:4f:21:20:0d:18:9b:a9:1f:37:8e:cf:81:d6:0d")
        );
        assert_eq!(fingerprint("ssh-rsa notbase64!!"), None);
        assert_eq!(fingerprint("nonsense"), None);
    }
}
