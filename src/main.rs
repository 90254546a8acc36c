use std::io::Write as _;

use clap::Parser;
use platform_tui::cli::{run, Cli};

fn main() {
    let _ = color_eyre::install();
    let cli = Cli::parse();
    // Multi-threaded: probes keep their own clock while the console draws. The probe
    // command runs on one thread, as httping does: it has nothing to do in parallel, and
    // waking a second thread for each probe would cost more than the probe.
    let mut builder = if cli.single_threaded() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    let result = match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => Err(platform_tui::cli::Failure {
            code: 1,
            message: format!("cannot start the async runtime: {e}"),
        }),
    };
    if let Err(f) = result {
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
