//! The `-json` stream parser on real streams: the reference's examples
//! (`shared/reference/provision.md` §5), streams recorded from real terraform runs of the
//! lab installer (`bench/record-terraform`), a tofu-shaped stream, and arbitrary lines.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use platform_tui::provision::stream::{
    parse_line, Action, Body, Event, Level, Operation, Program, Severity,
};

fn fixture(name: &str) -> Vec<Event> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/terraform")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_line)
        .collect()
}

fn bodies(events: &[Event]) -> Vec<&Body> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(&m.body),
            _ => None,
        })
        .collect()
}

fn kinds(events: &[Event]) -> Vec<String> {
    bodies(events)
        .iter()
        .map(|b| {
            let s = format!("{b:?}");
            s.split(['(', ' ', '{']).next().unwrap().to_string()
        })
        .collect()
}

#[test]
fn reference_plan() {
    let ev = fixture("reference_plan.jsonl");
    assert_eq!(
        kinds(&ev),
        [
            "Version",
            "PlannedChange",
            "PlannedChange",
            "PlannedChange",
            "ChangeSummary",
            "Outputs"
        ]
    );
    let Event::Message(v) = &ev[0] else { panic!() };
    assert_eq!(v.program, Program::Terraform);
    assert_eq!(
        v.body,
        Body::Version {
            version: "1.11.4".into(),
            ui: "1.2".into()
        }
    );
    assert!(v.timestamp.is_some());
    let Body::PlannedChange(c) = bodies(&ev)[1] else {
        panic!()
    };
    assert_eq!(c.resource.addr, "terraform_data.node[\"sin\"]");
    assert_eq!(c.resource.key.as_deref(), Some("sin"));
    assert_eq!(c.action, Action::Create);
    let Body::ChangeSummary(s) = bodies(&ev)[4] else {
        panic!()
    };
    assert_eq!(
        (s.add, s.change, s.remove, s.operation),
        (3, 0, 0, Operation::Plan)
    );
    let Body::Outputs(o) = bodies(&ev)[5] else {
        panic!()
    };
    assert!(o["admin_password"].value.is_sensitive());
    assert_eq!(o["anycast_ip"].action.as_deref(), Some("create"));
}

#[test]
fn reference_apply_success() {
    let ev = fixture("reference_apply_success.jsonl");
    assert_eq!(ev.len(), 27);
    let b = bodies(&ev);
    let completes: Vec<_> = b
        .iter()
        .filter_map(|b| match b {
            Body::ApplyComplete(h) => Some(h),
            _ => None,
        })
        .collect();
    assert_eq!(completes.len(), 3);
    assert_eq!(completes[0].elapsed, Some(Duration::from_secs(1)));
    assert_eq!(completes[0].id_key.as_deref(), Some("id"));
    let outputs: Vec<String> = b
        .iter()
        .filter_map(|b| match b {
            Body::ProvisionProgress(p) => p.output.clone(),
            _ => None,
        })
        .collect();
    assert!(
        outputs.contains(&"bootstrapping sin".to_string()),
        "{outputs:?}"
    );
    let Body::ChangeSummary(s) = b[b.len() - 2] else {
        panic!()
    };
    assert_eq!((s.add, s.operation), (3, Operation::Apply));
    let Body::Outputs(o) = b[b.len() - 1] else {
        panic!()
    };
    assert_eq!(o["anycast_ip"].value.to_string(), "\"203.0.113.10\"");
    assert_eq!(
        o["regional_ip_addresses"].value.to_string(),
        r#"{"ams":"192.0.2.10","dfw":"192.0.2.11","sin":"192.0.2.12"}"#
    );
    assert_eq!(o["admin_password"].value.to_string(), "(sensitive)");
}

