//! `judgelet`: the one binary. Thin glue over the library crates.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Parser, Subcommand};
use lang::{RunOutcome, RunRequest, RunStatus, Toolchain, ToolchainConfig};
use sandbox::{LimitsRequest, Sandbox, SandboxConfig};

#[derive(Parser)]
#[command(
    name = "judgelet",
    version,
    about = "Run and grade untrusted programs in a Linux sandbox"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Commands,
}

/// Where judgelet keeps its state and finds its languages.
#[derive(Args)]
struct Common {
    /// Language registry; the built-in one when not given.
    #[arg(long, global = true, value_name = "FILE")]
    languages: Option<PathBuf>,
    /// Boxes live here; best on a tmpfs.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "/dev/shm/judgelet"
    )]
    state_dir: PathBuf,
    /// Compile cache directory [default: STATE_DIR/cache].
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Commands {
    /// Run one program and print what it printed.
    Run(RunArgs),
    /// List the languages this machine can run.
    Languages {
        /// One JSON object per language.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The source file.
    file: PathBuf,
    /// Language id (see `judgelet languages`); from the file extension when not given.
    #[arg(long = "lang", value_name = "L")]
    language: Option<String>,
    /// File to feed to the program's stdin.
    #[arg(long, value_name = "FILE")]
    stdin: Option<PathBuf>,
    /// CPU time limit.
    #[arg(long, value_name = "SECONDS")]
    time_limit: Option<f64>,
    /// Memory limit.
    #[arg(long, value_name = "MB")]
    memory_limit: Option<u64>,
    /// Print one JSON report instead of the program's output.
    #[arg(long)]
    json: bool,
}

/// The exit code of `judgelet run`, by status. 2 is a usage error (clap's), 3 judgelet's own.
fn exit_code(status: RunStatus) -> u8 {
    match status {
        RunStatus::Ok => 0,
        RunStatus::CompileError => 10,
        RunStatus::RunTimeError => 11,
        RunStatus::TimeLimitExceeded => 12,
        RunStatus::MemoryLimitExceeded => 13,
        RunStatus::OutputLimitExceeded => 14,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("judgelet: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Commands::Languages { json } => languages(&cli.common, json),
        Commands::Run(args) => run(&cli.common, args),
    }
}

fn languages_toml(common: &Common) -> Result<String> {
    match &common.languages {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("{}", path.display())),
        None => Ok(lang::DEFAULT_LANGUAGES_TOML.to_owned()),
    }
}

fn languages(common: &Common, json: bool) -> Result<u8> {
    let registry = lang::Registry::load(&languages_toml(common)?)?;
    let mut out = std::io::stdout().lock();
    for language in registry.languages() {
        if json {
            let value = serde_json::json!({
                "id": language.id,
                "name": language.name,
                "version": language.version,
                "extensions": language.extensions,
                "compiled": language.compile.is_some(),
            });
            writeln!(out, "{value}")?;
        } else {
            writeln!(
                out,
                "{:<10} {:<22} {}",
                language.id, language.name, language.version
            )?;
        }
    }
    for (id, reason) in registry.unavailable() {
        eprintln!("{id}: unavailable: {reason}");
    }
    Ok(0)
}

fn toolchain(common: &Common) -> Result<Toolchain> {
    let sandbox = Sandbox::new(SandboxConfig {
        state_dir: common.state_dir.clone(),
        ..SandboxConfig::default()
    })?;
    let config = ToolchainConfig {
        languages_toml: languages_toml(common)?,
        cache_dir: common
            .cache_dir
            .clone()
            .unwrap_or_else(|| common.state_dir.join("cache")),
        ..ToolchainConfig::default()
    };
    Ok(Toolchain::new(sandbox, config)?)
}

fn run(common: &Common, args: RunArgs) -> Result<u8> {
    let toolchain = toolchain(common)?;
    let language = match &args.language {
        Some(id) => toolchain.language(id)?.id.clone(),
        None => language_of(&toolchain, &args.file)?,
    };
    let source = std::fs::read(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let stdin = match &args.stdin {
        Some(path) => std::fs::read(path).with_context(|| format!("{}", path.display()))?,
        None => Vec::new(),
    };
    let request = RunRequest {
        language,
        source,
        stdin,
        args: Vec::new(),
        limits: LimitsRequest {
            cpu_time_ms: args.time_limit.map(|s| (s * 1000.0).round() as u64),
            memory_kib: args.memory_limit.map(|mb| mb * 1024),
            ..LimitsRequest::default()
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(toolchain.run(request))?;
    if args.json {
        serde_json::to_writer_pretty(std::io::stdout().lock(), &outcome.response())?;
        println!();
    } else {
        print_human(&outcome)?;
    }
    Ok(exit_code(outcome.status()))
}

fn language_of(toolchain: &Toolchain, file: &Path) -> Result<String> {
    toolchain
        .registry()
        .for_path(file)
        .map(|l| l.id.clone())
        .ok_or_else(|| {
            anyhow!(
                "cannot tell the language of {} from its extension; pass --lang (one of: {})",
                file.display(),
                toolchain.registry().ids().join(", ")
            )
        })
}

/// The program's stdout as it wrote it, then its stderr and a status line on stderr.
fn print_human(outcome: &RunOutcome) -> Result<()> {
    std::io::stdout().lock().write_all(outcome.stdout())?;
    std::io::stdout().flush()?;
    let mut err = std::io::stderr().lock();
    if outcome.status() != RunStatus::Ok {
        err.write_all(outcome.diagnostic().as_bytes())?;
    }
    let report = outcome.response();
    writeln!(
        err,
        "judgelet: {} · cpu {:.1} ms · wall {:.1} ms · memory {} KiB",
        report.status.as_str(),
        report.cpu_time_ms,
        report.wall_time_ms,
        report.memory_kib
    )?;
    Ok(())
}
