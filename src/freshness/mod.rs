//! What lets cached answers never be stale: every write that changes cacheable data touches its tags (the GraphQL
//! type names it changed) in its own transaction, and readers can ask which tags changed since a point.
//!
//! One counter, the epoch, orders all such writes: a write increments it under its row lock, which it holds until
//! it commits, so writes commit in epoch order and "the epoch is E" means every write up to E has committed. Each
//! tag remembers the epoch of its last change. On PostgreSQL the write also notifies `alx_cache` (delivered at
//! commit to every server), so caches evict early; the epoch read is what makes a hit safe, unless the server holds
//! a read lease (`lease`), which no write can commit without breaking (`fence`).

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, RuntimeErr, Statement, sqlx,
};
use serde::{Deserialize, Serialize};

use crate::db::StatementCounter;

mod fence;
mod lease;
mod wal_index;

pub use fence::Invalidations;
pub use lease::{HELD as LEASE_HELD, LEASE_KEY, LEASE_TTL, ReadLease};
pub use wal_index::{CommitWatch, Unwatched};

/// The types whose data a cached answer may hold, as GraphQL names them. A tag is one bit, so an answer's tags and
/// a write's tags compare in one instruction.
pub const TAGS: [&str; 6] = ["BabyName", "Event", "Product", "Reservation", "SeatReservation", "User"];

/// A set of tags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tags(u64);

impl Tags {
    pub const NONE: Self = Self(0);

    pub fn of(names: &[&str]) -> Self {
        names
            .iter()
            .filter_map(|name| Self::named(name))
            .fold(Self::NONE, Self::union)
    }

    /// The tag named exactly `name`.
    pub fn named(name: &str) -> Option<Self> {
        TAGS.iter().position(|tag| *tag == name).map(|index| Self(1 << index))
    }

    /// The tag a GraphQL type's data belongs to: `Product`, `ProductConnection` and `ProductEdge` are `Product`.
    pub fn of_type(type_name: &str) -> Option<Self> {
        TAGS.iter()
            .position(|tag| type_name.starts_with(tag))
            .map(|index| Self(1 << index))
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    pub fn bits(self) -> u64 {
        self.0
    }

    pub fn from_bits(bits: u64) -> Self {
        Self(bits & ((1 << TAGS.len()) - 1))
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        TAGS.iter()
            .enumerate()
            .filter(move |(index, _)| self.0 & (1 << index) != 0)
            .map(|(_, name)| *name)
    }
}

/// How the response cache learns of writes made elsewhere, or that it does not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreshnessMode {
    /// A shared read of the write epoch before every lookup: never stale, on any number of servers.
    Strict,
    /// Notifications alone: no read per request, stale for as long as a notification takes to arrive.
    Fast,
    /// No response cache: every answer is computed (to measure what the cache gives, or to rule it out).
    Off,
}

impl std::str::FromStr for FreshnessMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "strict" => Ok(Self::Strict),
            "fast" => Ok(Self::Fast),
            "off" => Ok(Self::Off),
            _ => Err(format!(
                "`{text}` is not a response cache mode: expected strict, fast or off"
            )),
        }
    }
}

/// What a notification on `alx_cache` says.
#[derive(Debug, Serialize, Deserialize)]
pub struct Touched {
    pub epoch: i64,
    pub tags: Vec<String>,
}

impl Touched {
    pub fn parse(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }

    pub fn tags(&self) -> Tags {
        self.tags.iter().fold(Tags::NONE, |tags, name| {
            tags.union(Tags::named(name).unwrap_or(Tags::NONE))
        })
    }
}

#[derive(FromQueryResult)]
struct TagEpoch {
    tag: String,
    epoch: i64,
}

/// The epoch of the last committed write. Read straight through sqlx: a strict cache reads it once per wave of
/// hits, and SeaORM's layers (statement, row model, the futures around them) cost as much of our CPU as the read.
pub async fn current_epoch(db: &DatabaseConnection, statements: &StatementCounter) -> Result<i64, DbErr> {
    const EPOCH: &str = "SELECT epoch FROM cache_epoch WHERE id = 1";
    let read = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            sqlx::query_scalar::<_, i64>(EPOCH)
                .fetch_optional(db.get_postgres_connection_pool())
                .await
        }
        DatabaseBackend::Sqlite => {
            sqlx::query_scalar::<_, i64>(EPOCH)
                .fetch_optional(db.get_sqlite_connection_pool())
                .await
        }
        _ => return Err(DbErr::Custom("the response cache needs PostgreSQL or SQLite".into())),
    };
    statements.record();
    read.map(|epoch| epoch.unwrap_or(0)).map_err(sqlx_error)
}

/// A failure of a statement run straight through sqlx, as SeaORM reports its own.
fn sqlx_error(error: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(error.into()))
}

/// The tags changed after `epoch`, with the epoch of each one's last change.
pub async fn changed_since(db: &impl ConnectionTrait, epoch: i64) -> Result<Vec<(Tags, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        "SELECT tag, epoch FROM cache_tags WHERE epoch > $1"
    } else {
        "SELECT tag, epoch FROM cache_tags WHERE epoch > ?"
    };
    let rows = TagEpoch::find_by_statement(Statement::from_sql_and_values(backend, sql, [epoch.into()]))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| Tags::named(&row.tag).map(|tags| (tags, row.epoch)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_types_connection_and_edge_share_its_tag() {
        assert_eq!(Tags::of_type("ProductConnection"), Tags::named("Product"));
        assert_eq!(Tags::of_type("BabyNameIndexPage"), Tags::named("BabyName"));
        assert_eq!(Tags::of_type("SeatReservationEdge"), Tags::named("SeatReservation"));
        assert_ne!(Tags::of_type("SeatReservation"), Tags::named("Reservation"));
        assert_eq!(Tags::of_type("Query"), None);
        assert_eq!(Tags::of_type("Job"), None);
    }

    #[test]
    fn tags_meet_only_when_they_share_one() {
        let product = Tags::of(&["Product"]);
        let both = Tags::of(&["Product", "Reservation"]);
        assert!(both.intersects(product));
        assert!(!Tags::of(&["Event"]).intersects(both));
        assert_eq!(both.names().collect::<Vec<_>>(), vec!["Product", "Reservation"]);
        assert_eq!(Tags::from_bits(u64::MAX).names().count(), TAGS.len());
    }
}
