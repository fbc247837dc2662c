//! An instance's `user_data`: the bytes a spec gives (inline or from `user_data_file`), sent
//! base64 in the server create. The compared attribute is their SHA-256 (`sha256:<hex>`), so
//! plans, JSON output and the state never hold the content; the content itself is kept here,
//! by hash, for the apply of the same process that loaded the spec (every command that applies
//! loads the spec first).
//!
//! Drift: Nova returns a server's user data (`OS-EXT-SRV-ATTR:user_data`, base64) to admins
//! from microversion 2.3; stackform lists servers as admin at 2.79, so the observed hash is
//! that of what the server really holds. A cloud that hides it (a non-admin listing) shows no
//! `user_data`, which the plan reports as a change rather than guessing.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

/// Nova's limit on `user_data`: 65535 bytes once base64 encoded (its schema's maxLength).
pub const MAX_ENCODED: usize = 65535;

static CONTENTS: LazyLock<Mutex<HashMap<String, String>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `sha256:<64 hex digits>` of `bytes`.
pub fn hash(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Keeps `bytes` for the apply and answers their hash and encoded length.
pub fn remember(bytes: &[u8]) -> (String, usize) {
    let encoded = encode(bytes);
    let length = encoded.len();
    let hash = hash(bytes);
    CONTENTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(hash.clone(), encoded);
    (hash, length)
}

/// The base64 content whose hash is `hash`, if this process loaded it.
pub fn encoded(hash: &str) -> Option<String> {
    CONTENTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(hash)
        .cloned()
}

/// The hash of what Nova reports (base64); `None` when it is not valid base64.
pub fn observed_hash(encoded: &str) -> Option<String> {
    decode(encoded).map(|bytes| hash(&bytes))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, as Nova expects it.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padding optional, whitespace ignored.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let value = ALPHABET.iter().position(|a| *a == c)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_padding() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let encoded = encode(text.as_bytes());
            assert_eq!(decode(&encoded).as_deref(), Some(text.as_bytes()));
        }
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(b"fooba"), "Zm9vYmE=");
        assert_eq!(encode(b"foob"), "Zm9vYg==");
        assert_eq!(decode("not base64!"), None);
    }

    #[test]
    fn hash_is_sha256_in_hex() {
        assert_eq!(
            hash(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (hashed, length) = remember(b"#!/bin/sh\necho hi\n");
        assert_eq!(length, encode(b"#!/bin/sh\necho hi\n").len());
        assert_eq!(encoded(&hashed), Some(encode(b"#!/bin/sh\necho hi\n")));
    }
}
