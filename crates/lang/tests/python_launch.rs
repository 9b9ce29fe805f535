//! Python's launcher (`languages.toml`: every source compiled first, in the interpreter that
//! then runs `main.py`) against a bare `python3 main.py`, both in the real sandbox: what a
//! program sees and what it reports must be the same, but for the differences docs/api.md
//! lists, which are tested here too.

use std::time::{Duration, Instant};

use lang::{File, RunRequest, RunResponse, RunStatus, Toolchain, ToolchainConfig};
use sandbox::{LimitKind, LimitsRequest, Sandbox, SandboxConfig};

/// The shipped registry plus Python run the plain way, cold (every run starts its
/// interpreter) and warm (interpreters wait in their boxes for runs). A test's own: a
/// waiting interpreter belongs to the runtime that started it.
struct Toolchains {
    cold: Toolchain,
    warm: Toolchain,
    _cache: tempfile::TempDir,
}

impl Toolchains {
    fn new() -> Toolchains {
        Toolchains::with_uids(74_000)
    }

    /// With host uids of its own from `uid_base` (a test that signals what it started).
    fn with_uids(uid_base: u32) -> Toolchains {
        Toolchains::with(uid_base, 1)
    }

    /// The same, with `warm_runtimes` interpreters kept waiting.
    fn with(uid_base: u32, warm_runtimes: usize) -> Toolchains {
        let cache = tempfile::tempdir_in("/dev/shm").unwrap();
        let sandbox = Sandbox::new(SandboxConfig {
            uid_base,
            uid_count: 100,
            ..SandboxConfig::default()
        })
        .unwrap();
        let languages = format!(
            "{}\n[bare-python]\nname = \"python3 main.py\"\nextensions = [\"py\"]\n\
             source = \"main.py\"\nrun = [\"/usr/bin/python3\", \"{{entry}}\"]\n\
             version = [\"/usr/bin/python3\", \"--version\"]\n",
            lang::DEFAULT_LANGUAGES_TOML
        );
        let config = |warm_runtimes| ToolchainConfig {
            cache_dir: cache.path().to_owned(),
            languages_toml: languages.clone(),
            warm_runtimes,
            ..ToolchainConfig::default()
        };
        Toolchains {
            cold: Toolchain::new(sandbox.clone(), config(0)).unwrap(),
            warm: Toolchain::new(sandbox, config(warm_runtimes)).unwrap(),
            _cache: cache,
        }
    }

    async fn cold(
        &self,
        language: &str,
        source: &str,
        files: &[(&str, &str)],
        stdin: &str,
    ) -> RunResponse {
        run_in(&self.cold, language, source, files, stdin).await
    }

    /// A run served by a waiting interpreter (the test fails if it started cold).
    async fn warm(&self, source: &str, files: &[(&str, &str)], stdin: &str) -> RunResponse {
        self.warm.warm_up();
        self.warm_with(source, files, stdin, LimitsRequest::default())
            .await
    }

    /// The same with limits of the request's own: a first run with them, cold, has an
    /// interpreter started for the next.
    async fn warm_limited(&self, source: &str, limits: LimitsRequest) -> RunResponse {
        let mut prime = request("python", "pass", &[], "");
        prime.limits = limits;
        self.warm.run(prime).await.unwrap();
        self.warm_with(source, &[], "", limits).await
    }

