//! The audit log as data: one record per line, written ahead of every destructive action
//! (`intent`) and after it (`outcome`), by whichever process acted. Consoles and `status`
//! read it back to learn about other processes' actions and about actions whose process
//! died before recording an outcome. Plain data and pure judgements; the files are
//! `ops::journal`'s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ActionKind, Desired};

/// Which half of an action a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Written and fsynced before acting: "this is about to happen".
    Intent,
    /// Written after the action: what happened.
    Outcome,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Done and verified.
    Ok,
    /// Not attempted: read-only, the last advertising metro, the lock, the audit log.
    Refused,
    /// Attempted, and it failed or could not be verified.
    Failed,
    /// Cut short (quit, hang-up, SIGTERM), or its process died before recording it.
    Interrupted,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Refused => "refused",
            Verdict::Failed => "failed",
            Verdict::Interrupted => "interrupted",
        }
    }
}

/// Who started an action: the console, the command line, or (later) a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Console,
    Cli,
    Demo,
}

impl Via {
    pub fn word(self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Cli => "cli",
            Via::Demo => "demo",
        }
    }

    /// "from the command line", for events about another process's action.
    pub fn phrase(self) -> &'static str {
        match self {
            Via::Console => "from a console",
            Via::Cli => "from the command line",
            Via::Demo => "by the demo",
        }
    }
}

/// What an audit record is about: a metro's advertisement, or the installer's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    Withdraw,
    Restore,
    /// `provision apply`: a confirmed plan applied to the installer.
    Apply,
    /// `provision destroy`.
    Destroy,
    /// A deployment: the whole (its `metro` lists the metros) and each metro's part.
    Deploy,
    /// A metro's app put back on its previous job version after a failed deployment.
    Revert,
}

impl AuditAction {
    pub fn verb(self) -> &'static str {
        match self {
            AuditAction::Withdraw => "withdraw",
            AuditAction::Restore => "restore",
            AuditAction::Apply => "apply",
            AuditAction::Destroy => "destroy",
            AuditAction::Deploy => "deploy",
            AuditAction::Revert => "revert",
        }
    }

    /// What to look at when an action of this kind has no recorded outcome.
    pub fn left_for(self) -> &'static str {
        match self {
            AuditAction::Withdraw | AuditAction::Restore => "the metro's advertisement",
            AuditAction::Apply | AuditAction::Destroy => {
                "the installer may be part-way; `provision plan` shows what is left"
            }
            AuditAction::Deploy | AuditAction::Revert => {
                "the deployment may be part-way; `deploy history` and the Nomad pane show where it stopped"
            }
        }
    }

    /// The action on a metro's advertisement, when the record is about one.
    pub fn routing(self) -> Option<ActionKind> {
        match self {
            AuditAction::Withdraw => Some(ActionKind::Withdraw),
            AuditAction::Restore => Some(ActionKind::Restore),
            AuditAction::Apply
            | AuditAction::Destroy
            | AuditAction::Deploy
            | AuditAction::Revert => None,
        }
    }
}

impl From<ActionKind> for AuditAction {
    fn from(a: ActionKind) -> AuditAction {
        match a {
            ActionKind::Withdraw => AuditAction::Withdraw,
            ActionKind::Restore => AuditAction::Restore,
        }
    }
}

/// One line of `audit.jsonl`. Lines of older versions (no `phase`, `result` holding the
/// message) still parse: they read as outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// Shared by an action's intent and outcome.
    #[serde(default)]
    pub id: String,
    #[serde(default = "outcome_phase")]
    pub phase: Phase,
    pub user: String,
    /// When the acting process was reached over SSH: from where, and with which shared
    /// key (a teammate's console opened through `share`'s line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshOrigin>,
    #[serde(default)]
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// The metro acted on; for provisioning, the installer directory's name.
    pub metro: String,
    pub action: AuditAction,
    /// `disable` or `command` for a metro; the binary (`terraform`, `tofu`) for the
    /// installer.
    pub method: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// Outcomes: `ok`, `refused`, `failed` or `interrupted` (older lines: free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Outcomes: the operator-facing sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_after: Option<String>,
    /// Time spent waiting for the state directory's lock before acting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_wait_ms: Option<f64>,
    /// The desired state of every metro once this record is written. Every line written
    /// under the lock carries it, so the latest line is the desired state: it becomes
    /// durable with the same fsync as the outcome, and can never disagree with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<BTreeMap<String, Desired>>,
}

