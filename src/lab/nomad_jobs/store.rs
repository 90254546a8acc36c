//! What the lab's Nomad endpoint keeps of a metro's app job: its versions, one
//! deployment per new version, the update block it plays, and the job and deployment
//! documents Nomad answers with. Answers "which versions and deployments does this
//! metro's job have, and how does Nomad show them?"; registering is in `mod.rs`, the
//! rollout in `rollout.rs`.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::{lab_deploy, JOB};
use crate::lab::dataplane::INITIAL_REF;
use crate::lab::nomad_api::{nanos, uuid_for};

pub(in crate::lab) struct Version {
    pub(super) version: u64,
    pub(super) stable: bool,
    pub(super) spec: Value,
    pub(super) submit_time: u128,
    pub(super) modify_index: u64,
}

pub(in crate::lab) struct Deployment {
    pub(super) id: String,
    pub(super) job_version: u64,
    pub(super) status: &'static str,
    pub(super) description: String,
    pub(super) desired: u64,
    pub(super) placed: u64,
    pub(super) healthy: u64,
    pub(super) unhealthy: u64,
    pub(super) auto_revert: bool,
    pub(super) progress_deadline: u64,
    pub(super) create_index: u64,
    pub(super) modify_index: u64,
    pub(super) job_modify_index: u64,
}

/// One metro's app job.
pub(in crate::lab) struct JobStore {
    pub(super) versions: Vec<Version>,
    pub(super) deployments: Vec<Deployment>,
    pub(super) rollout: Option<JoinHandle<()>>,
    pub(super) serial: u64,
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
pub(super) struct Update {
    pub(super) min_healthy: Duration,
    pub(super) healthy_deadline: Duration,
    pub(super) progress_deadline: u64,
    pub(super) auto_revert: bool,
    pub(super) count: u64,
}

fn ns_duration(v: Option<&Value>, default: Duration) -> Duration {
    v.and_then(Value::as_u64)
        .map(Duration::from_nanos)
        .unwrap_or(default)
}

pub(super) fn update_of(spec: &Value) -> Update {
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

/// The names of the first task group and task (the allocation's).
pub(in crate::lab) fn group_and_task(spec: &Value) -> (String, String) {
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

impl JobStore {
    /// A metro's job at its first version: the console's own job for [`INITIAL_REF`],
    /// deployed and stable.
    pub(in crate::lab) fn new(code: &str) -> JobStore {
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

    pub(super) fn current(&self) -> Option<&Version> {
        self.versions.last()
    }

    /// The current version's spec (group and task names for the allocation).
    pub(in crate::lab) fn current_spec(&self) -> Value {
        self.current()
            .map(|v| v.spec.clone())
            .unwrap_or(Value::Null)
    }

    /// The current version's number and job modify index.
    pub(in crate::lab) fn current_version(&self) -> (u64, u64) {
        self.current()
            .map(|v| (v.version, v.modify_index))
            .unwrap_or((0, 1))
    }

    pub(super) fn version_json(&self, v: &Version) -> Value {
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
    pub(in crate::lab) fn job_json(&self) -> Value {
        self.current()
            .map(|v| self.version_json(v))
            .unwrap_or(Value::Null)
    }

    /// `GET /v1/job/:id/versions`: newest first.
    pub(in crate::lab) fn versions_json(&self) -> Value {
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
    pub(in crate::lab) fn latest_deployment_json(&self) -> Value {
        let g = self.group();
        self.deployments
            .last()
            .map(|d| Self::deployment_json(d, &g))
            .unwrap_or(Value::Null)
    }

    /// `GET /v1/job/:id/deployments`: newest first.
    pub(in crate::lab) fn deployments_json(&self) -> Value {
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
    pub(in crate::lab) fn deployment_by_id(&self, id: &str) -> Option<Value> {
        let g = self.group();
        self.deployments
            .iter()
            .find(|d| d.id == id)
            .map(|d| Self::deployment_json(d, &g))
    }

    /// A new version of `spec` and its deployment, at `index`; the previous deployment
    /// still running is cancelled. Returns (version, deployment id).
    pub(super) fn add_version(&mut self, code: &str, spec: Value, index: u64) -> (u64, String) {
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

    pub(super) fn deployment_mut(&mut self, id: &str) -> Option<&mut Deployment> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }
}
