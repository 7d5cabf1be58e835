//! Keeping the data dir honest: its permissions, and a record kept beside the data
//! ([`FILE`]) of how many monitors the database must hold.
//!
//! Why the record: sled checks what it reads, but a truncated `db`, or one zeroed page,
//! can open without complaint and with records silently missing (seen: 0 of 50 and 7 of
//! 50 monitors, no warning). The writer thread writes, before any batch that may add or
//! remove monitors, the range of counts a crash during it could leave (fsynced, and
//! renamed into place), and narrows it when idle. At open, a count outside the range
//! means the database lost records: upbot refuses to start and names the data dir
//! instead of serving a partial store as if it were whole (README "Damaged store").
//!
//! A clean stop leaves a mark ([`CLEAN_FILE`]), taken away at the next open: without
//! it, the last run of an existing store ended in a crash or had a write fail partway,
//! and only then can entries without their monitor exist (the orphan sweeps are skipped
//! otherwise).
//!
//! Permissions: the dir holds bot tokens, push secrets and webhook tokens. A new one is
//! created 0700 (and the app's umask keeps new files 0600); an existing one that other
//! users can open is reported at start.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The record's file name in the data dir.
pub const FILE: &str = "integrity.json";
const FORMAT: u32 = 1;
/// The clean-stop mark's file name in the data dir.
pub(super) const CLEAN_FILE: &str = "clean-stop";

/// What the database must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Manifest {
    /// Layout of this record.
    pub(super) format: u32,
    /// Fewest monitor records the database may hold.
    pub(super) monitors_min: u64,
    /// Most monitor records the database may hold.
    pub(super) monitors_max: u64,
    /// Highest monitor id known durable: the id counter never falls below it.
    pub(super) max_id: u64,
}

impl Manifest {
    /// The record for counts in `lo..=hi` (clamped at 0).
    pub(super) fn new(lo: i64, hi: i64, max_id: u64) -> Self {
        let clamp = |n: i64| u64::try_from(n).unwrap_or(0);
        Self {
            format: FORMAT,
            monitors_min: clamp(lo.min(hi)),
            monitors_max: clamp(hi.max(lo)),
            max_id,
        }
    }

    /// Whether this record already allows everything `other` does.
    pub(super) fn covers(&self, other: &Manifest) -> bool {
        self.monitors_min <= other.monitors_min
            && self.monitors_max >= other.monitors_max
            && self.max_id <= other.max_id
    }
}

/// The record in `dir`: `Ok(None)` when there is none, `Err` when it is unreadable.
pub(super) fn read(dir: &Path) -> Result<Option<Manifest>, String> {
    let path = dir.join(FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} does not decode: {e}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Replaces the record durably: a temporary file, fsync, rename, fsync of the dir.
pub(super) fn write(dir: &Path, m: &Manifest) -> io::Result<()> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    let bytes = serde_json::to_vec(m).map_err(io::Error::other)?;
    let mut f = create_private(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(FILE))?;
    fs::File::open(dir)?.sync_all()
}

/// Proves the dir takes `bytes` more: writes them to a scratch file, syncs, removes it.
pub(super) fn space_check(dir: &Path, bytes: usize) -> io::Result<()> {
    let path = dir.join(".write-check");
    let result = (|| {
        let mut f = create_private(&path)?;
        let chunk = vec![0u8; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            f.write_all(&chunk[..n])?;
            left -= n;
        }
        f.sync_all()
    })();
    let _ = fs::remove_file(&path);
    result
}

/// Leaves the clean-stop mark, durably: written after the writer's last flush, and
/// only when no write of the run failed, so its presence means nothing the last run
/// wrote was cut short.
pub(super) fn mark_clean(dir: &Path) -> io::Result<()> {
    create_private(&dir.join(CLEAN_FILE))?.sync_all()?;
    fs::File::open(dir)?.sync_all()
}

/// Takes the clean-stop mark away (durably, so that a crash of this run is seen as
/// one) and says whether it was there. A removal needs no free space, so this works
/// on a full disk too.
pub(super) fn take_clean_mark(dir: &Path) -> io::Result<bool> {
    match fs::remove_file(dir.join(CLEAN_FILE)) {
        Ok(()) => {
            fs::File::open(dir)?.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates (or empties) a file only its owner can read.
fn create_private(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Creates the data dir (0700) if it is missing; warns when an existing one, or a file
/// in it, is open to other users.
pub(super) fn prepare_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            warn_if_open(dir, meta.permissions().mode());
            Ok(())
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a directory",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new().recursive(true).mode(0o700).create(dir),
        Err(e) => Err(e),
    }
}

fn warn_if_open(dir: &Path, mode: u32) {
    let mut open: Vec<String> = Vec::new();
    if mode & 0o077 != 0 {
        open.push(format!("the dir itself ({:o})", mode & 0o777));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if let Ok(m) = e.metadata() {
                let mode = m.permissions().mode();
                if mode & 0o077 != 0 {
                    open.push(format!("{} ({:o})", e.file_name().to_string_lossy(), mode & 0o777));
                }
            }
        }
    }
    if !open.is_empty() {
        tracing::warn!(
            dir = %dir.display(),
            open = %open.join(", "),
            "the data dir is open to other users, and it holds bot tokens, push secrets and webhook tokens; \
             fix with `chmod -R go-rwx {}`",
            dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_and_clamp() {
        let m = Manifest::new(3, 7, 9);
        assert!(m.covers(&Manifest::new(4, 7, 9)));
        assert!(
            m.covers(&Manifest::new(4, 7, 12)),
            "a higher durable id is still allowed"
        );
        assert!(!m.covers(&Manifest::new(2, 7, 9)));
        assert!(!m.covers(&Manifest::new(3, 8, 9)));
        assert_eq!(Manifest::new(-1, 0, 0).monitors_min, 0);
    }

    #[test]
    fn record_round_trip_is_private_and_leaves_no_scratch() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let m = Manifest::new(5, 6, 6);
        write(dir.path(), &m).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(m));
        let mode = fs::metadata(dir.path().join(FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        space_check(dir.path(), 100_000).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![FILE.to_string()]);
        fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert!(read(dir.path()).unwrap_err().contains(FILE));
    }

    #[test]
    fn new_dirs_are_private() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b");
        prepare_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        // an existing dir is left as it is (only reported)
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        prepare_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o755);
        let file = base.path().join("f");
        fs::write(&file, b"x").unwrap();
        assert_eq!(prepare_dir(&file).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
    }
}
