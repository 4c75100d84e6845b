//! SeaORM queries for baby names and the dataset row.

use entity::{baby_names, baby_names_dataset};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
    sea_query::{Expr, ExprTrait, Func},
};

use super::model::{
    BabyName, Ethnicity, Gender, NameFilter, NameOrder, NamePosition, NewBabyName, OrderField, SortValue, fold_case,
    prefix_end,
};
use crate::pagination::{Direction, KeysetPage, Page};

/// The id of the one `baby_names_dataset` row (the migration creates it).
const DATASET_ROW: i32 = 1;

fn gender_column(gender: Gender) -> baby_names::Gender {
    match gender {
        Gender::Female => baby_names::Gender::Female,
        Gender::Male => baby_names::Gender::Male,
    }
}

fn ethnicity_column(ethnicity: Ethnicity) -> baby_names::Ethnicity {
    match ethnicity {
        Ethnicity::AsianAndPacificIslander => baby_names::Ethnicity::AsianAndPacificIslander,
        Ethnicity::BlackNonHispanic => baby_names::Ethnicity::BlackNonHispanic,
        Ethnicity::Hispanic => baby_names::Ethnicity::Hispanic,
        Ethnicity::WhiteNonHispanic => baby_names::Ethnicity::WhiteNonHispanic,
    }
}

fn to_domain(model: baby_names::Model) -> BabyName {
    BabyName {
        id: model.id,
        index: model.index,
        year_of_birth: model.year_of_birth,
        gender: match model.gender {
            baby_names::Gender::Female => Gender::Female,
            baby_names::Gender::Male => Gender::Male,
        },
        ethnicity: match model.ethnicity {
            baby_names::Ethnicity::AsianAndPacificIslander => Ethnicity::AsianAndPacificIslander,
            baby_names::Ethnicity::BlackNonHispanic => Ethnicity::BlackNonHispanic,
            baby_names::Ethnicity::Hispanic => Ethnicity::Hispanic,
            baby_names::Ethnicity::WhiteNonHispanic => Ethnicity::WhiteNonHispanic,
        },
        first_name: model.first_name,
        count: model.count,
        rank: model.rank,
    }
}

fn condition(filter: &NameFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(year) = filter.year_of_birth {
        condition = condition.add(baby_names::Column::YearOfBirth.eq(year));
    }
    if let Some(gender) = filter.gender {
        condition = condition.add(baby_names::Column::Gender.eq(gender_column(gender)));
    }
    if let Some(ethnicity) = filter.ethnicity {
        condition = condition.add(baby_names::Column::Ethnicity.eq(ethnicity_column(ethnicity)));
    }
    if let Some(name) = filter.first_name() {
        condition = condition.add(baby_names::Column::FirstNameLower.eq(name));
    }
    if let Some(prefix) = filter.first_name_prefix() {
        // A range rather than LIKE: it uses the index on any engine, and `%` or `_` in a name mean nothing.
        condition = condition.add(baby_names::Column::FirstNameLower.gte(prefix));
        if let Some(end) = prefix_end(prefix) {
            condition = condition.add(baby_names::Column::FirstNameLower.lt(end));
        }
    }
    condition
}

/// What the `baby_names_dataset` row says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub size: i32,
    pub version: i64,
}

pub async fn dataset(db: &impl ConnectionTrait) -> Result<Dataset, DbErr> {
    let row = baby_names_dataset::Entity::find_by_id(DATASET_ROW)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the baby_names_dataset row is missing".into()))?;
    Ok(Dataset {
        size: row.size,
        version: row.version,
    })
}

