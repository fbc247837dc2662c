//! Text for people, in Terraform's layout: a `# address will be …` line per action, then its
//! attribute diff (`+` added, `-` removed, `~` changed, `-/+` replaced), then a one-line
//! summary. Apply progress lines live here too, so plan and apply read alike.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value};
use similar::{Algorithm, DiffTag, capture_diff_slices_by_key};

use super::is_sensitive;
use crate::addr::Address;
use crate::plan::{Action, ActionKind, Plan, Reason};
use crate::resources::schema;

const NO_CHANGES: &str = "No changes. The cloud matches the spec.";

/// The plan as the `plan` command prints it (no trailing newline). ANSI colour only when
/// `color` is set.
pub fn plan(plan: &Plan, color: bool) -> String {
    let mut out = Out {
        text: String::new(),
        color,
    };
    for adoption in &plan.adoptions {
        let addr = out.paint(BOLD, &adoption.addr.to_string());
        let _ = writeln!(
            out.text,
            "  # {addr} will be adopted: found by its ownership tag, id {} (not in the state yet)",
            adoption.id
        );
    }
    if !plan.adoptions.is_empty() {
        out.text.push('\n');
    }
    if plan.is_empty() {
        if color {
            let _ = write!(
                out.text,
                "{} The cloud matches the spec.",
                out.paint(BOLD_GREEN, "No changes.")
            );
        } else {
            out.text.push_str(NO_CHANGES);
        }
        return out.text;
    }
    out.text
        .push_str("stackform will perform the following actions:\n\n");
    for action in &plan.actions {
        render_action(&mut out, action);
    }
    let (add, change, destroy) = plan.summary();
    let _ = write!(
        out.text,
        "{} {add} to add, {change} to change, {destroy} to destroy.",
        out.paint(BOLD, "Plan:")
    );
    out.text
}

/// `network.demo-net: Creating...`
/// The progress line of one apply event, as `apply` prints it and the daemon logs it.
pub fn step_line<E: std::fmt::Display>(event: crate::apply::Event<E>) -> String {
    use crate::apply::Event;
    match event {
        Event::Started { addr, action } => step_started(&addr, action),
        Event::Done {
            addr,
            action,
            id,
            elapsed,
        } => step_done(&addr, action, id.as_deref(), elapsed),
        Event::Failed {
            addr,
            action,
            error,
        } => step_failed(&addr, action, &error.to_string()),
        Event::Skipped { addr, because, .. } => step_skipped(&addr, &because),
    }
}

pub fn step_started(addr: &Address, kind: ActionKind) -> String {
    let verb = match kind {
        ActionKind::Create => "Creating...",
        ActionKind::Update => "Modifying...",
        ActionKind::Replace => "Replacing...",
        ActionKind::Delete => "Destroying...",
    };
    format!("{addr}: {verb}")
}

/// `network.demo-net: Creation complete after 1s [id=…]`
pub fn step_done(addr: &Address, kind: ActionKind, id: Option<&str>, elapsed: Duration) -> String {
    let id = id.map(|id| format!(" [id={id}]")).unwrap_or_default();
    format!(
        "{addr}: {} complete after {}{id}",
        noun(kind),
        duration(elapsed)
    )
}

/// `network.demo-net: Creation failed: <error>`
pub fn step_failed(addr: &Address, kind: ActionKind, error: &str) -> String {
    format!("{addr}: {} failed: {error}", noun(kind))
}

/// `instance.web-1: Skipped (subnet.demo-subnet failed)`
pub fn step_skipped(addr: &Address, because: &Address) -> String {
    format!("{addr}: Skipped ({because} failed)")
}

/// The last line of an apply.
pub fn apply_summary(
    added: usize,
    changed: usize,
    destroyed: usize,
    failed: usize,
    skipped: usize,
) -> String {
    let resources = format!("Resources: {added} added, {changed} changed, {destroyed} destroyed.");
    if failed == 0 && skipped == 0 {
        format!("Apply complete! {resources}")
    } else {
        format!("Apply failed: {failed} failed, {skipped} skipped. {resources}")
    }
}

fn noun(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Create => "Creation",
        ActionKind::Update => "Modifications",
        ActionKind::Replace => "Replacement",
        ActionKind::Delete => "Destruction",
    }
}

