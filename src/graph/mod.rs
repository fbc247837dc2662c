//! The dependency graph (petgraph) of resources: explicit references and implicit edges.
//!
//! Owns building the DAG, finding cycles, the creation order and the reversed deletion order,
//! and DOT output. Knows nothing of TOML or HTTP.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::addr::Address;
use crate::diag::{Diagnostic, Diagnostics};
use crate::fast_hash::{FastHashMap, FastHashSet};
use crate::resources::Observed;
use crate::resources::schema::{self, View, referenced_names};
use crate::spec::{Attrs, Desired};

/// Why one resource depends on another.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Link {
    /// The dependent names the dependency in this attribute.
    Reference { attr: &'static str },
    /// Not written in any attribute: the dependent's kind implies it from its attribute
    /// `attr`, which names `via` (an instance needs the router of its subnet).
    Implied {
        attr: &'static str,
        via: Address,
        relation: &'static str,
    },
}

/// One edge: `dependent` needs `dependency` to exist first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    dependency: Address,
    dependent: Address,
    link: Link,
}

/// Nodes are addresses (desired ∪ observed); an edge goes from a dependency to its dependent.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Nodes are added in address order, so node order is the sorted order.
    dag: DiGraph<Address, Vec<Link>>,
    /// A hash map: building the graph looks up both ends of every edge, and a B-tree of
    /// addresses made that a string comparison per level.
    index: FastHashMap<Address, NodeIndex>,
    /// Dependencies left out of the order to break a cycle ([`Graph::deferred_dependencies`]).
    deferred: BTreeSet<Edge>,
}

/// Builds the graph of every resource in `desired` and `observed`, with implicit edges.
/// A dependency cycle is an error that lists the cycle, located in the spec.
pub fn build(desired: &Desired, observed: &Observed) -> Result<Graph, Diagnostics> {
    let nodes: BTreeSet<Address> = desired
        .resources
        .keys()
        .chain(observed.resources.keys())
        .cloned()
        .collect();

    let known: FastHashSet<&Address> = nodes.iter().collect();
    let mut edges = Vec::new();
    for addr in &nodes {
        let wanted = desired.get(addr).map(|r| &r.attrs);
        let seen = observed.resources.get(addr).map(|r| &r.attrs);
        // What the spec says wins; the cloud's view only orders resources the spec dropped.
        if let Some(attrs) = wanted.or(seen) {
            reference_edges(addr, attrs, &known, &mut edges);
        }
        // A kept resource may still use something the spec dropped (a router's interface on a
        // subnet that goes away): that delete must wait for the link to be undone, so the
        // cloud's links to dropped resources count too.
        if let (Some(_), Some(attrs)) = (wanted, seen) {
            let mut current = Vec::new();
            reference_edges(addr, attrs, &known, &mut current);
            edges.extend(
                current
                    .into_iter()
                    .filter(|e| desired.get(&e.dependency).is_none()),
            );
        }
    }
    implicit_edges(View::new(desired, observed), &nodes, &mut edges);
    let edges = in_order(&nodes, edges);

    let graph = defer_breakable_cycles(&nodes, edges);
    let cycles = graph.cycle_diagnostics(desired);
    if cycles.is_empty() {
        Ok(graph)
    } else {
        Err(cycles)
    }
}

/// The graph of `edges`, less those that close a cycle but may be met after their dependent
/// exists (its kind's `deferrable` attribute implies them): web's rules name app and app's
/// name web, so both groups are made first and each one's rules naming the other follow. Only
/// edges inside a cycle are deferred: elsewhere the dependency simply goes first, in one step.
/// What is still a cycle without them is one, and is reported.
fn defer_breakable_cycles(nodes: &BTreeSet<Address>, edges: Vec<Edge>) -> Graph {
    let may_defer = |edge: &Edge| {
        matches!(&edge.link, Link::Implied { attr, .. }
            if edge.dependency != edge.dependent
                && edge.dependent.kind.schema().deferrable == Some(*attr))
    };
    // Most specs have no such edge: one graph, no search for cycles here.
    if !edges.iter().any(may_defer) {
        return Graph::from_edges(nodes, edges);
    }
    let whole = Graph::from_edges(nodes, edges.iter().cloned());
    let mut component: BTreeMap<&Address, usize> = BTreeMap::new();
    for (i, members) in petgraph::algo::tarjan_scc(&whole.dag).iter().enumerate() {
        for &n in members {
            component.insert(&whole.dag[n], i);
        }
    }
    let (kept, deferred): (Vec<Edge>, Vec<Edge>) = edges.into_iter().partition(|edge| {
        !(may_defer(edge) && component.get(&edge.dependency) == component.get(&edge.dependent))
    });
    if deferred.is_empty() {
        return whole;
    }
    let mut graph = Graph::from_edges(nodes, kept);
    graph.deferred = deferred.into_iter().collect();
    graph
}

