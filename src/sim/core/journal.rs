//! Persistence of the World: a snapshot (`cloud.json`) plus a journal (`cloud.journal`) of
//! the rows each request changed, folded back into the snapshot from time to time.
//!
//! Why a journal: rewriting (and fsyncing) the whole World after every write made each write
//! cost the size of the cloud (19 ms at 6.6 MB; 32 GB written for a 10,000-object apply).
//! A journal line costs what the request changed.
//!
//! Durability, precisely:
//! - A request's line is handed to the OS (`write(2)`, no fsync) before its answer is sent.
//!   The page cache outlives the process, so **kill -9 loses nothing acknowledged**: this
//!   matters because stackform's crash tests SIGKILL a stackform process that may be serving
//!   this cloud in-process, then expect the next apply to find everything it was told exists
//!   (a lost create would be made twice, a lost delete would come back).
//! - A background thread fsyncs the journal every [`SYNC_INTERVAL`]; compactions and a clean
//!   stop fsync the snapshot. So **a power loss or kernel crash loses at most the last
//!   second** or so of writes: acceptable for a cloud that exists for tests and demos.
//! - A line cut short (the process died inside the write) was never acknowledged and is
//!   ignored on open.
//! - What a GET changes is journaled with the next write, as before the journal: a project's
//!   default security group made by its first look (made again, with another id, if the
//!   process dies first), and servers settled by the clock (settled again on open).
//!
//! Compaction: when the journal has grown past the snapshot's size (and at least
//! [`MIN_COMPACTION_BYTES`]), new lines go to `cloud.journal.next`, and a background thread
//! builds the next snapshot from the files alone (the snapshot with `cloud.journal`
//! replayed), writes it (temp file, fsync, rename) and then renames `cloud.journal.next`
//! over `cloud.journal`. It never takes the world lock: requests do not wait for it.
//! Replaying a journal over a snapshot that already contains it ends in the same state (each
//! line sets rows to their value at that time, in order), so a crash at any point of a
//! compaction reopens correctly: open replays `cloud.journal` then `cloud.journal.next`.
//! A compaction starts only once the journal is as large as the snapshot, so it writes about
//! as many bytes as were journaled since the last one (at most twice as many): amortized, the
//! bytes written per request stay proportional to what the request changed.
//!
//! Opening replays and compacts; a clean stop (`SimHandle::stop`, `stackform sim` on Ctrl-C or
//! SIGTERM, or the last handle on the cloud going away) compacts and fsyncs, leaving only
//! `cloud.json`. Files are owner-only (0600): they hold password hashes and token digests.

use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::table::{Record, RowChange, Table};
use super::{SimError, World};

/// The snapshot.
pub(super) const STATE_FILE: &str = "cloud.json";
/// The lines written since the snapshot.
pub(super) const JOURNAL_FILE: &str = "cloud.journal";
/// The lines written while a compaction is writing the snapshot.
pub(super) const NEXT_JOURNAL_FILE: &str = "cloud.journal.next";

/// How often the journal is fsynced: what a power loss may cost.
pub(super) const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// A journal smaller than this is never compacted (a small cloud's snapshot is tiny).
pub(super) const MIN_COMPACTION_BYTES: u64 = 4 << 20;

