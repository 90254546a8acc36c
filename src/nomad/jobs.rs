//! The write side a deployment needs (reference `deploy.md` §2): register a job, its
//! versions, its latest deployment and one deployment by ID (both as blocking queries),
//! and revert to an earlier version. Answers are decoded leniently (fields Nomad 1.4.1
//! lacks are optional) and their texts made visible. Errors keep Nomad's own words: a
//! 403 with what the token lacks, a 400 with the validation message; never the token.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{Client, Indexed, NomadError, QueryOptions};
use crate::domain::deploy::AllocCounts;
use crate::domain::text::visible;

/// `POST /v1/jobs` and `/v1/job/:id/revert` answer this (`api/jobs.go`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub struct RegisterResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    pub warnings: String,
}

/// One version of a job, as `/v1/job/:id/versions` lists them (newest first).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobVersion {
    pub version: u64,
    pub stable: bool,
    pub job_modify_index: u64,
    pub submit_time: i64,
    pub meta: Option<BTreeMap<String, String>>,
    /// The whole job, for what the typed fields leave out (the task's args).
    #[serde(skip)]
    pub raw: Value,
}

impl JobVersion {
    /// The app reference the version runs: the console's meta key, else the `--from`
    /// (or `--from-registry`) argument of the first task's config.
    pub fn app_ref(&self) -> Option<String> {
        if let Some(r) = self.meta.as_ref().and_then(|m| m.get(REF_META)) {
            return Some(visible(r).into_owned());
        }
        from_arg(&self.raw).map(|r| visible(&r).into_owned())
    }
}

/// The job meta key that carries the app reference, so a new ref always makes a new
/// job version (Nomad ignores a register of an identical job).
pub const REF_META: &str = "platform-tui.ref";

