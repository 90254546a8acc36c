//! The fixed-clock schedule: a slow probe never delays the next, and each sample goes
//! straight to whoever reads it, tagged as their message.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt as _};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::engine::{cold_request, lock, probe_cold, probe_kept, Slot};
use super::{ProbeOptions, ProbeSample, Target};

/// Shortest interval [`spawn_schedule`] accepts (a zero interval would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Probes `target` every `interval` on its own clock (seq 0, 1, 2, ...). Each probe runs
/// with its own timeout, so a slow probe neither delays nor drops the next; in
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
    tokio::spawn(async move {
        let kick = Kick::default();
        let (deliver, closed) = to_channel(tx, tag);
        schedule(target, opts, interval, count, deliver, closed, &kick).await;
    })
}

/// Probes `target` on [`spawn_schedule`]'s clock in the caller's own task, handing each
/// sample to `deliver` as it completes (so possibly out of `seq` order); returns once
/// `count` probes have completed (`None`: never; drop the future to stop, which also
/// cancels probes in flight). No task and no channel stand between the probes and
/// `deliver`: for a command that only prints them.
pub async fn run_schedule(
    target: Target,
    opts: ProbeOptions,
    interval: Duration,
    count: Option<u64>,
    deliver: impl FnMut(ProbeSample),
) {
    let kick = Kick::default();
    schedule(
        target,
        opts,
        interval,
        count,
        deliver,
        std::future::pending(),
        &kick,
    )
    .await;
}

/// A channel's sending half as a schedule's sink, and its receiver's going away.
fn to_channel<M>(
    tx: UnboundedSender<M>,
    tag: impl Fn(ProbeSample) -> M,
) -> (impl FnMut(ProbeSample), impl Future<Output = ()>) {
    let watch = tx.clone();
    // A dropped receiver is noticed by the schedule loop.
    let deliver = move |sample| {
        let _ = tx.send(tag(sample));
    };
    (deliver, async move { watch.closed().await })
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
    tokio::spawn(async move {
        let (deliver, closed) = to_channel(tx, tag);
        schedule(target, opts, interval, None, deliver, closed, &kick).await;
    })
}

/// The clock and its probes, in the caller's task; each sample goes to `deliver`, and
/// the schedule stops early when `closed` completes.
async fn schedule(
    target: Target,
    opts: ProbeOptions,
    interval: Duration,
    count: Option<u64>,
    deliver: impl FnMut(ProbeSample),
    closed: impl Future<Output = ()>,
    kick: &Kick,
) {
    let interval = interval.max(MIN_INTERVAL);
    let slot = Mutex::new(Slot::default());
    // A cold HEAD's request is the same every time.
    let request = cold_request(&target);
    // Probes in flight share the sink; each holds it only to hand its sample over.
    let deliver = Mutex::new(deliver);
    let (target, opts, slot, deliver, request) =
        (&target, &opts, &slot, &deliver, request.as_slice());
    let send = move |sample| {
        let mut deliver = deliver.lock().unwrap_or_else(PoisonError::into_inner);
        (*deliver)(sample);
    };
    // Each probe runs under its own timeout, as a future of this task rather than a task
    // of its own: a slow probe still neither delays nor drops the next, and a probe costs
    // no spawn, no join bookkeeping and no wake-up of another task.
    let probe = |seq: u64| async move {
        if opts.keep_alive {
            let (reuse, first) = lock(slot).take();
            let (sample, conn) = probe_kept(target, opts, seq, reuse, first).await;
            lock(slot).put(conn);
            send(sample);
        } else {
            let (sample, closing) = probe_cold(target, opts, seq, request).await;
            send(sample);
            // The connection's close, after the sample is on its way.
            closing.finish().await;
        }
    };
    let mut inflight = FuturesUnordered::new();
    let mut next = tokio::time::Instant::now();
    // The clock's next two ticks are armed at all times, each timer moved on when it fires
    // rather than made anew: when one fires the other is still ahead, so the timeout of
    // the probe it starts and the tick after next fall after the timer driver's next
    // wake-up and need no wake-up of their own (a system call each).
    let mut ticks = [
        Box::pin(tokio::time::sleep_until(next)),
        Box::pin(tokio::time::sleep_until(next + interval)),
    ];
    let mut current = 0;
    // Kept across turns of the loop (which turns at every probe's end, too) rather than
    // made anew: a kick's waiter is registered once per kick.
    let mut kicked_now = Box::pin(kick.0.notified());
    tokio::pin!(closed);
    let mut seq: u64 = 0;
    while count.is_none_or(|c| seq < c) {
        // A kick probes now without moving the clock; the tick probes and moves it.
        let kicked = tokio::select! {
            () = ticks[current].as_mut() => false,
            () = kicked_now.as_mut() => {
                kicked_now.set(kick.0.notified());
                true
            }
            Some(()) = inflight.next(), if !inflight.is_empty() => continue,
            () = &mut closed => return,
        };
        inflight.push(probe(seq));
        seq += 1;
        if kicked {
            continue;
        }
        next += interval;
        let now = tokio::time::Instant::now();
        if now > next + interval {
            next = now;
            ticks[1 - current].as_mut().reset(next);
        }
        ticks[current].as_mut().reset(next + interval);
        current = 1 - current;
    }
    // Probes in flight are each bounded by their timeout.
    loop {
        tokio::select! {
            r = inflight.next() => if r.is_none() { return },
            () = &mut closed => return,
        }
    }
}
