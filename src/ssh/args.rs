//! What the console asks of `ssh`, as plain argument lists, and what `ssh` says back, as
//! judgements: the master's command line, a control command (`-O forward|check|exit`),
//! a command run over the master, the one line of ssh's stderr that says what went
//! wrong, and the hand-run `ssh` command a person needs when retrying cannot help. Pure:
//! no process is started here.

use std::ffi::OsString;
use std::path::Path;

use crate::config::SshRoute;
use crate::domain::text::visible;

/// Environment every `ssh` the console starts gets, when set: the same minimal set as a
/// withdraw command (`ops::command::BASE_ENV`), plus what authenticates the operator
/// (the agent, Kerberos). Nothing else — a token in the console's environment never
/// reaches ssh (which could `SendEnv` it).
pub const CLIENT_ENV: [&str; 9] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "TZ",
    "SSH_AUTH_SOCK",
    "KRB5CCNAME",
];

/// Seconds between keep-alives inside the connection; three missed ones end it.
pub const SERVER_ALIVE_INTERVAL_S: u32 = 5;
/// Limit of the TCP connect and the SSH handshake, unless `ssh_options` sets its own.
pub const CONNECT_TIMEOUT_S: u32 = 10;

fn o(opt: &str) -> [OsString; 2] {
    ["-o".into(), opt.into()]
}

/// `-F <config>` when the console has one.
fn config_args(config: Option<&Path>) -> Vec<OsString> {
    match config {
        Some(c) => vec!["-F".into(), c.into()],
        None => Vec::new(),
    }
}

/// The master: `ssh -M -N -S CONTROL [-F CONFIG] <fixed options> <ssh_options> <defaults>
/// -- DESTINATION`. The fixed options come first (ssh keeps the first value it is given
/// for an option), so no `ssh_options` or config file can turn prompts back on or give
/// the master away; the defaults come after `ssh_options`, so those can change them.
pub fn master(control: &Path, config: Option<&Path>, route: &SshRoute) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["-M".into(), "-N".into(), "-S".into(), control.into()];
    a.extend(config_args(config));
    for opt in [
        "ControlMaster=yes",
        "ControlPersist=no",
        // Never a prompt: a host key not yet known or no key accepted is an error.
        "BatchMode=yes",
        "ExitOnForwardFailure=yes",
        // Forward sockets: owner-only, and a stale file from a dead master is replaced.
        "StreamLocalBindMask=0177",
        "StreamLocalBindUnlink=yes",
        // The operator's own LocalForward lines are not this connection's business (and
        // would fail against their own sessions, ending the master).
        "ClearAllForwardings=yes",
        "ForwardAgent=no",
        "ForwardX11=no",
        "PermitLocalCommand=no",
        "RequestTTY=no",
    ] {
        a.extend(o(opt));
    }
    a.extend(route.options.iter().map(OsString::from));
    for opt in [
        format!("ServerAliveInterval={SERVER_ALIVE_INTERVAL_S}"),
        "ServerAliveCountMax=3".to_string(),
        format!("ConnectTimeout={CONNECT_TIMEOUT_S}"),
    ] {
        a.extend(o(&opt));
    }
    a.push("--".into());
    a.push(route.destination.clone().into());
    a
}

/// Options of every client of the master (`-O …`, commands): talk to this master only,
/// never become one, never prompt.
fn client(control: &Path, config: Option<&Path>) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["-S".into(), control.into()];
    a.extend(config_args(config));
    for opt in ["ControlMaster=no", "BatchMode=yes"] {
        a.extend(o(opt));
    }
    a
}

/// `ssh -S CONTROL -O forward -L LOCAL:TARGET -- DESTINATION`: the master adds a forward
/// from a local Unix socket to `target` (a socket path, or `host:port`) on the far side.
/// Returns once the master listens on `local`.
pub fn forward(
    control: &Path,
    config: Option<&Path>,
    destination: &str,
    local: &Path,
    target: &str,
) -> Vec<OsString> {
    let mut a = client(control, config);
    let mut spec = OsString::from(local);
    spec.push(":");
    spec.push(target);
    a.extend(["-O".into(), "forward".into(), "-L".into(), spec]);
    a.extend(["--".into(), destination.into()]);
    a
}

