use super::*;
use crate::openstack::compute::ServerFlavor;
use crate::openstack::network::FixedIp;

fn names() -> Names {
    let mut names = Names::default();
    names.insert(Kind::Tenant, "p1", "demo");
    names.insert(Kind::Subnet, "s1", "web-v4");
    names.insert(Kind::SecurityGroup, "g2", "web");
    names.insert(Kind::SecurityGroup, "g1", "ssh");
    names
}

fn server(status: &str) -> Server {
    Server {
        id: "vm1".into(),
        name: "web-1".into(),
        status: status.into(),
        tenant_id: "p1".into(),
        flavor: ServerFlavor {
            id: None,
            original_name: Some("m1.small".into()),
        },
        image: json!({"id": "img1"}),
        ..Server::default()
    }
}

fn port() -> neutron::Port {
    neutron::Port {
        id: "port1".into(),
        device_id: "vm1".into(),
        fixed_ips: vec![FixedIp {
            subnet_id: "s1".into(),
            ip_address: Some("10.0.0.5".into()),
        }],
        security_groups: vec!["g2".into(), "g1".into()],
        tags: vec![
            "stackform-lineage:L".into(),
            "stackform:instance.web-1".into(),
        ],
        ..neutron::Port::default()
    }
}

#[test]
fn servers_claim_by_lineage_tag_and_metadata() {
    let mut server = Server {
        id: "vm".into(),
        tags: vec!["stackform-lineage:L".into()],
        ..Server::default()
    };
    server
        .metadata
        .insert(ADDRESS_METADATA.into(), "instance.web-1".into());
    assert_eq!(
        server_claim("stackform-lineage:L", &server),
        Some(Address::new(Kind::Instance, "web-1"))
    );
    assert_eq!(server_claim("stackform-lineage:M", &server), None);
}

#[test]
fn observes_server_with_its_port() {
    let images: HashMap<String, String> = [("img1".to_string(), "cirros".to_string())].into();
    let attrs = observe(
        &server("SHUTOFF"),
        Some(&port()),
        &names(),
        &HashMap::new(),
        &images,
    );
    let expected: Attrs = [
        ("name".to_string(), json!("web-1")),
        ("tenant".to_string(), json!("demo")),
        ("flavor".to_string(), json!("m1.small")),
        ("image".to_string(), json!("cirros")),
        ("subnet".to_string(), json!("web-v4")),
        ("security_groups".to_string(), json!(["ssh", "web"])),
        ("power_state".to_string(), json!("stopped")),
        ("metadata".to_string(), json!({})),
        ("description".to_string(), json!("")),
        ("tags".to_string(), json!([])),
        ("volumes".to_string(), json!([])),
        ("config_drive".to_string(), json!(false)),
        ("keypair".to_string(), json!(null)),
    ]
    .into();
    assert_eq!(attrs, expected);
    // Attached volumes by their address name, others by id, sorted.
    let mut attached = server("ACTIVE");
    attached.volumes_attached = ["vol-b", "vol-a"]
        .iter()
        .map(|id| crate::openstack::compute::AttachedVolume {
            id: id.to_string(),
            ..Default::default()
        })
        .collect();
    let mut known = names();
    known.insert(Kind::Volume, "vol-b", "data");
    let attrs = observe(&attached, Some(&port()), &known, &HashMap::new(), &images);
    assert_eq!(attrs["volumes"], json!(["data", "vol-a"]));
}

#[test]
fn old_microversion_flavor_ids_and_unknown_images() {
    let mut old = server("ERROR");
    old.flavor = ServerFlavor {
        id: Some("f1".into()),
        original_name: None,
    };
    old.image = json!({"id": "img-gone"});
    let flavors: HashMap<String, String> = [("f1".to_string(), "m1.tiny".to_string())].into();
    let attrs = observe(&old, None, &names(), &flavors, &HashMap::new());
    assert_eq!(attrs["flavor"], json!("m1.tiny"));
    assert_eq!(attrs["image"], json!("img-gone"));
    assert_eq!(attrs["power_state"], json!("error"));
    assert_eq!(attrs.get("subnet"), None);
}