/// `0s`, `42s`, `2m5s`, like Terraform.
fn duration(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const BOLD_GREEN: &str = "\x1b[1;32m";
const RESET: &str = "\x1b[0m";

/// The column where an attribute line's symbol goes; nested levels add [`NEST`].
const ATTR_INDENT: usize = 6;
const NEST: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Symbol {
    Add,
    Remove,
    Change,
    Replace,
    /// Context lines (hidden counts): no symbol.
    Keep,
}

impl Symbol {
    fn width(self) -> usize {
        match self {
            Symbol::Replace => 3,
            _ => 1,
        }
    }
}

struct Out {
    text: String,
    color: bool,
}

impl Out {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("{code}{s}{RESET}")
        } else {
            s.to_string()
        }
    }

    fn symbol(&self, symbol: Symbol) -> String {
        match symbol {
            Symbol::Add => self.paint(GREEN, "+"),
            Symbol::Remove => self.paint(RED, "-"),
            Symbol::Change => self.paint(YELLOW, "~"),
            Symbol::Replace => format!("{}/{}", self.paint(RED, "-"), self.paint(GREEN, "+")),
            Symbol::Keep => " ".to_string(),
        }
    }

    /// `indent` spaces, the symbol, a space, the text.
    fn line(&mut self, indent: usize, symbol: Symbol, text: &str) {
        let symbol = self.symbol(symbol);
        let _ = writeln!(self.text, "{:indent$}{symbol} {text}", "");
    }

    /// A closing bracket, under the text of the line that opened it.
    fn close(&mut self, indent: usize, text: &str) {
        let _ = writeln!(self.text, "{:width$}{text}", "", width = indent + 2);
    }

    fn forces_note(&self) -> String {
        format!(" {}", self.paint(RED, "# forces replacement"))
    }
}

fn render_action(out: &mut Out, action: &Action) {
    let in_place = in_place_note(action);
    let (symbol, verb) = match action.kind {
        ActionKind::Create => (Symbol::Add, "will be created"),
        ActionKind::Update if !in_place.is_empty() => (Symbol::Change, in_place.as_str()),
        ActionKind::Update => (Symbol::Change, "will be updated in place"),
        ActionKind::Replace => (Symbol::Replace, "must be replaced"),
        ActionKind::Delete => (Symbol::Remove, "will be destroyed"),
    };
    let why = reason_note(action)
        .map(|note| format!(" ({note})"))
        .unwrap_or_default();
    let addr = out.paint(BOLD, &action.addr.to_string());
    let _ = writeln!(out.text, "  # {addr} {verb}{why}");

    let id = match (action.kind, &action.id) {
        (ActionKind::Replace | ActionKind::Delete, Some(id)) => format!(" (id={id})"),
        _ => String::new(),
    };
    out.line(3 - symbol.width(), symbol, &format!("{}{id}", action.addr));

    let entries: Vec<Entry> = action
        .changes
        .iter()
        .map(|c| Entry {
            key: &c.attr,
            before: c.before.as_ref(),
            after: c.after.as_ref(),
            forces_replacement: c.forces_replacement,
        })
        .collect();
    render_entries(out, ATTR_INDENT, &entries);
    if matches!(action.kind, ActionKind::Update | ActionKind::Replace) {
        hidden(out, ATTR_INDENT, action.unchanged_attrs, "attribute");
    }
    for (attr, value) in &action.shown {
        let _ = writeln!(out.text, "{:ATTR_INDENT$}# {attr} = {value}", "");
    }
    for deferred in &action.deferred {
        let (attr, until) = (&deferred.attr, &deferred.until);
        let _ = writeln!(
            out.text,
            "{:ATTR_INDENT$}# {attr} naming {until}: set once it is created (they close a cycle)",
            ""
        );
    }
    out.text.push('\n');
}

/// "will be resized in place (flavor m1.small → m1.medium)": an update whose changes include
/// an attribute the kind names the change of (`Attr::in_place_as`).
fn in_place_note(action: &Action) -> String {
    let text = |value: Option<&Value>| match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "(none)".to_string(),
    };
    let notes: Vec<String> = action
        .changes
        .iter()
        .filter_map(|change| {
            let attr = schema::attribute(action.addr.kind, &change.attr)?;
            if matches!(attr.ty, schema::AttrType::Grants) {
                let words = crate::resources::tenant_grants::describe(
                    change.before.as_ref(),
                    change.after.as_ref(),
                );
                return Some(format!("updated in place ({})", words.join(", ")));
            }
            let what = attr.in_place_as?;
            Some(format!(
                "{what} ({} {} → {})",
                change.attr,
                text(change.before.as_ref()),
                text(change.after.as_ref())
            ))
        })
        .collect();
    if notes.is_empty() {
        return String::new();
    }
    format!("will be {}", notes.join(", "))
}

