//! Batches baby-name look-ups by id (for `node` and `nodes`): one query per request tick.

use super::{BabyName, NamesService};
use crate::graphql::by_id_loader;

by_id_loader!(BabyNameLoader, NamesService, BabyName, names_by_ids);
