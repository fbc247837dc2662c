//! Typed resource addresses: `kind.name` (`network.demo-net`).
//!
//! Owns parsing and display of addresses. The kinds themselves come from the registry
//! (`resources::registry`); this module only names them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The resource kinds, from the registry: one line there per kind.
pub use crate::resources::Kind;

/// The longest address: every resource stackform creates carries the tag
/// `stackform:<address>`, and Neutron and Nova tags hold at most 60 characters.
pub const MAX_ADDRESS_LEN: usize = 60 - "stackform:".len();

/// `kind.name`: how plans, state and errors name one resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    pub kind: Kind,
    pub name: String,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Address {
        Address {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("`{0}` is not an address: expected KIND.NAME, e.g. network.demo-net")]
    Malformed(String),
    #[error("unknown resource kind `{0}`; kinds are: {kinds}", kinds = kind_names())]
    UnknownKind(String),
}

fn kind_names() -> String {
    Kind::ALL.map(Kind::as_str).join(", ")
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        let (kind, name) = s
            .split_once('.')
            .filter(|(k, n)| !k.is_empty() && !n.is_empty())
            .ok_or_else(|| AddressError::Malformed(s.to_string()))?;
        let kind = Kind::parse(kind).ok_or_else(|| AddressError::UnknownKind(kind.to_string()))?;
        Ok(Address::new(kind, name))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let s = String::deserialize(d)?;
        Kind::parse(&s).ok_or_else(|| serde::de::Error::custom(AddressError::UnknownKind(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let a: Address = "security_group.web".parse().unwrap();
        assert_eq!(a, Address::new(Kind::SecurityGroup, "web"));
        assert_eq!(a.to_string(), "security_group.web");
    }

    #[test]
    fn names_may_contain_dots() {
        let a: Address = "instance.web.1".parse().unwrap();
        assert_eq!(a.name, "web.1");
    }

    #[test]
    fn rejects_unknown_kinds_and_missing_parts() {
        assert_eq!(
            "bucket.x".parse::<Address>(),
            Err(AddressError::UnknownKind("bucket".into()))
        );
        assert!(matches!(
            "network".parse::<Address>(),
            Err(AddressError::Malformed(_))
        ));
        assert!(matches!(
            "network.".parse::<Address>(),
            Err(AddressError::Malformed(_))
        ));
    }
}
