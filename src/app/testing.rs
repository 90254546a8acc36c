//! Builders shared by the state machine's and the views' tests: a two-metro config and
//! snapshots at fixed times, so nothing depends on the clock or a daemon.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::State;
use crate::config::{self, Config};
use crate::domain::{BgpSession, MetroStatus, ObservedRoute, ObserverView, RouterStatus, Snapshot};

pub const T0: u64 = 1_795_885_800;

pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

pub fn config(metros: &[(&str, &str)], read_only: bool) -> Config {
    let mut text = format!(
        "[console]\nread_only = {read_only}\n[anycast]\nprefix = \"198.18.0.10/32\"\n[anycast.observer]\nbird_socket = \"run/upstream.ctl\"\n"
    );
    for (name, display) in metros {
        text.push_str(&format!(
            "[[metro]]\nname = \"{name}\"\ndisplay_name = \"{display}\"\nbird_socket = \"run/{name}.ctl\"\nexport_protocol = \"upstream\"\nobserver_protocol = \"metro_{name}\"\n"
        ));
    }
    config::parse(&text, Path::new("/lab/platform-tui.toml")).expect("test config parses")
}

pub fn state(read_only: bool) -> State {
    let cfg = config(&[("am", "Amsterdam"), ("da", "Dallas")], read_only);
    State::new(
        &cfg,
        BTreeMap::new(),
        "lab /lab/platform-tui.toml".into(),
        at(0),
    )
}

pub fn router(advertised: bool) -> RouterStatus {
    RouterStatus {
        bgp: Some(BgpSession {
            protocol: "upstream".into(),
            state: "up".into(),
            session: "Established".into(),
            since: T0.to_string(),
            info: String::new(),
        }),
        origins: vec![(
            "anycast".into(),
            if advertised { "up" } else { "down" }.into(),
        )],
        advertised,
        exported: Some(u64::from(advertised)),
    }
}

/// A snapshot: each metro's router (or error), and the observer's routes in preference
/// order (the first is best) with LOCAL_PREF by distance.
pub fn snapshot(secs: u64, metros: &[(&str, Result<bool, &str>)]) -> Snapshot {
    let prefs = |m: &str| match m {
        "am" => 9930,
        "da" => 9700,
        _ => 9000,
    };
    let mut routes: Vec<ObservedRoute> = metros
        .iter()
        .filter(|(_, r)| matches!(r, Ok(true)))
        .map(|(m, _)| ObservedRoute {
            metro: Some(m.to_string()),
            protocol: format!("metro_{m}"),
            best: false,
            local_pref: Some(prefs(m)),
        })
        .collect();
    routes.sort_by_key(|r| std::cmp::Reverse(r.local_pref));
    if let Some(first) = routes.first_mut() {
        first.best = true;
    }
    Snapshot {
        taken: at(secs),
        metros: metros
            .iter()
            .map(|(m, r)| MetroStatus {
                name: m.to_string(),
                router: r.map(router).map_err(str::to_string),
            })
            .collect(),
        observer: Some(Ok(ObserverView { routes })),
    }
}

pub fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}
