//! The dependency graph (petgraph) of resources: explicit references and implicit edges.
//!
//! Owns building the DAG, finding cycles, the creation order and the reversed deletion order,
//! and DOT output. Knows nothing of TOML or HTTP.

use crate::addr::Address;
use crate::diag::Diagnostics;
use crate::resources::Observed;
use crate::spec::Desired;

/// Nodes are addresses (desired ∪ observed); an edge goes from a dependency to its dependent.
pub struct Graph {}

/// Builds the graph of every resource in `desired` and `observed`, with implicit edges.
/// A dependency cycle is an error that lists the cycle, located in the spec.
pub fn build(desired: &Desired, observed: &Observed) -> Result<Graph, Diagnostics> {
    let _ = (desired, observed);
    todo!()
}

impl Graph {
    /// Direct dependencies of `addr` (resources it needs to exist first).
    pub fn dependencies(&self, addr: &Address) -> Vec<Address> {
        let _ = addr;
        todo!()
    }
}

impl Graph {
    /// Direct dependents of `addr` (resources that need it to exist).
    pub fn dependents(&self, addr: &Address) -> Vec<Address> {
        let _ = addr;
        todo!()
    }
}
