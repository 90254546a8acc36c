//! Provisioning backend: drives `terraform` or `tofu` in an installer directory through
//! its `-json` machine UI, and turns the installer's outputs into the console's metros.
//! Never imports ratatui, crossterm, `app` or `config`: the config layer fills
//! [`Settings`], the console and the CLI call the operations and show the [`Event`]s.
//!
//! The flow: [`plan`] (runs `init` first when the directory has never been initialised)
//! writes a saved plan ([`PlanFile`], a secret: private, deleted when dropped) and returns
//! its summary → the operator confirms → [`apply`] applies exactly that plan → [`outputs`]
//! reads `output -json` (sensitive values dropped at once) → [`outputs::metro_map`] and
//! [`metros::diff`] say which metros came or went → [`metros::apply_to_config`] writes
//! them into the config text. Every operation takes a [`Cancel`] (first request: one
//! SIGINT, terraform stops gracefully; second: a second SIGINT) and an `on_event` callback
//! that receives every line as it comes.
//!
//! Submodules: [`stream`] (the `-json` parser), [`run`] (process handling), [`outputs`],
//! [`metros`]. Facts: `shared/reference/provision.md`.

pub mod metros;
pub mod outputs;
pub mod run;
pub mod stream;
pub mod tracker;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use metros::{apply_to_config, diff, ConfigMetro, MetroDiff};
pub use outputs::{anycast_address, metro_map, OutputNames, OutputValue, Outputs, Sensitive};
pub use run::{Cancel, RunEnd};
pub use stream::{parse_line, Body, Change, ChangeSummary, Diagnostic, Event, Message};
pub use tracker::Tracker;

/// A provisioning failure of this program's own (no binary, cannot start, unreadable
/// output). What terraform reports is in the outcomes, as [`Diagnostic`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionError(pub String);

impl std::fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ProvisionError {}

/// What provisioning needs to know; plain data that the config layer fills
/// (`[provision]`: `binary`, `dir`, `vars`, `var_files`, `outputs`, `lock_timeout`,
/// `pass_env`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `terraform` or `tofu` (a name looked up on PATH, or a path); `None`: the first of
    /// `tofu`, `terraform` on PATH.
    pub binary: Option<PathBuf>,
    /// The installer directory (where `terraform` runs), absolute or relative to the
    /// current directory.
    pub dir: PathBuf,
    /// `-var NAME=VALUE`, in order (a later one wins): the config's `[provision.vars]`
    /// first, then the command line's `--var`.
    pub vars: Vec<(String, String)>,
    /// `-var-file=PATH`, before the vars.
    pub var_files: Vec<PathBuf>,
    pub output_names: OutputNames,
    /// `-lock-timeout`: how long to wait for a state lock another run holds; `None`:
    /// terraform's default (fail at once).
    pub lock_timeout: Option<Duration>,
    /// Environment variables passed on although they look like credentials (a provider's
    /// token). Every other token-like variable is withheld ([`run::token_like`]).
    pub pass_env: Vec<String>,
    /// Environment variables set for every run (after the clean-up): a provider's
    /// settings, `TF_LOG`, ...
    pub env: Vec<(String, String)>,
}

impl Settings {
    fn env(&self) -> run::Env<'_> {
        run::Env {
            pass: &self.pass_env,
            set: &self.env,
        }
    }
}