#[cfg(test)]
thread_local! {
    /// The compaction threshold of the journals this thread opens next (0: the normal one).
    static TEST_COMPACTION_BYTES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Makes the journals this thread opens from now on compact once they hold `bytes` (0: back
/// to normal), so that a test can compact on every write.
#[cfg(test)]
pub(super) fn compact_after(bytes: u64) {
    TEST_COMPACTION_BYTES.with(|forced| forced.set(bytes));
}

/// The threshold forced on journals opened now, if any.
fn forced_compaction_threshold() -> Option<u64> {
    #[cfg(test)]
    if let Some(forced) = Some(TEST_COMPACTION_BYTES.with(std::cell::Cell::get)).filter(|b| *b > 0)
    {
        return Some(forced);
    }
    None
}

impl Writer {
    /// The journal size past which the next write starts a compaction.
    fn compaction_threshold(&self) -> u64 {
        self.forced_threshold
            .unwrap_or_else(|| self.snapshot.max(MIN_COMPACTION_BYTES))
    }
}

/// A service's part of the World, as the journal sees it: tables of rows, and the rest
/// (small things: quotas, counters, flavors), each field journaled whole when it changes.
pub trait Journaled {
    /// The service's tables by name.
    fn tables(&mut self) -> Vec<(&'static str, &mut dyn JournalTable)>;
    /// Every field that is not a table, by name, serialized (compared with the last
    /// journaled, so they are serialized on every write: keep them small).
    fn rest(&self) -> serde_json::Result<Vec<(&'static str, Vec<u8>)>>;
    fn replay_rest(&mut self, field: &str, value: Value) -> serde_json::Result<()>;
}

/// A [`Table`] with its row type erased, for [`Journaled::tables`].
pub trait JournalTable {
    fn take_changes(&mut self) -> serde_json::Result<Vec<RowChange>>;
    fn forget_changes(&mut self);
    fn replay(&mut self, id: String, row: Option<Value>) -> serde_json::Result<()>;
}

impl<T: Record> JournalTable for Table<T> {
    fn take_changes(&mut self) -> serde_json::Result<Vec<RowChange>> {
        Table::take_changes(self)
    }
    fn forget_changes(&mut self) {
        Table::forget_changes(self)
    }
    fn replay(&mut self, id: String, row: Option<Value>) -> serde_json::Result<()> {
        Table::replay(self, id, row)
    }
}

/// Each field outside tables ("service.field") as last journaled.
type LastRest = std::collections::HashMap<String, Vec<u8>>;

/// One journal line: what one request (or a few, interleaved) changed.
#[derive(Default, Serialize, Deserialize)]
struct Line {
    /// (service.table, id, row or null when deleted)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rows: Vec<(String, String, Option<Value>)>,
    /// (service.field, value) of the fields outside tables that changed
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rest: Vec<(String, Value)>,
}

impl Line {
    fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.rest.is_empty()
    }
}

impl World {
    fn services(&mut self) -> [(&'static str, &mut dyn Journaled); 5] {
        [
            ("identity", &mut self.identity),
            ("compute", &mut self.compute),
            ("network", &mut self.network),
            ("image", &mut self.image),
            ("block_storage", &mut self.block_storage),
        ]
    }

    /// What changed since the last call; `last_rest` holds each field outside tables as last
    /// journaled, and is updated.
    fn take_line(&mut self, last_rest: &mut LastRest) -> serde_json::Result<Line> {
        let mut line = Line::default();
        for (service, data) in self.services() {
            for (table, rows) in data.tables() {
                for (id, row) in rows.take_changes()? {
                    line.rows.push((format!("{service}.{table}"), id, row));
                }
            }
            for (field, bytes) in data.rest()? {
                let name = format!("{service}.{field}");
                if last_rest.get(&name) != Some(&bytes) {
                    line.rest
                        .push((name.clone(), serde_json::from_slice(&bytes)?));
                    last_rest.insert(name, bytes);
                }
            }
        }
        Ok(line)
    }

    /// For a cloud kept in memory only: nothing will be journaled.
    pub(super) fn forget_changes(&mut self) {
        for (_, data) in self.services() {
            for (_, rows) in data.tables() {
                rows.forget_changes();
            }
        }
    }

    fn replay(&mut self, line: Line) -> Result<(), String> {
        for (name, id, row) in line.rows {
            let (service, table) = name.split_once('.').unwrap_or((&name, ""));
            let target = self
                .services()
                .into_iter()
                .find(|(s, _)| *s == service)
                .and_then(|(_, data)| data.tables().into_iter().find(|(t, _)| *t == table))
                .map(|(_, rows)| rows.replay(id, row));
            match target {
                Some(result) => result.map_err(|e| format!("{name}: {e}"))?,
                None => return Err(format!("unknown table {name}")),
            }
        }
        for (name, value) in line.rest {
            let (service, field) = name.split_once('.').unwrap_or((&name, ""));
            let target = self
                .services()
                .into_iter()
                .find(|(s, _)| *s == service)
                .map(|(_, data)| data.replay_rest(field, value));
            match target {
                Some(result) => result.map_err(|e| format!("{name}: {e}"))?,
                None => return Err(format!("unknown service {service}")),
            }
        }
        Ok(())
    }
}

/// The open journal of a data folder.
pub(super) struct Journal {
    dir: PathBuf,
    inner: Arc<Mutex<Writer>>,
}

struct Writer {
    file: File,
    /// Bytes in the journal files since the snapshot.
    journaled: u64,
    /// Size of the last snapshot.
    snapshot: u64,
    last_rest: LastRest,
    /// The compaction writing a snapshot in the background, if one is; it answers the new
    /// snapshot's size.
    compaction: Option<std::thread::JoinHandle<Result<u64, SimError>>>,
    /// A compaction failed: no other is tried until the next open.
    compaction_failed: bool,
    /// A threshold a test set instead of the snapshot's size.
    forced_threshold: Option<u64>,
    closed: bool,
}

/// What a request must still do after the world lock is released: write its line.
pub(super) struct PendingWrite<'a> {
    writer: std::sync::MutexGuard<'a, Writer>,
    bytes: Vec<u8>,
    dir: &'a Path,
}

impl Journal {
    /// Opens the data folder's World: the snapshot (or `seed` when there is none), with the
    /// journals replayed, then written back as a fresh snapshot and an empty journal.
    pub(super) fn open(
        dir: &Path,
        seed: impl FnOnce() -> World,
    ) -> Result<(World, Journal), SimError> {
        let snapshot_path = dir.join(STATE_FILE);
        let mut world = match std::fs::read(&snapshot_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SimError::Corrupt {
                path: snapshot_path.clone(),
                source,
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => seed(),
            Err(source) => {
                return Err(SimError::Io {
                    path: snapshot_path,
                    source,
                });
            }
        };
        for name in [JOURNAL_FILE, NEXT_JOURNAL_FILE] {
            replay_file(&mut world, &dir.join(name))?;
        }
        let mut last_rest = LastRest::new();
        // Everything is in the snapshot written next: nothing is pending for the journal.
        world
            .take_line(&mut last_rest)
            .map_err(|e| io_error(&snapshot_path, e))?;
        let bytes = serde_json::to_vec(&world).map_err(|e| io_error(&snapshot_path, e))?;
        write_atomically(&snapshot_path, &bytes)?;
        let file = create_private(&dir.join(JOURNAL_FILE))?;
        remove_if_present(&dir.join(NEXT_JOURNAL_FILE))?;
        let inner = Arc::new(Mutex::new(Writer {
            file,
            journaled: 0,
            snapshot: bytes.len() as u64,
            last_rest,
            compaction: None,
            compaction_failed: false,
            forced_threshold: forced_compaction_threshold(),
            closed: false,
        }));
        spawn_syncer(Arc::downgrade(&inner));
        Ok((
            world,
            Journal {
                dir: dir.to_path_buf(),
                inner,
            },
        ))
    }

    /// Takes what changed in `world` (called with the world lock held) and returns the write
    /// to finish once that lock is released. Holding the journal's lock from here until the
    /// write keeps lines in the order the changes were taken, and makes a request whose
    /// changes another request took wait until they are written.
    pub(super) fn take(&self, world: &mut World) -> Result<PendingWrite<'_>, SimError> {
        let mut writer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let path = self.dir.join(JOURNAL_FILE);
        let line = world
            .take_line(&mut writer.last_rest)
            .map_err(|e| io_error(&path, e))?;
        let mut bytes = Vec::new();
        if !line.is_empty() && !writer.closed {
            bytes = serde_json::to_vec(&line).map_err(|e| io_error(&path, e))?;
            bytes.push(b'\n');
            let grown = writer.journaled + bytes.len() as u64;
            if grown > writer.compaction_threshold()
                && !writer.compaction_failed
                && !compacting(&mut writer)
            {
                // Every line before this one is written (they were written holding this
                // lock): `cloud.journal` is complete, and this line starts the next one.
                if let Err(err) = start_compaction(&mut writer, &self.dir) {
                    compaction_failed(&mut writer, &err);
                }
            }
        }
        Ok(PendingWrite {
            writer,
            bytes,
            dir: &self.dir,
        })
    }

    /// The clean stop: waits for a running compaction, writes the World as the snapshot
    /// (fsynced) and removes the journals. Later writes are not journaled.
    pub(super) fn close(&self, world: &World) -> Result<(), SimError> {
        let mut writer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if writer.closed {
            return Ok(());
        }
        writer.closed = true;
        // The World in memory is the whole truth: whatever the running compaction did, the
        // snapshot written next supersedes it.
        if let Some(running) = writer.compaction.take()
            && let Err(err) = join(running)
        {
            tracing::warn!(error = %err, "embedded cloud compaction failed before the stop");
        }
        let path = self.dir.join(STATE_FILE);
        let bytes = serde_json::to_vec(world).map_err(|e| io_error(&path, e))?;
        write_atomically(&path, &bytes)?;
        remove_if_present(&self.dir.join(JOURNAL_FILE))?;
        remove_if_present(&self.dir.join(NEXT_JOURNAL_FILE))
    }
}

impl PendingWrite<'_> {
    /// Hands the line to the OS: from here it survives the process being killed.
    pub(super) fn finish(mut self) -> Result<(), SimError> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.bytes);
        self.writer
            .file
            .write_all(&bytes)
            .map_err(|source| SimError::Io {
                path: self.dir.join(JOURNAL_FILE),
                source,
            })?;
        self.writer.journaled += bytes.len() as u64;
        Ok(())
    }
}