#[test]
fn reference_apply_failure() {
    let ev = fixture("reference_apply_failure.jsonl");
    let b = bodies(&ev);
    assert!(b.iter().any(
        |b| matches!(b, Body::ApplyProgress(h) if h.elapsed == Some(Duration::from_secs(10)))
    ));
    assert!(b.iter().any(
        |b| matches!(b, Body::ProvisionErrored(p) if p.resource.key.as_deref() == Some("dfw"))
    ));
    let Body::Diagnostic(d) = b[b.len() - 1] else {
        panic!()
    };
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(d.summary, "local-exec provisioner error");
    assert!(d.detail.contains("exit status 3") && d.detail.contains("bgp neighbors not ready\n"));
    assert_eq!(d.address.as_deref(), Some("terraform_data.node[\"dfw\"]"));
    assert_eq!(d.location().as_deref(), Some("main.tf:10,28"));
    assert_eq!(d.code.as_deref(), Some("  provisioner \"local-exec\" {"));
    assert!(d
        .to_string()
        .starts_with("Error: local-exec provisioner error (main.tf:10,28)"));
    let Event::Message(m) = &ev[ev.len() - 1] else {
        panic!()
    };
    assert_eq!(m.level, Level::Error);
}

#[test]
fn the_shortened_interrupt_excerpt_is_raw_text_not_a_panic() {
    // The reference shortened these lines with `…`: not JSON any more.
    let ev = fixture("reference_interrupt_excerpt.jsonl");
    assert_eq!(ev.len(), 7);
    assert!(ev.iter().all(|e| matches!(e, Event::Raw(_))));
    assert!(ev[0].text().contains("Interrupt received"));
}

#[test]
fn a_tofu_stream() {
    let ev = fixture("tofu_apply.jsonl");
    let Event::Message(v) = &ev[0] else { panic!() };
    assert_eq!(v.program, Program::OpenTofu);
    assert_eq!(
        v.body,
        Body::Version {
            version: "1.9.0".into(),
            ui: "1.2".into()
        }
    );
    for e in &ev {
        let Event::Message(m) = e else {
            panic!("{e:?}")
        };
        assert_eq!(m.program, Program::OpenTofu);
        assert!(
            !matches!(m.body, Body::Unknown { .. }) || m.text.contains("ephemeral"),
            "{m:?}"
        );
    }
    let b = bodies(&ev);
    // OpenTofu does not escape <, > and &; its change_summary counts `forget`.
    assert!(b.iter().any(
        |b| matches!(b, Body::ProvisionProgress(p) if p.output.as_deref() == Some("a > b && c"))
    ));
    assert!(b
        .iter()
        .any(|b| matches!(b, Body::ChangeSummary(s) if s.forget == 1 && s.add == 1)));
}

#[test]
fn hostile_text_is_made_visible() {
    let line = r#"{"@level":"error","@message":"Error: \u001b]0;owned\u0007","type":"diagnostic","diagnostic":{"severity":"error","summary":"bad \u001b[2J","detail":"line1\nline2 \u009b","range":{"filename":"ma\u001bin.tf","start":{"line":1,"column":2,"byte":0},"end":{"line":1,"column":3,"byte":1}}}}"#;
    let Event::Message(m) = parse_line(line) else {
        panic!()
    };
    let Body::Diagnostic(d) = &m.body else {
        panic!()
    };
    let all = format!(
        "{} {} {} {}",
        m.text,
        d.summary,
        d.detail,
        d.location().unwrap()
    );
    assert!(!all.chars().any(|c| c.is_control() && c != '\n'), "{all:?}");
    assert!(d.detail.contains("line1\nline2"));
}

