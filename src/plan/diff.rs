use super::Plan;
use crate::graph::Graph;
use crate::resources::Observed;
use crate::spec::Desired;

pub fn diff(desired: &Desired, observed: &Observed, graph: &Graph) -> Plan {
    let _ = (desired, observed, graph);
    todo!()
}
