//! The console's state directory: the desired state of each metro's advertisement and the
//! audit log (JSON lines: time, user, metro, action, method, result, convergence ms).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::Config;
use crate::domain::{Desired, Outcome};

pub struct Store {
    pub dir: PathBuf,
}

/// `$XDG_STATE_HOME/platform-tui`, else `~/.local/state/platform-tui`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("platform-tui");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/platform-tui")
}

/// Who is acting, for the audit log.
pub fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()))
}

impl Store {
    pub fn for_config(cfg: &Config) -> Store {
        Store {
            dir: cfg
                .console
                .state_dir
                .clone()
                .unwrap_or_else(default_state_dir),
        }
    }

    fn desired_path(&self) -> PathBuf {
        self.dir.join("desired.json")
    }

    pub fn audit_path(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    /// Desired state per metro; a missing or unreadable file means "nothing asked".
    pub fn desired(&self) -> BTreeMap<String, Desired> {
        std::fs::read_to_string(self.desired_path())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn set_desired(&self, metro: &str, d: Desired) -> std::io::Result<()> {
        let mut all = self.desired();
        all.insert(metro.to_string(), d);
        std::fs::create_dir_all(&self.dir)?;
        // Write then rename, so a crash never leaves a half-written file.
        let tmp = self.dir.join("desired.json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&all).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, self.desired_path())
    }

    pub fn audit(&self, o: &Outcome) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let record = serde_json::json!({
            "time": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            "user": user(),
            "metro": o.metro,
            "action": o.action.verb(),
            "method": o.method,
            "result": match &o.result { Ok(_) => "ok".to_string(), Err(e) => e.clone() },
            "convergence_ms": o.converged_ms.map(|ms| (ms * 1000.0).round() / 1000.0),
            "best_after": o.best_after,
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.audit_path())?;
        writeln!(f, "{record}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ActionKind;

    #[test]
    fn desired_state_round_trips_and_audit_appends() {
        let dir = std::env::temp_dir().join(format!("pt-store-{}", std::process::id()));
        let s = Store { dir: dir.clone() };
        assert!(s.desired().is_empty());
        s.set_desired("am", Desired::Withdrawn).unwrap();
        s.set_desired("da", Desired::Advertised).unwrap();
        assert_eq!(s.desired().get("am"), Some(&Desired::Withdrawn));
        let o = Outcome {
            metro: "am".into(),
            action: ActionKind::Withdraw,
            method: "disable".into(),
            converged_ms: Some(1.25),
            best_after: Some("da".into()),
            result: Ok("done".into()),
        };
        s.audit(&o).unwrap();
        s.audit(&o).unwrap();
        let text = std::fs::read_to_string(s.audit_path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        let rec: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(rec["action"], "withdraw");
        assert_eq!(rec["result"], "ok");
        assert_eq!(rec["convergence_ms"], 1.25);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
