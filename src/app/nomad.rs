//! The Nomad pane's state: which metro (or all), the filter (over jobs and allocations)
//! and the allocation sort, the selected allocation, its detail and its followed logs
//! (scrolled back or following the tail). Pure data; the rows on screen are derived
//! from the metros' Nomad snapshots by `refresh_rows`, once per change of their inputs
//! rather than once per frame (10 000 allocations sort in about a millisecond, a
//! frame's whole budget); a metro's new snapshot moves only the allocations that changed
//! in it (330 000 rows: sorting them all again took most of the console's CPU).

use crate::domain::Level;
use std::cmp::{Ordering, Reverse};
use std::collections::VecDeque;
use std::sync::Arc;

use tui_input::Input;

use super::State;
use crate::domain::nomad::{AllocDetail, AllocList, AllocRow, JobRow};
use crate::world::MetroState;

/// Log lines kept for the logs view.
pub const LOG_LINES: usize = 2000;
/// Lines one page key moves the logs (or the allocation selection) by.
pub const PAGE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Metro,
    Job,
    Status,
    Age,
    Restarts,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Metro => SortKey::Job,
            SortKey::Job => SortKey::Status,
            SortKey::Status => SortKey::Age,
            SortKey::Age => SortKey::Restarts,
            SortKey::Restarts => SortKey::Metro,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Metro => "metro",
            SortKey::Job => "job",
            SortKey::Status => "status",
            SortKey::Age => "age",
            SortKey::Restarts => "restarts",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NomadView {
    /// `None`: every metro together, with a metro column.
    pub metro: Option<String>,
    pub filter: Input,
    /// Keys go to the filter while it is being edited.
    pub editing: bool,
    pub sort: SortKey,
    pub selected: usize,
    pub detail: Option<Detail>,
    /// Drawn over the detail when both are open: closing the logs shows the detail
    /// they were opened from.
    pub logs: Option<Logs>,
    /// The allocations on screen, in order: (index into `State::metros`, index into that
    /// metro's allocation rows).
    pub rows: Vec<(usize, usize)>,
    /// The jobs on screen, in order: (index into `State::metros`, index into that
    /// metro's jobs).
    pub jobs: Vec<(usize, usize)>,
    /// What `rows` were derived from.
    pub basis: RowsBasis,
}

/// One allocation opened with Enter: fetched once, on demand (no per-allocation loops).
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub metro: String,
    pub alloc_id: String,
    pub alloc: Option<Result<AllocDetail, String>>,
}

/// A followed log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logs {
    pub metro: String,
    pub alloc_id: String,
    pub task: String,
    pub stderr: bool,
    /// Made visible: a log line never reaches the terminal raw.
    pub lines: VecDeque<String>,
    /// Bytes after the last newline, waiting for the rest of their line.
    pub partial: String,
    pub error: Option<String>,
    /// Lines scrolled back from the tail; 0 follows new lines.
    pub scroll: usize,
}

impl Logs {
    pub fn new(metro: &str, alloc_id: &str, task: &str, stderr: bool) -> Logs {
        Logs {
            metro: metro.into(),
            alloc_id: alloc_id.into(),
            task: task.into(),
            stderr,
            lines: VecDeque::new(),
            partial: String::new(),
            error: None,
            scroll: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.partial.push_str(&String::from_utf8_lossy(bytes));
        let before = self.lines.len();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            self.lines
                .push_back(crate::domain::text::visible(line).into_owned());
        }
        // Scrolled back, the lines on screen stay where they are.
        if self.scroll > 0 {
            self.scroll += self.lines.len() - before;
        }
        while self.lines.len() > LOG_LINES {
            self.lines.pop_front();
        }
        self.clamp();
    }

    /// A log file truncated or deleted: start afresh, following.
    pub fn reset(&mut self, why: &str) {
        self.lines.clear();
        self.partial.clear();
        self.scroll = 0;
        self.lines.push_back(format!("--- log {why} ---"));
    }

    pub fn scroll_back(&mut self, n: usize) {
        self.scroll += n;
        self.clamp();
    }

    pub fn scroll_forward(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_sub(n);
    }

    pub fn follow(&mut self) {
        self.scroll = 0;
    }

    /// At least the oldest line stays on screen.
    fn clamp(&mut self) {
        self.scroll = self.scroll.min(self.lines.len().saturating_sub(1));
    }
}

