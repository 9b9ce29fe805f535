//! Per-run overhead of the sandbox against a bare spawn of the same program.
//!
//! For each case (Python hello, a compiled C hello, a C submission whose compilation is in
//! the cache) it times the bare program (`std::process::Command`, the floor) and the same
//! program through judgelet, first one run at a time, then with two parallel workers.
//! Latency is client-observed: for judgelet it includes making and removing the box.
//! Prints a Markdown table; `bench/run.sh` puts it into `bench/RESULTS.md`.
//!
//! `judgelet-bench-overhead grading` times grading 100 tests of a C problem (compile once,
//! cases in parallel) against 100 separate run requests of the same program.
//!
//! `judgelet-bench-overhead distinct-c URL REQUESTS CONCURRENCY` is the load client for what
//! ApacheBench cannot do: every request a different C program, so every one compiles.
//! `async BASE_URL REQUESTS CONCURRENCY` submits stored Python runs and waits for each
//! result's callback (every reply must differ); `burst BASE_URL REQUESTS CONCURRENCY` submits them as
//! fast as it can and times the queue's drain.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use lang::{RunRequest, Toolchain, ToolchainConfig};
use sandbox::{Command, Isolation, Limits, Sandbox, SandboxConfig};

const PYTHON: &str = "/usr/bin/python3";
const PY_HELLO: &str = "print('hello, world')\n";
const C_HELLO: &str = "#include <stdio.h>\nint main(void){puts(\"hello, world\");return 0;}\n";

/// Medians and throughput of one way of running one case.
struct Figures {
    sequential_median_ms: f64,
    parallel_median_ms: f64,
    parallel_runs_per_s: f64,
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Times `runs` calls of `once` in sequence, then `runs` calls split over two workers.
async fn measure<F, Fut>(runs: usize, once: F) -> Result<Figures>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let once = Arc::new(once);
    for _ in 0..runs / 10 {
        once().await?;
    }
    let mut sequential = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        once().await?;
        sequential.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let start = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let once = once.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(runs / 2);
                for _ in 0..runs / 2 {
                    let start = Instant::now();
                    once().await?;
                    latencies.push(start.elapsed().as_secs_f64() * 1e3);
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut parallel = Vec::with_capacity(runs);
    for worker in workers {
        parallel.extend(worker.await??);
    }
    let elapsed = start.elapsed();
    let count = parallel.len() as f64;
    Ok(Figures {
        sequential_median_ms: median(sequential),
        parallel_median_ms: median(parallel),
        parallel_runs_per_s: count / elapsed.as_secs_f64(),
    })
}

/// The floor: spawn the program directly and wait for it, off the async threads.
async fn bare(program: PathBuf, args: Vec<String>, dir: PathBuf) -> Result<()> {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(&program)
            .args(&args)
            .current_dir(&dir)
            .output()?;
        ensure!(
            out.stdout == b"hello, world\n",
            "bare run printed {:?}",
            out.stdout
        );
        Ok(())
    })
    .await?
}