/// `edges` sorted as `Edge`'s order sorts them, each once: the order the graph adds them in.
/// Both ends of an edge the graph keeps are nodes, and nodes are sorted, so an edge sorts by
/// its ends' places among the nodes first (two integers), and by the whole edge only between
/// edges joining the same two resources. (Sorting the edges themselves, or a B-tree insert
/// per edge, compared addresses at every step.) Edges with an end outside the nodes are
/// dropped by the graph; their place does not matter.
fn in_order(nodes: &BTreeSet<Address>, edges: Vec<Edge>) -> Vec<Edge> {
    let place: FastHashMap<&Address, u32> = nodes.iter().zip(0..).collect();
    let place_of = |addr: &Address| place.get(addr).copied().unwrap_or(u32::MAX);
    let mut order: Vec<(u32, u32, usize)> = edges
        .iter()
        .enumerate()
        .map(|(i, e)| (place_of(&e.dependency), place_of(&e.dependent), i))
        .collect();
    order.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| edges[a.2].cmp(&edges[b.2]))
    });
    let mut slots: Vec<Option<Edge>> = edges.into_iter().map(Some).collect();
    let mut sorted: Vec<Edge> = Vec::with_capacity(order.len());
    for (_, _, i) in order {
        let Some(edge) = slots[i].take() else {
            continue;
        };
        if sorted.last() != Some(&edge) {
            sorted.push(edge);
        }
    }
    sorted
}

fn reference_edges(
    addr: &Address,
    attrs: &Attrs,
    known: &FastHashSet<&Address>,
    edges: &mut Vec<Edge>,
) {
    for attr in schema::attributes(addr.kind) {
        let Some(target) = attr.reference() else {
            continue;
        };
        for name in referenced_names(attrs.get(attr.name), target.kind) {
            let target = Address::new(target.kind, name);
            // Dangling references are the spec loader's to report.
            if known.contains(&target) {
                edges.push(Edge {
                    dependency: target,
                    dependent: addr.clone(),
                    link: Link::Reference { attr: attr.name },
                });
            }
        }
    }
}

/// The dependencies each kind implies beyond its references ([`schema::KindSchema`]'s
/// `implicit_dependencies`).
fn implicit_edges(view: View<'_>, nodes: &BTreeSet<Address>, edges: &mut Vec<Edge>) {
    for addr in nodes {
        let Some(implied) = addr.kind.schema().implicit_dependencies else {
            continue;
        };
        for dependency in implied(addr, &view, nodes) {
            edges.push(Edge {
                dependency: dependency.dependency,
                dependent: addr.clone(),
                link: Link::Implied {
                    attr: dependency.attr,
                    via: dependency.via,
                    relation: dependency.relation,
                },
            });
        }
    }
}

impl Graph {
    fn from_edges(nodes: &BTreeSet<Address>, edges: impl IntoIterator<Item = Edge>) -> Graph {
        let mut dag: DiGraph<Address, Vec<Link>> = DiGraph::with_capacity(nodes.len(), 0);
        let mut index = FastHashMap::with_capacity_and_hasher(nodes.len(), Default::default());
        for addr in nodes {
            let i = dag.add_node(addr.clone());
            index.insert(addr.clone(), i);
        }
        for edge in edges {
            let (Some(&from), Some(&to)) =
                (index.get(&edge.dependency), index.get(&edge.dependent))
            else {
                continue;
            };
            match dag.find_edge(from, to) {
                Some(e) => dag[e].push(edge.link),
                None => {
                    dag.add_edge(from, to, vec![edge.link]);
                }
            }
        }
        Graph {
            dag,
            index,
            deferred: BTreeSet::new(),
        }
    }

