//! Deployment backend: what a rollout of one Spin app across the metros is made of, with
//! no UI and no lock — the operation around it (interlock, audit, history, the drain
//! through the verified withdraw) is `ops::deploy`'s.
//!
//! - [`plan`]: the metros in order (the one carrying the least anycast traffic first,
//!   the observer's best path last, or the configured order) and whether each is drained;
//! - [`job`]: the Nomad job for a ref, built from serde types, or from a template;
//! - [`machine`]: the rollout as a pure state machine (drain → register → watch →
//!   verify → restore per metro; revert on failure);
//! - [`watch`]: a Nomad deployment followed with blocking queries;
//! - [`verify`]: the new version asked of the metro's own address;
//! - [`publish`]: the digest `spin registry push` prints.

pub mod job;
pub mod machine;
pub mod verify;
pub mod watch;

use crate::domain::deploy::{AppRef, Drain, Plan, PlanStep};
use crate::domain::ObserverView;

/// The metros in rollout order. With `configured`, that order (only the metros in
/// `candidates`). Otherwise by anycast traffic, least first: metros not advertising,
/// then the advertising ones by the observer's preference, lowest first, so the best
/// path goes last; without an observer's answer, `candidates` as they are.
pub fn order(
    candidates: &[String],
    configured: Option<&[String]>,
    observer: Option<&Result<ObserverView, String>>,
) -> Vec<String> {
    if let Some(c) = configured {
        return c
            .iter()
            .filter(|m| candidates.contains(m))
            .cloned()
            .collect();
    }
    let Some(Ok(view)) = observer else {
        return candidates.to_vec();
    };
    let mut keyed: Vec<(u8, i64, usize, String)> = candidates
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let route = view
                .routes
                .iter()
                .find(|r| r.metro.as_deref() == Some(m.as_str()));
            match route {
                None => (0, 0, i, m.clone()),
                Some(r) if r.best => (2, 0, i, m.clone()),
                Some(r) => (1, i64::from(r.local_pref.unwrap_or(100)), i, m.clone()),
            }
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, _, _, m)| m).collect()
}

/// The plan for `metros` (in order): each advertising metro is drained unless `no_drain`
/// or it would be the last one advertising when its turn comes (earlier metros are
/// restored by then); a metro not advertising is neither drained nor restored.
pub fn plan(
    app: &AppRef,
    job: &str,
    metros: &[String],
    advertising: &[String],
    no_drain: bool,
) -> Plan {
    let mut warnings = Vec::new();
    let steps = metros
        .iter()
        .map(|m| {
            let advertises = advertising.contains(m);
            let drain = if !advertises {
                Drain::NotAdvertising
            } else if no_drain {
                Drain::NotAsked
            } else if crate::domain::is_last_advertising(advertising, m) {
                Drain::LastAdvertising
            } else {
                Drain::Yes
            };
            if matches!(drain, Drain::LastAdvertising | Drain::NotAsked) {
                warnings.push(format!("{m}: {}", drain.words()));
            }
            PlanStep {
                metro: m.clone(),
                drain,
            }
        })
        .collect();
    Plan {
        app: app.clone(),
        job: job.to_string(),
        steps,
        warnings,
    }
}

/// The digest in what a publish command printed: `Pushed with digest sha256:…` (Spin
/// since v1.1.0).
pub fn pushed_digest(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Pushed with digest ")?;
        let d = rest.split_whitespace().next()?;
        (d.contains(':') && d.chars().all(|c| c.is_ascii_alphanumeric() || c == ':'))
            .then(|| d.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ObservedRoute;

    fn view(routes: &[(&str, u32, bool)]) -> Result<ObserverView, String> {
        Ok(ObserverView {
            routes: routes
                .iter()
                .map(|(m, pref, best)| ObservedRoute {
                    metro: Some(m.to_string()),
                    protocol: format!("metro_{m}"),
                    best: *best,
                    local_pref: Some(*pref),
                })
                .collect(),
            ..Default::default()
        })
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_best_path_goes_last_and_the_idle_first() {
        let obs = view(&[("am", 9930, true), ("da", 9700, false), ("sv", 9800, false)]);
        let all = names(&["am", "da", "sv", "fr"]);
        assert_eq!(
            order(&all, None, Some(&obs)),
            names(&["fr", "da", "sv", "am"])
        );
        assert_eq!(
            order(&all, Some(&names(&["sv", "am"])), Some(&obs)),
            names(&["sv", "am"])
        );
        assert_eq!(order(&all, None, Some(&Err("silent".into()))), all);
    }

    #[test]
    fn plans_drain_all_but_a_lone_advertiser() {
        let app = AppRef::parse("r/hello:v2").unwrap();
        let p = plan(
            &app,
            "hello",
            &names(&["da", "am"]),
            &names(&["am", "da"]),
            false,
        );
        assert!(p.steps.iter().all(|s| s.drain == Drain::Yes));
        assert_eq!(p.order_words(), "da (drain) → am (drain)");
        assert!(p.warnings.is_empty());
        let p = plan(&app, "hello", &names(&["da", "am"]), &names(&["am"]), false);
        assert_eq!(p.steps[0].drain, Drain::NotAdvertising);
        assert_eq!(p.steps[1].drain, Drain::LastAdvertising);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].starts_with("am: no drain: the last metro"));
        let p = plan(
            &app,
            "hello",
            &names(&["da", "am"]),
            &names(&["am", "da"]),
            true,
        );
        assert!(p.steps.iter().all(|s| s.drain == Drain::NotAsked));
    }

    #[test]
    fn the_digest_comes_from_spins_own_line() {
        let out = "Pushing app to the Registry...\nPushed with digest sha256:0a1b2c\n";
        assert_eq!(pushed_digest(out).as_deref(), Some("sha256:0a1b2c"));
        assert_eq!(
            pushed_digest("Pushed; the registry did not return the digest"),
            None
        );
        assert_eq!(pushed_digest("Pushed with digest \u{1b}[2J"), None);
    }
}
