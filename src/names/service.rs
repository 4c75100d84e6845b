//! Baby-name use-cases, in plain async Rust: the three ways to page, deletion, and the CSV import.

use std::{
    io::Read,
    num::NonZeroUsize,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use sea_orm::{DatabaseConnection, TransactionTrait};

use super::{
    import::{BadRow, NamesCsv},
    model::{
        BabyName, IndexPage, NameFilter, NameOrder, NamePosition, NewBabyName, NumberedPage, PageNumber, PageSize,
        StartIndex,
    },
    repo,
};
use crate::{
    cache::{Admission, Cache, CacheStats, Capacity, Policy},
    error::{AppError, AppResult},
    freshness::{Invalidations, Tags},
    pagination::{KeysetPage, Page},
};

/// The cache tag of the names dataset (see `freshness`): every import and deletion touches it.
fn names_tag() -> Tags {
    Tags::of(&["BabyName"])
}

/// Rows per INSERT and per transaction: 8 bound parameters a row keeps a statement under SQLite's limit of 32,766
/// (PostgreSQL allows 65,535), and a few thousand rows per commit make the commit's cost negligible.
pub const IMPORT_BATCH_ROWS: usize = 4_000;

/// Parsed batches waiting for the database: enough to keep both sides busy, few enough to bound memory.
const BATCHES_IN_FLIGHT: usize = 4;

/// Distinct filters whose counts are remembered by default (`ALX_NAME_COUNT_CACHE_CAPACITY`). A key is a
/// `NameFilter`, whose two texts are capped at `FILTER_NAME_MAX_CHARS` (64) characters, a few hundred bytes at most
/// even after case folding, so this count also bounds the cache's bytes: well under 1 MiB.
pub const DEFAULT_CACHED_COUNTS: usize = 1_024;

/// How an import ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows after the header, bad ones included.
    pub read: u64,
    pub imported: u64,
    /// Good rows whose index was already in the database (the same file imported again).
    pub already_present: u64,
    /// Bad rows, each reported as it was met.
    pub skipped: u64,
}

/// What an import reports while it runs.
#[derive(Debug)]
pub enum ImportEvent<'a> {
    BadRow(&'a BadRow),
    /// After each committed batch.
    Progress {
        bytes_read: u64,
        rows_read: u64,
    },
}

/// Rows parsed on the reading thread, committed together.
struct Batch {
    rows: Vec<NewBabyName>,
    bad: Vec<BadRow>,
    rows_read: i32,
    bytes_read: u64,
}

/// Counts by dataset version and filter, under the server's cache policy.
///
/// `babyNamesPage` needs the total on every request, and counting a million rows costs more than reading the page.
/// The version lives in the database and every import batch and every deletion raises it in the same transaction
/// as the change, so a count is found only while the data it counted is unchanged, even when the change came from
/// another process (the import command, another server). Counts of older versions are never asked for again, and
/// are dropped when a newer version is first seen: left to age out, they would outlast the new ones under LFU or
/// frequency admission, which favour what was used most. Checking costs one primary-key read per request.
type CountCache = Cache<(i64, NameFilter), u64>;

/// A count's estimated bytes, when its capacity is a size: the key, its texts and the table's share.
fn count_bytes((_, filter): &(i64, NameFilter), _: &u64) -> usize {
    size_of::<(i64, NameFilter, u64)>() + filter.text_bytes() + 32
}

#[derive(Clone)]
pub struct NamesService {
    db: DatabaseConnection,
    invalidations: Invalidations,
    counts: Arc<CountCache>,
    /// The newest dataset version a count was asked for.
    newest_version: Arc<AtomicI64>,
}

impl NamesService {
    /// With the default count cache: LRU, `DEFAULT_CACHED_COUNTS` filters.
    pub fn new(db: DatabaseConnection) -> Self {
        let capacity = Capacity::Entries(NonZeroUsize::new(DEFAULT_CACHED_COUNTS).expect("a positive constant"));
        let invalidations = Invalidations::new(&db);
        Self::with_count_cache(db, invalidations, Policy::Lru, Admission::Always, capacity)
    }