/// The binary to run: `explicit` (a path, or a name looked up on PATH), else the first of
/// `tofu`, `terraform` on PATH. The error names both and the `[provision] binary` key.
pub fn find_binary(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let lookup = |name: &Path| -> Option<PathBuf> {
        if name.components().count() > 1 {
            return is_executable(name).then(|| name.to_path_buf());
        }
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    };
    match explicit {
        Some(b) => lookup(b).ok_or_else(|| {
            format!(
                "the provisioning binary `{}` (`[provision] binary` in the config) is not \
                 an executable file{}",
                crate::domain::text::visible(&b.display().to_string()),
                if b.components().count() > 1 {
                    String::new()
                } else {
                    " on PATH".to_string()
                }
            )
        }),
        None => ["tofu", "terraform"]
            .iter()
            .find_map(|n| lookup(Path::new(n)))
            .ok_or_else(|| {
                "neither `tofu` nor `terraform` is on PATH: install one of them, or set \
                 `[provision] binary` in the config to its path"
                    .to_string()
            }),
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How a command ended, as the operator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Succeeded,
    /// terraform exited non-zero (or was killed: `code` `None`) without being cancelled.
    Failed {
        code: Option<i32>,
    },
    /// Cancelled by [`Cancel`]: `interrupts` SIGINTs were sent (0 when it never started).
    Cancelled {
        interrupts: u8,
    },
}

impl Finish {
    fn of(end: &RunEnd, ok_codes: &[i32]) -> Finish {
        match end.code {
            Some(c) if ok_codes.contains(&c) => Finish::Succeeded,
            _ if end.interrupts > 0 || !end.started => Finish::Cancelled {
                interrupts: end.interrupts,
            },
            code => Finish::Failed { code },
        }
    }

    pub fn succeeded(self) -> bool {
        self == Finish::Succeeded
    }
}

/// A saved plan in a private temporary directory (0700, the file 0600): it holds the whole
/// configuration and every value in clear, sensitive ones included. Deleted when dropped
/// (after an apply, or when the operator declines).
pub struct PlanFile {
    dir: tempfile::TempDir,
    path: PathBuf,
    destroy: bool,
}

impl PlanFile {
    fn new(destroy: bool) -> Result<PlanFile, ProvisionError> {
        let dir = tempfile::Builder::new()
            .prefix("platform-tui-plan-")
            .tempdir()
            .map_err(|e| {
                ProvisionError(format!("cannot make a private directory for the plan: {e}"))
            })?;
        let path = dir.path().join("tfplan");
        Ok(PlanFile { dir, path, destroy })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it is a destroy plan.
    pub fn destroy(&self) -> bool {
        self.destroy
    }

    fn restrict(&self) {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o700));
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600));
    }
}

impl std::fmt::Debug for PlanFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanFile")
            .field("path", &self.path)
            .field("destroy", &self.destroy)
            .finish()
    }
}

/// What a plan found.
#[derive(Debug)]
pub struct PlanOutcome {
    pub finish: Finish,
    /// The saved plan to apply; `Some` exactly when the plan succeeded.
    pub plan: Option<PlanFile>,
    /// Whether applying it would change anything (resources or outputs):
    /// `-detailed-exitcode` 2. Nothing to apply when false.
    pub has_changes: bool,
    /// The plan's `change_summary`.
    pub summary: Option<ChangeSummary>,
    /// One per changed resource (`planned_change`).
    pub changes: Vec<Change>,
    /// Warnings and errors, in order (a missing variable, a failed validation, a lock held
    /// by another run, ...).
    pub diagnostics: Vec<Diagnostic>,
}

/// What an apply did.
#[derive(Debug, Clone)]
pub struct ApplyOutcome {
    pub finish: Finish,
    /// The apply's `change_summary` (absent when it failed or was cancelled).
    pub summary: Option<ChangeSummary>,
    /// Resources whose change failed (`apply_errored`), by address.
    pub errored: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Accumulates what every operation reports, and forwards each event.
struct Collector<'a> {
    on_event: &'a mut (dyn FnMut(Event) + Send),
    summary: Option<ChangeSummary>,
    changes: Vec<Change>,
    diagnostics: Vec<Diagnostic>,
    errored: Vec<String>,
}

impl<'a> Collector<'a> {
    fn new(on_event: &'a mut (dyn FnMut(Event) + Send)) -> Self {
        Collector {
            on_event,
            summary: None,
            changes: Vec::new(),
            diagnostics: Vec::new(),
            errored: Vec::new(),
        }
    }

    fn take(&mut self, e: Event) {
        if let Event::Message(m) = &e {
            match &m.body {
                Body::ChangeSummary(s) => self.summary = Some(*s),
                Body::PlannedChange(c) => self.changes.push(c.clone()),
                Body::Diagnostic(d) => self.diagnostics.push(d.clone()),
                Body::ApplyErrored(h) => self.errored.push(h.resource.addr.clone()),
                _ => {}
            }
        }
        (self.on_event)(e)
    }
}