#[test]
fn only_active_images_are_booted() {
    let image = |id: &str, status: &str| crate::openstack::image::Image {
        id: id.into(),
        name: Some("cirros".into()),
        status: status.into(),
        visibility: None,
        ..Default::default()
    };
    assert_eq!(
        pick_image(&[image("q", "queued"), image("a", "active")], "cirros"),
        Ok("a".to_string())
    );
    assert_eq!(
        pick_image(&[image("q", "queued")], "cirros"),
        Err("image `cirros` is not active (status queued)".to_string())
    );
    assert_eq!(
        pick_image(&[image("a", "active"), image("b", "active")], "cirros"),
        Err("several active images are named `cirros`: name one by its id".to_string())
    );
    assert_eq!(
        pick_image(&[image("a", "active")], "a"),
        Ok("a".to_string())
    );
    assert_eq!(
        pick_image(&[], "cirros"),
        Err("no image named `cirros`".to_string())
    );
}

#[test]
fn a_floating_ip_needs_the_providers_external_network() {
    use crate::plan::fixtures::{desired, resource};
    let web = resource("instance.web", json!({"tenant": "demo", "floating_ip": true}));
    let check = |external: Option<&str>| {
        let mut d = desired(vec![web.clone()]);
        d.provider.external_network = external.map(str::to_string);
        let mut out = crate::diag::Diagnostics::default();
        plan_check(&web, &d, &Observed::default(), &mut out);
        out.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        check(None),
        ["instance.web: floating_ip = true needs an external network"]
    );
    assert!(check(Some("public")).is_empty());
}

#[test]
fn power_states() {
    assert_eq!(power_state("ACTIVE"), "running");
    assert_eq!(power_state("SHUTOFF"), "stopped");
    assert_eq!(power_state("BUILD"), "build");
}

#[test]
fn finds_the_port_by_tag_then_by_device() {
    let addr = Address::new(Kind::Instance, "web-1");
    let mut untagged = port();
    untagged.tags.clear();
    let ports = [untagged.clone(), port()];
    assert_eq!(
        port_of("stackform-lineage:L", &addr, None, &ports),
        Some(&ports[1])
    );
    let only_bound = [untagged];
    assert_eq!(
        port_of("stackform-lineage:L", &addr, Some("vm1"), &only_bound).map(|p| p.id.as_str()),
        Some("port1")
    );
    assert_eq!(
        port_of("stackform-lineage:L", &addr, None, &only_bound),
        None
    );
}

/// Two instances and volumes `d` and `e`; `a` and `b` list what the arguments say.
fn with_volumes(a: &str, b: &str, d_type: &str) -> crate::spec::Desired {
    let text = format!(
        "[tenant.t]\n[network.n]\ntenant = \"t\"\n[subnet.s]\nnetwork = \"n\"\ncidr = \"10.0.0.0/24\"\n\
         [instance.a]\ntenant = \"t\"\nflavor = \"m1.small\"\nimage = \"cirros\"\nsubnet = \"s\"\nvolumes = [{a}]\n\
         [instance.b]\ntenant = \"t\"\nflavor = \"m1.small\"\nimage = \"cirros\"\nsubnet = \"s\"\nvolumes = [{b}]\n\
         [volume.d]\ntenant = \"t\"\nsize = 1\n{d_type}\n[volume.e]\ntenant = \"t\"\nsize = 1\n"
    );
    crate::spec::load_str(&text).unwrap()
}

