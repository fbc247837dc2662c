//! Tenant credentials kept in the state folder, sealed at rest.
//!
//! Each tenant stackform creates gets its own Keystone user and a random password; the
//! password is needed again later (to act inside the tenant, to show it to its owner) so it is
//! kept, but never in plain text: `credentials.sealed` holds each password sealed with
//! ChaCha20-Poly1305 under a 32-byte key in `credentials.key` (mode 0600, made on first use).
//! The user name, ids and auth URL are not secret and stay readable.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::{Result, StoreError};

pub const KEY_FILE: &str = "credentials.key";
pub const SEALED_FILE: &str = "credentials.sealed";
const KEY_LEN: usize = 32;

/// A tenant's own user, as `stackform tenant credentials` shows it.
#[derive(Clone, PartialEq)]
pub struct TenantCredentials {
    pub user_id: String,
    pub user_name: String,
    pub project_id: String,
    pub project_name: String,
    pub auth_url: String,
    pub password: String,
}

/// Never the password: a credential that reaches a log or an error says only whose it is.
impl fmt::Debug for TenantCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantCredentials")
            .field("user_name", &self.user_name)
            .field("project_name", &self.project_name)
            .finish_non_exhaustive()
    }
}

/// One entry of `credentials.sealed`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SealedEntry {
    user_id: String,
    user_name: String,
    project_id: String,
    project_name: String,
    auth_url: String,
    /// Hex of nonce ‖ ciphertext ‖ tag; the tenant's address is the associated data, so an
    /// entry moved to another tenant does not open.
    password: String,
}

/// The sealed credentials of one state folder. Writes are serialized: tenants are created in
/// parallel.
pub struct CredentialVault {
    dir: PathBuf,
    write: Mutex<()>,
}

impl fmt::Debug for CredentialVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialVault({})", self.dir.display())
    }
}

fn backend(path: &Path, e: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("{}: {e}", path.display()))
}

/// `n` random bytes from the system's generator.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Backend("the system random generator failed".into()))?;
    Ok(bytes)
}

