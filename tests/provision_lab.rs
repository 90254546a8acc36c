//! The provisioning backend with the real `terraform` (or `tofu`) on a real lab: the lab's
//! installer adds `fr` (its router Established and advertising at the upstream, the config
//! diff written and read back by the real loader), removes it (no fr process left), fails
//! on an unknown metro with terraform's diagnostic, meets a held state lock, and is
//! cancelled mid-apply. Without terraform or tofu on PATH each test prints
//! `SKIPPED: no terraform or tofu on PATH` and returns.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{metro, procs_mentioning, run, text, Lab};
use platform_tui::bird::BirdClient;
use platform_tui::provision::stream::{Body, Event};
use platform_tui::provision::{self, Cancel, Finish, OutputValue, Settings};

fn have_terraform() -> bool {
    match provision::find_binary(None) {
        Ok(_) => true,
        Err(_) => {
            // Straight to the process's stderr: the test harness captures `eprintln!`,
            // and a skip must never look like a silent pass.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "SKIPPED: no terraform or tofu on PATH");
            false
        }
    }
}

fn settings(lab: &Lab, metros: &[&str]) -> Settings {
    let list = metros
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(",");
    Settings {
        dir: lab.dir.path().join("installer"),
        vars: vec![("metros".into(), format!("[{list}]"))],
        ..Default::default()
    }
}

/// Whether the upstream has `code`'s session Established and a route from it, and `code`'s
/// own router exports the prefix.
async fn advertised_at_upstream(lab: &Lab, code: &str) -> bool {
    let proto = format!("metro_{code}");
    let mut up = BirdClient::new(lab.socket("upstream"), Duration::from_secs(1));
    let established = up.show_protocols().await.is_ok_and(|ps| {
        ps.iter()
            .any(|p| p.name == proto && p.bgp_state.as_deref() == Some("Established"))
    });
    let route = up
        .show_route_for("198.18.0.10/32", false)
        .await
        .is_ok_and(|rs| rs.iter().any(|r| r.protocol == proto));
    let mut own = BirdClient::new(lab.socket(code), Duration::from_secs(1));
    let exported = own
        .show_route_export("198.18.0.10/32", "upstream")
        .await
        .is_ok_and(|rs| !rs.is_empty());
    established && route && exported
}