fn reason_note(action: &Action) -> Option<String> {
    match &action.reason {
        Reason::New | Reason::AttributesChanged { .. } => None,
        Reason::AttributesForceReplacement { attrs } => Some(format!(
            "{} {}",
            attrs.join(", "),
            if attrs.len() == 1 {
                "forces replacement"
            } else {
                "force replacement"
            }
        )),
        Reason::DependencyReplaced { dependency } => Some(format!("{dependency} is replaced")),
        Reason::DependencyReplacedRelink { dependency } => {
            // The schema names the link: a router's link to a subnet is an interface.
            let link = schema::attributes(action.addr.kind)
                .iter()
                .filter_map(|a| a.reference())
                .find(|r| r.kind == dependency.kind)
                .map_or("link", |r| r.link);
            Some(format!("{link} to {dependency} is remade"))
        }
        Reason::DeletedWithLink { by, attr, why } => Some(format!(
            "{by} lets go of it (`{attr}`) and {why}: it is made again"
        )),
        Reason::RemovedFromSpec => Some("removed from the spec".to_string()),
        Reason::DeletedOutsideStackform => Some("deleted outside stackform".to_string()),
        Reason::Settling { status, .. } => Some(format!(
            "in {status}: apply first waits for that work to end"
        )),
        Reason::FailedStatus {
            status,
            detail: None,
        } => Some(format!("in status {status} in the cloud: replaced")),
        Reason::FailedStatus {
            status,
            detail: Some(detail),
        } => Some(format!(
            "in status {status} in the cloud ({detail}): replaced"
        )),
    }
}

/// One `key = value` line (or block) of a diff.
struct Entry<'a> {
    key: &'a str,
    before: Option<&'a Value>,
    after: Option<&'a Value>,
    forces_replacement: bool,
}

/// Entries of one level, their `=` aligned.
fn render_entries(out: &mut Out, indent: usize, entries: &[Entry]) {
    let width = entries
        .iter()
        .map(|e| e.key.chars().count())
        .max()
        .unwrap_or(0);
    for e in entries {
        render_entry(out, indent, &format!("{:width$}", e.key), e);
    }
}

fn render_entry(out: &mut Out, indent: usize, label: &str, e: &Entry) {
    let forces = if e.forces_replacement {
        out.forces_note()
    } else {
        String::new()
    };
    if is_sensitive(e.key) {
        let (symbol, value) = match (e.before, e.after) {
            (None, Some(_)) => (Symbol::Add, "(sensitive)"),
            (Some(_), None) => (Symbol::Remove, "(sensitive) -> null"),
            _ => (Symbol::Change, "(sensitive)"),
        };
        out.line(indent, symbol, &format!("{label} = {value}{forces}"));
        return;
    }
    match (e.before, e.after) {
        // Same name, but it names a replaced resource: the id behind it changes.
        (Some(before), Some(after)) if before == after => out.line(
            indent,
            Symbol::Change,
            &format!("{label} = {after} -> (new id){forces}"),
        ),
        (Some(Value::Object(before)), Some(Value::Object(after))) => {
            out.line(indent, Symbol::Change, &format!("{label} = {{{forces}"));
            object_diff(out, indent + NEST, before, after);
            out.close(indent, "}");
        }
        (Some(Value::Array(before)), Some(Value::Array(after))) => {
            out.line(indent, Symbol::Change, &format!("{label} = [{forces}"));
            list_diff(out, indent + NEST, before, after);
            out.close(indent, "]");
        }
        (None, Some(after)) if is_nonempty_collection(after) => {
            let (open, close) = brackets(after);
            out.line(indent, Symbol::Add, &format!("{label} = {open}{forces}"));
            whole(out, indent + NEST, Symbol::Add, after);
            out.close(indent, close);
        }
        (Some(before), None) if is_nonempty_collection(before) => {
            let (open, close) = brackets(before);
            out.line(indent, Symbol::Remove, &format!("{label} = {open}{forces}"));
            whole(out, indent + NEST, Symbol::Remove, before);
            out.close(indent, &format!("{close} -> null"));
        }
        (None, Some(after)) => out.line(indent, Symbol::Add, &format!("{label} = {after}{forces}")),
        (Some(before), None) => out.line(
            indent,
            Symbol::Remove,
            &format!("{label} = {before} -> null{forces}"),
        ),
        (Some(before), Some(after)) => out.line(
            indent,
            Symbol::Change,
            &format!("{label} = {before} -> {after}{forces}"),
        ),
        (None, None) => {}
    }
}

