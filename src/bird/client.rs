//! Async client for one BIRD control socket: one connection, one request in
//! flight, lazy (re)connect.

use super::framing::{Framer, Reply};
use super::parse::{self, Protocol, ProtocolDetail, Route, Status, Toggle};
use super::BirdError;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// BIRD's command buffer is 4096 bytes; stay clear of `9000 Command too long`.
const MAX_COMMAND: usize = 4000;

struct Conn {
    stream: UnixStream,
    framer: Framer,
}

/// Why one exchange failed; `Stale` means a reused connection was found dead
/// before the daemon sent anything (it restarted), so the request is safe to resend.
enum Failure {
    Stale,
    Fatal(BirdError),
}

pub struct BirdClient {
    socket: PathBuf,
    timeout: Duration,
    conn: Option<Conn>,
}

impl std::fmt::Debug for BirdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BirdClient")
            .field("socket", &self.socket)
            .field("timeout", &self.timeout)
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl BirdClient {
    /// Does not connect; the first request does.
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> Self {
        Self {
            socket: socket.into(),
            timeout,
            conn: None,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Send one raw command line and read its reply. 8xxx/9xxx replies become
    /// `Err(Daemon)` (the connection stays usable).
    pub async fn request(&mut self, command: &str) -> Result<Reply, BirdError> {
        if command.len() > MAX_COMMAND {
            return Err(BirdError::InvalidName(format!(
                "command of {} bytes (max {MAX_COMMAND})",
                command.len()
            )));
        }
        if command.contains(['\n', '\r']) {
            return Err(BirdError::InvalidName(command.to_string()));
        }
        let reused = self.conn.is_some();
        let mut result = self.attempt(command).await;
        if reused && matches!(result, Err(Failure::Stale)) {
            // The daemon restarted since our last request: resend once.
            result = self.attempt(command).await;
        }
        let reply = result.map_err(|f| match f {
            Failure::Stale => BirdError::Closed,
            Failure::Fatal(e) => e,
        })?;
        if reply.is_error() {
            return Err(BirdError::Daemon {
                code: reply.code,
                message: reply.message().to_string(),
            });
        }
        Ok(reply)
    }

    /// Connect if needed, then one bounded exchange; any failure drops the connection.
    async fn attempt(&mut self, command: &str) -> Result<Reply, Failure> {
        if self.conn.is_none() {
            self.conn = Some(self.connect().await.map_err(Failure::Fatal)?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::Fatal(BirdError::Closed));
        };
        let result = match tokio::time::timeout(self.timeout, exchange(conn, command)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Fatal(BirdError::Timeout(self.timeout))),
        };
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn connect(&self) -> Result<Conn, BirdError> {
        let fut = async {
            let stream = loop {
                match UnixStream::connect(&self.socket).await {
                    Ok(s) => break s,
                    // The listen queue is full: the daemon is alive but not accepting
                    // (stopped, or busy). That is silence, not unreachability: keep
                    // trying until the timeout says so.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => {
                        return Err(BirdError::Connect {
                            path: self.socket.clone(),
                            message: io_message(&e),
                        })
                    }
                }
            };
            let mut conn = Conn {
                stream,
                framer: Framer::new(),
            };
            let banner = read_reply(&mut conn).await.map_err(|f| match f {
                Failure::Stale => BirdError::Connect {
                    path: self.socket.clone(),
                    message: "closed before the banner".into(),
                },
                Failure::Fatal(e) => e,
            })?;
            if banner.code != 1 {
                return Err(BirdError::Protocol(format!(
                    "expected 0001 banner, got {:04} {:?}",
                    banner.code,
                    banner.message()
                )));
            }
            Ok(conn)
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .unwrap_or(Err(BirdError::Timeout(self.timeout)))
    }

    pub async fn show_status(&mut self) -> Result<Status, BirdError> {
        parse::parse_status(&self.request("show status").await?)
    }

    pub async fn show_protocols(&mut self) -> Result<Vec<Protocol>, BirdError> {
        parse::parse_protocols(&self.request("show protocols").await?)
    }

    pub async fn show_protocol_all(&mut self, name: &str) -> Result<ProtocolDetail, BirdError> {
        let cmd = format!("show protocols all {}", quoted(name)?);
        parse::parse_protocol_detail(&self.request(&cmd).await?)
    }

    /// `show route for PREFIX [all]`; "8001 Network not found" is an empty list.
    pub async fn show_route_for(
        &mut self,
        prefix: &str,
        all: bool,
    ) -> Result<Vec<Route>, BirdError> {
        let cmd = format!(
            "show route for {}{}",
            checked_prefix(prefix)?,
            if all { " all" } else { "" }
        );
        routes_or_empty(self.request(&cmd).await)
    }

    /// Is PREFIX advertised to PROTOCOL? `show route PREFIX export PROTOCOL`.
    ///
    /// BIRD 1.6 and 2.0.x parse `export` as a protocol *symbol*: the double-quoted
    /// form is `9001 syntax error, unexpected TEXT`. So the name is sent as a symbol:
    /// bare when it is a plain identifier, else apostrophe-quoted (`'upstream-metro1'`),
    /// which both versions accept for every name BIRD can declare.
    pub async fn show_route_export(
        &mut self,
        prefix: &str,
        protocol: &str,
    ) -> Result<Vec<Route>, BirdError> {
        let cmd = format!(
            "show route {} export {}",
            checked_prefix(prefix)?,
            symbol(protocol)?
        );
        routes_or_empty(self.request(&cmd).await)
    }

    pub async fn disable(&mut self, name: &str) -> Result<Toggle, BirdError> {
        let cmd = format!("disable {}", quoted(name)?);
        parse::parse_toggle(&self.request(&cmd).await?)
    }

    pub async fn enable(&mut self, name: &str) -> Result<Toggle, BirdError> {
        let cmd = format!("enable {}", quoted(name)?);
        parse::parse_toggle(&self.request(&cmd).await?)
    }

    /// `configure`: re-read the daemon's config file (new protocols start, removed ones
    /// stop; unchanged ones keep their sessions). Ok on `0003 Reconfigured` and `0004
    /// Reconfiguration in progress`; a config error is `Err(Daemon { code: 8002, .. })`.
    pub async fn configure(&mut self) -> Result<(), BirdError> {
        let r = self.request("configure").await?;
        match r.code {
            3..=5 | 19 => Ok(()),
            code => Err(BirdError::Parse(format!(
                "configure answered {code:04} {:?}",
                r.message()
            ))),
        }
    }

    /// Make this connection read-only (`0016 Access restricted`); writes then
    /// fail with `8007 Access denied`. Lasts until the connection drops.
    pub async fn restrict(&mut self) -> Result<(), BirdError> {
        let r = self.request("restrict").await?;
        if r.code == 16 {
            Ok(())
        } else {
            Err(BirdError::Parse(format!(
                "restrict answered {:04} {:?}",
                r.code,
                r.message()
            )))
        }
    }
}

fn routes_or_empty(reply: Result<Reply, BirdError>) -> Result<Vec<Route>, BirdError> {
    match reply {
        Err(BirdError::Daemon { code: 8001, .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
        Ok(r) => parse::parse_routes(&r),
    }
}

async fn exchange(conn: &mut Conn, command: &str) -> Result<Reply, Failure> {
    let mut line = Vec::with_capacity(command.len() + 1);
    line.extend_from_slice(command.as_bytes());
    line.push(b'\n');
    if let Err(e) = conn.stream.write_all(&line).await {
        // Writing into a socket whose daemon went away (EPIPE/ECONNRESET).
        return Err(if is_dead_peer(&e) {
            Failure::Stale
        } else {
            Failure::Fatal(BirdError::Io(io_message(&e)))
        });
    }
    read_reply(conn).await
}

/// Read until the framer completes one reply. EOF or reset before any reply
/// byte is `Stale`; after some bytes it is `Closed`.
async fn read_reply(conn: &mut Conn) -> Result<Reply, Failure> {
    let mut buf = [0u8; 16 * 1024];
    let mut got_any = false;
    loop {
        let n = match conn.stream.read(&mut buf).await {
            Ok(n) => n,
            Err(e) if !got_any && is_dead_peer(&e) => return Err(Failure::Stale),
            Err(e) => return Err(Failure::Fatal(BirdError::Io(io_message(&e)))),
        };
        if n == 0 {
            return Err(if got_any || conn.framer.in_reply() {
                Failure::Fatal(BirdError::Closed)
            } else {
                Failure::Stale
            });
        }
        got_any = true;
        let mut replies = conn.framer.push(&buf[..n]).map_err(Failure::Fatal)?;
        match replies.len() {
            0 => continue,
            1 => return Ok(replies.remove(0)),
            // One request in flight: a second reply means we lost sync.
            n => {
                return Err(Failure::Fatal(BirdError::Protocol(format!(
                    "{n} replies to one request"
                ))))
            }
        }
    }
}

fn is_dead_peer(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof
    )
}

/// io::Error text without the "(os error 2)" tail: operators read this.
fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Longest BIRD symbol (`SYM_MAX_LEN` in `conf/conf.h`, 1.6 and 2.x).
const MAX_SYMBOL: usize = 64;

/// Whether `name` is a protocol name the console can send in every command it uses: a
/// name BIRD can declare, i.e. an apostrophe-quoted symbol (`conf/cf-lex.l`, 1.6 and
/// 2.x): 1 to 64 characters from `A-Z a-z 0-9 _ - . :`. Such a name is also safe inside
/// a double-quoted pattern (no quote, no glob character). `config check` uses this same
/// rule, so the config and the queries agree on which names work.
pub fn check_protocol_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SYMBOL
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid protocol name {name:?}: BIRD protocol names are 1 to {MAX_SYMBOL} \
             characters from A-Z, a-z, 0-9, '_', '-', '.' and ':'"
        ))
    }
}