fn compile_c(dir: &Path) -> Result<PathBuf> {
    std::fs::write(dir.join("main.c"), C_HELLO)?;
    let exe = dir.join("main");
    let status = std::process::Command::new("/usr/bin/gcc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(dir.join("main.c"))
        .status()?;
    ensure!(status.success(), "gcc failed");
    Ok(exe)
}

fn row(case: &str, bare: &Figures, judged: &Figures) -> String {
    let overhead = judged.sequential_median_ms - bare.sequential_median_ms;
    format!(
        "| {case} | {:.2} | {:.2} | **{:+.2}** ({:+.0}%) | {:.2} | {:.2} | {:.0} | {:.0} ({:.2}×) |",
        bare.sequential_median_ms,
        judged.sequential_median_ms,
        overhead,
        overhead / bare.sequential_median_ms * 100.0,
        bare.parallel_median_ms,
        judged.parallel_median_ms,
        bare.parallel_runs_per_s,
        judged.parallel_runs_per_s,
        judged.parallel_runs_per_s / bare.parallel_runs_per_s,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("grading") => grading().await,
        Some("python") => {
            let runs = args.get(1).map(|r| r.parse()).transpose()?.unwrap_or(300);
            python_runs(runs).await
        }
        Some("distinct-c") => {
            let [_, url, requests, concurrency] = &args[..] else {
                anyhow::bail!("usage: judgelet-bench-overhead distinct-c URL REQUESTS CONCURRENCY");
            };
            distinct_c(url, requests.parse()?, concurrency.parse()?).await
        }
        Some(mode @ ("async" | "burst")) => {
            let [_, base, requests, concurrency] = &args[..] else {
                anyhow::bail!(
                    "usage: judgelet-bench-overhead {mode} BASE_URL REQUESTS CONCURRENCY"
                );
            };
            let (requests, concurrency) = (requests.parse()?, concurrency.parse()?);
            match mode {
                "async" => async_runs(base, requests, concurrency).await,
                _ => burst(base, requests, concurrency).await,
            }
        }
        runs => {
            let usage = "usage: judgelet-bench-overhead [RUNS [namespaces|unprivileged]]";
            let isolation = match args.get(1) {
                Some(tier) => tier.parse().map_err(anyhow::Error::msg).context(usage)?,
                None => Isolation::Namespaces,
            };
            overhead(
                runs.map(str::parse)
                    .transpose()
                    .context(usage)?
                    .unwrap_or(200),
                isolation,
            )
            .await
        }
    }
}

/// Sends `requests` distinct C programs, `concurrency` at a time; prints ab-like figures.
async fn distinct_c(url: &str, requests: usize, concurrency: usize) -> Result<()> {
    let client = reqwest::Client::new();
    let url = url.to_owned();
    load(requests, concurrency, move |i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let source = format!("{C_HELLO}/* request {i} {} */\n", std::process::id());
            let response = client
                .post(&url)
                .header("content-type", "text/plain")
                .body(source)
                .send()
                .await?;
            ensure!(response.status() == 200, "HTTP {}", response.status());
            ensure!(
                &response.bytes().await?[..] == b"hello, world\n",
                "wrong output"
            );
            Ok(())
        }
    })
    .await
}

/// A Python program whose output differs per run, so that no reply can be an earlier one's.
const PY_RANDOM: &str = "import random\nprint(random.random())\n";

/// Submits `requests` Python programs to `BASE/async-function/python`, `concurrency` clients
/// at a time, each waiting for its result's callback (to a listener here on 127.0.0.1: the
/// server needs `--callback-allow 127.0.0.0/8`): the figures are end to end, submission to
/// result, without polling's load or its granularity.
async fn async_runs(base: &str, requests: usize, concurrency: usize) -> Result<()> {
    let callbacks = Callbacks::listen().await?;
    let client = reqwest::Client::new();
    let base = base.to_owned();
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    load(requests, concurrency, move |_| {
        let (client, base, seen, callbacks) = (
            client.clone(),
            base.clone(),
            seen.clone(),
            callbacks.clone(),
        );
        async move {
            let id = submit(&client, &base, Some(&callbacks.url)).await?;
            let result = callbacks.wait(&id).await?;
            ensure!(result["status"] == "ok", "{result}");
            let stdout = result["stdout"].as_str().unwrap_or_default().to_owned();
            ensure!(
                seen.lock().unwrap().insert(stdout.clone()),
                "a reply repeated: {stdout}"
            );
            Ok(())
        }
    })
    .await
}

/// Results delivered to a callback listener, by submission id.
#[derive(Clone)]
struct Callbacks {
    url: String,
    arrived: Arc<std::sync::Mutex<std::collections::HashMap<String, Arrival>>>,
}

enum Arrival {
    Waiting(tokio::sync::oneshot::Sender<serde_json::Value>),
    /// The callback came before its submission's answer did.
    Early(serde_json::Value),
}

