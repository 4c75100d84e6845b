//! On SQLite, whether anyone committed to the database since a point, told by reading shared memory instead of
//! running a query: what lets a strict cache's hit skip the epoch read while nothing is written.
//!
//! In WAL mode every connection to a database file, in this process or another, shares the wal-index: the `-shm`
//! file beside the database, which each of them maps into memory. Its first 96 bytes are two copies of the
//! wal-index header, which a commit rewrites (its frame count, checksums and change counter) before it returns.
//! So if the header reads the same as it did before an epoch read was sent, nothing has committed since, and that
//! read's answer is still the current epoch. The layout is SQLite's documented wal-index format
//! (<https://www.sqlite.org/walformat.html>, "The WAL-Index Header"), which processes linked against different
//! SQLite versions must share, so it does not change between versions.
//!
//! The watch is trusted only once it has seen its own probe write change the header: with a VFS or locking mode
//! that keeps the wal-index in private memory, a `-shm` file left by an earlier run would never change, and the
//! cache would serve stale answers. What it cannot see: a database file swapped under the running server (every
//! connection of the server would be on the old file too), and a header that returns to a value it had, which
//! takes SQLite's recovery of the wal-index twice over an emptied log between two epoch reads.

use std::{
    fs::File,
    mem::ManuallyDrop,
    sync::{
        Mutex, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use sea_orm::{
    DatabaseBackend, DatabaseConnection,
    sqlx::{self, ConnectOptions, Connection, SqliteConnection},
};

/// The two 48-byte copies of the header.
const HEADER_BYTES: usize = 96;
/// `iVersion`, the first field of each copy.
const WAL_INDEX_VERSION: u32 = 3_007_000;

type Header = [u8; HEADER_BYTES];

/// The database's wal-index header, and its value when the cache last learned the epoch.
pub struct CommitWatch {
    /// Read with `pread`, not mapped: the crate forbids `unsafe`, and one system call is far cheaper than the epoch
    /// read it replaces. A mapped file and `read` see the same pages, so a commit written through SQLite's map is
    /// in what this reads. Never closed: SQLite's locks on the wal-index are POSIX record locks, which the kernel
    /// drops for the whole process when any of its descriptors for the file closes, SQLite's own connections'
    /// included; SQLite defers its own closes for that reason, and cannot know of this one.
    shm: ManuallyDrop<File>,
    verified: RwLock<Option<Header>>,
    /// Keeps the database open while the header is trusted. SQLite deletes the `-shm` file when the last connection
    /// to the database closes, and the next connection makes a new one that `shm` would never see; the pool alone
    /// does not promise to keep a connection open (it replaces old and idle ones). Closed at shutdown, so that the
    /// pool's last connection still folds the log into the database file.
    holder: Mutex<Option<SqliteConnection>>,
    closed: AtomicBool,
}

impl CommitWatch {
    /// Watches the database behind `db` if it is a SQLite file in WAL mode whose wal-index its commits visibly
    /// change. Otherwise (PostgreSQL, an in-memory database, another journal mode or VFS, a read-only file) the
    /// cache reads the epoch for every wave of requests: for good, or until a later try if another writer held
    /// the database through the probe.
    pub async fn open(db: &DatabaseConnection) -> Result<Self, Unwatched> {
        if db.get_database_backend() != DatabaseBackend::Sqlite {
            return Err(Unwatched::Never);
        }
        match Self::try_open(db).await {
            Ok(watch) => {
                tracing::info!("the response cache reads the epoch only after a commit (SQLite's wal-index)");
                Ok(watch)
            }
            Err((Unwatched::Busy, why)) => {
                tracing::warn!(%why, "the response cache reads the epoch for every wave of requests until the database is free");
                Err(Unwatched::Busy)
            }
            Err((Unwatched::Never, why)) => {
                tracing::info!(%why, "the response cache reads the epoch for every wave of requests");
                Err(Unwatched::Never)
            }
        }
    }

    async fn try_open(db: &DatabaseConnection) -> Result<Self, (Unwatched, String)> {
        let mut holder = db
            .get_sqlite_connection_pool()
            .connect_options()
            .connect()
            .await
            .map_err(|error| (Unwatched::Never, format!("cannot open a connection: {error}")))?;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut holder)
            .await
            .map_err(never)?;
        let path: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&mut holder)
            .await
            .map_err(never)?;
        if path.is_empty() || !mode.eq_ignore_ascii_case("wal") {
            return Err((
                Unwatched::Never,
                format!("the database is not a file in WAL mode (journal mode {mode})"),
            ));
        }
        // A read maps the wal-index (creating it if this is the first connection), so the file exists from here on
        // for as long as `holder` is open.
        sqlx::query("SELECT count(*) FROM sqlite_schema")
            .execute(&mut holder)
            .await
            .map_err(never)?;
        let shm = File::open(format!("{path}-shm"))
            .map(ManuallyDrop::new)
            .map_err(|error| (Unwatched::Never, format!("cannot read the wal-index: {error}")))?;
        let before = read_header(&shm).filter(looks_like_a_wal_index);
        // Start-up must not wait long behind another process's write (an import): the next try is later.
        sqlx::query("PRAGMA busy_timeout = 1000")
            .execute(&mut holder)
            .await
            .map_err(never)?;
        // A write that touches no tag (caches that read the new epoch find nothing to drop); SQLite skips writing a
        // row that does not change, so it moves the epoch. Its commit must change the header.
        sqlx::query("UPDATE cache_epoch SET epoch = epoch + 1 WHERE id = 1")
            .execute(&mut holder)
            .await
            .map_err(|error| (Unwatched::after(&error), format!("cannot write the probe: {error}")))?;
        let after = read_header(&shm).filter(looks_like_a_wal_index);
        if before.is_none() || after.is_none() || before == after {
            return Err((Unwatched::Never, "a commit did not show in the wal-index".into()));
        }
        Ok(Self {
            shm,
            verified: RwLock::new(None),
            holder: Mutex::new(Some(holder)),
            closed: AtomicBool::new(false),
        })
    }

    /// The header as it is now, if it can be read. A commit that returned before this call is in it; one in
    /// progress may be torn across it, which only makes it differ from every value it had (and costs an epoch
    /// read).
    pub fn header(&self) -> Option<Header> {
        read_header(&self.shm)
    }

    /// Records that an epoch read sent after `seen` was taken has been applied.
    pub fn verified(&self, seen: Option<Header>) {
        *self.verified.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = seen;
    }

    /// True if nothing has committed since the last epoch read was sent: the cache is as fresh as that read left it.
    pub fn unchanged(&self) -> bool {
        let Some(now) = self.header() else {
            return false;
        };
        // Checked after the read: once closed, the file may be one SQLite no longer uses.
        !self.closed.load(Ordering::Acquire)
            && *self.verified.read().unwrap_or_else(|poisoned| poisoned.into_inner()) == Some(now)
    }

    /// Stops trusting the header and closes the held connection (at shutdown, before the pool closes).
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let holder = self
            .holder
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(holder) = holder
            && let Err(error) = holder.close().await
        {
            tracing::warn!(%error, "closing the response cache's SQLite connection");
        }
    }
}

