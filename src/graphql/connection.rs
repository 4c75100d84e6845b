//! The one Relay connection helper every list uses: argument checks, opaque keyset cursors, cost.

use std::sync::Arc;

use async_graphql::{
    Enum, Object, OutputType,
    connection::{Connection, CursorType, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::errors::GqlResultExt;
use crate::{
    error::{AppError, Message},
    pagination::{Direction, KeysetPage, Page},
};

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// The direction of a list's `orderBy`, shared by every list that can be sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
#[graphql(name = "OrderDirection", remote = "Direction")]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// The complexity of a connection field: its children cost once per row it may return. Saturating, so that an
/// operator who raises the depth limit cannot make a deep document's cost wrap round to a small number.
pub fn connection_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.or(last).unwrap_or(DEFAULT_PAGE_SIZE).clamp(0, MAX_PAGE_SIZE) as usize;
    rows.max(1).saturating_mul(child_complexity).saturating_add(1)
}

/// A cursor: the list it belongs to and the row's ordering key, base64url-encoded so clients treat it as opaque.
/// It is encoded only when a client asks for it: a page of nodes without `cursor` or `pageInfo` builds no text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor<K = i32> {
    list: Arc<str>,
    key: K,
}

impl<K: CursorKey + Send + Sync> CursorType for Cursor<K> {
    type Error = AppError;

    fn decode_cursor(text: &str) -> Result<Self, Self::Error> {
        parse_cursor("cursor", text)
    }

    fn encode_cursor(&self) -> String {
        encode_cursor(&self.list, &self.key)
    }
}

/// A row's position in an ordered list, as it travels inside a cursor.
pub trait CursorKey: Sized {
    fn to_cursor_text(&self) -> String;
    fn from_cursor_text(text: &str) -> Option<Self>;
}

impl CursorKey for i32 {
    fn to_cursor_text(&self) -> String {
        self.to_string()
    }

    fn from_cursor_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

fn encode_cursor<K: CursorKey>(list: &str, key: &K) -> String {
    URL_SAFE_NO_PAD.encode(format!("{list}|{}", key.to_cursor_text()))
}

fn invalid_cursor(field: &str) -> AppError {
    AppError::bad_input(field, Message::new("error-invalid-cursor").arg("field", field))
}

/// A cursor's list and key, or `BAD_USER_INPUT` naming `field`.
fn parse_cursor<K: CursorKey>(field: &str, cursor: &str) -> Result<Cursor<K>, AppError> {
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid_cursor(field))?;
    let (list, key) = text.split_once('|').ok_or_else(|| invalid_cursor(field))?;
    Ok(Cursor {
        key: K::from_cursor_text(key).ok_or_else(|| invalid_cursor(field))?,
        list: Arc::from(list),
    })
}

/// The key of a cursor that must belong to `list`.
fn decode_cursor<K: CursorKey>(list: &str, field: &str, cursor: &str) -> Result<K, AppError> {
    let cursor = parse_cursor::<K>(field, cursor)?;
    if &*cursor.list != list {
        return Err(invalid_cursor(field));
    }
    Ok(cursor.key)
}

/// The four Relay arguments as the client sent them.
#[derive(Clone, Debug, Default)]
pub struct ConnectionArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl ConnectionArgs {
    pub fn new(first: Option<i32>, after: Option<String>, last: Option<i32>, before: Option<String>) -> Self {
        Self {
            first,
            after,
            last,
            before,
        }
    }

    /// Checks sizes against the cap (above it is an error, not a silent clamp) and decodes the cursors of `list`.
    pub fn parse<K: CursorKey>(&self, list: &str) -> Result<KeysetPage<K>, AppError> {
        if self.first.is_some() && self.last.is_some() {
            return Err(AppError::bad_input("first", Message::new("error-first-and-last")));
        }
        let size = |field: &str, value: i32| {
            if value < 0 {
                Err(AppError::bad_input(
                    field,
                    Message::new("error-page-size-negative").arg("field", field),
                ))
            } else if value > MAX_PAGE_SIZE {
                Err(AppError::bad_input(
                    field,
                    Message::new("error-page-size-too-large")
                        .arg("field", field)
                        .arg("max", MAX_PAGE_SIZE),
                ))
            } else {
                Ok(value as u64)
            }
        };
        let (limit, from_end) = match (self.first, self.last) {
            (_, Some(last)) => (size("last", last)?, true),
            (Some(first), None) => (size("first", first)?, false),
            (None, None) => (DEFAULT_PAGE_SIZE as u64, self.before.is_some() && self.after.is_none()),
        };
        Ok(KeysetPage {
            after: self
                .after
                .as_deref()
                .map(|cursor| decode_cursor(list, "after", cursor))
                .transpose()?,
            before: self
                .before
                .as_deref()
                .map(|cursor| decode_cursor(list, "before", cursor))
                .transpose()?,
            limit,
            from_end,
        })
    }
}

