//! The `upbot` binary: `serve` runs the server; the other subcommands are thin
//! clients of its WebSocket API.

/// jemalloc rather than glibc's malloc: with 100k monitors glibc kept 55-60 MiB of
/// freed memory after the adds (one minute's run: peak RSS 347 against 333 MiB, 317
/// against 289 MiB after it), and CPU was no worse. At 1k monitors it holds ~7 MiB
/// more (README, "Scale to 100,000 monitors" and "HTTP monitors").
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "upbot", version, about = "Telegram-bot-first uptime monitor")]
struct Cli {
    #[command(flatten)]
    common: upbot::client::Common,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server: probes, bots, WebSocket API, HTTP receiver.
    Serve {
        /// Optional TOML config file (default: ./upbot.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check a running server's /healthz (exit 0 when it answers 200); for container
    /// HEALTHCHECKs, where there is no curl.
    Healthcheck {
        /// Optional TOML config file, as for serve (only UPBOT_HTTP_ADDR is used).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    #[command(flatten)]
    Client(Box<upbot::client::ClientCommand>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve { config } => serve(config),
        Cmd::Healthcheck { config } => ExitCode::from(upbot::http::healthcheck::main(config.as_deref())),
        Cmd::Client(cmd) => client(*cmd, &cli.common),
    }
}

fn client(cmd: upbot::client::ClientCommand, common: &upbot::client::Common) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("upbot: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let env = |k: &str| std::env::var(k).ok();
    match rt.block_on(upbot::client::run(cmd, common, env, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upbot: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn serve(config_path: Option<PathBuf>) -> ExitCode {
    let config = match upbot::config::Config::load(config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("upbot: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    upbot::app::init_tracing();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("upbot: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let run = async {
        let signal = early_signal().map_err(|e| anyhow::anyhow!("cannot watch for signals: {e}"))?;
        upbot::app::run(config, signal).await
    };
    match rt.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("upbot: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM or SIGINT, registered now, before anything starts: a signal that arrives while
/// the server is starting must stop it in order, not kill it (the default action).
#[cfg(unix)]
fn early_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn early_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(upbot::app::shutdown_signal())
}
