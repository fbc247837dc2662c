//! Tags as Keystone, Nova, Glance and Neutron read them: the `tags`, `tags-any`, `not-tags`
//! and `not-tags-any` list filters, the one-tag rules (length, no '/' or ','), a body's tag
//! list (unique, in order) and adding or removing one tag. Each service words its own errors:
//! these functions say what is wrong, never how the service says it.

use serde_json::Value;

/// The names of the four tag filters of list queries.
pub const TAG_FILTERS: [&str; 4] = ["tags", "tags-any", "not-tags", "not-tags-any"];

/// The comma-separated tags of a filter value, empty items dropped.
pub fn split_tags(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').filter(|t| !t.is_empty())
}

/// The four tag filters of a list query; absent filters match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagFilter {
    pub tags: Vec<String>,
    pub tags_any: Vec<String>,
    pub not_tags: Vec<String>,
    pub not_tags_any: Vec<String>,
}

impl TagFilter {
    /// Reads the filter named `key` into `self`; false when `key` is no tag filter.
    /// Repeated filters add up, as the services read them.
    pub fn read(&mut self, key: &str, value: &str) -> bool {
        let list = match key {
            "tags" => &mut self.tags,
            "tags-any" => &mut self.tags_any,
            "not-tags" => &mut self.not_tags,
            "not-tags-any" => &mut self.not_tags_any,
            _ => return false,
        };
        list.extend(split_tags(value).map(str::to_string));
        true
    }

    /// Whether a resource with these tags passes every filter: all of `tags`, one of
    /// `tags-any`, not all of `not-tags`, none of `not-tags-any`.
    pub fn matches(&self, tags: &[String]) -> bool {
        let has = |t: &String| tags.contains(t);
        (self.tags.is_empty() || self.tags.iter().all(has))
            && (self.tags_any.is_empty() || self.tags_any.iter().any(has))
            && (self.not_tags.is_empty() || !self.not_tags.iter().all(has))
            && (self.not_tags_any.is_empty() || !self.not_tags_any.iter().any(has))
    }
}

/// One `key=value` tag filter as Keystone and Nova apply it, each pair on its own (a repeated
/// `tags-any` must match once per occurrence); None when `key` is no tag filter.
pub fn tag_pair_matches(key: &str, value: &str, tags: &[String]) -> Option<bool> {
    let mut wanted = split_tags(value);
    let has = |t: &str| tags.iter().any(|s| s == t);
    match key {
        "tags" => Some(wanted.all(has)),
        "tags-any" => Some(wanted.any(has)),
        "not-tags" => Some(!wanted.all(has)),
        "not-tags-any" => Some(!wanted.any(has)),
        _ => None,
    }
}

/// One tag by Keystone's and Nova's rule: 1 to `max_len` characters, no '/' and no ','.
pub fn valid_tag(tag: &str, max_len: usize) -> bool {
    !tag.is_empty() && tag.chars().count() <= max_len && !tag.contains('/') && !tag.contains(',')
}

/// What is wrong with a body's tag list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagListError {
    NotAList,
    NotAString,
    /// This tag breaks the one-tag rule.
    Invalid(String),
    /// More unique tags than the service allows.
    TooMany,
}

/// A body's `tags`: a list of valid strings, duplicates dropped (first kept), at most `max`.
pub fn tag_list(value: &Value, max_len: usize, max: usize) -> Result<Vec<String>, TagListError> {
    let list = value.as_array().ok_or(TagListError::NotAList)?;
    let mut tags: Vec<String> = Vec::new();
    for tag in list {
        let tag = tag.as_str().ok_or(TagListError::NotAString)?;
        if !valid_tag(tag, max_len) {
            return Err(TagListError::Invalid(tag.to_string()));
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    if tags.len() > max {
        return Err(TagListError::TooMany);
    }
    Ok(tags)
}

/// Adds `tag` at the end unless present. False when it was new but `max` tags are there
/// already (and nothing changed).
pub fn add_tag(tags: &mut Vec<String>, tag: &str, max: usize) -> Result<bool, TagListError> {
    if tags.iter().any(|t| t == tag) {
        return Ok(false);
    }
    if tags.len() >= max {
        return Err(TagListError::TooMany);
    }
    tags.push(tag.to_string());
    Ok(true)
}

/// Removes `tag`; false when it was not there.
pub fn remove_tag(tags: &mut Vec<String>, tag: &str) -> bool {
    let before = tags.len();
    tags.retain(|t| t != tag);
    tags.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_combine_as_the_services_read_them() {
        let mut filter = TagFilter::default();
        assert!(filter.read("tags", "a,b"));
        assert!(filter.read("not-tags-any", "x"));
        assert!(filter.matches(&strings(&["a", "b", "c"])));
        assert!(!filter.matches(&strings(&["a"])));
        assert!(!filter.matches(&strings(&["a", "b", "x"])));
        let mut not_all = TagFilter::default();
        assert!(not_all.read("not-tags", "a,b"));
        assert!(!not_all.read("name", "a"));
        assert!(not_all.matches(&strings(&["a"])));
        assert!(!not_all.matches(&strings(&["a", "b"])));
        assert!(TagFilter::default().matches(&[]));
    }

    #[test]
    fn tag_lists_are_unique_valid_and_bounded() {
        assert_eq!(
            tag_list(&json!(["a", "b", "a"]), 60, 2),
            Ok(strings(&["a", "b"]))
        );
        assert_eq!(tag_list(&json!("a"), 60, 2), Err(TagListError::NotAList));
        assert_eq!(tag_list(&json!([1]), 60, 2), Err(TagListError::NotAString));
        assert_eq!(
            tag_list(&json!(["a/b"]), 60, 2),
            Err(TagListError::Invalid("a/b".into()))
        );
        assert_eq!(
            tag_list(&json!(["a", "b", "c"]), 60, 2),
            Err(TagListError::TooMany)
        );
        let mut tags = strings(&["a"]);
        assert_eq!(add_tag(&mut tags, "a", 1), Ok(false));
        assert_eq!(add_tag(&mut tags, "b", 1), Err(TagListError::TooMany));
        assert!(remove_tag(&mut tags, "a"));
        assert!(!remove_tag(&mut tags, "a"));
    }
}
