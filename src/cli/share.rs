//! `platform-tui share`: the `authorized_keys` line that gives a teammate's key this
//! console, read-only, on a real pty (OpenSSH does the serving: see `ssh::share`).
//! Prints it; with `--install`, appends it. Read-write sharing must be asked for and
//! says so.

use std::path::{Path, PathBuf};

use super::{failed, resolve_config, usage, Cli, Failure};
use crate::ssh::share::{self, Installed, PublicKey};

/// `share` options from the command line.
pub struct ShareArgs<'a> {
    pub install: Option<&'a Path>,
    pub authorized_keys: Option<&'a Path>,
    pub read_write: bool,
}

/// The key to install: a `.pub` file, or the key line itself.
fn read_key(arg: &Path) -> Result<PublicKey, Failure> {
    let text = match std::fs::read_to_string(arg) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => arg.to_string_lossy().into_owned(),
        Err(e) => return Err(usage(format!("{}: {e}", arg.display()))),
    };
    PublicKey::parse(&text).map_err(|e| usage(format!("{}: {e}", arg.display())))
}

fn absolute(p: &Path) -> Result<PathBuf, Failure> {
    std::fs::canonicalize(p).map_err(|e| usage(format!("{}: {e}", p.display())))
}

pub fn run(cli: &Cli, args: ShareArgs<'_>) -> Result<(), Failure> {
    let config = resolve_config(cli)?.ok_or_else(|| {
        usage("no config to share: pass --config PATH (the teammate's console reads it)")
    })?;
    // The teammate's console reads it too: it must be valid now.
    super::load(&config, false)?;
    let config = absolute(&config)?;
    let binary = std::env::current_exe()
        .map_err(|e| failed(format!("cannot tell where this binary is: {e}")))?;
    let read_write = args.read_write;
    if read_write {
        eprintln!(
            "read-write: this key can withdraw and restore metros (every action is in the audit log with the key's name)"
        );
    }
    let Some(key_arg) = args.install else {
        // No key yet: the options, and where the key goes.
        let placeholder = PublicKey {
            kind: "ssh-ed25519".into(),
            blob: "AAAA…".into(),
            comment: Some("teammate".into()),
        };
        let line = share::line(&binary, &config, &placeholder, read_write).map_err(failed)?;
        let options = line
            .split(" ssh-ed25519 ")
            .next()
            .unwrap_or(&line)
            .replace("--shared-key teammate", "--shared-key NAME");
        println!("{options} PUBLIC-KEY");
        eprintln!(
            "put the teammate's public key (and NAME, its comment) on that line in ~/.ssh/authorized_keys, or run `platform-tui share --install KEY.pub`"
        );
        return Ok(());
    };
    let key = read_key(key_arg)?;
    let line = share::line(&binary, &config, &key, read_write).map_err(failed)?;
    let path = args
        .authorized_keys
        .map(Path::to_path_buf)
        .unwrap_or_else(share::default_authorized_keys);
    match share::install(&path, &line, &key).map_err(failed)? {
        Installed::Added => eprintln!(
            "added to {}: {} now gets a {} console on login",
            path.display(),
            key.name(),
            if read_write {
                "read-write"
            } else {
                "read-only"
            }
        ),
        Installed::AlreadyThere => eprintln!("already in {}", path.display()),
    }
    println!("{line}");
    Ok(())
}
