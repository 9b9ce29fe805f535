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
