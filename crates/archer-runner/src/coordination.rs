//! The study loop, written once: take the next trial, evaluate it and record its result,
//! until the study is over. A coordination says how each step is done: one process trial by
//! trial (`Study`), or one of many distributed workers sharing a store (`Worker`). A thread
//! pool (`Study` with `workers > 1`) takes the same steps with several evaluations in flight.

use archer_core::Trial;

use crate::{RunError, StopReason};

/// What to do next.
pub(crate) enum Next {
    Run(Box<Trial>),
    /// Nothing to start now; others still run trials that may come back.
    Wait,
    Done(StopReason),
}

/// One way of coordinating the study loop.
pub(crate) trait Coordination {
    /// The next trial to evaluate (re-queued, claimed, promoted or newly proposed), RUNNING
    /// and persisted; or why there is none.
    fn next(&mut self) -> Result<Next, RunError>;

    /// Evaluates `trial` and records its result (retried, paused, or told and persisted).
    fn run(&mut self, trial: Trial) -> Result<(), RunError>;

    /// Called on `Next::Wait`.
    fn wait(&mut self) {}

    /// A step failed with `error`: `Ok` to go on with the next step (the coordination has
    /// recovered, e.g. after a lost database connection), else the error ends the loop.
    fn recover(&mut self, error: RunError) -> Result<(), RunError> {
        Err(error)
    }
}

/// Runs the loop until the study is over; its stop reason.
pub(crate) fn drive(c: &mut dyn Coordination) -> Result<StopReason, RunError> {
    loop {
        let step = match c.next() {
            Ok(Next::Run(trial)) => c.run(*trial),
            Ok(Next::Wait) => {
                c.wait();
                Ok(())
            }
            Ok(Next::Done(reason)) => return Ok(reason),
            Err(e) => Err(e),
        };
        if let Err(e) = step {
            c.recover(e)?;
        }
    }
}
