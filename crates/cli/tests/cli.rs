//! The real `judgelet` binary, end to end, in a temporary directory.

mod common;

use common::Served;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn judgelet(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_judgelet"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn run_prints_the_programs_output_and_a_status_line() {
    let ws = Workspace::new();
    let source = ws.file("hello.py", "print('hello, judgelet')");
    let out = ws.judgelet(&["run", arg(&source)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello, judgelet\n");
    let status = text(&out.stderr);
    assert!(status.contains("judgelet: ok · cpu "), "{status}");
    assert!(status.contains("KiB"), "{status}");
}

#[test]
fn stdin_and_limits_reach_the_program() {
    let ws = Workspace::new();
    let source = ws.file(
        "sum.c",
        "#include <stdio.h>\nint main(void){long a,b;scanf(\"%ld %ld\",&a,&b);printf(\"%ld\\n\",a+b);return 0;}",
    );
    let input = ws.file("in.txt", "20 22\n");
    let out = ws.judgelet(&[
        "run",
        arg(&source),
        "--stdin",
        arg(&input),
        "--time-limit",
        "1.5",
        "--memory-limit",
        "64",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["stdout"], "42\n");
    assert_eq!(report["status"], "ok");
    assert_eq!(report["limits"]["cpu_time_ms"], 1500);
    assert_eq!(report["limits"]["memory_kib"], 64 * 1024);
    for key in [
        "status",
        "stdout",
        "stderr",
        "compile_output",
        "exit_code",
        "signal",
        "cpu_time_ms",
        "wall_time_ms",
        "memory_kib",
    ] {
        assert!(report.get(key).is_some(), "{key} missing from {report}");
    }
}

#[test]
fn a_compile_error_shows_gccs_message_and_exits_10() {
    let ws = Workspace::new();
    let source = ws.file("broken.c", "int main(void) { return missing; }");
    let out = ws.judgelet(&["run", arg(&source)]);
    assert_eq!(out.status.code(), Some(10));
    let err = text(&out.stderr);
    assert!(err.contains("missing"), "{err}");
    assert!(err.contains("compile_error"), "{err}");
}

#[test]
fn exit_codes_say_how_the_program_ended() {
    let ws = Workspace::new();
    let cases = [
        ("crash.py", "raise SystemExit(3)", 11),
        ("slow.py", "while True: pass", 12),
        (
            "big.py",
            "x = bytearray(1 << 30)\nx[::4096] = b'1' * len(x[::4096])",
            13,
        ),
    ];
    for (name, source, code) in cases {
        let source = ws.file(name, source);
        let out = ws.judgelet(&[
            "run",
            arg(&source),
            "--time-limit",
            "0.5",
            "--memory-limit",
            "64",
        ]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{name}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn the_language_comes_from_the_extension_or_lang() {
    let ws = Workspace::new();
    let source = ws.file("program.txt", "print(6 * 7)");
    let out = ws.judgelet(&["run", arg(&source)]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("--lang") && err.contains("python"), "{err}");
    let out = ws.judgelet(&["run", arg(&source), "--lang", "python"]);
    assert_eq!(text(&out.stdout), "42\n");
    let out = ws.judgelet(&["run", arg(&source), "--lang", "cobol"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("unknown language \"cobol\""));
}

#[test]
fn languages_lists_what_this_machine_runs_with_versions() {
    let ws = Workspace::new();
    let out = ws.judgelet(&["languages", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let ids: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            assert!(!v["version"].as_str().unwrap().is_empty());
            v["id"].as_str().unwrap().to_owned()
        })
        .collect();
    for id in ["c", "cpp", "python"] {
        assert!(ids.iter().any(|i| i == id), "{ids:?}");
    }
}

#[test]
fn sigterm_lets_runs_in_flight_finish_then_exits_cleanly() {
    let mut served = Served::start(64_700, &[]);
    let response = served.post_python("import time\ntime.sleep(1)\nprint('finished')\n");
    served.wait_for_programs();
    served.terminate();
    let response = response.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("finished\n"), "{response}");
    let status = served.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(served.running_programs(), 0);
}

#[test]
fn sigterm_kills_runs_still_going_at_the_drain_deadline() {
    let mut served = Served::start(64_800, &["--drain", "0.5"]);
    let start = std::time::Instant::now();
    let response = served.post_python("import time\ntime.sleep(60)\n");
    served.wait_for_programs();
    served.terminate();
    let status = served.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    let _ = response.join();
    for _ in 0..100 {
        if served.running_programs() == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("programs outlived the server");
}

impl Workspace {
    /// A workspace `nobody` may write in; `None` unless this test runs as root.
    fn for_nobody() -> Option<Workspace> {
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let ws = Workspace::new();
        std::fs::set_permissions(
            ws.dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        Some(ws)
    }
}

/// `judgelet` as `nobody` with every capability dropped, in a fresh state directory.
fn judgelet_as_nobody(ws: &Workspace, args: &[&str]) -> Output {
    Command::new("/usr/bin/setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            env!("CARGO_BIN_EXE_judgelet"),
        ])
        .args(args)
        .env("JUDGELET_STATE_DIR", ws.dir.path().join("state"))
        .current_dir(ws.dir.path())
        .output()
        .unwrap()
}

#[test]
fn without_privileges_only_the_unprivileged_tier_runs_and_it_says_so() {
    let Some(ws) = Workspace::for_nobody() else {
        return; // needs root to become nobody
    };
    let c = ws.file(
        "sum.c",
        "#include <stdio.h>\nint main(void){puts(\"compiled and ran\");return 0;}",
    );
    // Never a silent fallback: the default tier refuses, naming what is missing.
    let out = judgelet_as_nobody(&ws, &["run", arg(&c)]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("sandbox unavailable"),
        "{}",
        text(&out.stderr)
    );

    let out = judgelet_as_nobody(
        &ws,
        &["run", "--isolation", "unprivileged", "--json", arg(&c)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["stdout"], "compiled and ran\n");
    assert_eq!(report["isolation"], "unprivileged");

    // Every language, managed runtimes' reservations included (the JVM, Go, V8).
    for (name, source) in [
        (
            "Main.java",
            "public class Main { public static void main(String[] a) { System.out.println(\"hi\"); } }",
        ),
        ("main.go", "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hi\") }\n"),
        ("main.rs", "fn main() { println!(\"hi\"); }\n"),
        ("main.js", "console.log(\"hi\")\n"),
        ("main.cpp", "#include <iostream>\nint main(){std::cout << \"hi\" << std::endl;}\n"),
    ] {
        let source = ws.file(name, source);
        let out = judgelet_as_nobody(&ws, &["run", "--isolation", "unprivileged", arg(&source)]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "hi\n", "{name}");
    }

    // Memory past the limit is memory_limit_exceeded without a cgroup too.
    for (name, source) in [
        ("big.py", "x = b'a' * (1 << 33)\n"),
        ("grow.py", "x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n"),
        (
            "grow.cpp",
            "#include <vector>\nint main(){std::vector<std::vector<char>> v; for(;;) v.emplace_back(1<<20, 1);}",
        ),
    ] {
        let source = ws.file(name, source);
        let out = judgelet_as_nobody(
            &ws,
            &["run", "--isolation", "unprivileged", "--memory-limit", "64", arg(&source)],
        );
        assert_eq!(out.status.code(), Some(13), "{name}: {}", text(&out.stderr));
    }
}

#[test]
fn a_function_keeps_the_openfaas_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let lock = tmp.path().join(".lock");
    let served = Served::function(
        64_900,
        "python",
        &[
            ("TMPDIR", tmp.path().to_str().unwrap()),
            ("max_inflight", "1"),
            ("exec_timeout", "2s"),
            ("read_timeout", "1s"),
            ("write_timeout", "1m"),
        ],
    );
    // OpenFaaS CE's exec probe: `cat /tmp/.lock`.
    assert!(lock.exists(), "no lock file while serving");
    for path in ["/_/health", "/_/ready"] {
        let (status, response) = served.request(&format!("GET {path}"), "");
        assert_eq!(status, 200, "{response}");
        assert!(
            response.contains("\"isolation\":\"namespaces\""),
            "{response}"
        );
    }
    // The gateway strips /function/NAME: the function serves /.
    let (status, response) = served.request("POST /", "print('hi from /')");
    assert_eq!(status, 200, "{response}");
    assert!(response.ends_with("hi from /\n"), "{response}");
    assert!(
        response.to_lowercase().contains("x-call-id: call-42"),
        "{response}"
    );

    // max_inflight=1: while one request runs, the next is refused at once.
    let slow = served.post("/", "import time\ntime.sleep(5)\n");
    served.wait_for_programs();
    let (status, refused) = served.request("POST /", "print(1)");
    assert_eq!(status, 429, "admitted past max_inflight=1: {refused}");
    assert!(refused.to_lowercase().contains("retry-after"), "{refused}");
    // exec_timeout=2s: the 5 s program is cut off with 504.
    let response = slow.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 504"), "{response}");
    // read_timeout=1s: a body that never comes is 408.
    let (status, response) = {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&served.address).unwrap();
        stream
            .write_all(
                b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\nprint",
            )
            .unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        (response.split(' ').nth(1).map(str::to_owned), response)
    };
    assert_eq!(status.as_deref(), Some("408"), "{response}");

    let mut served = served;
    served.terminate();
    assert!(served.child.wait().unwrap().success());
    assert!(!lock.exists(), "lock file left after shutdown");
}

#[test]
fn watchdog_durations_are_refused_when_malformed() {
    let ws = Workspace::new();
    let out = ws.judgelet(&["function", "python", "--exec-timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a duration"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn grading_works_unprivileged_as_nobody_custom_and_interactive_validators_included() {
    let Some(ws) = Workspace::for_nobody() else {
        return; // needs root to become nobody
    };
    // A copy nobody can read, wherever the checkout is.
    let problems = ws.dir.path().join("problems");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../problems");
    let status = Command::new("cp")
        .args(["-r", arg(&repo), arg(&problems)])
        .status()
        .unwrap();
    assert!(status.success());
    Command::new("chmod")
        .args(["-R", "a+rX", arg(&problems)])
        .status()
        .unwrap();
    let out = judgelet_as_nobody(
        &ws,
        &[
            "verify",
            "--isolation",
            "unprivileged",
            "problems/hello",
            "problems/anagram",
            "problems/guess",
        ],
    );
    let report = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report}\n{}",
        text(&out.stdout)
    );
    assert!(report.contains("0 disagree"), "{report}");
    // The summary: a row per submission with its slowest case against the limit.
    let table = report.split_once("slowest case").map_or("", |(_, t)| t);
    let row = table
        .lines()
        .find(|l| l.starts_with("hello/wrong_answer/no_comma.py"))
        .unwrap_or_else(|| panic!("no summary row: {report}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1..4], ["wrong_answer", "WA", "ok"], "{row}");
    assert_eq!(cells[5], "1.0s", "the limit: {row}");
}

#[test]
fn run_takes_piped_stdin_dash_stdin_and_arguments_after_a_double_dash() {
    use std::io::Write;
    let ws = Workspace::new();
    let program = ws.file(
        "echo.py",
        "import sys\nprint(sys.argv[1:], sys.stdin.read().strip())\n",
    );
    let piped = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_judgelet"))
            .args(args)
            .current_dir(ws.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"from the pipe\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let output = piped(&["run", arg(&program), "--", "a", "b c"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "['a', 'b c'] from the pipe\n");
    let output = piped(&["run", arg(&program), "--stdin", "-"]);
    assert_eq!(text(&output.stdout), "[] from the pipe\n");
    let help = ws.judgelet(&["run", "--help"]);
    assert!(
        text(&help.stdout).contains("14 output limit"),
        "{}",
        text(&help.stdout)
    );
}

#[test]
fn grade_takes_the_entry_point_of_a_folder() {
    let ws = Workspace::new();
    let folder = ws.dir.path().join("solution");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("solve.py"),
        "import greeting\ngreeting.hello()\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("greeting.py"),
        "def hello(): print('Hello, World!')\n",
    )
    .unwrap();
    let problem = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../problems/hello");
    let refused = ws.judgelet(&["grade", "--problem", arg(&problem), arg(&folder)]);
    assert!(
        text(&refused.stderr).contains("--entry"),
        "{}",
        text(&refused.stderr)
    );
    let graded = ws.judgelet(&[
        "grade",
        "--problem",
        arg(&problem),
        "--entry",
        "solve.py",
        arg(&folder),
    ]);
    assert!(graded.status.success(), "{}", text(&graded.stderr));
    let wrong = ws.judgelet(&[
        "grade",
        "--problem",
        arg(&problem),
        "--entry",
        "nope.py",
        arg(&folder),
    ]);
    assert!(
        text(&wrong.stderr).contains("no such file"),
        "{}",
        text(&wrong.stderr)
    );
}

#[test]
fn the_default_state_directory_is_per_user() {
    let Some(ws) = Workspace::for_nobody() else {
        return;
    };
    let program = ws.file("hi.py", "print('hi')\n");
    let as_root = Command::new(env!("CARGO_BIN_EXE_judgelet"))
        .args(["run", "--isolation", "unprivileged", arg(&program)])
        .env_remove("JUDGELET_STATE_DIR")
        .output()
        .unwrap();
    assert!(as_root.status.success(), "{}", text(&as_root.stderr));
    let as_nobody = Command::new("/usr/bin/setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        ])
        .arg(env!("CARGO_BIN_EXE_judgelet"))
        .args(["run", "--isolation", "unprivileged", arg(&program)])
        .env_remove("JUDGELET_STATE_DIR")
        .current_dir(ws.dir.path())
        .output()
        .unwrap();
    assert!(as_nobody.status.success(), "{}", text(&as_nobody.stderr));
    assert_eq!(text(&as_nobody.stdout), "hi\n");
    assert!(Path::new("/dev/shm/judgelet-65534").is_dir());
}

#[test]
fn a_server_logs_a_line_per_request_without_colour_and_as_json_on_request() {
    let served = Served::start(64_900, &[]);
    let (status, _) = served.request("POST /function/python", "print(1)\n");
    assert_eq!(status, 200);
    let line = served.wait_for_log("served");
    assert!(
        line.contains("call_id=call-42") && line.contains("status=200"),
        "{line}"
    );
    assert!(
        line.contains("function=python") && line.contains("seconds="),
        "{line}"
    );
    assert!(
        !line.contains('\u{1b}'),
        "colour codes in a log that is not a terminal: {line:?}"
    );
    drop(served);
    let served = Served::start(64_950, &["--log-format", "json"]);
    served.request("POST /function/python", "print(1)\n");
    let line = served.wait_for_log("served");
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["fields"]["status"], 200, "{record}");
    assert_eq!(record["span"]["call_id"], "call-42", "{record}");
}

/// A package without a time limit is derived once: a later `judgelet grade` (a new process)
/// reads the limit the first one derived, until the package changes.
#[test]
fn a_derived_time_limit_is_kept_for_later_processes() {
    let ws = Workspace::new();
    let problem = ws.dir.path().join("slowpoke");
    std::fs::create_dir_all(problem.join("data/secret")).unwrap();
    std::fs::create_dir_all(problem.join("submissions/accepted")).unwrap();
    std::fs::write(problem.join("problem.yaml"), "name: Slowpoke\n").unwrap();
    std::fs::write(problem.join("data/secret/1.in"), "").unwrap();
    std::fs::write(problem.join("data/secret/1.ans"), "42\n").unwrap();
    // Three seconds of CPU: whoever times it takes at least that long.
    std::fs::write(
        problem.join("submissions/accepted/slow.py"),
        "import time\nend = time.process_time() + 3\nwhile time.process_time() < end: pass\nprint(42)\n",
    )
    .unwrap();
    let solution = ws.file("fast.py", "print(42)\n");
    let state = ws.dir.path().join("state");
    let grade = || {
        let start = std::time::Instant::now();
        let output = ws.judgelet(&[
            "grade",
            "--state-dir",
            arg(&state),
            "--json",
            "--problem",
            arg(&problem),
            arg(&solution),
        ]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (report, text(&output.stderr), start.elapsed())
    };
    let (first, stderr, _) = grade();
    assert!(
        stderr.contains("timing accepted/slow.py"),
        "the first derives: {stderr}"
    );
    assert_eq!(first["time_limit"]["source"], "derived", "{first}");
    let limit = &first["time_limit"];
    let slowest = limit["slowest_accepted_ms"].as_f64().unwrap();
    assert!(slowest >= 3000.0, "{first}");
    assert_eq!(
        limit["seconds"].as_f64().unwrap(),
        (slowest / 1000.0 * limit["multiplier"].as_f64().unwrap()).ceil(),
        "{first}"
    );

    let (second, stderr, took) = grade();
    assert!(
        !stderr.contains("timing"),
        "the second derived again: {stderr}"
    );
    assert_eq!(second["time_limit"], first["time_limit"]);
    assert!(
        took < std::time::Duration::from_secs(3),
        "the second took {took:?}: as long as timing the slow submission"
    );

    // A changed package is another package: derived anew.
    std::fs::write(problem.join("problem.yaml"), "name: Slowpoke, again\n").unwrap();
    let (_, stderr, _) = grade();
    assert!(stderr.contains("timing accepted/slow.py"), "{stderr}");
}

#[test]
fn serve_keeps_python_interpreters_waiting_shows_them_in_metrics_and_serves_runs_from_them() {
    let served = Served::start(73_200, &["--slots", "2", "--warm", "1"]);
    let metric = |name: &str| -> f64 {
        let (_, metrics) = served.request("GET /metrics", "");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    // Counted from its start; its memory from its first pages on.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while metric("judgelet_warm_waiting") < 1.0 || metric("judgelet_warm_memory_bytes") == 0.0 {
        assert!(std::time::Instant::now() < until, "no interpreter waits");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        metric("judgelet_warm_waiting"),
        1.0,
        "--warm 1: one per language"
    );
    // It waits as a program of the server's box uids, like any run.
    assert!(served.running_programs() >= 1);
    let reply = served
        .post_python("import random\nprint(random.random())\n")
        .join()
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert_eq!(metric("judgelet_warm_runs_total{start=\"warm\"}"), 1.0);
    assert_eq!(metric("judgelet_warm_runs_total{start=\"cold\"}"), 0.0);
    drop(served);

    // --warm 0: nothing waits, and runs start cold.
    let served = Served::start(73_300, &["--slots", "2", "--warm", "0"]);
    let (status, _) = served.request("POST /function/python", "print(1)\n");
    assert_eq!(status, 200);
    let (_, metrics) = served.request("GET /metrics", "");
    assert!(
        metrics.contains("judgelet_warm_waiting 0\n") && served.running_programs() == 0,
        "{metrics}"
    );
}
