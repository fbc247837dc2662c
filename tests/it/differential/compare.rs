//! Step-by-step comparison of two recordings of the same script.

use std::collections::BTreeSet;

use super::known_differences::{KNOWN_DIFFERENCES, Known};
use super::recorder::Record;

/// One difference: the step, what differs (`status`, `body <path>`, `header <name>`, `poll`),
/// and both sides.
#[derive(Debug, Clone)]
pub struct Difference {
    pub index: usize,
    pub label: String,
    pub method: String,
    pub template: String,
    pub what: String,
    pub real: String,
    pub embedded: String,
}

impl Difference {
    pub fn known(&self) -> Option<&'static Known> {
        KNOWN_DIFFERENCES
            .iter()
            .find(|known| glob(known.step, &self.label) && glob(known.what, &self.what))
    }
}

/// Polls see the same transitions when they end alike and one sequence is a subsequence of
/// the other: a state the poll happened to miss (it lasted less than a poll interval on that
/// cloud, or was over before the first poll) is timing; a state the other cloud never passes
/// through, or another outcome, is not.
fn same_transitions(real: &[String], embedded: &[String]) -> bool {
    let is_subsequence = |short: &[String], long: &[String]| {
        let mut rest = long.iter();
        short.iter().all(|state| rest.any(|s| s == state))
    };
    real.last() == embedded.last()
        && (is_subsequence(real, embedded) || is_subsequence(embedded, real))
}

#[test]
fn transitions_missed_by_a_poll_are_timing() {
    let seq = |s: &str| -> Vec<String> { s.split(' ').map(str::to_string).collect() };
    assert!(same_transitions(
        &seq("rebooting reboot_started null"),
        &seq("rebooting null")
    ));
    assert!(same_transitions(&seq("BUILD ACTIVE"), &seq("BUILD ACTIVE")));
    assert!(!same_transitions(&seq("BUILD ACTIVE"), &seq("BUILD ERROR")));
    assert!(same_transitions(&seq("SHUTOFF"), &seq("ACTIVE SHUTOFF")));
    assert!(!same_transitions(
        &seq("ACTIVE SHUTOFF"),
        &seq("ACTIVE ERROR")
    ));
    assert!(!same_transitions(&seq("a b c"), &seq("a x c")));
}

/// `*` matches any run of characters (anywhere in the pattern); everything else is literal.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

#[test]
fn glob_matches_stars_anywhere() {
    assert!(glob("neutron.*", "neutron.network.show"));
    assert!(glob("body *zones*", "body networks[].availability_zones[]"));
    assert!(glob("poll", "poll"));
    assert!(!glob("poll", "polls"));
    assert!(!glob("nova.*", "neutron.x"));
}

fn join(set: Option<&BTreeSet<String>>) -> String {
    match set {
        None => "(absent)".into(),
        Some(set) => set.iter().cloned().collect::<Vec<_>>().join(" | "),
    }
}

pub fn compare(real: &[Record], embedded: &[Record]) -> Vec<Difference> {
    let mut out = Vec::new();
    let steps = real.len().max(embedded.len());
    for index in 0..steps {
        let (Some(r), Some(e)) = (real.get(index), embedded.get(index)) else {
            let label = real
                .get(index)
                .or(embedded.get(index))
                .map(|r| r.label.clone())
                .unwrap_or_default();
            out.push(Difference {
                index,
                label,
                method: String::new(),
                template: String::new(),
                what: "step".into(),
                real: format!("{} steps", real.len()),
                embedded: format!("{} steps", embedded.len()),
            });
            continue;
        };
        let mut push = |what: String, real: String, embedded: String| {
            out.push(Difference {
                index,
                label: r.label.clone(),
                method: r.method.clone(),
                template: r.template.clone(),
                what,
                real,
                embedded,
            })
        };
        if r.label != e.label {
            push("step".into(), r.label.clone(), e.label.clone());
            continue;
        }
        if r.status != e.status {
            push("status".into(), r.status.to_string(), e.status.to_string());
        }
        if !same_transitions(&r.polled, &e.polled) {
            push("poll".into(), r.polled.join(" → "), e.polled.join(" → "));
        }
        let paths: BTreeSet<&String> = r.shape.keys().chain(e.shape.keys()).collect();
        for path in paths {
            let (rs, es) = (r.shape.get(path), e.shape.get(path));
            if rs != es {
                push(format!("body {path}"), join(rs), join(es));
            }
        }
        let names: BTreeSet<&String> = r.headers.keys().chain(e.headers.keys()).collect();
        for name in names {
            let (rh, eh) = (r.headers.get(name), e.headers.get(name));
            if rh != eh {
                let show = |h: Option<&String>| h.cloned().unwrap_or_else(|| "(absent)".into());
                push(format!("header {name}"), show(rh), show(eh));
            }
        }
    }
    out
}

/// The readable report: every difference, marked when it is a known, deliberate one.
pub fn report<'a>(differences: impl IntoIterator<Item = &'a Difference>) -> String {
    let mut text = String::new();
    let mut last_step = usize::MAX;
    for difference in differences {
        if difference.index != last_step {
            last_step = difference.index;
            text.push_str(&format!(
                "\n#{} {} {} {}\n",
                difference.index, difference.label, difference.method, difference.template
            ));
        }
        let mark = match difference.known() {
            Some(_) => "  (known)".to_string(),
            None => String::new(),
        };
        text.push_str(&format!(
            "    {}{mark}\n        real:     {}\n        embedded: {}\n",
            difference.what, difference.real, difference.embedded
        ));
    }
    text
}
