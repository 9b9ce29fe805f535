//! Stored submissions survive what servers go through: a SIGKILL mid-queue, a replica dying
//! mid-run, a database going away; and the queue lives in the store, not in memory.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Served;
use testkit::ScratchPostgres;

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("judgelet.db").display())
}

fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// Stores a python program that sleeps 8 s, then prints `said`: long enough that a test which
/// sees it running can kill its server before it ends, on the slowest of machines.
fn submit_holding(served: &Served, said: &str) -> String {
    let source = format!("import time\ntime.sleep(8)\nprint({said:?})\n");
    let body = serde_json::json!({"source": source, "limits": {"wall_time_ms": 60_000}});
    let (status, accepted) = served.call_as(
        "POST /async-function/python",
        "application/json",
        &body.to_string(),
    );
    assert_eq!(status, 202, "{accepted}");
    accepted["id"].as_str().unwrap().to_owned()
}

/// Polls `condition` every 20 ms, for at most a minute.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sixty_submissions_survive_a_sigkill_mid_queue_and_each_is_recorded_once() {
    let data = data_dir();
    let url = sqlite_url(&data);
    let args = ["--slots", "2", "--database", url.as_str()];
    let mut first = Served::start(61_000, &args);
    // Four quick ones, then two that hold both slots for long enough that the kill certainly
    // lands while they run (the test never depends on which of two processes is faster), then
    // the rest queued behind them.
    let quick = |n: usize| format!("import time\ntime.sleep(0.2)\nprint({n})\n");
    let ids: Vec<String> = (0..60)
        .map(|n| match n {
            4 | 5 => submit_holding(&first, &n.to_string()),
            _ => first.submit_python(&quick(n)),
        })
        .collect();
    let (done_before, held) = (&ids[..4], &ids[4..6]);
    wait_until("the quick ones done and the holding ones running", || {
        done_before
            .iter()
            .all(|id| first.result(id)["state"] == "done")
            && held.iter().all(|id| first.result(id)["state"] == "running")
    });
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    wait_until("the killed server's programs gone", || {
        first.running_programs() == 0
    });

    let second = Served::start(61_100, &args);
    for (n, id) in ids.iter().enumerate() {
        let done = second.done(id);
        assert_eq!(done["result"]["stdout"], format!("{n}\n"), "{done}");
        assert_eq!(done["result"]["status"], "ok");
        let attempts = done["attempts"].as_i64().unwrap();
        if done_before.contains(id) {
            assert_eq!(attempts, 1, "done before the kill, not run again: {done}");
        } else if held.contains(id) {
            assert_eq!(attempts, 2, "running at the kill, run again: {done}");
        } else {
            // Queued, or claimed and waiting for a slot: run once more at most.
            assert!(attempts == 1 || attempts == 2, "{done}");
        }
    }
}

#[test]
fn ten_thousand_queued_submissions_keep_the_server_small() {
    let data = data_dir();
    let url = sqlite_url(&data);
    let served = Served::start(
        61_200,
        &[
            "--slots",
            "1",
            "--database",
            url.as_str(),
            "--max-pending",
            "20000",
        ],
    );
    // One long run holds the only slot: everything after it stays queued.
    let blocker =
        r#"{"source": "import time\ntime.sleep(600)", "limits": {"wall_time_ms": 600000}}"#;
    let (status, _) = served.request_as("POST /async-function/python", "application/json", blocker);
    assert_eq!(status, 202);
    // 10 KB each: held in memory, 10,000 of them would be 100 MB.
    let padding = format!("# {}\n", "x".repeat(10_000));
    let submit = |count: usize| {
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..count / 8 {
                        served.submit_python(&format!("{padding}print(1)\n"));
                    }
                });
            }
        });
    };
    submit(400);
    let warm = served.rss_kib();
    submit(9_600);
    let grown = served.rss_kib().saturating_sub(warm);
    eprintln!("RSS {warm} KiB with 400 queued, +{grown} KiB with 10,000");
    let (_, metrics) = served.request("GET /metrics", "");
    // All stored, and still queued (the blocker holds the slot for 60 s, its most: should
    // a slow machine take longer to submit, the ones run since are not pending).
    let pending: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("judgelet_submissions_pending "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!((9_000..=10_001).contains(&pending), "{pending} pending");
    assert!(
        grown < 40 * 1024,
        "RSS grew by {grown} KiB with 9,600 more queued"
    );
}

