//! The app job of a lab metro's Nomad endpoint, as Nomad keeps it: versions, one
//! deployment per new version, and the rollout that replaces the metro's app server —
//! the new allocation placed after a moment, healthy after the update block's
//! `MinHealthyTime` when its `/.well-known/spin/health` answers, failed after its
//! `HealthyDeadline` when not (then, with `AutoRevert`, the last stable version is
//! registered again). Registering an identical job changes nothing, as in Nomad.
//! Answers and errors have Nomad's shapes and words.
//!
//! A request carrying the token [`READ_ONLY_TOKEN`] may read but not write (403
//! "Permission denied"), so a refused token can be shown on the lab.
//!
//! Where to look: registering and reverting a job are here; `store.rs` holds what is
//! kept of the job and how Nomad shows it, `rollout.rs` what follows a new version.

mod rollout;
mod store;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::dataplane::{lock, AppVersion};
use super::nomad_api::{event, nanos, uuid_for, Ctx, EventText};
use rollout::rollout;
use store::update_of;

pub(super) use store::{group_and_task, JobStore};

/// The lab's app job on every metro.
pub const JOB: &str = "spin-app";
/// A token the lab's Nomad endpoints refuse writes to.
pub const READ_ONLY_TOKEN: &str = "lab-read-only";
/// Fields Nomad sets itself: not part of what makes two jobs the same.
const SERVER_FIELDS: [&str; 10] = [
    "Version",
    "Stable",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "Status",
    "StatusDescription",
    "Namespace",
    "Region",
];

/// The `[deploy]` settings the lab's config carries, and its first job is built with:
/// raw_exec (the dev agent's), a short drain and short health times.
pub fn lab_deploy() -> crate::config::Deploy {
    crate::config::Deploy {
        job: Some(JOB.to_string()),
        driver: "raw_exec".into(),
        drain: Duration::from_millis(750),
        verify_deadline: Duration::from_secs(10),
        update: crate::config::UpdateBlock {
            max_parallel: 1,
            min_healthy_time: Duration::from_millis(300),
            healthy_deadline: Duration::from_millis(2000),
            progress_deadline: Duration::from_millis(5000),
            auto_revert: true,
        },
        ..crate::config::Deploy::default()
    }
}

/// The spec without what Nomad sets itself.
fn normalised(spec: &Value) -> Value {
    let mut v = spec.clone();
    if let Some(m) = v.as_object_mut() {
        for k in SERVER_FIELDS {
            m.remove(k);
        }
    }
    v
}

/// A Nomad-style validation error: "1 error occurred:\n\t* Missing job datacenters\n\n".
fn invalid(problems: &[String]) -> (u16, String) {
    let n = problems.len();
    let mut s = format!("{n} error{} occurred:\n", if n == 1 { "" } else { "s" });
    for p in problems {
        s.push_str(&format!("\t* {p}\n"));
    }
    s.push('\n');
    (400, s)
}

/// The events of a change to the job and one deployment.
fn events(st: &JobStore, deployment: &str, index: u64, kind: &str) -> Vec<EventText> {
    let mut out = Vec::new();
    if let Some(v) = st.current() {
        out.push(event(
            "Job",
            "JobRegistered",
            JOB,
            index,
            &st.version_json(v).to_string(),
        ));
    }
    if let Some(d) = st.deployment_by_id(deployment) {
        out.push(event("Deployment", kind, deployment, index, &d.to_string()));
    }
    out
}

fn answer(index: u64, eval: &str) -> Value {
    json!({"EvalID": eval, "EvalCreateIndex": index, "JobModifyIndex": index,
           "Warnings": "", "Index": index, "LastContact": 0, "KnownLeader": true})
}

