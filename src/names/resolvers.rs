//! The names part of the schema: `babyNamesPage`, `babyNamesFromIndex`, `babyNames` and `deleteBabyName`.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, connection::Connection};

use super::{
    BabyName, Ethnicity, Gender, NameFilter, NameOrder, NamesService,
    loaders::BabyNameLoader,
    model::{FilterName, NamePosition, OrderField, PageNumber, PageSize, SortValue},
};
use crate::error::AppError;
use crate::graphql::{
    connection::{ConnectionArgs, Cursor, CursorKey, OrderDirection, TotalCount, build_connection, connection_cost},
    errors::GqlResultExt,
    guards::AdminOnly,
    ids::{NodeType, global_id, parse_id_of},
    load_one,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(name = "Gender", remote = "Gender")]
pub enum GqlGender {
    Female,
    Male,
}

/// The file's ethnicity groups. The 2012 rows' truncated labels are imported as these full ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(name = "Ethnicity", remote = "Ethnicity")]
pub enum GqlEthnicity {
    AsianAndPacificIslander,
    BlackNonHispanic,
    Hispanic,
    WhiteNonHispanic,
}

/// One row of the "Popular Baby Names" dataset.
#[derive(Clone, Debug)]
pub struct BabyNameNode(BabyName);

impl BabyNameNode {
    pub async fn load(ctx: &Context<'_>, id: i32) -> Result<Option<Self>> {
        Ok(load_one::<BabyNameLoader, _>(ctx, id).await?.map(Self))
    }
}

// `serial` (see Product in the catalog): every field is ready, nothing to wait on concurrently.
#[Object(name = "BabyName", serial)]
impl BabyNameNode {
    pub async fn id(&self) -> ID {
        global_id(NodeType::BabyName, self.0.id)
    }

    /// The row id in the database.
    async fn database_id(&self) -> i32 {
        self.0.id
    }

    /// The row's 0-based position in the imported file. It never changes; `babyNamesFromIndex` pages by it.
    async fn index(&self) -> i32 {
        self.0.index
    }

    async fn year_of_birth(&self) -> i32 {
        self.0.year_of_birth
    }

    async fn gender(&self) -> GqlGender {
        self.0.gender.into()
    }

    async fn ethnicity(&self) -> GqlEthnicity {
        self.0.ethnicity.into()
    }

    /// As the file writes it (some years are in capitals); filters ignore case.
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }

    /// How many babies were given the name.
    async fn count(&self) -> i32 {
        self.0.count
    }

    /// The name's rank within its year, gender and ethnicity (1 is the most popular).
    async fn rank(&self) -> i32 {
        self.0.rank
    }
}

/// Which rows to list; every field given must match.
#[derive(Clone, Debug, Default, InputObject)]
pub struct BabyNameFilter {
    year_of_birth: Option<i32>,
    gender: Option<GqlGender>,
    ethnicity: Option<GqlEthnicity>,
    /// The whole name, in any case.
    first_name: Option<String>,
    /// The start of the name, in any case.
    first_name_prefix: Option<String>,
}

impl TryFrom<BabyNameFilter> for NameFilter {
    type Error = AppError;

    fn try_from(input: BabyNameFilter) -> Result<Self, AppError> {
        let name = |field: &str, raw: Option<String>| raw.map(|raw| FilterName::parse(field, &raw)).transpose();
        Ok(Self::new(
            input.year_of_birth,
            input.gender.map(Into::into),
            input.ethnicity.map(Into::into),
            name("filter.firstName", input.first_name)?,
            name("filter.firstNamePrefix", input.first_name_prefix)?,
        ))
    }
}

fn filter_of(input: Option<BabyNameFilter>) -> Result<NameFilter, AppError> {
    input
        .map(NameFilter::try_from)
        .transpose()
        .map(Option::unwrap_or_default)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
#[graphql(remote = "OrderField")]
pub enum BabyNameOrderField {
    /// The file's order.
    #[default]
    Index,
    /// Alphabetical, ignoring case.
    FirstName,
    Count,
    Rank,
    YearOfBirth,
}

/// The order of `babyNames`. Rows that tie keep the file's order (in the same direction).
#[derive(Clone, Copy, Debug, Default, InputObject)]
pub struct BabyNameOrder {
    field: BabyNameOrderField,
    #[graphql(default)]
    direction: OrderDirection,
}

impl From<BabyNameOrder> for NameOrder {
    fn from(input: BabyNameOrder) -> Self {
        Self {
            field: input.field.into(),
            direction: input.direction.into(),
        }
    }
}

/// A cursor's text: the index, then the sort value tagged with its kind (`7`, `7:i172`, `7:solivia`).
impl CursorKey for NamePosition {
    fn to_cursor_text(&self) -> String {
        match &self.value {
            SortValue::None => self.index.to_string(),
            SortValue::Int(value) => format!("{}:i{value}", self.index),
            SortValue::Text(value) => format!("{}:s{value}", self.index),
        }
    }

    fn from_cursor_text(text: &str) -> Option<Self> {
        let (index, value) = match text.split_once(':') {
            None => (text, SortValue::None),
            Some((index, tagged)) => {
                let value = if let Some(number) = tagged.strip_prefix('i') {
                    SortValue::Int(number.parse().ok()?)
                } else {
                    // A forged cursor carries whatever text it likes; it is refused like any other malformed one.
                    let text = tagged.strip_prefix('s').filter(|text| crate::text::is_plain(text))?;
                    SortValue::Text(text.to_string())
                };
                (index, value)
            }
        };
        Some(Self {
            value,
            index: index.parse().ok()?,
        })
    }
}

/// One page of `babyNamesPage`.
#[derive(SimpleObject)]
pub struct BabyNamePage {
    /// The page asked for, counted from 1.
    page: u64,
    /// How many rows this page holds (fewer than asked on the last page, 0 past the end).
    page_size: u64,
    /// Pages of the asked size that the filtered list fills.
    total_pages: u64,
    /// Rows matching the filter.
    total_count: u64,
    /// The next page, or null on the last page and past it.
    next_page: Option<u64>,
    /// The page before this one (`page - 1`), or null on page 1; past the end too.
    prev_page: Option<u64>,
    data: Vec<BabyNameNode>,
}

/// One page of `babyNamesFromIndex`.
#[derive(SimpleObject)]
pub struct BabyNameIndexPage {
    /// The index asked for.
    index: i32,
    /// The `index` to ask for next, or null when no row follows this page.
    next_index: Option<i32>,
    /// How many rows this page holds.
    page_size: u64,
    data: Vec<BabyNameNode>,
}

fn names<'a>(ctx: &Context<'a>) -> &'a NamesService {
    ctx.data_unchecked::<NamesService>()
}

