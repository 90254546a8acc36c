//! Deployments as data: the app reference being deployed, the plan (metros in order, and
//! whether each is drained from anycast first), the phases a metro goes through, what a
//! running deployment reports, and the history line each deployment leaves in the state
//! directory (`deploy.jsonl`). Plain data and pure rules; the pipeline is `deploy`'s, the
//! files `ops::deploy`'s.

use serde::{Deserialize, Serialize};

use super::journal::{Verdict, Via};

/// An OCI reference to a Spin app: `registry.example/team/hello:v2`, optionally pinned
/// to a digest (`…@sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRef {
    /// The reference as given (after a publish: with the digest it printed).
    pub full: String,
    /// Registry and repository: `registry.example/team/hello`.
    pub repository: String,
    /// `v2` in `hello:v2`.
    pub tag: Option<String>,
    /// `sha256:…` in `hello@sha256:…`.
    pub digest: Option<String>,
}

impl AppRef {
    /// Parses a reference. Refused: empty, whitespace or control characters, a leading
    /// `-` (it would read as an option to `spin up`), an empty repository, tag or digest.
    pub fn parse(s: &str) -> Result<AppRef, String> {
        let shown = super::text::visible(s);
        if s.is_empty() {
            return Err("the app reference is empty".into());
        }
        if s.len() > 512 {
            return Err(format!(
                "the app reference is longer than 512 characters: {}…",
                shown.chars().take(40).collect::<String>()
            ));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "the app reference `{shown}` holds whitespace or control characters"
            ));
        }
        if s.starts_with('-') {
            return Err(format!(
                "the app reference `{shown}` starts with `-`: expected REGISTRY/NAME[:TAG][@DIGEST]"
            ));
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        if digest.is_some_and(|d| !d.contains(':') || d.ends_with(':') || d.starts_with(':')) {
            return Err(format!(
                "the app reference `{shown}` has a digest that is not ALGORITHM:HEX"
            ));
        }
        // A colon after the last slash is the tag's; one before it is a registry's port.
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        if repository.is_empty() || repository.ends_with('/') || tag == Some("") {
            return Err(format!(
                "the app reference `{shown}` is not REGISTRY/NAME[:TAG][@DIGEST]"
            ));
        }
        Ok(AppRef {
            full: s.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// The app's name: the repository's last part (`hello`).
    pub fn name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// The version the app is expected to answer once deployed: its tag, else its
    /// digest, else `latest` (what a registry gives for no tag).
    pub fn version(&self) -> &str {
        self.tag
            .as_deref()
            .or(self.digest.as_deref())
            .unwrap_or("latest")
    }

    /// The same app pinned to `digest` (what `spin registry push` printed), tag kept.
    pub fn with_digest(&self, digest: &str) -> AppRef {
        let base = match &self.tag {
            Some(t) => format!("{}:{t}", self.repository),
            None => self.repository.clone(),
        };
        AppRef {
            full: format!("{base}@{digest}"),
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

/// Whether and why a metro is drained (withdrawn from anycast) before it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drain {
    /// Withdrawn (verified), in-flight requests given `drain_ms`, restored after verify.
    Yes,
    /// `--no-drain`: it keeps serving anycast while it changes.
    NotAsked,
    /// It is the only metro advertising: withdrawing it would black-hole the address.
    LastAdvertising,
    /// It does not advertise the address now (withdrawn on purpose): nothing to drain,
    /// and it is not restored afterwards either.
    NotAdvertising,
}

impl Drain {
    pub fn yes(self) -> bool {
        self == Drain::Yes
    }

    /// For the plan: "drain", "no drain: --no-drain", ...
    pub fn words(self) -> &'static str {
        match self {
            Drain::Yes => "drain",
            Drain::NotAsked => "no drain (--no-drain): serves anycast while it changes",
            Drain::LastAdvertising => {
                "no drain: the last metro advertising; requests to it may fail while it changes"
            }
            Drain::NotAdvertising => "no drain: not advertising (and not restored after)",
        }
    }
}

/// One metro of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    pub metro: String,
    pub drain: Drain,
}

/// What a deployment will do: the ref, the job, and the metros in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub app: AppRef,
    pub job: String,
    pub steps: Vec<PlanStep>,
    /// Said before confirming ("da is the last advertising metro: not drained").
    pub warnings: Vec<String>,
}

impl Plan {
    /// "am (drain) → da (drain)".
    pub fn order_words(&self) -> String {
        self.steps
            .iter()
            .map(|s| {
                format!(
                    "{} ({})",
                    s.metro,
                    if s.drain.yes() { "drain" } else { "no drain" }
                )
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// Where a metro is in a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MetroPhase {
    #[default]
    Queued,
    /// Withdrawn from anycast; waiting for requests in flight.
    Draining,
    /// The job is being registered.
    Registering,
    /// Nomad places the new allocations.
    Placing,
    /// Nomad's deployment is successful.
    Healthy,
    /// The metro's own address is probed for the new version.
    Verifying,
    /// Its advertisement is being restored.
    Restoring,
    Done,
    /// Going back to the previous job version.
    Reverting,
    /// Back on the previous version, verified (and restored when it was drained).
    Reverted,
    Failed,
    /// Not reached: an earlier metro failed, or the deployment was cancelled.
    Untouched,
}

impl MetroPhase {
    pub fn word(self) -> &'static str {
        match self {
            MetroPhase::Queued => "queued",
            MetroPhase::Draining => "draining",
            MetroPhase::Registering => "registering",
            MetroPhase::Placing => "placing",
            MetroPhase::Healthy => "healthy",
            MetroPhase::Verifying => "verifying",
            MetroPhase::Restoring => "restoring",
            MetroPhase::Done => "done",
            MetroPhase::Reverting => "reverting",
            MetroPhase::Reverted => "reverted",
            MetroPhase::Failed => "failed",
            MetroPhase::Untouched => "untouched",
        }
    }

    /// Whether the metro is finished with.
    pub fn settled(self) -> bool {
        matches!(
            self,
            MetroPhase::Done | MetroPhase::Reverted | MetroPhase::Failed | MetroPhase::Untouched
        )
    }

    /// How far along a metro is, in steps of [`MetroPhase::STEPS`] (for a gauge).
    pub fn progress(self) -> u8 {
        match self {
            MetroPhase::Queued | MetroPhase::Untouched => 0,
            MetroPhase::Draining => 1,
            MetroPhase::Registering => 2,
            MetroPhase::Placing => 3,
            MetroPhase::Healthy => 4,
            MetroPhase::Verifying => 5,
            MetroPhase::Restoring | MetroPhase::Reverting => 6,
            MetroPhase::Done | MetroPhase::Reverted | MetroPhase::Failed => Self::STEPS,
        }
    }

    pub const STEPS: u8 = 7;
}

/// Where a metro's time went, in milliseconds (absent: the step did not run).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Withdraw (verified) plus the drain time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_ms: Option<f64>,
    /// From the register request to a successful Nomad deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_ms: Option<f64>,
    /// Probing the metro's address until it answers the new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_ms: Option<f64>,
    /// Restore (verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_ms: Option<f64>,
    /// Revert, its deployment and its verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_ms: Option<f64>,
    pub total_ms: f64,
}

/// How one metro's part ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetroReport {
    pub metro: String,
    pub phase: MetroPhase,
    /// Whether it was withdrawn from anycast for the change.
    pub drained: bool,
    /// Whether it advertises the anycast address at the end (`None`: not known).
    #[serde(default)]
    pub advertising: Option<bool>,
    /// The job version running before, and the one registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// What the metro's own address answered last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_version: Option<String>,
    pub timings: Timings,
    /// The sentence: "v2 answers; restored", or the error as Nomad said it.
    pub detail: String,
}

/// Healthy, desired and placed allocations of a Nomad deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllocCounts {
    pub desired: u64,
    pub placed: u64,
    pub healthy: u64,
    pub unhealthy: u64,
    /// The deployment's status word (`running`, `successful`, `failed`, ...).
    pub status: String,
    /// Nomad's `StatusDescription`.
    pub description: String,
}

