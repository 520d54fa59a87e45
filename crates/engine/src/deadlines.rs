//! The deadline policy: a step that is open past its due date gets `StepOverdue` in its
//! rollout's history, recorded by the system actor. Which steps are due comes from the read
//! model (`ReadModel::due_for_overdue_event`, ordered by due date); "now" comes from the store's
//! clock, so a test that controls the clock controls the policy. `decide` refuses a step already
//! recorded, so a second round, a restart, or two servers on one database append nothing twice.

use std::sync::Arc;
use std::time::Duration;

use projections::Projector;
use workflow::decide::Command;

use crate::{Engine, EngineError, Invocation};

/// How often the policy looks for steps that became overdue.
pub const DEADLINE_ROUND: Duration = Duration::from_secs(60);

impl Engine {
    /// One round of the policy: records every step the read model lists as due at the clock's
    /// now. Returns how many were recorded.
    pub async fn overdue_round(&self, projector: &Projector) -> Result<usize, EngineError> {
        let due = projector.read(|m| m.due_for_overdue_event(self.now()));
        self.record_overdue(&due).await
    }

    /// Appends `StepOverdue` for each (service, ARS, step) whose due date has passed; one
    /// already recorded is refused by `decide` and skipped. Returns how many were recorded.
    pub async fn record_overdue(&self, due: &[(String, String, String)]) -> Result<usize, EngineError> {
        let system = Invocation::system();
        let mut recorded = 0;
        for (service, ars, step) in due {
            let command = Command::RecordOverdue { step: step.clone() };
            match self.execute_one(service, ars, command, &system).await {
                Ok(_) => recorded += 1,
                Err(EngineError::Rejected(_)) | Err(EngineError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(recorded)
    }
}

/// Runs the policy every `every` until the task is aborted; a failed round is logged and the
/// next one tries again.
pub fn spawn_deadline_policy(
    engine: Arc<Engine>,
    projector: Arc<Projector>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = engine.overdue_round(&projector).await {
                tracing::error!(error = %e, "the deadline policy failed");
            }
        }
    })
}