/// `ssh -S CONTROL -O exit|check -- DESTINATION`.
pub fn control(
    control_path: &Path,
    config: Option<&Path>,
    destination: &str,
    what: &str,
) -> Vec<OsString> {
    let mut a = client(control_path, config);
    a.extend(["-O".into(), what.into(), "--".into(), destination.into()]);
    a
}

/// `ssh -S CONTROL … -- DESTINATION COMMAND`: `command` runs on the far side, through
/// the master. Should the master be gone, ssh would connect on its own: without a proxy
/// (`ProxyCommand=none`) and without prompting (`BatchMode`), so that never waits on a
/// person either.
pub fn remote_command(
    control: &Path,
    config: Option<&Path>,
    destination: &str,
    command: &str,
) -> Vec<OsString> {
    let mut a = client(control, config);
    a.extend(o("ProxyCommand=none"));
    a.extend(["-T".into(), "--".into(), destination.into(), command.into()]);
    a
}

/// A shell line that runs `command` on the far side of the master: what the `command`
/// withdraw method runs for a remote metro (through `sh -c`, in its own process group,
/// with a clean environment, like any command). `None` when a path cannot be quoted
/// (a NUL byte).
pub fn remote_shell_line(
    control: &Path,
    config: Option<&Path>,
    destination: &str,
    command: &str,
) -> Option<String> {
    let args = remote_command(control, config, destination, command);
    let words: Vec<String> = std::iter::once("ssh".to_string())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect();
    let joined = shlex::try_join(words.iter().map(String::as_str)).ok()?;
    Some(format!("exec {joined}"))
}

/// The command a person runs once by hand to answer what the console never asks (a host
/// key to check, a passphrase, a password): `ssh [-F CONFIG] [ssh_options] DESTINATION`.
pub fn by_hand(config: Option<&Path>, route: &SshRoute) -> String {
    let mut words = vec!["ssh".to_string()];
    if let Some(c) = config {
        words.push("-F".into());
        words.push(c.display().to_string());
    }
    words.extend(route.options.iter().cloned());
    words.push(route.destination.clone());
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

/// What kind of failure ssh reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The host key is not known, or changed: a person must check it.
    HostKey,
    /// No key (or other method) was accepted: a person must load a key or look why.
    Auth,
    /// Anything else (refused, timed out, name unknown, closed): retrying may help.
    Other,
}

impl FailureKind {
    /// Whether a person must act before retrying can work.
    pub fn needs_person(self) -> bool {
        self != FailureKind::Other
    }
}

/// The line of ssh's stderr that says what went wrong, and what kind of failure it is.
/// Debug chatter and notices are skipped; control characters made visible. `None` when
/// ssh said nothing useful.
pub fn failure(stderr: &[String]) -> Option<(String, FailureKind)> {
    let lines: Vec<&str> = stderr
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !is_chatter(l))
        .collect();
    let find = |pats: &[&str]| {
        lines
            .iter()
            .find(|l| pats.iter().any(|p| l.contains(p)))
            .copied()
    };
    let (line, kind) = if let Some(l) = find(&[
        "host key is known",
        "IDENTIFICATION HAS CHANGED",
        "Host key verification failed",
    ]) {
        (l, FailureKind::HostKey)
    } else if let Some(l) = find(&["Permission denied (", "Too many authentication failures"]) {
        (l, FailureKind::Auth)
    } else {
        (*lines.last()?, FailureKind::Other)
    };
    Some((visible(line).into_owned(), kind))
}

/// Lines that are not the error: debug output, and notices a successful connection
/// prints too.
fn is_chatter(line: &str) -> bool {
    line.starts_with("debug")
        || line.starts_with("Warning: Permanently added")
        || line.starts_with("Pseudo-terminal")
        || line.starts_with("Exit request sent")
}