/// An allocation on screen: the metro it runs in and its row.
pub type ShownAlloc<'a> = (&'a str, &'a AllocRow);
/// A job on screen: the metro it runs in and its row.
pub type ShownJob<'a> = (&'a str, &'a JobRow);

/// The allocations on screen, from the cache `refresh_rows` keeps.
pub fn alloc_rows(state: &State) -> Vec<ShownAlloc<'_>> {
    (0..state.nomad_view.rows.len())
        .filter_map(|i| alloc_row(state, i))
        .collect()
}

/// Row `i` on screen, resolved from the cache alone: drawing a screenful costs a
/// screenful, however many allocations there are.
pub fn alloc_row(state: &State, i: usize) -> Option<ShownAlloc<'_>> {
    let (mi, ai) = *state.nomad_view.rows.get(i)?;
    let m = state.metros.get(mi)?;
    let list = m.nomad.as_ref()?.allocs.value.as_ref()?;
    Some((m.name.as_str(), list.rows.get(ai)?))
}

/// The jobs on screen, filtered like the allocations.
pub fn job_rows(state: &State) -> Vec<ShownJob<'_>> {
    state
        .nomad_view
        .jobs
        .iter()
        .filter_map(|&(mi, ji)| {
            let m = state.metros.get(mi)?;
            let jobs = m.nomad.as_ref()?.jobs.value.as_ref()?;
            Some((m.name.as_str(), jobs.get(ji)?))
        })
        .collect()
}

fn matches(needle: &str, fields: &[&str]) -> bool {
    needle.is_empty() || fields.iter().any(|f| f.to_lowercase().contains(needle))
}

/// The metros the pane shows: the chosen one, or all.
fn shown(state: &State) -> impl Iterator<Item = (usize, &MetroState)> {
    let chosen = state.nomad_view.metro.as_deref();
    state
        .metros
        .iter()
        .enumerate()
        .filter(move |(_, m)| chosen.is_none_or(|v| v == m.name))
}

/// The row of allocation `ai` of metro `mi`.
fn lookup(metros: &[MetroState], mi: usize, ai: usize) -> Option<ShownAlloc<'_>> {
    let m = metros.get(mi)?;
    let list = m.nomad.as_ref()?.allocs.value.as_ref()?;
    Some((m.name.as_str(), list.rows.get(ai)?))
}

/// The order of two allocations on screen by the sort key alone.
fn cmp_key(sort: SortKey, a: ShownAlloc, b: ShownAlloc) -> Ordering {
    match sort {
        SortKey::Metro => (a.0, &a.1.job, &a.1.name).cmp(&(b.0, &b.1.job, &b.1.name)),
        SortKey::Job => (&a.1.job, &a.1.name, a.0).cmp(&(&b.1.job, &b.1.name, b.0)),
        // What needs attention first, history last: that is what an operator sorts by
        // status for.
        SortKey::Status => {
            (a.1.state(), a.1.client.as_str(), a.0).cmp(&(b.1.state(), b.1.client.as_str(), b.0))
        }
        SortKey::Age => Reverse(a.1.create_time).cmp(&Reverse(b.1.create_time)),
        SortKey::Restarts => Reverse(a.1.restarts).cmp(&Reverse(b.1.restarts)),
    }
}

/// The order of two allocations on screen, (index into `State::metros`, index into
/// its rows): by the sort key, then where they are (what a stable sort of the metros'
/// rows, in order, leaves).
fn cmp_shown(
    metros: &[MetroState],
    sort: SortKey,
    a: (usize, usize),
    b: (usize, usize),
) -> Ordering {
    let key = match (lookup(metros, a.0, a.1), lookup(metros, b.0, b.1)) {
        (Some(x), Some(y)) => cmp_key(sort, x, y),
        (x, y) => x.is_none().cmp(&y.is_none()),
    };
    key.then(a.cmp(&b))
}

fn alloc_matches(needle: &str, a: &AllocRow) -> bool {
    matches(
        needle,
        &[
            &a.job,
            &a.group,
            &a.id,
            &a.name,
            a.client.as_str(),
            a.state().word(),
            &a.node,
        ],
    )
}

