use std::io::Write as _;

use clap::Parser;
use platform_tui::cli::{run, Cli};

// Multi-threaded: probes keep their own clock while the console draws.
#[tokio::main(worker_threads = 2)]
async fn main() {
    let _ = color_eyre::install();
    let cli = Cli::parse();
    if let Err(f) = run(cli).await {
        // stderr may be a terminal that hung up: never panic on reporting.
        let _ = writeln!(std::io::stderr(), "error: {}", f.message);
        std::process::exit(f.code);
    }
}
