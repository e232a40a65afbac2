//! How far the members' setup has come. Signing in and joining thousands of members takes
//! minutes, and a setup that stops moving looked the same as a slow one: so every
//! [`EVERY`] one line on stderr says how many have joined, and of those under way how many
//! are still signing in (TLS, REGISTER, INVITE) and how many wait for their join's answer
//! and reply. A member that takes too long fails naming the step it was at.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How often the setup says how far it is.
pub const EVERY: Duration = Duration::from_secs(10);

/// A step of a member's setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SigningIn,
    Joining,
}

impl Step {
    /// What a member at this step waits for.
    pub fn waits_for(self) -> &'static str {
        match self {
            Step::SigningIn => "still signing in (connection, REGISTER, INVITE)",
            Step::Joining => "its cmd:join or cmd:bjoin had no answer and reply",
        }
    }
}

/// Members at each step, across all of a setup's tasks.
#[derive(Debug, Default)]
pub struct Progress {
    signing_in: AtomicUsize,
    joining: AtomicUsize,
}

impl Progress {
    fn count(&self, step: Step) -> &AtomicUsize {
        match step {
            Step::SigningIn => &self.signing_in,
            Step::Joining => &self.joining,
        }
    }

    /// A member starts `step`; it is counted there until it moves on or the guard goes.
    pub fn enter(self: &Arc<Self>, step: Step) -> At {
        self.count(step).fetch_add(1, Ordering::Relaxed);
        At {
            progress: self.clone(),
            step,
        }
    }

    /// One line: `joined` of `total` members, and where the others are.
    pub fn report(&self, joined: usize, total: usize, elapsed: Duration) {
        let signing_in = self.signing_in.load(Ordering::Relaxed);
        let joining = self.joining.load(Ordering::Relaxed);
        tracing::info!(
            joined,
            of = total,
            signing_in,
            joining,
            not_started = total.saturating_sub(joined + signing_in + joining),
            secs = elapsed.as_secs(),
            "members' setup"
        );
    }
}

/// A member counted at its step.
#[derive(Debug)]
pub struct At {
    progress: Arc<Progress>,
    step: Step,
}

impl At {
    pub fn step(&self) -> Step {
        self.step
    }

    /// Moves the member on to `step`.
    pub fn to(&mut self, step: Step) {
        self.progress
            .count(self.step)
            .fetch_sub(1, Ordering::Relaxed);
        self.progress.count(step).fetch_add(1, Ordering::Relaxed);
        self.step = step;
    }
}

impl Drop for At {
    fn drop(&mut self) {
        self.progress
            .count(self.step)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_counted_at_one_step_until_it_is_done() {
        let progress = Arc::new(Progress::default());
        let mut at = progress.enter(Step::SigningIn);
        let other = progress.enter(Step::SigningIn);
        assert_eq!(progress.signing_in.load(Ordering::Relaxed), 2);
        at.to(Step::Joining);
        assert_eq!(at.step(), Step::Joining);
        assert_eq!(progress.signing_in.load(Ordering::Relaxed), 1);
        assert_eq!(progress.joining.load(Ordering::Relaxed), 1);
        drop((at, other));
        assert_eq!(progress.signing_in.load(Ordering::Relaxed), 0);
        assert_eq!(progress.joining.load(Ordering::Relaxed), 0);
    }
}
