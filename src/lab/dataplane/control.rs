//! The lab's control port: `lab app stop|start` and `lab metro add|remove` from another
//! process, checked against the lab's token; app commands are carried out here, metro
//! changes handed to the lab's owner as [`MetroRequest`]s. Answers "how does another
//! process ask the running lab for a change, and what did it say?"

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::app::Shared;
use crate::lab::{LabError, LabState};

/// Asked of the lab's owner through the control port: add (`true`) or remove a metro.
/// The owner answers on `reply` with what it did, or why not.
pub struct MetroRequest {
    pub add: bool,
    pub code: String,
    pub reply: tokio::sync::oneshot::Sender<Result<String, String>>,
}

/// How long the owner may take to add or remove a metro (its router must come up and
/// its session establish).
pub const METRO_CHANGE: Duration = Duration::from_secs(60);

pub(super) async fn control_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    token: String,
    requests: tokio::sync::mpsc::Sender<MetroRequest>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (shared, token, requests) = (shared.clone(), token.clone(), requests.clone());
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(read.take(4096));
            let read_line = reader.read_line(&mut line);
            if !matches!(
                tokio::time::timeout(Duration::from_secs(5), read_line).await,
                Ok(Ok(_))
            ) {
                return;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            // Only the owner of the lab's state file knows the token.
            let reply = match words.as_slice() {
                [t, rest @ ..] if *t == token => match rest {
                    ["app", "stop", code] => shared.stop_app(code),
                    ["app", "start", code] => shared.start_app(code).await,
                    ["metro", verb @ ("add" | "remove"), code] => {
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        let req = MetroRequest {
                            add: *verb == "add",
                            code: code.to_string(),
                            reply,
                        };
                        match requests.send(req).await {
                            Err(_) => Err("this lab's owner takes no metro changes".to_string()),
                            Ok(()) => match tokio::time::timeout(METRO_CHANGE, answer).await {
                                Ok(Ok(r)) => r,
                                Ok(Err(_)) => {
                                    Err("the lab's owner stopped before answering".to_string())
                                }
                                Err(_) => Err(format!(
                                    "no answer from the lab's owner within {}s",
                                    METRO_CHANGE.as_secs()
                                )),
                            },
                        }
                    }
                    _ => Err(format!("unknown lab command `{}`", rest.join(" "))),
                },
                _ => Err("not this lab's token".to_string()),
            };
            let text = match reply {
                Ok(t) => format!("ok {t}\n"),
                Err(e) => format!("error {e}\n"),
            };
            let _ = write.write_all(text.as_bytes()).await;
        });
    }
}

/// Sends one command to the lab's control port (`app stop am`) and returns its answer.
pub async fn control(state: &LabState, command: &str) -> Result<String, LabError> {
    control_within(state, command, Duration::from_secs(5)).await
}

/// [`control`], waiting at most `limit` for the answer (`metro add` takes seconds).
pub async fn control_within(
    state: &LabState,
    command: &str,
    limit: Duration,
) -> Result<String, LabError> {
    let addr = state.control_addr();
    let talk = async {
        let stream = TcpStream::connect(addr).await?;
        let (read, mut write) = stream.into_split();
        write
            .write_all(format!("{} {command}\n", state.control_token).as_bytes())
            .await?;
        let mut line = String::new();
        BufReader::new(read).read_line(&mut line).await?;
        Ok::<String, std::io::Error>(line)
    };
    let line = tokio::time::timeout(limit, talk)
        .await
        .map_err(|_| LabError(format!("the lab at {addr} did not answer")))?
        .map_err(|e| {
            LabError(format!(
                "cannot reach the lab at {addr}: {e} (is it running?)"
            ))
        })?;
    match line.trim().split_once(' ') {
        Some(("ok", text)) => Ok(text.to_string()),
        Some(("error", text)) => Err(LabError(text.to_string())),
        _ => Err(LabError(format!(
            "unexpected answer from the lab: {}",
            line.trim()
        ))),
    }
}
