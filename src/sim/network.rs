//! (to be written)

use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct NetworkData {}