fn binary(settings: &Settings) -> Result<PathBuf, ProvisionError> {
    find_binary(settings.binary.as_deref()).map_err(ProvisionError)
}

fn dir(settings: &Settings) -> Result<PathBuf, ProvisionError> {
    let d = &settings.dir;
    if !d.is_dir() {
        return Err(ProvisionError(format!(
            "the installer directory {} (`[provision] dir`) does not exist",
            crate::domain::text::visible(&d.display().to_string())
        )));
    }
    Ok(d.clone())
}

fn lock_arg(settings: &Settings) -> Option<OsString> {
    settings
        .lock_timeout
        .map(|t| format!("-lock-timeout={}ms", t.as_millis()).into())
}

/// Runs `init -input=false` when the directory has no `.terraform` (never initialised).
/// Returns `None` when nothing had to be done, else how it ended.
pub async fn init_if_needed(
    settings: &Settings,
    cancel: &Cancel,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<Option<Finish>, ProvisionError> {
    let dir = dir(settings)?;
    if dir.join(".terraform").is_dir() {
        return Ok(None);
    }
    let bin = binary(settings)?;
    // Plain output: `init -json` exists only from Terraform 1.9 (its lines are Raw events).
    let args: Vec<OsString> = vec!["init".into(), "-input=false".into(), "-no-color".into()];
    let end = run::run(
        &bin,
        &dir,
        &args,
        settings.env(),
        run::Stdout::Events,
        cancel,
        on_event,
    )
    .await?;
    Ok(Some(Finish::of(&end, &[0])))
}

/// `plan -json -input=false -detailed-exitcode -out=PLANFILE` (with `-destroy` when asked),
/// after `init` when needed. The plan file is kept only when the plan succeeded.
pub async fn plan(
    settings: &Settings,
    destroy: bool,
    cancel: &Cancel,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<PlanOutcome, ProvisionError> {
    let dir = dir(settings)?;
    let bin = binary(settings)?;
    let mut c = Collector::new(on_event);
    if let Some(f) = init_if_needed(settings, cancel, &mut |e| c.take(e)).await? {
        if !f.succeeded() {
            return Ok(PlanOutcome {
                finish: f,
                plan: None,
                has_changes: false,
                summary: None,
                changes: Vec::new(),
                diagnostics: c.diagnostics,
            });
        }
    }
    let file = PlanFile::new(destroy)?;
    let mut out = OsString::from("-out=");
    out.push(file.path());
    let mut args: Vec<OsString> = vec![
        "plan".into(),
        "-json".into(),
        "-input=false".into(),
        "-no-color".into(),
        "-detailed-exitcode".into(),
        out,
    ];
    if destroy {
        args.push("-destroy".into());
    }
    args.extend(lock_arg(settings));
    for f in &settings.var_files {
        let mut a = OsString::from("-var-file=");
        a.push(f);
        args.push(a);
    }
    for (k, v) in &settings.vars {
        args.push("-var".into());
        args.push(format!("{k}={v}").into());
    }
    let end = run::run(
        &bin,
        &dir,
        &args,
        settings.env(),
        run::Stdout::Events,
        cancel,
        &mut |e| c.take(e),
    )
    .await?;
    let finish = Finish::of(&end, &[0, 2]);
    let plan = if finish.succeeded() && file.path().is_file() {
        file.restrict();
        Some(file)
    } else {
        None
    };
    Ok(PlanOutcome {
        finish,
        has_changes: finish.succeeded() && end.code == Some(2),
        plan,
        summary: c.summary,
        changes: c.changes,
        diagnostics: c.diagnostics,
    })
}

/// `apply -json -input=false PLANFILE`: applies exactly the confirmed plan (a stale plan
/// is refused by terraform with a diagnostic). The plan file is deleted afterwards.
pub async fn apply(
    settings: &Settings,
    plan: PlanFile,
    cancel: &Cancel,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<ApplyOutcome, ProvisionError> {
    let dir = dir(settings)?;
    let bin = binary(settings)?;
    let mut c = Collector::new(on_event);
    let mut args: Vec<OsString> = vec![
        "apply".into(),
        "-json".into(),
        "-input=false".into(),
        "-no-color".into(),
    ];
    args.extend(lock_arg(settings));
    args.push(plan.path().into());
    let end = run::run(
        &bin,
        &dir,
        &args,
        settings.env(),
        run::Stdout::Events,
        cancel,
        &mut |e| c.take(e),
    )
    .await;
    drop(plan);
    let end = end?;
    Ok(ApplyOutcome {
        finish: Finish::of(&end, &[0]),
        // A plan's summary is re-emitted by no apply; this is the apply's own.
        summary: c.summary.filter(|s| s.operation != stream::Operation::Plan),
        errored: c.errored,
        diagnostics: c.diagnostics,
    })
}

/// `output -json`: every output, sensitive values dropped as they are read. stdout is never
/// sent as events (it holds the sensitive values); stderr lines are.
pub async fn outputs(
    settings: &Settings,
    cancel: &Cancel,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<Outputs, ProvisionError> {
    let dir = dir(settings)?;
    let bin = binary(settings)?;
    let args: Vec<OsString> = vec!["output".into(), "-json".into(), "-no-color".into()];
    let mut stderr = Vec::new();
    let end = run::run(
        &bin,
        &dir,
        &args,
        settings.env(),
        run::Stdout::Capture,
        cancel,
        &mut |e| {
            if let Event::Stderr(t) = &e {
                stderr.push(t.clone());
            }
            on_event(e)
        },
    )
    .await?;
    let mut captured = end.captured.clone().unwrap_or_default();
    let parsed = if end.success() {
        Outputs::parse(&captured).map_err(ProvisionError)
    } else {
        let said = stderr
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.chars().all(|c| "│╷╵".contains(c)))
            .collect::<Vec<_>>()
            .join(" ");
        Err(ProvisionError(format!(
            "`{} output -json` failed ({}){}",
            bin.display(),
            end.code
                .map(|c| format!("exit {c}"))
                .unwrap_or_else(|| "killed".into()),
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )))
    };
    // The raw text held the sensitive values: do not leave them lying in freed memory.
    captured.fill(0);
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_names_both_and_the_key() {
        let e = find_binary(Some(Path::new("/nonexistent/terraform"))).unwrap_err();
        assert!(
            e.contains("`[provision] binary`") && e.contains("not an executable"),
            "{e}"
        );
        let e = find_binary(Some(Path::new("no-such-terraform-binary"))).unwrap_err();
        assert!(e.contains("on PATH"), "{e}");
        assert_eq!(
            find_binary(Some(Path::new("/bin/sh"))).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert_eq!(
            find_binary(Some(Path::new("sh")))
                .unwrap()
                .file_name()
                .unwrap(),
            "sh"
        );
    }

    #[test]
    fn finish_words() {
        let end = |code, interrupts| RunEnd {
            code,
            interrupts,
            captured: None,
            started: code.is_some(),
        };
        assert_eq!(Finish::of(&end(Some(2), 0), &[0, 2]), Finish::Succeeded);
        assert_eq!(
            Finish::of(&end(Some(1), 0), &[0]),
            Finish::Failed { code: Some(1) }
        );
        assert_eq!(
            Finish::of(&end(Some(1), 1), &[0]),
            Finish::Cancelled { interrupts: 1 }
        );
        assert_eq!(
            Finish::of(&end(None, 0), &[0]),
            Finish::Cancelled { interrupts: 0 }
        );
    }

    #[test]
    fn a_plan_file_is_private_and_goes_away() {
        let f = PlanFile::new(false).unwrap();
        std::fs::write(f.path(), "secret").unwrap();
        f.restrict();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(f.path().parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let p = f.path().to_path_buf();
        drop(f);
        assert!(!p.exists() && !p.parent().unwrap().exists());
    }
}
