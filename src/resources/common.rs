//! Helpers shared by the kind modules: ownership tags, reading desired attributes, finding
//! dependency ids, create-or-adopt after a lost answer, and id → address-name maps.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use serde_json::{Map, Value, json};

use super::schema::KindSchema;
use super::{Context, Error, Ids, Listed, Observation, ObservedResource, Projects, Result, Scope};
use crate::addr::{Address, Kind};
use crate::openstack::network::{self as neutron, Collection, FLOATINGIPS, PORTS};
use crate::openstack::wait::WaitError;
use crate::openstack::{self, ApiError, Session};

use crate::spec::{Attrs, DesiredResource};
use backon::Retryable;

pub use super::neutron_tagged::neutron_create_tagged;

/// Nova server metadata key holding the address (Nova tags are limited to 60 characters).
pub const ADDRESS_METADATA: &str = "stackform_address";

pub fn lineage_tag(cx: &Context) -> String {
    format!("stackform-lineage:{}", cx.lineage)
}

pub fn address_tag(addr: &Address) -> String {
    format!("stackform:{addr}")
}

/// A port stackform made for one of its instances (tagged with an `instance.NAME` address of
/// this lineage), as opposed to a `[port.NAME]` of the spec, which only the planner removes.
pub fn is_instance_port(lineage_tag: &str, port: &neutron::Port) -> bool {
    tagged_address(lineage_tag, &port.tags).is_some_and(|a| a.kind == Kind::Instance)
}

/// Both ownership tags of a resource.
pub fn ownership_tags(cx: &Context, addr: &Address) -> Vec<String> {
    vec![lineage_tag(cx), address_tag(addr)]
}

/// The address an item claims through its tags, if it carries this lineage's tag.
pub fn tagged_address(lineage_tag: &str, tags: &[String]) -> Option<Address> {
    if !tags.iter().any(|t| t == lineage_tag) {
        return None;
    }
    tags.iter()
        .filter_map(|t| t.strip_prefix("stackform:"))
        .find_map(|a| a.parse().ok())
}

/// The address and lineage id an item claims through another lineage's tags: stackform's
/// tags with a lineage that is not `lineage_tag`'s.
pub fn foreign_claim(lineage_tag: &str, tags: &[String]) -> Option<(Address, String)> {
    let lineage = tags
        .iter()
        .filter(|t| *t != lineage_tag)
        .find_map(|t| t.strip_prefix("stackform-lineage:"))?;
    let addr = tags
        .iter()
        .filter_map(|t| t.strip_prefix("stackform:"))
        .find_map(|a| a.parse().ok())?;
    Some((addr, lineage.to_string()))
}

pub fn bad_attr(addr: &Address, attr: &str, problem: impl Into<String>) -> Error {
    Error::BadAttr {
        addr: addr.clone(),
        attr: attr.to_string(),
        problem: problem.into(),
    }
}

pub fn str_attr<'a>(res: &'a DesiredResource, attr: &str) -> Result<&'a str> {
    res.attrs
        .get(attr)
        .and_then(Value::as_str)
        .ok_or_else(|| bad_attr(&res.addr, attr, "is missing or not a string"))
}

/// The resource's OpenStack name: `name`, defaulting to the address name.
pub fn name_of(res: &DesiredResource) -> &str {
    res.attrs
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&res.addr.name)
}

pub fn bool_attr(res: &DesiredResource, attr: &str, default: bool) -> bool {
    res.attrs
        .get(attr)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

/// The strings of a list attribute (absent = empty).
pub fn list_attr(res: &DesiredResource, attr: &str) -> Vec<String> {
    res.attrs
        .get(attr)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The id of the resource `kind.name`, which must already exist.
pub fn dep_id<'a>(ids: &'a Ids, kind: Kind, name: &str) -> Result<&'a str> {
    let addr = Address::new(kind, name);
    ids.get(&addr)
        .map(String::as_str)
        .ok_or(Error::MissingDependency(addr))
}

/// The id named by reference attribute `attr` of `res`.
pub fn ref_id<'a>(res: &DesiredResource, ids: &'a Ids, attr: &str, kind: Kind) -> Result<&'a str> {
    dep_id(ids, kind, str_attr(res, attr)?)
}