/// The `--from`/`--from-registry` argument of the first task that has one.
pub fn from_arg(job: &Value) -> Option<String> {
    let groups = job.get("TaskGroups")?.as_array()?;
    for g in groups {
        for t in g
            .get("Tasks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let args = t
                .pointer("/Config/args")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut it = args.iter().filter_map(Value::as_str);
            while let Some(a) = it.next() {
                if a == "--from" || a == "--from-registry" || a == "-f" {
                    return it.next().map(str::to_string);
                }
                if let Some(v) = a
                    .strip_prefix("--from=")
                    .or(a.strip_prefix("--from-registry="))
                {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

/// A Nomad deployment (`api/deployments.go`); `CreateTime`/`ModifyTime` are missing in
/// 1.4.1 and not read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub struct Deployment {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_version: u64,
    pub job_modify_index: u64,
    pub job_spec_modify_index: u64,
    pub status: String,
    pub status_description: String,
    pub task_groups: BTreeMap<String, DeploymentState>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// One task group's progress in a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentState {
    pub auto_revert: bool,
    pub promoted: bool,
    pub desired_canaries: u64,
    pub desired_total: u64,
    pub placed_allocs: u64,
    pub healthy_allocs: u64,
    pub unhealthy_allocs: u64,
}

/// How a deployment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Running,
    Successful,
    /// `failed` or `cancelled`.
    Failed,
}

impl Deployment {
    /// Successful only when Nomad says so and every group has its healthy allocations
    /// (and promoted canaries); failed or cancelled is a failure; the rest runs.
    pub fn standing(&self) -> Standing {
        match self.status.as_str() {
            "failed" | "cancelled" => Standing::Failed,
            "successful"
                if self.task_groups.values().all(|g| {
                    g.healthy_allocs >= g.desired_total && (g.desired_canaries == 0 || g.promoted)
                }) =>
            {
                Standing::Successful
            }
            _ => Standing::Running,
        }
    }

    /// The counts summed over the groups, with the status words.
    pub fn counts(&self) -> AllocCounts {
        // Saturating: the counts come from outside, and their sum can overflow.
        let sum = |f: fn(&DeploymentState) -> u64| {
            self.task_groups
                .values()
                .map(f)
                .fold(0u64, u64::saturating_add)
        };
        AllocCounts {
            desired: sum(|g| g.desired_total),
            placed: sum(|g| g.placed_allocs),
            healthy: sum(|g| g.healthy_allocs),
            unhealthy: sum(|g| g.unhealthy_allocs),
            status: visible(&self.status).into_owned(),
            description: visible(&self.status_description).into_owned(),
        }
    }
}

/// Decodes what `POST /v1/jobs` and `/v1/job/:id/revert` answer (missing fields are
/// zero or empty, unknown ones ignored).
pub fn decode_register(b: &[u8]) -> Result<RegisterResponse, serde_json::Error> {
    serde_json::from_slice(b)
}

/// Decodes `GET /v1/job/:id/versions` (`{"Versions": [job, …], "Diffs": …}`), each
/// version keeping its whole job as `raw`, in Nomad's order.
pub fn decode_versions(b: &[u8]) -> Result<Vec<JobVersion>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Versions {
        #[serde(rename = "Versions", default)]
        versions: Vec<Value>,
    }
    let v: Versions = serde_json::from_slice(b)?;
    v.versions
        .into_iter()
        .map(|raw| {
            let mut j: JobVersion = serde_json::from_value(raw.clone())?;
            j.raw = raw;
            Ok(j)
        })
        .collect()
}

/// Decodes `GET /v1/deployment/:id`.
pub fn decode_deployment(b: &[u8]) -> Result<Deployment, serde_json::Error> {
    serde_json::from_slice(b)
}

/// Decodes `GET /v1/job/:id/deployment`: `null` when the job has no deployment.
pub fn decode_maybe_deployment(b: &[u8]) -> Result<Option<Deployment>, serde_json::Error> {
    serde_json::from_slice(b)
}

impl Client {
    fn ns_params(&self) -> Vec<(&str, &str)> {
        self.object_namespace()
            .map(|n| ("namespace", n))
            .into_iter()
            .collect()
    }

    /// `POST /v1/jobs` with `{"Job": job}` (ACL `namespace:submit-job`). A 403 says so.
    pub async fn register(&self, job: &Value) -> Result<RegisterResponse, NomadError> {
        let mut body = json!({ "Job": job });
        if let Some(ns) = self.object_namespace() {
            body["Job"]["Namespace"] = json!(ns);
        }
        self.post(&["jobs"], &body, decode_register)
            .await
            .map_err(|e| lacks(e, "submit-job"))
    }

    /// `GET /v1/job/:id/versions`, newest first; `None` when the job does not exist.
    pub async fn job_versions(&self, job: &str) -> Result<Option<Vec<JobVersion>>, NomadError> {
        let params = self.ns_params();
        match self
            .get_indexed(
                &["job", job, "versions"],
                &params,
                QueryOptions::default(),
                decode_versions,
            )
            .await
        {
            Ok(v) => {
                let mut list = v.value;
                list.sort_by_key(|j| std::cmp::Reverse(j.version));
                Ok(Some(list))
            }
            Err(NomadError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(lacks(e, "read-job")),
        }
    }

    /// `GET /v1/job/:id/deployment`: the job's latest deployment (`None`: it has none),
    /// as a blocking query when `q.index > 0`.
    pub async fn latest_deployment(
        &self,
        job: &str,
        q: QueryOptions,
    ) -> Result<Indexed<Option<Deployment>>, NomadError> {
        let params = self.ns_params();
        self.get_indexed(
            &["job", job, "deployment"],
            &params,
            q,
            decode_maybe_deployment,
        )
        .await
        .map_err(|e| lacks(e, "read-job"))
    }

    /// `GET /v1/deployment/:id`, as a blocking query when `q.index > 0`.
    pub async fn deployment(
        &self,
        id: &str,
        q: QueryOptions,
    ) -> Result<Indexed<Deployment>, NomadError> {
        let params = self.ns_params();
        self.get_indexed(&["deployment", id], &params, q, decode_deployment)
            .await
            .map_err(|e| lacks(e, "read-job"))
    }

    /// `POST /v1/job/:id/revert` to `version`; with `enforce_prior`, only while the
    /// job is still at that version (a teammate's newer version is not overwritten).
    pub async fn revert(
        &self,
        job: &str,
        version: u64,
        enforce_prior: Option<u64>,
    ) -> Result<RegisterResponse, NomadError> {
        let mut body = json!({ "JobID": job, "JobVersion": version });
        if let Some(p) = enforce_prior {
            body["EnforcePriorVersion"] = json!(p);
        }
        if let Some(ns) = self.object_namespace() {
            body["Namespace"] = json!(ns);
        }
        self.post(&["job", job, "revert"], &body, decode_register)
            .await
            .map_err(|e| lacks(e, "submit-job"))
    }
}

/// A 403 names the capability the request needs: Nomad's own body says only
/// "Permission denied".
fn lacks(e: NomadError, capability: &str) -> NomadError {
    match e {
        NomadError::Forbidden(body) => {
            let body = if body.trim().is_empty() {
                "Permission denied".to_string()
            } else {
                body
            };
            NomadError::Forbidden(format!(
                "{body} (the token needs the `{capability}` capability on the job's namespace)"
            ))
        }
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_decode_leniently_and_stand() {
        let text = r#"{"ID":"d1","JobID":"hello","JobVersion":3,"Status":"running",
            "StatusDescription":"Deployment is running","TaskGroups":{"web":{"Promoted":false,
            "DesiredCanaries":0,"DesiredTotal":2,"PlacedAllocs":1,"HealthyAllocs":0,
            "UnhealthyAllocs":0,"PlacedCanaries":null,"RequireProgressBy":"2026-01-01T00:00:00Z"}},
            "CreateIndex":9,"ModifyIndex":10,"Unknown":1}"#;
        let mut d = decode_deployment(text.as_bytes()).unwrap();
        assert_eq!(d.standing(), Standing::Running);
        let c = d.counts();
        assert_eq!((c.desired, c.placed, c.healthy), (2, 1, 0));
        d.status = "successful".into();
        assert_eq!(
            d.standing(),
            Standing::Running,
            "not every alloc healthy yet"
        );
        d.task_groups.get_mut("web").unwrap().healthy_allocs = 2;
        assert_eq!(d.standing(), Standing::Successful);
        d.status = "cancelled".into();
        assert_eq!(d.standing(), Standing::Failed);
        assert_eq!(decode_maybe_deployment(b"null").unwrap(), None);
        d.status_description = "bad\u{1b}[2J".into();
        assert_eq!(d.counts().description, "bad\\x1b[2J");
    }

    #[test]
    fn versions_know_their_ref() {
        let text = r#"{"Versions":[
            {"Version":0,"Stable":true,"TaskGroups":[{"Tasks":[{"Config":{"args":["up","--from","r/hello:v1","--listen","x"]}}]}]},
            {"Version":1,"Stable":false,"Meta":{"platform-tui.ref":"r/hello:v2"}}],"Diffs":null}"#;
        let v = decode_versions(text.as_bytes()).unwrap();
        assert_eq!(v[0].app_ref().as_deref(), Some("r/hello:v1"));
        assert_eq!(v[1].app_ref().as_deref(), Some("r/hello:v2"));
        assert!(v[0].stable);
    }

    #[test]
    fn counts_that_overflow_saturate() {
        let text = br#"{"Status":"running","TaskGroups":{
            "a":{"DesiredTotal":18446744073709551615,"HealthyAllocs":1},
            "b":{"DesiredTotal":1,"HealthyAllocs":2}}}"#;
        let c = decode_deployment(text).unwrap().counts();
        assert_eq!((c.desired, c.healthy), (u64::MAX, 3));
    }

    #[test]
    fn the_deploy_fixtures_decode() {
        let fx = |name: &str| {
            std::fs::read(format!(
                "{}/tests/fixtures/deploy/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let r = decode_register(&fx("nomad_register.json")).unwrap();
        assert_eq!(r.job_modify_index, 212);
        let v = decode_versions(&fx("nomad_job_versions.json")).unwrap();
        let refs: Vec<_> = v.iter().map(|j| (j.version, j.app_ref())).collect();
        assert_eq!(
            refs,
            [
                (2, Some("registry.example/team/hello:v2".to_string())),
                (1, Some("registry.example/team/hello:v1".to_string()))
            ]
        );
        for (name, standing) in [
            ("nomad_deployment_running.json", Standing::Running),
            ("nomad_deployment_successful.json", Standing::Successful),
            ("nomad_deployment_failed.json", Standing::Failed),
        ] {
            let d = decode_deployment(&fx(name)).unwrap();
            assert_eq!((d.standing(), d.job_version), (standing, 2), "{name}");
        }
        assert_eq!(
            decode_maybe_deployment(&fx("nomad_job_deployment_none.json")).unwrap(),
            None
        );
    }

    #[test]
    fn a_refusal_names_the_capability() {
        let e = lacks(
            NomadError::Forbidden("Permission denied".into()),
            "submit-job",
        );
        assert_eq!(
            e.to_string(),
            "403 Permission denied (the token needs the `submit-job` capability on the job's namespace)"
        );
        let e = lacks(
            NomadError::Http {
                status: 400,
                body: "1 error occurred: * Missing job datacenters".into(),
            },
            "submit-job",
        );
        assert_eq!(
            e.to_string(),
            "HTTP 400: 1 error occurred: * Missing job datacenters"
        );
    }
}