fn is_nonempty_collection(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn brackets(v: &Value) -> (&'static str, &'static str) {
    if v.is_object() {
        ("{", "}")
    } else {
        ("[", "]")
    }
}

/// Changed keys of two objects; unchanged keys are only counted.
fn object_diff(
    out: &mut Out,
    indent: usize,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut unchanged = 0;
    let mut entries = Vec::new();
    for key in keys {
        let (b, a) = (before.get(key), after.get(key));
        if b == a {
            unchanged += 1;
        } else {
            entries.push(Entry {
                key,
                before: b,
                after: a,
                forces_replacement: false,
            });
        }
    }
    render_entries(out, indent, &entries);
    hidden(out, indent, unchanged, "attribute");
}

/// Element-wise diff of two lists with `similar`, each element compared as a whole: a changed
/// rule reads as one rule removed and one added, which is what the API does with it too.
fn list_diff(out: &mut Out, indent: usize, before: &[Value], after: &[Value]) {
    let ops = capture_diff_slices_by_key(Algorithm::Myers, before, after, |v| v.to_string());
    for op in ops {
        let (tag, old, new) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => hidden(out, indent, old.len(), "element"),
            DiffTag::Delete => elements(out, indent, Symbol::Remove, &before[old]),
            DiffTag::Insert => elements(out, indent, Symbol::Add, &after[new]),
            DiffTag::Replace => {
                elements(out, indent, Symbol::Remove, &before[old]);
                elements(out, indent, Symbol::Add, &after[new]);
            }
        }
    }
}

fn elements(out: &mut Out, indent: usize, symbol: Symbol, items: &[Value]) {
    for item in items {
        element(out, indent, symbol, item);
    }
}

fn element(out: &mut Out, indent: usize, symbol: Symbol, item: &Value) {
    if is_nonempty_collection(item) {
        let (open, close) = brackets(item);
        out.line(indent, symbol, open);
        whole(out, indent + NEST, symbol, item);
        out.close(indent, &format!("{close},"));
    } else {
        out.line(indent, symbol, &format!("{item},"));
    }
}

/// Every part of a value that is added or removed as a whole. The symbol on its opening line
/// already says so, so inner lines carry neither `-> null` nor fields that are null anyway.
fn whole(out: &mut Out, indent: usize, symbol: Symbol, value: &Value) {
    match value {
        Value::Object(map) => {
            let fields: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| !v.is_null()).collect();
            let width = fields
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            for (key, v) in fields {
                let label = format!("{key:width$}");
                if is_sensitive(key) {
                    out.line(indent, symbol, &format!("{label} = (sensitive)"));
                } else if is_nonempty_collection(v) {
                    let (open, close) = brackets(v);
                    out.line(indent, symbol, &format!("{label} = {open}"));
                    whole(out, indent + NEST, symbol, v);
                    out.close(indent, close);
                } else {
                    out.line(indent, symbol, &format!("{label} = {v}"));
                }
            }
        }
        Value::Array(items) => elements(out, indent, symbol, items),
        scalar => out.line(indent, symbol, &scalar.to_string()),
    }
}