/// Where a process acting over SSH was reached from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshOrigin {
    /// The client's address and port, from sshd's `SSH_CONNECTION` (`203.0.113.7 port
    /// 51234`); `unknown` when sshd did not say.
    pub from: String,
    /// The name (comment) of the shared key the console was opened with, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl SshOrigin {
    /// From `SSH_CONNECTION` (`client_ip client_port server_ip server_port`) and the
    /// shared key's name; `None` when neither is known (not over SSH).
    pub fn from_env(ssh_connection: Option<&str>, key: Option<&str>) -> Option<SshOrigin> {
        let from = ssh_connection.and_then(|c| {
            let mut w = c.split_whitespace();
            Some(format!("{} port {}", w.next()?, w.next()?))
        });
        if from.is_none() && key.is_none() {
            return None;
        }
        Some(SshOrigin {
            from: super::text::visible(&from.unwrap_or_else(|| "unknown".into())).into_owned(),
            key: key.map(|k| super::text::visible(k).into_owned()),
        })
    }

    /// "ssh key teammate from 203.0.113.7 port 51234", "ssh from …".
    pub fn words(&self) -> String {
        match &self.key {
            Some(k) => format!("ssh key {k} from {}", self.from),
            None => format!("ssh from {}", self.from),
        }
    }
}

fn outcome_phase() -> Phase {
    Phase::Outcome
}

impl AuditRecord {
    /// "withdraw of am by root at 12:03:01 (command line, pid 4711)".
    pub fn describe(&self) -> String {
        let clock = self.time.get(11..19).unwrap_or(&self.time);
        let via = match self.via {
            Some(Via::Cli) => "command line, ",
            Some(Via::Console) => "console, ",
            Some(Via::Demo) => "demo, ",
            None => "",
        };
        format!(
            "{} of {} by {} at {clock} ({via}pid {})",
            self.action.verb(),
            self.metro,
            self.who(),
            self.pid
        )
    }

    /// Who acted: "root", or "root (ssh key teammate from 203.0.113.7 port 51234)".
    pub fn who(&self) -> String {
        match &self.ssh {
            Some(o) => format!("{} ({})", self.user, o.words()),
            None => self.user.clone(),
        }
    }

    pub fn verdict(&self) -> Option<Verdict> {
        match self.result.as_deref()? {
            "ok" => Some(Verdict::Ok),
            "refused" => Some(Verdict::Refused),
            "failed" => Some(Verdict::Failed),
            "interrupted" => Some(Verdict::Interrupted),
            text if text.starts_with("refused") => Some(Verdict::Refused),
            _ => Some(Verdict::Failed),
        }
    }
}

/// The desired state as of the latest record that carries one.
pub fn latest_desired(records: &[AuditRecord]) -> Option<&BTreeMap<String, Desired>> {
    records.iter().rev().find_map(|r| r.desired.as_ref())
}

/// The latest intent in `records` that no later outcome answers, if any. Every action
/// takes the lock before its intent and the next one closes dangling intents first, so
/// only the intents of the action in flight can be unanswered: one, or a deployment's
/// and the withdraw it runs inside it (nested, the inner one is latest).
pub fn unanswered(records: &[AuditRecord]) -> Option<&AuditRecord> {
    records
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, r)| r.phase == Phase::Intent)
        .find(|(pos, intent)| {
            !records[pos + 1..]
                .iter()
                .any(|r| r.phase == Phase::Outcome && r.id == intent.id)
        })
        .map(|(_, r)| r)
}

/// An action whose intent has no outcome: still running (its process holds the lock),
/// or abandoned (its process died; nobody holds the lock).
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub intent: AuditRecord,
    pub running: bool,
}

impl Unfinished {
    /// "withdraw of am by root at 12:03:01 (command line, pid 4711) has no recorded
    /// outcome; current state: withdrawn", or "… in progress".
    pub fn note(&self, advertised: Option<bool>) -> String {
        if self.running {
            return format!("{} in progress", self.intent.describe());
        }
        if self.intent.action.routing().is_none() {
            return format!(
                "{} has no recorded outcome; {}",
                self.intent.describe(),
                self.intent.action.left_for()
            );
        }
        let now = match advertised {
            Some(true) => "advertising",
            Some(false) => "withdrawn",
            None => "unknown",
        };
        format!(
            "{} has no recorded outcome; current state: {now}",
            self.intent.describe()
        )
    }
}

/// What a poll learned from the state directory, read around the routers so that drift
/// is judged only on a consistent pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    /// The desired state, or why it could not be read (a missing file is an empty map).
    pub desired: Result<BTreeMap<String, Desired>, String>,
    /// Audit records appended since the previous poll, by any process.
    pub records: Vec<AuditRecord>,
    pub unfinished: Option<Unfinished>,
    /// False when the state directory changed while the routers were being read: the
    /// pair may be inconsistent, so drift is not judged this time.
    pub settled: bool,
}

