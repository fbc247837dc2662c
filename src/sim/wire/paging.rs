//! Paging links: the percent-encoding of query components and the `next` query that Nova,
//! Glance and Neutron build from the request's own query and the last id of a page.

/// Percent-encodes a query component (RFC 3986 unreserved characters kept).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The query of a `next` link: the request's own query, its marker replaced by (or else
/// followed by) the last id, as Nova and Glance build it.
pub fn next_page_query(query: &[(String, String)], marker: &str) -> String {
    let mut params: Vec<(String, String)> = query.to_vec();
    match params.iter_mut().find(|(k, _)| k == "marker") {
        Some(entry) => entry.1 = marker.to_string(),
        None => params.push(("marker".to_string(), marker.to_string())),
    }
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_query_value(k), encode_query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of a query parameter (the first, when repeated).
pub fn query_value<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_queries_replace_or_append_the_marker() {
        let query = vec![
            ("name".to_string(), "web 1".to_string()),
            ("marker".to_string(), "a".to_string()),
            ("limit".to_string(), "2".to_string()),
        ];
        assert_eq!(
            next_page_query(&query, "b"),
            "name=web%201&marker=b&limit=2"
        );
        assert_eq!(next_page_query(&query[..1], "b"), "name=web%201&marker=b");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("a b/c"), "a%20b%2Fc");
        assert_eq!(encode_query_value("web-1_x.y~"), "web-1_x.y~");
    }
}
