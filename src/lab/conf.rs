//! Text of the lab's BIRD configs and of the platform-tui config the lab writes.

use std::fmt::Write as _;

use serde::Serialize;
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

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The config file the lab writes, as the types it is written from (`toml` does the
/// quoting). Keys are the config's own; see `config.example.toml`.
#[derive(Serialize)]
struct LabConfig {
    console: LabConsole,
    anycast: LabAnycast,
    provision: LabProvision,
    deploy: LabDeploy,
    metro: Vec<LabMetroConfig>,
}

/// `[deploy]` for the lab's Nomad endpoints: the app job they run, raw_exec, a short
/// drain and short health times (`nomad_jobs::lab_deploy`).
#[derive(Serialize)]
struct LabDeploy {
    job: String,
    driver: String,
    drain_ms: u64,
    verify_deadline_ms: u64,
    update: LabUpdate,
}

#[derive(Serialize)]
struct LabUpdate {
    max_parallel: u32,
    min_healthy_time_ms: u64,
    healthy_deadline_ms: u64,
    progress_deadline_ms: u64,
    auto_revert: bool,
}

fn lab_deploy() -> LabDeploy {
    let d = super::nomad_jobs::lab_deploy();
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    LabDeploy {
        job: d.job.unwrap_or_default(),
        driver: d.driver,
        drain_ms: ms(d.drain),
        verify_deadline_ms: ms(d.verify_deadline),
        update: LabUpdate {
            max_parallel: d.update.max_parallel,
            min_healthy_time_ms: ms(d.update.min_healthy_time),
            healthy_deadline_ms: ms(d.update.healthy_deadline),
            progress_deadline_ms: ms(d.update.progress_deadline),
            auto_revert: d.update.auto_revert,
        },
    }
}

/// The lab's installer (`installer/`): a real terraform module that adds and removes the
/// lab's metros (`lab metro add|remove`).
#[derive(Serialize)]
struct LabProvision {
    dir: String,
}

#[derive(Serialize)]
struct LabConsole {
    state_dir: String,
}

#[derive(Serialize)]
struct LabAnycast {
    prefix: String,
    url: String,
    observer: LabObserver,
}

#[derive(Serialize)]
struct LabObserver {
    bird_socket: String,
}

#[derive(Serialize)]
struct LabMetroConfig {
    name: String,
    display_name: String,
    bird_socket: String,
    origin_protocols: Vec<String>,
    export_protocol: String,
    observer_protocol: String,
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    withdraw: Option<LabWithdraw>,
    nomad: LabNomad,
}

#[derive(Serialize)]
struct LabWithdraw {
    method: String,
    withdraw: String,
    restore: String,
}

#[derive(Serialize)]
struct LabNomad {
    address: String,
}

/// The ordinary platform-tui config the lab writes next to its daemons.
pub fn console_toml(state: &LabState, bird_bin: &Path) -> String {
    let d = state.dir.display().to_string();
    let config = LabConfig {
        console: LabConsole {
            state_dir: state
                .state_dir
                .as_ref()
                .map_or_else(|| "state".to_string(), |p| p.display().to_string()),
        },
        anycast: LabAnycast {
            prefix: state.prefix.clone(),
            url: state.anycast_url(),
            observer: LabObserver {
                bird_socket: "run/upstream.ctl".into(),
            },
        },
        provision: LabProvision {
            dir: super::installer::DIR.into(),
        },
        deploy: lab_deploy(),
        metro: state
            .metros
            .iter()
            .map(|m| LabMetroConfig {
                name: m.code.clone(),
                display_name: m.display_name.clone(),
                bird_socket: format!("run/{}.ctl", m.code),
                origin_protocols: vec!["anycast".into()],
                export_protocol: "upstream".into(),
                observer_protocol: observer_protocol(&m.code),
                address: state.app_addr(m).to_string(),
                // The `command` method stops and starts the metro's bird, as
                // `systemctl stop bird` would.
                withdraw: (state.method == super::LabMethod::Command).then(|| LabWithdraw {
                    method: "command".into(),
                    withdraw: format!(
                        "kill -TERM \"$(cat {})\"",
                        sh_quote(&format!("{d}/run/{}.pid", m.code))
                    ),
                    restore: format!(
                        "{} -c {} -s {} -P {}",
                        sh_quote(&bird_bin.display().to_string()),
                        sh_quote(&format!("{d}/{}.conf", m.code)),
                        sh_quote(&format!("{d}/run/{}.ctl", m.code)),
                        sh_quote(&format!("{d}/run/{}.pid", m.code)),
                    ),
                }),
                nomad: LabNomad {
                    address: format!("http://{}", state.nomad_addr(m)),
                },
            })
            .collect(),
    };
    let body = toml::to_string(&config).unwrap_or_default();
    format!(
        "# Written by `platform-tui lab up`: an ordinary platform-tui config for this lab.\n\
         # Paths are relative to this file.\n\
         # [provision] is the lab's installer: a terraform module whose `metros` variable\n\
         # adds and removes the lab's metros (`platform-tui provision apply --var ...`).\n\
         # [deploy] rolls an app out to the lab's Nomad endpoints (`platform-tui deploy\n\
         # registry.example/hello:v2`); a ref tagged `broken` fails its health check.\n\n{body}"
    )
}