impl Callbacks {
    async fn listen() -> Result<Callbacks> {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let callbacks = Callbacks {
            url: format!("http://{}/done", socket.local_addr()?),
            arrived: Arc::default(),
        };
        let arrived = callbacks.arrived.clone();
        let app = axum::Router::new().route(
            "/done",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let arrived = arrived.clone();
                async move {
                    let id = headers
                        .get("x-call-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let result = serde_json::from_str(&body).unwrap_or_default();
                    let mut arrived = arrived.lock().unwrap();
                    match arrived.remove(&id) {
                        Some(Arrival::Waiting(sender)) => {
                            let _ = sender.send(result);
                        }
                        _ => {
                            arrived.insert(id, Arrival::Early(result));
                        }
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(socket, app).await });
        Ok(callbacks)
    }

    /// The result delivered for `id`.
    async fn wait(&self, id: &str) -> Result<serde_json::Value> {
        let receiver = {
            let mut arrived = self.arrived.lock().unwrap();
            if let Some(Arrival::Early(result)) = arrived.remove(id) {
                return Ok(result);
            }
            let (sender, receiver) = tokio::sync::oneshot::channel();
            arrived.insert(id.to_owned(), Arrival::Waiting(sender));
            receiver
        };
        tokio::time::timeout(Duration::from_secs(120), receiver)
            .await
            .context("no callback within 120 s")?
            .context("the listener stopped")
    }
}

async fn submit(client: &reqwest::Client, base: &str, callback: Option<&str>) -> Result<String> {
    let mut request = client
        .post(format!("{base}/async-function/python"))
        .header("content-type", "text/plain")
        .body(PY_RANDOM);
    if let Some(url) = callback {
        request = request.header("x-callback-url", url);
    }
    let response = request.send().await?;
    ensure!(response.status() == 202, "HTTP {}", response.status());
    let accepted: serde_json::Value = response.json().await?;
    accepted["id"]
        .as_str()
        .map(str::to_owned)
        .context("no id in the answer")
}

/// Submits `requests` Python programs as fast as `concurrency` clients can, then waits until
/// the store has none pending: the submission rate and the drain rate.
async fn burst(base: &str, requests: usize, concurrency: usize) -> Result<()> {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let submitting = {
        let (client, base) = (client.clone(), base.to_owned());
        load(requests, concurrency, move |_| {
            let (client, base) = (client.clone(), base.clone());
            async move { submit(&client, &base, None).await.map(drop) }
        })
    };
    submitting.await?;
    let submitted = start.elapsed().as_secs_f64();
    // Said now: bench/store.sh measures sync requests from here while the queue drains.
    println!(
        "Submitted:              {requests} in {submitted:.2} s ({:.1}/s)",
        requests as f64 / submitted
    );
    loop {
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let pending = metrics
            .lines()
            .find_map(|l| l.strip_prefix("judgelet_submissions_pending "))
            .context("no judgelet_submissions_pending in /metrics")?;
        if pending.trim() == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = start.elapsed().as_secs_f64();
    println!(
        "Drained:                {requests} in {drained:.2} s ({:.1}/s)",
        requests as f64 / drained
    );
    Ok(())
}

/// Calls `once(i)` for `i` in `0..requests`, `concurrency` at a time; prints ab-like figures.
async fn load<F, Fut>(requests: usize, concurrency: usize, once: F) -> Result<()>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, once) = (next.clone(), once.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= requests {
                        return (latencies, failures);
                    }
                    let sent = Instant::now();
                    if let Err(e) = once(i).await {
                        failures.push(e.to_string());
                    }
                    latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                }
            })
        })
        .collect();
    let (mut latencies, mut failures) = (Vec::new(), Vec::new());
    for worker in workers {
        let (l, f) = worker.await?;
        latencies.extend(l);
        failures.extend(f);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!("Complete requests:      {}", latencies.len());
    println!("Failed requests:        {}", failures.len());
    if let Some(first) = failures.first() {
        eprintln!("first failure: {first}");
    }
    println!(
        "Requests per second:    {:.2} [#/sec] (mean)",
        latencies.len() as f64 / elapsed
    );
    println!(
        "Time per request:       {:.3} [ms] (mean)",
        latencies.iter().sum::<f64>() / latencies.len() as f64
    );
    println!("  50%  {:.0}", pct(0.5));
    println!("  99%  {:.0}", pct(0.99));
    Ok(())
}