/// The rows a page-size argument asks for, for the complexity budget, whatever its validity.
fn page_cost(page_size: Option<i32>, child_complexity: usize) -> usize {
    connection_cost(Some(page_size.unwrap_or(DEFAULT_PAGE_SIZE)), None, child_complexity)
}

/// The page size of `babyNamesPage` and `babyNamesFromIndex` when none is given.
const DEFAULT_PAGE_SIZE: i32 = 10;

#[derive(Default)]
pub struct NamesQuery;

#[Object]
impl NamesQuery {
    /// Baby names by page number, in file order: page `p` of size `s` holds rows `(p-1)*s` to `p*s-1` of the
    /// filtered list. A page past the end is empty.
    #[graphql(complexity = "page_cost(page_size, child_complexity)", cache_control(max_age = 60))]
    async fn baby_names_page(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1)] page: Option<i32>,
        #[graphql(default = 10)] page_size: Option<i32>,
        filter: Option<BabyNameFilter>,
    ) -> Result<BabyNamePage> {
        // An explicit null means the same as leaving the argument out.
        let number = PageNumber::parse("page", page.unwrap_or(1)).gql()?;
        let size = PageSize::parse("pageSize", page_size.unwrap_or(DEFAULT_PAGE_SIZE)).gql()?;
        let result = names(ctx).page(&filter_of(filter).gql()?, number, size).await.gql()?;
        Ok(BabyNamePage {
            page: result.page,
            page_size: result.items.len() as u64,
            total_pages: result.total_pages(),
            total_count: result.total_count,
            next_page: result.next_page(),
            prev_page: result.prev_page(),
            data: result.items.into_iter().map(BabyNameNode).collect(),
        })
    }

    /// Baby names from a file index on, in file order. Deleting rows between two requests neither repeats a row
    /// nor skips one that still exists: ask for `nextIndex` next. `index` is a row position of the imported file,
    /// from 0 to its number of rows minus 1.
    #[graphql(complexity = "page_cost(page_size, child_complexity)", cache_control(max_age = 60))]
    async fn baby_names_from_index(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] index: Option<i32>,
        #[graphql(default = 10)] page_size: Option<i32>,
        filter: Option<BabyNameFilter>,
    ) -> Result<BabyNameIndexPage> {
        let size = PageSize::parse("pageSize", page_size.unwrap_or(DEFAULT_PAGE_SIZE)).gql()?;
        let result = names(ctx)
            .from_index(&filter_of(filter).gql()?, "index", index.unwrap_or(0), size)
            .await
            .gql()?;
        Ok(BabyNameIndexPage {
            index: result.index,
            next_index: result.next_index,
            page_size: result.items.len() as u64,
            data: result.items.into_iter().map(BabyNameNode).collect(),
        })
    }

    /// Baby names as a Relay connection, filtered and sorted; cursors belong to one `orderBy`.
    #[graphql(
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(max_age = 60)
    )]
    #[allow(clippy::too_many_arguments)]
    async fn baby_names(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<BabyNameFilter>,
        #[graphql(default_with = "Some(BabyNameOrder::default())")] order_by: Option<BabyNameOrder>,
    ) -> Result<Connection<Cursor<NamePosition>, BabyNameNode, TotalCount>> {
        let order = order_by.map(NameOrder::from).unwrap_or_default();
        let list = order.list_name();
        let page = ConnectionArgs::new(first, after, last, before)
            .parse::<NamePosition>(&list)
            .gql()?;
        order.check(&page).gql()?;
        let filter = filter_of(filter).gql()?;
        let service = names(ctx).clone();
        let rows = service.list(&filter, order, &page).await.gql()?;
        let total = TotalCount::counting((service, filter), |(service, filter)| async move {
            service.count(&filter).await
        });
        Ok(build_connection(
            &list,
            rows,
            |name| order.position_of(name),
            BabyNameNode,
            total,
        ))
    }
}

#[derive(Default)]
pub struct NamesMutation;

#[Object]
impl NamesMutation {
    /// Deletes one row of the dataset (admins only) and returns its id.
    #[graphql(guard = "AdminOnly")]
    async fn delete_baby_name(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let database_id = parse_id_of("id", &id, NodeType::BabyName).gql()?;
        names(ctx).delete(database_id, "id").await.gql()?;
        Ok(global_id(NodeType::BabyName, database_id))
    }
}