    async fn warm_with(
        &self,
        source: &str,
        files: &[(&str, &str)],
        stdin: &str,
        limits: LimitsRequest,
    ) -> RunResponse {
        let warm = &self.warm;
        let until = Instant::now() + Duration::from_secs(20);
        while warm.warm_stats().waiting == 0 {
            assert!(
                Instant::now() < until,
                "no interpreter waits: {:?}",
                warm.warm_stats()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let served = warm.warm_stats().served;
        let mut request = request("python", source, files, stdin);
        request.limits = limits;
        let report = warm.run(request).await.unwrap().response();
        assert_eq!(
            warm.warm_stats().served,
            served + 1,
            "{:?}",
            warm.warm_stats()
        );
        report
    }
}

async fn run_in(
    toolchain: &Toolchain,
    language: &str,
    source: &str,
    files: &[(&str, &str)],
    stdin: &str,
) -> RunResponse {
    let request = request(language, source, files, stdin);
    toolchain.run(request).await.unwrap().response()
}

fn request(language: &str, source: &str, files: &[(&str, &str)], stdin: &str) -> RunRequest {
    RunRequest {
        language: language.into(),
        source: source.as_bytes().to_vec(),
        files: files
            .iter()
            .map(|(name, text)| File {
                name: (*name).into(),
                contents: text.as_bytes().to_vec(),
            })
            .collect(),
        source_name: (!files.is_empty()).then(|| "main.py".into()),
        stdin: stdin.as_bytes().to_vec(),
        ..RunRequest::default()
    }
}

/// Runs `source` bare, cold and warm, and asserts the same status, exit, signal, stdout and
/// stderr; returns the warm run.
async fn same(what: &str, source: &str, files: &[(&str, &str)], stdin: &str) -> RunResponse {
    let t = Toolchains::new();
    let bare = t.cold("bare-python", source, files, stdin).await;
    let cold = t.cold("python", source, files, stdin).await;
    let warm = t.warm(source, files, stdin).await;
    let seen = |r: &RunResponse| {
        (
            r.status,
            r.exit_code,
            r.signal,
            r.stdout.clone(),
            r.stderr.clone(),
        )
    };
    assert_eq!(seen(&cold), seen(&bare), "{what}: cold");
    assert_eq!(seen(&warm), seen(&bare), "{what}: warm");
    warm
}

#[tokio::test]
async fn main_sees_what_python3_main_py_shows_it() {
    let names = "import sys, os, threading\n\
        print(sorted(globals()))\n\
        print(__name__, __file__, __cached__, __spec__, __doc__, __package__)\n\
        print(type(__loader__).__name__, __loader__.name, __loader__.path)\n\
        print(sys.argv, sys.orig_argv, sys.path, sys.flags)\n\
        print(sorted(sys.modules))\n\
        print(threading.active_count(), sorted(os.environ.items()), os.getcwd())\n\
        print(sys.stdout.line_buffering, sys.stdin.encoding, sys.stdout.encoding)\n\
        print(sys.getrecursionlimit(), sys.excepthook is sys.__excepthook__)\n";
    let warm = same("__main__, sys, environment", names, &[], "").await;
    assert_eq!(warm.status, RunStatus::Ok, "{warm:?}");
    assert!(warm.stdout.contains("/box/main.py"), "{}", warm.stdout);
    assert!(!warm.stdout.contains("judgelet"), "{}", warm.stdout);
    same(
        "a docstring and future imports",
        "\"\"\"The doc.\"\"\"\nfrom __future__ import annotations\ndef f(x: Undefined): pass\nprint(__doc__, f.__annotations__)\n",
        &[],
        "",
    )
    .await;
}

#[tokio::test]
async fn tracebacks_name_main_py_and_its_lines() {
    for (what, source) in [
        ("a nested error", "def f():\n    return 1 / 0\n\nf()\n"),
        (
            "a chained error",
            "try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('bad') from e\n",
        ),
        (
            "an error in a module beside main",
            "import helper\nhelper.boom()\n",
        ),
        ("a warning", "import warnings\nwarnings.warn('careful')\n"),
        (
            "an excepthook of its own",
            "import sys\nsys.excepthook = lambda t, v, tb: print('hook', t.__name__, tb.tb_frame.f_code.co_filename, tb.tb_lineno)\nx = 1\nraise OSError(2)\n",
        ),
        (
            "inspect reads main.py",
            "import inspect\ndef f():\n    pass\nprint(inspect.getsource(f), inspect.stack()[0].filename)\n",
        ),
    ] {
        let warm = same(what, source, &[("helper.py", "def boom():\n    raise RuntimeError('in helper')\n")], "").await;
        assert!(
            warm.stderr.contains("/box/main.py") || warm.stdout.contains("/box/main.py"),
            "{what}: {warm:?}"
        );
        assert!(!warm.stderr.contains("<string>"), "{what}: {}", warm.stderr);
    }
}

#[tokio::test]
async fn exits_atexit_and_signals_are_those_of_a_bare_run() {
    for (what, source) in [
        ("sys.exit(3)", "import sys\nprint('out')\nsys.exit(3)\n"),
        ("SystemExit with a message", "raise SystemExit('goodbye')\n"),
        (
            "os._exit skips buffers",
            "import os\nprint('lost')\nos._exit(7)\n",
        ),
        (
            "atexit after an uncaught error",
            "import atexit\natexit.register(lambda: print('at exit'))\nraise KeyError(1)\n",
        ),
        ("KeyboardInterrupt", "raise KeyboardInterrupt\n"),
        (
            "a signal",
            "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n",
        ),
    ] {
        same(what, source, &[], "").await;
    }
}

#[tokio::test]
async fn stdin_stdout_buffering_and_multiprocessing_behave_as_bare() {
    same(
        "os.read and sys.stdin share fd 0",
        "import os, sys\nfirst = os.read(0, 4)\nprint(first, sys.stdin.read().split())\n",
        &[],
        "1 2\n3 4 5\n",
    )
    .await;
    same(
        "print is buffered on a pipe, os.write is not",
        "import os, sys\nprint('buffered')\nos.write(1, b'direct\\n')\nsys.stderr.write('err\\n')\n",
        &[],
        "",
    )
    .await;
    let pools = same(
        "multiprocessing, every start method",
        "import multiprocessing as mp\n\
         def square(x):\n    return x * x\n\
         if __name__ == '__main__':\n\
         \x20   for method in ('fork', 'spawn', 'forkserver'):\n\
         \x20       with mp.get_context(method).Pool(2) as pool:\n\
         \x20           print(method, pool.map(square, [1, 2, 3]))\n",
        &[],
        "",
    )
    .await;
    assert_eq!(
        pools.stdout, "fork [1, 4, 9]\nspawn [1, 4, 9]\nforkserver [1, 4, 9]\n",
        "{pools:?}"
    );
    same(
        "pickling what main defines",
        "import pickle\ndef f():\n    return 5\nprint(pickle.loads(pickle.dumps(f))())\n",
        &[],
        "",
    )
    .await;
}

#[tokio::test]
async fn every_run_has_its_own_hash_secret_and_random_seed() {
    let source = "import random, sys\nprint(sys.flags.hash_randomization, hash('judgelet'), hash(b'x'), random.random())\n";
    let t = Toolchains::new();
    let (a, b) = (t.warm(source, &[], "").await, t.warm(source, &[], "").await);
    let c = t.cold("python", source, &[], "").await;
    assert_eq!(a.status, RunStatus::Ok, "{a:?}");
    let fields = |r: &RunResponse| {
        r.stdout
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let (a, b, c) = (fields(&a), fields(&b), fields(&c));
    assert_eq!((a[0].as_str(), b[0].as_str()), ("1", "1"));
    for i in 1..4 {
        assert_ne!(a[i], b[i], "field {i} repeated between warm runs: {a:?}");
        assert_ne!(
            a[i], c[i],
            "field {i} repeated between a warm and a cold run: {a:?}"
        );
    }
}

#[tokio::test]
async fn syntax_errors_anywhere_are_compile_errors_with_the_interpreters_message() {
    for (what, source, files, says) in [
        ("an unclosed bracket", "x = 1\nprint(x\n", vec![], "line 2"),
        (
            "bad indentation",
            "if True:\nprint(1)\n",
            vec![],
            "IndentationError",
        ),
        (
            "tabs and spaces",
            "if True:\n\tx = 1\n        y = 2\n",
            vec![],
            "line 3",
        ),
        (
            "a module beside main",
            "import helper\n",
            vec![("helper.py", "def f(:\n")],
            "helper.py\", line 1",
        ),
        ("a NUL byte", "print(1)\0\n", vec![], "null bytes"),
        (
            "a bad coding cookie",
            "# -*- coding: no-such-codec -*-\nprint(1)\n",
            vec![],
            "no-such-codec",
        ),
    ] {
        let t = Toolchains::new();
        let cold = t.cold("python", source, &files, "").await;
        let report = t.warm(source, &files, "").await;
        assert_eq!(report.compile_output, cold.compile_output, "{what}");
        assert_eq!(report.status, RunStatus::CompileError, "{what}: {report:?}");
        assert!(
            report.compile_output.contains(says),
            "{what}: {}",
            report.compile_output
        );
        assert!(
            !report.compile_output.contains("Traceback"),
            "{what}: {}",
            report.compile_output
        );
        assert_eq!(
            (report.stdout.as_str(), report.stderr.as_str()),
            ("", ""),
            "{what}"
        );
    }
    // The message is the interpreter's own: what a bare run prints, line for line.
    let t = Toolchains::new();
    let bare = t.cold("bare-python", "x = 1\nprint(x\n", &[], "").await;
    let warm = t.warm("x = 1\nprint(x\n", &[], "").await;
    assert_eq!(warm.compile_output, bare.stderr);
    // A program that runs and then fails is no compile error, whatever it prints.
    let late = t
        .warm(
            "print('ran')\nraise SyntaxError('made at run time')\n",
            &[],
            "",
        )
        .await;
    assert_eq!(late.status, RunStatus::RunTimeError, "{late:?}");
    assert_eq!(late.stdout, "ran\n");
}

/// The one difference in what a program sees (docs/api.md): the launcher's frame and its
/// `exec` take two levels of the recursion limit.
#[tokio::test]
async fn the_launcher_costs_two_levels_of_recursion_depth() {
    let source = "def f(n):\n    try:\n        return f(n + 1)\n    except RecursionError:\n        return n\nprint(f(0))\n";
    let t = Toolchains::new();
    let bare = t.cold("bare-python", source, &[], "").await;
    let depth = |r: &RunResponse| r.stdout.trim().parse::<i64>().unwrap();
    for launched in [
        t.cold("python", source, &[], "").await,
        t.warm(source, &[], "").await,
    ] {
        assert_eq!(depth(&bare) - depth(&launched), 2, "{launched:?} {bare:?}");
    }
}

/// Host pids of the interpreters waiting for runs (their command line names the FIFO), of
/// host uids from `uids`.
/// The interpreters waiting as uids of `uids`, once there are any (within 20 s): one counts
/// as waiting from its start, before its `execve` shows it here.
async fn waiting_interpreters(uids: std::ops::Range<u32>) -> Vec<i32> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let found = interpreters_of(&uids);
        if !found.is_empty() {
            return found;
        }
        assert!(Instant::now() < until, "no interpreter waits as {uids:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn interpreters_of(uids: &std::ops::Range<u32>) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.ends_with(b"/box/.judgelet-start\0"))
                && std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Uid:"))
                        .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
                        .is_some_and(|uid| uids.contains(&uid))
                })
        })
        .collect()
}

