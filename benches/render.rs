//! Render time of the overview: 50 metros, a full events pane, at 200x60 and 80x24.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use platform_tui::app::{update, Msg, State};
use platform_tui::domain::{
    BgpSession, MetroStatus, ObservedRoute, ObserverView, RouterStatus, Snapshot,
};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn state(metros: usize) -> State {
    let mut text = String::from(
        "[anycast]\nprefix = \"198.18.0.10/32\"\n[anycast.observer]\nbird_socket = \"up.ctl\"\n",
    );
    for i in 0..metros {
        text.push_str(&format!(
            "[[metro]]\nname = \"m{i}\"\ndisplay_name = \"Metro {i}\"\nbird_socket = \"m{i}.ctl\"\nexport_protocol = \"upstream\"\nobserver_protocol = \"metro_m{i}\"\n"
        ));
    }
    let cfg = platform_tui::config::parse(&text, Path::new("/bench/pt.toml")).expect("config");
    let t0 = UNIX_EPOCH + Duration::from_secs(1_795_885_800);
    let mut s = State::new(&cfg, BTreeMap::new(), "bench".into(), t0);
    for round in 0..120u64 {
        let snap = Snapshot {
            taken: t0 + Duration::from_secs(round),
            metros: (0..metros)
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
                                info: String::new(),
                            }),
                            origins: vec![("anycast".into(), "up".into())],
                            advertised: !(i as u64 + round).is_multiple_of(5),
                            exported: Some(1),
                        })
                    },
                })
                .collect(),
            observer: Some(Ok(ObserverView {
                routes: (0..metros)
                    .map(|i| ObservedRoute {
                        metro: Some(format!("m{i}")),
                        protocol: format!("metro_m{i}"),
                        best: i == (round as usize % metros),
                        local_pref: Some(9000 + i as u32),
                    })
                    .collect(),
            })),
        };
        update(&mut s, Msg::Snapshot(snap));
    }
    let _ = SystemTime::now();
    s
}

fn render(c: &mut Criterion) {
    let s = state(50);
    for (w, h) in [(200u16, 60u16), (80, 24)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        c.bench_function(&format!("overview_50_metros_{w}x{h}"), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| platform_tui::ui::draw(&s, f))
                    .expect("draw");
            })
        });
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