/// Why the wal-index is not watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unwatched {
    /// Not a SQLite file in WAL mode whose commits show in its wal-index.
    Never,
    /// Another writer held the database through the probe: worth another try.
    Busy,
}

impl Unwatched {
    fn after(error: &sqlx::Error) -> Self {
        const SQLITE_BUSY: i32 = 5;
        const SQLITE_LOCKED: i32 = 6;
        let primary = error
            .as_database_error()
            .and_then(|error| error.code())
            .and_then(|code| code.parse::<i32>().ok())
            .map(|code| code & 0xff);
        match primary {
            Some(SQLITE_BUSY | SQLITE_LOCKED) => Self::Busy,
            _ => Self::Never,
        }
    }
}

fn never(error: sqlx::Error) -> (Unwatched, String) {
    (Unwatched::Never, error.to_string())
}

#[cfg(unix)]
fn read_header(shm: &File) -> Option<Header> {
    use std::os::unix::fs::FileExt;
    let mut header = [0; HEADER_BYTES];
    shm.read_exact_at(&mut header, 0).ok()?;
    Some(header)
}

/// Elsewhere the record locks above are not known to be safe to share: the cache reads the epoch.
#[cfg(not(unix))]
fn read_header(_: &File) -> Option<Header> {
    None
}

