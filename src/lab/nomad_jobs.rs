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

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::dataplane::{lock, AppVersion, INITIAL_REF};
use super::nomad_api::{event, nanos, uuid_for, Ctx, EventText};

/// The lab's app job on every metro.
pub const JOB: &str = "spin-app";
/// A token the lab's Nomad endpoints refuse writes to.
pub const READ_ONLY_TOKEN: &str = "lab-read-only";
/// How long the lab's scheduler takes to place a new allocation.
const PLACE: Duration = Duration::from_millis(150);
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

pub(super) struct Version {
    version: u64,
    stable: bool,
    spec: Value,
    submit_time: u128,
    modify_index: u64,
}

pub(super) struct Deployment {
    id: String,
    job_version: u64,
    status: &'static str,
    description: String,
    desired: u64,
    placed: u64,
    healthy: u64,
    unhealthy: u64,
    auto_revert: bool,
    progress_deadline: u64,
    create_index: u64,
    modify_index: u64,
    job_modify_index: u64,
}

/// One metro's app job.
pub(super) struct JobStore {
    versions: Vec<Version>,
    deployments: Vec<Deployment>,
    rollout: Option<JoinHandle<()>>,
    serial: u64,
}

impl Drop for JobStore {
    fn drop(&mut self) {
        if let Some(r) = self.rollout.take() {
            r.abort();
        }
    }
}

/// The update block's values the lab plays.
#[derive(Debug, Clone, Copy)]
struct Update {
    min_healthy: Duration,
    healthy_deadline: Duration,
    progress_deadline: u64,
    auto_revert: bool,
    count: u64,
}

fn ns_duration(v: Option<&Value>, default: Duration) -> Duration {
    v.and_then(Value::as_u64)
        .map(Duration::from_nanos)
        .unwrap_or(default)
}