    pub fn with_count_cache(
        db: DatabaseConnection,
        invalidations: Invalidations,
        policy: Policy,
        admission: Admission,
        capacity: Capacity,
    ) -> Self {
        Self {
            db,
            invalidations,
            counts: Arc::new(Cache::with_weigher(policy, capacity, count_bytes).with_admission(admission)),
            newest_version: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// How many rows match `filter` in the dataset at `version`.
    async fn count_at(&self, filter: &NameFilter, version: i64) -> AppResult<u64> {
        if self.newest_version.fetch_max(version, Ordering::Relaxed) < version {
            self.counts.retain(|(counted_at, _), _| *counted_at >= version);
        }
        let key = (version, filter.clone());
        if let Some(count) = self.counts.get(&key) {
            return Ok(count);
        }
        let count = repo::count_names(&self.db, filter).await?;
        self.counts.put(key, count);
        Ok(count)
    }

    /// How many filters' counts are remembered now: what a client can grow, watched by the tests.
    pub fn cached_counts(&self) -> usize {
        usize::try_from(self.counts.stats().size).unwrap_or(usize::MAX)
    }

    /// The count cache's counters, for `cacheStats` and `/metrics`.
    pub fn count_cache_stats(&self) -> CacheStats {
        self.counts.stats()
    }

    pub async fn count(&self, filter: &NameFilter) -> AppResult<u64> {
        let dataset = repo::dataset(&self.db).await?;
        self.count_at(filter, dataset.version).await
    }

    /// Page `page` of the filtered rows in file order, with the total for the page arithmetic.
    #[tracing::instrument(skip(self))]
    pub async fn page(&self, filter: &NameFilter, page: PageNumber, size: PageSize) -> AppResult<NumberedPage> {
        let offset = (page.get() - 1).saturating_mul(size.get());
        let counted = async {
            let dataset = repo::dataset(&self.db).await?;
            let total_count = self.count_at(filter, dataset.version).await?;
            AppResult::Ok((dataset, total_count))
        };
        if offset == 0 {
            // The first page needs neither the count nor the dataset row to find its rows, so both are read at
            // once: the most asked-for page costs one round trip to the database, not two.
            let ((_, total_count), items) = tokio::try_join!(counted, async {
                Ok(repo::names_at_offset(&self.db, filter, 0, size.get()).await?)
            })?;
            return Ok(NumberedPage {
                page: page.get(),
                page_size: size.get(),
                total_count,
                items,
            });
        }
        let (dataset, total_count) = counted.await?;
        let items = if offset >= total_count {
            Vec::new()
        } else if filter.is_empty() && u64::try_from(dataset.size).is_ok_and(|rows| rows == total_count) {
            // No row is missing from the file, so position and index coincide: a range of the unique index,
            // as cheap on the last page as on the first, instead of an OFFSET that walks every row before it.
            let start = i32::try_from(offset).map_err(anyhow::Error::new)?;
            let end = i32::try_from(offset + size.get()).unwrap_or(i32::MAX);
            repo::names_in_index_range(&self.db, start, end).await?
        } else {
            repo::names_at_offset(&self.db, filter, offset, size.get()).await?
        };
        Ok(NumberedPage {
            page: page.get(),
            page_size: size.get(),
            total_count,
            items,
        })
    }

    /// Up to `size` filtered rows from the file index `start` on. `index_field` names the argument in the error
    /// for a start outside the file.
    #[tracing::instrument(skip(self))]
    pub async fn from_index(
        &self,
        filter: &NameFilter,
        index_field: &str,
        start: i32,
        size: PageSize,
    ) -> AppResult<IndexPage> {
        let dataset = repo::dataset(&self.db).await?;
        let start = StartIndex::parse(index_field, start, dataset.size)?;
        let mut items = repo::names_from_index(&self.db, filter, start.get(), size.get() + 1).await?;
        // The extra row only proves that more follow. The next page starts just past this page's last row rather
        // than at that extra row, so that it stays right whatever is deleted in between.
        let more = items.len() as u64 > size.get();
        items.truncate(size.get() as usize);
        let next_index = if more {
            items.last().map(|last| last.index + 1)
        } else {
            None
        };
        Ok(IndexPage {
            index: start.get(),
            next_index,
            items,
        })
    }

    /// One keyset page of the filtered rows in `order`.
    #[tracing::instrument(skip(self))]
    pub async fn list(
        &self,
        filter: &NameFilter,
        order: NameOrder,
        page: &KeysetPage<NamePosition>,
    ) -> AppResult<Page<BabyName>> {
        Ok(repo::list_names(&self.db, filter, order, page).await?)
    }

    pub async fn names_by_ids(&self, ids: &[i32]) -> AppResult<Vec<BabyName>> {
        Ok(repo::find_names(&self.db, ids).await?)
    }

    /// Deletes one row; `NOT_FOUND` on `id_field` when no row has that id.
    #[tracing::instrument(skip(self))]
    pub async fn delete(&self, id: i32, id_field: &str) -> AppResult<()> {
        let txn = self.db.begin().await?;
        if !repo::delete_name(&txn, id).await? {
            return Err(AppError::NotFound {
                field: Some(id_field.to_string()),
            });
        }
        repo::record_change(&txn, 0).await?;
        self.invalidations.touch(&txn, names_tag()).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Imports the rows of `csv` in batched transactions. Rows whose index is already stored are left as they are,
    /// so importing a file twice adds nothing; `replace` deletes every row first. Bad rows are reported through
    /// `observe` and skipped.
    #[tracing::instrument(skip_all, fields(replace))]
    pub async fn import<R: Read + Send + 'static>(
        &self,
        csv: NamesCsv<R>,
        replace: bool,
        mut observe: impl FnMut(ImportEvent<'_>),
    ) -> AppResult<ImportSummary> {
        let (sender, mut batches) = tokio::sync::mpsc::channel(BATCHES_IN_FLIGHT);
        // Parsing runs on its own thread, so that it overlaps with the inserts instead of waiting for them.
        let reading = tokio::task::spawn_blocking(move || read_batches(csv, &sender));
        if replace {
            let txn = self.db.begin().await?;
            repo::clear(&txn).await?;
            self.invalidations.touch(&txn, names_tag()).await?;
            txn.commit().await?;
        }
        let mut summary = ImportSummary::default();
        while let Some(batch) = batches.recv().await {
            let batch: Batch = batch?;
            for bad in &batch.bad {
                observe(ImportEvent::BadRow(bad));
            }
            let txn = self.db.begin().await?;
            let inserted = repo::insert_names(&txn, &batch.rows).await?;
            repo::record_change(&txn, batch.rows_read).await?;
            self.invalidations.touch(&txn, names_tag()).await?;
            txn.commit().await?;
            summary.read = u64::try_from(batch.rows_read).unwrap_or_default();
            summary.imported += inserted;
            summary.already_present += batch.rows.len() as u64 - inserted;
            summary.skipped += batch.bad.len() as u64;
            observe(ImportEvent::Progress {
                bytes_read: batch.bytes_read,
                rows_read: summary.read,
            });
        }
        reading
            .await
            .map_err(|error| AppError::Internal(anyhow::Error::new(error).context("the CSV reading thread")))?;
        if summary.imported > 0 || replace {
            repo::analyze(&self.db).await?;
        }
        Ok(summary)
    }
}

/// Reads the whole file into batches; stops early when the receiving side has given up.
fn read_batches<R: Read>(mut csv: NamesCsv<R>, sender: &tokio::sync::mpsc::Sender<AppResult<Batch>>) {
    loop {
        let mut batch = Batch {
            rows: Vec::with_capacity(IMPORT_BATCH_ROWS),
            bad: Vec::new(),
            rows_read: 0,
            bytes_read: 0,
        };
        let mut finished = false;
        while batch.rows.len() + batch.bad.len() < IMPORT_BATCH_ROWS {
            match csv.next_row() {
                Ok(Some(Ok(row))) => batch.rows.push(row),
                Ok(Some(Err(bad))) => batch.bad.push(bad),
                Ok(None) => {
                    finished = true;
                    break;
                }
                Err(error) => {
                    let _ = sender.blocking_send(Err(error));
                    return;
                }
            }
        }
        batch.rows_read = csv.rows_read();
        batch.bytes_read = csv.bytes_read();
        let empty = batch.rows.is_empty() && batch.bad.is_empty();
        if (!empty && sender.blocking_send(Ok(batch)).is_err()) || finished {
            return;
        }
    }
}