#[tokio::test]
async fn a_warm_run_cannot_see_or_touch_the_interpreters_waiting_for_other_runs() {
    // Two wait, on uids of this test's own: one serves the hunt, the other waits beside it.
    let uids = 74_800..74_900;
    let t = Toolchains::with(uids.start, 2);
    t.warm.warm_up();
    let until = Instant::now() + Duration::from_secs(20);
    while interpreters_of(&uids).len() < 2 {
        assert!(Instant::now() < until, "{:?}", t.warm.warm_stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = interpreters_of(&uids);
    // Hunts for anything of judgelet's or of other runs: processes, the FIFO, descriptors,
    // the environment; signals every pid there could be in its namespace.
    let hunt = "import os, signal\n\
        pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n\
        fds = sorted(os.listdir('/proc/self/fd'))\n\
        hit = []\n\
        for pid in range(1, 5000):\n\
        \x20   if pid not in (1, os.getpid()):\n\
        \x20       try:\n\
        \x20           os.kill(pid, signal.SIGKILL)\n\
        \x20           hit.append(pid)\n\
        \x20       except ProcessLookupError:\n\
        \x20           pass\n\
        print(pids, os.getpid(), fds, os.listdir('/box'), hit, sorted(os.environ))\n";
    let warm = t.warm(hunt, &[], "").await;
    let bare = t.cold("bare-python", hunt, &[], "").await;
    assert_eq!(warm.status, RunStatus::Ok, "{warm:?}");
    // Exactly what a bare run finds: itself alone, its three descriptors (and the one
    // listing them), its own file, nothing it could signal, the clean environment.
    assert_eq!(warm.stdout, bare.stdout);
    assert!(
        warm.stdout
            .starts_with("[2] 2 ['0', '1', '2', '3'] ['main.py'] [] "),
        "{}",
        warm.stdout
    );
    // The interpreter that waited beside it is untouched, and serves the next run.
    let after = interpreters_of(&uids);
    assert_eq!(
        before.iter().filter(|pid| after.contains(pid)).count(),
        1,
        "{before:?} then {after:?}"
    );
    let next = t.warm("print('next')\n", &[], "").await;
    assert_eq!(next.stdout, "next\n", "{next:?}");
}

#[tokio::test]
async fn a_waiting_interpreter_that_dies_is_a_cold_start_never_a_failed_run() {
    let t = Toolchains::with_uids(74_500);
    t.warm("print(1)\n", &[], "").await;
    for pid in waiting_interpreters(74_500..74_600).await {
        std::process::Command::new("/bin/kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = run_in(&t.warm, "python", "print('after')\n", &[], "").await;
    assert_eq!(
        (after.status, after.stdout.as_str()),
        (RunStatus::Ok, "after\n")
    );
    let stats = t.warm.warm_stats();
    assert!(stats.lost >= 1, "{stats:?}");
}

#[tokio::test]
async fn a_warm_run_is_held_to_its_own_limits_and_measured_from_its_start() {
    let t = Toolchains::new();
    let busy = t
        .warm_limited(
            "while True:\n    pass\n",
            LimitsRequest {
                cpu_time_ms: Some(1_000),
                ..LimitsRequest::default()
            },
        )
        .await;
    assert_eq!(
        (busy.status, busy.limit_exceeded),
        (RunStatus::TimeLimitExceeded, Some(LimitKind::CpuTime)),
        "{busy:?}"
    );
    assert!(busy.cpu_time_ms >= 1_000.0, "{busy:?}");
    let hog = t
        .warm_limited(
            "x = bytearray(300 * 1024 * 1024)\nprint(len(x))\n",
            LimitsRequest {
                memory_kib: Some(64 * 1024),
                ..LimitsRequest::default()
            },
        )
        .await;
    assert_eq!(hog.status, RunStatus::MemoryLimitExceeded, "{hog:?}");
    assert!(hog.memory_kib <= 65 * 1024, "{hog:?}");
    // The run's own CPU time, not its interpreter's start: a program that sleeps uses
    // next to none, and its wall time is the sleep's.
    let nap = t.warm("import time\ntime.sleep(0.2)\n", &[], "").await;
    assert_eq!(nap.status, RunStatus::Ok, "{nap:?}");
    assert!(nap.wall_time_ms >= 200.0, "{nap:?}");
    assert!(
        nap.memory_kib > 1024,
        "the interpreter's memory is the run's: {nap:?}"
    );
}
