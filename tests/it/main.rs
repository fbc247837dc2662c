//! The one integration test binary; each module covers one area.

mod sim_common;
mod sim_compute;
mod sim_core;
mod sim_identity;
mod sim_image;