fn update_of(spec: &Value) -> Update {
    let group = spec.pointer("/TaskGroups/0");
    let block = group
        .and_then(|g| g.get("Update"))
        .filter(|u| u.is_object())
        .or_else(|| spec.get("Update"));
    let get = |k: &str| block.and_then(|b| b.get(k));
    Update {
        min_healthy: ns_duration(get("MinHealthyTime"), Duration::from_secs(10)),
        healthy_deadline: ns_duration(get("HealthyDeadline"), Duration::from_secs(300)),
        progress_deadline: get("ProgressDeadline")
            .and_then(Value::as_u64)
            .unwrap_or(600_000_000_000),
        auto_revert: get("AutoRevert").and_then(Value::as_bool).unwrap_or(false),
        count: group
            .and_then(|g| g.get("Count"))
            .and_then(Value::as_u64)
            .unwrap_or(1),
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

/// The names of the first task group and task (the allocation's).
pub(super) fn group_and_task(spec: &Value) -> (String, String) {
    let group = spec
        .pointer("/TaskGroups/0/Name")
        .and_then(Value::as_str)
        .unwrap_or(crate::deploy::job::GROUP);
    let task = spec
        .pointer("/TaskGroups/0/Tasks/0/Name")
        .and_then(Value::as_str)
        .unwrap_or(crate::deploy::job::TASK);
    (group.to_string(), task.to_string())
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

impl JobStore {
    /// A metro's job at its first version: the console's own job for [`INITIAL_REF`],
    /// deployed and stable.
    pub(super) fn new(code: &str) -> JobStore {
        let deploy = lab_deploy();
        let app = crate::domain::deploy::AppRef::parse(INITIAL_REF).unwrap_or_else(|_| {
            crate::domain::deploy::AppRef {
                full: INITIAL_REF.into(),
                repository: "registry.example/hello".into(),
                tag: Some("v1".into()),
                digest: None,
            }
        });
        let spec = crate::deploy::job::build(&crate::deploy::job::JobInput {
            id: JOB,
            app: &app,
            metro: code,
            datacenters: vec![code.to_string()],
            deploy: &deploy,
        });
        let u = update_of(&spec);
        let now = nanos(SystemTime::now());
        JobStore {
            versions: vec![Version {
                version: 0,
                stable: true,
                spec,
                submit_time: now,
                modify_index: 1,
            }],
            deployments: vec![Deployment {
                id: uuid_for("deployment0", code),
                job_version: 0,
                status: "successful",
                description: "Deployment completed successfully".into(),
                desired: u.count,
                placed: u.count,
                healthy: u.count,
                unhealthy: 0,
                auto_revert: u.auto_revert,
                progress_deadline: u.progress_deadline,
                create_index: 1,
                modify_index: 1,
                job_modify_index: 1,
            }],
            rollout: None,
            serial: 0,
        }
    }

    fn current(&self) -> Option<&Version> {
        self.versions.last()
    }

    /// The current version's spec (group and task names for the allocation).
    pub(super) fn current_spec(&self) -> Value {
        self.current()
            .map(|v| v.spec.clone())
            .unwrap_or(Value::Null)
    }

    /// The current version's number and job modify index.
    pub(super) fn current_version(&self) -> (u64, u64) {
        self.current()
            .map(|v| (v.version, v.modify_index))
            .unwrap_or((0, 1))
    }

    fn version_json(&self, v: &Version) -> Value {
        let mut j = v.spec.clone();
        let first = self.versions.first().map_or(1, |f| f.modify_index);
        j["Version"] = json!(v.version);
        j["Stable"] = json!(v.stable);
        j["SubmitTime"] = json!(v.submit_time);
        j["CreateIndex"] = json!(first);
        j["ModifyIndex"] = json!(v.modify_index);
        j["JobModifyIndex"] = json!(v.modify_index);
        j["Namespace"] = json!("default");
        j["Status"] = json!("running");
        j
    }

    fn deployment_json(d: &Deployment, group: &str) -> Value {
        json!({
            "ID": d.id, "Namespace": "default", "JobID": JOB, "JobVersion": d.job_version,
            "JobModifyIndex": d.job_modify_index, "JobSpecModifyIndex": d.job_modify_index,
            "JobCreateIndex": 1, "IsMultiregion": false,
            "TaskGroups": {group: {
                "AutoRevert": d.auto_revert, "AutoPromote": false, "ProgressDeadline": d.progress_deadline,
                "RequireProgressBy": "0001-01-01T00:00:00Z", "Promoted": false, "PlacedCanaries": null,
                "DesiredCanaries": 0, "DesiredTotal": d.desired, "PlacedAllocs": d.placed,
                "HealthyAllocs": d.healthy, "UnhealthyAllocs": d.unhealthy
            }},
            "Status": d.status, "StatusDescription": d.description,
            "CreateIndex": d.create_index, "ModifyIndex": d.modify_index,
        })
    }

    /// `GET /v1/job/:id`.
    pub(super) fn job_json(&self) -> Value {
        self.current()
            .map(|v| self.version_json(v))
            .unwrap_or(Value::Null)
    }

    /// `GET /v1/job/:id/versions`: newest first.
    pub(super) fn versions_json(&self) -> Value {
        let list: Vec<Value> = self
            .versions
            .iter()
            .rev()
            .map(|v| self.version_json(v))
            .collect();
        json!({"Versions": list, "Diffs": null})
    }

    fn group(&self) -> String {
        group_and_task(&self.current_spec()).0
    }

    /// `GET /v1/job/:id/deployment`: the latest, or `null`.
    pub(super) fn latest_deployment_json(&self) -> Value {
        let g = self.group();
        self.deployments
            .last()
            .map(|d| Self::deployment_json(d, &g))
            .unwrap_or(Value::Null)
    }

    /// `GET /v1/job/:id/deployments`: newest first.
    pub(super) fn deployments_json(&self) -> Value {
        let g = self.group();
        Value::Array(
            self.deployments
                .iter()
                .rev()
                .map(|d| Self::deployment_json(d, &g))
                .collect(),
        )
    }

    /// `GET /v1/deployment/:id`.
    pub(super) fn deployment_by_id(&self, id: &str) -> Option<Value> {
        let g = self.group();
        self.deployments
            .iter()
            .find(|d| d.id == id)
            .map(|d| Self::deployment_json(d, &g))
    }

    /// A new version of `spec` and its deployment, at `index`; the previous deployment
    /// still running is cancelled. Returns (version, deployment id).
    fn add_version(&mut self, code: &str, spec: Value, index: u64) -> (u64, String) {
        let version = self.current().map_or(0, |v| v.version + 1);
        for d in &mut self.deployments {
            if d.status == "running" {
                d.status = "cancelled";
                d.description = "Cancelled due to newer version of job".into();
                d.modify_index = index;
            }
        }
        let u = update_of(&spec);
        self.versions.push(Version {
            version,
            stable: false,
            spec,
            submit_time: nanos(SystemTime::now()),
            modify_index: index,
        });
        self.serial += 1;
        let id = uuid_for(&format!("deployment{}-{}", version, self.serial), code);
        self.deployments.push(Deployment {
            id: id.clone(),
            job_version: version,
            status: "running",
            description: "Deployment is running".into(),
            desired: u.count,
            placed: 0,
            healthy: 0,
            unhealthy: 0,
            auto_revert: u.auto_revert,
            progress_deadline: u.progress_deadline,
            create_index: index,
            modify_index: index,
            job_modify_index: index,
        });
        (version, id)
    }

    fn deployment_mut(&mut self, id: &str) -> Option<&mut Deployment> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }
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
async fn rollout(ctx: Arc<Ctx>, version: u64, deployment: String, app: AppVersion, u: Update) {
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
