//! Compile and run through the toolchain, in the real sandbox.

use std::sync::{Arc, OnceLock};

use lang::{Error, Prepared, RunRequest, RunStatus, Submission, Toolchain, ToolchainConfig};
use sandbox::{LimitKind, LimitsRequest, Sandbox, SandboxConfig};

/// One toolchain per test process, with a cache of its own so tests start cold.
fn toolchain() -> &'static Toolchain {
    static TOOLCHAIN: OnceLock<(Toolchain, tempfile::TempDir)> = OnceLock::new();
    &TOOLCHAIN
        .get_or_init(|| {
            let cache = tempfile::tempdir_in("/dev/shm").unwrap();
            let sandbox = Sandbox::new(SandboxConfig::default()).unwrap();
            let config = ToolchainConfig {
                cache_dir: cache.path().to_owned(),
                ..ToolchainConfig::default()
            };
            (Toolchain::new(sandbox, config).unwrap(), cache)
        })
        .0
}

async fn run(language: &str, source: &str) -> lang::RunResponse {
    let request = RunRequest {
        language: language.into(),
        source: source.as_bytes().to_vec(),
        ..RunRequest::default()
    };
    toolchain().run(request).await.unwrap().response()
}

#[tokio::test]
async fn hello_world_in_c_cpp_and_python() {
    let c = run(
        "c",
        "#include <stdio.h>\nint main(void){puts(\"hello from c\");return 0;}",
    )
    .await;
    assert_eq!(
        (c.status, c.stdout.as_str()),
        (RunStatus::Ok, "hello from c\n"),
        "{c:?}"
    );
    let cpp = run(
        "cpp",
        "#include <iostream>\nint main(){std::cout<<\"hello from c++\"<<std::endl;}",
    )
    .await;
    assert_eq!(
        (cpp.status, cpp.stdout.as_str()),
        (RunStatus::Ok, "hello from c++\n"),
        "{cpp:?}"
    );
    let py = run("python", "print('hello from python')").await;
    assert_eq!(
        (py.status, py.stdout.as_str()),
        (RunStatus::Ok, "hello from python\n"),
        "{py:?}"
    );
    assert!(py.compile.is_none());
}

#[tokio::test]
async fn a_c_compile_error_carries_gccs_message() {
    let report = run("c", "int main(void) { return undefined_thing; }").await;
    assert_eq!(report.status, RunStatus::CompileError, "{report:?}");
    assert!(
        report.compile_output.contains("undefined_thing"),
        "{}",
        report.compile_output
    );
    assert!(
        report.compile_output.contains("error"),
        "{}",
        report.compile_output
    );
    assert!(
        report.compile_output.contains("main.c:1"),
        "{}",
        report.compile_output
    );
    assert_eq!(report.stdout, "");
    assert_eq!(report.exit_code, None);
}

#[tokio::test]
async fn including_etc_shadow_shows_no_secret() {
    let report = run("c", "#include \"/etc/shadow\"\nint main(void){return 0;}").await;
    assert_eq!(report.status, RunStatus::CompileError, "{report:?}");
    assert!(
        report.compile_output.contains("No such file"),
        "{}",
        report.compile_output
    );
    // root's entry in a real shadow file starts so; none of it may show.
    assert!(
        !report.compile_output.contains("root:"),
        "{}",
        report.compile_output
    );
}

#[tokio::test]
async fn including_dev_zero_ends_by_the_compile_limit() {
    let report = run("c", "#include \"/dev/zero\"\nint main(void){return 0;}").await;
    assert_eq!(report.status, RunStatus::CompileError, "{report:?}");
    let compile = report.compile.unwrap();
    assert!(
        matches!(
            compile.limit_exceeded,
            Some(LimitKind::Memory | LimitKind::CpuTime | LimitKind::WallTime)
        ),
        "{compile:?}"
    );
    assert!(
        compile.output.contains("limit was exceeded"),
        "{}",
        compile.output
    );
}

