//! The rollout of a new version on a lab metro: the allocation placed after a moment,
//! then healthy after the update block's `MinHealthyTime` (the deployment successful,
//! the version stable), or unhealthy at its `HealthyDeadline` (failed, and with
//! `AutoRevert` the last stable version registered again in the same write). Answers
//! "what happens, and when, after a new version is registered?"

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::events;
use super::store::{update_of, JobStore, Update};
use crate::lab::dataplane::{lock, AppVersion};
use crate::lab::nomad_api::Ctx;

/// How long the lab's scheduler takes to place a new allocation.
const PLACE: Duration = Duration::from_millis(150);

/// Sets a deployment's fields in one write, with its event.
fn change(ctx: &Ctx, deployment: &str, f: impl FnOnce(&mut JobStore)) {
    let mut st = lock(&ctx.jobs);
    ctx.cluster.commit(|_, index| {
        f(&mut st);
        if let Some(d) = st.deployment_mut(deployment) {
            d.modify_index = index;
        }
        events(&st, deployment, index, "DeploymentAllocHealth")
    });
}

type Rollout = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// [`rollout`] behind a box: a rollout that reverts starts another one.
fn boxed_rollout(
    ctx: Arc<Ctx>,
    version: u64,
    deployment: String,
    app: AppVersion,
    u: Update,
) -> Rollout {
    Box::pin(rollout(ctx, version, deployment, app, u))
}

/// The rollout of one version: placed, then healthy (successful) or, with a failing
/// health check, unhealthy at the deadline (failed; auto-reverted when asked).
pub(super) async fn rollout(
    ctx: Arc<Ctx>,
    version: u64,
    deployment: String,
    app: AppVersion,
    u: Update,
) {
    tokio::time::sleep(PLACE).await;
    let Some(lab) = &ctx.lab else { return };
    let healthy = app.healthy;
    if let Err(e) = lab.shared.replace_app(&ctx.code, app, version).await {
        change(&ctx, &deployment, |st| {
            if let Some(d) = st.deployment_mut(&deployment) {
                d.status = "failed";
                d.description = format!("Failed to place allocation: {e}");
            }
        });
        return;
    }
    change(&ctx, &deployment, |st| {
        if let Some(d) = st.deployment_mut(&deployment) {
            d.placed = d.desired;
        }
    });
    if healthy {
        tokio::time::sleep(u.min_healthy).await;
        change(&ctx, &deployment, |st| {
            if let Some(d) = st.deployment_mut(&deployment) {
                d.healthy = d.desired;
                d.status = "successful";
                d.description = "Deployment completed successfully".into();
            }
            if let Some(v) = st.versions.iter_mut().find(|v| v.version == version) {
                v.stable = true;
            }
        });
        return;
    }
    tokio::time::sleep(u.healthy_deadline).await;
    // Failed, and (with auto_revert) the last stable version registered again, in one
    // write: whoever sees the failure sees the revert too.
    let code = ctx.code.clone();
    let mut reverted: Option<(u64, String, Value)> = None;
    {
        let mut st = lock(&ctx.jobs);
        ctx.cluster.commit(|_, index| {
            let stable = st
                .versions
                .iter()
                .rev()
                .find(|v| v.stable && v.version != version)
                .map(|v| (v.version, v.spec.clone()));
            let mut description = "Failed due to unhealthy allocations".to_string();
            if let (true, Some((to, _))) = (u.auto_revert, &stable) {
                description.push_str(&format!(" - rolling back to job version {to}"));
            }
            if let Some(d) = st.deployment_mut(&deployment) {
                d.unhealthy = d.desired;
                d.status = "failed";
                d.description = description;
                d.modify_index = index;
            }
            let mut evs = events(&st, &deployment, index, "DeploymentStatusUpdate");
            if let (true, Some((_, spec))) = (u.auto_revert, stable) {
                let (v, id) = st.add_version(&code, spec.clone(), index);
                evs.extend(events(&st, &id, index, "DeploymentStatusUpdate"));
                reverted = Some((v, id, spec));
            }
            evs
        });
        if let Some((v, id, spec)) = reverted {
            let reference = crate::nomad::jobs::from_arg(&spec).unwrap_or_default();
            // This task ends here: the revert's rollout takes its place.
            st.rollout = Some(tokio::spawn(boxed_rollout(
                ctx.clone(),
                v,
                id,
                AppVersion::of(&reference),
                update_of(&spec),
            )));
        }
    }
}
