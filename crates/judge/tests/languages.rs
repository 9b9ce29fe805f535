//! Java, Go, Rust and JavaScript, added as configuration only (`languages.toml`): each runs,
//! reports its compiler's errors, is held to time and memory limits, and grades.

mod common;

use common::{grader, problem};
use judge::{GradeOptions, Verdict};
use lang::{RunRequest, RunStatus, Submission};
use sandbox::{LimitKind, LimitsRequest};

struct Programs {
    language: &'static str,
    hello: &'static str,
    broken: &'static str,
    /// What the compiler says about `broken`.
    compiler_says: &'static str,
    busy: &'static str,
    hog: &'static str,
    /// Reads n and n integers, prints their mean: right, and with integer division.
    mean: &'static str,
    mean_wrong: &'static str,
}

const PROGRAMS: [Programs; 4] = [
    Programs {
        language: "java",
        hello: "public class Main { public static void main(String[] a) { System.out.println(\"hello, world\"); } }",
        broken: "public class Main { public static void main(String[] a) { int x = \"no\"; } }",
        compiler_says: "incompatible types",
        busy: "public class Main { public static void main(String[] a) { long i = 0; while (true) i++; } }",
        hog: "import java.util.*;\npublic class Main { public static void main(String[] a) { List<long[]> l = new ArrayList<>(); while (true) { long[] b = new long[1 << 20]; Arrays.fill(b, 1); l.add(b); } } }",
        mean: "import java.util.*;\npublic class Main { public static void main(String[] a) { Scanner s = new Scanner(System.in); int n = s.nextInt(); long t = 0; for (int i = 0; i < n; i++) t += s.nextLong(); System.out.println((double) t / n); } }",
        mean_wrong: "import java.util.*;\npublic class Main { public static void main(String[] a) { Scanner s = new Scanner(System.in); int n = s.nextInt(); long t = 0; for (int i = 0; i < n; i++) t += s.nextLong(); System.out.println(t / n); } }",
    },
    Programs {
        language: "go",
        hello: "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hello, world\") }",
        broken: "package main\nfunc main() { var x int = \"no\" }",
        compiler_says: "cannot use",
        busy: "package main\nfunc main() { i := 0; for { i++ } }",
        hog: "package main\nfunc main() { var keep [][]byte; for { b := make([]byte, 64<<20); for i := range b { b[i] = 1 }; keep = append(keep, b) } }",
        mean: "package main\nimport \"fmt\"\nfunc main() { var n int; fmt.Scan(&n); var t int64; for i := 0; i < n; i++ { var x int64; fmt.Scan(&x); t += x }; fmt.Println(float64(t) / float64(n)) }",
        mean_wrong: "package main\nimport \"fmt\"\nfunc main() { var n int; fmt.Scan(&n); var t int64; for i := 0; i < n; i++ { var x int64; fmt.Scan(&x); t += x }; fmt.Println(t / int64(n)) }",
    },
    Programs {
        language: "rust",
        hello: "fn main() { println!(\"hello, world\"); }",
        broken: "fn main() { let x: i32 = \"no\"; }",
        compiler_says: "mismatched types",
        busy: "fn main() { let mut i: u64 = 0; loop { unsafe { std::ptr::write_volatile(&mut i, i + 1) } } }",
        hog: "fn main() { let mut keep = Vec::new(); loop { keep.push(vec![1u8; 64 << 20]); } }",
        mean: "use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s).unwrap(); let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect(); let t: i64 = v[1..].iter().sum(); println!(\"{}\", t as f64 / v[0] as f64); }",
        mean_wrong: "use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s).unwrap(); let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect(); let t: i64 = v[1..].iter().sum(); println!(\"{}\", t / v[0]); }",
    },
    Programs {
        language: "javascript",
        hello: "console.log('hello, world')",
        broken: "console.log('unclosed'",
        compiler_says: "SyntaxError",
        busy: "let i = 0; while (true) { i++; }",
        hog: "const keep = []; while (true) { keep.push(Buffer.alloc(64 << 20, 1)); }",
        mean: "const v = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number); console.log(v.slice(1).reduce((a, b) => a + b, 0) / v[0]);",
        mean_wrong: "const v = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number); console.log(Math.floor(v.slice(1).reduce((a, b) => a + b, 0) / v[0]));",
    },
];

async fn run(language: &str, source: &str, limits: LimitsRequest) -> lang::RunResponse {
    let request = RunRequest {
        language: language.into(),
        source: source.as_bytes().to_vec(),
        limits,
        ..RunRequest::default()
    };
    grader().toolchain().run(request).await.unwrap().response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_language_runs_fails_and_is_held_to_its_limits() {
    for p in &PROGRAMS {
        let hello = run(p.language, p.hello, LimitsRequest::default()).await;
        assert_eq!(
            (hello.status, hello.stdout.as_str()),
            (RunStatus::Ok, "hello, world\n"),
            "{}: {hello:?}",
            p.language
        );

        let broken = run(p.language, p.broken, LimitsRequest::default()).await;
        assert_eq!(
            broken.status,
            RunStatus::CompileError,
            "{}: {broken:?}",
            p.language
        );
        assert!(
            broken.compile_output.contains(p.compiler_says),
            "{}: {}",
            p.language,
            broken.compile_output
        );

        let busy = run(
            p.language,
            p.busy,
            LimitsRequest {
                cpu_time_ms: Some(1_000),
                ..LimitsRequest::default()
            },
        )
        .await;
        assert_eq!(
            busy.status,
            RunStatus::TimeLimitExceeded,
            "{}: {busy:?}",
            p.language
        );
        assert_eq!(
            busy.limit_exceeded,
            Some(LimitKind::CpuTime),
            "{}",
            p.language
        );

        let hog = run(
            p.language,
            p.hog,
            LimitsRequest {
                memory_kib: Some(256 * 1024),
                ..LimitsRequest::default()
            },
        )
        .await;
        assert_eq!(
            hog.status,
            RunStatus::MemoryLimitExceeded,
            "{}: {hog:?}",
            p.language
        );
        assert!(
            hog.memory_kib <= 257 * 1024,
            "{}: {}",
            p.language,
            hog.memory_kib
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_language_grades_right_and_wrong_answers() {
    let average = problem("average");
    for p in &PROGRAMS {
        let language = grader().toolchain().language(p.language).unwrap().clone();
        for (source, expected) in [
            (p.mean, Verdict::Accepted),
            (p.mean_wrong, Verdict::WrongAnswer),
        ] {
            let submission = Submission::single(&language, source.as_bytes().to_vec());
            let report = grader()
                .grade(
                    &average,
                    p.language,
                    submission,
                    &GradeOptions::new(2),
                    &|_| {},
                )
                .await
                .unwrap();
            assert_eq!(report.verdict, expected, "{}: {report:#?}", p.language);
        }
    }
}

#[test]
fn versions_come_from_the_real_toolchains() {
    let registry = grader().toolchain().registry();
    let version = |id: &str| registry.get(id).unwrap().version.clone();
    assert!(
        version("java").contains("openjdk version \"17"),
        "{}",
        version("java")
    );
    assert!(
        version("go").starts_with("go version go1."),
        "{}",
        version("go")
    );
    assert!(
        version("rust").starts_with("rustc 1."),
        "{}",
        version("rust")
    );
    assert!(
        version("javascript").starts_with('v'),
        "{}",
        version("javascript")
    );
}