#[test]
fn the_store_is_refused_clearly_when_it_cannot_be_had() {
    let dir = data_dir();
    let refused = |url: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_judgelet"))
            .args(["serve", "--port", "0", "--database", url])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let error = refused("postgres://judge:s3cret@127.0.0.1:1/judgelet");
    assert!(
        error.contains("postgres://judge:***@127.0.0.1:1/judgelet"),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
    let error = refused("redis://localhost");
    assert!(error.contains("unsupported database URL"), "{error}");
    // One process per SQLite file.
    let url = sqlite_url(&dir);
    let _first = Served::start(61_300, &["--database", url.as_str()]);
    let error = refused(&url);
    assert!(
        error.contains("in use by another judgelet process"),
        "{error}"
    );
}

#[test]
fn two_replicas_share_postgres_and_a_dead_ones_claims_finish_on_the_other() {
    let cluster = ScratchPostgres::start().unwrap();
    let url = cluster.url();
    let args = ["--slots", "2", "--database", url.as_str(), "--lease", "2"];
    let replicas = [Served::start(61_400, &args), Served::start(61_500, &args)];
    let runners: Vec<String> = replicas.iter().map(Served::runner).collect();
    assert_ne!(runners[0], runners[1]);

    let ids: Vec<String> = (0..200)
        .map(|n| replicas[n % 2].submit_python(&format!("print({n})\n")))
        .collect();
    let mut ran = [0, 0];
    for (n, id) in ids.iter().enumerate() {
        let done = replicas[(n + 1) % 2].done(id);
        assert_eq!(done["result"]["stdout"], format!("{n}\n"), "{done}");
        assert_eq!(done["attempts"], 1, "run by one replica: {done}");
        let runner = runners.iter().position(|r| done["runner"] == r.as_str());
        ran[runner.unwrap_or_else(|| panic!("ran on neither: {done}"))] += 1;
        assert_eq!(
            replicas[n % 2].result(id),
            done,
            "the same from either replica"
        );
    }
    assert!(
        ran[0] > 0 && ran[1] > 0,
        "one replica ran them all: {ran:?}"
    );

    // The first replica dies with submissions running: they finish on the second.
    let [mut dying, survivor] = replicas;
    let slow: Vec<String> = (0..4)
        .map(|n| submit_holding(&dying, &format!("slow {n}")))
        .collect();
    let mut lost = HashSet::new();
    wait_until("a slow one running on the dying replica", || {
        lost = slow
            .iter()
            .filter(|id| {
                let result = dying.result(id);
                result["state"] == "running" && result["runner"] == runners[0].as_str()
            })
            .cloned()
            .collect();
        !lost.is_empty()
    });
    dying.child.kill().unwrap();
    dying.child.wait().unwrap();
    for (n, id) in slow.iter().enumerate() {
        let done = survivor.done(id);
        assert_eq!(done["result"]["stdout"], format!("slow {n}\n"));
        assert_eq!(done["runner"], runners[1].as_str(), "{done}");
        if lost.contains(id) {
            assert_eq!(done["attempts"], 2, "{done}");
        }
    }
}

#[test]
fn a_database_lost_while_serving_gives_503_and_sync_runs_go_on() {
    let mut cluster = ScratchPostgres::start().unwrap();
    let url = cluster.url();
    let served = Served::start(61_600, &["--database", url.as_str()]);
    let before = served.submit_python("print('before')\n");
    served.done(&before);
    cluster.stop();
    let (status, response) = served.request("POST /async-function/python", "print('lost')\n");
    assert_eq!(status, 503, "{response}");
    assert!(
        response.to_ascii_lowercase().contains("retry-after: 5"),
        "{response}"
    );
    assert!(response.contains("store_unavailable"), "{response}");
    let (status, response) = served.request("POST /function/python", "print('sync')\n");
    assert_eq!(status, 200, "{response}");
    assert!(response.ends_with("sync\n"), "{response}");
    cluster.restart().unwrap();
    let mut after = None;
    wait_until("the store back", || {
        let (status, accepted) = served.call("POST /async-function/python", "print('after')\n");
        after = accepted["id"].as_str().map(str::to_owned);
        status == 202
    });
    assert_eq!(served.done(&after.unwrap())["result"]["stdout"], "after\n");
}