    pub fn contains(&self, addr: &Address) -> bool {
        self.index.contains_key(addr)
    }

    /// Every address in the graph, sorted.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.dag.node_weights()
    }

    /// What `addr` needs but is not ordered after, to break a cycle: (dependency, the
    /// attribute naming it), sorted. `addr` is made without that part of the attribute, and
    /// the apply sets it once the dependency exists.
    pub fn deferred_dependencies(&self, addr: &Address) -> Vec<(Address, &'static str)> {
        let mut out: Vec<(Address, &'static str)> = self
            .deferred
            .iter()
            .filter(|e| e.dependent == *addr)
            .filter_map(|e| match &e.link {
                Link::Implied { attr, .. } => Some((e.dependency.clone(), *attr)),
                Link::Reference { .. } => None,
            })
            .collect();
        out.dedup();
        out
    }

    /// Direct dependencies of `addr` (resources it needs to exist first), sorted.
    pub fn dependencies(&self, addr: &Address) -> Vec<Address> {
        self.neighbors(addr, Direction::Incoming)
    }

    /// Direct dependents of `addr` (resources that need it), sorted.
    pub fn dependents(&self, addr: &Address) -> Vec<Address> {
        self.neighbors(addr, Direction::Outgoing)
    }

    /// Why `dependent` depends on `dependency` (empty when it does not, directly).
    pub fn links(&self, dependency: &Address, dependent: &Address) -> Vec<Link> {
        let (Some(&from), Some(&to)) = (self.index.get(dependency), self.index.get(dependent))
        else {
            return Vec::new();
        };
        self.dag
            .find_edge(from, to)
            .map(|e| self.dag[e].clone())
            .unwrap_or_default()
    }

    fn neighbors(&self, addr: &Address, direction: Direction) -> Vec<Address> {
        let Some(&i) = self.index.get(addr) else {
            return Vec::new();
        };
        let mut out: Vec<Address> = self
            .dag
            .neighbors_directed(i, direction)
            .map(|n| self.dag[n].clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every address, dependencies first. Among resources that are ready at the same time the
    /// smaller address (kind order, then name) goes first, so the order never depends on how
    /// the graph was built.
    pub fn creation_order(&self) -> Vec<Address> {
        let mut waiting_on: BTreeMap<NodeIndex, usize> = self
            .dag
            .node_indices()
            .map(|n| {
                let count = self.dag.neighbors_directed(n, Direction::Incoming).count();
                (n, count)
            })
            .collect();
        let mut ready: BTreeSet<(&Address, NodeIndex)> = waiting_on
            .iter()
            .filter(|(_, count)| **count == 0)
            .map(|(&n, _)| (&self.dag[n], n))
            .collect();
        let mut order = Vec::with_capacity(self.dag.node_count());
        while let Some((addr, n)) = ready.pop_first() {
            order.push(addr.clone());
            for next in self.dag.neighbors_directed(n, Direction::Outgoing) {
                if let Some(count) = waiting_on.get_mut(&next) {
                    *count -= 1;
                    if *count == 0 {
                        ready.insert((&self.dag[next], next));
                    }
                }
            }
        }
        order
    }

    /// Every address, dependents first: a resource is deleted only once nothing that uses it
    /// is left (Neutron refuses to delete a subnet that still has ports or router interfaces,
    /// Keystone would orphan a project's resources).
    pub fn deletion_order(&self) -> Vec<Address> {
        let mut order = self.creation_order();
        order.reverse();
        order
    }

    /// Graphviz DOT, dependency → dependent; implicit edges are dashed. Deterministic.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph stackform {\n  rankdir = LR;\n");
        for addr in self.addresses() {
            let _ = writeln!(out, "  \"{addr}\";");
        }
        let mut edges: Vec<(&Address, &Address, bool)> = self
            .dag
            .edge_indices()
            .filter_map(|e| {
                let (from, to) = self.dag.edge_endpoints(e)?;
                let implicit = self.dag[e]
                    .iter()
                    .all(|l| matches!(l, Link::Implied { .. }));
                Some((&self.dag[from], &self.dag[to], implicit))
            })
            .collect();
        edges.sort();
        for (from, to, implicit) in edges {
            let style = if implicit { " [style = dashed]" } else { "" };
            let _ = writeln!(out, "  \"{from}\" -> \"{to}\"{style};");
        }
        // Deferred: met by a follow-up update, after both exist.
        for edge in &self.deferred {
            let (from, to) = (&edge.dependency, &edge.dependent);
            let _ = writeln!(out, "  \"{from}\" -> \"{to}\" [style = dotted];");
        }
        out.push_str("}\n");
        out
    }

    /// One error per dependency cycle (per strongly connected component), naming one concrete
    /// cycle through it, starting at its smallest address.
    fn cycle_diagnostics(&self, desired: &Desired) -> Diagnostics {
        let mut out = Diagnostics::default();
        let mut components: Vec<Vec<NodeIndex>> = petgraph::algo::tarjan_scc(&self.dag)
            .into_iter()
            .filter(|c| c.len() > 1 || c.iter().any(|&n| self.dag.contains_edge(n, n)))
            .collect();
        for c in &mut components {
            c.sort_by(|a, b| self.dag[*a].cmp(&self.dag[*b]));
        }
        components.sort_by(|a, b| self.dag[a[0]].cmp(&self.dag[b[0]]));
        for component in components {
            let cycle = self.cycle_through(&component);
            out.push(self.cycle_diagnostic(&cycle, desired));
        }
        out
    }

    /// The shortest cycle from the component's first address, following "depends on" links
    /// (dependent → dependency), closed by repeating the start.
    fn cycle_through(&self, component: &[NodeIndex]) -> Vec<Address> {
        let members: BTreeSet<NodeIndex> = component.iter().copied().collect();
        let start = component[0];
        let depends_on = |n: NodeIndex| {
            let mut next: Vec<NodeIndex> = self
                .dag
                .neighbors_directed(n, Direction::Incoming)
                .filter(|m| members.contains(m))
                .collect();
            next.sort_by(|a, b| self.dag[*a].cmp(&self.dag[*b]));
            next
        };
        let mut came_from: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(n) = queue.pop_front() {
            for m in depends_on(n) {
                if m == start {
                    last = Some(n);
                    break 'search;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = came_from.entry(m) {
                    e.insert(n);
                    queue.push_back(m);
                }
            }
        }
        // Walk back from the last hop to the start, then reverse.
        let mut path = vec![self.dag[start].clone()];
        let mut n = last.unwrap_or(start);
        while n != start {
            path.push(self.dag[n].clone());
            n = came_from.get(&n).copied().unwrap_or(start);
        }
        path.push(self.dag[start].clone());
        let end = path.len() - 1;
        path[1..end].reverse();
        path
    }

    fn cycle_diagnostic(&self, cycle: &[Address], desired: &Desired) -> Diagnostic {
        let names: Vec<String> = cycle.iter().map(|a| a.to_string()).collect();
        let mut d = Diagnostic::error(format!("dependency cycle: {}", names.join(" → ")))
            .help("a resource cannot depend on itself, even through others: remove one of these references");
        if let Some(first) = desired.get(&cycle[0]) {
            d = d.at(first.span.clone());
        }
        for pair in cycle.windows(2) {
            let (dependent, dependency) = (&pair[0], &pair[1]);
            let Some(resource) = desired.get(dependent) else {
                continue;
            };
            for link in self.links(dependency, dependent) {
                let located = match &link {
                    Link::Reference { attr } => resource
                        .refs
                        .iter()
                        .find(|r| r.field == *attr && r.target == *dependency)
                        .map(|r| {
                            (
                                format!("{dependent} refers to {dependency}"),
                                r.span.clone(),
                            )
                        }),
                    Link::Implied {
                        attr,
                        via,
                        relation,
                    } => resource.attr_spans.get(*attr).map(|s| {
                        (
                            format!("{dependent} needs {dependency}, {relation} {via}"),
                            s.clone(),
                        )
                    }),
                };
                if let Some((message, span)) = located {
                    d = d.note(message, span);
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests;