/// Whether a compaction is still running; collects a finished one (logging its error).
fn compacting(writer: &mut Writer) -> bool {
    match writer.compaction.take() {
        None => false,
        Some(running) if running.is_finished() => {
            match join(running) {
                Ok(size) => writer.snapshot = size,
                Err(err) => compaction_failed(writer, &err),
            }
            false
        }
        Some(running) => {
            writer.compaction = Some(running);
            true
        }
    }
}

/// A failed compaction loses nothing (the snapshot and both journals still hold it all, and
/// opening replays them), but another one could empty `cloud.journal.next` while it is the
/// only copy of recent lines: the journal just grows until the next open.
fn compaction_failed(writer: &mut Writer, err: &SimError) {
    tracing::error!(error = %err, "embedded cloud could not compact its journal; it stops trying");
    writer.compaction_failed = true;
}

fn join(running: std::thread::JoinHandle<Result<u64, SimError>>) -> Result<u64, SimError> {
    running.join().unwrap_or_else(|_| {
        Err(SimError::Io {
            path: PathBuf::from(STATE_FILE),
            source: std::io::Error::other("the compaction thread panicked"),
        })
    })
}

fn start_compaction(writer: &mut Writer, dir: &Path) -> Result<(), SimError> {
    let next = dir.join(NEXT_JOURNAL_FILE);
    writer.file = create_private(&next)?;
    // Until the compaction answers, the snapshot is about as large as what it folds in.
    writer.snapshot += writer.journaled;
    writer.journaled = 0;
    let dir = dir.to_path_buf();
    writer.compaction = Some(std::thread::spawn(move || {
        let snapshot_path = dir.join(STATE_FILE);
        let journal = dir.join(JOURNAL_FILE);
        let bytes = std::fs::read(&snapshot_path).map_err(|source| SimError::Io {
            path: snapshot_path.clone(),
            source,
        })?;
        let mut world: World =
            serde_json::from_slice(&bytes).map_err(|source| SimError::Corrupt {
                path: snapshot_path.clone(),
                source,
            })?;
        replay_file(&mut world, &journal)?;
        let bytes = serde_json::to_vec(&world).map_err(|e| io_error(&snapshot_path, e))?;
        write_atomically(&snapshot_path, &bytes)?;
        // Appends continue on the open file whatever its name.
        std::fs::rename(&next, &journal).map_err(|source| SimError::Io {
            path: journal,
            source,
        })?;
        sync_dir(&dir)?;
        Ok(bytes.len() as u64)
    }));
    Ok(())
}

