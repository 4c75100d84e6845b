//! Timeouts measured against one shared coarse clock instead of a tokio timer per request.
//!
//! Why not `tokio::time::timeout`: arming a timer takes the runtime's timer lock and, when the other worker is
//! parked, wakes it through the I/O driver. With two timers per request (the whole request, the GraphQL
//! execution) that was about 1.6 extra system calls per request and 8 % of `{ __typename }` throughput on two
//! cores (bench/README.md). Timeouts of seconds need no millisecond precision, so one ticker task wakes whatever
//! waits on a deadline every `TICK`, and a request that finishes in time never touches a timer.

use std::{future::Future, time::Duration};

use tokio::{
    sync::watch,
    time::{Instant, MissedTickBehavior},
};

/// How late a timeout may fire.
const TICK: Duration = Duration::from_millis(100);

/// The shared clock; clones share one ticker, which stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Deadlines {
    /// The time of the latest tick.
    ticks: watch::Receiver<Instant>,
}

/// The limit passed before the work finished.
#[derive(Debug)]
pub struct Elapsed;

impl Deadlines {
    /// Starts the ticker on the current runtime.
    pub fn start() -> Self {
        let (ticker, ticks) = watch::channel(Instant::now());
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                interval.tick().await;
                if ticker.send(Instant::now()).is_err() {
                    break;
                }
            }
        });
        Self { ticks }
    }

    /// `work`'s output, or `Elapsed` once `limit` has passed (noticed up to `TICK` late); `work` is dropped then.
    pub async fn timeout<F: Future>(&self, limit: Duration, work: F) -> Result<F::Output, Elapsed> {
        self.until(Instant::now() + limit, work).await
    }

    /// As `timeout`, against a deadline that an outer step already set: work nested inside it that sees the same
    /// tick is polled first, so it can answer before the outer step gives up. Both judge a tick by its own time,
    /// not by the time they look: the clock moving between the inner check and the outer one (a preempted thread)
    /// must not let the outer step expire on a tick the inner one found early.
    pub async fn until<F: Future>(&self, deadline: Instant, work: F) -> Result<F::Output, Elapsed> {
        let mut ticks = self.ticks.clone();
        let expired = async move {
            while ticks.changed().await.is_ok() {
                if *ticks.borrow_and_update() >= deadline {
                    return;
                }
            }
            // The runtime is shutting down and took the ticker with it: nothing is timed any more.
            std::future::pending::<()>().await;
        };
        tokio::select! {
            biased;
            output = work => Ok(output),
            () = expired => Err(Elapsed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_that_finishes_in_time_gives_its_output() {
        let deadlines = Deadlines::start();
        let output = deadlines.timeout(Duration::from_secs(5), async { 42 }).await;
        assert_eq!(output.ok(), Some(42));
    }

    #[tokio::test(start_paused = true)]
    async fn nested_work_on_the_same_deadline_answers_before_the_outer_step_gives_up() {
        let deadlines = Deadlines::start();
        let deadline = Instant::now() + Duration::from_millis(250);
        let inner = deadlines.until(deadline, std::future::pending::<()>());
        let outer = deadlines.until(deadline, inner).await;
        assert!(matches!(outer, Ok(Err(Elapsed))), "{outer:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn work_that_never_finishes_is_cut_off_within_a_tick_of_its_limit() {
        let deadlines = Deadlines::start();
        let started = Instant::now();
        let output = deadlines
            .timeout(Duration::from_secs(2), std::future::pending::<()>())
            .await;
        assert!(output.is_err());
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited <= Duration::from_secs(2) + TICK,
            "{waited:?}"
        );
    }
}
