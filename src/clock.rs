//! The current time as a dependency, so tests can fix it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// A clock stopped at `instant`.
pub fn fixed_clock(instant: DateTime<Utc>) -> Clock {
    Arc::new(move || instant)
}
