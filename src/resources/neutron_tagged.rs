//! Creating a Neutron object with stackform's tags on it, whatever the cloud does with tags
//! in a POST (takes them, refuses them, drops them), so that neither a lost reply nor a
//! killed run makes it twice.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::common::{Tagged, create_or_adopt, has_tags};
use super::{Error, Result};
use crate::addr::Address;
use crate::openstack::Session;
use crate::openstack::network::{self as neutron, Collection};

/// POSTs a Neutron resource with its tags in the body; clouds without tag-at-create
/// (`tag-creation` extension, or real Neutron although it advertises it) reject the field, so
/// then create without and PUT the tags, and once refused, the run's later creates go without
/// at once. A lost answer is resolved by looking the tags up in the project.
pub async fn neutron_create_tagged<T>(
    session: &Session,
    collection: Collection,
    addr: &Address,
    body: Value,
    tags: &[String],
) -> Result<T>
where
    T: serde::de::DeserializeOwned + Tagged,
{
    let project = session.project_id();
    let find = || async {
        let query = neutron::query(&[("tags", &tags.join(",")), ("project_id", &project)]);
        let found: Vec<T> = session.network().list(collection, &query).await?;
        // Filtered here too: a cloud without the tag filter extension returns everything.
        Ok(found.into_iter().find(|item| has_tags(item.tags(), tags)))
    };
    let learned = session.learned();
    // Ports take tags in the body and drop them (real Neutron 2026.2): a run killed between
    // the POST and the tag PUT would leave an untagged port, so ports are looked for first.
    let untagged_first = collection.path == neutron::PORTS.path;
    let first = if untagged_first || learned.neutron_refuses_tags_on_create() {
        None
    } else {
        let mut tagged = body.clone();
        tagged["tags"] = json!(tags);
        Some(
            create_or_adopt(
                addr,
                || session.network().create::<T>(collection, tagged.clone()),
                find,
            )
            .await,
        )
    };
    match first {
        None => create_then_tag(session, collection, addr, body, tags).await,
        Some(Err(Error::Api(error)))
            if error.status() == Some(reqwest::StatusCode::BAD_REQUEST)
                && error.message().contains("tags") =>
        {
            learned.learn_neutron_refuses_tags_on_create();
            create_then_tag(session, collection, addr, body, tags).await
        }
        // Real Neutron (2026.2, ML2) answers a port POST with `tags: []` although it
        // advertises `tag-creation`: the tags in the body are dropped. Without them a lost
        // reply could not be adopted and the port could not be told as ours once unbound, so
        // whatever the reply lacks is set explicitly.
        Some(Ok(created)) if !has_tags(created.tags(), tags) => {
            session
                .network()
                .set_tags(collection, created.id(), tags)
                .await?;
            Ok(created)
        }
        Some(other) => other,
    }
}

/// Creates a Neutron object without tags in the body, then PUTs them: for a cloud that
/// refuses tags at create.
async fn create_then_tag<T>(
    session: &Session,
    collection: Collection,
    addr: &Address,
    body: Value,
    tags: &[String],
) -> Result<T>
where
    T: serde::de::DeserializeOwned + Tagged,
{
    let project = session.project_id();
    // Without tags in the body, a create whose answer is lost leaves an untagged object: it is
    // the one of this name that was not there before the POST.
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    let same_name = || async {
        let query = neutron::query(&[("name", name), ("project_id", &project)]);
        session.network().list::<T>(collection, &query).await
    };
    let mut existing = same_name().await?;
    // An untagged object of this name in the project is what an interrupted run left between
    // its POST and its tags (killed, or the tag PUT's answer lost): it is taken over rather
    // than made twice.
    let untagged: Vec<usize> = (0..existing.len())
        .filter(|&i| existing[i].tags().is_empty())
        .collect();
    if let [only] = untagged[..] {
        let orphan = existing.swap_remove(only);
        tracing::warn!(
            "{addr}: taking over the untagged object of this name ({}) that an interrupted \
             run left",
            orphan.id()
        );
        session
            .network()
            .set_tags(collection, orphan.id(), tags)
            .await?;
        return Ok(orphan);
    }
    let before: BTreeSet<String> = existing.iter().map(|item| item.id().to_string()).collect();
    let created: T = create_or_adopt(
        addr,
        || session.network().create::<T>(collection, body.clone()),
        || async {
            Ok(same_name()
                .await?
                .into_iter()
                .find(|item| !before.contains(item.id()) && item.tags().is_empty()))
        },
    )
    .await?;
    session
        .network()
        .set_tags(collection, created.id(), tags)
        .await?;
    Ok(created)
}
