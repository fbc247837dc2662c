//! Loading a spec folder: raw TOML with spans, then validated, typed [`Desired`].

use std::path::Path;

use super::Desired;
use crate::diag::Diagnostics;

pub fn load(dir: &Path) -> Result<Desired, Diagnostics> {
    let _ = dir;
    todo!()
}
