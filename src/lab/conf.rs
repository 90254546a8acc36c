//! Text of the lab's BIRD configs and of the platform-tui config the lab writes.

use std::fmt::Write as _;
use std::path::Path;

use super::{LabMetro, LabState};

/// A path as a BIRD string literal. BIRD's strings have no escapes, so a path holding a
/// double quote, a newline or another control character cannot be written at all.
pub fn bird_str(p: &Path) -> Result<String, String> {
    let text = p.to_str().ok_or_else(|| {
        format!(
            "{} is not UTF-8, which BIRD configs cannot hold",
            p.display()
        )
    })?;
    if let Some(c) = text.chars().find(|c| *c == '"' || c.is_control()) {
        return Err(format!(
            "{} holds {}, which BIRD configs cannot hold: choose another --dir",
            crate::domain::text::visible(text),
            crate::domain::text::visible(&c.to_string())
        ));
    }
    Ok(format!("\"{text}\""))
}

/// BIRD config for one metro: a static `anycast` protocol originates the prefix and an
/// eBGP session exports it to the upstream. No kernel protocol, so it runs unprivileged.
pub fn metro_bird(state: &LabState, m: &LabMetro, log: &Path) -> Result<String, String> {
    Ok(format!(
        r#"# platform-tui lab: metro {code} ({name})
router id {addr};
log {log} all;
timeformat protocol "%s";
timeformat route "%s";

protocol device {{ }}

protocol static anycast {{
  ipv4;
  route {prefix} blackhole;
}}

protocol bgp upstream {{
  description "lab upstream";
  local {addr} port {port} as {asn};
  neighbor {up} port {port} as {up_asn};
{session}  ipv4 {{ import none; export where proto = "anycast"; }};
}}
"#,
        session = SESSION,
        code = m.code,
        name = m.display_name,
        addr = m.addr,
        log = bird_str(log)?,
        prefix = state.prefix,
        port = state.port,
        asn = m.asn,
        up = state.upstream_addr(),
        up_asn = UPSTREAM_ASN,
    ))
}

pub const UPSTREAM_ASN: u32 = 65000;

/// Session options both ends share: loopback needs multihop and one address per daemon;
/// short timers and quick retries let a restarted metro come back in about a second.
const SESSION: &str = "  strict bind yes;
  multihop 1;
  hold time 9;
  keepalive time 3;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 5;
";

/// The upstream's BGP protocol toward a metro (the console's `observer_protocol`).
pub fn observer_protocol(code: &str) -> String {
    format!("metro_{code}")
}

/// The upstream peers with every metro and prefers the one nearest the viewer through
/// LOCAL_PREF, so withdrawing the nearest moves the best path to the next one.
pub fn upstream_bird(state: &LabState, log: &Path) -> Result<String, String> {
    let mut s = format!(
        r#"# platform-tui lab: upstream (the viewer's network)
router id {addr};
log {log} all;
timeformat protocol "%s";
timeformat route "%s";

protocol device {{ }}
"#,
        addr = state.upstream_addr(),
        log = bird_str(log)?,
    );
    for m in &state.metros {
        let _ = write!(
            s,
            r#"
protocol bgp {proto} {{
  description "{name}";
  local {up} port {port} as {up_asn};
  neighbor {addr} port {port} as {asn};
{session}  ipv4 {{ import filter {{ bgp_local_pref = {pref}; accept; }}; export none; }};
}}
"#,
            session = SESSION,
            proto = observer_protocol(&m.code),
            name = m.display_name,
            up = state.upstream_addr(),
            port = state.port,
            up_asn = UPSTREAM_ASN,
            addr = m.addr,
            asn = m.asn,
            pref = local_pref(m.rtt_ms),
        );
    }
    Ok(s)
}

/// Nearer metros get a higher LOCAL_PREF.
pub fn local_pref(rtt_ms: u32) -> u32 {
    10_000u32.saturating_sub(rtt_ms)
}

fn toml_str(s: &str) -> String {
    // TOML basic strings: escape backslash and quote; lab paths have no control chars.
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The ordinary platform-tui config the lab writes next to its daemons.
pub fn console_toml(state: &LabState, bird_bin: &Path) -> String {
    let state_dir = state
        .state_dir
        .as_ref()
        .map(|d| toml_str(&d.display().to_string()))
        .unwrap_or_else(|| "\"state\"".to_string());
    let mut s = format!(
        "# Written by `platform-tui lab up`: an ordinary platform-tui config for this lab.\n\
         # Paths are relative to this file.\n\n[console]\nstate_dir = {state_dir}\n\n",
    );
    let _ = write!(
        s,
        "[anycast]\nprefix = {}\nurl = {}\n\n[anycast.observer]\nbird_socket = \"run/upstream.ctl\"\n",
        toml_str(&state.prefix),
        toml_str(&state.anycast_url())
    );
    // The lab's installer (`installer/`). Written as a comment until the config layer
    // takes a `[provision]` table: the config rejects unknown tables.
    s.push_str(
        "\n# Provisioning: the lab's installer (a terraform module; `lab metro add|remove`).\n\
         # [provision]\n# dir = \"installer\"\n",
    );
    for m in &state.metros {
        let _ = write!(
            s,
            "\n[[metro]]\nname = {code}\ndisplay_name = {name}\nbird_socket = \"run/{c}.ctl\"\n\
             origin_protocols = [\"anycast\"]\nexport_protocol = \"upstream\"\n\
             observer_protocol = {observer}\naddress = \"{addr}\"\n\n\
             [metro.nomad]\naddress = \"http://{nomad}\"\n",
            code = toml_str(m.code.as_str()),
            name = toml_str(&m.display_name),
            c = m.code,
            observer = toml_str(&observer_protocol(&m.code)),
            addr = state.app_addr(m),
            nomad = state.nomad_addr(m),
        );
        if state.method == super::LabMethod::Command {
            let d = state.dir.display().to_string();
            let withdraw = format!(
                "kill -TERM \"$(cat {})\"",
                sh_quote(&format!("{d}/run/{}.pid", m.code))
            );
            let restore = format!(
                "{} -c {} -s {} -P {}",
                sh_quote(&bird_bin.display().to_string()),
                sh_quote(&format!("{d}/{}.conf", m.code)),
                sh_quote(&format!("{d}/run/{}.ctl", m.code)),
                sh_quote(&format!("{d}/run/{}.pid", m.code)),
            );
            let _ = write!(
                s,
                "\n[metro.withdraw]\nmethod = \"command\"\nwithdraw = {}\nrestore = {}\n",
                toml_str(&withdraw),
                toml_str(&restore)
            );
        }
    }
    s
}
