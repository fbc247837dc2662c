//! One page of a collection list: its objects decoded straight into their type, and the
//! query of the next page (Nova and Neutron's `<collection>_links` entry with rel `next`, or
//! Glance's `next`).

use reqwest::Url;
use serde::de::DeserializeOwned;

/// The query of a next link. Glance's link is a path ("/v2/images?marker=…"): it is resolved
/// against any base, since only its query is used.
pub(super) fn next_query_of_href(href: &str) -> Option<Vec<(String, String)>> {
    let url = Url::parse("http://next.invalid/").ok()?.join(href).ok()?;
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if pairs.is_empty() { None } else { Some(pairs) }
}

/// One page of a collection: its objects, and the next link (Nova and Neutron's
/// `<collection>_links` entry with rel `next`, or Glance's `next`).
pub(super) struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T: DeserializeOwned> Page<T> {
    pub fn decode(bytes: &[u8], collection: &str) -> Result<Page<T>, String> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let page = serde::de::DeserializeSeed::deserialize(
            PageSeed::<T> {
                collection,
                links: format!("{collection}_links"),
                item: std::marker::PhantomData,
            },
            &mut deserializer,
        )
        .and_then(|page| deserializer.end().map(|()| page))
        .map_err(|e| format!("{collection}: {e}"))?;
        match page {
            (Some(items), next) => Ok(Page { items, next }),
            (None, _) => Err(format!("no `{collection}` list in the answer")),
        }
    }
}

struct PageSeed<'a, T> {
    collection: &'a str,
    links: String,
    item: std::marker::PhantomData<T>,
}

#[derive(serde::Deserialize)]
struct Link {
    rel: Option<String>,
    href: Option<String>,
}

impl<'de, T: DeserializeOwned> serde::de::DeserializeSeed<'de> for PageSeed<'_, T> {
    type Value = (Option<Vec<T>>, Option<String>);

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> serde::de::Visitor<'de> for PageSeed<'_, T> {
    type Value = (Option<Vec<T>>, Option<String>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an object with a `{}` list", self.collection)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut items, mut links_next, mut glance_next) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            if key == self.collection {
                items = Some(map.next_value::<Vec<T>>()?);
            } else if key == self.links {
                let links = map.next_value::<Option<Vec<Link>>>()?.unwrap_or_default();
                links_next = links
                    .into_iter()
                    .find(|l| l.rel.as_deref() == Some("next"))
                    .and_then(|l| l.href);
            } else if key == "next" {
                glance_next = map.next_value::<Option<String>>()?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok((items, links_next.or(glance_next)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn follows_neutron_next_links() {
        let page = json!({
            "networks": [],
            "networks_links": [
                {"rel": "previous", "href": "http://n:9696/v2.0/networks?limit=2&marker=a&page_reverse=True"},
                {"rel": "next", "href": "http://n:9696/v2.0/networks?limit=2&marker=b&project_id=p"}
            ]
        });
        assert_eq!(
            next_page_query(&page, "networks"),
            Some(pairs(&[
                ("limit", "2"),
                ("marker", "b"),
                ("project_id", "p")
            ]))
        );
    }

    #[test]
    fn follows_nova_next_links_from_the_sample() {
        // Copied from /work/shared/openstack-api-samples/compute/
        // servers_v2.100_servers-details-resp.json (openstack/nova doc/api_samples).
        let path = format!(
            "{}/tests/fixtures/openstack/servers_v2.100_servers-details-resp.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let page: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            next_page_query(&page, "servers"),
            Some(pairs(&[
                ("limit", "1"),
                ("marker", "f5dc173b-6804-445a-a6d8-c705dad5b5eb")
            ]))
        );
    }

    /// The next page's query, through the decoder `list` uses.
    fn next_page_query(page: &Value, collection: &str) -> Option<Vec<(String, String)>> {
        let bytes = serde_json::to_vec(page).unwrap();
        let page = Page::<serde::de::IgnoredAny>::decode(&bytes, collection).unwrap();
        page.next.as_deref().and_then(next_query_of_href)
    }

    #[test]
    fn pages_decode_into_their_type_and_say_what_is_wrong() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Named {
            name: String,
        }
        let page =
            br#"{"networks": [{"name": "a", "mtu": 1450}, {"name": "b"}], "other": {"x": [1]}}"#;
        let decoded = Page::<Named>::decode(page, "networks").unwrap();
        let names: Vec<&str> = decoded.items.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(decoded.next, None);

        let missing = Page::<Named>::decode(br#"{"subnets": []}"#, "networks");
        assert_eq!(missing.err().unwrap(), "no `networks` list in the answer");
        let wrong = Page::<Named>::decode(br#"{"networks": [{"name": 7}]}"#, "networks");
        let error = wrong.err().unwrap();
        assert!(
            error.starts_with("networks: invalid type: integer `7`, expected a string"),
            "{error}"
        );
        let trailing = Page::<Named>::decode(br#"{"networks": []} x"#, "networks");
        assert!(trailing.err().unwrap().contains("trailing characters"));
    }

    #[test]
    fn follows_glance_relative_next() {
        let page =
            json!({"images": [], "first": "/v2/images", "next": "/v2/images?marker=abc&limit=20"});
        assert_eq!(
            next_page_query(&page, "images"),
            Some(pairs(&[("marker", "abc"), ("limit", "20")]))
        );
    }

    #[test]
    fn last_pages_have_no_next() {
        // Copied from /work/shared/openstack-api-samples/image/images-list-response.json.
        let path = format!(
            "{}/tests/fixtures/openstack/images-list-response.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let page: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(next_page_query(&page, "images"), None);
        let neutron_last = json!({"ports": [], "ports_links": [{"rel": "previous", "href": "http://n/v2.0/ports?marker=z"}]});
        assert_eq!(next_page_query(&neutron_last, "ports"), None);
    }
}
