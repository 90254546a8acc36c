//! The console's state machine: `State`, `Msg`, and `update(&mut State, Msg) -> Vec<Effect>`.
//! `update` is synchronous and pure: it never does I/O and takes the time from the
//! messages, so every keypress and poll result can be tested without a terminal.

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use crossterm::event::KeyEvent;

use crate::config::keymap::Keymap;
use crate::config::theme::Theme;
use crate::config::Config;
use crate::domain::{BestPath, Desired, Event, Level, Outcome, Request, Snapshot, ANYCAST};
pub use crate::world::{MetroState, World};

pub mod demo;
pub mod deploy;
mod keys;
pub mod latency;
mod links;
pub mod nomad;
pub mod provision;
mod routing;

use latency::{ChartView, Marker};

const MAX_EVENTS: usize = 500;
/// How long an action's outcome explains the changes polls then see.
const EXPLAINED_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// What a finished action changed, as its outcome event already said.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    pub metro: String,
    pub advertised: bool,
    /// The best path after it (`None`: no route), when known.
    pub best: Option<Option<String>>,
    pub at: SystemTime,
}
const MAX_MARKERS: usize = 200;

/// The console's screens, in the order of their tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::EnumIter)]
pub enum View {
    #[default]
    Overview,
    Latency,
    Nomad,
    Provision,
    Deploy,
    /// Who serves the viewer, in big type: the presenter's view (and the demo's).
    Anycast,
}

impl View {
    /// The command that shows it (its tab shows that command's key).
    pub fn command(self) -> crate::config::keymap::Command {
        use crate::config::keymap::Command;
        match self {
            View::Overview => Command::ViewOverview,
            View::Latency => Command::ViewLatency,
            View::Nomad => Command::ViewNomad,
            View::Provision => Command::ViewProvision,
            View::Deploy => Command::ViewDeploy,
            View::Anycast => Command::ViewAnycast,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "overview",
            View::Latency => "latency",
            View::Nomad => "nomad",
            View::Provision => "provision",
            View::Deploy => "deploy",
            View::Anycast => "anycast",
        }
    }

    /// The next tab, wrapping round.
    pub fn next(self) -> View {
        use strum::IntoEnumIterator as _;
        View::iter()
            .cycle()
            .skip_while(|v| *v != self)
            .nth(1)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Snapshot(Snapshot),
    /// A metro's Nomad state, as its watcher last saw it.
    Nomad {
        metro: String,
        snapshot: crate::nomad::NomadSnapshot,
    },
    /// The allocation opened in the Nomad pane, fetched.
    Allocation {
        metro: String,
        id: String,
        result: Result<crate::domain::nomad::AllocDetail, String>,
    },
    /// A piece of the followed log stream.
    Log {
        alloc_id: String,
        stderr: bool,
        chunk: Result<crate::nomad::logs::LogChunk, String>,
    },
    /// One latency probe of a target (`anycast` or a metro's name).
    Probe {
        target: String,
        sample: crate::probe::ProbeSample,
    },
    /// A line of progress from a running action.
    Progress(String),
    Done(Outcome),
    /// The clock moved; ages on screen follow it.
    Tick(SystemTime),
    Resize,
    /// The config file changed and reads well: the console follows it.
    ConfigChanged(std::sync::Arc<Config>),
    /// The config file changed and does not read (`file:line:col: key: why`): the
    /// console keeps the config it has.
    ConfigInvalid(String),
    /// From the provisioning executor.
    Provision(provision::ProvisionMsg),
    /// From the deployment executor.
    Deploy(deploy::DeployMsg),
    /// A remote metro's SSH link changed.
    Link {
        metro: String,
        status: crate::domain::link::LinkStatus,
    },
    /// A worker panicked or ended while it should run on.
    WorkerStopped {
        worker: Worker,
        error: String,
    },
}

/// The console's long-lived workers, named by what they feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Worker {
    /// Polls every metro's BIRD and the observer.
    Poller,
    /// Probes one target (`anycast` or a metro).
    Probe(String),
    /// Watches one metro's Nomad API.
    Nomad(String),
    /// Follows the open allocation's logs.
    Logs,
    /// Runs a withdraw or restore.
    Action,
    /// Runs terraform for the provisioning pane.
    Provision,
    /// Runs a deployment for the deployment pane.
    Deploy,
    /// Follows the config file.
    Config,
    /// Follows one remote metro's SSH link.
    Link(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Execute(Request),
    /// Stop the running action: it records `interrupted` with what it then sees.
    Interrupt,
    /// Probe the anycast address now, not at its next tick: the route just moved.
    ProbeNow,
    Refresh,
    /// Plan the installer (`vars` after the config's).
    ProvisionPlan {
        destroy: bool,
        vars: Vec<(String, String)>,
    },
    /// Apply the held plan (confirmed).
    ProvisionApply,
    /// One more interrupt for the running terraform.
    ProvisionCancel,
    /// Write these metros into the config.
    ProvisionWrite(crate::provision::MetroDiff),
    /// Read the installer's outputs and the history again.
    ProvisionRead,
    /// Roll `reference` out to the metros (confirmed).
    Deploy {
        reference: String,
        no_drain: bool,
    },
    /// One more cancel for the running deployment.
    DeployCancel,
    /// Read the deployment history again.
    DeployRead,
    /// Run with this config from now on: pollers, probes and watchers follow it.
    Reconfigure(std::sync::Arc<Config>),
    Quit,
    FetchAllocation {
        metro: String,
        id: String,
    },
    FollowLogs {
        metro: String,
        alloc_id: String,
        task: String,
        stderr: bool,
    },
    StopLogs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    Confirm(Pending),
    /// Applying a held provisioning plan, asked.
    ConfirmProvision(provision::ProvisionConfirm),
    /// A deployment, asked.
    ConfirmDeploy(deploy::DeployConfirm),
}

/// A destructive action waiting for the operator's yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub request: Request,
    /// What will happen, in the operator's words ("anycast will be served from da").
    pub consequence: String,
    /// Withdrawing the last advertising metro: only a forced confirmation proceeds.
    pub needs_force: bool,
    /// A forced action was confirmed once with `F`; one more `F` proceeds.
    pub forced_once: bool,
    /// Why a key did nothing ("only F proceeds…"), shown in the dialog.
    pub note: Option<String>,
}

