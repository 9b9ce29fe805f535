//! The gateway over real HTTP on 127.0.0.1 (an ephemeral port), with the real sandbox.

mod common;

use std::time::Duration;

use common::{header, Server};
use serde_json::{json, Value};

#[tokio::test]
async fn text_mode_returns_stdout_with_the_status_in_headers() {
    let server = Server::start(2, 64, 62_000).await;
    let response = server.text("python", "print('hello, world')").await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-judgelet-status"), "ok");
    assert!(header(&response, "x-call-id").len() > 8);
    assert!(
        header(&response, "x-duration-seconds")
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    assert!(
        header(&response, "x-judgelet-memory-kib")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(response.text().await.unwrap(), "hello, world\n");

    let response = server
        .text(
            "c",
            "#include <stdio.h>\nint main(void){puts(\"hello from c\");return 1;}",
        )
        .await;
    assert_eq!(header(&response, "x-judgelet-status"), "run_time_error");
    assert_eq!(header(&response, "x-judgelet-exit-code"), "1");
    assert_eq!(
        response.text().await.unwrap(),
        "hello from c\n--- run_time_error: exit code 1 ---\n"
    );
}

#[tokio::test]
async fn the_reports_curl_works_verbatim() {
    let server = Server::start(2, 64, 62_300).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.py"), "print(sum(range(10)))\n").unwrap();
    let url = server.url("/function/pythontimeout");
    let output = tokio::process::Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            "@input.py",
            &url,
        ])
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "45\n");
    // The report's other name: cc for C.
    let response = server
        .text(
            "cc",
            "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 6*7);}",
        )
        .await;
    assert_eq!(response.text().await.unwrap(), "42\n");
}

