//! The README's reference of resource kinds, written from the registry so that it cannot drift
//! from what the code accepts (a test compares it with README.md).

use std::fmt::Write as _;

use crate::addr::Kind;
use crate::resources::schema::{Attr, AttrType, Update};

/// A Markdown table: one row per kind, its fields with their defaults, and which changes are
/// made in place and which replace the resource.
pub fn kinds_table() -> String {
    let mut out = String::from(
        "| kind | what it is | fields (default) | changes in place | forces replacement |\n\
         |---|---|---|---|---|\n",
    );
    for kind in Kind::ALL {
        let schema = kind.schema();
        let written: Vec<&Attr> = schema.attrs.iter().filter(|a| a.is_written()).collect();
        let fields: Vec<String> = written.iter().map(|a| field(a)).collect();
        let stored = || written.iter().filter(|a| a.is_stored());
        let names = |update: Update| {
            let names: Vec<String> = stored()
                .filter(|a| a.update == update)
                .map(|a| format!("`{}`", a.name))
                .collect();
            if names.is_empty() {
                "—".to_string()
            } else {
                names.join(", ")
            }
        };
        let _ = writeln!(
            out,
            "| `{}` | {} ({} `{}`) | {} | {} | {} |",
            schema.name,
            schema.summary,
            schema.api.service.as_str(),
            schema.api.collection,
            fields.join(", "),
            names(Update::InPlace),
            names(Update::ForcesReplacement),
        );
    }
    out
}

/// `name (default)`: what a field takes when it is left out.
fn field(attr: &Attr) -> String {
    let default = match attr.ty {
        AttrType::Name { max } => format!("the address name; at most {max} characters"),
        AttrType::Text { default } => format!("\"{default}\""),
        AttrType::Required { what, .. } => format!("required; {what}"),
        AttrType::OptionalText { what } => format!("unset; {what}"),
        AttrType::Bool { default } | AttrType::Input { default } => default.to_string(),
        AttrType::Integer { min, max, .. } => format!("unset; {min}–{max}"),
        AttrType::Choice { values, default } => {
            let others: Vec<String> = values
                .iter()
                .filter(|v| **v != default)
                .map(|v| format!("\"{v}\""))
                .collect();
            format!("\"{default}\"; or {}", others.join(", "))
        }
        AttrType::CloudName { catalog, .. } => {
            format!("required; one of the cloud's {}", catalog.plural())
        }
        AttrType::OptionalCloudName { catalog, .. } => {
            format!("the cloud's default; one of its {}", catalog.plural())
        }
        AttrType::Metadata => "{}; a table of strings".to_string(),
        AttrType::Tags {
            max_len, max_count, ..
        } => format!("[]; at most {max_count} strings of at most {max_len} characters"),
        AttrType::Payload { file, max_encoded } => format!(
            "unset; a string, or `{file}` (a path relative to the spec's folder); at most {max_encoded} bytes base64 encoded; shown as its SHA-256"
        ),
        AttrType::PublicKey { file } => format!(
            "required; an OpenSSH public key line (ssh-rsa, ssh-ed25519, ecdsa-sha2-*), or `{file}` (a path relative to the spec's folder)"
        ),
        AttrType::UploadFile { size_attr } => format!(
            "required; a path relative to the spec's folder, uploaded; shown as its SHA-512, its size in `{size_attr}`"
        ),
        AttrType::Reference(to) if to.optional && to.only_at_create => {
            format!("unset; a {}, read when it is made", to.kind)
        }
        AttrType::Reference(to) if to.only_at_create => {
            format!("required to make it; a {}", to.kind)
        }
        AttrType::Reference(to) if to.optional => format!("unset; a {}", to.kind),
        AttrType::Reference(to) => format!("required; a {}", to.kind),
        AttrType::OptionalReference(to) => format!("none; {} name", to.kind),
        AttrType::ReferenceSet { to, default_empty } => {
            let unset = if default_empty { "[]" } else { "unmanaged" };
            format!("{unset}; {} names", to.kind)
        }
        AttrType::Cidr { .. } => "required".to_string(),
        AttrType::Derived => "derived".to_string(),
        AttrType::IpAddressIn { within } => format!("Neutron's; inside `{within}`"),
        AttrType::IpAddresses { default_empty } => {
            let unset = if default_empty { "[]" } else { "unmanaged" };
            format!("{unset}; IP addresses")
        }
        AttrType::OptionalBool => "unmanaged; true or false".to_string(),
        AttrType::Routes => "[]; { destination = CIDR, nexthop = IP }".to_string(),
        AttrType::Quotas { .. } => "unmanaged; keys below".to_string(),
        AttrType::Rules { .. } | AttrType::AddressPairs => "[]".to_string(),
        AttrType::FixedIps { to } => format!("unmanaged; {} and ip_address tables", to.kind),
        AttrType::Grants => "unmanaged; { name = USER, roles = [ROLE] } tables".to_string(),
    };
    format!("`{}` ({default})", attr.name)
}