/// The session of the tenant `res` names in its `tenant` attribute: resources are created
/// in their project with its own token, so they belong to it.
pub async fn tenant_session(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<Session> {
    let project = ref_id(res, ids, "tenant", Kind::Tenant)?;
    project_session(cx, project).await
}

/// A session in `project`, a tenant of the spec. A tenant whose creating run was killed
/// between the project's create and the grant of stackform's role on it (the next run adopts
/// it by its tag) refuses a token: the role is granted then, as the create would have, and
/// the token asked again.
pub async fn project_session(cx: &Context, project: &str) -> Result<Session> {
    match cx.cloud.project_session(project).await {
        Err(refused) if refused.is_unauthorized() => {
            let admin = cx.cloud.admin();
            let Some(role) = admin
                .identity()
                .find_role(super::tenant::MEMBER_ROLE)
                .await?
            else {
                return Err(refused.into());
            };
            admin
                .identity()
                .grant_project_role(project, &admin.user_id(), &role.id)
                .await?;
            Ok(cx.cloud.project_session(project).await?)
        }
        other => Ok(other?),
    }
}

/// The attributes present in desired whose value differs from current, for in-place updates.
pub fn changed<'a>(
    desired: &'a Attrs,
    current: &Attrs,
    attrs: &[&str],
) -> Vec<(&'a str, &'a Value)> {
    desired
        .iter()
        .filter(|(k, v)| attrs.contains(&k.as_str()) && current.get(*k) != Some(*v))
        .map(|(k, v)| (k.as_str(), v))
        .collect()
}

