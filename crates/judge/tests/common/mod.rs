//! What the judge's integration tests share: one grader per test binary, with a compile cache
//! of its own, and the repository's example problems.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use judge::{Grader, GraderConfig, ProblemPackage};
use lang::{Toolchain, ToolchainConfig};
use sandbox::{Sandbox, SandboxConfig};

pub fn grader() -> &'static Grader {
    static GRADER: OnceLock<(Grader, tempfile::TempDir)> = OnceLock::new();
    &GRADER
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
            (
                Grader::new(Arc::new(toolchain), GraderConfig::default()),
                cache,
            )
        })
        .0
}

/// A problem of the repository's `problems/`.
// Every test binary compiles this module; the corpus test needs no example problem.
#[allow(dead_code)]
pub fn problem(id: &str) -> Arc<ProblemPackage> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../problems")
        .join(id);
    Arc::new(ProblemPackage::load(&dir).unwrap())
}