/// Grading 100 tests at once against running the program 100 times.
async fn grading() -> Result<()> {
    const SUM: &str = "#include <stdio.h>\nint main(void){long a,b;scanf(\"%ld %ld\",&a,&b);printf(\"%ld\\n\",a+b);return 0;}\n";
    let tests: Vec<(Vec<u8>, Vec<u8>)> = (0..100i64)
        .map(|i| {
            (
                format!("{i} {}\n", i * 7).into_bytes(),
                format!("{}\n", i * 8).into_bytes(),
            )
        })
        .collect();
    let cache = tempfile::tempdir_in("/dev/shm")?;
    let toolchain = Arc::new(Toolchain::new(
        Sandbox::new(SandboxConfig::default())?,
        ToolchainConfig {
            cache_dir: cache.path().to_owned(),
            ..ToolchainConfig::default()
        },
    )?);
    let grader = judge::Grader::new(toolchain.clone(), judge::GraderConfig::default());
    let package = Arc::new(judge::ProblemPackage::inline(
        tests.clone(),
        Vec::new(),
        Some(1.0),
    )?);
    let submission = lang::Submission::single(toolchain.language("c")?, SUM.as_bytes().to_vec());
    let options = judge::GradeOptions::new(2);
    let start = Instant::now();
    let report = grader
        .grade(&package, "c", submission, &options, &|_| {})
        .await?;
    let graded = start.elapsed().as_secs_f64();
    ensure!(report.verdict == judge::Verdict::Accepted, "{report:?}");
    ensure!(
        report.tests.len() == 100,
        "ran {} tests",
        report.tests.len()
    );

    /// `salt` makes the source distinct, so the compile cache cannot serve it.
    async fn run(
        toolchain: Arc<Toolchain>,
        stdin: Vec<u8>,
        salt: Option<usize>,
    ) -> Result<lang::RunOutcome> {
        let mut source = SUM.to_owned();
        if let Some(salt) = salt {
            source.push_str(&format!("/* {salt} */\n"));
        }
        let request = RunRequest {
            language: "c".into(),
            source: source.into_bytes(),
            stdin,
            ..RunRequest::default()
        };
        Ok(toolchain.run(request).await?)
    }
    let start = Instant::now();
    for (input, answer) in &tests {
        let outcome = run(toolchain.clone(), input.clone(), None).await?;
        ensure!(outcome.stdout() == &answer[..], "{:?}", outcome.response());
    }
    let sequential = start.elapsed().as_secs_f64();
    let two_at_a_time = |salted: bool| {
        let start = Instant::now();
        let halves: Vec<_> = tests
            .chunks(50)
            .enumerate()
            .map(|(half, chunk)| {
                let (chunk, toolchain) = (chunk.to_vec(), toolchain.clone());
                tokio::spawn(async move {
                    for (i, (input, _)) in chunk.into_iter().enumerate() {
                        let salt =
                            salted.then_some(half * 50 + i + std::process::id() as usize * 1000);
                        run(toolchain.clone(), input, salt).await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect::<Vec<_>>();
        async move {
            for half in halves {
                half.await??;
            }
            anyhow::Ok(start.elapsed().as_secs_f64())
        }
    };
    let parallel = two_at_a_time(false).await?;
    let compiling = two_at_a_time(true).await?;
    println!("| way | wall time for 100 tests |");
    println!("|---|---|");
    println!(
        "| `grade`: one request, compile once (cold cache), 2 cases at a time | {:.0} ms |",
        graded * 1e3
    );
    println!(
        "| 100 `run` requests one after another (cache warm) | {:.0} ms |",
        sequential * 1e3
    );
    println!(
        "| 100 `run` requests, 2 at a time (cache warm) | {:.0} ms |",
        parallel * 1e3
    );
    println!("| 100 `run` requests, 2 at a time, each compiling (no cache: the report's design) | {:.0} ms |", compiling * 1e3);
    Ok(())
}

async fn overhead(runs: usize, isolation: Isolation) -> Result<()> {
    let work = tempfile::tempdir()?;
    std::fs::write(work.path().join("main.py"), PY_HELLO)?;
    let c_exe = compile_c(work.path())?;
    let cache = tempfile::tempdir_in("/dev/shm")?;
    let defaults = SandboxConfig::default();
    let sandbox = Sandbox::new(SandboxConfig {
        isolation,
        // As judgelet reads it: a user other than root needs a state directory of its own.
        state_dir: std::env::var_os("JUDGELET_STATE_DIR")
            .map_or(defaults.state_dir.clone(), Into::into),
        ..defaults
    })?;
    let toolchain = Arc::new(Toolchain::new(
        sandbox.clone(),
        ToolchainConfig {
            cache_dir: cache.path().to_owned(),
            ..ToolchainConfig::default()
        },
    )?);
    let limits = Limits::RUN_DEFAULTS;
    let mut rows = Vec::new();

    let dir = work.path().to_owned();
    let py_bare = measure(runs, move || {
        bare(PYTHON.into(), vec!["main.py".into()], dir.clone())
    })
    .await?;
    let sb = sandbox.clone();
    let py_judged = measure(runs, move || {
        let sb = sb.clone();
        async move {
            let boxed = sb.new_box()?;
            boxed.write_file("main.py", PY_HELLO.as_bytes())?;
            let mut command = Command::new(PYTHON, limits);
            command.args(["main.py"]);
            let report = sb.run(&boxed, &command).await?;
            ensure!(report.stdout.bytes == b"hello, world\n", "{report:?}");
            Ok(())
        }
    })
    .await?;
    rows.push(row(
        "Python hello (`python3 main.py`)",
        &py_bare,
        &py_judged,
    ));

    let (dir, exe) = (work.path().to_owned(), c_exe.clone());
    let c_bare = measure(runs, move || bare(exe.clone(), Vec::new(), dir.clone())).await?;
    let sb = sandbox.clone();
    let c_judged = measure(runs, move || {
        let (sb, exe) = (sb.clone(), c_exe.clone());
        async move {
            let boxed = sb.new_box()?;
            boxed.add_readonly(&exe, "main")?;
            let report = sb.run(&boxed, &Command::new("/box/main", limits)).await?;
            ensure!(report.stdout.bytes == b"hello, world\n", "{report:?}");
            Ok(())
        }
    })
    .await?;
    rows.push(row("compiled C hello", &c_bare, &c_judged));

    let cached = measure(runs, move || {
        let toolchain = toolchain.clone();
        async move {
            let request = RunRequest {
                language: "c".into(),
                source: C_HELLO.as_bytes().to_vec(),
                ..RunRequest::default()
            };
            let outcome = toolchain.run(request).await?;
            ensure!(
                outcome.stdout() == b"hello, world\n",
                "{:?}",
                outcome.response()
            );
            Ok(())
        }
    })
    .await?;
    rows.push(row("C source, compile-cache hit", &c_bare, &cached));

    println!("| case | bare median ms | judgelet median ms | overhead | bare ms (2 workers) | judgelet ms (2 workers) | bare runs/s | judgelet runs/s |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!(
        "{runs} runs per cell after {} warm-up runs; isolation: {isolation}; host: {} CPUs; {}",
        runs / 10,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")?.trim()
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

/// A program whose every run prints something else (its hash secret shows in `hash`):
/// nothing may serve a run the output of an earlier one.
const PY_DISTINCT: &str = "print('hello', hash('judgelet'))\n";

/// Fails unless `output` is a hello unlike the last one seen.
fn distinct(output: &[u8]) -> Result<()> {
    static LAST: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());
    ensure!(output.starts_with(b"hello "), "printed {output:?}");
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    ensure!(*last != output, "an output repeated: {output:?}");
    *last = output.to_vec();
    Ok(())
}

/// Python through the toolchain, started cold and served by waiting interpreters (warm
/// runtimes), against bare `python3 main.py`; `runs` per cell.
async fn python_runs(runs: usize) -> Result<()> {
    let work = tempfile::tempdir()?;
    std::fs::write(work.path().join("main.py"), PY_DISTINCT)?;
    let cache = tempfile::tempdir_in("/dev/shm")?;
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let toolchain = |warm_runtimes| {
        Toolchain::new(
            sandbox.clone(),
            ToolchainConfig {
                cache_dir: cache.path().to_owned(),
                warm_runtimes,
                ..ToolchainConfig::default()
            },
        )
        .map(Arc::new)
    };
    let dir = work.path().to_owned();
    let bare = measure(runs, move || {
        let dir = dir.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let out = std::process::Command::new(PYTHON)
                    .arg("main.py")
                    .current_dir(&dir)
                    .output()?;
                distinct(&out.stdout)
            })
            .await?
        }
    })
    .await?;
    let mut rows = Vec::new();
    for (case, warm_runtimes) in [
        ("Python hello, started cold (the launcher)", 0),
        ("Python hello, warm runtimes", 2),
    ] {
        let toolchain = toolchain(warm_runtimes)?;
        toolchain.warm_up();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let runner = toolchain.clone();
        let judged = measure(runs, move || {
            let toolchain = runner.clone();
            async move {
                let request = RunRequest {
                    language: "python".into(),
                    source: PY_DISTINCT.as_bytes().to_vec(),
                    ..RunRequest::default()
                };
                distinct(toolchain.run(request).await?.stdout())
            }
        })
        .await?;
        let stats = toolchain.warm_stats();
        rows.push(format!(
            "{} {} served warm, {} cold |",
            row(case, &bare, &judged),
            stats.served,
            stats.cold
        ));
    }
    println!("| case | bare median ms | judgelet median ms | overhead | bare ms (2 workers) | judgelet ms (2 workers) | bare runs/s | judgelet runs/s | runs |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!(
        "{runs} runs per cell after {} warm-up runs; every output checked unlike the one before; host: {} CPUs; {}",
        runs / 10,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")?.trim()
    );
    Ok(())
}