/// The console's state: what is known of the platform (the [`World`], reached through
/// `Deref`), and what only the console has — selection, mode, events, views, keys.
#[derive(Debug, Clone)]
pub struct State {
    pub world: World,
    pub selected: usize,
    pub mode: Mode,
    pub events: VecDeque<Event>,
    pub read_only: bool,
    pub keymap: Keymap,
    pub theme: Theme,
    /// The action being executed, shown in the footer.
    pub busy: Option<String>,
    /// The latest one-line message for the footer.
    pub flash: Option<Event>,
    /// Where the state came from, e.g. "embedded lab (/run/user/0/platform-tui/...)".
    pub source: String,
    /// Quit was asked while an action ran: the console quits once it is recorded.
    pub quitting: bool,
    /// First line of the help overlay shown (the view clamps it to the text).
    pub help_scroll: u16,
    /// The metro of this console's running action: its changes are that action's news.
    pub acting_on: Option<String>,
    /// Changes an action's outcome already reported (its own event says them), so a
    /// poll that sees them adds no second event. Dropped after `EXPLAINED_FOR`.
    pub explained: Vec<Explained>,
    /// This console's process id: its own audit records are not news from elsewhere.
    pub own_pid: u32,
    pub view: View,
    pub chart: ChartView,
    pub markers: Vec<Marker>,
    pub nomad_view: nomad::NomadView,
    pub provision_view: provision::ProvisionView,
    pub deploy_view: deploy::DeployView,
    /// Each remote metro's SSH link, as last heard.
    pub links: BTreeMap<String, crate::domain::link::LinkStatus>,
    /// The demo's story, when the console runs as `platform-tui demo`.
    pub demo: Option<demo::Demo>,
    /// The route just moved to this metro: anycast answers from elsewhere (probes in
    /// flight, a data plane a moment behind its control plane) ask for another probe at
    /// once, this many more times at most.
    pub awaiting: Option<(String, u8)>,
}

/// Extra probes asked for while the answers lag a move of the route.
pub const REPROBES: u8 = 3;