/// A random password: 128 bits, as 32 hex digits (accepted by any Keystone password rule
/// that does not ask for mixed case or symbols).
pub fn random_password() -> Result<String> {
    Ok(hex(&random_bytes(16)?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl CredentialVault {
    pub fn new(state_dir: impl Into<PathBuf>) -> CredentialVault {
        CredentialVault {
            dir: state_dir.into(),
            write: Mutex::new(()),
        }
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    fn sealed_path(&self) -> PathBuf {
        self.dir.join(SEALED_FILE)
    }

    /// The key, made (mode 0600) when `create` and there is none yet.
    fn key(&self, create: bool) -> Result<Option<LessSafeKey>> {
        let path = self.key_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let bytes = random_bytes(KEY_LEN)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(|e| backend(&path, e))?;
                file.write_all(&bytes).map_err(|e| backend(&path, e))?;
                file.sync_all().map_err(|e| backend(&path, e))?;
                bytes
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(backend(&path, e)),
        };
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| StoreError::Corrupt {
            key: path.display().to_string(),
            detail: format!(
                "a credentials key is {KEY_LEN} bytes, found {}",
                bytes.len()
            ),
        })?;
        Ok(Some(LessSafeKey::new(key)))
    }

    fn entries(&self) -> Result<BTreeMap<String, SealedEntry>> {
        let path = self.sealed_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                key: path.display().to_string(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(backend(&path, e)),
        }
    }

    /// Writes through a temporary file and a rename: a crash leaves the old file or the new.
    fn write_entries(&self, entries: &BTreeMap<String, SealedEntry>) -> Result<()> {
        let path = self.sealed_path();
        let temp = self.dir.join(format!("{SEALED_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(entries).map_err(|e| backend(&path, e))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).map_err(|e| backend(&temp, e))?;
        file.write_all(&bytes).map_err(|e| backend(&temp, e))?;
        file.sync_all().map_err(|e| backend(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| backend(&path, e))
    }

    /// Keeps `tenant`'s credentials, replacing any before.
    pub fn put(&self, tenant: &str, credentials: &TenantCredentials) -> Result<()> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(key) = self.key(true)? else {
            return Err(backend(&self.key_path(), "no key"));
        };
        let nonce_bytes = random_bytes(NONCE_LEN)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&nonce_bytes);
        let mut sealed = credentials.password.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(tenant.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| backend(&self.sealed_path(), "sealing failed"))?;
        let mut entries = self.entries()?;
        entries.insert(
            tenant.to_string(),
            SealedEntry {
                user_id: credentials.user_id.clone(),
                user_name: credentials.user_name.clone(),
                project_id: credentials.project_id.clone(),
                project_name: credentials.project_name.clone(),
                auth_url: credentials.auth_url.clone(),
                password: hex(&[nonce.as_slice(), &sealed].concat()),
            },
        );
        self.write_entries(&entries)
    }

    /// Each kept user's project id and user id (no password opened): whose keypairs to list.
    pub fn users(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .entries()?
            .into_values()
            .map(|e| (e.project_id, e.user_id))
            .collect())
    }

    /// `tenant`'s credentials, opened; `None` when none are kept.
    pub fn get(&self, tenant: &str) -> Result<Option<TenantCredentials>> {
        let Some(entry) = self.entries()?.remove(tenant) else {
            return Ok(None);
        };
        let corrupt = |detail: &str| StoreError::Corrupt {
            key: format!("{} ({tenant})", self.sealed_path().display()),
            detail: detail.to_string(),
        };
        let key = self
            .key(false)?
            .ok_or_else(|| corrupt("the credentials key file is missing"))?;
        let bytes = unhex(&entry.password).ok_or_else(|| corrupt("the password is not hex"))?;
        if bytes.len() < NONCE_LEN {
            return Err(corrupt("the sealed password is too short"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| corrupt("the sealed password is too short"))?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(tenant.as_bytes()), &mut sealed)
            .map_err(|_| corrupt("the password does not open with the credentials key"))?;
        let password =
            String::from_utf8(plain.to_vec()).map_err(|_| corrupt("the password is not text"))?;
        Ok(Some(TenantCredentials {
            user_id: entry.user_id,
            user_name: entry.user_name,
            project_id: entry.project_id,
            project_name: entry.project_name,
            auth_url: entry.auth_url,
            password,
        }))
    }

    /// Forgets `tenant`'s credentials (its user was deleted).
    pub fn remove(&self, tenant: &str) -> Result<()> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut entries = self.entries()?;
        if entries.remove(tenant).is_some() {
            self.write_entries(&entries)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(password: &str) -> TenantCredentials {
        TenantCredentials {
            user_id: "u1".into(),
            user_name: "demo-user-ab12".into(),
            project_id: "p1".into(),
            project_name: "demo".into(),
            auth_url: "http://127.0.0.1:5000/v3".into(),
            password: password.into(),
        }
    }

    #[test]
    fn credentials_round_trip_sealed_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let vault = CredentialVault::new(dir.path());
        let password = random_password().unwrap();
        assert_eq!(password.len(), 32);
        vault.put("tenant.demo", &sample(&password)).unwrap();
        assert_eq!(vault.get("tenant.demo").unwrap(), Some(sample(&password)));
        let sealed = std::fs::read(dir.path().join(SEALED_FILE)).unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(text.contains("demo-user-ab12"), "{text}");
        assert!(!text.contains(&password), "{text}");
        let key = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
        assert_eq!(key.len(), KEY_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let shown = format!("{:?}", sample(&password));
        assert!(!shown.contains(&password), "{shown}");
        vault.remove("tenant.demo").unwrap();
        assert_eq!(vault.get("tenant.demo").unwrap(), None);
    }

    #[test]
    fn an_entry_opens_only_for_its_tenant_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let vault = CredentialVault::new(dir.path());
        vault.put("tenant.a", &sample("pw-a")).unwrap();
        let path = dir.path().join(SEALED_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("tenant.a", "tenant.b")).unwrap();
        let err = vault.get("tenant.b").unwrap_err().to_string();
        assert!(err.contains("does not open"), "{err}");
        std::fs::write(dir.path().join(KEY_FILE), [0u8; 5]).unwrap();
        let err = vault.get("tenant.b").unwrap_err().to_string();
        assert!(
            err.contains("a credentials key is 32 bytes, found 5"),
            "{err}"
        );
    }
}