/// The update body of `res`: the attributes its kind sends as is ([`KindSchema::body_attrs`])
/// whose desired value differs from the current one.
pub fn body_changes(
    schema: &KindSchema,
    res: &DesiredResource,
    current: &ObservedResource,
) -> Map<String, Value> {
    let attrs: Vec<&str> = schema.body_attrs().collect();
    changed(&res.attrs, &current.attrs, &attrs)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Runs a create; when its outcome is unknown (answer lost, 502/503/504, timeout), looks for
/// what it may have made by its ownership tag and adopts it, else sends the create again after
/// a jittered exponential backoff that honours Retry-After, within the client's retry budget
/// ([`openstack::backoff`]). A 503 from a real cloud's proxy may or may not have reached the
/// service, so no create is repeated before that look-up, and none is repeated at once.
pub async fn create_or_adopt<T, C, CF, F, FF>(addr: &Address, create: C, find: F) -> Result<T>
where
    C: Fn() -> CF,
    CF: Future<Output = Result<T, ApiError>>,
    F: Fn() -> FF,
    FF: Future<Output = Result<Option<T>, ApiError>>,
{
    let (create, find) = (&create, &find);
    let attempt = || async move {
        match create().await {
            Err(error) if error.is_unknown_outcome() => {
                tracing::warn!("{addr}: create outcome unknown ({error}); looking for it by tag");
                match find().await? {
                    Some(found) => {
                        tracing::info!("{addr}: adopted the resource the create made");
                        Ok(found)
                    }
                    None => Err(error),
                }
            }
            other => other,
        }
    };
    Ok(attempt
        .retry(openstack::backoff())
        // Only an unknown outcome is retried here: the client already retried the errors
        // after which a POST surely did nothing (refused connection, 429).
        .when(ApiError::is_unknown_outcome)
        .adjust(openstack::honour_retry_after)
        .notify(|error, delay| {
            tracing::info!("{addr}: creating again in {delay:?} after: {error}");
        })
        .await?)
}

/// How many project ids one Neutron list names (`project_id=a&project_id=b...`, any of): 100
/// ids make a query of about 4.5 kB, well within the 8 kB request line servers accept.
const PROJECTS_PER_LIST: usize = 100;

/// Every object of `collection` in the given projects, in one list call per hundred projects
/// (run at once), never one per project: a refresh then costs the same calls for 2 tenants or
/// 200. Objects of other projects that a list shows (a shared external network) are left out.
pub async fn list_in_projects<T>(
    cx: &Context,
    collection: Collection,
    projects: &Projects,
) -> Result<Vec<T>>
where
    T: serde::de::DeserializeOwned + Tagged,
{
    let admin = cx.cloud.admin();
    let lists = projects.ids().chunks(PROJECTS_PER_LIST).map(|chunk| {
        let query: Vec<(String, String)> = chunk
            .iter()
            .map(|p| ("project_id".to_string(), p.clone()))
            .collect();
        async move { admin.network().list::<T>(collection, &query).await }
    });
    let mut items: Vec<T> = futures_util::future::try_join_all(lists)
        .await?
        .into_iter()
        .flatten()
        .collect();
    items.retain(|item| projects.contains(item.project_id()));
    Ok(items)
}

/// A Neutron collection of the spec's projects, as refresh sees it: claimed by ownership
/// tags, observed by `observe` once every kind is matched.
pub async fn list_neutron<T, F>(
    cx: &Context,
    collection: Collection,
    scope: Scope<'_>,
    status: fn(&T) -> Option<&str>,
    observe: F,
) -> Result<Vec<Listed>>
where
    T: serde::de::DeserializeOwned + Tagged + Send + 'static,
    F: Fn(&T, &Address, &Observation) -> Attrs + Clone + Send + 'static,
{
    let Scope::Projects(projects) = scope else {
        return Ok(Vec::new());
    };
    let items: Vec<T> = list_in_projects(cx, collection, projects).await?;
    Ok(listed(cx, items, status, observe))
}

/// Listed Neutron objects: claimed by ownership tags, observed by `observe` once every kind
/// is matched.
pub fn listed<T, F>(
    cx: &Context,
    items: Vec<T>,
    status: fn(&T) -> Option<&str>,
    observe: F,
) -> Vec<Listed>
where
    T: Tagged + Send + 'static,
    F: Fn(&T, &Address, &Observation) -> Attrs + Clone + Send + 'static,
{
    let lineage = lineage_tag(cx);
    items
        .into_iter()
        .map(|item| {
            let claim = tagged_address(&lineage, item.tags());
            let foreign = foreign_claim(&lineage, item.tags());
            let (id, status) = (item.id().to_string(), status(&item).map(str::to_string));
            let observe = observe.clone();
            Listed::new(id, claim, status.as_deref(), move |addr, o| {
                observe(&item, addr, o)
            })
            .foreign(foreign)
        })
        .collect()
}

/// Deletes a port (gone already is fine), and forgets it in what the last refresh listed, so
/// that a create later in the same apply does not take it for one to reuse.
pub async fn delete_port(cx: &Context, port_id: &str) -> Result<()> {
    gone_ok(cx.cloud.admin().network().delete(PORTS, port_id).await)?;
    cx.record_listed(|listed| {
        if let Some(ports) = listed.ports.as_mut() {
            ports.retain(|p| p.id != port_id);
        }
    });
    Ok(())
}

// ---- floating IPs: shared by the kinds that allocate and associate them -------------

/// Neutron's refusal of an association that no router makes possible, said in the spec's
/// terms; other errors pass as they are.
pub fn association_error(addr: &Address, error: crate::openstack::ApiError) -> Error {
    if error.is_not_found() && error.message().contains("is not reachable from subnet") {
        return Error::Failed {
            addr: addr.clone(),
            message: format!(
                "the port to associate is not reachable from the external network: no router \
                 with external_gateway = true has an interface on its subnet ({})",
                error.message()
            ),
        };
    }
    Error::Api(error)
}

/// The id of the external network `network` names ("" = the provider's).
pub async fn external_network_id(cx: &Context, addr: &Address, network: &str) -> Result<String> {
    let wanted = if network.is_empty() {
        cx.external_network
            .as_deref()
            .ok_or_else(|| Error::Failed {
                addr: addr.clone(),
                message: "no external network: set `external_network` in the [provider] table"
                    .into(),
            })?
    } else {
        network
    };
    let listed = cx.listed(|l| l.external_networks.clone());
    let externals = if listed.is_empty() {
        let query = neutron::query(&[("router:external", "true")]);
        let networks: Vec<neutron::Network> = cx
            .cloud
            .admin()
            .network()
            .list(neutron::NETWORKS, &query)
            .await?;
        networks
            .into_iter()
            .filter(|n| n.external == Some(true))
            .map(|n| super::ExternalNetwork {
                id: n.id,
                name: n.name,
            })
            .collect()
    } else {
        listed
    };
    super::find_external_network(&externals, wanted)
        .map(|n| n.id.clone())
        .map_err(|message| Error::Failed {
            addr: addr.clone(),
            message,
        })
}

/// Allocates a floating IP in `project` on `network_id`, associated with `port` if given, and
/// tags it as `addr`'s. Real Neutron refuses tags in a floating IP's POST, so they are set
/// after; an allocation whose reply was lost is found as the untagged address of the project
/// that the last refresh did not list.
pub async fn allocate_floating_ip(
    cx: &Context,
    addr: &Address,
    project: &str,
    mut body: Value,
    port: Option<&str>,
    tags: &[String],
) -> Result<neutron::FloatingIp> {
    let api = cx.cloud.admin().network();
    body["project_id"] = json!(project);
    if let Some(port) = port {
        body["port_id"] = json!(port);
    }
    let query = neutron::query(&[("project_id", project)]);
    let before: BTreeSet<String> = match cx.listed(|l| l.floating_ips.clone()) {
        Some(listed) => listed.into_iter().map(|f| f.id).collect(),
        None => api
            .list::<neutron::FloatingIp>(FLOATINGIPS, &query)
            .await?
            .into_iter()
            .map(|f| f.id)
            .collect(),
    };
    let created = create_or_adopt(
        addr,
        || api.create::<neutron::FloatingIp>(FLOATINGIPS, body.clone()),
        || async {
            let now: Vec<neutron::FloatingIp> = api.list(FLOATINGIPS, &query).await?;
            Ok(now
                .into_iter()
                .find(|f| !before.contains(&f.id) && f.tags.is_empty()))
        },
    )
    .await;
    let created = match created {
        Err(Error::Api(error)) => return Err(association_error(addr, error)),
        other => other?,
    };
    api.set_tags(FLOATINGIPS, &created.id, tags).await?;
    Ok(created)
}

/// Sets the floating IP's association (None: disassociates it).
pub async fn associate_floating_ip(
    cx: &Context,
    addr: &Address,
    fip_id: &str,
    port: Option<&str>,
) -> Result<()> {
    let result: Result<neutron::FloatingIp, _> = cx
        .cloud
        .admin()
        .network()
        .update(FLOATINGIPS, fip_id, json!({ "port_id": port }))
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error) => Err(association_error(addr, error)),
    }
}

