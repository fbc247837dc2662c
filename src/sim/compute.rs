//! (being written)
use serde::{Deserialize, Serialize};
#[derive(Default, Serialize, Deserialize)]
pub struct ComputeData {}
impl ComputeData {
    pub fn seed(&mut self) {}
}
pub fn routes() -> axum::Router<super::core::SimState> {
    axum::Router::new()
}
