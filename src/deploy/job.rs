//! The Nomad job a deployment registers on each metro, built as JSON from serde types
//! (not HCL through `/v1/jobs/parse`, which Nomad 1.4.1 cannot give variables):
//! a service job running `spin up --from REF --listen ${NOMAD_IP_http}:${NOMAD_PORT_http}`
//! under the configured driver, a dynamic `http` port, a service whose HTTP check asks
//! `/.well-known/spin/health`, the `[deploy.update]` block (durations in nanoseconds),
//! and `Meta` carrying the ref so that a new ref always makes a new job version. A
//! template file (`[deploy] job_template`) replaces the built-in job; its strings may
//! name `{ref}`, `{job}`, `{metro}` and `{version}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::config::Deploy;
use crate::domain::deploy::AppRef;
use crate::nomad::jobs::REF_META;

/// The path Spin answers on its HTTP trigger before any route: `OK` when it runs.
pub const HEALTH_PATH: &str = "/.well-known/spin/health";
/// Spin's `{"name", "version"}`.
pub const INFO_PATH: &str = "/.well-known/spin/info";
/// The task group and task of the built-in job.
pub const GROUP: &str = "web";
pub const TASK: &str = "spin";

/// What one metro's job is made of.
#[derive(Debug, Clone)]
pub struct JobInput<'a> {
    pub id: &'a str,
    pub app: &'a AppRef,
    pub metro: &'a str,
    /// The metro agent's datacenter(s): mandatory in Nomad 1.4.1.
    pub datacenters: Vec<String>,
    pub deploy: &'a Deploy,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Job {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    datacenters: Vec<String>,
    meta: BTreeMap<String, String>,
    task_groups: Vec<TaskGroup>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TaskGroup {
    name: &'static str,
    count: u32,
    networks: Vec<Network>,
    update: Update,
    services: Vec<Service>,
    tasks: Vec<Task>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Network {
    dynamic_ports: Vec<Port>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Port {
    label: &'static str,
}

/// `api/jobs.go` `UpdateStrategy`; durations in nanoseconds.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Update {
    max_parallel: u32,
    health_check: &'static str,
    min_healthy_time: u64,
    healthy_deadline: u64,
    progress_deadline: u64,
    auto_revert: bool,
    canary: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Service {
    name: String,
    port_label: &'static str,
    /// Nomad's default: the platform registers its apps in Consul (Traefik reads it).
    provider: &'static str,
    checks: Vec<Check>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Check {
    name: &'static str,
    #[serde(rename = "Type")]
    kind: &'static str,
    path: &'static str,
    interval: u64,
    timeout: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Task {
    name: &'static str,
    driver: String,
    config: TaskConfig,
    resources: Resources,
}

/// A driver's config keys are its own, lower case.
#[derive(Serialize)]
struct TaskConfig {
    command: String,
    args: Vec<String>,
}

#[derive(Serialize)]
struct Resources {
    #[serde(rename = "CPU")]
    cpu: u32,
    #[serde(rename = "MemoryMB")]
    memory_mb: u32,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The built-in job for `input`.
pub fn build(input: &JobInput<'_>) -> Value {
    let d = input.deploy;
    let job = Job {
        id: input.id.to_string(),
        name: input.id.to_string(),
        kind: "service",
        datacenters: input.datacenters.clone(),
        meta: BTreeMap::from([(REF_META.to_string(), input.app.full.clone())]),
        task_groups: vec![TaskGroup {
            name: GROUP,
            count: d.count,
            networks: vec![Network {
                dynamic_ports: vec![Port { label: "http" }],
            }],
            update: Update {
                max_parallel: d.update.max_parallel,
                health_check: "checks",
                min_healthy_time: nanos(d.update.min_healthy_time),
                healthy_deadline: nanos(d.update.healthy_deadline),
                progress_deadline: nanos(d.update.progress_deadline),
                auto_revert: d.update.auto_revert,
                canary: 0,
            },
            services: vec![Service {
                name: input.id.to_string(),
                port_label: "http",
                provider: "consul",
                checks: vec![Check {
                    name: "spin-health",
                    kind: "http",
                    path: HEALTH_PATH,
                    interval: nanos(Duration::from_secs(10)),
                    timeout: nanos(Duration::from_secs(2)),
                }],
            }],
            tasks: vec![Task {
                name: TASK,
                driver: d.driver.clone(),
                config: TaskConfig {
                    command: d.spin.clone(),
                    args: vec![
                        "up".into(),
                        "--from".into(),
                        input.app.full.clone(),
                        "--listen".into(),
                        "${NOMAD_IP_http}:${NOMAD_PORT_http}".into(),
                    ],
                },
                resources: Resources {
                    cpu: 100,
                    memory_mb: 128,
                },
            }],
        }],
    };
    serde_json::to_value(job).unwrap_or(Value::Null)
}

/// The job from a template's text (`{"Job": {…}}` or the bare job): placeholders
/// replaced in every string, the ref's meta key set, the ID, name and datacenters
/// filled when the template leaves them out.
pub fn from_template(text: &str, input: &JobInput<'_>) -> Result<Value, String> {
    let mut v: Value =
        serde_json::from_str(text).map_err(|e| format!("the job template is not JSON: {e}"))?;
    if let Some(inner) = v.get_mut("Job").map(Value::take) {
        v = inner;
    }
    if !v.is_object() {
        return Err("the job template is not a JSON object (a job, or {\"Job\": …})".into());
    }
    substitute(&mut v, input);
    let set_if_missing = |v: &mut Value, key: &str, value: Value| {
        let missing = v.get(key).is_none_or(|x| {
            x.is_null() || x.as_str() == Some("") || x.as_array().is_some_and(Vec::is_empty)
        });
        if missing {
            v[key] = value;
        }
    };
    set_if_missing(&mut v, "ID", Value::from(input.id));
    set_if_missing(&mut v, "Name", Value::from(input.id));
    set_if_missing(
        &mut v,
        "Datacenters",
        Value::from(input.datacenters.clone()),
    );
    if !v.get("Meta").is_some_and(Value::is_object) {
        v["Meta"] = Value::Object(Default::default());
    }
    v["Meta"][REF_META] = Value::from(input.app.full.clone());
    Ok(v)
}

fn substitute(v: &mut Value, input: &JobInput<'_>) {
    match v {
        Value::String(s) if s.contains('{') => {
            *s = s
                .replace("{ref}", &input.app.full)
                .replace("{job}", input.id)
                .replace("{metro}", input.metro)
                .replace("{version}", input.app.version());
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, input)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, input)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(app: &'a AppRef, deploy: &'a Deploy) -> JobInput<'a> {
        JobInput {
            id: "hello",
            app,
            metro: "am",
            datacenters: vec!["dc1".into()],
            deploy,
        }
    }

    /// The built-in job for a ref, against `tests/fixtures/deploy/job_hello_v2.json`
    /// (`UPDATE_GOLDEN=1` rewrites it).
    #[test]
    fn the_built_in_job_matches_its_golden_file() {
        let app = AppRef::parse("registry.example/team/hello:v2").unwrap();
        let deploy = Deploy::default();
        let job = build(&input(&app, &deploy));
        let text = serde_json::to_string_pretty(&serde_json::json!({ "Job": job })).unwrap() + "\n";
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/deploy/job_hello_v2.json"
        );
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        let golden = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            text, golden,
            "UPDATE_GOLDEN=1 cargo test --lib deploy::job rewrites it"
        );
        // What Nomad 1.4.1 insists on, and what makes a new ref a new version.
        assert_eq!(job["Datacenters"][0], "dc1");
        assert_eq!(job["Meta"][REF_META], "registry.example/team/hello:v2");
        assert_eq!(
            job["TaskGroups"][0]["Update"]["MinHealthyTime"],
            10_000_000_000u64
        );
        assert_eq!(
            crate::nomad::jobs::from_arg(&job).as_deref(),
            Some("registry.example/team/hello:v2")
        );
    }

    #[test]
    fn a_template_gets_placeholders_ids_and_the_ref() {
        let app = AppRef::parse("r/hello:v3").unwrap();
        let deploy = Deploy::default();
        let t = r#"{"Job": {"Datacenters": [], "Meta": {"team": "web"},
            "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec",
            "Config": {"command": "/opt/spin", "args": ["up", "--from", "{ref}", "-e", "METRO={metro}", "-e", "V={version}"]}}]}]}}"#;
        let job = from_template(t, &input(&app, &deploy)).unwrap();
        assert_eq!(job["ID"], "hello");
        assert_eq!(job["Datacenters"][0], "dc1");
        assert_eq!(job["Meta"]["team"], "web");
        assert_eq!(job["Meta"][REF_META], "r/hello:v3");
        let args = &job["TaskGroups"][0]["Tasks"][0]["Config"]["args"];
        assert_eq!(args[2], "r/hello:v3");
        assert_eq!(args[4], "METRO=am");
        assert_eq!(args[6], "V=v3");
        assert!(from_template("[1]", &input(&app, &deploy)).is_err());
        assert!(from_template("{", &input(&app, &deploy))
            .unwrap_err()
            .starts_with("the job template is not JSON"));
    }
}
