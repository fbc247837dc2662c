//! A tenant's `users = [ { name = "alice", roles = ["member"] } ]`: role grants of existing
//! Keystone users on the tenant, read one table at a time and normalized (sorted by user, each
//! user's roles sorted). Whether the users and roles exist is the plan's check: Keystone knows.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::{Value, json};

use super::port_fields::{Read, entry_span_key, tables};
use super::reader::Table;
use crate::diag::{Diagnostic, Diagnostics};

/// The `attr_spans` key of one role of a user's entry: `users[alice].roles.member`.
pub fn role_span_key(attr: &str, user: &str, role: &str) -> String {
    entry_span_key(attr, user, &format!("roles.{role}"))
}

/// Reads the grants of `key`; None when absent (not managed) or unreadable.
pub(super) fn grants(t: &Table<'_, '_>, key: &str, diags: &mut Diagnostics) -> Option<Read> {
    t.get(key)?;
    let example = "{ name = \"alice\", roles = [\"member\"] }";
    let entries = tables(t, key, "a user grant", example, diags)?;
    let mut read = Read {
        value: json!([]),
        spans: Vec::new(),
        refs: Vec::new(),
    };
    let mut users: BTreeMap<String, (Range<usize>, BTreeSet<String>)> = BTreeMap::new();
    for entry in &entries {
        entry.reject_unknown(&["name", "roles"], diags);
        let name = entry.string("name", diags);
        if name.is_none() && entry.get("name").is_none() {
            entry.missing("name", "\"alice\"", diags);
        }
        let roles = entry.strings("roles", diags);
        if roles.is_none() && entry.get("roles").is_none() {
            entry.missing("roles", "[\"member\"]", diags);
        }
        let (Some(name), Some(roles)) = (name, roles) else {
            continue;
        };
        let user = name.get_ref().to_string();
        if user.is_empty() {
            diags.push(
                Diagnostic::error(format!("a user's `name` in `{key}` must not be empty"))
                    .at(t.span(name.span()))
                    .help("write the name of an existing Keystone user"),
            );
            continue;
        }
        if let Some((first, _)) = users.get(&user) {
            diags.push(
                Diagnostic::error(format!("user `{user}` is listed twice in `{key}`"))
                    .at(t.span(name.span()))
                    .note("first listed here", t.span(first.clone()))
                    .help(format!("list all of {user}'s roles in one entry")),
            );
            continue;
        }
        if roles.is_empty() {
            let at = entry
                .get("roles")
                .map_or(entry.header.clone(), |(_, v)| v.span());
            diags.push(
                Diagnostic::error(format!("user `{user}` in `{key}` has no roles"))
                    .at(t.span(at))
                    .help(format!(
                        "give at least one role, e.g. roles = [\"member\"], or remove {user}'s entry to revoke its roles"
                    )),
            );
            continue;
        }
        let mut names = BTreeSet::new();
        let mut written_twice = false;
        for role in &roles {
            if !names.insert(role.get_ref().to_string()) {
                written_twice = true;
                diags.push(
                    Diagnostic::error(format!(
                        "role `{}` is listed twice for user `{user}` in `{key}`",
                        role.get_ref()
                    ))
                    .at(t.span(role.span()))
                    .help("remove the second one"),
                );
            }
            read.spans.push((
                role_span_key(key, &user, role.get_ref()),
                t.span(role.span()),
            ));
        }
        if written_twice {
            continue;
        }
        read.spans
            .push((entry_span_key(key, &user, "name"), t.span(name.span())));
        users.insert(user, (name.span(), names));
    }
    read.value = Value::Array(
        users
            .into_iter()
            .map(|(name, (_, roles))| json!({ "name": name, "roles": roles }))
            .collect(),
    );
    Some(read)
}
