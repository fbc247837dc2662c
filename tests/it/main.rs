//! Integration tests, grouped as modules of one test binary (one link on two cores).

mod spec_load;
