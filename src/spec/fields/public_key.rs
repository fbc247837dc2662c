//! A keypair's `public_key`: one OpenSSH public key line, written inline or read from
//! `public_key_file` (relative to the spec's folder); exactly one of the two.

use serde_json::json;

use super::Builder;

/// The key types Nova's keypairs take, as OpenSSH writes them first on the line.
pub const KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];

/// Why `line` is not an OpenSSH public key: `<type> <base64 body> [comment]`, the body
/// naming the same type (a key pasted under another type's name would fail in Nova).
pub fn key_problem(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    let (Some(kind), Some(body)) = (words.next(), words.next()) else {
        return Some("it is not `<type> <base64 key> [comment]`".to_string());
    };
    if !KEY_TYPES.contains(&kind) {
        return Some(format!(
            "`{kind}` is not a key type Nova takes ({})",
            KEY_TYPES.join(", ")
        ));
    }
    let Some(decoded) = crate::resources::user_data::decode(body) else {
        return Some("the key after its type is not base64".to_string());
    };
    // The decoded key starts with its type as an SSH string: a 4-byte length, then the name.
    let named = decoded
        .get(..4)
        .map(|len| u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
        .and_then(|len| decoded.get(4..4 + len));
    if named != Some(kind.as_bytes()) {
        return Some(format!("the base64 key is not a {kind} key"));
    }
    None
}

impl Builder<'_, '_, '_> {
    /// `public_key` or the file `file` names: one line, checked, stored as written (trimmed).
    pub(super) fn public_key(&mut self, key: &str, file: &str) {
        let inline = self.t.string(key, self.diags);
        let path = self.t.string(file, self.diags);
        let (text, span) = match (inline, path) {
            (Some(_), Some(path)) => {
                return self.error(
                    format!("sets both `{key}` and `{file}`"),
                    path.span(),
                    format!("keep `{key}` (the key line) or `{file}` (a file holding it)"),
                );
            }
            (Some(text), None) => (text.get_ref().to_string(), text.span()),
            (None, Some(path)) => match self.read_beside(file, path.get_ref(), path.span()) {
                // Not UTF-8 cannot be a key line: the line check below says what is wrong.
                Some(bytes) => (String::from_utf8_lossy(&bytes).into_owned(), path.span()),
                None => return,
            },
            (None, None) => {
                self.t
                    .missing(key, "\"ssh-ed25519 AAAA... you@host\"", self.diags);
                return;
            }
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let line = match lines.as_slice() {
            [line] => line.trim(),
            _ => {
                return self.error(
                    format!(
                        "`{key}` must be one public key line, found {} lines",
                        lines.len()
                    ),
                    span,
                    "one key per keypair: the `.pub` file ssh-keygen writes",
                );
            }
        };
        if let Some(problem) = key_problem(line) {
            return self.error(
                format!("`{key}` is not an OpenSSH public key: {problem}"),
                span,
                "the content of a `.pub` file, e.g. `ssh-ed25519 AAAAC3Nz... you@host` (ssh-keygen -y -f KEY prints it)",
            );
        }
        self.set(key, json!(line), Some(span));
    }
}

#[cfg(test)]
mod tests {
    use super::key_problem;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPGUr3OlcqeYBaYI1GgSBM5uDJYUEPa5hzxRXK7Masug probe@sf";

    #[test]
    fn openssh_lines_are_checked_down_to_the_type_in_the_key() {
        assert_eq!(key_problem(ED25519), None);
        assert_eq!(
            key_problem("ssh-dss AAAA"),
            Some("`ssh-dss` is not a key type Nova takes (ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521)".into())
        );
        assert_eq!(
            key_problem("ssh-rsa notbase64!!"),
            Some("the key after its type is not base64".into())
        );
        let body = ED25519.split(' ').nth(1).unwrap_or_default();
        assert_eq!(
            key_problem(&format!("ssh-rsa {body}")),
            Some("the base64 key is not a ssh-rsa key".into())
        );
        assert_eq!(
            key_problem("ssh-rsa"),
            Some("it is not `<type> <base64 key> [comment]`".into())
        );
    }
}
