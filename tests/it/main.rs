//! Integration tests: one binary (each test binary costs a link on two cores).
mod cloud_api;
mod support;

mod e2e;
mod openstack_cli;
mod plan_render;
mod readme;
mod spec_load;
