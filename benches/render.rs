//! Render time of every view with a large world: 50 metros, 10 000 allocations, 10
//! minutes of probe history per target (DESIGN.md's quality bar: under 1 ms a frame);
//! and of the Nomad pane at the Nomad scale goal, 3 metros x 110 000 allocations
//! (under 2 ms), with what a snapshot of one metro costs the state machine.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use platform_tui::app::{update, Msg, State};
use platform_tui::config::keymap::Command;
use platform_tui::domain::{
    BgpSession, MetroStatus, ObservedRoute, ObserverView, RouterStatus, Snapshot,
};
use platform_tui::probe::ProbeSample;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const METROS: usize = 50;
const ALLOCS: usize = 10_000;
const HISTORY_SECS: u64 = 600;

fn key_for(s: &State, action: Command) -> crossterm::event::KeyEvent {
    let (_, keys) = s
        .keymap
        .bindings()
        .into_iter()
        .find(|(a, _)| *a == action)
        .expect("bound");
    let spec = platform_tui::config::keymap::parse_key(&keys[0]).expect("key");
    crossterm::event::KeyEvent::new(spec.code, spec.modifiers)
}

fn world() -> State {
    let mut text = String::from(
        "[anycast]\nprefix = \"198.18.0.10/32\"\nurl = \"http://127.0.0.2:8080/\"\n[anycast.observer]\nbird_socket = \"up.ctl\"\n",
    );
    for i in 0..METROS {
        text.push_str(&format!(
            "[[metro]]\nname = \"m{i}\"\ndisplay_name = \"Metro {i}\"\nbird_socket = \"m{i}.ctl\"\nexport_protocol = \"upstream\"\nobserver_protocol = \"metro_m{i}\"\naddress = \"127.0.1.{}:8080\"\n[metro.nomad]\naddress = \"http://127.0.1.{}:4646\"\n",
            i + 1,
            i + 1
        ));
    }
    let cfg = platform_tui::config::parse(&text, Path::new("/bench/pt.toml")).expect("config");
    let t0 = UNIX_EPOCH + Duration::from_secs(1_795_885_800);
    let mut s = State::new(&cfg, BTreeMap::new(), "bench".into(), t0);
    let snap = |round: u64| Snapshot {
        taken: t0 + Duration::from_secs(round),
        metros: (0..METROS)
            .map(|i| MetroStatus {
                name: format!("m{i}"),
                router: if (i as u64 + round).is_multiple_of(7) {
                    Err("router unreachable: connection refused".into())
                } else {
                    Ok(RouterStatus {
                        bgp: Some(BgpSession {
                            protocol: "upstream".into(),
                            state: "up".into(),
                            session: "Established".into(),
                            since: "1795885800".into(),
                            since_at: Some(t0),
                            info: String::new(),
                        }),
                        origins: vec![("anycast".into(), "up".into())],
                        advertised: Some(!(i as u64 + round).is_multiple_of(5)),
                        exported: Some(1),
                        problems: Vec::new(),
                    })
                },
            })
            .collect(),
        observer: Some(Ok(ObserverView {
            routes: (0..METROS)
                .map(|i| ObservedRoute {
                    metro: Some(format!("m{i}")),
                    protocol: format!("metro_m{i}"),
                    best: i == (round as usize % METROS),
                    local_pref: Some(9000 + i as u32),
                })
                .collect(),
            ..Default::default()
        })),
        journal: None,
    };
    for round in 0..HISTORY_SECS {
        if round % 30 == 0 {
            update(&mut s, Msg::Snapshot(snap(round)));
        }
        let targets =
            std::iter::once("anycast".to_string()).chain((0..METROS).map(|i| format!("m{i}")));
        for (k, target) in targets.enumerate() {
            let lost = (round + k as u64).is_multiple_of(23);
            let ms = 20.0 + (k as f64) * 9.0 + (round % 7) as f64;
            let sample = ProbeSample {
                seq: round,
                at: t0 + Duration::from_secs(round),
                connect: Some(Duration::from_micros(150)),
                ttfb: (!lost).then(|| Duration::from_secs_f64(ms / 1000.0)),
                total: (!lost).then(|| Duration::from_secs_f64(ms / 1000.0)),
                status: (!lost).then_some(200),
                peer: None,
                served_by: (!lost).then(|| format!("m{}", round as usize / 60 % METROS)),
                error: lost.then_some(platform_tui::probe::ErrorKind::Timeout),
                reconnected: false,
            };
            update(&mut s, Msg::Probe { target, sample });
        }
    }
    for i in 0..METROS {
        update(
            &mut s,
            Msg::Nomad {
                metro: format!("m{i}"),
                snapshot: nomad_snapshot(i, ALLOCS / METROS),
            },
        );
    }
    update(&mut s, Msg::Tick(t0 + Duration::from_secs(HISTORY_SECS)));
    s
}

