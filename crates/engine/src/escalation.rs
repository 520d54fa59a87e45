//! Escalating a group of blockages: one command on many rollouts, in bounded batches like
//! the other fan-outs (a batch's appends share group commits).

use workflow::Command;

use crate::{limits, EngineError, Invocation};

/// Which blockages: every rollout blocked now with this category and/or vendor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockageGroup {
    /// The stored category (`BLOCK_CATEGORIES`).
    pub category: Option<String>,
    pub vendor: Option<String>,
}

impl crate::Engine {
    /// Records `BlockageEscalated` with `reason` on each of `targets` ((service key, ARS) of
    /// the group's blocked rollouts), in batches of [`limits::FANOUT_BATCH`]; a rollout whose
    /// blockage ended meanwhile is left alone (refused by the domain). Returns the rollouts
    /// escalated.
    pub async fn escalate_blockages(
        &self,
        targets: &[(String, String)],
        group: &BlockageGroup,
        reason: &str,
        req: &Invocation,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let one = |(service, ars): (String, String)| async move {
            let command = Command::Escalate {
                reason: reason.to_owned(),
                category: group.category.clone(),
                vendor: group.vendor.clone(),
            };
            match self.execute(&service, &ars, command, req).await {
                Ok(_) => Ok(Some((service, ars))),
                Err(EngineError::Rejected(workflow::Rejection::NotBlocked)) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let mut escalated = Vec::new();
        for batch in targets.chunks(limits::FANOUT_BATCH) {
            for result in futures_util::future::join_all(batch.iter().cloned().map(one)).await {
                escalated.extend(result?);
            }
        }
        Ok(escalated)
    }
}
