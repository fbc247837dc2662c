//! THE list of deliberate differences between the real OpenStack services and the embedded
//! cloud, each with its reason. Every other difference the differential test finds fails it.

/// `step` and `what` match exactly, or by prefix when they end in `*`.
pub struct Known {
    pub step: &'static str,
    pub what: &'static str,
    pub reason: &'static str,
}

pub const KNOWN_DIFFERENCES: &[Known] = &[];