/// Fsyncs the journal every [`SYNC_INTERVAL`] while the journal lives.
fn spawn_syncer(writer: Weak<Mutex<Writer>>) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(SYNC_INTERVAL);
            let Some(writer) = writer.upgrade() else {
                return;
            };
            // Cloning the handle lets the fsync run without holding the journal's lock.
            let file = {
                let writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
                if writer.closed {
                    return;
                }
                writer.file.try_clone()
            };
            drop(writer);
            if let Ok(file) = file
                && let Err(err) = file.sync_data()
            {
                tracing::warn!(error = %err, "embedded cloud could not fsync its journal");
            }
        }
    });
}

/// Applies every complete line of a journal file, if the file exists.
fn replay_file(world: &mut World, path: &Path) -> Result<(), SimError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SimError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut lines = std::io::BufReader::new(file).split(b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.map_err(|source| SimError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let last = lines.peek().is_none();
        match serde_json::from_slice::<Line>(&line) {
            Ok(line) => world
                .replay(line)
                .map_err(|e| io_error(path, std::io::Error::other(e)))?,
            // The process died while writing this line: it was never acknowledged.
            Err(_) if last => {}
            Err(source) => {
                return Err(SimError::Corrupt {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    Ok(())
}

fn io_error(path: &Path, err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SimError {
    SimError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(err),
    }
}

/// Creates (or empties) an owner-only file for appending.
fn create_private(path: &Path) -> Result<File, SimError> {
    let mut options = File::options();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|source| SimError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn remove_if_present(path: &Path) -> Result<(), SimError> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(SimError::Io {
            path: path.to_path_buf(),
            source: err,
        }),
        _ => Ok(()),
    }
}

/// Writes `bytes` as `path` atomically and durably: a temp file, fsync, rename, fsync of the
/// folder.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    let temp = path.with_extension("json.tmp");
    let io = |source| SimError::Io {
        path: temp.clone(),
        source,
    };
    let mut file = create_private(&temp)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temp, path).map_err(|source| SimError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), SimError> {
    // Directories cannot be opened for fsync everywhere; where they can, the rename is made
    // durable too.
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    let _ = dir;
    Ok(())
}
