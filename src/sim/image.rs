//! (being written)
use serde::{Deserialize, Serialize};
#[derive(Default, Serialize, Deserialize)]
pub struct ImageData {}
impl ImageData {
    pub fn seed(&mut self, _p: &str) {}
}
pub fn routes() -> axum::Router<super::core::SimState> {
    axum::Router::new()
}
