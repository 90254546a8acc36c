//! Parser throughput on a 10 000-line `-json` stream made of the reference's and the
//! recorded lab streams (`tests/fixtures/terraform/`), cycled: lines and bytes per second.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use platform_tui::provision::stream::{parse_line, Event};

const FIXTURES: &[&str] = &[
    include_str!("../tests/fixtures/terraform/reference_plan.jsonl"),
    include_str!("../tests/fixtures/terraform/reference_apply_success.jsonl"),
    include_str!("../tests/fixtures/terraform/reference_apply_failure.jsonl"),
    include_str!("../tests/fixtures/terraform/lab_plan_add.jsonl"),
    include_str!("../tests/fixtures/terraform/lab_apply_add.jsonl"),
    include_str!("../tests/fixtures/terraform/lab_apply_interrupt.jsonl"),
    include_str!("../tests/fixtures/terraform/lab_apply_provisioner_fails.jsonl"),
    include_str!("../tests/fixtures/terraform/lab_plan_lock_contention.jsonl"),
    include_str!("../tests/fixtures/terraform/tofu_apply.jsonl"),
];

/// 10 000 lines cycled from the fixtures.
fn stream() -> Vec<String> {
    let lines: Vec<&str> = FIXTURES
        .iter()
        .flat_map(|f| f.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    (0..10_000)
        .map(|i| lines[i % lines.len()].to_string())
        .collect()
}

fn benches(c: &mut Criterion) {
    let lines = stream();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let messages = lines
        .iter()
        .filter(|l| matches!(parse_line(l), Event::Message(_)))
        .count();
    assert_eq!(messages, lines.len(), "every fixture line is a message");
    let mut g = c.benchmark_group("provision_stream");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse_10000_lines", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(parse_line(black_box(l)));
            }
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse_10000_lines_bytes", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(parse_line(black_box(l)));
            }
        })
    });
    g.finish();
}

criterion_group!(provision, benches);
criterion_main!(provision);