/// A protocol name as a BIRD quoted string, for commands that take a name pattern
/// (`show protocols all`, `disable`, `enable`).
fn quoted(name: &str) -> Result<String, BirdError> {
    check_protocol_name(name).map_err(|_| BirdError::InvalidName(name.to_string()))?;
    Ok(format!("\"{name}\""))
}

/// A protocol name as a BIRD symbol, for commands that take only a symbol (`show route
/// ... export`): bare when it is a plain identifier (`[A-Za-z_][A-Za-z0-9_]*`), else
/// apostrophe-quoted (a bare `upstream-metro1` is `9001 syntax error, unexpected '-'`).
fn symbol(name: &str) -> Result<String, BirdError> {
    check_protocol_name(name).map_err(|_| BirdError::InvalidName(name.to_string()))?;
    let mut chars = name.chars();
    let bare = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    Ok(if bare {
        name.to_string()
    } else {
        format!("'{name}'")
    })
}

/// An IPv4/IPv6 address or prefix, by character set only: BIRD does the real
/// parsing; this only keeps other syntax out of the command line.
fn checked_prefix(p: &str) -> Result<&str, BirdError> {
    let ok = !p.is_empty()
        && p.len() <= 64
        && p.chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '/'))
        && p.contains(['.', ':']);
    if ok {
        Ok(p)
    } else {
        Err(BirdError::InvalidName(p.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_or_refused() {
        assert_eq!(quoted("anycast").expect("ok"), "\"anycast\"");
        assert_eq!(
            quoted("upstream-metro1").expect("ok"),
            "\"upstream-metro1\""
        );
        let long = "x".repeat(65);
        for bad in [
            "", "a\"b", "a\\b", "a\nb", "a\rb", "region*", "a b", "a'b", "\u{e9}", &long,
        ] {
            assert_eq!(quoted(bad), Err(BirdError::InvalidName(bad.into())));
            assert!(check_protocol_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_protocol_name(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn symbols_and_prefixes() {
        assert_eq!(symbol("upstream").expect("ok"), "upstream");
        assert_eq!(symbol("_r1").expect("ok"), "_r1");
        // BIRD accepts these only apostrophe-quoted.
        assert_eq!(symbol("upstream-metro1").expect("ok"), "'upstream-metro1'");
        assert_eq!(symbol("1x").expect("ok"), "'1x'");
        assert_eq!(symbol("a.b:c").expect("ok"), "'a.b:c'");
        for bad in ["", "a b", "\"a\"", "a;b", "'a'", "a*"] {
            assert!(symbol(bad).is_err(), "{bad:?}");
        }
        for good in ["198.18.0.10/32", "198.18.0.10", "2001:db8::/32", "::1"] {
            assert_eq!(checked_prefix(good).expect("ok"), good);
        }
        for bad in ["", "all", "1.2.3.4 all", "1.2.3.4\n", "abc", "10/8;"] {
            assert!(checked_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn refuses_before_connecting() {
        let mut c = BirdClient::new("/nonexistent/bird.ctl", Duration::from_millis(100));
        assert!(matches!(
            c.disable("a\"b").await,
            Err(BirdError::InvalidName(_))
        ));
        assert!(matches!(
            c.request(&"x".repeat(4001)).await,
            Err(BirdError::InvalidName(_))
        ));
        assert!(matches!(
            c.show_route_for("1.2.3.4 all", false).await,
            Err(BirdError::InvalidName(_))
        ));
        match c.show_status().await {
            Err(BirdError::Connect { path, message }) => {
                assert_eq!(path, Path::new("/nonexistent/bird.ctl"));
                assert_eq!(message, "No such file or directory");
            }
            other => panic!("{other:?}"),
        }
    }
}
