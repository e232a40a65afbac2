//! A phase's bounds: the server (or relay) and this process sampled when posting began and
//! when its deliveries were in, so that a phase's CPU is told apart from the setup's and
//! from the other phases'.

use crate::measure::{ProcSample, Sample, now_ns};

/// One phase's bounds: the posts made, when it started, and the samples of the server (or
/// relay, and the engines beside it) and of this process at its start and end.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub phase: usize,
    /// Deliveries each post makes.
    pub members: u64,
    pub posts: u64,
    pub start_ns: u64,
    pub server: (Sample, Sample),
    pub bench: (ProcSample, ProcSample),
}

/// Where a phase began: the server (or relay) and this process sampled, and the clock.
pub struct Mark {
    server: Sample,
    bench: ProcSample,
    ns: u64,
}

impl Mark {
    pub fn now(sample: &impl Fn() -> Sample) -> Mark {
        Mark {
            server: sample(),
            bench: ProcSample::read(std::process::id()),
            ns: now_ns(),
        }
    }

    /// The phase that began here ends now.
    pub fn window(
        self,
        phase: usize,
        members: u64,
        posts: u64,
        sample: &impl Fn() -> Sample,
    ) -> Window {
        Window {
            phase,
            members,
            posts,
            start_ns: self.ns,
            server: (self.server, sample()),
            bench: (self.bench, ProcSample::read(std::process::id())),
        }
    }
}
