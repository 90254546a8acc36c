//! A Nomad deployment followed to its end with blocking queries (`GET
//! /v1/deployment/:id?index=…`), its healthy/desired/placed counts reported as they
//! change. The deployment of a just-registered version is found through the job's
//! latest deployment, matched by `JobVersion` (the register answer does not name it).

use std::time::{Duration, Instant};

use crate::domain::deploy::AllocCounts;
use crate::nomad::jobs::{Deployment, Standing};
use crate::nomad::{Client, QueryOptions};

/// The longest one blocking query waits: short enough to notice a deadline or a stop.
const BLOCK: Duration = Duration::from_secs(5);

/// Waits (blocking queries, up to `limit`) for the job's latest deployment to be the
/// one of `version`.
pub async fn find(
    client: &Client,
    job: &str,
    version: u64,
    limit: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Deployment, String> {
    let started = Instant::now();
    let mut index = 0;
    tokio::pin!(stop);
    loop {
        let wait = BLOCK.min(
            limit
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1)),
        );
        let q = if index > 0 {
            QueryOptions::blocking(index, wait)
        } else {
            QueryOptions::default()
        };
        let answer = tokio::select! {
            a = client.latest_deployment(job, q) => a.map_err(|e| e.to_string())?,
            _ = &mut stop => return Err("stopped while waiting for the deployment".into()),
        };
        match answer.value {
            Some(d) if d.job_version == version => return Ok(d),
            Some(d) if d.job_version > version => {
                return Err(format!(
                    "a newer version ({}) of {job} was registered meanwhile",
                    d.job_version
                ))
            }
            _ => {}
        }
        if started.elapsed() >= limit {
            return Err(format!(
                "no deployment for version {version} of {job} within {:.0}s",
                limit.as_secs_f64()
            ));
        }
        // An index that went backwards (agent restarted): list again from scratch.
        index = if answer.index < index {
            0
        } else {
            answer.index
        };
        if index == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Follows deployment `d` until it is successful (`Ok`), failed or cancelled (`Err`
/// with Nomad's description), `limit` passes, or `stop` resolves. `counts` hears every
/// change of the counts.
pub async fn follow(
    client: &Client,
    mut d: Deployment,
    limit: Duration,
    stop: impl std::future::Future<Output = ()>,
    counts: &mut (dyn FnMut(&AllocCounts) + Send),
) -> Result<Deployment, String> {
    let started = Instant::now();
    let mut index = d.modify_index;
    let mut last: Option<AllocCounts> = None;
    tokio::pin!(stop);
    loop {
        let c = d.counts();
        if last.as_ref() != Some(&c) {
            counts(&c);
            last = Some(c.clone());
        }
        match d.standing() {
            Standing::Successful => return Ok(d),
            Standing::Failed => {
                return Err(if c.description.is_empty() {
                    format!("deployment {}", c.status)
                } else {
                    c.description
                })
            }
            Standing::Running => {}
        }
        if started.elapsed() >= limit {
            return Err(format!(
                "deployment still {} after {:.0}s ({} of {} healthy)",
                c.status,
                limit.as_secs_f64(),
                c.healthy,
                c.desired
            ));
        }
        let wait = BLOCK.min(
            limit
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1)),
        );
        let answer = tokio::select! {
            a = client.deployment(&d.id, QueryOptions::blocking(index.max(1), wait)) => {
                a.map_err(|e| e.to_string())?
            }
            _ = &mut stop => return Err("stopped while the deployment ran".into()),
        };
        index = if answer.index < index {
            0
        } else {
            answer.index
        };
        d = answer.value;
    }
}
