//! The JSON documents a lab endpoint serves about its own metro: the agent, the node,
//! the app job and its allocations (current and past), with stable UUID-shaped IDs.
//! Answers "what does Nomad say about this metro's app?"; it reads the lab's state and
//! changes nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{Ctx, LabApp, JOB};
use crate::lab::dataplane::{lock, PastAlloc};
use crate::lab::nomad_jobs::{self, JobStore};

const VERSION: &str = "1.4.1";

/// 32 hex digits from a name (FNV-1a, twice): stable per metro, shaped like Nomad's UUIDs.
pub(in crate::lab) fn uuid_for(kind: &str, code: &str) -> String {
    let fnv = |seed: u64| {
        format!("{kind}/{code}").bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let hex = format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    );
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

pub fn alloc_id(code: &str) -> String {
    uuid_for("alloc", code)
}

fn node_id(code: &str) -> String {
    uuid_for("node", code)
}

pub(in crate::lab) fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn rfc3339(t: Option<SystemTime>) -> String {
    t.map(|t| humantime::format_rfc3339_micros(t).to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

pub(super) fn agent_self(ctx: &Ctx) -> Value {
    let code = &ctx.code;
    let running = ctx
        .lab
        .as_ref()
        .is_some_and(|l| lock(&l.metro.state).running);
    json!({
        "config": {"Region": "global", "Datacenter": code, "Version": {"Version": VERSION}, "ACL": {"Enabled": false}},
        "member": {"Name": format!("lab-{code}.global"), "Addr": ctx.addr.ip().to_string(), "Port": 4648, "Status": "alive",
                   "Tags": {"role": "nomad", "region": "global", "dc": code, "build": VERSION}},
        "stats": {
            "nomad": {"server": "true", "leader": "true", "leader_addr": format!("{}:4647", ctx.addr.ip()), "bootstrap": "true", "known_regions": "1"},
            "raft": {"state": "Leader", "last_contact": "never", "num_peers": "0", "commit_index": ctx.cluster.index().to_string()},
            "client": {"node_id": node_id(code), "known_servers": "1", "num_allocations": if running { "1" } else { "0" }, "last_heartbeat": "1.2s", "heartbeat_ttl": "15s"},
            "lab": {"blocking_queries": ctx.cluster.held.load(std::sync::atomic::Ordering::SeqCst).to_string()}
        }
    })
}

pub(super) fn node(ctx: &Ctx) -> Value {
    let code = &ctx.code;
    json!({
        "ID": node_id(code), "Name": format!("lab-{code}"), "Address": ctx.addr.ip().to_string(),
        "Datacenter": code, "NodeClass": "", "Version": VERSION, "Drain": false,
        "SchedulingEligibility": "eligible", "Status": "ready", "StatusDescription": "",
        "Drivers": {"raw_exec": {"Detected": true, "Healthy": true}},
        "CreateIndex": 1, "ModifyIndex": 1
    })
}

pub(super) fn job(ctx: &Ctx) -> Value {
    let st = lock(&ctx.jobs);
    job_at(ctx, &st, ctx.cluster.index())
}

/// The app job's list entry (`/v1/jobs`), with its summary.
pub(super) fn job_at(ctx: &Ctx, jobs: &JobStore, index: u64) -> Value {
    let (running, started) = match &ctx.lab {
        Some(l) => (lock(&l.metro.state).running, l.shared.started),
        None => (false, UNIX_EPOCH),
    };
    let (group, _) = nomad_jobs::group_and_task(&jobs.current_spec());
    let (version, modify) = jobs.current_version();
    json!({
        "ID": JOB, "ParentID": "", "Name": JOB, "Namespace": "default", "Datacenters": [ctx.code],
        "Type": "service", "Priority": 50, "Periodic": false, "ParameterizedJob": false, "Stop": false,
        "Status": "running", "StatusDescription": "", "Version": version,
        "JobSummary": {
            "JobID": JOB, "Namespace": "default",
            "Summary": {group: {"Queued": 0, "Complete": 0, "Failed": if running { 0 } else { 1 },
                                "Running": if running { 1 } else { 0 }, "Starting": 0, "Lost": 0, "Unknown": 0}},
            "Children": {"Pending": 0, "Running": 0, "Dead": 0},
            "CreateIndex": 1, "ModifyIndex": index
        },
        "CreateIndex": 1, "ModifyIndex": index, "JobModifyIndex": modify,
        "SubmitTime": nanos(started)
    })
}

/// The ID of a metro's `seq`th allocation (the first keeps the ID it always had).
fn alloc_id_n(code: &str, seq: u32) -> String {
    if seq == 0 {
        alloc_id(code)
    } else {
        uuid_for(&format!("alloc{seq}"), code)
    }
}

/// Every allocation the endpoint knows: the running one's ID first.
pub(super) fn alloc_ids(ctx: &Ctx) -> Vec<String> {
    let Some(lab) = &ctx.lab else {
        return Vec::new();
    };
    let st = lock(&lab.metro.state);
    std::iter::once(st.alloc)
        .chain(st.past.iter().rev().map(|p| p.seq))
        .map(|seq| alloc_id_n(&ctx.code, seq))
        .collect()
}

/// The app's allocations: the one running now, then those replaced by later versions
/// (complete), newest first.
pub(super) fn allocs(ctx: &Ctx, jobs: &JobStore, task_states: bool, index: u64) -> Vec<Value> {
    let Some(lab) = &ctx.lab else {
        return Vec::new();
    };
    let names = nomad_jobs::group_and_task(&jobs.current_spec());
    let st = lock(&lab.metro.state);
    let mut out = vec![alloc_at(ctx, lab, &st, &names, task_states, index)];
    let mut next = alloc_id_n(&ctx.code, st.alloc);
    for p in st.past.iter().rev() {
        out.push(past_alloc(ctx, lab, p, &next, &names, task_states));
        next = alloc_id_n(&ctx.code, p.seq);
    }
    out
}

fn past_alloc(
    ctx: &Ctx,
    lab: &LabApp,
    p: &PastAlloc,
    next: &str,
    (group, task): &(String, String),
    task_states: bool,
) -> Value {
    let code = &ctx.code;
    let started = p.started_at.unwrap_or(lab.shared.started);
    let mut v = json!({
        "ID": alloc_id_n(code, p.seq), "EvalID": uuid_for(&format!("eval{}", p.seq), code),
        "Name": format!("{JOB}.{group}[0]"), "Namespace": "default",
        "NodeID": node_id(code), "NodeName": format!("lab-{code}"),
        "JobID": JOB, "JobType": "service", "JobVersion": p.job_version, "TaskGroup": group,
        "DesiredStatus": "stop", "DesiredDescription": "alloc is being updated due to job update",
        "ClientStatus": "complete", "ClientDescription": "All tasks have completed",
        "DeploymentStatus": {"Healthy": true, "Timestamp": rfc3339(p.started_at), "Canary": false, "ModifyIndex": 2},
        "FollowupEvalID": "", "NextAllocation": next, "RescheduleTracker": null,
        "PreemptedAllocations": null, "PreemptedByAllocation": "",
        "CreateIndex": 2, "ModifyIndex": 2,
        "CreateTime": nanos(started), "ModifyTime": nanos(p.stopped_at),
    });
    if task_states {
        v["TaskStates"] = json!({task.as_str(): {
            "State": "dead", "Failed": false, "Restarts": 0,
            "LastRestart": rfc3339(None), "StartedAt": rfc3339(p.started_at),
            "FinishedAt": rfc3339(Some(p.stopped_at)),
            "Events": [{"Type": "Killing", "Time": nanos(p.stopped_at),
                        "DisplayMessage": "Sent interrupt. Waiting 5s before force killing",
                        "Message": "", "Details": {}}],
        }});
    }
    v
}

fn alloc_at(
    ctx: &Ctx,
    lab: &LabApp,
    st: &crate::lab::dataplane::AppState,
    (group, task): &(String, String),
    task_states: bool,
    index: u64,
) -> Value {
    let code = &ctx.code;
    let (client, desc) = if st.running {
        ("running", "Tasks are running")
    } else {
        ("failed", "Failed tasks")
    };
    let started = lab.shared.started;
    let created = if st.alloc == 0 {
        started
    } else {
        st.started_at.unwrap_or(started)
    };
    let mut v = json!({
        "ID": alloc_id_n(code, st.alloc), "EvalID": uuid_for(&format!("eval{}", st.alloc), code),
        "Name": format!("{JOB}.{group}[0]"), "Namespace": "default",
        "NodeID": node_id(code), "NodeName": format!("lab-{code}"),
        "JobID": JOB, "JobType": "service", "JobVersion": st.job_version, "TaskGroup": group,
        "DesiredStatus": "run", "DesiredDescription": "",
        "ClientStatus": client, "ClientDescription": desc,
        "DeploymentStatus": {"Healthy": st.running && st.app.healthy, "Timestamp": rfc3339(st.started_at), "Canary": false, "ModifyIndex": index},
        "FollowupEvalID": "", "NextAllocation": "", "RescheduleTracker": null,
        "PreemptedAllocations": null, "PreemptedByAllocation": "",
        "CreateIndex": 2, "ModifyIndex": index,
        "CreateTime": nanos(created),
        "ModifyTime": nanos(st.stopped_at.or(st.started_at).unwrap_or(started)),
    });
    if task_states {
        let events: Vec<Value> = st
            .events
            .iter()
            .rev()
            .take(10)
            .rev()
            .map(|(t, kind, msg)| json!({"Type": kind, "Time": nanos(*t), "DisplayMessage": msg, "Message": msg, "Details": {}}))
            .collect();
        v["TaskStates"] = json!({task.as_str(): {
            "State": if st.running { "running" } else { "dead" },
            "Failed": !st.running,
            "Restarts": st.restarts,
            "LastRestart": if st.restarts > 0 { rfc3339(st.started_at) } else { rfc3339(None) },
            "StartedAt": rfc3339(st.started_at),
            "FinishedAt": rfc3339(st.stopped_at),
            "Events": events,
        }});
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::cluster::synth_id;
    use super::*;

    #[test]
    fn ids_are_stable_and_uuid_shaped() {
        let id = alloc_id("am");
        assert_eq!(id, alloc_id("am"));
        assert_ne!(id, alloc_id("da"));
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(synth_id(1, "am", 7).len(), 36);
    }
}
