//! `judgelet`: the one binary. Thin glue over the library crates.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

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
    /// Boxes live here; best on a tmpfs [default: /dev/shm/judgelet-UID, one per user].
    #[arg(long, global = true, value_name = "DIR", env = "JUDGELET_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Compile cache directory [default: STATE_DIR/cache].
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// First host uid programs run as; one uid per live box. Processes with one
    /// --state-dir never share a uid (they lock them there); give judgelet processes with
    /// different state directories ranges of their own.
    #[arg(long, global = true, default_value_t = 60_000)]
    uid_base: u32,
    /// How many uids from --uid-base judgelet may use.
    #[arg(long, global = true, default_value_t = 1_000)]
    uid_count: u32,
    /// How runs are isolated: `namespaces` (needs root or CAP_SYS_ADMIN) or `unprivileged`
    /// (Landlock, seccomp and rlimits, for pods that may not create namespaces; see
    /// docs/deploy.md for what it cannot guarantee).
    #[arg(
        long,
        global = true,
        env = "JUDGELET_ISOLATION",
        default_value = "namespaces"
    )]
    isolation: sandbox::Isolation,
    /// How log lines look on stderr: `text`, or `json` (one object per line, for a log
    /// collector).
    #[arg(
        long,
        global = true,
        env = "JUDGELET_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    /// A delegated cgroup v2 directory for the namespaces tier [default: found from
    /// /proc/self/cgroup].
    #[arg(long, global = true, env = "JUDGELET_CGROUP_ROOT", value_name = "DIR")]
    cgroup_root: Option<PathBuf>,
    /// Do not pin runs to CPUs. By default each run is pinned to the CPU fewest runs use, so
    /// that while runs are no more than CPUs each has its own.
    #[arg(long, global = true, env = "JUDGELET_NO_PIN_CPUS")]
    no_pin_cpus: bool,
}