/// Records a change to the rows, and that the imported file had at least `size_at_least` rows.
pub async fn record_change(db: &impl ConnectionTrait, size_at_least: i32) -> Result<(), DbErr> {
    baby_names_dataset::Entity::update_many()
        .col_expr(
            baby_names_dataset::Column::Size,
            Func::greatest([Expr::col(baby_names_dataset::Column::Size), Expr::val(size_at_least)]).into(),
        )
        .col_expr(
            baby_names_dataset::Column::Version,
            Expr::col(baby_names_dataset::Column::Version).add(1),
        )
        .filter(baby_names_dataset::Column::Id.eq(DATASET_ROW))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes every row and forgets the file's size.
pub async fn clear(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    baby_names::Entity::delete_many().exec(db).await?;
    baby_names_dataset::Entity::update_many()
        .col_expr(baby_names_dataset::Column::Size, Expr::val(0))
        .col_expr(
            baby_names_dataset::Column::Version,
            Expr::col(baby_names_dataset::Column::Version).add(1),
        )
        .filter(baby_names_dataset::Column::Id.eq(DATASET_ROW))
        .exec(db)
        .await?;
    Ok(())
}

/// Inserts rows whose index is new and leaves the others as they are; returns how many were inserted.
pub async fn insert_names(db: &impl ConnectionTrait, rows: &[NewBabyName]) -> Result<u64, DbErr> {
    let models = rows.iter().map(|row| baby_names::ActiveModel {
        index: Set(row.index),
        year_of_birth: Set(row.year_of_birth),
        gender: Set(gender_column(row.gender)),
        ethnicity: Set(ethnicity_column(row.ethnicity)),
        first_name: Set(row.first_name.clone()),
        first_name_lower: Set(fold_case(&row.first_name)),
        count: Set(row.count),
        rank: Set(row.rank),
        ..Default::default()
    });
    let result = baby_names::Entity::insert_many(models)
        .on_conflict_do_nothing_on([baby_names::Column::Index])
        .exec_without_returning(db)
        .await?;
    Ok(match result {
        TryInsertResult::Inserted(inserted) => inserted,
        TryInsertResult::Empty | TryInsertResult::Conflicted => 0,
    })
}

/// Refreshes the planner's statistics after a bulk load: with them it can choose between a filter's index and the
/// order's index (PostgreSQL's autovacuum would get there too, but only some time after the import).
pub async fn analyze(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    db.execute_unprepared("ANALYZE baby_names").await?;
    Ok(())
}

/// Deletes one row; false when there was none with that id.
pub async fn delete_name(db: &impl ConnectionTrait, id: i32) -> Result<bool, DbErr> {
    Ok(baby_names::Entity::delete_by_id(id).exec(db).await?.rows_affected == 1)
}

pub async fn find_names(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<BabyName>, DbErr> {
    crate::db::find_by_ids::<baby_names::Entity, _>(db, baby_names::Column::Id, ids, to_domain).await
}

pub async fn count_names(db: &impl ConnectionTrait, filter: &NameFilter) -> Result<u64, DbErr> {
    baby_names::Entity::find().filter(condition(filter)).count(db).await
}

/// Rows `offset .. offset + limit` of the filtered list in index order.
pub async fn names_at_offset(
    db: &impl ConnectionTrait,
    filter: &NameFilter,
    offset: u64,
    limit: u64,
) -> Result<Vec<BabyName>, DbErr> {
    Ok(baby_names::Entity::find()
        .filter(condition(filter))
        .order_by_asc(baby_names::Column::Index)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Rows whose index lies in `start .. end`, in index order.
pub async fn names_in_index_range(db: &impl ConnectionTrait, start: i32, end: i32) -> Result<Vec<BabyName>, DbErr> {
    Ok(baby_names::Entity::find()
        .filter(baby_names::Column::Index.gte(start))
        .filter(baby_names::Column::Index.lt(end))
        .order_by_asc(baby_names::Column::Index)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Up to `limit` filtered rows from index `start` on, in index order.
pub async fn names_from_index(
    db: &impl ConnectionTrait,
    filter: &NameFilter,
    start: i32,
    limit: u64,
) -> Result<Vec<BabyName>, DbErr> {
    Ok(baby_names::Entity::find()
        .filter(condition(filter))
        .filter(baby_names::Column::Index.gte(start))
        .order_by_asc(baby_names::Column::Index)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

fn sort_column(field: OrderField) -> Option<baby_names::Column> {
    match field {
        OrderField::Index => None,
        OrderField::FirstName => Some(baby_names::Column::FirstNameLower),
        OrderField::Count => Some(baby_names::Column::Count),
        OrderField::Rank => Some(baby_names::Column::Rank),
        OrderField::YearOfBirth => Some(baby_names::Column::YearOfBirth),
    }
}

/// The rows strictly past `position` in list order (`forward`), or strictly before it. A row-value comparison,
/// `(count, index) > (172, 5)`, which both engines answer with a range scan of the `(count, index)` index.
fn beyond(order: NameOrder, position: &NamePosition, forward: bool) -> Condition {
    let greater = forward == (order.direction == Direction::Asc);
    let index = Expr::col(baby_names::Column::Index);
    let value = match &position.value {
        SortValue::None => None,
        SortValue::Int(value) => Some(Expr::val(*value)),
        SortValue::Text(value) => Some(Expr::val(value.clone())),
    };
    let (left, right) = match (sort_column(order.field), value) {
        (Some(column), Some(value)) => (
            Expr::tuple([Expr::col(column), index]),
            Expr::tuple([value, Expr::val(position.index)]),
        ),
        _ => (index, Expr::val(position.index)),
    };
    Condition::all().add(if greater { left.gt(right) } else { left.lt(right) })
}

/// One keyset page of the filtered list in `order`: the cost is the same at any depth.
pub async fn list_names(
    db: &impl ConnectionTrait,
    filter: &NameFilter,
    order: NameOrder,
    page: &KeysetPage<NamePosition>,
) -> Result<Page<BabyName>, DbErr> {
    let mut query = baby_names::Entity::find().filter(condition(filter));
    if let Some(after) = &page.after {
        query = query.filter(beyond(order, after, true));
    }
    if let Some(before) = &page.before {
        query = query.filter(beyond(order, before, false));
    }
    // `last` reads the list backwards from its end, then puts the page back in list order.
    let ascending = (order.direction == Direction::Asc) != page.from_end;
    let direction = if ascending { Order::Asc } else { Order::Desc };
    if let Some(column) = sort_column(order.field) {
        query = query.order_by(column, direction.clone());
    }
    let mut rows = query
        .order_by(baby_names::Column::Index, direction)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    if page.from_end {
        rows.reverse();
    }
    Ok(page.page_from(rows.into_iter().map(to_domain).collect()))
}