fn birds_of(lab: &Lab, code: &str) -> Vec<String> {
    procs_mentioning(lab.dir.path().to_str().unwrap())
        .into_iter()
        .filter(|p| p.contains(&format!("/{code}.conf")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_and_removing_fr_through_the_installer() {
    if !have_terraform() {
        return;
    }
    let lab = Lab::up("prov-add", &[]);
    let cancel = Cancel::new();
    let mut seen = Vec::new();

    // The lab's own metros are in the installer's state: nothing to do.
    let same = provision::plan(&settings(&lab, &["am", "da"]), false, &cancel, &mut |e| {
        seen.push(e)
    })
    .await
    .unwrap();
    assert_eq!(same.finish, Finish::Succeeded, "{:?}", same.diagnostics);
    assert!(!same.has_changes, "{:?}", same.summary);

    let s = settings(&lab, &["am", "da", "fr"]);
    let planning = Instant::now();
    let plan = provision::plan(&s, false, &cancel, &mut |e| seen.push(e))
        .await
        .unwrap();
    let planning = planning.elapsed();
    assert_eq!(plan.finish, Finish::Succeeded, "{:?}", plan.diagnostics);
    assert!(plan.has_changes);
    let summary = plan.summary.unwrap();
    assert_eq!((summary.add, summary.change, summary.remove), (1, 0, 0));
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].resource.key.as_deref(), Some("fr"));
    let file = plan.plan.unwrap();
    let plan_path = file.path().to_path_buf();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&plan_path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let t0 = Instant::now();
    let applied = provision::apply(&s, file, &cancel, &mut |e| seen.push(e))
        .await
        .unwrap();
    assert_eq!(
        applied.finish,
        Finish::Succeeded,
        "{:?}",
        applied.diagnostics
    );
    assert!(
        !plan_path.exists(),
        "the saved plan holds secrets: deleted after the apply"
    );
    assert_eq!(applied.summary.unwrap().add, 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !advertised_at_upstream(&lab, "fr").await {
        assert!(
            Instant::now() < deadline,
            "fr never advertised at the upstream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "FIGURE: fr added end to end in {:.2} s (apply -> Established -> advertised at the upstream); the plan before it took {:.2} s (init included)",
        took.as_secs_f64(),
        planning.as_secs_f64()
    );

    // Outputs: the metro map has fr; the password never appears.
    let outs = provision::outputs(&s, &cancel, &mut |e| seen.push(e))
        .await
        .unwrap();
    let names = provision::OutputNames::default();
    let map = provision::metro_map(&outs, &names).unwrap();
    assert_eq!(map.keys().collect::<Vec<_>>(), ["am", "da", "fr"]);
    assert!(matches!(
        outs.get("admin_password").unwrap().value,
        OutputValue::Sensitive(_)
    ));
    let secret = std::fs::read_to_string(lab.dir.path().join("installer/secret.tf")).unwrap();
    let password = secret.split('"').nth(1).unwrap().to_string();
    assert_eq!(password.len(), 32);
    let shown = format!(
        "{outs:?}\n{}\n{}",
        outs.lines().join("\n"),
        seen.iter()
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!shown.contains(&password), "the sensitive output was shown");

    // The config diff, written in the lab's style, reads back with the real loader and
    // shows fr Established and advertising.
    let text_before = std::fs::read_to_string(&lab.config).unwrap();
    let current = provision::metros::metros_in_config(&text_before).unwrap();
    let anycast_now = provision::metros::anycast_in_config(&text_before).unwrap();
    let anycast = provision::anycast_address(&outs, &names).unwrap();
    let diff = provision::diff(&current, anycast_now, &map, anycast);
    assert_eq!(diff.lines(), [format!("+ fr {}", map["fr"])]);
    let new_text = provision::apply_to_config(&text_before, &diff, &|c| {
        platform_tui::lab::metros::lookup(c)
            .map(|m| m.display_name.to_string())
            .unwrap_or_else(|| c.to_string())
    })
    .unwrap();
    assert!(!new_text.contains(&password));
    let with_fr = lab.dir.path().join("with-fr.toml");
    std::fs::write(&with_fr, &new_text).unwrap();
    let cfg = platform_tui::config::load(&with_fr).unwrap_or_else(|e| panic!("{e}\n{new_text}"));
    assert_eq!(cfg.metros.len(), 3);
    let out = run(&["--config", with_fr.to_str().unwrap(), "status", "--json"]);
    let status: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(
        metro(&status, "fr")["bgp"]["session"],
        "Established",
        "{status:#}"
    );
    assert_eq!(
        metro(&status, "fr")["bgp"]["advertised"],
        true,
        "{status:#}"
    );
    assert_eq!(
        metro(&status, "fr")["display_name"],
        "Frankfurt",
        "{status:#}"
    );

    // And back: fr removed, nothing of it left.
    let s = settings(&lab, &["am", "da"]);
    let plan = provision::plan(&s, false, &cancel, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(plan.summary.unwrap().remove, 1);
    let applied = provision::apply(&s, plan.plan.unwrap(), &cancel, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        applied.finish,
        Finish::Succeeded,
        "{:?}",
        applied.diagnostics
    );
    assert!(
        birds_of(&lab, "fr").is_empty(),
        "{:?}",
        birds_of(&lab, "fr")
    );
    assert!(!lab.socket("fr").exists());
    assert!(!advertised_at_upstream(&lab, "fr").await);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.path().join("lab.json")).unwrap())
            .unwrap();
    let codes: Vec<&str> = state["metros"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["am", "da"]);

    lab.down();
    assert!(procs_mentioning(lab.dir.path().to_str().unwrap()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_metro_fails_with_terraforms_diagnostic() {
    if !have_terraform() {
        return;
    }
    let lab = Lab::up("prov-zz", &[]);
    let s = settings(&lab, &["am", "da", "zz"]);
    let plan = provision::plan(&s, false, &Cancel::new(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(plan.finish, Finish::Failed { code: Some(1) });
    assert!(plan.plan.is_none(), "no plan to apply after a failure");
    let d = &plan.diagnostics[0];
    assert_eq!(d.summary, "Invalid value for variable");
    assert!(d.detail.contains("zz"), "{d}");
    assert_eq!(d.location().as_deref(), Some("variables.tf:1,1"));
    let state = std::fs::read_to_string(lab.dir.path().join("lab.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(v["metros"].as_array().unwrap().len(), 2);

    // The lab's own command says the same, naming the known codes.
    let out = run(&[
        "lab",
        "metro",
        "add",
        "zz",
        "--dir",
        lab.dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown metro `zz`") && err.contains("am,da"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_and_a_cancel_mid_apply() {
    if !have_terraform() {
        return;
    }
    let lab = Lab::up("prov-cancel", &[]);
    let mut slow = settings(&lab, &["am", "da", "pa"]);
    // `lab metro add` waits 30 s before asking the lab (a test hook), so the apply is
    // still running when it is cancelled.
    slow.env = vec![("PLATFORM_TUI_LAB_ADD_DELAY_MS".into(), "30000".into())];
    let plan = provision::plan(&slow, false, &Cancel::new(), &mut |_| {})
        .await
        .unwrap();
    let file = plan.plan.unwrap();
    let cancel = Cancel::new();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let apply = {
        let (slow, cancel) = (slow.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut started_tx = Some(started_tx);
            let mut events = Vec::new();
            let out = provision::apply(&slow, file, &cancel, &mut |e| {
                if matches!(&e, Event::Message(m) if matches!(m.body, Body::ProvisionStart(_))) {
                    if let Some(tx) = started_tx.take() {
                        let _ = tx.send(());
                    }
                }
                events.push(e);
            })
            .await;
            (out, events)
        })
    };
    started.await.unwrap();

    // Another run meanwhile meets the lock, and says so after its timeout.
    let mut other = settings(&lab, &["am", "da"]);
    other.lock_timeout = Some(Duration::from_millis(500));
    let t = Instant::now();
    let locked = provision::plan(&other, false, &Cancel::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(500));
    assert_eq!(locked.finish, Finish::Failed { code: Some(1) });
    assert_eq!(
        locked.diagnostics[0].summary,
        "Error acquiring the state lock"
    );

    let t = Instant::now();
    assert_eq!(cancel.cancel(), 1);
    let (out, events) = apply.await.unwrap();
    let out = out.unwrap();
    assert_eq!(
        out.finish,
        Finish::Cancelled { interrupts: 1 },
        "{:?}",
        out.diagnostics
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        events
            .iter()
            .any(|e| e.text().contains("Interrupt received")),
        "{events:?}"
    );
    assert!(out.errored.iter().any(|a| a.contains("\"pa\"")), "{out:?}");
    // terraform killed its provisioner; nothing of the run is left, and pa never started.
    let left: Vec<String> = procs_mentioning("lab metro add")
        .into_iter()
        .filter(|p| p.contains(lab.dir.path().to_str().unwrap()))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(birds_of(&lab, "pa").is_empty());

    // The tainted pa goes with the next apply back to the lab's metros.
    let s = settings(&lab, &["am", "da"]);
    let plan = provision::plan(&s, false, &Cancel::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(plan.has_changes);
    let applied = provision::apply(&s, plan.plan.unwrap(), &Cancel::new(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        applied.finish,
        Finish::Succeeded,
        "{:?}",
        applied.diagnostics
    );
    let plan = provision::plan(&s, false, &Cancel::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(!plan.has_changes, "{:?}", plan.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installer_is_real_terraform_and_works_offline() {
    if !have_terraform() {
        return;
    }
    let lab = Lab::up("prov-files", &["--metros", "am,da,sv"]);
    let dir = lab.dir.path().join("installer");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("secret.tf")), 0o600);
    assert_eq!(mode(&dir.join("terraform.tfstate")), 0o600);
    let vars = std::fs::read_to_string(dir.join("variables.tf")).unwrap();
    assert!(
        vars.contains(r#"default     = ["am", "da", "sv"]"#),
        "{vars}"
    );
    // The lab's config names the installer (commented until the config takes it).
    let cfg = std::fs::read_to_string(&lab.config).unwrap();
    assert!(cfg.contains("dir = \"installer\""), "{cfg}");
    // The default metros are what runs: nothing to do, from a fresh `init`.
    let s = Settings {
        dir: dir.clone(),
        ..Default::default()
    };
    let mut raw = Vec::new();
    let plan = provision::plan(&s, false, &Cancel::new(), &mut |e| raw.push(e))
        .await
        .unwrap();
    assert_eq!(
        plan.finish,
        Finish::Succeeded,
        "{:?} {raw:?}",
        plan.diagnostics
    );
    assert!(!plan.has_changes, "{:?}", plan.changes);
    let outs = provision::outputs(&s, &Cancel::new(), &mut |_| {})
        .await
        .unwrap();
    let map = provision::metro_map(&outs, &provision::OutputNames::default()).unwrap();
    assert_eq!(map.keys().collect::<Vec<_>>(), ["am", "da", "sv"]);
}