#[tokio::test]
async fn a_second_identical_submission_hits_the_cache() {
    let source = "#include <stdio.h>\nint main(void){puts(\"cache me\");return 0;}";
    let first = run("c", source).await;
    let second = run("c", source).await;
    assert_eq!(second.stdout, "cache me\n");
    assert!(!first.compile.unwrap().cached);
    assert!(second.compile.unwrap().cached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_submissions_at_once_compile_once_and_all_run() {
    let source = "#include <stdio.h>\nint main(void){puts(\"together\");return 0;}";
    let runs: Vec<_> = (0..6)
        .map(|_| tokio::spawn(async move { run("c", source).await }))
        .collect();
    let mut compiled = 0;
    for r in runs {
        let report = r.await.unwrap();
        assert_eq!(report.stdout, "together\n", "{report:?}");
        compiled += !report.compile.unwrap().cached as usize;
    }
    assert_eq!(compiled, 1);
}

#[tokio::test]
async fn a_compiled_program_is_prepared_once_and_run_many_times() {
    let source = b"#include <stdio.h>\nint main(void){int a,b;scanf(\"%d %d\",&a,&b);printf(\"%d\\n\",a+b);}";
    let submission = Submission {
        files: vec![("sum.c".into(), source.to_vec())],
        entry: None,
    };
    let Prepared::Ready(program) = toolchain().prepare("c", &submission).await.unwrap() else {
        panic!("does not compile");
    };
    let (limits, _) = toolchain().run_limits(&LimitsRequest::default());
    let program = Arc::new(program);
    for (input, sum) in [("1 2", "3\n"), ("40 2", "42\n"), ("-5 5", "0\n")] {
        let report = toolchain()
            .execute(&program, input.as_bytes().to_vec(), &[], limits)
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&report.stdout.bytes), sum);
    }
}

#[tokio::test]
async fn an_unknown_language_lists_the_known_ones() {
    let request = RunRequest {
        language: "cobol".into(),
        ..RunRequest::default()
    };
    match toolchain().run(request).await {
        Err(Error::UnknownLanguage { language, known }) => {
            assert_eq!(language, "cobol");
            assert!(known.contains(&"python".to_owned()) && known.contains(&"c".to_owned()));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn limits_above_the_maxima_are_clamped_and_said() {
    let request = RunRequest {
        language: "python".into(),
        source: b"print(1)".to_vec(),
        limits: LimitsRequest {
            cpu_time_ms: Some(10_000_000),
            ..LimitsRequest::default()
        },
        ..RunRequest::default()
    };
    let report = toolchain().run(request).await.unwrap().response();
    assert_eq!(report.status, RunStatus::Ok);
    assert_eq!(report.clamped.len(), 1);
    assert_eq!(report.clamped[0].limit, "cpu_time_ms");
    assert_eq!(
        report.limits.cpu_time_ms,
        sandbox::Limits::MAXIMA.cpu_time_ms
    );
}

#[tokio::test]
async fn non_utf8_output_keeps_its_bytes_in_base64() {
    let report = run(
        "python",
        "import sys\nsys.stdout.buffer.write(b'\\xff\\xfeok')",
    )
    .await;
    assert_eq!(report.status, RunStatus::Ok);
    assert_eq!(report.stdout_base64.as_deref(), Some("//5vaw=="));
    let plain = run("python", "print('ok')").await;
    assert_eq!(plain.stdout_base64, None);
}

#[tokio::test]
async fn a_multi_file_submission_compiles_all_sources_with_its_headers() {
    let submission = Submission {
        files: vec![
            ("validate.h".into(), b"int twice(int x);\n".to_vec()),
            ("twice.cc".into(), b"#include \"validate.h\"\nint twice(int x){return 2*x;}\n".to_vec()),
            ("main.cc".into(), b"#include <cstdio>\n#include \"validate.h\"\nint main(){std::printf(\"%d\\n\", twice(21));}\n".to_vec()),
        ],
        entry: None,
    };
    let Prepared::Ready(program) = toolchain().prepare("cpp", &submission).await.unwrap() else {
        panic!("does not compile");
    };
    let (limits, _) = toolchain().run_limits(&LimitsRequest::default());
    let report = toolchain()
        .execute(&program, Vec::new(), &[], limits)
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&report.stdout.bytes), "42\n");
}

#[tokio::test]
async fn a_python_package_runs_its_entry_point_and_imports_its_modules() {
    let files = vec![
        (
            "main.py".into(),
            b"import util\nprint(util.greet())".to_vec(),
        ),
        (
            "util.py".into(),
            b"def greet():\n    return 'hi from util'".to_vec(),
        ),
    ];
    let submission = Submission {
        files: files.clone(),
        entry: None,
    };
    let Prepared::Ready(program) = toolchain().prepare("python3", &submission).await.unwrap()
    else {
        panic!("not ready");
    };
    let (limits, _) = toolchain().run_limits(&LimitsRequest::default());
    let report = toolchain()
        .execute(&program, Vec::new(), &[], limits)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&report.stdout.bytes),
        "hi from util\n"
    );
    // Two files, neither called main.py, and no entry point named: said, not guessed.
    let ambiguous = Submission {
        files: vec![("a.py".into(), b"".to_vec()), ("b.py".into(), b"".to_vec())],
        entry: None,
    };
    match toolchain().prepare("python", &ambiguous).await.unwrap() {
        Prepared::CompileError(report) => {
            assert!(report.output.contains("entry point"), "{}", report.output)
        }
        Prepared::Ready(_) => panic!("guessed an entry point"),
    }
}