/// What a person must do about a failure retrying cannot fix, naming the command.
pub fn hint(kind: FailureKind, by_hand: &str) -> Option<String> {
    match kind {
        FailureKind::HostKey => Some(format!(
            "the host key is not known or changed: run `{by_hand}` once by hand to check it"
        )),
        FailureKind::Auth => Some(format!(
            "no key was accepted: load one (ssh-add), or run `{by_hand}` once by hand to see why"
        )),
        FailureKind::Other => None,
    }
}

/// A shell script for the far side that says why a socket cannot be opened: one line,
/// `<verdict> <user>` with verdict `ok`, `missing`, `not-socket` or `denied`. Written
/// for any POSIX shell (the login shell runs it).
pub fn socket_check_script(path: &Path) -> Option<String> {
    let p = shlex::try_quote(path.to_str()?).ok()?;
    Some(format!(
        "p={p}; d=$(dirname -- \"$p\"); u=$(id -un); \
         if [ -d \"$d\" ] && [ ! -x \"$d\" ]; then echo \"denied $u\"; \
         elif [ ! -e \"$p\" ]; then echo \"missing $u\"; \
         elif [ ! -S \"$p\" ]; then echo \"not-socket $u\"; \
         elif [ -r \"$p\" ] && [ -w \"$p\" ]; then echo \"ok $u\"; \
         else echo \"denied $u\"; fi"
    ))
}