/// A cloud object with an id and tags.
pub trait Tagged {
    fn id(&self) -> &str;
    fn tags(&self) -> &[String];
    fn project_id(&self) -> &str;
}

macro_rules! tagged {
    ($($ty:ty),*) => {$(
        impl Tagged for $ty {
            fn id(&self) -> &str { &self.id }
            fn tags(&self) -> &[String] { &self.tags }
            fn project_id(&self) -> &str { &self.project_id }
        }
    )*};
}

tagged!(
    neutron::Network,
    neutron::Subnet,
    neutron::Port,
    neutron::Router,
    neutron::SecurityGroup,
    neutron::FloatingIp
);

tagged!(neutron::RbacPolicy);

/// `have` carries every tag of `want`.
pub fn has_tags(have: &[String], want: &[String]) -> bool {
    want.iter().all(|w| have.contains(w))
}

/// Deleting something already gone is success.
pub fn gone_ok(result: Result<(), ApiError>) -> Result<()> {
    match result {
        Err(error) if error.is_not_found() => Ok(()),
        other => Ok(other?),
    }
}

pub fn wait_error(addr: &Address, what: &str, error: WaitError) -> Error {
    match error {
        WaitError::Api(api) => Error::Api(api),
        WaitError::Failed(message) => Error::Failed {
            addr: addr.clone(),
            message,
        },
        WaitError::Timeout { waited, last } => Error::Timeout {
            addr: addr.clone(),
            what: what.to_string(),
            waited,
            last,
        },
    }
}

/// Ids found by refresh → address names, per kind, to write references as names.
#[derive(Clone, Debug, Default)]
pub struct Names {
    by_kind: HashMap<Kind, HashMap<String, String>>,
}

impl Names {
    pub fn insert(&mut self, kind: Kind, id: &str, name: &str) {
        self.by_kind
            .entry(kind)
            .or_default()
            .insert(id.to_string(), name.to_string());
    }

    /// The address name of `id`, if it is one of ours.
    pub fn get(&self, kind: Kind, id: &str) -> Option<&str> {
        self.by_kind.get(&kind)?.get(id).map(String::as_str)
    }

