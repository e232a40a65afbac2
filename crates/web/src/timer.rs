//! hyper's timer on the server's [`Clock`]: the request-head timeout fires when a test
//! advances the clock past it, as the SIP transport's timeouts do, so it is tested without
//! waiting for it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use parlance_clock::Clock;

#[derive(Debug, Clone)]
pub(crate) struct ClockTimer(pub(crate) Clock);

impl Timer for ClockTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.0.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let clock = self.0.clone();
        Box::pin(ClockSleep(Box::pin(async move {
            clock.sleep_until(deadline).await
        })))
    }

    /// hyper computes its deadlines from this, so they are instants of the clock, which is
    /// what [`Clock::sleep_until`] expects.
    fn now(&self) -> Instant {
        self.0.now()
    }
}

struct ClockSleep(Pin<Box<dyn Future<Output = ()> + Send + Sync>>);

impl Future for ClockSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Sleep for ClockSleep {}
