//! Decode cost of the two big Nomad list payloads the watch reads: 10 000
//! allocation stubs (`task_states=false` shape, as listed) and 10 000 job stubs with
//! summaries, into the compact rows the console keeps (streaming, split into 64 KB
//! pieces as they arrive); and of one 16 MiB event line and log frame arriving in
//! 8 KiB pieces (linear, not quadratic). JSON is generated in setup, in the field
//! shapes of the reference (`shared/reference/nomad-api.md` §4–5).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use platform_tui::domain::nomad::{AllocRow, JobRow};
use platform_tui::nomad::decode::ListDecoder;
use platform_tui::nomad::events::EventLineDecoder;
use platform_tui::nomad::logs::LogDecoder;
use platform_tui::nomad::DEFAULT_MAX_BODY;
use serde_json::json;

const N: usize = 10_000;

fn uuid(i: usize, salt: u32) -> String {
    let x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(salt);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (x >> 32) as u32,
        (x >> 16) as u16,
        x as u16 & 0xfff,
        (x >> 20) as u16 & 0xfff,
        x & 0xffff_ffff_ffff
    )
}

fn allocs_json() -> Vec<u8> {
    let statuses = [
        "running", "running", "running", "pending", "failed", "complete", "lost",
    ];
    let items: Vec<_> = (0..N)
        .map(|i| {
            let job = uuid(i / 3, 7);
            json!({
                "ID": uuid(i, 1),
                "EvalID": uuid(i, 2),
                "Name": format!("{job}.{job}[{}]", i % 3),
                "Namespace": "default",
                "NodeID": uuid(i % 4, 3),
                "NodeName": format!("fermyon-{}", i % 4),
                "JobID": job,
                "JobType": "service",
                "JobVersion": i % 5,
                "TaskGroup": job,
                "AllocatedResources": null,
                "DesiredStatus": if i % 7 == 5 { "stop" } else { "run" },
                "DesiredDescription": "",
                "ClientStatus": statuses[i % statuses.len()],
                "ClientDescription": "Tasks are running",
                "DesiredTransition": {"Migrate": null, "Reschedule": null, "ForceReschedule": null},
                "TaskStates": null,
                "DeploymentStatus": if i % 2 == 0 {
                    json!({"Healthy": true, "Timestamp": "2025-11-27T07:21:14.402113Z", "Canary": false, "ModifyIndex": i})
                } else {
                    serde_json::Value::Null
                },
                "FollowupEvalID": "",
                "NextAllocation": "",
                "RescheduleTracker": null,
                "PreemptedAllocations": null,
                "PreemptedByAllocation": "",
                "CreateIndex": 57 + i,
                "ModifyIndex": 60 + i,
                "CreateTime": 1_764_228_073_950_112_000u64 + i as u64,
                "ModifyTime": 1_764_228_074_480_310_000u64 + i as u64,
            })
        })
        .collect();
    serde_json::to_vec(&items).expect("serialize allocs")
}

fn jobs_json() -> Vec<u8> {
    let items: Vec<_> = (0..N)
        .map(|i| {
            let id = uuid(i, 9);
            json!({
                "ID": id,
                "ParentID": "",
                "Name": id,
                "Namespace": "default",
                "Datacenters": ["dc1"],
                "Multiregion": null,
                "Type": if i % 10 == 0 { "batch" } else { "service" },
                "Priority": 50,
                "Periodic": false,
                "ParameterizedJob": false,
                "Stop": i % 13 == 0,
                "Status": if i % 13 == 0 { "dead" } else { "running" },
                "StatusDescription": "",
                "JobSummary": {
                    "JobID": id,
                    "Namespace": "default",
                    "Summary": {
                        id.clone(): {"Queued": 0, "Complete": i % 2, "Failed": i % 3, "Running": 1,
                                     "Starting": 0, "Lost": 0, "Unknown": 0}
                    },
                    "Children": {"Pending": 0, "Running": 0, "Dead": 0},
                    "CreateIndex": 31 + i,
                    "ModifyIndex": 44 + i,
                },
                "CreateIndex": 31 + i,
                "ModifyIndex": 44 + i,
                "JobModifyIndex": 31 + i,
                "SubmitTime": 1_764_226_402_512_345_678u64 + i as u64,
            })
        })
        .collect();
    serde_json::to_vec(&items).expect("serialize jobs")
}

fn decode(c: &mut Criterion) {
    let allocs = allocs_json();
    let jobs = jobs_json();
    let mut g = c.benchmark_group("nomad_decode");
    g.sample_size(20);

    g.throughput(Throughput::Bytes(allocs.len() as u64));
    g.bench_function("alloc_rows_10k_streamed", |b| {
        b.iter(|| {
            let mut d = ListDecoder::<AllocRow>::new(DEFAULT_MAX_BODY);
            for piece in black_box(&allocs).chunks(64 << 10) {
                d.push(piece).expect("decode");
            }
            let v = d.finish().expect("decode");
            assert_eq!(v.len(), N);
            v
        })
    });

    g.throughput(Throughput::Bytes(jobs.len() as u64));
    g.bench_function("job_rows_10k_streamed", |b| {
        b.iter(|| {
            let mut d = ListDecoder::<JobRow>::new(DEFAULT_MAX_BODY);
            for piece in black_box(&jobs).chunks(64 << 10) {
                d.push(piece).expect("decode");
            }
            let v = d.finish().expect("decode");
            assert_eq!(v.len(), N);
            v
        })
    });
    g.finish();

    // One 16 MiB line (an event) and one 16 MiB log frame, arriving in 8 KiB pieces:
    // each push must cost its own bytes (before: 10 s and 3 s, quadratic).
    let mut g = c.benchmark_group("nomad_long_line_8k_pieces");
    g.sample_size(10);
    let mut line =
        br#"{"Index":9,"Events":[{"Topic":"Job","Index":9,"Payload":{"Job":{"ID":""#.to_vec();
    line.resize((16 << 20) - 64, b'j');
    line.extend_from_slice(b"\"}}}]}\n");
    g.throughput(Throughput::Bytes(line.len() as u64));
    g.bench_function("event_line_16m", |b| {
        b.iter(|| {
            let mut d = EventLineDecoder::default();
            let mut n = 0;
            for piece in black_box(&line).chunks(8 << 10) {
                n += d.push(piece).len();
            }
            assert_eq!(n, 1);
        })
    });
    let mut frame = br#"{"Offset":1,"Data":""#.to_vec();
    frame.resize((16 << 20) - 64, b'A');
    frame.extend_from_slice(b"\"}");
    g.bench_function("log_frame_16m", |b| {
        b.iter(|| {
            let mut d = LogDecoder::default();
            let mut n = 0;
            for piece in black_box(&frame).chunks(8 << 10) {
                n += d.push(piece).len();
            }
            assert_eq!(n, 1);
        })
    });
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