/// Recomputes the rows on screen: the chosen metro (or all), filtered by the filter text
/// (matched against an allocation's job, group, id, name, status and node, and a job's
/// id, name, type and status), allocations sorted by the sort key.
pub fn refresh_rows(state: &mut State) {
    let view = &state.nomad_view;
    let needle = view.filter.value().to_lowercase();
    let sort = view.sort;
    let mut rows: Vec<(usize, usize, ShownAlloc)> = shown(state)
        .flat_map(|(mi, m)| {
            m.nomad
                .iter()
                .flat_map(|n| n.allocs.value.iter())
                .flat_map(|l| l.rows.iter().enumerate())
                .map(move |(ai, a)| (mi, ai, (m.name.as_str(), a)))
        })
        .filter(|(_, _, (_, a))| alloc_matches(&needle, a))
        .collect();
    // Stable: equal keys stay in the metros' order, then the rows'.
    rows.sort_by(|(_, _, a), (_, _, b)| cmp_key(sort, *a, *b));
    let rows: Vec<(usize, usize)> = rows.into_iter().map(|(mi, ai, _)| (mi, ai)).collect();
    let basis = RowsBasis::of(state, needle.clone());
    state.nomad_view.rows = rows;
    state.nomad_view.basis = basis;
    refresh_jobs(state, &needle);
}

/// The jobs on screen, filtered like the allocations; the selection kept on a row.
fn refresh_jobs(state: &mut State, needle: &str) {
    let jobs: Vec<(usize, usize)> = shown(state)
        .flat_map(|(mi, m)| {
            m.nomad
                .iter()
                .flat_map(|n| n.jobs.value.iter())
                .flat_map(|j| j.iter().enumerate())
                .filter(|(_, j)| matches(needle, &[&j.id, &j.name, &j.kind, &j.status]))
                .map(move |(ji, _)| (mi, ji))
        })
        .collect();
    state.nomad_view.jobs = jobs;
    let len = state.nomad_view.rows.len();
    if state.nomad_view.selected >= len {
        state.nomad_view.selected = len.saturating_sub(1);
    }
}

/// What the rows on screen were derived from: the inputs `refresh_rows` read. A new
/// snapshot of one metro is then applied to the rows by the allocations that changed in
/// it (taken out, and put back in their sorted place) instead of filtering and sorting
/// every row again; the result is the same.
#[derive(Clone, Default)]
pub struct RowsBasis {
    /// Per metro of `State::metros`: its name and its allocation list.
    lists: Vec<(String, Option<Arc<AllocList>>)>,
    /// The filter, lowercased.
    needle: String,
    sort: SortKey,
    metro: Option<String>,
}

impl std::fmt::Debug for RowsBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowsBasis")
            .field("metros", &self.lists.len())
            .field("needle", &self.needle)
            .field("sort", &self.sort)
            .field("metro", &self.metro)
            .finish()
    }
}

impl RowsBasis {
    fn of(state: &State, needle: String) -> RowsBasis {
        RowsBasis {
            lists: state
                .metros
                .iter()
                .map(|m| (m.name.clone(), allocs_of(m)))
                .collect(),
            needle,
            sort: state.nomad_view.sort,
            metro: state.nomad_view.metro.clone(),
        }
    }
}

fn allocs_of(m: &MetroState) -> Option<Arc<AllocList>> {
    m.nomad.as_ref()?.allocs.value.clone()
}