/// Metro `i`'s Nomad with `per` allocations in 40 jobs, one in 31 failed.
fn nomad_snapshot(i: usize, per: usize) -> platform_tui::nomad::NomadSnapshot {
    let allocs: Vec<serde_json::Value> = (0..per)
        .map(|j| {
            serde_json::json!({
                "ID": format!("{:08x}-0000-4000-8000-{:012x}", i * per + j, j),
                "Name": format!("job{}.web[{}]", j % 40, j), "JobID": format!("job{}", j % 40),
                "TaskGroup": "web", "NodeName": format!("node-m{i}"), "DesiredStatus": "run",
                "ClientStatus": if j % 31 == 0 { "failed" } else { "running" },
                "CreateTime": 1_795_885_000_000_000_000i64 + (j as i64) * 1_000_000_000
            })
        })
        .collect();
    let max = platform_tui::nomad::DEFAULT_MAX_BODY;
    let allocs = serde_json::to_vec(&allocs).expect("allocs");
    let jobs = serde_json::to_vec(&serde_json::json!((0..40)
        .map(
            |j| serde_json::json!({"ID": format!("job{j}"), "Type": "service", "Status": "running"})
        )
        .collect::<Vec<_>>()))
    .expect("jobs");
    platform_tui::nomad::NomadSnapshot {
        leader: platform_tui::nomad::Piece::ok(Some("x:4647".into())),
        allocs: platform_tui::nomad::Piece::ok(std::sync::Arc::new(
            platform_tui::nomad::decode::alloc_list(&allocs, max).expect("allocs"),
        )),
        jobs: platform_tui::nomad::Piece::ok(std::sync::Arc::new(
            platform_tui::nomad::decode::decode_all(&jobs, max).expect("jobs"),
        )),
        ..Default::default()
    }
}

/// The Nomad scale goal's world: 3 metros x 110 000 allocations, Nomad pane open.
fn scale_world() -> (State, Vec<platform_tui::nomad::NomadSnapshot>) {
    const SCALE_METROS: usize = 3;
    let mut text = String::from("[anycast]\nprefix = \"198.18.0.10/32\"\n");
    for i in 0..SCALE_METROS {
        text.push_str(&format!(
            "[[metro]]\nname = \"m{i}\"\nbird_socket = \"m{i}.ctl\"\n[metro.nomad]\naddress = \"http://127.0.1.{}:4646\"\n",
            i + 1
        ));
    }
    let cfg = platform_tui::config::parse(&text, Path::new("/bench/pt.toml")).expect("config");
    let t0 = UNIX_EPOCH + Duration::from_secs(1_795_885_800);
    let mut s = State::new(&cfg, BTreeMap::new(), "bench".into(), t0);
    let snaps: Vec<_> = (0..SCALE_METROS)
        .map(|i| nomad_snapshot(i, 110_000))
        .collect();
    for (i, snapshot) in snaps.iter().enumerate() {
        let snapshot = snapshot.clone();
        update(
            &mut s,
            Msg::Nomad {
                metro: format!("m{i}"),
                snapshot,
            },
        );
    }
    let k = key_for(&s, Command::ViewNomad);
    update(&mut s, Msg::Key(k));
    (s, snaps)
}

fn render(c: &mut Criterion) {
    let mut s = world();
    let views = [
        ("overview", Command::ViewOverview),
        ("latency", Command::ViewLatency),
        ("latency_all_metros", Command::ToggleAllMetros),
        ("nomad_10000_allocs", Command::ViewNomad),
    ];
    for (name, action) in views {
        if action == Command::ToggleAllMetros {
            let k = key_for(&s, Command::ViewLatency);
            update(&mut s, Msg::Key(k));
            let k = key_for(&s, Command::ZoomOut);
            for _ in 0..3 {
                update(&mut s, Msg::Key(k));
            }
        }
        let k = key_for(&s, action);
        update(&mut s, Msg::Key(k));
        for (w, h) in [(200u16, 60u16), (80, 24)] {
            let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
            c.bench_function(&format!("{name}_{w}x{h}"), |b| {
                b.iter(|| {
                    terminal
                        .draw(|f| platform_tui::ui::draw(&s, f))
                        .expect("draw");
                })
            });
        }
    }
}

/// A frame of the Nomad pane over 330 000 allocations, and what one metro's snapshot
/// costs the state machine when it arrives with 64 allocations changed.
fn nomad_scale(c: &mut Criterion) {
    let (mut s, snaps) = scale_world();
    for (w, h) in [(200u16, 60u16), (80, 24)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        c.bench_function(&format!("nomad_330000_allocs_{w}x{h}"), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| platform_tui::ui::draw(&s, f))
                    .expect("draw");
            })
        });
    }
    // Two snapshots of m1 that differ in 64 allocations (the share of one metro's
    // snapshot at 200 changes a second), sent in turn.
    let mut changed = snaps[1].clone();
    if let Some(list) = changed.allocs.value.as_mut() {
        let list = std::sync::Arc::make_mut(list);
        let n = list.rows.len();
        for k in 0..64 {
            let i = k * (n / 64);
            let mut row = list.rows[i].clone();
            row.restarts = Some(row.restarts.unwrap_or(0) + 1);
            row.name = format!("{}-changed", row.name).into();
            list.replace(i, row);
        }
    }
    let turns = [snaps[1].clone(), changed];
    let mut turn = 0;
    let mut g = c.benchmark_group("nomad_330000_allocs");
    g.sample_size(10);
    g.bench_function("snapshot_update", |b| {
        b.iter(|| {
            turn += 1;
            update(
                &mut s,
                Msg::Nomad {
                    metro: "m1".into(),
                    snapshot: turns[turn % 2].clone(),
                },
            )
        })
    });
    g.finish();
}

criterion_group!(benches, render, nomad_scale);
criterion_main!(benches);