#[derive(Subcommand)]
enum Commands {
    /// Run one program and print what it printed.
    ///
    /// Exit codes: 0 the program ran and exited 0; 10 it did not compile; 11 run-time error
    /// (a non-zero exit or a signal); 12 time limit; 13 memory limit; 14 output limit; 2 a
    /// usage error; 3 judgelet's own failure.
    Run(RunArgs),
    /// Serve every function over HTTP (the embedded default).
    Serve(ServeArgs),
    /// Serve one function at `/`, as an OpenFaaS function (health at /_/health).
    Function {
        /// The function: a language id, `pythontimeout`, `cc`, `run` or `grade`.
        #[arg(env = "JUDGELET_FUNCTION")]
        name: String,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Grade a submission (a file, or a directory of files) against a problem package.
    ///
    /// Exit codes: 0 accepted; 1 any other verdict; 2 a usage error; 3 judgelet's own failure.
    Grade {
        /// The problem package directory (Kattis problem package format).
        #[arg(long, value_name = "DIR")]
        problem: PathBuf,
        submission: PathBuf,
        /// Language id; from the file extension when not given.
        #[arg(long = "lang", value_name = "L")]
        language: Option<String>,
        /// For a submission of several files: the one to run (`main.py` or the only file of
        /// the language when not given).
        #[arg(long, value_name = "FILE")]
        entry: Option<String>,
        /// Keep going after the first failure (the format stops there).
        #[arg(long)]
        all: bool,
        /// Print one JSON report instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Grade every submission of packages' submissions/<verdict>/ folders and report where
    /// the verdict differs from the folder's.
    ///
    /// Exit codes: 0 every verdict is its folder's; 1 some differ, or an input validator
    /// rejects an input; 2 a usage error; 3 a
    /// package could not be checked (it does not load, or its problem.yaml has mistakes) or
    /// judgelet failed.
    Verify {
        /// Problem package directories.
        #[arg(required = true)]
        problems: Vec<PathBuf>,
        /// How many times slower this machine is than the ones the packages' time limits were
        /// set on: verification runs are stretched by it (too-slow submissions are still
        /// judged at the limit itself).
        #[arg(long, default_value_t = 1.0)]
        slowness: f64,
        #[arg(long)]
        json: bool,
    },
    /// Add, replace, remove or list the problems of a running server (`judgelet serve`).
    ///
    /// Exit codes: 0 done; 1 the server refused (it says why); 2 a usage error; 3 the server
    /// could not be reached, or judgelet failed.
    Problems {
        #[command(subcommand)]
        action: ProblemsAction,
        /// The server.
        #[arg(
            long,
            env = "JUDGELET_SERVER",
            default_value = "http://127.0.0.1:8080",
            global = true
        )]
        server: String,
        /// One of the server's admin keys, when it has any (without, only this host may
        /// change its problems).
        #[arg(
            long,
            env = "JUDGELET_ADMIN_KEY",
            hide_env_values = true,
            global = true
        )]
        admin_key: Option<String>,
    },
    /// List the languages this machine can run.
    Languages {
        /// One JSON object per language.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ProblemsAction {
    /// Upload a package (a directory, or a zip of one) as a new problem, or a new version of
    /// one: checked by the server first.
    Add {
        /// The package directory, or a zip holding it.
        package: PathBuf,
        /// The problem's id [default: the directory's name, or the zip's without .zip].
        #[arg(long)]
        id: Option<String>,
    },
    /// Remove an uploaded problem.
    Remove { id: String },
    /// List the server's problems.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind: std::net::IpAddr,
    /// Port to listen on (Knative sets PORT).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Runs at once [default: the number of CPUs].
    #[arg(long, env = "JUDGELET_SLOTS")]
    slots: Option<usize>,
    /// Interpreters started ahead per language with a warm runtime (languages.toml `warm`),
    /// each waiting in its box for one run; 0 for none [default: --slots]. The namespaces
    /// tier only.
    #[arg(long, env = "JUDGELET_WARM", value_name = "N")]
    warm: Option<usize>,
    /// Requests that may wait for a slot; more are refused with 429.
    #[arg(long, default_value_t = 512)]
    queue: usize,
    /// Requests at once, running or waiting, as of-watchdog's max_inflight: more are refused
    /// with 429. Sets --queue to this minus --slots (and --slots to at most this).
    #[arg(long, env = "max_inflight")]
    max_inflight: Option<usize>,
    /// Longest wait for a slot before 429.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    queue_timeout: f64,
    /// Longest a request may take, waiting included, as of-watchdog's exec_timeout (Go
    /// duration such as 30s or 1m30s, or seconds; 0 for none): 504 after, and the run killed.
    #[arg(long, env = "exec_timeout", value_parser = watchdog_duration)]
    exec_timeout: Option<Duration>,
    /// Longest a request body may take to arrive, as of-watchdog's read_timeout: 408 after.
    #[arg(long, env = "read_timeout", value_parser = watchdog_duration)]
    read_timeout: Option<Duration>,
    /// Longest a response may take, as of-watchdog's write_timeout: bounds the same span as
    /// --exec-timeout; the shorter wins.
    #[arg(long, env = "write_timeout", value_parser = watchdog_duration)]
    write_timeout: Option<Duration>,
    /// Problem packages for the grade function [default: ./problems when it exists].
    #[arg(long, value_name = "DIR")]
    problems: Option<PathBuf>,
    /// On SIGTERM or SIGINT, how long in-flight runs may finish before they are killed.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    drain: f64,
    /// A file of API keys (one per line, `#` comments) the compatible APIs (Judge0, Piston,
    /// Jobe) require, each in its own header; without keys they are open.
    #[arg(long, value_name = "FILE")]
    api_keys: Option<PathBuf>,
    /// An origin whose pages may call the API from a browser (CORS), e.g.
    /// https://course.example.org; repeatable; `*` for any. None by default.
    #[arg(
        long = "cors-origin",
        env = "JUDGELET_CORS_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// API keys, separated by commas, as --api-keys has them.
    #[arg(
        long,
        env = "JUDGELET_API_KEYS",
        value_name = "KEYS",
        hide_env_values = true
    )]
    api_key_list: Option<String>,
    /// A file of admin keys (as --api-keys has them): who may upload and remove problems
    /// (`Authorization: Bearer KEY`); without keys, clients on this host only.
    #[arg(long, value_name = "FILE")]
    admin_keys: Option<PathBuf>,
    /// Admin keys, separated by commas, as --admin-keys has them.
    #[arg(
        long,
        env = "JUDGELET_ADMIN_KEYS",
        value_name = "KEYS",
        hide_env_values = true
    )]
    admin_key_list: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Stored submissions (`judgelet serve` only: a single function is stateless).
