//! Work of lower priority than requests: folds of the log (time travel, progress over time,
//! the report as of a past time) run on a thread of their own whose nice value is
//! [`NICE`], so the operating system gives the threads that answer requests the cores first —
//! a fold can take a second of CPU, a command a fraction of a millisecond. One thread for the
//! process; the folds also take turns ([`crate::state::ApiState::fold_turn`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

/// The nice value of the folds' thread (requests' threads keep 0).
const NICE: i32 = 10;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

static FOLDS: OnceLock<Option<UnboundedSender<Job>>> = OnceLock::new();

/// The folds' thread, started at its first use (`None`: it could not be started; work then
/// runs where it is asked for).
fn folds() -> Option<&'static UnboundedSender<Job>> {
    FOLDS
        .get_or_init(|| {
            let (jobs, mut next) = unbounded_channel::<Job>();
            let started = std::thread::Builder::new().name("rollout-folds".into()).spawn(move || {
                let me = rustix::thread::gettid();
                if let Err(e) = rustix::process::setpriority_process(Some(me), NICE) {
                    tracing::warn!(error = %e, "the folds' thread keeps the normal priority");
                }
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        tracing::error!(error = %e, "the folds' thread has no runtime");
                        return;
                    }
                };
                runtime.block_on(async move {
                    while let Some(job) = next.recv().await {
                        tokio::spawn(job);
                    }
                });
            });
            match started {
                Ok(_) => Some(jobs),
                Err(e) => {
                    tracing::error!(error = %e, "the folds' thread could not be started");
                    None
                }
            }
        })
        .as_ref()
}

/// Runs `work` on the folds' thread and waits for its result.
pub(crate) async fn at_low_priority<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::pin(async move {
        let _ = answer.send(work.await);
    });
    match folds() {
        Some(jobs) => {
            if let Err(refused) = jobs.send(job) {
                // The thread is gone: the work runs here.
                refused.0.await;
            }
        }
        None => job.await,
    }
    match answered.await {
        Ok(output) => output,
        // The job is dropped only with the folds' runtime, which lives as long as the process.
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    /// The work runs on the folds' thread, at a lower priority, and its answer comes back.
    #[test]
    fn work_runs_on_the_folds_thread_at_a_lower_priority() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (name, nice) = runtime.block_on(super::at_low_priority(async {
            let me = rustix::thread::gettid();
            let nice = rustix::process::getpriority_process(Some(me)).expect("priority");
            (std::thread::current().name().map(String::from), nice)
        }));
        assert_eq!(name.as_deref(), Some("rollout-folds"));
        assert_eq!(nice, super::NICE);
    }
}