/// Drift: a metro's advertisement differs from what the operator last asked for. Not
/// judged while an action on that metro is unfinished or the journal was unsettled —
/// another process's withdraw in flight is an event, never drift.
pub fn drift(
    metro: &str,
    advertised: Option<bool>,
    desired: &BTreeMap<String, Desired>,
    unfinished: Option<&Unfinished>,
    settled: bool,
) -> Option<&'static str> {
    if !settled || unfinished.is_some_and(|u| u.running && u.intent.metro == metro) {
        return None;
    }
    let adv = advertised?;
    match desired.get(metro)? {
        Desired::Withdrawn if adv => Some("advertising, but withdrawn was asked"),
        Desired::Advertised if !adv => Some("withdrawn, but advertised was asked"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, phase: Phase, metro: &str) -> AuditRecord {
        AuditRecord {
            time: "2026-11-29T12:03:01.250Z".into(),
            id: id.into(),
            phase,
            user: "root".into(),
            ssh: None,
            pid: 4711,
            via: Some(Via::Cli),
            metro: metro.into(),
            action: ActionKind::Withdraw.into(),
            method: "disable".into(),
            force: false,
            result: (phase == Phase::Outcome).then(|| "ok".into()),
            detail: None,
            convergence_ms: None,
            best_after: None,
            lock_wait_ms: None,
            desired: None,
        }
    }

    #[test]
    fn only_the_latest_intent_can_be_unanswered() {
        let done = vec![
            rec("1", Phase::Intent, "am"),
            rec("1", Phase::Outcome, "am"),
        ];
        assert_eq!(unanswered(&done), None);
        let mut dangling = done.clone();
        dangling.push(rec("2", Phase::Intent, "da"));
        assert_eq!(unanswered(&dangling).map(|r| r.id.as_str()), Some("2"));
        // A refusal (an outcome with another id) does not answer it.
        dangling.push(rec("3", Phase::Outcome, "am"));
        assert_eq!(unanswered(&dangling).map(|r| r.id.as_str()), Some("2"));
        dangling.push(rec("2", Phase::Outcome, "da"));
        assert_eq!(unanswered(&dangling), None);
        // A deployment's intent stays unanswered around the withdraw inside it.
        let mut nested = vec![rec("d", Phase::Intent, "am,da")];
        nested.push(rec("w", Phase::Intent, "am"));
        assert_eq!(unanswered(&nested).map(|r| r.id.as_str()), Some("w"));
        nested.push(rec("w", Phase::Outcome, "am"));
        assert_eq!(unanswered(&nested).map(|r| r.id.as_str()), Some("d"));
        nested.push(rec("d", Phase::Outcome, "am,da"));
        assert_eq!(unanswered(&nested), None);
    }

    #[test]
    fn a_shared_consoles_actions_say_whose_key_and_from_where() {
        assert_eq!(SshOrigin::from_env(None, None), None);
        let o = SshOrigin::from_env(Some("203.0.113.7 51234 10.0.0.2 22"), Some("teammate"))
            .expect("over ssh");
        assert_eq!(o.words(), "ssh key teammate from 203.0.113.7 port 51234");
        let mut r = rec("1", Phase::Intent, "am");
        r.ssh = Some(o);
        assert_eq!(
            r.describe(),
            "withdraw of am by root (ssh key teammate from 203.0.113.7 port 51234) at 12:03:01 (command line, pid 4711)"
        );
        let line = serde_json::to_string(&r).expect("json");
        assert!(
            line.contains(r#""ssh":{"from":"203.0.113.7 port 51234","key":"teammate"}"#),
            "{line}"
        );
        assert_eq!(
            SshOrigin::from_env(Some("::1 40000 ::1 22"), None).map(|o| o.words()),
            Some("ssh from ::1 port 40000".into())
        );
    }

    #[test]
    fn old_lines_read_as_outcomes() {
        let line = r#"{"time":"2026-01-01T00:00:00.000Z","user":"root","metro":"am","action":"withdraw","method":"disable","result":"refused: am is the last metro","convergence_ms":null,"best_after":null}"#;
        let r: AuditRecord = serde_json::from_str(line).expect("old line parses");
        assert_eq!(r.phase, Phase::Outcome);
        assert_eq!(r.verdict(), Some(Verdict::Refused));
    }

    #[test]
    fn notes_say_who_when_and_the_state_found() {
        let u = Unfinished {
            intent: rec("2", Phase::Intent, "am"),
            running: false,
        };
        assert_eq!(
            u.note(Some(false)),
            "withdraw of am by root at 12:03:01 (command line, pid 4711) has no recorded outcome; current state: withdrawn"
        );
        let running = Unfinished { running: true, ..u };
        assert!(running.note(None).ends_with("in progress"));
    }

    #[test]
    fn drift_waits_for_a_settled_journal_and_a_finished_action() {
        let desired = BTreeMap::from([("da".to_string(), Desired::Advertised)]);
        assert_eq!(
            drift("da", Some(false), &desired, None, true),
            Some("withdrawn, but advertised was asked")
        );
        assert_eq!(drift("da", Some(false), &desired, None, false), None);
        let running = Unfinished {
            intent: rec("9", Phase::Intent, "da"),
            running: true,
        };
        assert_eq!(
            drift("da", Some(false), &desired, Some(&running), true),
            None
        );
        let other = Unfinished {
            intent: rec("9", Phase::Intent, "am"),
            running: true,
        };
        assert!(drift("da", Some(false), &desired, Some(&other), true).is_some());
        assert_eq!(drift("da", None, &desired, None, true), None);
        assert_eq!(drift("am", Some(true), &desired, None, true), None);
    }
}
