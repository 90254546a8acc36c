//! The Nomad agents of `bench/nomad-scale`: METROS synthetic clusters of ALLOCS
//! allocations each (the lab's synthetic load, `lab::nomad_api::serve_synthetic`), on
//! loopback ports of their own, together changing CHANGES allocations a second, with
//! the event stream and blocking queries Nomad has.
//!
//! usage: nomad-scale-server METROS ALLOCS CHANGES
//! Prints `NAME ADDRESS` per metro, then serves until its standard input closes.

use std::time::Duration;

use platform_tui::lab::nomad_api::{serve_synthetic, Load};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: f64| {
        args.get(i).map_or(Ok(default), |a| {
            a.parse::<f64>().map_err(|e| format!("{a}: {e}"))
        })
    };
    let metros = num(0, 3.0)? as usize;
    let allocs = num(1, 110_000.0)? as usize;
    let changes = num(2, 200.0)?;
    let mut servers = Vec::new();
    for m in 1..=metros {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("m{m} {addr}");
        let load = Load {
            allocs,
            changes_per_sec: changes / metros as f64,
        };
        servers.push(tokio::spawn(async move {
            serve_synthetic(listener, &format!("m{m}"), load).await
        }));
    }
    println!("ready");
    // Until whoever started us is gone (its end of our stdin closes).
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for s in servers {
        s.abort();
    }
    Ok(())
}
