//! Serving the console to teammates through OpenSSH itself: the `authorized_keys` line
//! that gives a teammate's public key this console on a real pty, and nothing else —
//! `command="<this binary> --read-only --config <this config> --shared-key <comment>",
//! restrict,pty <key>`. sshd authenticates the key, allocates the pty, and runs one
//! console process per login; `restrict` turns off every kind of forwarding, `pty` turns
//! the terminal back on. The key's comment rides in the forced command (the teammate
//! cannot change it), so the audit log can say whose key acted.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// Key types sshd accepts in `authorized_keys`.
const KEY_TYPES: [&str; 8] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

/// A public key as a `.pub` file holds it: type, base64 blob, comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kind: String,
    pub blob: String,
    pub comment: Option<String>,
}

impl PublicKey {
    /// Reads one key line (`ssh-ed25519 AAAA… teammate`). Refuses a line with options of
    /// its own, an unknown type, or a blob that is not that type's key (a truncated
    /// paste).
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or("no public key in it")?;
        let mut words = line.split_whitespace();
        let kind = words.next().unwrap_or_default().to_string();
        if !KEY_TYPES.contains(&kind.as_str()) {
            return Err(format!(
                "not a public key line (type, base64, comment): `{}` is not a key type ({})",
                crate::domain::text::visible(&kind),
                KEY_TYPES.join(", ")
            ));
        }
        let blob = words
            .next()
            .ok_or("the key has no base64 part")?
            .to_string();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&blob)
            .map_err(|e| format!("the key's base64 part does not decode: {e}"))?;
        // The blob is SSH strings (u32 length, then the bytes) end to end, the first one
        // its own type: a cut or mangled paste breaks that.
        let fields = ssh_strings(&bytes);
        if fields.as_ref().and_then(|f| f.first().copied()) != Some(kind.as_bytes())
            || fields.is_none_or(|f| f.len() < 2)
        {
            return Err(format!(
                "the key's base64 part is not a {kind} key (cut short when pasted?)"
            ));
        }
        let comment = words.collect::<Vec<_>>().join(" ");
        Ok(PublicKey {
            kind,
            blob,
            comment: (!comment.is_empty()).then_some(comment),
        })
    }

    /// The name the audit log records for this key: its comment, reduced to characters
    /// that need no quoting anywhere (`teammate@laptop`), or the blob's last characters.
    pub fn name(&self) -> String {
        let kept: String = self
            .comment
            .as_deref()
            .unwrap_or("")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "@._+-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        if kept.trim_matches('_').is_empty() {
            let tail: String = self
                .blob
                .chars()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("{}…{tail}", self.kind)
        } else {
            kept
        }
    }
}

/// The `authorized_keys` line for `key`: this binary with `--read-only` (unless
/// `read_write`), the config, and the key's name, forced on every login with the key.
/// Paths are absolute; the command is quoted for the login shell, and `"` escaped for
/// the option.
pub fn line(
    binary: &Path,
    config: &Path,
    key: &PublicKey,
    read_write: bool,
) -> Result<String, String> {
    let mut words: Vec<String> = vec![path_word(binary)?];
    if !read_write {
        words.push("--read-only".into());
    }
    words.push("--config".into());
    words.push(path_word(config)?);
    words.push("--shared-key".into());
    words.push(key.name());
    let command = shlex::try_join(words.iter().map(String::as_str))
        .map_err(|e| format!("cannot quote the command: {e}"))?;
    let mut out = format!(
        "command=\"{}\",restrict,pty {} {}",
        command.replace('"', "\\\""),
        key.kind,
        key.blob
    );
    if let Some(c) = &key.comment {
        out.push(' ');
        out.push_str(c);
    }
    Ok(out)
}

/// The SSH strings `bytes` is made of, when it is exactly a sequence of them.
fn ssh_strings(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = bytes.get(..4)?;
        let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        out.push(bytes.get(4..4usize.checked_add(n)?)?);
        bytes = &bytes[4 + n..];
    }
    Some(out)
}

fn path_word(p: &Path) -> Result<String, String> {
    if !p.is_absolute() {
        return Err(format!("{} is not an absolute path", p.display()));
    }
    let s = p
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", p.display()))?;
    if s.chars().any(char::is_control) {
        return Err(format!("{} contains control characters", p.display()));
    }
    Ok(s.to_string())
}