proptest::proptest! {
    #[test]
    fn arbitrary_lines_never_panic(s in proptest::prelude::any::<String>()) {
        let e = parse_line(&s);
        proptest::prop_assert!(!e.text().chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn arbitrary_json_messages_never_panic(
        kind in "(version|log|diagnostic|planned_change|resource_drift|change_summary|outputs|apply_start|apply_progress|apply_complete|apply_errored|provision_start|provision_progress|provision_complete|provision_errored|refresh_start|refresh_complete|state_lock_acquire|init_output|[a-z_]{1,12})",
        key in "(hook|change|changes|diagnostic|outputs|terraform|tofu|ui|message_code)",
        value in proptest::prelude::any::<String>(),
        number in proptest::prelude::any::<f64>(),
    ) {
        let payloads = [
            serde_json::json!(value),
            serde_json::json!(number),
            serde_json::json!({"resource": {"addr": value, "resource_key": number}, "action": value, "elapsed_seconds": number}),
            serde_json::json!({"severity": value, "summary": value, "range": {"start": {"line": number}}}),
            serde_json::json!({value.clone(): {"sensitive": false, "value": value}}),
            serde_json::json!({"add": number, "operation": value}),
            serde_json::json!(null),
        ];
        for p in payloads {
            let line = serde_json::json!({"@level": value, "@message": value, "@timestamp": value, "type": kind, key.clone(): p}).to_string();
            let _ = parse_line(&line);
        }
    }
}

// ---- streams recorded from the lab installer (bench/record-terraform) ----

fn diagnostics(events: &[Event]) -> Vec<platform_tui::provision::Diagnostic> {
    bodies(events)
        .into_iter()
        .filter_map(|b| match b {
            Body::Diagnostic(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_recorded_line_is_a_message() {
    for f in [
        "lab_init.jsonl",
        "lab_plan_add.jsonl",
        "lab_apply_add.jsonl",
        "lab_apply_stale_plan.jsonl",
        "lab_plan_unknown_metro.jsonl",
        "lab_plan_lock_contention.jsonl",
        "lab_apply_interrupt.jsonl",
        "lab_destroy_fr.jsonl",
        "lab_apply_provisioner_fails.jsonl",
    ] {
        let ev = fixture(f);
        assert!(!ev.is_empty(), "{f}");
        for e in &ev {
            let Event::Message(m) = e else {
                panic!("{f}: {e:?}")
            };
            assert!(
                !matches!(m.body, Body::Unknown { .. }),
                "{f}: an unknown type in a stream of known ones: {m:?}"
            );
        }
    }
}

#[test]
fn lab_init_uses_whole_second_timestamps() {
    let ev = fixture("lab_init.jsonl");
    assert!(bodies(&ev)
        .iter()
        .any(|b| matches!(b, Body::InitOutput { code } if code == "output_init_success_message")));
    assert!(ev
        .iter()
        .all(|e| matches!(e, Event::Message(m) if m.timestamp.is_some())));
}

#[test]
fn lab_plan_adding_fr() {
    let ev = fixture("lab_plan_add.jsonl");
    let b = bodies(&ev);
    let planned: Vec<_> = b
        .iter()
        .filter_map(|b| match b {
            Body::PlannedChange(c) => Some((c.resource.key.clone(), c.action.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(planned, [(Some("fr".to_string()), Action::Create)]);
    // The lab's own metros are in the state already: refreshed, not created.
    assert_eq!(
        b.iter()
            .filter(|b| matches!(b, Body::RefreshComplete(_)))
            .count(),
        2
    );
    assert!(b
        .iter()
        .any(|b| matches!(b, Body::ChangeSummary(s) if s.add == 1 && s.remove == 0)));
    let Some(Body::Outputs(o)) = b.iter().rev().find(|b| matches!(b, Body::Outputs(_))) else {
        panic!()
    };
    assert!(o["admin_password"].value.is_sensitive());
    assert_eq!(o["regional_ip_addresses"].action.as_deref(), Some("update"));
}

#[test]
fn lab_apply_adding_fr() {
    let ev = fixture("lab_apply_add.jsonl");
    let b = bodies(&ev);
    let said: Vec<String> = b
        .iter()
        .filter_map(|b| match b {
            Body::ProvisionProgress(p) => p.output.clone(),
            _ => None,
        })
        .collect();
    assert!(
        said[0].starts_with("Executing: [") && said[0].contains("\"lab\" \"metro\" \"add\""),
        "{said:?}"
    );
    assert!(
        said.iter().any(|l| l.starts_with("fr (Frankfurt) added")),
        "{said:?}"
    );
    assert!(b.iter().any(
        |b| matches!(b, Body::ChangeSummary(s) if s.add == 1 && s.operation == Operation::Apply)
    ));
    let Some(Body::Outputs(o)) = b.last() else {
        panic!()
    };
    assert_eq!(o["admin_password"].value.to_string(), "(sensitive)");
    assert!(o["regional_ip_addresses"]
        .value
        .to_string()
        .contains("\"fr\":\"127."));
    assert_eq!(o["public_ip_address"].value.to_string(), "\"198.18.0.10\"");
}

#[test]
fn lab_stale_plan_unknown_metro_and_lock_are_diagnostics() {
    let stale = diagnostics(&fixture("lab_apply_stale_plan.jsonl"));
    assert_eq!(stale[0].summary, "Saved plan is stale");
    let zz = diagnostics(&fixture("lab_plan_unknown_metro.jsonl"));
    assert_eq!(zz[0].summary, "Invalid value for variable");
    assert!(
        zz[0]
            .detail
            .contains("Unknown metro code(s) for this lab: zz."),
        "{}",
        zz[0].detail
    );
    assert_eq!(zz[0].location().as_deref(), Some("variables.tf:1,1"));
    let lock = fixture("lab_plan_lock_contention.jsonl");
    assert!(bodies(&lock).contains(&&Body::StateLockAcquire));
    let d = diagnostics(&lock);
    assert_eq!(d[0].summary, "Error acquiring the state lock");
    assert!(
        d[0].detail.contains("OperationTypeApply"),
        "{}",
        d[0].detail
    );
}

#[test]
fn lab_interrupted_apply() {
    let ev = fixture("lab_apply_interrupt.jsonl");
    let logs: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.body == Body::Log => Some(m.text.as_str()),
            _ => None,
        })
        .collect();
    assert!(logs[0].contains("Interrupt received"), "{logs:?}");
    assert_eq!(logs[1], "Stopping operation...");
    let d = diagnostics(&ev);
    assert_eq!(d[0].summary, "local-exec provisioner error");
    assert!(d[0].detail.contains("signal: killed"));
    assert_eq!(
        d.iter().filter(|d| d.summary == "execution halted").count(),
        2
    );
    assert!(bodies(&ev)
        .iter()
        .any(|b| matches!(b, Body::ApplyErrored(h) if h.resource.key.as_deref() == Some("pa"))));
}

#[test]
fn lab_destroy_of_fr() {
    let ev = fixture("lab_destroy_fr.jsonl");
    let b = bodies(&ev);
    assert!(b
        .iter()
        .any(|b| matches!(b, Body::PlannedChange(c) if c.action == Action::Delete)));
    assert!(b.iter().any(
        |b| matches!(b, Body::ProvisionProgress(p) if p.output.as_deref() == Some("fr removed"))
    ));
    assert!(b
        .iter()
        .any(|b| matches!(b, Body::ChangeSummary(s) if s.remove == 1)));
    let d = diagnostics(&ev);
    assert_eq!(d[0].severity, Severity::Warning);
}

#[test]
fn lab_failing_provisioner() {
    let ev = fixture("lab_apply_provisioner_fails.jsonl");
    let d = diagnostics(&ev);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].summary, "local-exec provisioner error");
    assert_eq!(
        d[0].address.as_deref(),
        Some("terraform_data.metro[\"sv\"]")
    );
    assert!(d[0].detail.contains("no lab in"), "{}", d[0].detail);
    assert!(d[0].location().unwrap().starts_with("main.tf:"));
    // No apply summary after a failure.
    assert!(!bodies(&ev)
        .iter()
        .any(|b| matches!(b, Body::ChangeSummary(s) if s.operation == Operation::Apply)));
}