impl std::ops::Deref for State {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for State {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

impl State {
    pub fn new(
        cfg: &Config,
        desired: BTreeMap<String, Desired>,
        source: String,
        now: SystemTime,
    ) -> State {
        State {
            world: World::new(cfg, desired, now),
            selected: 0,
            mode: Mode::Normal,
            events: VecDeque::new(),
            read_only: cfg.console.read_only,
            keymap: cfg.console.keymap.clone(),
            theme: cfg.console.theme.clone(),
            busy: None,
            flash: None,
            source,
            quitting: false,
            help_scroll: 0,
            acting_on: None,
            explained: Vec::new(),
            own_pid: std::process::id(),
            view: View::Overview,
            chart: ChartView::default(),
            markers: Vec::new(),
            nomad_view: nomad::NomadView::default(),
            provision_view: provision::ProvisionView::new(cfg),
            deploy_view: deploy::DeployView::new(cfg),
            links: BTreeMap::new(),
            demo: None,
            awaiting: None,
        }
    }

    /// The console as `platform-tui demo`: the presenter's view, the story stepped by
    /// the space bar (or every `auto`).
    pub fn with_demo(mut self, auto: Option<std::time::Duration>) -> State {
        self.view = View::Anycast;
        self.demo = Some(demo::Demo::new(auto));
        self
    }

    /// What the demo looks at, from the world.
    pub fn demo_facts(&self) -> demo::Facts {
        let row = self.latency_row(ANYCAST);
        let figure = match self.anycast_health() {
            Some(crate::world::Health::Answering { ms, .. }) => Some(ms),
            _ => None,
        };
        let run = row.and_then(|r| r.current_run());
        demo::Facts {
            best: self.best().map(str::to_string),
            advertising: self.advertising(),
            served_by: figure.and(row.and_then(|r| r.served_by.clone())),
            figure,
            change: figure.and_then(|ms| run.and_then(|r| r.change(ms))),
            busy: self.busy.is_some(),
            read_only: self.read_only,
            names: self
                .metros
                .iter()
                .map(|m| (m.name.clone(), m.display_name.clone()))
                .collect(),
        }
    }

    fn marker(&mut self, label: String) {
        self.markers.push(Marker {
            at: self.now,
            label,
        });
        if self.markers.len() > MAX_MARKERS {
            self.markers.remove(0);
        }
    }

    pub fn selected_metro(&self) -> Option<&MetroState> {
        self.metros.get(self.selected)
    }

    /// Whether an action in flight on `metro` (ours or another process's), or one just
    /// finished, accounts for its advertisement becoming `advertised`.
    fn action_explains(&self, metro: &str, advertised: Option<bool>) -> bool {
        self.acting_on.as_deref() == Some(metro)
            || self
                .unfinished
                .as_ref()
                .is_some_and(|u| u.running && u.intent.metro == metro)
            || self
                .explained
                .iter()
                .any(|e| e.metro == metro && Some(e.advertised) == advertised)
    }

    /// Whether an action in flight or just finished accounts for this best path.
    fn action_explains_path(&self, path: &BestPath) -> bool {
        let after = match path {
            BestPath::Metro(m) => Some(m.as_str()),
            BestPath::NoRoute => None,
            _ => return false,
        };
        self.acting_on.is_some()
            || self.unfinished.as_ref().is_some_and(|u| u.running)
            || self
                .explained
                .iter()
                .any(|e| e.best.as_ref().is_some_and(|b| b.as_deref() == after))
    }

    fn event(&mut self, level: Level, text: impl Into<String>) {
        let e = Event {
            at: self.now,
            level,
            text: text.into(),
        };
        self.flash = Some(e.clone());
        self.events.push_back(e);
        while self.events.len() > MAX_EVENTS {
            self.events.pop_front();
        }
    }
}

/// The state machine. Returns the effects for the runtime to carry out.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let looks = matches!(
        msg,
        Msg::Tick(_) | Msg::Probe { .. } | Msg::Snapshot(_) | Msg::Done(_)
    );
    let mut effects = on_msg(state, msg);
    // The demo looks at the world after every change of it; `--auto` moves it on.
    if looks && !state.quitting {
        let facts = state.demo_facts();
        let now = state.now;
        if let Some(request) = state.demo.as_mut().and_then(|d| d.observe(&facts, now)) {
            effects.extend(keys::start(state, request));
        }
    }
    effects
}