fn looks_like_a_wal_index(header: &Header) -> bool {
    let version = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
    let initialised = header[12] == 1;
    version == WAL_INDEX_VERSION && initialised
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database};

    use super::*;

    fn url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}", dir.path().join("watched.db").display())
    }

    async fn sqlite_file(dir: &tempfile::TempDir) -> DatabaseConnection {
        let (db, _) = crate::db::connect(&url(dir), 4).await.expect("connect");
        crate::db::migrate_up(&db).await.expect("migrations");
        db.execute_unprepared("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
            .await
            .expect("create");
        db
    }

    /// A watched database file with a `notes` table, and its watch.
    async fn watched(dir: &tempfile::TempDir) -> (DatabaseConnection, CommitWatch) {
        let db = sqlite_file(dir).await;
        let watch = CommitWatch::open(&db).await.expect("a WAL database is watched");
        (db, watch)
    }

    #[tokio::test]
    async fn a_commit_from_another_connection_changes_the_header_and_a_read_does_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, watch) = watched(&dir).await;
        assert!(!watch.unchanged(), "nothing is verified before the first epoch read");
        watch.verified(watch.header());
        assert!(watch.unchanged());

        db.execute_unprepared("SELECT count(*) FROM notes").await.expect("read");
        assert!(watch.unchanged(), "a read commits nothing");

        // Another pool is another set of connections, as another process would be.
        let (other, _) = crate::db::connect(&url(&dir), 1).await.expect("connect");
        other
            .execute_unprepared("INSERT INTO notes (text) VALUES ('written elsewhere')")
            .await
            .expect("write");
        assert!(!watch.unchanged(), "a commit elsewhere is seen");
        watch.verified(watch.header());
        assert!(watch.unchanged());

        db.execute_unprepared("UPDATE notes SET text = 'written here'")
            .await
            .expect("write");
        assert!(!watch.unchanged(), "a commit through the watched pool is seen");
    }

    #[tokio::test]
    async fn the_header_stays_the_same_file_after_every_pooled_connection_closes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, watch) = watched(&dir).await;
        db.close().await.expect("close the pool");
        watch.verified(watch.header());

        let (reopened, _) = crate::db::connect(&url(&dir), 1).await.expect("connect again");
        reopened
            .execute_unprepared("INSERT INTO notes (text) VALUES ('after the pool closed')")
            .await
            .expect("write");
        assert!(
            !watch.unchanged(),
            "the watch's own connection kept the wal-index in place, so the new pool's commit is in it"
        );
    }

    #[tokio::test]
    async fn a_closed_watch_is_never_trusted_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_db, watch) = watched(&dir).await;
        watch.close().await;
        watch.verified(watch.header());
        assert!(!watch.unchanged());
    }

    #[tokio::test]
    async fn once_closed_the_pools_last_connection_folds_the_log_into_the_database_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, watch) = watched(&dir).await;
        db.execute_unprepared("INSERT INTO notes (text) VALUES ('to be checkpointed')")
            .await
            .expect("write");
        let log = dir.path().join("watched.db-wal");
        assert!(log.exists());
        watch.close().await;
        db.close().await.expect("close the pool");
        assert!(
            !log.exists(),
            "the last connection to close checkpoints and deletes the log"
        );
    }

    #[tokio::test]
    async fn a_probe_that_finds_another_writer_holding_the_database_is_worth_another_try() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sqlite_file(&dir).await;
        let mut writer = db.get_sqlite_connection_pool().acquire().await.expect("a connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *writer)
            .await
            .expect("begin");
        assert_eq!(CommitWatch::open(&db).await.err(), Some(Unwatched::Busy));
        sqlx::query("COMMIT").execute(&mut *writer).await.expect("commit");
        assert!(CommitWatch::open(&db).await.is_ok());
    }

    #[tokio::test]
    async fn databases_without_a_wal_index_are_not_watched() {
        let memory = Database::connect("sqlite::memory:").await.expect("connect");
        assert_eq!(CommitWatch::open(&memory).await.err(), Some(Unwatched::Never));

        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = sea_orm::ConnectOptions::new(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("journaled.db").display()
        ));
        options.map_sqlx_sqlite_opts(|sqlite| sqlite.journal_mode(sqlx::sqlite::SqliteJournalMode::Delete));
        let journaled = Database::connect(options).await.expect("connect");
        journaled
            .execute_unprepared("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
            .await
            .expect("create");
        assert_eq!(CommitWatch::open(&journaled).await.err(), Some(Unwatched::Never));
    }
}
