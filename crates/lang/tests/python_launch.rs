//! Python's launcher (`languages.toml`: every source compiled first, in the interpreter that
//! then runs `main.py`) against a bare `python3 main.py`, both in the real sandbox: what a
//! program sees and what it reports must be the same, but for the differences docs/api.md
//! lists, which are tested here too.

use std::sync::OnceLock;

use lang::{File, RunRequest, RunResponse, RunStatus, Toolchain, ToolchainConfig};
use sandbox::{Sandbox, SandboxConfig};

/// The shipped registry, plus Python run the plain way.
fn toolchain() -> &'static Toolchain {
    static TOOLCHAIN: OnceLock<(Toolchain, tempfile::TempDir)> = OnceLock::new();
    &TOOLCHAIN
        .get_or_init(|| {
            let cache = tempfile::tempdir_in("/dev/shm").unwrap();
            let sandbox = Sandbox::new(SandboxConfig {
                uid_base: 74_000,
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
            let config = ToolchainConfig {
                cache_dir: cache.path().to_owned(),
                languages_toml: languages,
                ..ToolchainConfig::default()
            };
            (Toolchain::new(sandbox, config).unwrap(), cache)
        })
        .0
}

async fn run_as(language: &str, source: &str, files: &[(&str, &str)], stdin: &str) -> RunResponse {
    let request = RunRequest {
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
    };
    toolchain().run(request).await.unwrap().response()
}

async fn launched(source: &str) -> RunResponse {
    run_as("python", source, &[], "").await
}

/// Runs `source` both ways and asserts the same status, exit, signal, stdout and stderr;
/// returns the launched run.
async fn same(what: &str, source: &str, files: &[(&str, &str)], stdin: &str) -> RunResponse {
    let warm = run_as("python", source, files, stdin).await;
    let bare = run_as("bare-python", source, files, stdin).await;
    let seen = |r: &RunResponse| {
        (
            r.status,
            r.exit_code,
            r.signal,
            r.stdout.clone(),
            r.stderr.clone(),
        )
    };
    assert_eq!(seen(&warm), seen(&bare), "{what}");
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
    let (a, b) = (launched(source).await, launched(source).await);
    assert_eq!(a.status, RunStatus::Ok, "{a:?}");
    let fields = |r: &RunResponse| {
        r.stdout
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let (a, b) = (fields(&a), fields(&b));
    assert_eq!((a[0].as_str(), b[0].as_str()), ("1", "1"));
    for i in 1..4 {
        assert_ne!(a[i], b[i], "field {i} repeated between runs: {a:?}");
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
        let report = run_as("python", source, &files, "").await;
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
    let bare = run_as("bare-python", "x = 1\nprint(x\n", &[], "").await;
    let warm = run_as("python", "x = 1\nprint(x\n", &[], "").await;
    assert_eq!(warm.compile_output, bare.stderr);
    // A program that runs and then fails is no compile error, whatever it prints.
    let late = launched("print('ran')\nraise SyntaxError('made at run time')\n").await;
    assert_eq!(late.status, RunStatus::RunTimeError, "{late:?}");
    assert_eq!(late.stdout, "ran\n");
}

/// The one difference in what a program sees (docs/api.md): the launcher's frame and its
/// `exec` take two levels of the recursion limit.
#[tokio::test]
async fn the_launcher_costs_two_levels_of_recursion_depth() {
    let source = "def f(n):\n    try:\n        return f(n + 1)\n    except RecursionError:\n        return n\nprint(f(0))\n";
    let warm = launched(source).await;
    let bare = run_as("bare-python", source, &[], "").await;
    let depth = |r: &RunResponse| r.stdout.trim().parse::<i64>().unwrap();
    assert_eq!(depth(&bare) - depth(&warm), 2, "{warm:?} {bare:?}");
}
