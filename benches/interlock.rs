//! What the interlock adds to every withdraw/restore: the state-dir checks, the flock,
//! reading the audit tail (abandoned intent, desired state), the fsynced intent line and
//! the fsynced outcome line carrying the new desired state — the same calls, in the same
//! order, as `ops::withdraw::execute`, on a state dir with 1 000 earlier records, on the
//! disk the temp dir lives on; and one bare fsynced append, the floor of each line.
//! Goal: < 5 ms per action.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use platform_tui::domain::journal::{unanswered, AuditRecord, Phase, Via};
use platform_tui::domain::{ActionKind, Desired};
use platform_tui::ops::interlock::{self, Holder};
use platform_tui::ops::journal::{self, StateDir};
use platform_tui::ops::Interrupt;

fn record(id: &str, phase: Phase) -> AuditRecord {
    AuditRecord {
        time: journal::timestamp(SystemTime::now()),
        id: id.into(),
        phase,
        user: "root".into(),
        ssh: None,
        pid: std::process::id(),
        via: Some(Via::Cli),
        metro: "am".into(),
        action: ActionKind::Withdraw.into(),
        method: "disable".into(),
        force: false,
        result: (phase == Phase::Outcome).then(|| "ok".into()),
        detail: (phase == Phase::Outcome)
            .then(|| "am withdrawn, verified in 0.6 ms; anycast now via da".into()),
        convergence_ms: Some(0.6),
        best_after: Some("da".into()),
        lock_wait_ms: Some(0.1),
        desired: Some(BTreeMap::from([
            ("am".to_string(), Desired::Withdrawn),
            ("da".to_string(), Desired::Advertised),
        ])),
    }
}

fn benches(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let state = StateDir {
        dir: tmp.path().join("state"),
    };
    state.prepare().expect("prepare");
    for i in 0..500 {
        state
            .append(&record(&i.to_string(), Phase::Intent))
            .expect("seed");
        state
            .append(&record(&i.to_string(), Phase::Outcome))
            .expect("seed");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let me = Holder {
        pid: std::process::id(),
        user: "root".into(),
        via: "cli".into(),
        what: "withdraw am".into(),
        since: journal::timestamp(SystemTime::now()),
    };
    let mut n = 0u64;
    let mut g = c.benchmark_group("interlock");
    g.measurement_time(Duration::from_secs(10));
    g.bench_function(
        "one action: checks, lock, audit tail, intent+fsync, desired, outcome+fsync",
        |b| {
            b.iter(|| {
                n += 1;
                let id = format!("bench-{n}");
                state.prepare().expect("prepare");
                let mut never = Interrupt::never();
                let guard = rt
                    .block_on(interlock::acquire(
                        &state,
                        &me,
                        Duration::ZERO,
                        &mut never,
                        &mut |_| {},
                    ))
                    .expect("lock");
                let tail = state.tail().expect("tail");
                assert!(unanswered(&tail).is_none());
                let mut desired = state.desired_in(&tail).expect("desired");
                state.append(&record(&id, Phase::Intent)).expect("intent");
                desired.insert("am".into(), Desired::Withdrawn);
                let mut outcome = record(&id, Phase::Outcome);
                outcome.desired = Some(desired);
                state.append(&outcome).expect("outcome");
                drop(guard);
            })
        },
    );
    g.bench_function("one fsynced audit line", |b| {
        b.iter(|| {
            state
                .append(&record("floor", Phase::Outcome))
                .expect("append")
        })
    });
    g.finish();
}

criterion_group!(interlock_benches, benches);
criterion_main!(interlock_benches);
