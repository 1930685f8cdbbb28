//! A circuit breaker per plugin: after repeated failures in a row, calls
//! fail fast for a cooldown instead of burning CPU on a plugin that fails.

use crate::limits::BreakerSettings;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub(crate) struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// After the cooldown, one call is let through to try the plugin.
    trial: bool,
}

impl Breaker {
    pub(crate) fn new(settings: BreakerSettings) -> Self {
        Self { settings, state: Mutex::new(State::default()) }
    }

    /// Whether a call may go ahead now. Once the cooldown is over the
    /// circuit is half open: one call goes ahead as a trial while the others
    /// still fail fast; its failure opens the circuit again at once, its
    /// success closes it.
    pub(crate) fn allow(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match state.open_until {
            None => true,
            Some(until) if now >= until && !state.trial => {
                state.trial = true;
                true
            }
            Some(_) => false,
        }
    }

    /// `closed`, `open`, or `half_open` (the cooldown is over; the next
    /// call is a trial).
    pub(crate) fn state(&self, now: Instant) -> &'static str {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match state.open_until {
            None => "closed",
            Some(until) if now >= until => "half_open",
            Some(_) => "open",
        }
    }

    pub(crate) fn success(&self) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *state = State::default();
    }

    /// Records a failure; true when it opened the circuit.
    pub(crate) fn failure(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let half_open = state.open_until.is_some_and(|until| now >= until);
        state.failures = state.failures.saturating_add(1);
        if half_open || state.failures >= self.settings.failures.max(1) {
            state.open_until = Some(now + self.settings.cooldown);
            state.failures = 0;
            state.trial = false;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn breaker(failures: u32) -> Breaker {
        Breaker::new(BreakerSettings { failures, cooldown: Duration::from_secs(10) })
    }

    #[test]
    fn opens_after_failures_in_a_row_and_closes_after_a_good_trial() {
        let b = breaker(3);
        let t = Instant::now();
        assert!(!b.failure(t));
        assert!(!b.failure(t));
        assert!(b.allow(t));
        assert!(b.failure(t), "the third failure in a row opens the circuit");
        assert!(!b.allow(t + Duration::from_secs(9)));
        assert!(b.allow(t + Duration::from_secs(10)), "the cooldown is over: a trial call");
        assert!(!b.allow(t + Duration::from_secs(10)), "one trial at a time");
        b.success();
        assert!(b.allow(t + Duration::from_secs(10)));
        assert!(!b.failure(t + Duration::from_secs(11)), "closed again: one failure does not open it");
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = breaker(2);
        let t = Instant::now();
        assert!(!b.failure(t));
        b.success();
        assert!(!b.failure(t));
        assert!(b.allow(t));
    }

    #[test]
    fn a_failed_trial_opens_it_again_at_once() {
        let b = breaker(3);
        let t = Instant::now();
        for _ in 0..3 {
            b.failure(t);
        }
        let later = t + Duration::from_secs(10);
        assert!(b.allow(later));
        assert!(b.failure(later), "half open: one failure is enough");
        assert!(!b.allow(later + Duration::from_secs(1)));
    }
}
