//! One retry pace for every loop that reconnects (Nomad lists and event streams, SSH
//! links): exponential, with jitter, so that N metros whose agents restarted together do
//! not retry in lockstep.

use std::time::Duration;

/// Waits that double from `start` up to `cap`; each wait is drawn at random from the
/// upper half of its step ("equal jitter": never less than half, so a dead agent is not
/// hammered, and never the same for two watchers).
#[derive(Debug, Clone)]
pub struct Backoff {
    start: Duration,
    cap: Duration,
    step: Duration,
}

impl Backoff {
    pub fn new(start: Duration, cap: Duration) -> Backoff {
        let start = start.max(Duration::from_millis(1));
        Backoff {
            start,
            cap: cap.max(start),
            step: start,
        }
    }

    /// The wait before the next attempt; the one after it is longer (up to the cap).
    pub fn next_wait(&mut self) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(self.cap);
        step / 2 + step.mul_f64(fastrand::f64() / 2.0)
    }

    /// Progress was made: the next failure waits the first step again.
    pub fn reset(&mut self) {
        self.step = self.start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_to_the_cap_with_jitter_and_reset() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(1000));
        let steps = [100, 200, 400, 800, 1000, 1000];
        for step in steps {
            let w = b.next_wait();
            assert!(
                w >= ms(step) / 2 && w <= ms(step),
                "{w:?} for a {step} ms step"
            );
        }
        b.reset();
        assert!(b.next_wait() <= ms(100));
        // Two watchers started together do not wait alike every time.
        let (mut a, mut c) = (
            Backoff::new(ms(100), ms(100)),
            Backoff::new(ms(100), ms(100)),
        );
        assert!((0..20).any(|_| a.next_wait() != c.next_wait()));
    }
}