/// `~/.ssh/authorized_keys`.
pub fn default_authorized_keys() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
        .join(".ssh")
        .join("authorized_keys")
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    Added,
    /// The same line was there already.
    AlreadyThere,
}

/// Appends `line` to the authorized_keys file at `path` (created 0600 in a 0700
/// directory when missing). Refused when the key is already in the file on another
/// line: sshd uses the first line that matches a key, so a restricted line after an
/// unrestricted one would restrict nothing.
pub fn install(path: &Path, line: &str, key: &PublicKey) -> Result<Installed, String> {
    let shown = path.display();
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    for (n, l) in existing.lines().enumerate() {
        if l.trim() == line.trim() {
            return Ok(Installed::AlreadyThere);
        }
        if l.split_whitespace().any(|w| w == key.blob) {
            return Err(format!(
                "this key is already in {shown} on line {} with other options; sshd would use that line, so remove it first",
                n + 1
            ));
        }
    }
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut text = String::new();
    if !existing.is_empty() && !existing.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{shown}: {e}"))?;
    Ok(Installed::Added)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real ed25519 public key (generated for this test).
    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJKKuRdu6Y/0our1VfcypMFK4c0swNwHTtYBZKtX3/kV teammate@laptop";

    #[test]
    fn keys_are_checked_before_they_are_trusted() {
        let k = PublicKey::parse(KEY).expect("a key");
        assert_eq!(k.kind, "ssh-ed25519");
        assert_eq!(k.name(), "teammate@laptop");
        assert!(PublicKey::parse("command=\"x\" ssh-ed25519 AAAA").is_err());
        let cut = &KEY[..40];
        assert!(
            PublicKey::parse(cut).is_err_and(|e| e.contains("base64")),
            "{cut}"
        );
        let renamed = KEY.replacen("ssh-ed25519", "ssh-rsa", 1);
        assert!(PublicKey::parse(&renamed).is_err_and(|e| e.contains("not a ssh-rsa key")));
        let odd = PublicKey {
            comment: Some("Ann \"x\"; rm -rf /".into()),
            ..k.clone()
        };
        assert_eq!(odd.name(), "Ann__x___rm_-rf__");
        let none = PublicKey { comment: None, ..k };
        assert!(none.name().starts_with("ssh-ed25519…"));
    }

    #[test]
    fn the_line_forces_a_read_only_console_on_a_pty() {
        let k = PublicKey::parse(KEY).expect("a key");
        let l = line(
            Path::new("/opt/pt/platform-tui"),
            Path::new("/etc/pt/my lab.toml"),
            &k,
            false,
        )
        .expect("a line");
        assert_eq!(
            l,
            "command=\"/opt/pt/platform-tui --read-only --config '/etc/pt/my lab.toml' --shared-key teammate@laptop\",restrict,pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJKKuRdu6Y/0our1VfcypMFK4c0swNwHTtYBZKtX3/kV teammate@laptop"
        );
        let rw = line(Path::new("/b"), Path::new("/c.toml"), &k, true).expect("a line");
        assert!(rw.starts_with(
            "command=\"/b --config /c.toml --shared-key teammate@laptop\",restrict,pty "
        ));
        assert!(line(Path::new("b"), Path::new("/c"), &k, false).is_err());
        // A quote in a path cannot end the option early.
        let q = line(Path::new("/a\"b/pt"), Path::new("/c"), &k, false).expect("a line");
        assert!(q.starts_with("command=\"'/a\\\"b/pt' --read-only"), "{q}");
    }

    #[test]
    fn install_appends_once_and_never_after_an_unrestricted_line() {
        let tmp = tempfile::tempdir().expect("temp");
        let path = tmp.path().join("ssh").join("authorized_keys");
        let k = PublicKey::parse(KEY).expect("a key");
        let l = line(Path::new("/b"), Path::new("/c"), &k, false).expect("line");
        assert_eq!(install(&path, &l, &k), Ok(Installed::Added));
        assert_eq!(install(&path, &l, &k), Ok(Installed::AlreadyThere));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
        let other = tmp.path().join("other");
        std::fs::write(&other, format!("ssh-rsa AAAAB3 ops\n{KEY}")).expect("write");
        let e = install(&other, &l, &k).expect_err("refused");
        assert!(e.contains("line 2 with other options"), "{e}");
    }
}