type CountFuture = futures_util::future::BoxFuture<'static, Result<u64, AppError>>;

/// Extra connection fields: the size of the whole list, counted only when a client asks for it.
pub struct TotalCount {
    count: Box<dyn Fn() -> CountFuture + Send + Sync>,
}

impl TotalCount {
    /// Counts with `count(state)` each time the field resolves: a page that does not ask for it pays nothing.
    pub fn counting<S, F, Fut>(state: S, count: F) -> Self
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<u64, AppError>> + Send + 'static,
    {
        Self {
            count: Box::new(move || Box::pin(count(state.clone()))),
        }
    }
}

#[Object]
impl TotalCount {
    /// How many rows the whole list holds (not just this page).
    async fn total_count(&self) -> async_graphql::Result<u64> {
        (self.count)().await.gql()
    }
}

/// Builds a Relay connection from a page; `key` gives each row's cursor key, `to_node` its GraphQL object.
pub fn build_connection<T, K, N, E>(
    list: &str,
    page: Page<T>,
    key: impl Fn(&T) -> K,
    to_node: impl Fn(T) -> N,
    total: E,
) -> Connection<Cursor<K>, N, E>
where
    K: CursorKey + Send + Sync,
    N: OutputType,
    E: async_graphql::ObjectType,
{
    let list: Arc<str> = Arc::from(list);
    let mut connection = Connection::with_additional_fields(page.has_previous, page.has_next, total);
    connection.edges.extend(page.items.into_iter().map(|item| {
        let cursor = Cursor {
            list: Arc::clone(&list),
            key: key(&item),
        };
        Edge::new(cursor, to_node(item))
    }));
    connection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_cost_saturates_instead_of_wrapping() {
        assert_eq!(connection_cost(Some(100), None, usize::MAX / 2), usize::MAX);
        assert_eq!(connection_cost(Some(10), None, 3), 31);
    }

    #[test]
    fn cursors_belong_to_their_list() {
        let cursor = encode_cursor("users", &42);
        assert_eq!(decode_cursor::<i32>("users", "after", &cursor).expect("valid"), 42);
        assert!(decode_cursor::<i32>("products", "after", &cursor).is_err());
        assert!(decode_cursor::<i32>("users", "after", "!!").is_err());
    }

    #[test]
    fn an_edge_cursor_encodes_as_the_arguments_read_it() {
        let cursor = Cursor {
            list: Arc::from("users"),
            key: 42,
        };
        let text = cursor.encode_cursor();
        assert_eq!(decode_cursor::<i32>("users", "after", &text).expect("valid"), 42);
        assert_eq!(Cursor::<i32>::decode_cursor(&text).expect("valid"), cursor);
        assert!(Cursor::<i32>::decode_cursor("!!").is_err());
    }

    #[test]
    fn page_sizes_above_the_cap_are_refused() {
        let args = ConnectionArgs::new(Some(101), None, None, None);
        assert!(args.parse::<i32>("users").is_err());
        let args = ConnectionArgs::new(Some(-1), None, None, None);
        assert!(args.parse::<i32>("users").is_err());
        let args = ConnectionArgs::new(None, None, None, None);
        assert_eq!(args.parse::<i32>("users").expect("valid").limit, 20);
    }

    #[test]
    fn cost_counts_the_requested_rows() {
        assert_eq!(connection_cost(Some(50), None, 2), 101);
        assert_eq!(connection_cost(None, None, 1), 21);
    }
}
