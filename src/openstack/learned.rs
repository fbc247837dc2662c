//! What a run learns about the cloud from its answers, shared by all of the cloud's sessions:
//! a refusal met once is not met again by every later create of the run.

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct Learned {
    /// Neutron answered 400 "Attribute 'tags' not allowed in POST" although it advertises
    /// `tag-creation` (real Neutron 2026.2 does so for networks, subnets, routers, security
    /// groups and floating IPs): later creates go without tags in the body at once.
    neutron_refuses_tags_on_create: AtomicBool,
}

impl Learned {
    pub fn neutron_refuses_tags_on_create(&self) -> bool {
        self.neutron_refuses_tags_on_create.load(Ordering::Relaxed)
    }

    pub fn learn_neutron_refuses_tags_on_create(&self) {
        self.neutron_refuses_tags_on_create
            .store(true, Ordering::Relaxed);
    }
}
