//! Problem packages as zip archives: packing a directory for an upload, and unpacking an
//! uploaded one into a fresh directory while refusing what a hostile zip tries.
//!
//! The zip crate reads the format; what it leaves to its caller is deciding which entries
//! are safe to write, which is this module. An archive is refused whole, before anything
//! is written, when an entry names a path outside the package (absolute, `..`, a
//! backslash, a NUL), is a symbolic link or a device, or when the entries are too many or
//! declare too many bytes or too high a compression ratio; while writing, an entry that
//! inflates past what it declared, or a name given twice, is refused too. Nothing is ever
//! written but regular files and directories under the destination, which the caller
//! makes fresh, so no planted link can be followed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// How big an uploaded package may be once unpacked.
#[derive(Clone, Copy, Debug)]
pub struct ArchiveLimits {
    /// Entries in the archive, directories included.
    pub files: usize,
    /// Bytes of all files once unpacked.
    pub bytes: u64,
    /// The most an entry of over a mebibyte may inflate, as a ratio of its unpacked to its
    /// compressed size (deflate reaches about 1030 on a run of one byte: a zip bomb's).
    pub ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            files: 10_000,
            bytes: 1 << 30,
            ratio: 500,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a zip archive: {0}")]
    NotZip(String),
    /// One entry is refused; `entry` is its name in the archive.
    #[error("{entry}: {reason}")]
    Entry { entry: String, reason: String },
    #[error("{0}")]
    Refused(String),
    #[error("cannot write the package: {0}")]
    Io(#[from] std::io::Error),
}

/// Entries that archivers add beside the content (macOS Finder's resource forks), skipped.
fn is_archiver_litter(name: &str) -> bool {
    name.starts_with("__MACOSX/") || name == ".DS_Store" || name.ends_with("/.DS_Store")
}

/// Why `name` cannot be written under the package, if it cannot: only plain relative
/// components are accepted.
fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.starts_with('/') {
        return Some("an absolute path");
    }
    if name.contains('\\') {
        return Some("a backslash in the path (Windows separators are not accepted)");
    }
    if name.contains('\0') {
        return Some("a NUL byte in the path");
    }
    let components = name.strip_suffix('/').unwrap_or(name);
    for component in components.split('/') {
        match component {
            "" => return Some("an empty path component"),
            "." | ".." => return Some("a path leaving its folder (`.` or `..`)"),
            _ => {}
        }
    }
    None
}

struct Entry {
    index: usize,
    name: String,
    dir: bool,
    executable: bool,
    size: u64,
}

