use clap::Parser;

// Why this allocator: Cargo.toml, beside the dependency.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = vestnik::cli::Cli::parse();
    match vestnik::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vestnik: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