#[tokio::test]
async fn a_java_source_is_named_after_its_public_class_and_a_package_is_refused_clearly() {
    let hello = run(
        "java",
        "import java.util.*;\n\npublic final class Hello {\n  public static void main(String[] a) { System.out.println(\"hello\"); }\n}\n",
    )
    .await;
    assert_eq!(
        (hello.status, hello.stdout.as_str()),
        (RunStatus::Ok, "hello\n"),
        "{hello:?}"
    );
    let packaged = run(
        "java",
        "package exercises;\npublic class Main { public static void main(String[] a) { } }\n",
    )
    .await;
    assert_eq!(packaged.status, RunStatus::CompileError);
    assert!(
        packaged.compile_output.contains("package declaration"),
        "{}",
        packaged.compile_output
    );
}

#[tokio::test]
async fn a_request_names_its_source_and_brings_files_for_the_compiled_program_to_read() {
    let request = RunRequest {
        language: "c".into(),
        source: b"#include <stdio.h>\n#include \"twice.h\"\nint main(void){FILE *f = fopen(\"n.txt\", \"r\"); int n; fscanf(f, \"%d\", &n); printf(\"%d\\n\", TWICE(n));}".to_vec(),
        source_name: Some("solution.c".into()),
        files: vec![
            lang::File { name: "twice.h".into(), contents: b"#define TWICE(x) (2 * (x))\n".to_vec() },
            lang::File { name: "n.txt".into(), contents: b"21\n".to_vec() },
        ],
        ..RunRequest::default()
    };
    let report = toolchain().run(request).await.unwrap().response();
    assert_eq!(
        (report.status, report.stdout.as_str()),
        (RunStatus::Ok, "42\n"),
        "{report:?}"
    );
    for name in ["../n.txt", "a/b", "", ".."] {
        let request = RunRequest {
            language: "c".into(),
            source: b"int main(void){return 0;}".to_vec(),
            files: vec![lang::File {
                name: name.into(),
                contents: Vec::new(),
            }],
            ..RunRequest::default()
        };
        let refused = toolchain().run(request).await.unwrap_err();
        assert!(
            matches!(refused, Error::InvalidRequest(_)),
            "{name:?}: {refused}"
        );
    }
}