/// Unpacks the package in `zip` into `into` (an empty directory the caller made): the
/// package at the archive's root, or in its one top folder.
pub fn unpack(zip: &[u8], into: &Path, limits: &ArchiveLimits) -> Result<(), ArchiveError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| ArchiveError::NotZip(e.to_string()))?;
    if archive.len() > limits.files {
        return Err(ArchiveError::Refused(format!(
            "{} entries: at most {} are accepted",
            archive.len(),
            limits.files
        )));
    }
    let mut entries = Vec::new();
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let file = archive
            .by_index_raw(index)
            .map_err(|e| ArchiveError::NotZip(e.to_string()))?;
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        let refuse = |reason: String| ArchiveError::Entry {
            entry: name.clone(),
            reason,
        };
        if let Some(reason) = unsafe_name(&name) {
            return Err(refuse(reason.into()));
        }
        if is_archiver_litter(&name) {
            continue;
        }
        if file.encrypted() {
            return Err(refuse("encrypted".into()));
        }
        if file.is_symlink() {
            return Err(refuse(
                "a symbolic link: store the file it points to instead (zip without -y)".into(),
            ));
        }
        let mode = file.unix_mode().unwrap_or(0);
        let kind = mode & 0o170_000;
        // 0: a DOS attribute, or none; otherwise only regular files and directories.
        if kind != 0 && kind != 0o100_000 && kind != 0o040_000 {
            return Err(refuse(format!(
                "a special file (mode {mode:o}): only files and folders are accepted"
            )));
        }
        let size = file.size();
        if size > 1 << 20 && size / file.compressed_size().max(1) > limits.ratio {
            return Err(refuse(format!(
                "inflates {}-fold ({size} bytes from {}): beyond the bound of {}",
                size / file.compressed_size().max(1),
                file.compressed_size(),
                limits.ratio
            )));
        }
        declared = declared.saturating_add(size);
        if declared > limits.bytes {
            return Err(ArchiveError::Refused(format!(
                "more than {} bytes once unpacked",
                limits.bytes
            )));
        }
        entries.push(Entry {
            index,
            dir: file.is_dir(),
            executable: mode & 0o111 != 0,
            size,
            name,
        });
    }
    let prefix = package_root(&entries)?;
    for entry in &entries {
        let Some(relative) = entry.name.strip_prefix(&prefix) else {
            continue;
        };
        let relative = relative.trim_end_matches('/');
        if relative.is_empty() {
            continue;
        }
        let path = into.join(relative);
        let refuse = |reason: String| ArchiveError::Entry {
            entry: entry.name.clone(),
            reason,
        };
        if entry.dir {
            std::fs::create_dir_all(&path).map_err(|e| refuse(e.to_string()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| refuse(e.to_string()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(
            &mut options,
            if entry.executable { 0o755 } else { 0o644 },
        );
        let mut out = options.open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => refuse("given twice".into()),
            _ => refuse(e.to_string()),
        })?;
        let file = archive
            .by_index(entry.index)
            .map_err(|e| refuse(e.to_string()))?;
        // The declared size bounds what is read: a header that lies is caught here.
        let mut limited = file.take(entry.size + 1);
        let written =
            std::io::copy(&mut limited, &mut out).map_err(|e| refuse(format!("corrupt: {e}")))?;
        if written > entry.size {
            return Err(refuse(format!(
                "inflates past the {} bytes it declares",
                entry.size
            )));
        }
        out.flush()?;
    }
    Ok(())
}

/// The prefix of the entries that holds `problem.yaml`: none, or the one top folder.
fn package_root(entries: &[Entry]) -> Result<String, ArchiveError> {
    if entries.iter().any(|e| e.name == "problem.yaml") {
        return Ok(String::new());
    }
    let tops: std::collections::BTreeSet<&str> = entries
        .iter()
        .map(|e| e.name.split('/').next().unwrap_or_default())
        .collect();
    match tops.into_iter().collect::<Vec<_>>()[..] {
        [top]
            if entries
                .iter()
                .any(|e| e.name == format!("{top}/problem.yaml")) =>
        {
            Ok(format!("{top}/"))
        }
        _ => Err(ArchiveError::Refused(
            "no problem.yaml at the archive's root or in its one top folder".into(),
        )),
    }
}

/// A zip of the package in `dir`, for an upload: its files and folders (not `.git`), with
/// their executable bits. A link is stored as the file it points to, which must be inside
/// `dir`.
pub fn pack(dir: &Path) -> std::io::Result<Vec<u8>> {
    let root = dir.canonicalize()?;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut pending: Vec<PathBuf> = vec![root.clone()];
    // Folders taken, by their real path: a link to one of them (`a -> .`) would be a loop.
    let mut taken = std::collections::HashSet::from([root.clone()]);
    let zip_error = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
    while let Some(folder) = pending.pop() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        children.sort();
        for child in children {
            if child.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            let target = child.canonicalize()?;
            if !target.starts_with(&root) {
                return Err(std::io::Error::other(format!(
                    "{} points outside the package, to {}",
                    child.display(),
                    target.display()
                )));
            }
            let name = child
                .strip_prefix(&root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .into_owned();
            let metadata = std::fs::metadata(&target)?;
            let mode = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions());
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(mode);
            if metadata.is_dir() {
                if !taken.insert(target.clone()) {
                    return Err(std::io::Error::other(format!(
                        "{} links to {}, a folder the package already has",
                        child.display(),
                        target.display()
                    )));
                }
                writer.add_directory(name, options).map_err(zip_error)?;
                pending.push(child);
            } else {
                writer.start_file(name, options).map_err(zip_error)?;
                std::io::copy(&mut std::fs::File::open(&target)?, &mut writer)?;
            }
        }
    }
    Ok(writer.finish().map_err(zip_error)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_linking_back_into_the_package_is_refused_not_followed_forever() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("problem.yaml"), "name: loop\n").unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::os::unix::fs::symlink("..", dir.path().join("data/up")).unwrap();
        let error = pack(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("a folder the package already has"),
            "{error}"
        );
        // A link to a file inside the package is packed as the file.
        std::fs::remove_file(dir.path().join("data/up")).unwrap();
        std::os::unix::fs::symlink("../problem.yaml", dir.path().join("data/copy.yaml")).unwrap();
        let zipped = pack(dir.path()).unwrap();
        let archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
        assert!(archive
            .file_names()
            .any(|n| n.is_ok_and(|n| n == "data/copy.yaml")));
    }

    #[test]
    fn only_plain_relative_names_are_safe() {
        for name in ["problem.yaml", "data/secret/1.in", "data/", "a b/c:d.in"] {
            assert_eq!(unsafe_name(name), None, "{name}");
        }
        for name in [
            "/etc/passwd",
            "../x",
            "data/../../x",
            "data/./x",
            "data//x",
            "data\\x",
            "x\0y",
        ] {
            assert!(unsafe_name(name).is_some(), "{name:?}");
        }
    }
}
