//! Parser throughput on captured BIRD 2.0.12 transcripts (and a synthetic
//! full-ish table, since the console may poll `show route` on busy routers).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use platform_tui::bird::{
    framing::parse_reply, parse_protocol_detail, parse_protocols, parse_routes, Framer,
};

macro_rules! fixture {
    ($p:literal) => {
        parse_reply(include_str!(concat!("../tests/fixtures/bird/", $p))).expect($p)
    };
}

/// 2,000 prefixes with a best and an alternate each, in `show route all` shape.
fn synthetic_table() -> String {
    let mut s = String::from("1007-Table master4:\n");
    for i in 0..2000u32 {
        let (a, b) = (i / 256, i % 256);
        s.push_str(&format!(
            "1007-10.{a}.{b}.0/24          unicast [region1 1795885425 from 127.0.0.2] * (100) [AS65001i]\n \tvia 10.255.0.1 on veth1\n1008-\tType: BGP univ\n1012-\tBGP.origin: IGP\n \tBGP.as_path: 65001 65001\n \tBGP.next_hop: 10.255.0.1\n \tBGP.local_pref: 100\n1007-                     unicast [region2 1795885426 from 127.0.0.5] (100) [AS65002i]\n \tvia 10.255.1.1 on veth2\n1008-\tType: BGP univ\n1012-\tBGP.as_path: 65002\n"
        ));
    }
    s.push_str("0000 \n");
    s
}

fn benches(c: &mut Criterion) {
    let protocols = fixture!("v2/show_protocols.txt");
    let protocols_all = fixture!("v2/show_protocols_all.txt");
    let detail = fixture!("v2/show_protocols_all_upstream.txt");
    let routes = fixture!("v2/show_route_for_all_upstream.txt");
    let routes_v16 = fixture!("v16/show_route_for_all.txt");
    let table_text = synthetic_table();
    let table = parse_reply(&table_text).expect("synthetic table");
    assert_eq!(parse_routes(&table).expect("routes").len(), 4000);

    c.bench_function("parse_protocols/v2", |b| {
        b.iter(|| parse_protocols(black_box(&protocols)))
    });
    c.bench_function("parse_protocols/v2_all", |b| {
        b.iter(|| parse_protocols(black_box(&protocols_all)))
    });
    c.bench_function("parse_protocol_detail/v2_upstream", |b| {
        b.iter(|| parse_protocol_detail(black_box(&detail)))
    });
    c.bench_function("parse_routes/v2_best_alt_all", |b| {
        b.iter(|| parse_routes(black_box(&routes)))
    });
    c.bench_function("parse_routes/v16_all", |b| {
        b.iter(|| parse_routes(black_box(&routes_v16)))
    });
    c.bench_function("parse_routes/synthetic_4000", |b| {
        b.iter(|| parse_routes(black_box(&table)))
    });
    c.bench_function("framer/synthetic_4000_in_16k_chunks", |b| {
        b.iter(|| {
            let mut f = Framer::new();
            let mut n = 0;
            for chunk in table_text.as_bytes().chunks(16 * 1024) {
                n += f.push(black_box(chunk)).expect("frame").len();
            }
            n
        })
    });
}

criterion_group!(bird_parse, benches);
criterion_main!(bird_parse);
