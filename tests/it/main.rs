//! The one integration test binary: each module is a group of tests.

mod client_resources;
mod client_session;
mod plan_render;
mod sim_common;
mod sim_compute;
mod sim_core;
mod sim_identity;
mod sim_image;
mod sim_network;
mod spec_load;
