//! Metros joining and leaving a running lab (`lab metro add`/`remove`): a metro's daemon,
//! app server and Nomad endpoint started or stopped, the upstream reconfigured, and the
//! wait for its session. Answers "what happens when a metro is added or removed?".

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{conf, err, find_bird, metros, Lab, LabError, LabMetro};
use crate::bird::BirdClient;

impl Lab {
    /// Adds a metro to the running lab: its router (peered with the upstream, which is
    /// reconfigured with the new session), app server and Nomad endpoint; returns once
    /// the upstream has its session Established and its route. A metro already in the lab
    /// is left as it is (success): so the installer's `terraform apply` with the lab's own
    /// metros changes nothing. Errors: an unknown code (naming the known ones), a lab
    /// without slots, or a router that does not come up (everything started is stopped).
    pub async fn add_metro(&mut self, code: &str) -> Result<String, LabError> {
        if metros::lookup(code).is_none() {
            return err(metros::unknown(code));
        }
        if self.state.metros.iter().any(|m| m.code == code) {
            return Ok(format!("{code} is already in the lab"));
        }
        let Some(m) = self.state.metro_for(code) else {
            return err(format!(
                "this lab was started before metros could be added; restart it to add {code}"
            ));
        };
        let bird = find_bird()?;
        // Recorded first: whatever happens next, `lab down` knows to stop it.
        self.state.metros.push(m.clone());
        self.save_state()?;
        match self.start_metro(&bird, &m).await {
            Ok(()) => Ok(format!(
                "{code} ({}) added: router {} AS {}, Established with the upstream",
                m.display_name, m.addr, m.asn
            )),
            Err(e) => {
                let _ = self.stop_metro(code).await;
                Err(e)
            }
        }
    }

    pub(super) async fn start_metro(&mut self, bird: &Path, m: &LabMetro) -> Result<(), LabError> {
        let s = &self.state;
        let conf = conf::metro_bird(s, m, &s.log_file(&m.code)).map_err(LabError)?;
        std::fs::write(s.conf_file(&m.code), conf).or_else(|e| {
            err(format!(
                "cannot write {}: {e}",
                s.conf_file(&m.code).display()
            ))
        })?;
        self.start_daemon(bird, &m.code)?;
        self.wait_socket(&m.code).await?;
        if let Some(dp) = self.dataplane.as_mut() {
            dp.add_metro(&self.state, m).await?;
        }
        self.reconfigure_upstream().await?;
        self.wait_metro(&m.code, Duration::from_secs(20)).await
    }

    /// Removes a metro from the running lab: the front door stops routing to it, the
    /// upstream drops its session (reconfigured), its app server, Nomad endpoint and router
    /// stop, its files go. A metro not in the lab is nothing to do (success). Refused for
    /// the lab's last metro, and for an unknown code (naming the known ones).
    pub async fn remove_metro(&mut self, code: &str) -> Result<String, LabError> {
        if metros::lookup(code).is_none() {
            return err(metros::unknown(code));
        }
        if !self.state.metros.iter().any(|m| m.code == code) {
            return Ok(format!("{code} is not in the lab"));
        }
        if self.state.metros.len() == 1 {
            return err(format!(
                "refusing to remove {code}: it is the lab's last metro (stop the lab with `lab down`)"
            ));
        }
        self.stop_metro(code).await?;
        Ok(format!("{code} removed"))
    }

    pub(super) async fn stop_metro(&mut self, code: &str) -> Result<(), LabError> {
        if let Some(dp) = self.dataplane.as_mut() {
            dp.remove_metro(code);
        }
        self.state.metros.retain(|m| m.code != code);
        let reconfigured = self.reconfigure_upstream().await;
        // The router: SIGTERM, SIGKILL after 3 s, reaped.
        if let Some(i) = self.children.iter().position(|(d, _)| d == code) {
            let (_, mut child) = self.children.remove(i);
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(3);
            while !matches!(child.try_wait(), Ok(Some(_))) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let s = &self.state;
        for f in [s.socket(code), s.pid_file(code), s.conf_file(code)] {
            let _ = std::fs::remove_file(f);
        }
        self.save_state()?;
        reconfigured
    }

    /// Rewrites the upstream's config for the lab's metros and has it re-read it.
    pub(super) async fn reconfigure_upstream(&self) -> Result<(), LabError> {
        let s = &self.state;
        let text = conf::upstream_bird(s, &s.log_file("upstream")).map_err(LabError)?;
        std::fs::write(s.conf_file("upstream"), text).or_else(|e| {
            err(format!(
                "cannot write {}: {e}",
                s.conf_file("upstream").display()
            ))
        })?;
        let mut upstream = BirdClient::new(s.socket("upstream"), Duration::from_secs(5));
        upstream
            .configure()
            .await
            .map_err(|e| LabError(format!("the upstream did not take its new config: {e}")))
    }

    /// Waits until the upstream has its session with `code` Established and a route from it.
    pub(super) async fn wait_metro(&self, code: &str, limit: Duration) -> Result<(), LabError> {
        let proto = conf::observer_protocol(code);
        let deadline = Instant::now() + limit;
        let mut upstream = BirdClient::new(self.state.socket("upstream"), Duration::from_secs(1));
        let mut last = String::from("no reply yet");
        while Instant::now() < deadline {
            match upstream.show_protocols().await {
                Ok(protos) => {
                    let up = protos
                        .iter()
                        .any(|p| p.name == proto && p.bgp_state.as_deref() == Some("Established"));
                    let routes = match upstream.show_route_for(&self.state.prefix, false).await {
                        Ok(r) => r.iter().any(|r| r.protocol == proto),
                        Err(_) => false,
                    };
                    if up && routes {
                        return Ok(());
                    }
                    last = format!(
                        "session {}, route {}",
                        if up { "Established" } else { "not Established" },
                        if routes { "present" } else { "absent" }
                    );
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        err(format!(
            "{code} did not establish with the upstream within {}s ({last}); logs in {}",
            limit.as_secs(),
            self.state.dir.join("log").display()
        ))
    }
}
