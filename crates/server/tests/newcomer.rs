//! What a newcomer trips over, answered: each test replays a rough edge found by trying
//! judgelet as a course's teaching assistant and an exercise site's developer would.

mod common;

use common::{config, header, Server};
use proptest::strategy::{Strategy, ValueTree};
use serde_json::{json, Value};

#[tokio::test]
async fn too_few_processes_are_raised_to_what_a_run_needs_and_said() {
    let server = Server::start(2, 64, 69_000).await;
    for processes in [0, 1] {
        let (status, report) = server
            .json(
                "run",
                json!({"language": "c", "source": "int main(){return 0;}", "limits": {"processes": processes}}),
            )
            .await;
        assert_eq!(status, 200, "processes {processes}: {report}");
        assert_eq!(report["status"], "ok", "{report}");
        assert_eq!(report["limits"]["processes"], 1);
        assert_eq!(
            report["clamped"].as_array().unwrap().len(),
            usize::from(processes == 0),
            "{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_limit_a_user_asks_for_gives_a_5xx() {
    let server = Server::start(2, 64, 69_300).await;
    // Values from the edges (0, 1, a few, the maxima and beyond, u64::MAX) and between,
    // drawn the same way every run.
    let value = || {
        proptest::prop_oneof![
            Just(0u64),
            Just(1u64),
            0u64..16,
            0u64..100_000,
            Just(u64::from(u32::MAX)),
            Just(u64::MAX),
        ]
    };
    use proptest::strategy::Just;
    let limits = (
        value(),
        value(),
        value(),
        value(),
        value(),
        value(),
        value(),
        value(),
    );
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for case in 0..48 {
        let (cpu, wall, memory, processes, stdout, stderr, file_size, open_files) =
            limits.new_tree(&mut runner).unwrap().current();
        let small = |v: u64| v.min(u64::from(u32::MAX));
        let body = json!({
            "language": if case % 2 == 0 { "c" } else { "python" },
            "source": if case % 2 == 0 { "#include <stdio.h>\nint main(){puts(\"x\");return 0;}" } else { "print('x')" },
            "limits": {
                "cpu_time_ms": cpu, "wall_time_ms": wall, "memory_kib": memory,
                "processes": small(processes), "stdout_bytes": stdout, "stderr_bytes": stderr,
                "file_size_bytes": file_size, "open_files": small(open_files),
            },
        });
        let (status, report) = server.json("run", body.clone()).await;
        assert!(status < 500, "{status} for {body}: {report}");
    }
}

#[tokio::test]
async fn text_mode_marks_stderr_and_the_status_and_takes_stdin_and_args() {
    let server = Server::start(2, 64, 69_600).await;
    let source = "import sys\nsys.stdout.write('abc')\nsys.stderr.write('err')\nsys.exit(3)";
    let response = server.text("python", source).await;
    assert_eq!(header(&response, "x-judgelet-status"), "run_time_error");
    assert_eq!(
        response.text().await.unwrap(),
        "abc\n--- stderr ---\nerr\n--- run_time_error: exit code 3 ---\n"
    );
    let response = server
        .http
        .post(server.url("/function/python?stdin=2%203&arg=x&arg=y%20z"))
        .header("content-type", "text/plain")
        .body("import sys\nprint(sys.argv[1:], sum(map(int, input().split())))")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "['x', 'y z'] 5\n");
    let response = server
        .http
        .post(server.url("/function/python?input=1"))
        .body("print(1)")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn languages_answer_to_the_names_people_type() {
    let server = Server::start(2, 64, 69_900).await;
    for (function, source) in [
        ("py", "print('ok')"),
        ("Python", "print('ok')"),
        ("C", "#include <stdio.h>\nint main(){puts(\"ok\");}"),
        (
            "c++",
            "#include <iostream>\nint main(){std::cout<<\"ok\\n\";}",
        ),
        ("js", "console.log('ok')"),
        ("node", "console.log('ok')"),
    ] {
        let response = server.text(function, source).await;
        assert_eq!(response.status(), 200, "{function}");
        assert_eq!(response.text().await.unwrap(), "ok\n", "{function}");
    }
    let (status, report) = server
        .json("run", json!({"language": "PY", "source": "print(1)"}))
        .await;
    assert_eq!(
        (status, report["language"].as_str()),
        (200, Some("python")),
        "{report}"
    );
    let (status, report) = server
        .json("python", json!({"language": "py3", "source": "print(1)"}))
        .await;
    assert_eq!(status, 200, "{report}");
    let (_, languages) = server.get("/languages").await;
    let python = languages
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "python")
        .unwrap();
    assert!(
        python["aliases"].as_array().unwrap().contains(&json!("py")),
        "{python}"
    );
}

#[tokio::test]
async fn cors_lets_only_the_configured_origins_in() {
    let mut config = config(1, 8);
    config.cors_origins = vec!["https://course.example.org".into()];
    let server = Server::with(config, 70_200, None).await;
    let preflight = |origin: &'static str| {
        let server = &server;
        async move {
            server
                .http
                .request(reqwest::Method::OPTIONS, server.url("/function/python"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
                .send()
                .await
                .unwrap()
        }
    };
    let allowed = preflight("https://course.example.org").await;
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        "https://course.example.org"
    );
    assert!(header(&allowed, "access-control-allow-methods").contains("POST"));
    let other = preflight("https://elsewhere.example").await;
    assert_eq!(header(&other, "access-control-allow-origin"), "");
    let response = server
        .http
        .post(server.url("/function/python"))
        .header("origin", "https://course.example.org")
        .body("print(1)")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        "https://course.example.org"
    );
    // None configured: none let in.
    let closed = Server::start(1, 8, 70_500).await;
    let response = closed
        .http
        .post(closed.url("/function/python"))
        .header("origin", "https://course.example.org")
        .body("print(1)")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "access-control-allow-origin"), "");
}