fn hidden(out: &mut Out, indent: usize, count: usize, what: &str) {
    if count > 0 {
        let plural = if count == 1 { "" } else { "s" };
        out.line(
            indent,
            Symbol::Keep,
            &format!("# ({count} unchanged {what}{plural} hidden)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::AttrChange;
    use crate::plan::fixtures::addr;

    fn update(changes: Vec<AttrChange>, unchanged_attrs: usize) -> Plan {
        Plan {
            adoptions: Vec::new(),
            actions: vec![Action {
                addr: addr("security_group.web"),
                kind: ActionKind::Update,
                id: Some("sg-1".into()),
                changes,
                unchanged_attrs,
                reason: Reason::AttributesChanged {
                    attrs: vec!["rules".into()],
                },
                shown: Vec::new(),
                deferred: Vec::new(),
            }],
        }
    }

    fn change(attr: &str, before: Value, after: Value) -> AttrChange {
        AttrChange {
            attr: attr.into(),
            before: Some(before),
            after: Some(after),
            forces_replacement: false,
        }
    }

    #[test]
    fn an_empty_plan_is_one_sentence() {
        assert_eq!(
            plan(&Plan::default(), false),
            "No changes. The cloud matches the spec."
        );
        assert_eq!(
            plan(&Plan::default(), true),
            "\x1b[1;32mNo changes.\x1b[0m The cloud matches the spec."
        );
    }

    /// Issue 7: a resource found by its tag alone is named before "No changes", and a
    /// change to a server still building says that apply waits first.
    #[test]
    fn adoptions_and_waits_are_said() {
        let adopted = crate::plan::Adoption {
            addr: addr("instance.web-1"),
            id: "srv-1".into(),
        };
        let mut p = Plan {
            adoptions: vec![adopted],
            ..Plan::default()
        };
        assert_eq!(
            plan(&p, false),
            "  # instance.web-1 will be adopted: found by its ownership tag, id srv-1 (not in \
             the state yet)\n\nNo changes. The cloud matches the spec."
        );
        p.actions = update(
            vec![change("power_state", json!("build"), json!("running"))],
            0,
        )
        .actions;
        p.actions[0].addr = addr("instance.web-1");
        p.actions[0].reason = Reason::Settling {
            status: "BUILD".into(),
            attrs: vec!["power_state".into()],
        };
        assert!(
            plan(&p, false).contains(
                "# instance.web-1 will be updated in place (in BUILD: apply first waits for \
                 that work to end)"
            ),
            "{}",
            plan(&p, false)
        );
    }

    #[test]
    fn scalar_lists_show_added_and_removed_elements_and_count_the_rest() {
        let p = update(
            vec![change(
                "dns_nameservers",
                json!(["1.1.1.1", "8.8.8.8", "9.9.9.9"]),
                json!(["1.1.1.1", "8.8.4.4", "9.9.9.9"]),
            )],
            2,
        );
        assert_eq!(
            plan(&p, false),
            "stackform will perform the following actions:

  # security_group.web will be updated in place
  ~ security_group.web
      ~ dns_nameservers = [
            # (1 unchanged element hidden)
          - \"8.8.8.8\",
          + \"8.8.4.4\",
            # (1 unchanged element hidden)
        ]
        # (2 unchanged attributes hidden)

Plan: 0 to add, 1 to change, 0 to destroy."
        );
    }

    #[test]
    fn sensitive_attributes_never_show_their_value() {
        let p = update(
            vec![
                change("admin_password", json!("hunter2"), json!("s3cret")),
                change("api_token", json!("t0k"), json!("t1k")),
            ],
            0,
        );
        let text = plan(&p, false);
        assert!(
            text.contains("      ~ admin_password = (sensitive)\n"),
            "{text}"
        );
        assert!(
            text.contains("      ~ api_token      = (sensitive)\n"),
            "{text}"
        );
        for secret in ["hunter2", "s3cret", "t0k", "t1k"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn colour_codes_only_when_asked() {
        let p = update(vec![change("description", json!("a"), json!("b"))], 0);
        assert!(!plan(&p, false).contains('\x1b'));
        let coloured = plan(&p, true);
        assert!(coloured.contains("      \x1b[33m~\x1b[0m description = \"a\" -> \"b\"\n"));
        assert!(coloured.contains("\x1b[1mPlan:\x1b[0m 0 to add"));
    }

    #[test]
    fn progress_lines() {
        let net = addr("network.demo-net");
        assert_eq!(
            step_started(&net, ActionKind::Create),
            "network.demo-net: Creating..."
        );
        assert_eq!(
            step_started(&net, ActionKind::Update),
            "network.demo-net: Modifying..."
        );
        assert_eq!(
            step_started(&net, ActionKind::Replace),
            "network.demo-net: Replacing..."
        );
        assert_eq!(
            step_started(&net, ActionKind::Delete),
            "network.demo-net: Destroying..."
        );
        assert_eq!(
            step_done(
                &net,
                ActionKind::Create,
                Some("n-1"),
                Duration::from_millis(1500)
            ),
            "network.demo-net: Creation complete after 1s [id=n-1]"
        );
        assert_eq!(
            step_done(&net, ActionKind::Delete, None, Duration::from_secs(125)),
            "network.demo-net: Destruction complete after 2m5s"
        );
        assert_eq!(
            step_done(&net, ActionKind::Update, Some("n-1"), Duration::ZERO),
            "network.demo-net: Modifications complete after 0s [id=n-1]"
        );
        assert_eq!(
            step_failed(&net, ActionKind::Replace, "409 Conflict: in use"),
            "network.demo-net: Replacement failed: 409 Conflict: in use"
        );
        assert_eq!(
            step_skipped(&addr("instance.web-1"), &addr("subnet.demo-subnet")),
            "instance.web-1: Skipped (subnet.demo-subnet failed)"
        );
        assert_eq!(
            apply_summary(6, 0, 0, 0, 0),
            "Apply complete! Resources: 6 added, 0 changed, 0 destroyed."
        );
        assert_eq!(
            apply_summary(3, 1, 0, 1, 2),
            "Apply failed: 1 failed, 2 skipped. Resources: 3 added, 1 changed, 0 destroyed."
        );
    }
}
