//! Output of plans and apply progress: human (colour, `similar` diffs) and JSON. Decides nothing:
//! every word printed here comes from a [`crate::plan::Plan`] or from the apply engine's events.

pub mod human;
pub mod json;
pub mod reference;

use crate::plan::is_sensitive;
