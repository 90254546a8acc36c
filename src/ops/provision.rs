//! Provisioning as an operation: the config's `[provision]` table and `--var`s made into
//! [`Settings`], a plan (read-only: terraform holds its own state lock), and an apply or
//! destroy of a confirmed plan as a destructive action — refused read-only, decided under
//! the state directory's lock, audited before and after (no audit, no apply) — followed by
//! the installer's outputs, the metros they add or remove, and (when asked) the config
//! file rewritten with them, atomically, comments and layout kept. Every run leaves a line
//! in the state directory's history. No UI: the console and the command line show the
//! events.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::interlock::{self, Holder};
use super::journal::{self, StateDir};
use super::withdraw::close_abandoned_seen;
use crate::config::Config;
use crate::domain::journal::{AuditAction, AuditRecord, Phase, Verdict, Via};
use crate::domain::provision::{HistoryEntry, ProvisionOp};
use crate::domain::text::visible;
use crate::provision::{
    self, ApplyOutcome, Cancel, Event, Finish, MetroDiff, Outputs, PlanFile, PlanOutcome, Settings,
};

/// `NAME=VALUE` from `--var`: the name a terraform identifier, the value as given.
pub fn parse_var(arg: &str) -> Result<(String, String), String> {
    let Some((name, value)) = arg.split_once('=') else {
        return Err(format!(
            "--var `{}`: expected NAME=VALUE, e.g. --var 'metros=[\"am\",\"da\"]'",
            visible(arg)
        ));
    };
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(format!(
            "--var `{}`: `{}` is not a variable name",
            visible(arg),
            visible(name)
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// What terraform runs with: the config's `[provision]`, then `extra` (`--var`s, which
/// win). Errors when the config has no `[provision]` table.
pub fn settings(cfg: &Config, extra: &[(String, String)]) -> Result<Settings, String> {
    let Some(p) = &cfg.provision else {
        return Err(format!(
            "{} has no [provision] table: add one with `dir = \"PATH/TO/INSTALLER\"` \
             (`platform-tui config template` documents it)",
            cfg.source
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the config".into())
        ));
    };
    let mut vars = p.vars.clone();
    vars.extend(extra.iter().cloned());
    Ok(Settings {
        binary: p.binary.clone(),
        dir: p.dir.clone(),
        vars,
        var_files: p.var_files.clone(),
        output_names: provision::OutputNames {
            regional: p.regional_output.clone(),
            anycast: p.anycast_output.clone(),
        },
        lock_timeout: p.lock_timeout,
        pass_env: p.pass_env.clone(),
        env: Vec::new(),
    })
}

/// Who runs provisioning, how it is cancelled, and where its lines go.
pub struct Run<'a> {
    pub via: Via,
    /// First request: terraform stops gracefully; second: it cancels.
    pub cancel: Cancel,
    /// Every line terraform prints, as it comes.
    pub on_event: &'a mut (dyn FnMut(Event) + Send),
    /// This program's own progress ("waiting for another action ...").
    pub progress: &'a mut (dyn FnMut(&str) + Send),
}

/// "1 to add, 0 to change, 0 to destroy".
pub fn plan_words(p: &PlanOutcome) -> String {
    if !p.finish.succeeded() {
        return first_error(&p.diagnostics).unwrap_or_else(|| match p.finish {
            Finish::Cancelled { .. } => "interrupted".into(),
            _ => "failed".into(),
        });
    }
    match &p.summary {
        Some(s) => format!(
            "{} to add, {} to change, {} to destroy",
            s.add, s.change, s.remove
        ),
        None if p.finish.succeeded() && !p.has_changes => "no changes".into(),
        None => first_error(&p.diagnostics).unwrap_or_else(|| "no summary".into()),
    }
}

pub fn first_error(ds: &[provision::Diagnostic]) -> Option<String> {
    ds.iter()
        .find(|d| d.severity == provision::stream::Severity::Error)
        .map(|d| d.to_string().lines().next().unwrap_or_default().to_string())
}

/// A plan (`destroy`: of everything). Read-only for the installer, so neither
/// interlocked nor audited; recorded in the history.
pub async fn plan(
    cfg: &Config,
    settings: &Settings,
    destroy: bool,
    run: &mut Run<'_>,
) -> Result<PlanOutcome, String> {
    let started = (SystemTime::now(), Instant::now());
    let outcome = provision::plan(settings, destroy, &run.cancel, run.on_event)
        .await
        .map_err(|e| e.0);
    let (result, summary) = match &outcome {
        Ok(p) => (verdict(p.finish), plan_words(p)),
        Err(e) => (Verdict::Failed, e.clone()),
    };
    history(cfg, ProvisionOp::Plan, started, result, run.via, summary);
    outcome
}

/// What an apply or destroy did, and what it means for the console's metros.
#[derive(Debug)]
pub struct Applied {
    pub op: ProvisionOp,
    pub verdict: Verdict,
    /// The operator's sentence: "apply ok: 1 added, 0 changed, 0 destroyed", or why not.
    pub message: String,
    /// terraform's own account; `None` when it never ran (refused).
    pub outcome: Option<ApplyOutcome>,
    /// The installer's outputs afterwards (sensitive values dropped).
    pub outputs: Option<Result<Outputs, String>>,
    /// Metros the run added, removed or moved against the config.
    pub diff: Option<Result<MetroDiff, String>>,
    /// Whether the config file was rewritten with `diff`.
    pub config_written: Option<Result<(), String>>,
    pub took: Duration,
}

/// Applies a confirmed plan (a destroy plan destroys): refused read-only; under the
/// state directory's lock (waiting up to `console.lock_wait_ms`; a cancel while waiting
/// refuses); the intent audited before terraform starts and the outcome after. Then the
/// outputs and the metro diff; with `write_config`, the config file is rewritten with
/// the diff while the lock is still held. Never panics; failures are in [`Applied`].
pub async fn apply(
    cfg: &Config,
    settings: &Settings,
    plan: PlanFile,
    write_config: bool,
    run: &mut Run<'_>,
) -> Applied {
    let op = if plan.destroy() {
        ProvisionOp::Destroy
    } else {
        ProvisionOp::Apply
    };
    let started = (SystemTime::now(), Instant::now());
    let mut applied = Applied {
        op,
        verdict: Verdict::Refused,
        message: String::new(),
        outcome: None,
        outputs: None,
        diff: None,
        config_written: None,
        took: Duration::ZERO,
    };
    // A refusal is said, and kept in the history with the time it took.
    let via = run.via;
    let refused = |mut a: Applied, why: &str| {
        a.verdict = Verdict::Refused;
        a.message = format!("refused: {why}; {} not performed", op.word());
        history(cfg, op, started, a.verdict, via, a.message.clone());
        a
    };
    if cfg.console.read_only {
        return refused(applied, "read-only mode");
    }
    let state = StateDir::of(cfg);
    if let Err(e) = state.prepare() {
        return refused(applied, &e);
    }
    let target = installer_name(&settings.dir);
    let me = Holder {
        pid: std::process::id(),
        user: journal::user(),
        via: run.via.word().to_string(),
        what: format!("{} of {target}", op.word()),
        since: journal::timestamp(SystemTime::now()),
    };
    let mut never = super::Interrupt::never();
    let guard = tokio::select! {
        g = interlock::acquire(&state, &me, cfg.console.lock_wait, &mut never, run.progress) => g,
        _ = run.cancel.requested_wait() => Err("cancelled while waiting for the lock".into()),
    };
    let guard = match guard {
        Ok(g) => g,
        Err(e) => return refused(applied, &e),
    };
    let tail = match state.tail() {
        Ok(t) => t,
        Err(e) => return refused(applied, &e),
    };
    let mut desired = state.desired_in(&tail).unwrap_or_default();
    close_abandoned_seen(&state, &tail, &mut desired, &|_| None, run.progress);

    // What the installer had before, so that only metros it drops count as removed
    // (a metro configured by hand is not the installer's to remove).
    let before = provision::outputs(settings, &Cancel::new(), &mut |_| {})
        .await
        .ok()
        .and_then(|o| provision::metro_map(&o, &settings.output_names).ok());

    let mut record = AuditRecord {
        time: journal::timestamp(SystemTime::now()),
        id: super::withdraw::new_id(),
        phase: Phase::Intent,
        user: me.user.clone(),
        ssh: journal::ssh_origin(),
        pid: me.pid,
        via: Some(run.via),
        metro: target.clone(),
        action: match op {
            ProvisionOp::Destroy => AuditAction::Destroy,
            _ => AuditAction::Apply,
        },
        method: binary_name(settings),
        force: false,
        result: None,
        detail: None,
        convergence_ms: None,
        best_after: None,
        lock_wait_ms: Some((guard.waited.as_secs_f64() * 1e6).round() / 1e3),
        desired: Some(desired.clone()),
    };
    if let Err(e) = state.append(&record) {
        return refused(
            applied,
            &format!("the audit log cannot be written, and nothing is applied unaudited ({e})"),
        );
    }

    let outcome = provision::apply(settings, plan, &run.cancel, run.on_event).await;
    match outcome {
        Ok(o) => {
            applied.verdict = verdict(o.finish);
            applied.message = apply_words(op, &o, run.cancel.requested());
            applied.outcome = Some(o);
        }
        Err(e) => {
            applied.verdict = Verdict::Failed;
            applied.message = format!("{} failed: {}", op.word(), e.0);
        }
    }
    // Even a failed or cancelled apply may have made or removed metros: read what is.
    if applied.outcome.is_some() {
        let outputs = provision::outputs(settings, &Cancel::new(), &mut |_| {})
            .await
            .map_err(|e| e.0);
        if let Ok(o) = &outputs {
            let diff = metro_changes(cfg, settings, o, before.as_ref());
            if let (true, Ok(d)) = (write_config, &diff) {
                if !d.is_empty() {
                    applied.config_written = Some(write_metros(cfg, d));
                }
            }
            applied.diff = Some(diff);
        }
        applied.outputs = Some(outputs);
    }
    let mut detail = applied.message.clone();
    if let Some(Ok(d)) = &applied.diff {
        if !d.is_empty() {
            let written = match &applied.config_written {
                Some(Ok(())) => "config written",
                Some(Err(_)) => "config NOT written",
                None => "config not written",
            };
            detail.push_str(&format!("; metros: {} ({written})", d.lines().join(", ")));
        }
    }
    record.time = journal::timestamp(SystemTime::now());
    record.phase = Phase::Outcome;
    record.result = Some(applied.verdict.word().into());
    record.detail = Some(detail.clone());
    if let Err(e) = state.append(&record) {
        applied
            .message
            .push_str(&format!(" (and the outcome could not be audited: {e})"));
        if applied.verdict == Verdict::Ok {
            applied.verdict = Verdict::Failed;
        }
    }
    drop(guard);
    applied.took = started.1.elapsed();
    history(cfg, op, started, applied.verdict, run.via, detail);
    applied
}

/// The installer's outputs (`provision output`); read-only, recorded in the history.
pub async fn outputs(
    cfg: &Config,
    settings: &Settings,
    run: &mut Run<'_>,
) -> Result<Outputs, String> {
    let started = (SystemTime::now(), Instant::now());
    let o = provision::outputs(settings, &run.cancel, run.on_event)
        .await
        .map_err(|e| e.0);
    let (result, summary) = match &o {
        Ok(o) => (Verdict::Ok, format!("{} outputs", o.0.len())),
        Err(e) => (Verdict::Failed, e.clone()),
    };
    history(cfg, ProvisionOp::Output, started, result, run.via, summary);
    o
}

/// The metros the outputs add, remove or move against the config file as it is now.
/// `before`: the installer's metros before the run; only those can be removed by it.
pub fn metro_changes(
    cfg: &Config,
    settings: &Settings,
    outputs: &Outputs,
    before: Option<&BTreeMap<String, IpAddr>>,
) -> Result<MetroDiff, String> {
    let after = provision::metro_map(outputs, &settings.output_names)?;
    let anycast = provision::anycast_address(outputs, &settings.output_names)?;
    let text = config_text(cfg)?.1;
    let current = provision::metros::metros_in_config(&text)?;
    let anycast_now = provision::metros::anycast_in_config(&text)?;
    let mut diff = provision::diff(&current, anycast_now, &after, anycast);
    if let Some(before) = before {
        diff.removed.retain(|m| before.contains_key(m));
    }
    Ok(diff)
}

/// Rewrites the config file with `diff` (re-read now, so an edit made meanwhile is
/// kept): written to a temporary file beside it with its permissions, fsynced, renamed
/// over it. The result is checked by the real loader first: a diff that would make the
/// config invalid is not written.
pub fn write_metros(cfg: &Config, diff: &MetroDiff) -> Result<(), String> {
    let (path, text) = config_text(cfg)?;
    let new = provision::apply_to_config(&text, diff, &display_name)?;
    crate::config::parse(&new, &path).map_err(|e| {
        format!("the config with these metros would not be valid, so it was not written: {e}")
    })?;
    write_atomic(&path, &new)
}

/// [`write_metros`] under the state directory's lock, for a diff confirmed after the
/// apply that produced it (the console asks once the apply is done).
pub async fn write_metros_locked(
    cfg: &Config,
    diff: &MetroDiff,
    via: Via,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), String> {
    if cfg.console.read_only {
        return Err("refused: read-only mode; the config is not written".into());
    }
    let state = StateDir::of(cfg);
    state.prepare()?;
    let me = Holder {
        pid: std::process::id(),
        user: journal::user(),
        via: via.word().to_string(),
        what: "config write".into(),
        since: journal::timestamp(SystemTime::now()),
    };
    let mut never = super::Interrupt::never();
    let _guard =
        interlock::acquire(&state, &me, cfg.console.lock_wait, &mut never, progress).await?;
    write_metros(cfg, diff)
}

/// A new metro's display name: the built-in table's (`fr` -> Frankfurt), else its code.
fn display_name(code: &str) -> String {
    crate::lab::metros::lookup(code)
        .map(|m| m.display_name.to_string())
        .unwrap_or_else(|| code.to_string())
}

fn config_text(cfg: &Config) -> Result<(PathBuf, String), String> {
    let path = cfg
        .source
        .clone()
        .ok_or("the config has no file to write the metros to")?;
    // Through a symlink to the file itself: replacing the link would orphan the target.
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok((path, text))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    let perms = std::fs::metadata(path).map_err(fail)?.permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".platform-tui-config-")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().set_permissions(perms).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn verdict(f: Finish) -> Verdict {
    match f {
        Finish::Succeeded => Verdict::Ok,
        Finish::Failed { .. } => Verdict::Failed,
        Finish::Cancelled { .. } => Verdict::Interrupted,
    }
}

fn apply_words(op: ProvisionOp, o: &ApplyOutcome, cancels: u8) -> String {
    let counts = o
        .summary
        .map(|s| {
            format!(
                ": {} added, {} changed, {} destroyed",
                s.add, s.change, s.remove
            )
        })
        .unwrap_or_default();
    match o.finish {
        Finish::Succeeded => format!("{} ok{counts}", op.word()),
        Finish::Cancelled { interrupts } => format!(
            "{} interrupted ({} interrupt{} sent{}){counts}",
            op.word(),
            interrupts.max(cancels),
            if interrupts.max(cancels) == 1 {
                ""
            } else {
                "s"
            },
            if interrupts <= 1 {
                ": terraform stopped gracefully"
            } else {
                ""
            }
        ),
        Finish::Failed { code } => {
            let why = first_error(&o.diagnostics)
                .or_else(|| {
                    (!o.errored.is_empty()).then(|| format!("{} errored", o.errored.join(", ")))
                })
                .unwrap_or_else(|| match code {
                    Some(c) => format!("exit {c}"),
                    None => "killed".into(),
                });
            format!("{} failed: {why}", op.word())
        }
    }
}

/// The installer directory's name, as the audit log names what an apply acted on.
fn installer_name(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name()
        .map(|n| visible(&n.to_string_lossy()).into_owned())
        .unwrap_or_else(|| "installer".into())
}

fn binary_name(settings: &Settings) -> String {
    provision::find_binary(settings.binary.as_deref())
        .ok()
        .and_then(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "terraform".into())
}

fn history(
    cfg: &Config,
    op: ProvisionOp,
    (at, since): (SystemTime, Instant),
    result: Verdict,
    via: Via,
    summary: String,
) {
    let state = StateDir::of(cfg);
    if state.prepare().is_err() {
        return;
    }
    let _ = state.append_history(&HistoryEntry {
        time: journal::timestamp(at),
        op,
        result,
        duration_ms: u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
        user: journal::user(),
        via: Some(via),
        summary,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_from_the_command_line() {
        assert_eq!(
            parse_var(r#"metros=["am","da"]"#).unwrap(),
            ("metros".into(), r#"["am","da"]"#.into())
        );
        assert_eq!(parse_var("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(
            parse_var("empty=").unwrap(),
            ("empty".into(), String::new())
        );
        assert!(parse_var("metros").unwrap_err().contains("NAME=VALUE"));
        assert!(parse_var("1x=2")
            .unwrap_err()
            .contains("not a variable name"));
        assert!(parse_var("=2").unwrap_err().contains("not a variable name"));
    }

    #[test]
    fn settings_put_the_command_line_last() {
        let text = "[anycast]\nprefix = \"198.18.0.10/32\"\n[[metro]]\nname = \"am\"\n\
                    bird_socket = \"a\"\n[provision]\ndir = \"inst\"\n\
                    [provision.vars]\nmetros = [\"am\"]\n";
        let cfg = crate::config::parse(text, Path::new("/etc/p/c.toml")).unwrap();
        let s = settings(&cfg, &[("metros".into(), "[\"am\",\"fr\"]".into())]).unwrap();
        assert_eq!(s.dir, PathBuf::from("/etc/p/inst"));
        assert_eq!(
            s.vars,
            vec![
                ("metros".to_string(), "[\"am\"]".to_string()),
                ("metros".to_string(), "[\"am\",\"fr\"]".to_string())
            ]
        );
        let cfg = crate::config::parse(
            "[anycast]\nprefix = \"198.18.0.10/32\"\n[[metro]]\nname = \"am\"\nbird_socket = \"a\"\n",
            Path::new("/etc/p/c.toml"),
        )
        .unwrap();
        let e = settings(&cfg, &[]).unwrap_err();
        assert!(e.contains("/etc/p/c.toml has no [provision] table"), "{e}");
    }
}
