//! Output of plans and apply progress: human (colour, `similar` diffs) and JSON. Decides nothing:
//! every word printed here comes from a [`crate::plan::Plan`] or from the apply engine's events.

pub mod human;
pub mod json;

/// Attributes whose values never leave the process in clear: plans, logs and JSON show a
/// marker instead.
pub(crate) fn is_sensitive(attr: &str) -> bool {
    let attr = attr.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|word| attr.contains(word))
}
