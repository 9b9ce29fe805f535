//! What the judge's integration tests share: one toolchain per test binary, with a compile
//! cache of its own, a grader on it, and the repository's example problems.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use judge::{Grader, GraderConfig, ProblemPackage};
use lang::{Toolchain, ToolchainConfig};
use sandbox::{Sandbox, SandboxConfig};

/// The test binary's toolchain.
pub fn toolchain() -> Arc<Toolchain> {
    static TOOLCHAIN: OnceLock<(Arc<Toolchain>, tempfile::TempDir)> = OnceLock::new();
    TOOLCHAIN
        .get_or_init(|| {
            let cache = tempfile::tempdir_in("/dev/shm").unwrap();
            let toolchain = Toolchain::new(
                Sandbox::new(SandboxConfig::default()).unwrap(),
                ToolchainConfig {
                    cache_dir: cache.path().to_owned(),
                    ..ToolchainConfig::default()
                },
            )
            .unwrap();
            (Arc::new(toolchain), cache)
        })
        .0
        .clone()
}

// Every test binary compiles this module; the corpus test builds a grader of its own.
#[allow(dead_code)]
pub fn grader() -> &'static Grader {
    static GRADER: OnceLock<Grader> = OnceLock::new();
    GRADER.get_or_init(|| Grader::new(toolchain(), GraderConfig::default()))
}

/// A problem of the repository's `problems/`.
#[allow(dead_code)]
pub fn problem(id: &str) -> Arc<ProblemPackage> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../problems")
        .join(id);
    Arc::new(ProblemPackage::load(&dir).unwrap())
}

/// A package of `files` (path and contents) in a directory of its own, loaded; the directory
/// lives as long as the returned guard.
#[allow(dead_code)]
pub fn scratch(files: &[(&str, &str)]) -> (tempfile::TempDir, Arc<ProblemPackage>) {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    let package = ProblemPackage::load(dir.path()).unwrap();
    (dir, Arc::new(package))
}

/// `source` in Python graded against `package`, every case run.
#[allow(dead_code)]
pub async fn grade_python(package: &Arc<ProblemPackage>, source: &str) -> judge::GradeReport {
    let submission = lang::Submission {
        files: vec![("main.py".into(), source.as_bytes().to_vec())],
        entry: None,
    };
    let options = judge::GradeOptions {
        stop_at_first_failure: false,
        ..judge::GradeOptions::new(2)
    };
    grader()
        .grade(package, "python", submission, &options, &|_| {})
        .await
        .unwrap()
}
