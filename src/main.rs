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
        // Messages may quote outside text (a config value, a daemon's reply): nothing
        // in them may drive the terminal.
        // An empty message: the command already said it (e.g. a `--json` result).
        if !f.message.is_empty() {
            let message = platform_tui::domain::text::visible_lines(&f.message);
            let _ = writeln!(std::io::stderr(), "error: {message}");
        }
        std::process::exit(f.code);
    }
}
