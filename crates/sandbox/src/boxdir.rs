//! Box directories: the one writable host directory of a run.
//!
//! Everything judgelet does in a box after a program ran there treats its contents as
//! hostile: files are opened without following links, must be regular files, and removal
//! (`std::fs::remove_dir_all`) never follows a link out of the box.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::slots::Lease;
use crate::unprivileged::tmp_dir_of;
use crate::{Inner, Isolation};

/// A fresh directory, shown at `/box` to the programs run in it, owned by a host uid that no
/// other live box has. Removed, with everything in it, when dropped.
pub struct SandboxBox {
    dir: PathBuf,
    /// The box's own `/tmp` in the `unprivileged` tier, which has no mount namespace.
    tmp: Option<PathBuf>,
    lease: Lease,
    inner: Arc<Inner>,
}

impl SandboxBox {
    pub(crate) fn create(inner: Arc<Inner>) -> Result<SandboxBox> {
        let lease = inner
            .slots
            .lease()
            .map_err(|e| Error::Unavailable(e.to_string()))?
            .ok_or(Error::Full)?;
        let dir = inner.box_path(inner.next_box.fetch_add(1, Ordering::Relaxed));
        let tmp = (inner.isolation == Isolation::Unprivileged).then(|| tmp_dir_of(&dir));
        let made = [Some(&dir), tmp.as_ref()]
            .into_iter()
            .flatten()
            .try_for_each(|d| {
                fs::DirBuilder::new().mode(0o700).create(d)?;
                std::os::unix::fs::chown(d, Some(lease.host_uid), Some(lease.host_gid))
            });
        if let Err(e) = made {
            inner.slots.release_lease(&lease);
            return Err(Error::io("create a box directory")(e));
        }
        Ok(SandboxBox {
            dir,
            tmp,
            lease,
            inner,
        })
    }

    /// The box's `/tmp` on the host, in the `unprivileged` tier.
    pub(crate) fn tmp_dir(&self) -> Option<&Path> {
        self.tmp.as_deref()
    }

    /// The box's directory on the host.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The host uid the box's programs run as; no other live box has it.
    pub fn host_uid(&self) -> u32 {
        self.lease.host_uid
    }

    pub(crate) fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Creates `name` with `contents`, owned by the box's user.
    pub fn write_file(&self, name: &str, contents: &[u8]) -> Result<()> {
        let path = self.entry(name)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(Error::io("create a file in a box"))?;
        io::Write::write_all(&mut file, contents).map_err(Error::io("write a file in a box"))?;
        std::os::unix::fs::fchown(&file, Some(self.lease.host_uid), Some(self.lease.host_gid))
            .map_err(Error::io("give a box file to its user"))
    }

    /// A FIFO in the box, its user's, held open for reading and writing by judgelet (so it
    /// never blocks, and what is written waits for the program to read it).
    pub(crate) fn make_fifo(&self, name: &str) -> Result<fs::File> {
        let path = self.entry(name)?;
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|e| Error::io("name a FIFO in a box")(io::Error::other(e)))?;
        // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
        if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
            return Err(Error::io("make a FIFO in a box")(io::Error::last_os_error()));
        }
        let fifo = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(Error::io("open a FIFO in a box"))?;
        std::os::unix::fs::fchown(&fifo, Some(self.lease.host_uid), Some(self.lease.host_gid))
            .map_err(Error::io("give a box FIFO to its user"))?;
        Ok(fifo)
    }

    /// Puts the host file `source` into the box as `name`, read-only to the program: a hard
    /// link where the file system allows, a copy otherwise (another file system; or a file
    /// judgelet does not own while running without privileges, which `protected_hardlinks`
    /// refuses to link).
    pub fn add_readonly(&self, source: &Path, name: &str) -> Result<()> {
        let path = self.entry(name)?;
        match fs::hard_link(source, &path) {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EXDEV | libc::EPERM | libc::EMLINK)
                ) =>
            {
                fs::copy(source, &path).map_err(Error::io("copy a file into a box"))?;
                Ok(())
            }
            Err(e) => Err(Error::io("link a file into a box")(e)),
        }
    }

    /// Reads the regular file `name` that a program left in the box, up to `max_bytes`.
    /// `None` if it is missing, is not a regular file (a link planted by the program, a
    /// directory, a fifo), or is larger.
    pub fn read_file(&self, name: &str, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        let path = self.entry(name)?;
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(file) => file,
            Err(e)
                if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ELOOP) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(Error::io("open a box file")(e)),
        };
        let meta = file.metadata().map_err(Error::io("stat a box file"))?;
        if !meta.is_file() || meta.len() > max_bytes {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(max_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(Error::io("read a box file"))?;
        Ok((bytes.len() as u64 <= max_bytes).then_some(bytes))
    }

    /// Removes `name` from the box, if it is there (a link is removed, not followed).
    pub fn remove_file(&self, name: &str) -> Result<()> {
        match fs::remove_file(self.entry(name)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::io("remove a file from a box")(e))
            }
            _ => Ok(()),
        }
    }

    /// Names of the regular files directly in the box (links and directories left out).
    pub fn list_files(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(Error::io("list a box"))? {
            let entry = entry.map_err(Error::io("list a box"))?;
            // file_type() does not follow links.
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// A direct child of the box: no separators, no `.` or `..`.
    fn entry(&self, name: &str) -> Result<PathBuf> {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(Error::Io {
                context: "name a box file",
                source: io::Error::new(io::ErrorKind::InvalidInput, format!("bad name {name:?}")),
            });
        }
        Ok(self.dir.join(name))
    }
}

impl Drop for SandboxBox {
    fn drop(&mut self) {
        // std's remove_dir_all opens each level with O_NOFOLLOW and unlinks links as links,
        // so a link the program planted towards a host path removes only the link.
        for dir in [Some(&self.dir), self.tmp.as_ref()].into_iter().flatten() {
            if let Err(e) = fs::remove_dir_all(dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove box");
            }
        }
        self.inner.slots.release_lease(&self.lease);
    }
}

/// Creates the state directory and this instance's directory in it, after removing what
/// dead judgelet processes left behind.
pub(crate) fn prepare_state_dir(state_dir: &Path, instance_dir: &Path) -> Result<()> {
    let unavailable = |what: &str, e: io::Error| {
        Error::Unavailable(format!("cannot {what} {}: {e}", state_dir.display()))
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(state_dir)
        .map_err(|e| unavailable("create", e))?;
    if !is_tmpfs(state_dir) {
        tracing::warn!(
            dir = %state_dir.display(),
            "state directory is not a tmpfs: files programs write reach the disk"
        );
    }
    for stale in crate::stale_instances(state_dir) {
        let _ = fs::remove_dir_all(stale);
    }
    // Traversable, not listable: in the unprivileged tier a program reaches its box at its
    // host path, as the box's uid.
    fs::DirBuilder::new()
        .mode(0o711)
        .create(instance_dir)
        .map_err(|e| unavailable("create an instance directory in", e))
}

fn is_tmpfs(path: &Path) -> bool {
    let Ok(c_path) = crate::mounts::cpath(path) else {
        return false;
    };
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: statfs fills the buffer we pass, and we read it only on success.
    unsafe {
        libc::statfs(c_path.as_ptr(), stat.as_mut_ptr()) == 0
            && stat.assume_init().f_type == libc::TMPFS_MAGIC
    }
}