/// `POST|PUT /v1/jobs`: registers the lab's app job. A job like the current one
/// changes nothing; a new one makes a version, a deployment and a rollout.
pub(super) fn register(ctx: &Arc<Ctx>, body: &[u8]) -> Result<Value, (u16, String)> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| (400, format!("failed to parse the request: {e}")))?;
    let Some(spec) = v.get("Job").filter(|j| j.is_object()).cloned() else {
        return Err((400, "Job must be specified".into()));
    };
    let mut problems = Vec::new();
    let id = spec.get("ID").and_then(Value::as_str).unwrap_or("");
    if id.is_empty() {
        problems.push("Missing job ID".to_string());
    }
    if spec
        .get("Datacenters")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        problems.push("Missing job datacenters".to_string());
    }
    if spec
        .get("TaskGroups")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        problems.push("Missing job task groups".to_string());
    }
    if !problems.is_empty() {
        return Err(invalid(&problems));
    }
    if id != JOB {
        return Err((
            400,
            format!("the lab runs one app per metro, as job {JOB}; not {id}"),
        ));
    }
    let Some(reference) = crate::nomad::jobs::from_arg(&spec) else {
        return Err(invalid(&[
            "Task: the lab runs `spin up --from REF` jobs only; no --from argument".into(),
        ]));
    };
    let Some(lab) = &ctx.lab else {
        return Err((500, "no app server behind this endpoint".into()));
    };
    let _ = lab;
    let mut st = lock(&ctx.jobs);
    let eval = uuid_for(&format!("eval-{}", nanos(SystemTime::now())), &ctx.code);
    if st
        .current()
        .is_some_and(|c| normalised(&c.spec) == normalised(&spec))
    {
        // Nomad answers an identical job with the existing index: no new version.
        let (_, modify) = st.current_version();
        let mut a = answer(modify, &eval);
        a["EvalCreateIndex"] = json!(ctx.cluster.index());
        return Ok(a);
    }
    let mut made = (0, String::new());
    let index = ctx.cluster.commit(|_, index| {
        made = st.add_version(&ctx.code, spec.clone(), index);
        events(&st, &made.1, index, "DeploymentStatusUpdate")
    });
    let (version, deployment) = made;
    if let Some(old) = st.rollout.take() {
        old.abort();
    }
    st.rollout = Some(tokio::spawn(rollout(
        ctx.clone(),
        version,
        deployment,
        AppVersion::of(&reference),
        update_of(&spec),
    )));
    Ok(answer(index, &eval))
}

/// `POST|PUT /v1/job/:id/revert`: the version asked, registered again as a new one.
pub(super) fn revert(ctx: &Arc<Ctx>, body: &[u8]) -> Result<Value, (u16, String)> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| (400, format!("failed to parse the request: {e}")))?;
    let Some(want) = v.get("JobVersion").and_then(Value::as_u64) else {
        return Err((400, "missing job version".into()));
    };
    let mut st = lock(&ctx.jobs);
    let (current, _) = st.current_version();
    if let Some(enforce) = v.get("EnforcePriorVersion").and_then(Value::as_u64) {
        if enforce != current {
            return Err((
                400,
                format!("current job has version {current}; enforcing version {enforce}"),
            ));
        }
    }
    if want == current {
        return Err((400, "can't revert to current version".into()));
    }
    let Some(spec) = st
        .versions
        .iter()
        .find(|x| x.version == want)
        .map(|x| x.spec.clone())
    else {
        return Err((400, format!("job {JOB} at version {want} not found")));
    };
    let reference = crate::nomad::jobs::from_arg(&spec).unwrap_or_default();
    let eval = uuid_for(&format!("eval-{}", nanos(SystemTime::now())), &ctx.code);
    let mut made = (0, String::new());
    let index = ctx.cluster.commit(|_, index| {
        made = st.add_version(&ctx.code, spec.clone(), index);
        events(&st, &made.1, index, "DeploymentStatusUpdate")
    });
    if let Some(old) = st.rollout.take() {
        old.abort();
    }
    st.rollout = Some(tokio::spawn(rollout(
        ctx.clone(),
        made.0,
        made.1,
        AppVersion::of(&reference),
        update_of(&spec),
    )));
    Ok(answer(index, &eval))
}
