//! The compile cache: content-addressed, on disk, bounded, shared by every judgelet process
//! that points at the same directory.
//!
//! An entry is a directory named by the SHA-256 of (language, toolchain version, compile
//! command, source file name, source), holding the artifacts and `compile.json`. Failed
//! compilations are cached too: the same source fails the same way. Entries appear by an
//! atomic `rename` of a finished staging directory, so a reader never sees half an entry and
//! two processes compiling the same source at once both end with one good entry. Within a
//! process, identical submissions in flight compile once.

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use sandbox::Isolation;

use crate::registry::Language;
use crate::submission::Submission;
use crate::Error;

/// What a compilation did. `output` is the compiler's diagnostics, as text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompileReport {
    pub success: bool,
    pub output: String,
    /// The limit that ended the compiler, if one did (`#include "/dev/zero"`).
    pub limit_exceeded: Option<sandbox::LimitKind>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub cpu_time_ms: f64,
    pub wall_time_ms: f64,
    pub memory_kib: u64,
    /// Served from the cache rather than compiled for this request.
    #[serde(default)]
    pub cached: bool,
}

impl CompileReport {
    /// A submission refused before any compiler ran (no source of the language, no entry
    /// point), reported as a compile error the way a compiler's would be.
    pub fn refused(message: String) -> CompileReport {
        CompileReport {
            success: false,
            output: format!("judgelet: {message}\n"),
            limit_exceeded: None,
            exit_code: None,
            signal: None,
            cpu_time_ms: 0.0,
            wall_time_ms: 0.0,
            memory_kib: 0,
            cached: false,
        }
    }
}

/// A cache entry: where its artifacts are, and how the compilation went.
#[derive(Clone, Debug)]
pub struct Entry {
    pub dir: PathBuf,
    pub report: CompileReport,
    /// The artifact files in `dir`.
    pub artifacts: Vec<String>,
}

const REPORT_FILE: &str = "compile.json";
const STAGING_PREFIX: &str = ".staging-";
/// Process-wide, so two caches on one directory in one process never share a staging name.
static STAGING: AtomicU64 = AtomicU64::new(0);
/// Entries used this recently are never evicted: a run may be about to link from them.
const EVICTION_GRACE: Duration = Duration::from_secs(60);

pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
    /// Our estimate of the bytes in the cache; rescanned when eviction runs.
    bytes: AtomicU64,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl CompileCache {
    pub fn open(dir: &Path, max_bytes: u64) -> Result<CompileCache, Error> {
        fs::create_dir_all(dir).map_err(|e| Error::Cache(format!("{}: {e}", dir.display())))?;
        let cache = CompileCache {
            dir: dir.to_owned(),
            max_bytes,
            bytes: AtomicU64::new(0),
            inflight: Mutex::new(HashMap::new()),
        };
        let entries = cache.scan();
        cache
            .bytes
            .store(entries.iter().map(|e| e.1).sum(), Ordering::Relaxed);
        Ok(cache)
    }

    /// The key of `submission` compiled by `language`'s toolchain and command, in a sandbox
    /// of tier `isolation` (the tiers show the compiler different paths and limits).
    pub fn key(language: &Language, submission: &Submission, isolation: Isolation) -> String {
        let mut hash = Sha256::new();
        let compile = language.compile.as_deref().unwrap_or_default();
        let files = submission
            .files
            .iter()
            .flat_map(|(name, bytes)| [name.as_bytes(), &bytes[..]]);
        // Everything that shapes the compiler's run: a changed environment or view of the
        // file system must not be served an old result.
        let environment = language
            .env
            .iter()
            .flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()])
            .chain(
                language
                    .readonly
                    .iter()
                    .map(|p| p.as_os_str().as_encoded_bytes()),
            );
        let fields = [
            language.id.as_bytes(),
            language.version.as_bytes(),
            isolation.as_str().as_bytes(),
        ]
        .into_iter()
        .chain(compile.iter().map(|a| a.as_bytes()))
        .chain(environment)
        .chain(files)
        .chain(submission.entry.as_deref().map(str::as_bytes));
        for field in fields {
            // Length-prefixed, so no two field lists hash alike.
            hash.update((field.len() as u64).to_le_bytes());
            hash.update(field);
        }
        hex::encode(hash.finalize())
    }

    /// The entry for `key`, compiling it with `compile` when missing. `compile` fills the
    /// staging directory it is given with the artifacts and returns the report.
    pub async fn get_or_compile<F, Fut>(&self, key: &str, compile: F) -> Result<Entry, Error>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<CompileReport, Error>>,
    {
        let lock = self
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone();
        let result = {
            let _guard = lock.lock().await;
            match self.lookup(key) {
                Some(entry) => Ok(entry),
                None => self.insert(key, compile).await,
            }
        };
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        // Two holders: the map and us. Nobody else waits on this key.
        if Arc::strong_count(&lock) == 2 {
            inflight.remove(key);
        }
        result
    }

    fn lookup(&self, key: &str) -> Option<Entry> {
        let dir = self.dir.join(key);
        let text = fs::read_to_string(dir.join(REPORT_FILE)).ok()?;
        let mut report: CompileReport = serde_json::from_str(&text).ok()?;
        report.cached = true;
        // The report file's mtime is the entry's last use, for eviction.
        if let Ok(file) = fs::File::options().write(true).open(dir.join(REPORT_FILE)) {
            let _ = file.set_modified(SystemTime::now());
        }
        let artifacts = artifact_names(&dir);
        Some(Entry {
            dir,
            report,
            artifacts,
        })
    }

    async fn insert<F, Fut>(&self, key: &str, compile: F) -> Result<Entry, Error>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<CompileReport, Error>>,
    {
        let staging = self.dir.join(format!(
            "{STAGING_PREFIX}{}-{}-{key}",
            std::process::id(),
            STAGING.fetch_add(1, Ordering::Relaxed)
        ));
        let cache_error = |e: io::Error| Error::Cache(format!("{}: {e}", staging.display()));
        fs::create_dir(&staging).map_err(cache_error)?;
        let report = match compile(staging.clone()).await {
            Ok(report) => report,
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        let json = serde_json::to_vec(&report).map_err(|e| Error::Cache(e.to_string()))?;
        fs::write(staging.join(REPORT_FILE), json).map_err(cache_error)?;
        let size = dir_bytes(&staging);
        let dir = self.dir.join(key);
        match fs::rename(&staging, &dir) {
            Ok(()) => {
                let total = self.bytes.fetch_add(size, Ordering::Relaxed) + size;
                if total > self.max_bytes {
                    self.evict();
                }
            }
            // Another process finished the same entry first; theirs is as good as ours.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
                ) =>
            {
                let _ = fs::remove_dir_all(&staging);
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(cache_error(e));
            }
        }
        let artifacts = artifact_names(&dir);
        Ok(Entry {
            dir,
            report,
            artifacts,
        })
    }

    /// Entries with their size and last use, staging directories left out.
    fn scan(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with(STAGING_PREFIX))
            .filter_map(|e| {
                let path = e.path();
                let used = fs::metadata(path.join(REPORT_FILE)).ok()?.modified().ok()?;
                Some((path.clone(), dir_bytes(&path), used))
            })
            .collect()
    }

    /// Removes the least recently used entries until the cache is at 80% of its bound.
    fn evict(&self) {
        let mut entries = self.scan();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort_by_key(|e| e.2);
        let target = self.max_bytes / 10 * 8;
        let now = SystemTime::now();
        for (path, size, used) in entries {
            if total <= target {
                break;
            }
            if now.duration_since(used).unwrap_or_default() < EVICTION_GRACE {
                continue;
            }
            if fs::remove_dir_all(&path).is_ok() {
                total -= size;
            }
        }
        self.bytes.store(total, Ordering::Relaxed);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Writes an artifact into a staging directory, executable.
pub(crate) fn write_artifact(staging: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let path = staging.join(name);
    fs::write(&path, bytes)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
}

/// The files of an entry other than its report.
fn artifact_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name != REPORT_FILE)
        .collect();
    names.sort();
    names
}

fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn report(output: &str) -> CompileReport {
        CompileReport {
            success: true,
            output: output.into(),
            limit_exceeded: None,
            exit_code: Some(0),
            signal: None,
            cpu_time_ms: 1.0,
            wall_time_ms: 1.0,
            memory_kib: 1,
            cached: false,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn identical_compiles_at_once_compile_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(CompileCache::open(dir.path(), 1 << 20).unwrap());
        let compiles = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, compiles) = (cache.clone(), compiles.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_compile("k", |staging| async move {
                            compiles.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            write_artifact(&staging, "main", b"binary").unwrap();
                            Ok(report("built"))
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut cached = 0;
        for task in tasks {
            let entry = task.await.unwrap();
            assert_eq!(fs::read(entry.dir.join("main")).unwrap(), b"binary");
            cached += entry.report.cached as usize;
        }
        assert_eq!(compiles.load(Ordering::SeqCst), 1);
        assert_eq!(cached, 7);
        assert!(cache.inflight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_second_process_finishing_first_wins_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let ours = CompileCache::open(dir.path(), 1 << 20).unwrap();
        let theirs = &CompileCache::open(dir.path(), 1 << 20).unwrap();
        let entry = ours
            .get_or_compile("k", |staging| async move {
                // While we compile, another process inserts the same key.
                theirs
                    .get_or_compile("k", |s| async move {
                        write_artifact(&s, "main", b"theirs").unwrap();
                        Ok(report("theirs"))
                    })
                    .await
                    .unwrap();
                write_artifact(&staging, "main", b"ours").unwrap();
                Ok(report("ours"))
            })
            .await
            .unwrap();
        assert_eq!(fs::read(entry.dir.join("main")).unwrap(), b"theirs");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "staging left behind");
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(dir.path(), 10_000).unwrap();
        for i in 0..10 {
            cache
                .get_or_compile(&format!("k{i}"), |staging| async move {
                    write_artifact(&staging, "main", &[0u8; 3000]).unwrap();
                    Ok(report("x"))
                })
                .await
                .unwrap();
            // Age the entry past the grace period so it may be evicted.
            let old = SystemTime::now() - EVICTION_GRACE * 2;
            let file = fs::File::options()
                .write(true)
                .open(dir.path().join(format!("k{i}")).join(REPORT_FILE))
                .unwrap();
            file.set_modified(old).unwrap();
        }
        let total: u64 = cache.scan().iter().map(|e| e.1).sum();
        assert!(total <= 10_000, "{total}");
        assert!(cache.lookup("k9").is_some(), "the newest entry was evicted");
        assert!(cache.lookup("k0").is_none(), "the oldest entry survived");
    }
}