#[tokio::test]
async fn run_takes_several_files() {
    let server = Server::start(2, 64, 70_800).await;
    let (status, report) = server
        .json(
            "run",
            json!({"language": "python", "source": "import helper\nhelper.hi(open('name.txt').read())",
                   "source_name": "app.py",
                   "files": [{"name": "helper.py", "content": "def hi(n): print('hi', n.strip())"},
                             {"name": "name.txt", "content": "Ada\n"}]}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["stdout"], "hi Ada\n", "{report}");
    let (status, report): (u16, Value) = server
        .json(
            "run",
            json!({"language": "python", "source": "print(1)", "files": [{"name": "../x", "content": ""}]}),
        )
        .await;
    assert_eq!(status, 400, "{report}");
}

#[tokio::test]
async fn problems_show_their_effective_limits_with_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    let package = |id: &str, yaml: &str, accepted: Option<&str>| {
        let root = dir.path().join(id);
        std::fs::create_dir_all(root.join("data/secret")).unwrap();
        std::fs::write(root.join("problem.yaml"), yaml).unwrap();
        std::fs::write(root.join("data/secret/1.in"), "").unwrap();
        std::fs::write(root.join("data/secret/1.ans"), "hi\n").unwrap();
        if let Some(source) = accepted {
            std::fs::create_dir_all(root.join("submissions/accepted")).unwrap();
            std::fs::write(root.join("submissions/accepted/hi.py"), source).unwrap();
        }
    };
    package(
        "stated",
        "name: Stated\nlimits:\n  time_limit: 3\n  memory: 128\n  output: 2\n",
        None,
    );
    package("silent", "name: Silent\n", None);
    package("derived", "name: Derived\n", Some("print('hi')\n"));
    let mut config = config(2, 16);
    config.problems_dir = Some(dir.path().to_owned());
    let server = Server::with(config, 71_100, None).await;
    let limits = |problems: &Value, id: &str| {
        problems
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()["limits"]
            .clone()
    };
    let (_, problems) = server.get("/problems").await;
    assert_eq!(
        limits(&problems, "stated"),
        json!({"time": {"seconds": 3.0, "source": "problem_yaml"},
               "memory": {"mib": 128, "source": "problem_yaml"},
               "output": {"mib": 2, "source": "problem_yaml"}})
    );
    let silent = limits(&problems, "silent");
    assert_eq!(silent["time"]["source"], "default");
    assert_eq!(
        silent["memory"],
        json!({"mib": 1024, "source": "default"}),
        "what grading applies"
    );
    // Derived in the background from the accepted submission, shown once known.
    let start = std::time::Instant::now();
    loop {
        let (_, problems) = server.get("/problems").await;
        let time = limits(&problems, "derived")["time"].clone();
        match time["source"].as_str() {
            Some("deriving") => assert!(start.elapsed().as_secs() < 60, "never derived"),
            _ => {
                assert_eq!(time["source"], "derived", "{time}");
                assert_eq!(time["seconds"], 1.0, "{time}");
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_grade_with_flags_a_problem_would_ignore_is_refused() {
    let server = Server::start(2, 16, 71_200).await;
    for extra in [
        json!({"validator_flags": ["case_sensitive"]}),
        json!({"time_limit_ms": 5000}),
    ] {
        let mut request =
            json!({"language": "python", "problem": "hello", "source": "print('Hello, World!')"});
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, error) = server.json("grade", request).await;
        assert_eq!(status, 400, "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("inline \"tests\""), "{message}");
    }
    let (status, report) = server
        .json(
            "grade",
            json!({"language": "python", "problem": "hello", "source": "print('Hello, World!')"}),
        )
        .await;
    assert_eq!(
        (status, report["verdict"].as_str()),
        (200, Some("accepted")),
        "{report}"
    );
}