fn plan_errors(desired: &crate::spec::Desired, observed: &Observed) -> Vec<String> {
    let mut out = crate::diag::Diagnostics::default();
    for instance in desired.of_kind(Kind::Instance) {
        plan_check(instance, desired, observed, &mut out);
    }
    out.iter()
        .map(|d| {
            let at = d.span.as_ref().map(ToString::to_string).unwrap_or_default();
            let notes: Vec<String> = d.notes.iter().map(|(m, s)| format!("{m} at {s}")).collect();
            format!(
                "{at}: {} [{}] help: {}",
                d.message,
                notes.join("; "),
                d.help.clone().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn a_volume_listed_by_two_instances_must_be_of_a_multiattach_type() {
    let observed = Observed {
        multiattach_volume_types: ["multiattach".to_string()].into(),
        ..Observed::default()
    };
    let shared = with_volumes(r#""e", "d""#, r#""d""#, "");
    assert_eq!(
        plan_errors(&shared, &observed),
        [
            "spec.toml:18:12: volume.d is listed in the volumes of instance.a and instance.b, \
             but its type `__DEFAULT__` is not multiattach: Cinder attaches it to one server \
             only [instance.a lists it here at spec.toml:12:17] help: give volume.d a \
             multiattach type (type = \"multiattach\"; the cloud's: multiattach), or list it in \
             one instance's `volumes` only"
        ]
    );
    let typed = with_volumes(r#""d""#, r#""d""#, "type = \"ssd\"");
    assert_eq!(
        plan_errors(&typed, &Observed::default()),
        [
            "spec.toml:18:12: volume.d is listed in the volumes of instance.a and instance.b, \
             but its type `ssd` is not multiattach: Cinder attaches it to one server only \
             [instance.a lists it here at spec.toml:12:12] help: list volume.d in one \
             instance's `volumes` only: the cloud has no multiattach volume type (an admin \
             makes one with `openstack volume type create --property multiattach=\"<is> \
             True\" NAME`)"
        ]
    );
    let multi = with_volumes(r#""d""#, r#""d""#, "type = \"multiattach\"");
    assert_eq!(plan_errors(&multi, &observed), Vec::<String>::new());
    let apart = with_volumes(r#""d""#, r#""e""#, "");
    assert_eq!(plan_errors(&apart, &observed), Vec::<String>::new());
}

#[test]
fn volumes_are_attached_in_the_order_listed() {
    let desired = with_volumes(r#""e", "d""#, r#""#, "");
    let a = desired
        .get(&Address::new(Kind::Instance, "a"))
        .unwrap();
    let ids: Ids = [
        (Address::new(Kind::Volume, "d"), "v-d".to_string()),
        (Address::new(Kind::Volume, "e"), "v-e".to_string()),
    ]
    .into();
    assert_eq!(volumes::wanted(a, &ids).unwrap(), ["v-e", "v-d"]);
    // The attribute is a set: another order alone changes nothing.
    assert_eq!(a.attrs["volumes"], json!(["d", "e"]));
}

/// `observed`: the cloud as `before` left it (a holding `a_had`, b holding `b_had`).
fn moved(a: &str, b: &str, a_had: &str, b_had: &str) -> crate::graph::Graph {
    let desired = with_volumes(a, b, "");
    let before = with_volumes(a_had, b_had, "");
    let observed = crate::plan::fixtures::observed_as_applied(&before);
    crate::graph::build(&desired, &observed).unwrap()
}

#[test]
fn a_volume_moving_between_instances_is_detached_before_it_is_attached() {
    let (a, b) = (
        Address::new(Kind::Instance, "a"),
        Address::new(Kind::Instance, "b"),
    );
    let graph = moved(r#""#, r#""d""#, r#""d""#, r#""#);
    assert!(graph.dependencies(&b).contains(&a), "{graph:?}");
    assert!(!graph.dependencies(&a).contains(&b), "{graph:?}");
    // A swap has no order (no cycle either): both updates run side by side.
    let graph = moved(r#""e""#, r#""d""#, r#""d""#, r#""e""#);
    assert!(!graph.dependencies(&b).contains(&a), "{graph:?}");
    assert!(!graph.dependencies(&a).contains(&b), "{graph:?}");
    // Kept by a (multiattach), or not moving: no order either.
    let graph = moved(r#""d""#, r#""d""#, r#""d""#, r#""#);
    assert!(!graph.dependencies(&b).contains(&a), "{graph:?}");
}