fn same(a: &Option<Arc<AllocList>>, b: &Option<Arc<AllocList>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Metro `mi`'s allocations went from `old` to what it holds now: bring the rows on
/// screen up to date by what changed, when they were derived from `old` and the other
/// metros' lists as they are (and the filter, sort and chosen metro as they are).
/// False when they were not, or when so much changed that sorting afresh is cheaper.
fn update_rows(state: &mut State, mi: usize, old: &Option<Arc<AllocList>>) -> bool {
    let view = &state.nomad_view;
    let metros = &state.world.metros;
    let basis = &view.basis;
    let fits = basis.sort == view.sort
        && basis.metro == view.metro
        && basis.lists.len() == metros.len()
        && basis.needle == view.filter.value().to_lowercase()
        && basis
            .lists
            .iter()
            .zip(metros)
            .enumerate()
            .all(|(j, ((name, list), m))| {
                *name == m.name
                    && if j == mi {
                        same(list, old)
                    } else {
                        same(list, &allocs_of(m))
                    }
            });
    if !fits {
        return false;
    }
    let Some(m) = metros.get(mi) else {
        return false;
    };
    let new = allocs_of(m);
    let is_shown = view.metro.as_ref().is_none_or(|v| *v == m.name);
    if is_shown && !same(old, &new) {
        let (Some(old), Some(new)) = (old, &new) else {
            return false;
        };
        let changed = new.rows.differing(&old.rows);
        if changed.len() > (new.rows.len() / 16).max(64) {
            return false;
        }
        let sort = view.sort;
        let needle = &basis.needle;
        let mut add: Vec<(usize, usize)> = changed
            .iter()
            .filter(|&&ai| new.rows.get(ai).is_some_and(|a| alloc_matches(needle, a)))
            .map(|&ai| (mi, ai))
            .collect();
        add.sort_by(|&a, &b| cmp_shown(metros, sort, a, b));
        let kept: Vec<(usize, usize)> = view
            .rows
            .iter()
            .copied()
            .filter(|&(m, a)| m != mi || changed.binary_search(&a).is_err())
            .collect();
        let mut rows = Vec::with_capacity(kept.len() + add.len());
        let mut from = 0;
        for e in add {
            let at = from
                + kept[from..]
                    .partition_point(|&k| cmp_shown(metros, sort, k, e) == Ordering::Less);
            rows.extend_from_slice(&kept[from..at]);
            rows.push(e);
            from = at;
        }
        rows.extend_from_slice(&kept[from..]);
        state.nomad_view.rows = rows;
    }
    if let Some(b) = state.nomad_view.basis.lists.get_mut(mi) {
        b.1 = new;
    }
    true
}

/// The metros that have a Nomad endpoint, in config order.
pub fn nomad_metros(state: &State) -> Vec<&str> {
    state
        .metros
        .iter()
        .filter(|m| m.has_nomad)
        .map(|m| m.name.as_str())
        .collect()
}

pub(super) fn on_nomad(state: &mut State, metro: &str, snap: crate::nomad::NomadSnapshot) {
    let Some(idx) = state.metros.iter().position(|m| m.name == metro) else {
        return;
    };
    let old_allocs = allocs_of(&state.metros[idx]);
    let old = state.metros[idx]
        .nomad
        .as_ref()
        .map(|n| (n.summary(), n.error.clone()));
    let new_summary = snap.summary();
    let mut events = Vec::new();
    match (&old, &snap.error) {
        (Some((_, None)) | None, Some(e)) => {
            events.push((Level::Error, format!("{metro}: nomad: {e}")))
        }
        (Some((_, Some(_))), None) => {
            events.push((Level::Good, format!("{metro}: nomad reachable again")))
        }
        _ => {}
    }
    // Failures that need attention; replaced ones are history and no news.
    if let Some((Some(was), Some(now))) = old.as_ref().map(|(o, _)| (o.allocs, new_summary.allocs))
    {
        if now.failed > was.failed {
            events.push((
                Level::Error,
                format!("{metro}: {} allocation(s) failed", now.failed),
            ));
        }
        if now.lost > was.lost {
            events.push((
                Level::Error,
                format!("{metro}: {} allocation(s) lost", now.lost),
            ));
        }
        if now.attention() < was.attention() {
            events.push((
                Level::Good,
                format!("{metro}: allocations recovered ({} running)", now.running),
            ));
        }
    }
    if let Some((old_summary, _)) = &old {
        if old_summary.leader == Some(true)
            && new_summary.leader == Some(false)
            && snap.error.is_none()
        {
            events.push((Level::Error, format!("{metro}: nomad has no leader")));
        }
    }
    state.world.store_nomad(metro, snap);
    for (level, text) in events {
        state.event(level, text);
    }
    // The pane's rows are kept only while it is shown; showing it refreshes them. A
    // snapshot changes them by the allocations that changed in it (at scale, sorting
    // them all again costs tens of ms a snapshot).
    if state.view == super::View::Nomad {
        if update_rows(state, idx, &old_allocs) {
            let needle = state.nomad_view.basis.needle.clone();
            refresh_jobs(state, &needle);
        } else {
            refresh_rows(state);
        }
    } else {
        state.nomad_view.basis = RowsBasis::default();
    }
}
