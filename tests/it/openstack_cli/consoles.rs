//! `openstack console url show` (remote-consoles at the microversion the CLI negotiates) and
//! `openstack console log show` (os-getConsoleOutput) against an ACTIVE `server`.

use super::Osc;

pub(super) fn consoles(osc: &Osc, server: &str) {
    let base_url = osc.sim.auth_url().trim_end_matches("/identity/v3");
    let console = osc.json(&["console", "url", "show", server]);
    assert_eq!(
        (&console["protocol"], &console["type"]),
        (&"vnc".into(), &"novnc".into()),
        "{console}"
    );
    let url = console["url"].as_str().unwrap_or_default();
    let token = url
        .strip_prefix(&format!("{base_url}/vnc_auto.html?path=%3Ftoken%3D"))
        .unwrap_or_default();
    assert!(uuid::Uuid::parse_str(token).is_ok(), "{console}");
    let (ok, _, stderr) = osc.run(&["console", "url", "show", "--spice", server]);
    assert!(
        !ok && stderr.contains("Unavailable console type spice-html5."),
        "spice is not enabled: {stderr}"
    );
    let log = osc.ok(&["console", "log", "show", server]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 6, "{log}");
    assert_eq!(lines[3], format!("cloud-init: hostname set to {server}"));
    let tail = osc.ok(&["console", "log", "show", "--lines", "2", server]);
    assert_eq!(tail, format!("{}\n", lines[4..].join("\n")));
}
