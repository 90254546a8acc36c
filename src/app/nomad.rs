//! The Nomad pane's state: which metro (or all), the allocation filter and sort, the
//! selected allocation, its detail and its followed logs. Pure data; the rows on screen
//! are derived from the metros' Nomad snapshots by `refresh_rows`, once per change of
//! their inputs rather than once per frame (10 000 allocations sort in about a
//! millisecond, a frame's whole budget).

use std::collections::VecDeque;

use tui_input::Input;

use super::{MetroRow, State};
use crate::nomad::{AllocStub, Allocation};

/// Log lines kept for the logs view.
pub const LOG_LINES: usize = 2000;

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
    pub logs: Option<Logs>,
    /// The allocations on screen, in order: (index into `State::metros`, index into that
    /// metro's `nomad.allocs`).
    pub rows: Vec<(usize, usize)>,
}

/// One allocation opened with Enter: fetched once, on demand (no per-allocation loops).
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub metro: String,
    pub alloc_id: String,
    pub alloc: Option<Result<Allocation, String>>,
}

/// A followed log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logs {
    pub metro: String,
    pub alloc_id: String,
    pub task: String,
    pub stderr: bool,
    pub lines: VecDeque<String>,
    /// Bytes after the last newline, waiting for the rest of their line.
    pub partial: String,
    pub error: Option<String>,
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
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.partial.push_str(&String::from_utf8_lossy(bytes));
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            self.lines
                .push_back(line.trim_end_matches(['\n', '\r']).to_string());
        }
        while self.lines.len() > LOG_LINES {
            self.lines.pop_front();
        }
    }
}

/// An allocation row: the metro it runs in and its stub.
pub type AllocRow<'a> = (&'a str, &'a AllocStub);

/// The allocations on screen, from the cache `refresh_rows` keeps.
pub fn alloc_rows(state: &State) -> Vec<AllocRow<'_>> {
    (0..state.nomad_view.rows.len())
        .filter_map(|i| alloc_row(state, i))
        .collect()
}

/// Row `i` on screen, resolved from the cache alone: drawing a screenful costs a
/// screenful, however many allocations there are.
pub fn alloc_row(state: &State, i: usize) -> Option<AllocRow<'_>> {
    let (mi, ai) = *state.nomad_view.rows.get(i)?;
    let m = state.metros.get(mi)?;
    Some((m.name.as_str(), m.nomad.as_ref()?.allocs.get(ai)?))
}

/// Recomputes the rows on screen: the chosen metro (or all), filtered by the filter text
/// (matched against job, group, id, status and node), sorted by the sort key.
pub fn refresh_rows(state: &mut State) {
    let view = &state.nomad_view;
    let needle = view.filter.value().to_lowercase();
    let mut rows: Vec<(usize, usize, AllocRow)> = state
        .metros
        .iter()
        .enumerate()
        .filter(|(_, m)| view.metro.as_deref().is_none_or(|v| v == m.name))
        .flat_map(|(mi, m): (usize, &MetroRow)| {
            m.nomad
                .iter()
                .flat_map(|n| n.allocs.iter().enumerate())
                .map(move |(ai, a)| (mi, ai, (m.name.as_str(), a)))
        })
        .filter(|(_, _, (_, a))| {
            needle.is_empty()
                || [
                    &a.job_id,
                    &a.task_group,
                    &a.id,
                    &a.client_status,
                    &a.node_name,
                    &a.name,
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&needle))
        })
        .collect();
    match view.sort {
        SortKey::Metro => rows.sort_by(|(_, _, a), (_, _, b)| {
            (a.0, &a.1.job_id, &a.1.name).cmp(&(b.0, &b.1.job_id, &b.1.name))
        }),
        SortKey::Job => rows.sort_by(|(_, _, a), (_, _, b)| {
            (&a.1.job_id, &a.1.name, a.0).cmp(&(&b.1.job_id, &b.1.name, b.0))
        }),
        // Bad ones first: that is what an operator sorts by status for.
        SortKey::Status => rows.sort_by(|(_, _, a), (_, _, b)| {
            (!a.1.is_bad(), &a.1.client_status, a.0).cmp(&(!b.1.is_bad(), &b.1.client_status, b.0))
        }),
        SortKey::Age => rows.sort_by_key(|(_, _, (_, a))| std::cmp::Reverse(a.create_time)),
        SortKey::Restarts => rows.sort_by_key(|(_, _, (_, a))| std::cmp::Reverse(a.restarts())),
    }
    let rows: Vec<(usize, usize)> = rows.into_iter().map(|(mi, ai, _)| (mi, ai)).collect();
    let len = rows.len();
    state.nomad_view.rows = rows;
    if state.nomad_view.selected >= len {
        state.nomad_view.selected = len.saturating_sub(1);
    }
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
