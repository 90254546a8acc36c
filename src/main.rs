use clap::Parser;
use platform_tui::cli::{run, Cli};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _ = color_eyre::install();
    let cli = Cli::parse();
    if let Err(f) = run(cli).await {
        eprintln!("error: {}", f.message);
        std::process::exit(f.code);
    }
}
