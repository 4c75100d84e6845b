//! Keyset pages as plain data: what a list asks the repository for, and what it gets back.

/// Which way a list is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// A validated request for one page of a list ordered by a key `K`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeysetPage<K> {
    pub after: Option<K>,
    pub before: Option<K>,
    pub limit: u64,
    /// `last`/`before` paging: take the `limit` rows nearest the end.
    pub from_end: bool,
}

/// One page of rows, in list order, and whether rows exist beyond each end.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<K> KeysetPage<K> {
    pub fn first(limit: u64) -> Self {
        Self {
            after: None,
            before: None,
            limit,
            from_end: false,
        }
    }

    /// Builds the page from `limit + 1` fetched rows: the extra row, if any, only proves there is more.
    pub fn page_from<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        if self.from_end {
            if more {
                rows.drain(..rows.len() - limit);
            }
            Page {
                items: rows,
                has_previous: more,
                // A `before` cursor names a row, so rows follow this page unless that row was since deleted.
                has_next: self.before.is_some(),
            }
        } else {
            rows.truncate(limit);
            Page {
                items: rows,
                has_previous: self.after.is_some(),
                has_next: more,
            }
        }
    }

    pub fn map_key<L>(self, map: impl Fn(K) -> L) -> KeysetPage<L> {
        KeysetPage {
            after: self.after.map(&map),
            before: self.before.map(&map),
            limit: self.limit,
            from_end: self.from_end,
        }
    }
}

/// Groups per-parent rows (already in parent, then id order) into one page per parent; every parent asked for
/// gets a page, empty when it has no rows.
pub fn pages_by_parent<T>(
    parents: &[i32],
    rows: Vec<T>,
    parent_of: impl Fn(&T) -> i32,
    page: &KeysetPage<i32>,
) -> std::collections::HashMap<i32, Page<T>> {
    let mut grouped: std::collections::HashMap<i32, Vec<T>> =
        parents.iter().map(|parent| (*parent, Vec::new())).collect();
    for row in rows {
        grouped.entry(parent_of(&row)).or_default().push(row);
    }
    grouped
        .into_iter()
        .map(|(parent, rows)| (parent, page.page_from(rows)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_page_drops_the_probe_row_and_reports_more() {
        let page = KeysetPage::<i32>::first(2).page_from(vec![1, 2, 3]);
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.has_next);
        assert!(!page.has_previous);
    }

    #[test]
    fn backward_page_keeps_the_rows_nearest_the_end() {
        let request = KeysetPage {
            after: None,
            before: Some(10),
            limit: 2,
            from_end: true,
        };
        let page = request.page_from(vec![7, 8, 9]);
        assert_eq!(page.items, vec![8, 9]);
        assert!(page.has_previous);
        assert!(page.has_next);
    }
}