#[derive(Args)]
struct StoreArgs {
    /// Where the embedded store lives (`judgelet.db`), and uploaded problems (`problems/`);
    /// keep it off tmpfs to keep them through a reboot.
    #[arg(
        long,
        env = "JUDGELET_DATA_DIR",
        value_name = "DIR",
        default_value = "judgelet-data"
    )]
    data_dir: PathBuf,
    /// The store: `sqlite:PATH` (one server), or `postgres://USER:PASSWORD@HOST/DB` for
    /// several replicas [default: sqlite:DATA_DIR/judgelet.db].
    #[arg(long, env = "JUDGELET_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// Submissions queued or running at most; more are refused with 429.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_pending: u64,
    /// A replica that stops renewing its claims loses them to the others after this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    lease: f64,
    /// Results and sources are deleted this long after they finish (e.g. 7d, 12h).
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = humantime::parse_duration)]
    retention: Duration,
    /// Lets callbacks go to addresses in CIDR besides public ones (repeatable; loopback,
    /// private, link-local and metadata ranges are refused by default).
    #[arg(
        long,
        env = "JUDGELET_CALLBACK_ALLOW",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    callback_allow: Vec<ipnet::IpNet>,
}

impl StoreArgs {
    fn url(&self) -> Result<String> {
        match &self.database {
            Some(url) => Ok(url.clone()),
            None => {
                std::fs::create_dir_all(&self.data_dir).with_context(|| {
                    format!("create the data directory {}", self.data_dir.display())
                })?;
                Ok(format!(
                    "sqlite:{}",
                    self.data_dir.join("judgelet.db").display()
                ))
            }
        }
    }
}

/// A duration as of-watchdog reads one: a Go duration (`30s`, `1m30s`, `500ms`) or a bare
/// number of seconds. Zero means none.
fn watchdog_duration(text: &str) -> Result<Duration, String> {
    let duration = match text.trim().parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text.trim())
            .map_err(|e| format!("{text:?} is not a duration such as 30s or 1m30s: {e}"))?,
    };
    Ok(duration)
}

