//! List queries as Neutron reads them: attribute filters (repeated key = any of), tag filters,
//! `fields=`, `sort_key`/`sort_dir`, and `limit`/`marker`/`page_reverse` paging with
//! `<collection>_links`.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::model::{Kind, Meta, NResult, NeutronError};
use crate::sim::wire::paging::encode_query_value as encode;
use crate::sim::wire::tags::{TAG_FILTERS, TagFilter};

#[derive(Debug, Default)]
pub struct ListQuery {
    pairs: Vec<(String, String)>,
    filters: Vec<(String, Vec<String>)>,
    fields: Vec<String>,
    limit: Option<usize>,
    marker: Option<String>,
    page_reverse: bool,
    sort: Vec<(String, bool)>,
    tags: TagFilter,
}

impl ListQuery {
    pub fn parse(pairs: &[(String, String)]) -> NResult<ListQuery> {
        let mut q = ListQuery {
            pairs: pairs.to_vec(),
            ..ListQuery::default()
        };
        let mut sort_keys = Vec::new();
        let mut sort_dirs = Vec::new();
        for (key, value) in pairs {
            match key.as_str() {
                "fields" => q.fields.extend(value.split(',').map(str::to_string)),
                "limit" => {
                    let limit = value
                        .parse::<i64>()
                        .ok()
                        .filter(|l| *l >= 0)
                        .ok_or_else(|| {
                            NeutronError::bad_request(format!(
                                "Limit must be an integer 0 or greater and not '{value}'"
                            ))
                        })?;
                    // 0 means "no limit", as in Neutron.
                    q.limit = usize::try_from(limit).ok().filter(|l| *l > 0);
                }
                "marker" => q.marker = Some(value.clone()),
                "page_reverse" => q.page_reverse = value.eq_ignore_ascii_case("true"),
                "sort_key" => sort_keys.push(value.clone()),
                "sort_dir" => {
                    let asc = match value.as_str() {
                        "asc" => true,
                        "desc" => false,
                        other => {
                            return Err(NeutronError::bad_request(format!(
                                "{other} is invalid value for sort_dir, valid value is 'asc' and 'desc'"
                            )));
                        }
                    };
                    sort_dirs.push(asc);
                }
                key if TAG_FILTERS.contains(&key) => {
                    q.tags.read(key, value);
                }
                _ => match q.filters.iter_mut().find(|(k, _)| k == key) {
                    Some((_, values)) => values.push(value.clone()),
                    None => q.filters.push((key.clone(), vec![value.clone()])),
                },
            }
        }
        if !sort_dirs.is_empty() && sort_dirs.len() != sort_keys.len() {
            return Err(NeutronError::bad_request(
                "The number of sort_keys and sort_dirs must be same",
            ));
        }
        q.sort = sort_keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, sort_dirs.get(i).copied().unwrap_or(true)))
            .collect();
        Ok(q)
    }

    /// Refuses filters on attributes the resource does not have, as Neutron does with
    /// filter validation on (its default): silently ignoring a misspelt filter would list
    /// everything.
    pub fn validate_filters(&self, kind: Kind) -> NResult<()> {
        let table = kind.attributes();
        for (key, _) in &self.filters {
            let known = [
                table.post,
                table.put,
                table.read_only,
                table.common_read_only,
            ]
            .iter()
            .any(|list| list.contains(&key.as_str()))
                || key == "tenant_id"
                || key == "project_id"
                || key == "name";
            if !known {
                return Err(NeutronError::bad_request(format!(
                    "{key} is invalid attribute for filtering"
                )));
            }
        }
        Ok(())
    }

    /// The projects a `project_id` (or else `tenant_id`) filter lets through, if there is one:
    /// a list needs to look at those projects' records only.
    pub fn project_filter(&self) -> Option<&[String]> {
        self.filters
            .iter()
            .find(|(key, _)| key == "project_id")
            .or_else(|| self.filters.iter().find(|(key, _)| key == "tenant_id"))
            .map(|(_, values)| values.as_slice())
    }

    /// The tag filters (`tags`, `tags-any`, `not-tags`, `not-tags-any`).
    pub fn tag_filter(&self) -> &TagFilter {
        &self.tags
    }

    /// Whether a record may pass the project and tag filters, judged on its stored
    /// attributes before it is rendered (what every rendered record shows of them: its
    /// project as project_id and tenant_id, its tags when `shows_tags`). A false here is a
    /// record `apply` would drop.
    pub fn may_keep(&self, meta: &Meta, shows_tags: bool) -> bool {
        let project_ok = self
            .filters
            .iter()
            .filter(|(key, _)| key == "project_id" || key == "tenant_id")
            .all(|(_, wanted)| wanted.contains(&meta.project_id));
        let tags: &[String] = if shows_tags { &meta.tags } else { &[] };
        project_ok && self.tags.matches(tags)
    }

    /// Field selection for a single resource (GET /v2.0/networks/{id}?fields=name).
    pub fn select(&self, item: Map<String, Value>) -> Map<String, Value> {
        if self.fields.is_empty() {
            return item;
        }
        item.into_iter()
            .filter(|(k, _)| self.fields.contains(k))
            .collect()
    }

    fn matches(&self, item: &Map<String, Value>) -> bool {
        let filters_ok = self
            .filters
            .iter()
            .all(|(key, wanted)| match item.get(key) {
                // Neutron without filter validation ignores unknown attributes.
                None => true,
                Some(value) => wanted.iter().any(|w| value_matches(value, w)),
            });
        let tags: Vec<String> = item
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        filters_ok && self.tags.matches(&tags)
    }

    /// The sort keys with their directions, as `compare` applies them.
    fn sort_keys(&self) -> Vec<(String, bool)> {
        if self.sort.is_empty() {
            vec![("id".to_string(), true)]
        } else {
            let mut keys = self.sort.clone();
            // Neutron appends the primary key so that paging is stable.
            if !keys.iter().any(|(k, _)| k == "id") {
                keys.push(("id".to_string(), true));
            }
            keys
        }
    }

    fn compare(
        keys: &[(String, bool)],
        a: &Map<String, Value>,
        b: &Map<String, Value>,
    ) -> Ordering {
        for (key, asc) in keys {
            let ord = compare_values(a.get(key), b.get(key));
            let ord = if *asc { ord } else { ord.reverse() };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// Filters, sorts, pages and selects; returns the list body with its links.
    ///
    /// Links are stock Neutron's: a `next` link on every full page (so the last full page
    /// leads to an empty one) and a `previous` link on every non-empty page.
    pub fn apply(
        &self,
        kind: Kind,
        items: Vec<Map<String, Value>>,
        href_base: &str,
    ) -> NResult<Value> {
        let mut items: Vec<Map<String, Value>> =
            items.into_iter().filter(|i| self.matches(i)).collect();
        let keys = self.sort_keys();
        items.sort_by(|a, b| Self::compare(&keys, a, b));
        let id_of = |m: &Map<String, Value>| {
            m.get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let marker_pos = match &self.marker {
            None => None,
            Some(marker) => Some(
                items
                    .iter()
                    .position(|i| &id_of(i) == marker)
                    .ok_or_else(|| kind.not_found(marker))?,
            ),
        };
        let total = items.len();
        let (start, end) = match (self.limit, self.page_reverse) {
            (None, false) => (marker_pos.map_or(0, |p| p + 1), total),
            (None, true) => (0, marker_pos.unwrap_or(total)),
            (Some(limit), false) => {
                let start = marker_pos.map_or(0, |p| p + 1);
                (start, (start + limit).min(total))
            }
            (Some(limit), true) => {
                let end = marker_pos.unwrap_or(total);
                (end.saturating_sub(limit), end)
            }
        };
        let page: Vec<Map<String, Value>> = items.drain(start..end).collect();
        let mut body = Map::new();
        if let Some(limit) = self.limit {
            // Neutron's get_pagination_links: `next` unless a forward page came back short,
            // `previous` unless a reverse page did; so the last full page links to an empty one.
            let mut links = Vec::new();
            let short = page.len() < limit;
            if let Some(last) = page.last().filter(|_| !short || self.page_reverse) {
                links.push(
                    json!({"rel": "next", "href": self.href(href_base, &id_of(last), false)}),
                );
            }
            if let Some(first) = page.first().filter(|_| !short || !self.page_reverse) {
                links.push(
                    json!({"rel": "previous", "href": self.href(href_base, &id_of(first), true)}),
                );
            }
            if !links.is_empty() {
                body.insert(format!("{}_links", kind.collection()), Value::Array(links));
            }
        }
        let page: Vec<Value> = page
            .into_iter()
            .map(|i| Value::Object(self.select(i)))
            .collect();
        body.insert(kind.collection().to_string(), Value::Array(page));
        Ok(Value::Object(body))
    }

    /// Neutron's get_next_href/get_previous_href: the request's own parameters with the
    /// marker replaced (and page_reverse=True for the previous page).
    fn href(&self, base: &str, marker: &str, reverse: bool) -> String {
        let mut params: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "marker" && k != "page_reverse")
            .cloned()
            .collect();
        params.push(("marker".into(), marker.to_string()));
        if reverse {
            params.push(("page_reverse".into(), "True".into()));
        }
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("{base}?{}", query.join("&"))
    }
}

/// Whether one listed value matches a filter value given as text.
fn value_matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s == wanted,
        Value::Bool(b) => wanted.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == wanted,
        Value::Null => wanted.is_empty() || wanted == "None",
        // `fixed_ips=subnet_id=X` / `fixed_ips=ip_address=Y`: any element with that pair.
        Value::Array(items) => items.iter().any(|item| match item {
            Value::Object(obj) => wanted
                .split_once('=')
                .is_some_and(|(k, v)| obj.get(k).is_some_and(|inner| value_matches(inner, v))),
            other => value_matches(other, wanted),
        }),
        Value::Object(_) => false,
    }
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}