#[tokio::test]
async fn json_mode_returns_the_run_report() {
    let server = Server::start(2, 64, 62_600).await;
    let (status, report) = server
        .json(
            "cpp",
            json!({"source": "#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a*b<<'\\n';}", "stdin": "6 7\n"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["status"], "ok");
    assert_eq!(report["stdout"], "42\n");
    assert_eq!(report["language"], "cpp");
    assert_eq!(report["isolation"], "namespaces");
    assert!(report["cpu_time_ms"].as_f64().unwrap() >= 0.0);

    let (status, report) = server
        .json("run", json!({"language": "python", "source": "import sys\nprint(sys.argv[1:])", "args": ["a", "b"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["stdout"], "['a', 'b']\n");

    let (status, report) = server
        .json("c", json!({"source": "int main(void){return nope;}"}))
        .await;
    assert_eq!(status, 200, "a compile error is not a request error");
    assert_eq!(report["status"], "compile_error");
    assert!(report["compile_output"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn every_system_route_answers() {
    let server = Server::start(2, 64, 62_900).await;
    server.text("python", "print(1)").await;
    let get = |path: &'static str| {
        let http = server.http.clone();
        let url = server.url(path);
        async move { http.get(url).send().await.unwrap() }
    };
    let health: Value = get("/healthz").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["isolation"], "namespaces");
    let languages: Vec<Value> = get("/languages").await.json().await.unwrap();
    let python = languages.iter().find(|l| l["id"] == "python").unwrap();
    assert!(python["version"].as_str().unwrap().starts_with("Python 3"));
    let functions: Vec<Value> = get("/system/functions").await.json().await.unwrap();
    let names: Vec<&str> = functions
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for name in [
        "c",
        "cc",
        "cpp",
        "python",
        "pythontimeout",
        "run",
        "grade",
        "java",
        "go",
        "rust",
        "javascript",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
    let python = functions.iter().find(|f| f["name"] == "python").unwrap();
    assert_eq!(python["invocationCount"], 1);
    assert_eq!(python["annotations"]["judgelet.isolation"], "namespaces");
    let metrics = get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .contains("gateway_function_invocation_total{function_name=\"python\",code=\"200\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("judgelet_run_outcome_total{function_name=\"python\",status=\"ok\"} 1")
    );
    assert!(metrics.contains("gateway_functions_seconds_bucket"));
    assert!(metrics.contains("judgelet_queue_depth"));
}

#[tokio::test]
async fn bad_requests_get_4xx_that_name_the_problem() {
    let server = Server::start(2, 64, 63_200).await;
    // Invalid UTF-8 source.
    let response = server.text("python", vec![b'p', 0xff, 0xfe]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("UTF-8"));
    // A body over the 1 MiB source cap.
    let response = server.text("python", vec![b'#'; (1 << 20) + 1]).await;
    assert_eq!(response.status(), 413);
    // Malformed JSON, with where.
    let response = server
        .http
        .post(server.url("/function/python"))
        .header("content-type", "application/json")
        .body("{\"source\": \"print(1)\",\n \"stdin\": }")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{body}"
    );
    // Unknown function and unknown language list the known ones.
    let response = server.text("fortran", "program").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["known"]
        .as_array()
        .unwrap()
        .contains(&json!("python")));
    let (status, body) = server
        .json("run", json!({"language": "cobol", "source": "x"}))
        .await;
    assert_eq!(status, 404);
    assert!(body["error"]["known"]
        .as_array()
        .unwrap()
        .contains(&json!("c")));
    // Wrong method, unknown path, run without JSON.
    let response = server
        .http
        .get(server.url("/function/python"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let response = server
        .http
        .get(server.url("/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(server.text("run", "print(1)").await.status(), 415);
    let (status, _) = server.json("run", json!({"source": "print(1)"})).await;
    assert_eq!(status, 400);
    let (status, _) = server
        .json("python", json!({"source": "print(1)", "extra": 1}))
        .await;
    assert_eq!(status, 400);
    // Limits above the maxima are clamped, and said.
    let (status, report) = server
        .json(
            "python",
            json!({"source": "print(1)", "limits": {"memory_kib": 1u64 << 40}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["clamped"][0]["limit"], "memory_kib");
    assert_eq!(
        report["limits"]["memory_kib"],
        sandbox::Limits::MAXIMA.memory_kib
    );
}

#[tokio::test]
async fn overload_beyond_slots_and_queue_gets_429_and_every_admitted_request_completes() {
    let server = Server::start(1, 2, 63_500).await;
    let requests: Vec<_> = (0..12)
        .map(|i| {
            let http = server.http.clone();
            let url = server.url("/function/python");
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .header("content-type", "text/plain")
                    .body(format!("import time\ntime.sleep(0.3)\nprint({i})"))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let retry = header(&response, "retry-after");
                (i, status, retry, response.text().await.unwrap())
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for request in requests {
        let (i, status, retry, body) = request.await.unwrap();
        match status {
            200 => {
                assert_eq!(body, format!("{i}\n"));
                ok += 1;
            }
            429 => {
                assert_eq!(retry, "1");
                refused += 1;
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(ok >= 3, "{ok} completed");
    assert!(refused >= 1, "nothing refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_distinct_programs_each_get_their_own_output() {
    let server = Server::start(2, 512, 63_800).await;
    let requests: Vec<_> = (0..200)
        .map(|i| {
            let http = server.http.clone();
            let (function, source) = match i % 2 {
                0 => ("python", format!("print('python {i}')")),
                _ => (
                    "c",
                    format!("#include <stdio.h>\nint main(void){{puts(\"c {i}\");return 0;}}"),
                ),
            };
            let url = server.url(&format!("/function/{function}"));
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .header("content-type", "text/plain")
                    .body(source)
                    .send()
                    .await
                    .unwrap();
                (
                    i,
                    function,
                    response.status().as_u16(),
                    response.text().await.unwrap(),
                )
            })
        })
        .collect();
    for request in requests {
        let (i, function, status, body) = request.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, format!("{function} {i}\n"));
    }
}

#[tokio::test]
async fn a_client_that_disconnects_leaves_no_process_behind() {
    use tokio::io::AsyncWriteExt;
    let server = Server::start(2, 64, 64_100).await;
    // A raw connection, so that hanging up really closes the socket (an HTTP client library
    // may keep a connection whose response nobody awaits).
    let mut client = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    let source = "import time\nwhile True: time.sleep(0.05)\n";
    let request = format!(
        "POST /function/python HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{source}",
        source.len()
    );
    client.write_all(request.as_bytes()).await.unwrap();
    // Wait until the program is really running, then hang up.
    while server.leftovers().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(client);
    for _ in 0..100 {
        if server.leftovers().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("left behind: processes of uids {:?}", server.leftovers());
}

#[tokio::test]
async fn grade_judges_a_problem_of_the_archive_without_leaking_secret_data() {
    let server = Server::start(2, 64, 64_200).await;
    let problems: Vec<Value> = server
        .http
        .get(server.url("/problems"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let average = problems.iter().find(|p| p["id"] == "average").unwrap();
    assert_eq!(average["samples"][0]["input"], "3\n1 2 4\n");
    assert_eq!(average["type"], "pass-fail");
    let ids: Vec<&str> = problems.iter().map(|p| p["id"].as_str().unwrap()).collect();
    for id in ["hello", "average", "anagram", "guess", "relay"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let relay = problems.iter().find(|p| p["id"] == "relay").unwrap();
    assert_eq!(relay["type"], "multi-pass");

    let (status, report) = server
        .json(
            "grade",
            json!({"language": "python", "problem": "average",
                   "source": "n = int(input())\nprint(sum(map(int, input().split())) / n)"}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["tests"].as_array().unwrap().len(), 3);

    // Wrong on a secret case only: the verdict says where, but not what was expected.
    let (_, report) = server
        .json(
            "grade",
            json!({"language": "python", "problem": "average",
                   "source": "n = int(input())\nxs = list(map(int, input().split()))\nprint(0 if n == 4 else sum(xs) / n)"}),
        )
        .await;
    assert_eq!(report["verdict"], "wrong_answer");
    let failed = report["tests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(failed["name"], "secret/2");
    assert!(failed.get("hint").is_none(), "{failed}");
    assert!(!report.to_string().contains("1000000000.25"));

    // Wrong on a sample: a hint with the first difference.
    let (_, report) = server
        .json(
            "grade",
            json!({"language": "python", "problem": "hello", "source": "print('hello world')"}),
        )
        .await;
    assert_eq!(report["verdict"], "wrong_answer");
    assert!(
        report["tests"][0]["hint"]
            .as_str()
            .unwrap()
            .contains("expected"),
        "{report}"
    );
    assert_eq!(report["skipped"], 1);

    let (status, body) = server
        .json(
            "grade",
            json!({"language": "c", "problem": "nope", "source": "int main(){}"}),
        )
        .await;
    assert_eq!(status, 404);
    assert!(body["error"]["known"]
        .as_array()
        .unwrap()
        .contains(&json!("hello")));
}

#[tokio::test]
async fn grade_takes_inline_tests_with_validator_flags() {
    let server = Server::start(2, 64, 64_400).await;
    let tests =
        json!([{"input": "1 2\n", "answer": "0.5\n"}, {"input": "2 3\n", "answer": "0.6666667\n"}]);
    let (status, report) = server
        .json(
            "grade",
            json!({"language": "c", "tests": tests, "validator_flags": ["float_tolerance", "1e-6"],
                   "source": "#include <stdio.h>\nint main(void){double a,b;scanf(\"%lf %lf\",&a,&b);printf(\"%.9f\\n\",a/b);}"}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["verdict"], "accepted", "{report}");
    assert_eq!(report["compile"]["success"], true);

    let (_, report) = server
        .json(
            "grade",
            json!({"language": "python", "tests": tests, "source": "print(1/0)"}),
        )
        .await;
    assert_eq!(report["verdict"], "run_time_error");
    let (_, report) = server
        .json(
            "grade",
            json!({"language": "c", "tests": tests, "source": "int main(void){return oops;}"}),
        )
        .await;
    assert_eq!(report["verdict"], "compile_error");
    assert!(report["compile"]["output"]
        .as_str()
        .unwrap()
        .contains("oops"));

    let (status, _) = server
        .json("grade", json!({"language": "python", "source": "print(1)"}))
        .await;
    assert_eq!(status, 400, "neither problem nor tests");
    let (status, _) = server
        .json(
            "grade",
            json!({"language": "python", "source": "print(1)", "tests": [],
                              "validator_flags": ["bogus"]}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_page_is_served_and_grading_streams_each_test_as_it_is_judged() {
    let server = Server::start(2, 64, 64_600).await;
    let page = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert!(header(&page, "content-security-policy").starts_with("default-src 'self'"));
    assert!(page.text().await.unwrap().contains("src=\"/app.js\""));
    let script = server.http.get(server.url("/app.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);

    let response = server
        .http
        .post(server.url("/function/grade"))
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .json(&json!({"language": "python", "problem": "average",
                      "source": "n = int(input())\nprint(sum(map(int, input().split())) / n)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    let text = response.text().await.unwrap();
    let events: Vec<(&str, Value)> = text
        .split("\n\n")
        .filter_map(|block| {
            let event = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((event, serde_json::from_str(data).unwrap()))
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(e, _)| *e).collect();
    assert_eq!(names, ["test", "test", "test", "report"], "{text}");
    assert_eq!(events[0].1["name"], "sample/1");
    assert_eq!(events[3].1["verdict"], "accepted");
}