#[derive(Args)]
struct RunArgs {
    /// The source file.
    file: PathBuf,
    /// Arguments for the program, after `--`: `judgelet run main.py -- a b`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
    /// Language id (see `judgelet languages`); from the file extension when not given.
    #[arg(long = "lang", value_name = "L")]
    language: Option<String>,
    /// File to feed to the program's stdin; `-` for judgelet's own stdin [default: judgelet's
    /// stdin when it is not a terminal, else nothing].
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
    logging(&cli);
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("judgelet: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// Logs on stderr: a line per request for the servers (`info`), warnings only for the
/// one-shot commands, `RUST_LOG` over both; colour only on a terminal; JSON lines with
/// `--log-format json`.
fn logging(cli: &Cli) {
    use std::io::IsTerminal;
    let level = match cli.command {
        Commands::Serve(_) | Commands::Function { .. } => "info",
        _ => "warn",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.common.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Commands::Languages { json } => languages(&cli.common, json),
        Commands::Run(args) => run(&cli.common, args),
        Commands::Grade {
            problem,
            submission,
            language,
            entry,
            all,
            json,
        } => grade(
            &cli.common,
            &problem,
            &submission,
            GradeFlags {
                language,
                entry,
                all,
                json,
            },
        ),
        Commands::Verify {
            problems,
            slowness,
            json,
        } => verify(&cli.common, &problems, slowness, json),
        Commands::Problems {
            action,
            server,
            admin_key,
        } => problems(&server, admin_key.as_deref(), action),
        Commands::Serve(args) => serve(&cli.common, &args, None),
        Commands::Function { name, serve: args } => serve(&cli.common, &args, Some(&name)),
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
            writeln!(out, "{}", serde_json::to_string(&language.info())?)?;
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
    toolchain_with(common, 0)
}

/// A toolchain with `warm_runtimes` interpreters waiting per language that has a warm
/// runtime (`serve`; one-off commands start cold).
fn toolchain_with(common: &Common, warm_runtimes: usize) -> Result<Toolchain> {
    let state_dir = common
        .state_dir
        .clone()
        .unwrap_or_else(sandbox::default_state_dir);
    let sandbox = Sandbox::new(SandboxConfig {
        state_dir: state_dir.clone(),
        uid_base: common.uid_base,
        uid_count: common.uid_count,
        isolation: common.isolation,
        cgroup_root: common.cgroup_root.clone(),
        pin_cpus: !common.no_pin_cpus,
        ..SandboxConfig::default()
    })?;
    let config = ToolchainConfig {
        languages_toml: languages_toml(common)?,
        cache_dir: common
            .cache_dir
            .clone()
            .unwrap_or_else(|| state_dir.join("cache")),
        warm_runtimes,
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
    let read_own = || -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .context("read stdin")?;
        Ok(bytes)
    };
    let stdin = match &args.stdin {
        Some(path) if path.as_os_str() == "-" => read_own()?,
        Some(path) => std::fs::read(path).with_context(|| format!("{}", path.display()))?,
        // Piped in (`echo 3 | judgelet run x.py`): the program's. A terminal: nothing, rather
        // than a run waiting for typing nobody knows it wants.
        None if !std::io::IsTerminal::is_terminal(&std::io::stdin()) => read_own()?,
        None => Vec::new(),
    };
    let request = RunRequest {
        language,
        source,
        // Its own name in the box: tracebacks name it, and a Java class is found by it.
        source_name: args
            .file
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned),
        stdin,
        args: args.args.clone(),
        limits: LimitsRequest {
            cpu_time_ms: args.time_limit.map(|s| (s * 1000.0).round() as u64),
            memory_kib: args.memory_limit.map(|mb| mb * 1024),
            ..LimitsRequest::default()
        },
        files: Vec::new(),
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

fn serve(common: &Common, args: &ServeArgs, function: Option<&str>) -> Result<u8> {
    let defaults = server::ServerConfig::default();
    let mut slots = args.slots.unwrap_or(defaults.slots).max(1);
    let mut queue = args.queue;
    if let Some(inflight) = args.max_inflight.filter(|&n| n > 0) {
        slots = slots.min(inflight);
        queue = inflight - slots;
    }
    let toolchain = toolchain_with(common, args.warm.unwrap_or(slots))?;
    let nonzero = |d: Option<Duration>| d.filter(|d| !d.is_zero());
    let deadline = [nonzero(args.exec_timeout), nonzero(args.write_timeout)]
        .into_iter()
        .flatten()
        .min();
    let lease = Duration::try_from_secs_f64(args.store.lease)
        .ok()
        .filter(|lease| !lease.is_zero())
        .ok_or_else(|| anyhow!("--lease must be a positive number of seconds"))?;
    let config = server::ServerConfig {
        slots,
        queue,
        queue_timeout: Duration::from_secs_f64(args.queue_timeout),
        read_timeout: nonzero(args.read_timeout),
        deadline,
        problems_dir: args
            .problems
            .clone()
            .or_else(|| Some(PathBuf::from("problems")).filter(|p| p.is_dir())),
        submissions: server::SubmissionsConfig {
            max_pending: args.store.max_pending,
            lease,
            retention: args.store.retention,
            callbacks: server::CallbackRules::new(args.store.callback_allow.clone()),
            ..defaults.submissions.clone()
        },
        ..defaults
    };
    let uploads_dir = match function {
        Some(_) => None,
        None => {
            let dir = args.store.data_dir.join("problems");
            std::fs::create_dir_all(&dir).with_context(|| {
                format!("create the uploaded problems' directory {}", dir.display())
            })?;
            Some(dir)
        }
    };
    let config = server::ServerConfig {
        api_keys: keys(
            "API",
            args.api_key_list.as_deref(),
            args.api_keys.as_deref(),
        )?,
        admin_keys: keys(
            "admin",
            args.admin_key_list.as_deref(),
            args.admin_keys.as_deref(),
        )?,
        uploads_dir,
        cors_origins: args.cors_origins.clone(),
        ..config
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // A single function is stateless: behind OpenFaaS the platform's queue-worker gives it
    // asynchronous calls. `serve` keeps them itself.
    let store = match function {
        Some(_) => None,
        None => {
            let url = args.store.url()?;
            let store = runtime.block_on(store::Store::open(&url))?;
            tracing::info!(store = store.url(), "submissions stored");
            Some(store)
        }
    };
    let state = server::AppState::new(toolchain, config, store);
    let router = match function {
        Some(name) => server::function_app(state.clone(), name).map_err(|e| anyhow!("{e}"))?,
        None => server::app(state.clone()),
    };
    // OpenFaaS CE probes a function with `cat /tmp/.lock` (in the temp directory): it exists
    // while the function can serve.
    let _lock = function.map(|_| LockFile::create()).transpose()?;
    runtime.block_on(async {
        let address = std::net::SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listen on {address}"))?;
        tracing::info!(%address, function = function.unwrap_or("all"), "judgelet listening");
        eprintln!("judgelet: listening on http://{}", listener.local_addr()?);
        let drain = Duration::from_secs_f64(args.drain);
        server::serve(listener, state, router, shutdown_signal(), drain).await?;
        anyhow::Ok(())
    })?;
    Ok(0)
}

/// Keys from a list (commas) and a file (one per line, `#` comments).
fn keys(what: &str, list: Option<&str>, file: Option<&Path>) -> Result<server::ApiKeys> {
    let mut keys = list.unwrap_or_default().to_owned();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read the {what} keys in {}", path.display()))?;
        keys.push('\n');
        keys.push_str(&text);
    }
    Ok(server::ApiKeys::parse(&keys))
}

/// `.lock` in the temp directory while a function serves; removed when it stops.
struct LockFile(PathBuf);

impl LockFile {
    fn create() -> Result<LockFile> {
        let path = std::env::temp_dir().join(".lock");
        std::fs::write(&path, b"")
            .with_context(|| format!("create the OpenFaaS lock file {}", path.display()))?;
        Ok(LockFile(path))
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// SIGTERM (what Kubernetes and OpenFaaS send) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Grading runs as many cases at once as there are CPUs.
fn grader(
    common: &Common,
    config: judge::GraderConfig,
) -> Result<(judge::Grader, judge::GradeOptions)> {
    let toolchain = std::sync::Arc::new(toolchain(common)?);
    let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok((
        judge::Grader::new(toolchain, config),
        judge::GradeOptions::new(parallelism),
    ))
}

/// How `judgelet grade` was asked to grade.
struct GradeFlags {
    language: Option<String>,
    entry: Option<String>,
    all: bool,
    json: bool,
}

fn grade(common: &Common, problem: &Path, path: &Path, flags: GradeFlags) -> Result<u8> {
    let GradeFlags {
        language,
        entry,
        all,
        json,
    } = flags;
    let (grader, mut options) = grader(common, judge::GraderConfig::default())?;
    options.stop_at_first_failure = !all;
    options.reveal_secret = true;
    // Derivation can take minutes; say what it is doing (once: later runs reuse the limit).
    options.on_timing = Some(std::sync::Arc::new(|submission| {
        eprintln!(
            "judgelet: deriving the time limit (once): timing {}",
            submission.name
        )
    }));
    let package = std::sync::Arc::new(judge::ProblemPackage::load(problem)?);
    for warning in &package.warnings {
        eprintln!("judgelet: warning: {warning}");
    }
    let mut submission =
        lang::Submission::read(path).with_context(|| format!("{}", path.display()))?;
    if let Some(entry) = entry {
        if !submission.files.iter().any(|(name, _)| *name == entry) {
            anyhow::bail!(
                "--entry {entry}: no such file in {} (it has: {})",
                path.display(),
                submission
                    .files
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        submission.entry = Some(entry);
    }
    let language = match language {
        Some(language) => language,
        None => {
            let registry = grader.toolchain().registry();
            submission
                .files
                .iter()
                .find_map(|(name, _)| registry.for_path(Path::new(name)))
                .map(|l| l.id.clone())
                .ok_or_else(|| {
                    anyhow!(
                        "cannot tell the language of {}; pass --lang",
                        path.display()
                    )
                })?
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let total = package.cases.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let show = |t: &judge::TestReport| {
        if json {
            return;
        }
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let score = t.score.map(|s| format!("  score {s}")).unwrap_or_default();
        eprintln!(
            "[{n:>3}/{total}] {:<40} {:<4} {:>8.1} ms {:>8} KiB{score}",
            t.name,
            t.verdict.short(),
            t.cpu_time_ms,
            t.memory_kib
        );
        if let Some(hint) = t.hint.as_ref().or(t.message.as_ref()) {
            eprintln!("          {}", hint.replace('\n', "\n          "));
        }
    };
    let report =
        runtime.block_on(grader.grade(&package, &language, submission, &options, &show))?;
    if json {
        serde_json::to_writer_pretty(std::io::stdout().lock(), &report)?;
        println!();
    } else {
        if let Some(compile) = report.compile.as_ref().filter(|c| !c.success) {
            eprint!("{}", compile.output);
        }
        let score = match (report.score, report.max_score) {
            (Some(score), Some(max)) => format!(" · score {score} of {max}"),
            _ => String::new(),
        };
        eprintln!(
            "judgelet: {} ({}){score} · {} tests run, {} skipped · time limit {} s · max cpu {:.1} ms · max memory {} KiB",
            report.verdict.as_str(),
            report.verdict.short(),
            report.tests.len(),
            report.skipped,
            report.time_limit.seconds,
            report.cpu_time_ms,
            report.memory_kib
        );
    }
    Ok(match report.verdict {
        judge::Verdict::Accepted => 0,
        _ => 1,
    })
}

fn verify(common: &Common, problems: &[PathBuf], slowness: f64, json: bool) -> Result<u8> {
    let config = judge::GraderConfig {
        slowness,
        ..judge::GraderConfig::default()
    };
    let (grader, options) = grader(common, config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut disagreements = 0;
    let mut results = Vec::new();
    for dir in problems {
        let package = std::sync::Arc::new(judge::ProblemPackage::load(dir)?);
        if !json {
            eprintln!("{} ({})", package.id, dir.display());
        }
        let show = |c: &judge::verify::Checked| {
            if !json {
                let mark = match (c.agrees, c.time_sensitive) {
                    (false, _) => "BAD",
                    (true, true) => "ok~",
                    (true, false) => "ok ",
                };
                let failure = c.first_failure.as_deref().unwrap_or("");
                eprintln!(
                    "  {mark} {:<50} expected {:<20} got {:<4} ({:<3} at the limit) {:>6.1} s  {failure}",
                    c.submission,
                    c.expected,
                    c.verdict.short(),
                    c.verdict_at_limit.short(),
                    c.seconds
                );
                if let (false, Some(unmet)) = (c.agrees, &c.unmet) {
                    eprintln!("      {unmet}");
                }
            }
        };
        let verification =
            runtime.block_on(judge::verify::verify(&grader, &package, &options, &show))?;
        if !json {
            for (name, why) in &verification.skipped {
                eprintln!("  --  {name:<50} skipped: {why}");
            }
            for check in verification.invalid_inputs() {
                eprintln!(
                    "  XX  {:<50} input {} invalid: {}",
                    check.validator, check.case, check.message
                );
            }
            if !verification.inputs.is_empty() {
                eprintln!(
                    "  inputs: {} checks, {} invalid",
                    verification.inputs.len(),
                    verification.invalid_inputs().count()
                );
            }
            eprintln!(
                "  time limit {} s ({:?})",
                verification.time_limit.seconds, verification.time_limit.source
            );
        }
        disagreements +=
            verification.disagreements().count() + verification.invalid_inputs().count();
        results.push(verification);
    }
    if json {
        serde_json::to_writer_pretty(std::io::stdout().lock(), &results)?;
        println!();
    } else {
        // The summary, as problemtools prints one: each submission, what it had to get and
        // what it got, and its slowest case against the limit.
        eprintln!(
            "\n{:<60} {:<24} {:<4} {:<4} {:>9} {:>7}  slowest case",
            "submission", "expected", "got", "", "cpu ms", "limit"
        );
        for verification in &results {
            for c in &verification.checked {
                eprintln!(
                    "{:<60} {:<24} {:<4} {:<4} {:>9.1} {:>6.1}s  {}",
                    format!("{}/{}", verification.problem, c.submission),
                    c.expected,
                    c.verdict.short(),
                    if c.agrees { "ok" } else { "BAD" },
                    c.slowest_ms,
                    verification.time_limit.seconds,
                    c.slowest_case.as_deref().unwrap_or("-")
                );
            }
        }
        let checked: usize = results.iter().map(|v| v.checked.len()).sum();
        eprintln!(
            "judgelet: {checked} submissions checked, {disagreements} disagree \
             (ok~: the verdict at the limit itself differs; the judge is slower or faster \
             than the package's authors')"
        );
    }
    Ok(u8::from(disagreements > 0))
}

/// `judgelet problems`: a client of the server's `/problems`.
fn problems(server: &str, admin_key: Option<&str>, action: ProblemsAction) -> Result<u8> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let url = |path: &str| format!("{}{path}", server.trim_end_matches('/'));
    let authorized = |request: reqwest::blocking::RequestBuilder| match admin_key {
        Some(key) => request.bearer_auth(key),
        None => request,
    };
    let reached = |e: reqwest::Error| anyhow!("cannot reach the server at {server}: {e}");
    let (response, id) = match action {
        ProblemsAction::Add { package, id } => {
            let stem = package
                .file_stem()
                .filter(|_| package.is_file())
                .or(package.file_name())
                .map(|n| n.to_string_lossy().into_owned());
            let id = id
                .or(stem)
                .ok_or_else(|| anyhow!("name the problem with --id"))?;
            let zip = match package.is_dir() {
                true => judge::archive::pack(&package),
                false => std::fs::read(&package),
            }
            .with_context(|| format!("read the package {}", package.display()))?;
            let request = client
                .put(url(&format!("/problems/{id}")))
                .header("content-type", "application/zip")
                .body(zip);
            (authorized(request).send().map_err(reached)?, id)
        }
        ProblemsAction::Remove { id } => {
            let request = client.delete(url(&format!("/problems/{id}")));
            (authorized(request).send().map_err(reached)?, id)
        }
        ProblemsAction::List { json } => {
            let response = client.get(url("/problems")).send().map_err(reached)?;
            let list: serde_json::Value = response.json().map_err(reached)?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{list:#}")?;
                return Ok(0);
            }
            for problem in list.as_array().into_iter().flatten() {
                writeln!(out, "{}", problem_line(problem))?;
            }
            return Ok(0);
        }
    };
    let status = response.status();
    let text = response.text().map_err(reached)?;
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or(&text);
        eprintln!("judgelet: the server refused ({status}): {message}");
        return Ok(1);
    }
    match status {
        reqwest::StatusCode::NO_CONTENT => println!("removed {id}"),
        _ => {
            let verb = match status {
                reqwest::StatusCode::CREATED => "added",
                _ => "replaced",
            };
            println!("{verb} {}", problem_line(&body));
            for warning in body["warnings"].as_array().into_iter().flatten() {
                eprintln!("warning: {}", warning.as_str().unwrap_or_default());
            }
        }
    }
    Ok(0)
}

/// One problem of `GET /problems` on a line: id, name, type, tests and limits.
fn problem_line(problem: &serde_json::Value) -> String {
    let limits = &problem["limits"];
    let time = match limits["time"]["seconds"].as_f64() {
        Some(seconds) => format!(
            "{seconds} s ({})",
            limits["time"]["source"].as_str().unwrap_or("?")
        ),
        None => "time limit being derived".to_owned(),
    };
    format!(
        "{}  {:?}  {}, {} tests, {time}, {} MiB{}",
        problem["id"].as_str().unwrap_or_default(),
        problem["name"].as_str().unwrap_or_default(),
        problem["type"].as_str().unwrap_or_default(),
        problem["tests"],
        problem["memory_mib"],
        match problem["uploaded"].as_bool() {
            Some(true) => ", uploaded",
            _ => "",
        }
    )
}
