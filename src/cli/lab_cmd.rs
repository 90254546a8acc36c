//! `platform-tui lab …`: start, stop and inspect a lab; the supervision itself is
//! `lab::supervise`.

use std::path::Path;

use super::{failed, progress_to_stderr, usage, AppCommand, Failure, LabCommand, MetroCommand};
use crate::lab::{self, Lab};
use crate::ops::journal::StateDir;

pub async fn run(cmd: &LabCommand) -> Result<(), Failure> {
    match cmd {
        LabCommand::Up {
            metros,
            dir,
            detach,
            withdraw_method,
            state_dir,
            allocs,
            supervise,
            follow_owner,
        } => {
            lab::nomad_api::set_lab_allocs(*allocs);
            let specs = lab::metros::parse_list(metros).map_err(usage)?;
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
            if *detach {
                let state = state_dir.clone().unwrap_or_else(|| dir.join("state"));
                archive_state(&state)?;
                let spec = lab::supervise::Spec {
                    dir: &dir,
                    metros,
                    method: *withdraw_method,
                    state_dir: state_dir.as_deref(),
                };
                let lab = lab::supervise::start(&spec, false, &mut progress_to_stderr)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                println!(
                    "lab up in {}; stop it with `platform-tui lab down --dir {}`",
                    lab.dir.display(),
                    lab.dir.display()
                );
                println!("config: {}", lab.config_path().display());
                return Ok(());
            }
            if !*supervise {
                archive_state(&state_dir.clone().unwrap_or_else(|| dir.join("state")))?;
            }
            let mut lab = Lab::up(
                &dir,
                &specs,
                *withdraw_method,
                state_dir.as_deref(),
                &mut progress_to_stderr,
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
            if *supervise {
                lab.supervise().map_err(|e| failed(e.to_string()))?;
                let ready = dir.join("run").join("ready");
                std::fs::write(&ready, std::process::id().to_string())
                    .map_err(|e| failed(format!("{}: {e}", ready.display())))?;
                // Detached: a hang-up of the terminal that started it must not stop it.
                lab::supervise::wait_for_stop(&mut lab, false, *follow_owner).await;
                let _ = std::fs::remove_file(ready);
            } else {
                println!("config: {}", lab.config_path().display());
                progress_to_stderr("lab running; ctrl-c stops it");
                lab::supervise::wait_for_stop(&mut lab, true, false).await;
            }
            let stopped = lab.down();
            progress_to_stderr(&format!("lab stopped ({} daemons)", stopped.len()));
            Ok(())
        }
        LabCommand::Down { dir } => {
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
            let mut lab = Lab::open(&dir).map_err(|e| failed(e.to_string()))?;
            let stopped = lab.down();
            println!(
                "lab in {} is down ({} daemons stopped)",
                dir.display(),
                stopped.len()
            );
            Ok(())
        }
        LabCommand::App { command } => {
            let (verb, metro, dir) = match command {
                AppCommand::Stop { metro, dir } => ("stop", metro, dir),
                AppCommand::Start { metro, dir } => ("start", metro, dir),
            };
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
            let lab = Lab::open(&dir).map_err(|e| failed(e.to_string()))?;
            let said = lab::dataplane::control(&lab.state, &format!("app {verb} {metro}"))
                .await
                .map_err(|e| failed(e.to_string()))?;
            println!("{said}");
            Ok(())
        }
        LabCommand::Metro { command } => {
            let (add, metro, dir) = match command {
                MetroCommand::Add { metro, dir } => (true, metro, dir),
                MetroCommand::Remove { metro, dir } => (false, metro, dir),
            };
            if lab::metros::lookup(metro).is_none() {
                return Err(usage(lab::metros::unknown(metro)));
            }
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
            let lab = Lab::open(&dir).map_err(|e| failed(e.to_string()))?;
            if add {
                // Tests only: a slow add, to cancel an apply while it runs.
                if let Some(ms) = std::env::var("PLATFORM_TUI_LAB_ADD_DELAY_MS")
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
            }
            let verb = if add { "add" } else { "remove" };
            let said = lab::dataplane::control_within(
                &lab.state,
                &format!("metro {verb} {metro}"),
                lab::dataplane::METRO_CHANGE + std::time::Duration::from_secs(5),
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
            println!("{said}");
            Ok(())
        }
        LabCommand::Status { dir } => {
            let dir = dir.dir.clone().unwrap_or_else(lab::default_dir);
            let lab = Lab::open(&dir).map_err(|e| failed(e.to_string()))?;
            println!(
                "lab in {}  prefix {}  config {}",
                dir.display(),
                lab.state.prefix,
                lab.config_path().display()
            );
            for line in lab.status_lines() {
                println!("  {line}");
            }
            Ok(())
        }
    }
}

/// A fresh lab starts with no stale desired state: the audit log an earlier lab left in
/// its state directory is kept, renamed `audit-TIME.jsonl`.
pub fn archive_state(state_dir: &Path) -> Result<(), Failure> {
    let state = StateDir {
        dir: state_dir.to_path_buf(),
    };
    match state.archive() {
        Ok(Some(to)) => {
            progress_to_stderr(&format!(
                "a new lab: the previous audit log is kept as {}",
                to.display()
            ));
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(failed(e)),
    }
}
