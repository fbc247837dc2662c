//! Hand-built desired and observed values for the graph, plan and render tests, so they do
//! not depend on the spec loader or on refresh.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::addr::Address;
use crate::diag::Span;
use crate::resources::{Flavor, Observed, ObservedResource};
use crate::spec::{CloudChoice, Desired, DesiredResource, Provider};

pub fn addr(s: &str) -> Address {
    s.parse().expect("test addresses are well formed")
}

/// A span at byte `at` of a one-line dummy file.
pub fn span_at(at: usize) -> Span {
    let source: Arc<str> = Arc::from(" ".repeat(at + 10));
    Span::new("specs/test.toml", source, at..at + 1)
}

/// A desired resource; every attribute is located at its own dummy span.
pub fn resource(address: &str, attrs: Value) -> DesiredResource {
    let attrs: BTreeMap<String, Value> = match attrs {
        Value::Object(map) => map.into_iter().collect(),
        other => panic!("attrs must be an object, got {other}"),
    };
    let attr_spans = attrs
        .keys()
        .enumerate()
        .map(|(i, k)| (k.clone(), span_at(10 + i)))
        .collect();
    DesiredResource {
        addr: addr(address),
        attrs,
        refs: Vec::new(),
        span: span_at(0),
        attr_spans,
    }
}

pub fn desired(resources: Vec<DesiredResource>) -> Desired {
    Desired {
        warnings: Default::default(),
        watch: Default::default(),
        provider: Provider {
            cloud: CloudChoice::Embedded,
            external_network: None,
            external_network_span: None,
            ipv4_external_ip_mapping: Default::default(),
            parallelism: 4,
            timeout_secs: 300,
            default_internal_network_mtu: None,
            storage_mode: Default::default(),
            catalog_max_age_secs: 3600,
            default_quotas: None,
            tenant_credentials_visible: false,
            images: Default::default(),
            span: None,
        },
        resources: resources.into_iter().map(|r| (r.addr.clone(), r)).collect(),
    }
}

/// What refresh would see right after applying `desired`: same attributes, ids from addresses.
pub fn observed_as_applied(desired: &Desired) -> Observed {
    let mut observed = Observed {
        flavors: flavors(),
        images: [("cirros".to_string(), "img-cirros".to_string())].into(),
        ..Observed::default()
    };
    for r in desired.resources.values() {
        observed.resources.insert(
            r.addr.clone(),
            ObservedResource {
                addr: r.addr.clone(),
                id: format!("id-{}", r.addr.name),
                attrs: r.attrs.clone(),
                status: Some("ACTIVE".to_string()),
            },
        );
    }
    observed
}

pub fn flavors() -> BTreeMap<String, Flavor> {
    [("m1.tiny", 1, 512), ("m1.small", 2, 2048)]
        .into_iter()
        .map(|(name, vcpus, ram_mb)| {
            (
                name.to_string(),
                Flavor {
                    id: format!("flavor-{name}"),
                    name: name.to_string(),
                    vcpus,
                    ram_mb,
                    disk_gb: 1,
                },
            )
        })
        .collect()
}
