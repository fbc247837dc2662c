//! Hash maps for keys of the spec's own (addresses, names, rules), with a cheap hasher.
//!
//! std's SipHash resists keys crafted to collide, which matters for what comes off the network;
//! a spec is the user's own input, and hashing its addresses with SipHash was a tenth of
//! `validate`'s instructions (BENCHMARKS.md). foldhash (already built for petgraph's hashbrown)
//! is a few times cheaper and still spreads addresses that differ in one character (FxHash
//! did not: its lookups compared a dozen keys each). Its fixed seed keeps runs identical.

use std::collections::{HashMap, HashSet};

pub type FastHashMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;
pub type FastHashSet<K> = HashSet<K, foldhash::fast::FixedState>;