    /// The address name of `id`, or the raw id when it is not one of ours (so a diff shows it).
    pub fn name(&self, kind: Kind, id: &str) -> String {
        self.by_kind
            .get(&kind)
            .and_then(|m| m.get(id))
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// A JSON array of strings, sorted (the attribute contract in `schema`: sets are sorted).
pub fn sorted_names(mut names: Vec<String>) -> Value {
    names.sort();
    names.dedup();
    json!(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_claim_an_address_only_with_the_lineage() {
        let tags = vec![
            "stackform-lineage:L1".to_string(),
            "stackform:network.web".to_string(),
        ];
        assert_eq!(
            tagged_address("stackform-lineage:L1", &tags),
            Some(Address::new(Kind::Network, "web"))
        );
        assert_eq!(tagged_address("stackform-lineage:L2", &tags), None);
        let odd = vec![
            "stackform-lineage:L1".to_string(),
            "stackform:bucket.x".to_string(),
        ];
        assert_eq!(tagged_address("stackform-lineage:L1", &odd), None);
    }

    fn unavailable(retry_after: Option<std::time::Duration>) -> ApiError {
        ApiError::Status {
            service: "network",
            method: reqwest::Method::POST,
            url: "http://neutron/v2.0/networks".into(),
            status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
            message: "".into(),
            request_id: None,
            retry_after,
        }
    }

    /// Regression (issue 7): a 503 on a create got one immediate second POST. Now the tag is
    /// looked up first, then the create waits at least what Retry-After asked.
    #[tokio::test]
    async fn an_unavailable_create_is_looked_up_then_retried_after_retry_after() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (creates, finds) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let started = std::time::Instant::now();
        let addr = Address::new(Kind::Network, "web");
        let created = create_or_adopt(
            &addr,
            || async {
                match creates.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(unavailable(Some(std::time::Duration::from_secs(1)))),
                    _ => Ok("n-1".to_string()),
                }
            },
            || async {
                finds.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            },
        )
        .await;
        assert_eq!(created.ok().as_deref(), Some("n-1"));
        assert_eq!(creates.load(Ordering::SeqCst), 2);
        assert_eq!(
            finds.load(Ordering::SeqCst),
            1,
            "looked up before creating again"
        );
        assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_create_found_by_its_tag_is_not_sent_again() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let creates = AtomicUsize::new(0);
        let addr = Address::new(Kind::Network, "web");
        let created = create_or_adopt(
            &addr,
            || async {
                creates.fetch_add(1, Ordering::SeqCst);
                Err::<String, _>(unavailable(None))
            },
            || async { Ok(Some("n-made".to_string())) },
        )
        .await;
        assert_eq!(created.ok().as_deref(), Some("n-made"));
        assert_eq!(creates.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_create_that_keeps_failing_gives_up_within_the_budget() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let creates = AtomicUsize::new(0);
        let addr = Address::new(Kind::Network, "web");
        let created = create_or_adopt(
            &addr,
            || async {
                creates.fetch_add(1, Ordering::SeqCst);
                Err::<String, _>(unavailable(None))
            },
            || async { Ok(None) },
        )
        .await;
        assert!(created.is_err());
        assert_eq!(
            creates.load(Ordering::SeqCst),
            5,
            "the first try and 4 retries"
        );
    }

    #[test]
    fn another_lineages_tags_are_a_foreign_claim() {
        let tags = vec![
            "stackform-lineage:L1".to_string(),
            "stackform:tenant.demo".to_string(),
        ];
        assert_eq!(
            foreign_claim("stackform-lineage:L2", &tags),
            Some((Address::new(Kind::Tenant, "demo"), "L1".to_string()))
        );
        assert_eq!(foreign_claim("stackform-lineage:L1", &tags), None);
        assert_eq!(foreign_claim("stackform-lineage:L2", &tags[..1]), None);
    }

    /// Network and subnet deletes clear only these: a `[port.NAME]` is the planner's.
    #[test]
    fn only_ports_made_for_instances_are_instance_ports() {
        let port = |tags: &[&str]| neutron::Port {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..neutron::Port::default()
        };
        let lineage = "stackform-lineage:L";
        assert!(is_instance_port(
            lineage,
            &port(&[lineage, "stackform:instance.vm"])
        ));
        assert!(!is_instance_port(
            lineage,
            &port(&[lineage, "stackform:port.vip"])
        ));
        assert!(!is_instance_port(
            lineage,
            &port(&["stackform-lineage:M", "stackform:instance.vm"])
        ));
        assert!(!is_instance_port(lineage, &port(&[])));
    }

    #[test]
    fn names_fall_back_to_the_raw_id() {
        let mut names = Names::default();
        names.insert(Kind::Network, "id-1", "web");
        assert_eq!(names.name(Kind::Network, "id-1"), "web");
        assert_eq!(names.name(Kind::Network, "id-2"), "id-2");
        assert_eq!(names.name(Kind::Subnet, "id-1"), "id-1");
    }

    #[test]
    fn changed_compares_only_listed_desired_attrs() {
        let desired: Attrs = [
            ("name".to_string(), json!("a")),
            ("mtu".to_string(), json!(1400)),
            ("tenant".to_string(), json!("t")),
        ]
        .into();
        let current: Attrs = [
            ("name".to_string(), json!("a")),
            ("mtu".to_string(), json!(1500)),
            ("tenant".to_string(), json!("u")),
            ("description".to_string(), json!("x")),
        ]
        .into();
        assert_eq!(
            changed(&desired, &current, &["name", "mtu", "description"]),
            vec![("mtu", &json!(1400))]
        );
    }
}
