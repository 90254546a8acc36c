//! The fixed-clock schedule: a slow probe never delays the next, and each sample goes
//! straight to whoever reads it, tagged as their message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{JoinHandle, JoinSet};

use super::engine::{lock, probe_once, probe_with, Slot};
use super::{ProbeOptions, ProbeSample, Target};

/// Shortest interval [`spawn_schedule`] accepts (a zero interval would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Probes `target` every `interval` on its own clock (seq 0, 1, 2, ...). Each probe is
/// spawned with its own timeout, so a slow probe neither delays nor drops the next; in
/// keep-alive mode a probe that finds the connection busy opens another, marked
/// `reconnected`. Each sample is sent as it completes (so possibly out of `seq` order).
///
/// Stops after `count` probes have completed (`None`: runs until the receiver is dropped
/// or the handle aborted; aborting also cancels probes in flight). If the runtime stalls
/// for more than an interval, the clock resumes from now rather than bursting the
/// missed probes. An interval under 1 ms is taken as 1 ms. Must be called from within a
/// Tokio runtime (a multi-thread one keeps probes off the UI thread).
/// Each sample goes to `tx` as `tag(sample)` — the receiver's own message type, so no
/// task stands between the prober and whoever reads (a console passes `Msg::Probe`).
pub fn spawn_schedule<M: Send + 'static>(
    target: Target,
    opts: ProbeOptions,
    interval: Duration,
    count: Option<u64>,
    tx: UnboundedSender<M>,
    tag: impl Fn(ProbeSample) -> M + Send + Sync + 'static,
) -> JoinHandle<()> {
    let kick = Arc::new(Kick::default());
    tokio::spawn(schedule(
        target,
        opts,
        interval,
        count,
        tx,
        Arc::new(tag),
        kick,
    ))
}

/// Asks a schedule for one probe now, on top of its clock: after an action or a change
/// of best path the new figure should not wait for the next tick.
#[derive(Debug, Default)]
pub struct Kick(tokio::sync::Notify);

impl Kick {
    /// One extra probe as soon as the schedule sees it (kicks before then merge).
    pub fn now(&self) {
        self.0.notify_one();
    }
}

/// [`spawn_schedule`] that also probes whenever `kick` says so.
pub fn spawn_kickable_schedule<M: Send + 'static>(
    target: Target,
    opts: ProbeOptions,
    interval: Duration,
    tx: UnboundedSender<M>,
    tag: impl Fn(ProbeSample) -> M + Send + Sync + 'static,
    kick: Arc<Kick>,
) -> JoinHandle<()> {
    tokio::spawn(schedule(
        target,
        opts,
        interval,
        None,
        tx,
        Arc::new(tag),
        kick,
    ))
}

async fn schedule<M: Send + 'static>(
    target: Target,
    opts: ProbeOptions,
    interval: Duration,
    count: Option<u64>,
    tx: UnboundedSender<M>,
    tag: Arc<dyn Fn(ProbeSample) -> M + Send + Sync>,
    kick: Arc<Kick>,
) {
    let interval = interval.max(MIN_INTERVAL);
    let target = Arc::new(target);
    let opts = Arc::new(opts);
    let slot = Arc::new(Mutex::new(Slot::default()));
    let mut inflight = JoinSet::new();
    let mut next = tokio::time::Instant::now();
    let mut seq: u64 = 0;
    while count.is_none_or(|c| seq < c) {
        // A kick probes now without moving the clock; the tick probes and moves it.
        let kicked = tokio::select! {
            () = tokio::time::sleep_until(next) => false,
            () = kick.0.notified() => true,
            () = tx.closed() => return,
        };
        let (target, opts, slot, tx, tag) = (
            target.clone(),
            opts.clone(),
            slot.clone(),
            tx.clone(),
            tag.clone(),
        );
        inflight.spawn(async move {
            let sample = if opts.keep_alive {
                let (reuse, first) = lock(&slot).take();
                let (sample, conn) = probe_with(&target, &opts, seq, true, reuse, first).await;
                lock(&slot).put(conn);
                sample
            } else {
                probe_once(&target, &opts, seq).await
            };
            // A dropped receiver is noticed by the schedule loop.
            let _ = tx.send(tag(sample));
        });
        while inflight.try_join_next().is_some() {}
        seq += 1;
        if kicked {
            continue;
        }
        next += interval;
        let now = tokio::time::Instant::now();
        if now > next + interval {
            next = now;
        }
    }
    // Probes in flight are each bounded by their timeout.
    loop {
        tokio::select! {
            r = inflight.join_next() => if r.is_none() { return },
            () = tx.closed() => return,
        }
    }
}