/// Why the far end refused a forwarded BIRD socket, from what [`socket_check_script`]
/// printed (`None`: it could not run, e.g. a login without a shell) and the master's
/// own line for the refused channel.
pub fn refused_socket(path: &Path, checked: Option<&str>, channel_line: Option<&str>) -> String {
    let shown = visible(&path.display().to_string()).into_owned();
    let word = checked.map(|c| {
        let mut it = c.split_whitespace();
        (
            it.next().unwrap_or("").to_string(),
            visible(it.next().unwrap_or("the ssh user")).into_owned(),
        )
    });
    match word.as_ref().map(|(w, u)| (w.as_str(), u.as_str())) {
        Some(("denied", user)) => format!(
            "permission denied at the far end: {user} may not open {shown} (BIRD makes it 0660 for its user and group: log in as root or a member of that group)"
        ),
        Some(("missing", _)) => format!("no BIRD socket at the far end: {shown} does not exist"),
        Some(("not-socket", _)) => format!("{shown} at the far end is not a socket"),
        Some(("ok", _)) => {
            format!("the far end refused {shown} although it looks usable (is BIRD running?)")
        }
        _ => {
            let said = channel_line
                .map(|l| format!(" ({})", visible(l)))
                .unwrap_or_default();
            format!(
                "the far end refused to open {shown}{said}: it is missing, or permission denied (the ssh user must be root or in BIRD's group)"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(opts: &[&str]) -> SshRoute {
        SshRoute {
            destination: "metro-am".into(),
            options: opts.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn words(a: &[OsString]) -> String {
        a.iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_master_fixes_its_own_options_first_and_lets_ssh_options_change_defaults() {
        let a = words(&master(
            Path::new("/run/pt/c0"),
            Some(Path::new("/k/ssh_config")),
            &route(&["-J", "bastion", "-o", "ConnectTimeout=3"]),
        ));
        assert!(
            a.starts_with("-M -N -S /run/pt/c0 -F /k/ssh_config -o ControlMaster=yes"),
            "{a}"
        );
        let at = |s: &str| a.find(s).unwrap_or_else(|| panic!("{s} missing: {a}"));
        assert!(at("BatchMode=yes") < at("-J bastion"));
        assert!(at("ExitOnForwardFailure=yes") < at("-J bastion"));
        // ssh keeps the first value: the operator's ConnectTimeout wins over the default.
        assert!(at("ConnectTimeout=3") < at("ConnectTimeout=10"));
        assert!(a.ends_with("-- metro-am"), "{a}");
    }

    #[test]
    fn clients_never_become_masters_or_prompt() {
        let f = words(&forward(
            Path::new("/r/c0"),
            None,
            "metro-am",
            Path::new("/r/am.b"),
            "/run/bird/bird.ctl",
        ));
        assert_eq!(
            f,
            "-S /r/c0 -o ControlMaster=no -o BatchMode=yes -O forward -L /r/am.b:/run/bird/bird.ctl -- metro-am"
        );
        let line = remote_shell_line(
            Path::new("/r/c0"),
            Some(Path::new("/k/my config")),
            "metro-am",
            "systemctl stop 'bird'",
        )
        .expect("quotable");
        assert!(
            line.starts_with("exec ssh -S /r/c0 -F '/k/my config' "),
            "{line}"
        );
        // What the shell hands ssh is the command, whole, as one word.
        let back = shlex::split(line.trim_start_matches("exec ")).expect("splits");
        let want: Vec<String> = std::iter::once("ssh".to_string())
            .chain(
                remote_command(
                    Path::new("/r/c0"),
                    Some(Path::new("/k/my config")),
                    "metro-am",
                    "systemctl stop 'bird'",
                )
                .iter()
                .map(|a| a.to_string_lossy().into_owned()),
            )
            .collect();
        assert_eq!(back, want);
        assert_eq!(
            back.last().map(String::as_str),
            Some("systemctl stop 'bird'")
        );
        assert!(want
            .join(" ")
            .contains("-o ProxyCommand=none -T -- metro-am"));
    }

    #[test]
    fn the_failure_is_sshs_own_line_and_says_whether_a_person_must_act() {
        let lines = |t: &str| t.lines().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            failure(&lines("No ED25519 host key is known for [127.0.0.1]:40022 and you have requested strict checking.\nHost key verification failed.")),
            Some(("No ED25519 host key is known for [127.0.0.1]:40022 and you have requested strict checking.".into(), FailureKind::HostKey))
        );
        assert_eq!(
            failure(&lines("root@127.0.0.1: Permission denied (publickey).")).map(|f| f.1),
            Some(FailureKind::Auth)
        );
        assert_eq!(
            failure(&lines(
                "debug1: x\nssh: connect to host 127.0.0.1 port 1: Connection refused\n"
            )),
            Some((
                "ssh: connect to host 127.0.0.1 port 1: Connection refused".into(),
                FailureKind::Other
            ))
        );
        assert_eq!(failure(&lines("debug1: x\n\n")), None);
        assert_eq!(
            failure(&lines("Connection closed by \x1b[2J")).map(|f| f.0),
            Some("Connection closed by \\x1b[2J".into())
        );
        let cmd = by_hand(Some(Path::new("/k/ssh config")), &route(&["-J", "b"]));
        assert_eq!(cmd, "ssh -F '/k/ssh config' -J b metro-am");
        assert_eq!(
            shlex::split(&by_hand(None, &route(&["-o", "Port=2"]))),
            Some(vec![
                "ssh".into(),
                "-o".into(),
                "Port=2".into(),
                "metro-am".into()
            ])
        );
        assert!(
            hint(FailureKind::HostKey, &cmd).is_some_and(
                |h| h.contains("run `ssh -F '/k/ssh config' -J b metro-am` once by hand")
            )
        );
        assert_eq!(hint(FailureKind::Other, &cmd), None);
    }

    #[test]
    fn a_refused_socket_is_explained_as_the_far_end_sees_it() {
        let p = Path::new("/run/bird/bird.ctl");
        assert!(socket_check_script(p).is_some_and(|s| s.starts_with("p=/run/bird/bird.ctl;")));
        assert_eq!(
            refused_socket(p, Some("denied deploy\n"), None),
            "permission denied at the far end: deploy may not open /run/bird/bird.ctl (BIRD makes it 0660 for its user and group: log in as root or a member of that group)"
        );
        assert_eq!(
            refused_socket(p, Some("missing root"), None),
            "no BIRD socket at the far end: /run/bird/bird.ctl does not exist"
        );
        let unknown = refused_socket(
            p,
            Some("This account is currently not available."),
            Some("channel 3: open failed: connect failed: open failed"),
        );
        assert!(
            unknown.starts_with("the far end refused to open /run/bird/bird.ctl (channel 3: open failed: connect failed: open failed): it is missing, or permission denied"),
            "{unknown}"
        );
    }
}