/// What a running deployment reports, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeployEvent {
    /// The plan as decided under the lock, on fresh routing state.
    Plan { plan: Plan },
    /// A metro entered a phase.
    Phase {
        metro: String,
        phase: MetroPhase,
        /// What it is doing, in a few words.
        detail: String,
    },
    /// The Nomad deployment's counts changed.
    Allocs { metro: String, counts: AllocCounts },
    /// The metro's own address answered (`version` as it said it).
    Version { metro: String, version: String },
    /// A line for the log: a command's output, a note, an error as it came.
    Log {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metro: Option<String>,
        message: String,
    },
    /// A metro is finished with.
    Metro { report: MetroReport },
}

/// One deployment, as `deploy.jsonl` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// RFC 3339, UTC, milliseconds: when it started.
    pub time: String,
    /// The reference asked for.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The digest a publish printed, or the ref's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub result: Verdict,
    pub duration_ms: u64,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    pub metros: Vec<MetroReport>,
    /// The sentence: "v2 on am, da" or why not.
    #[serde(default)]
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_read_like_a_registry_reads_them() {
        let r = AppRef::parse("registry.example/hello:v2").unwrap();
        assert_eq!(r.repository, "registry.example/hello");
        assert_eq!(r.tag.as_deref(), Some("v2"));
        assert_eq!(r.name(), "hello");
        assert_eq!(r.version(), "v2");
        let r = AppRef::parse("localhost:5000/team/hello").unwrap();
        assert_eq!(r.repository, "localhost:5000/team/hello");
        assert_eq!(r.tag, None);
        assert_eq!(r.version(), "latest");
        let r = AppRef::parse("ghcr.io/a/hello:v3@sha256:0123").unwrap();
        assert_eq!(r.tag.as_deref(), Some("v3"));
        assert_eq!(r.digest.as_deref(), Some("sha256:0123"));
        let p = AppRef::parse("ghcr.io/a/hello:v3")
            .unwrap()
            .with_digest("sha256:beef");
        assert_eq!(p.full, "ghcr.io/a/hello:v3@sha256:beef");
        assert_eq!(p.version(), "v3");
        for bad in [
            "",
            "-rf",
            "a b",
            "x/y:",
            "x/y@sha256",
            "x/",
            "hello\u{1b}]2;x",
            ":v1",
        ] {
            assert!(AppRef::parse(bad).is_err(), "{bad:?}");
        }
        let e = AppRef::parse("hello\u{1b}[2J").unwrap_err();
        assert!(e.contains("\\x1b"), "{e}");
    }

    #[test]
    fn phases_and_events_have_stable_words() {
        assert_eq!(MetroPhase::Placing.word(), "placing");
        assert!(MetroPhase::Reverted.settled());
        assert!(!MetroPhase::Verifying.settled());
        let e = DeployEvent::Phase {
            metro: "am".into(),
            phase: MetroPhase::Draining,
            detail: "withdrawn".into(),
        };
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["type"], "phase");
        assert_eq!(j["phase"], "draining");
    }
}
