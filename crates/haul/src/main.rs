use anyhow::Context;
use clap::Parser;
use haul::cli::{Cli, Command, KeysCommand};
use haul::{Services, config, export_cmd, keys, services, signals, telemetry};
use haul_db::MetaDb;
use std::net::TcpListener;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before the runtime's threads exist, so every allocation sees it.
    haul::memory::return_large_blocks_to_the_os();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(run_cli())
}

async fn run_cli() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haul: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // The export client talks to a running Haul over HTTP: no configuration.
    if let Command::Export(args) = cli.command {
        return export_cmd::run(args).await;
    }
    let settings = config::load(cli.config.as_deref())?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Migrate => {
            services::migrate(&settings).await?;
            eprintln!("haul: migrations applied");
        }
        Command::Keys { command } => {
            let meta = MetaDb::connect(&settings.database.url, 2).await?;
            match command {
                KeysCommand::Create { tenant } => {
                    println!("{}", keys::create(&meta, &tenant).await?)
                }
                KeysCommand::List => print!("{}", keys::list(&meta).await?),
                KeysCommand::Revoke { prefix } => keys::revoke(&meta, &prefix).await?,
            }
        }
        Command::Serve => {
            let listener = bind(&settings.server.bind)?;
            let shutdown = signals::shutdown_on_signals()?;
            Services::start(settings)
                .await?
                .serve(listener, shutdown)
                .await?;
        }
        Command::Work => {
            let shutdown = signals::shutdown_on_signals()?;
            Services::start(settings).await?.work(shutdown).await?;
        }
        Command::Export(_) => unreachable!("handled above"),
        Command::BenchEncode(args) => haul::bench_encode::run(settings, args).await?,
        Command::All => {
            let listener = bind(&settings.server.bind)?;
            let shutdown = signals::shutdown_on_signals()?;
            Services::start(settings)
                .await?
                .all(listener, shutdown)
                .await?;
        }
    }
    Ok(())
}

fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| format!("Failed to listen on server.bind ({addr})"))
}