fn on_msg(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => keys::on_key(state, key),
        Msg::Snapshot(snap) => {
            let (polled, best) = (state.last_poll.is_some(), state.best().map(str::to_string));
            routing::on_snapshot(state, snap);
            // Another process's action, or the network, moved the best path.
            if polled && state.best() != best.as_deref() {
                state.awaiting = state.best().map(|b| (b.to_string(), REPROBES));
                vec![Effect::ProbeNow]
            } else {
                Vec::new()
            }
        }
        Msg::Probe { target, sample } => {
            latency::on_probe(state, &target, sample);
            latency::reprobe(state, &target)
        }
        Msg::Nomad { metro, snapshot } => {
            nomad::on_nomad(state, &metro, snapshot);
            Vec::new()
        }
        Msg::Allocation { metro, id, result } => {
            if let Some(d) = state.nomad_view.detail.as_mut() {
                if d.metro == metro && d.alloc_id == id {
                    d.alloc = Some(result);
                }
            }
            Vec::new()
        }
        Msg::Log {
            alloc_id,
            stderr,
            chunk,
        } => {
            if let Some(l) = state.nomad_view.logs.as_mut() {
                if l.alloc_id == alloc_id && l.stderr == stderr {
                    match chunk {
                        Ok(crate::nomad::logs::LogChunk::Data(bytes)) => l.push(&bytes),
                        Ok(crate::nomad::logs::LogChunk::Reset(why)) => l.reset(&why),
                        Err(e) => l.error = Some(e),
                    }
                }
            }
            Vec::new()
        }
        Msg::Progress(line) => {
            state.busy = Some(line);
            Vec::new()
        }
        Msg::Done(outcome) => {
            let moved = outcome.ok();
            let best_after = outcome.best_after.clone();
            let now = state.now;
            if let Some(d) = state.demo.as_mut() {
                d.on_done(&outcome, now);
            }
            routing::on_done(state, outcome);
            if state.quitting {
                // The demo puts back what it withdrew before the console goes.
                match state
                    .demo
                    .as_mut()
                    .and_then(demo::Demo::restore_before_quitting)
                {
                    Some(request) => keys::start(state, request),
                    None => vec![Effect::Quit],
                }
            } else if moved {
                // The route moved: the new latency is one round trip away, not a tick.
                state.awaiting = best_after.map(|b| (b, REPROBES));
                vec![Effect::ProbeNow, Effect::Refresh]
            } else {
                vec![Effect::Refresh]
            }
        }
        Msg::Tick(now) => {
            state.now = now;
            Vec::new()
        }
        Msg::Resize => Vec::new(),
        Msg::ConfigChanged(cfg) => on_config(state, cfg),
        Msg::Provision(m) => provision::on_msg(state, m),
        Msg::Deploy(m) => deploy::on_msg(state, m),
        Msg::ConfigInvalid(why) => {
            // Said once per distinct problem: the runtime re-reads the file on change.
            state.event(
                Level::Error,
                format!("config change not applied, still running on the previous one: {why}"),
            );
            Vec::new()
        }
        Msg::Link { metro, status } => links::on_link(state, &metro, status),
        Msg::WorkerStopped { worker, error } => routing::on_worker_stopped(state, worker, error),
    }
}

/// A changed config file: metros come and go, keys and colours follow, read-only only
/// tightens (the runtime keeps `--read-only`).
fn on_config(state: &mut State, cfg: std::sync::Arc<Config>) -> Vec<Effect> {
    let selected = state.selected_metro().map(|m| m.name.clone());
    let (added, removed) = state.world.reconfigure(&cfg);
    state.selected = selected
        .and_then(|n| state.metros.iter().position(|m| m.name == n))
        .unwrap_or(0)
        .min(state.metros.len().saturating_sub(1));
    state.keymap = cfg.console.keymap.clone();
    state.theme = cfg.console.theme.clone();
    state.provision_view.installer = provision::ProvisionView::new(&cfg).installer;
    state.deploy_view.job = cfg.deploy.job.clone();
    state.deploy_view.order = cfg.deploy.order.clone();
    state.read_only = cfg.console.read_only;
    state.links.retain(|m, _| cfg.metro(m).is_some());
    if let Some(m) = &state.nomad_view.metro {
        if !state.metros.iter().any(|x| &x.name == m) {
            state.nomad_view.metro = None;
        }
    }
    nomad::refresh_rows(state);
    let mut what: Vec<String> = added.iter().map(|m| format!("+ {m}")).collect();
    what.extend(removed.iter().map(|m| format!("- {m}")));
    let what = if what.is_empty() {
        String::new()
    } else {
        format!(": metros {}", what.join(", "))
    };
    state.event(Level::Info, format!("config reloaded{what}"));
    for m in &added {
        state.marker(format!("{m} added"));
    }
    vec![Effect::Reconfigure(cfg), Effect::Refresh]
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
pub(crate) mod tests;
