//! Integration tests: one binary (each test binary costs a link on two cores).
mod cloud_api;
mod real_common;
mod sim_common;
mod support;

mod apply_cli;
mod cli;
mod client_resources;
mod client_session;
mod converged;
mod differential;
mod drift;
mod e2e;
mod openstack_cli;
mod plan_render;
mod readme;
mod sim_compute;
mod sim_core;
mod sim_identity;
mod sim_image;
mod sim_network;
mod sim_server_network;
mod spec_load;
mod state_safety;
