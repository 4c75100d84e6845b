//! The catalog part of the schema: products, reservations, and their admin mutations.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};

use super::{
    CatalogService, NewProduct, Product, Reservation,
    loaders::{ProductLoader, ReservationLoader, ReservationsOfProduct, ReservationsOfUser},
    model::{ProductChange, Quantity},
};
use crate::{
    accounts::{User, loaders::UserLoader, resolvers::UserNode},
    graphql::{
        children::{ChildList, ChildTotal, child_page},
        connection::{ConnectionArgs, Cursor, TotalCount, build_connection, connection_cost},
        errors::GqlResultExt,
        guards::{AdminOnly, LoggedIn, request_context, require_caller, require_self_or_admin},
        ids::{NodeType, global_id, parse_id_of},
        load_many, load_one,
    },
    i18n::Formatters,
    pagination::Page,
};

fn catalog<'a>(ctx: &Context<'a>) -> &'a CatalogService {
    ctx.data_unchecked::<CatalogService>()
}

/// Something for sale, with a stock that reservations take from.
pub struct ProductNode(pub Product);

// `serial`: fields resolve one after another instead of as a set of concurrent futures, which async-graphql
// allocates and polls per object (a fifth of a nested list's cost). Only `reservations` waits on a DataLoader, so
// batching across products is unchanged: the list of products still resolves its items concurrently.
#[Object(name = "Product", serial)]
impl ProductNode {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Product, self.0.id)
    }

    async fn database_id(&self) -> i32 {
        self.0.id
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The price in US cents.
    async fn price_cents(&self) -> i32 {
        self.0.price_cents
    }

    /// The price formatted for the request's locale, e.g. `$50.00` or `50,00 $US`.
    async fn price(&self, ctx: &Context<'_>) -> String {
        let locale = request_context(ctx).effective_locale();
        ctx.data_unchecked::<Arc<Formatters>>()
            .usd(locale, i64::from(self.0.price_cents))
    }

    async fn initial_stock(&self) -> i32 {
        self.0.initial_stock
    }

    /// Units still available: the initial stock less every confirmed reservation.
    async fn current_stock(&self) -> i32 {
        self.0.current_stock()
    }

    /// Reservations of this product, oldest first (admins only).
    #[graphql(
        guard = "AdminOnly",
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(private)
    )]
    async fn reservations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<Cursor, ReservationNode, ChildTotal>> {
        reservation_connection::<ReservationsOfProduct>(ctx, self.0.id, ConnectionArgs::new(first, after, last, before))
            .await
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// `User.reservations`, for the accounts domain: the one function it calls in this one.
pub async fn reservations_of_user(
    ctx: &Context<'_>,
    user_id: i32,
    args: ConnectionArgs,
) -> Result<Connection<Cursor, ReservationNode, ChildTotal>> {
    reservation_connection::<ReservationsOfUser>(ctx, user_id, args).await
}

/// One parent's `reservations` connection, for either list of reservations.
async fn reservation_connection<L: ChildList<Child = Reservation>>(
    ctx: &Context<'_>,
    parent: i32,
    args: ConnectionArgs,
) -> Result<Connection<Cursor, ReservationNode, ChildTotal>> {
    let page = args.parse::<i32>("reservations").gql()?;
    let (page, total) = child_page::<L>(ctx, parent, page).await?;
    let page = reservation_nodes(ctx, page).await?;
    Ok(build_connection(
        "reservations",
        page,
        ReservationNode::database_id_of,
        |node| node,
        total,
    ))
}

/// Units of a product held for a user; `user` is filled in ahead when the list that made this node saw its
/// client ask for it.
pub struct ReservationNode {
    reservation: Reservation,
    user: Option<Arc<User>>,
}

impl ReservationNode {
    pub fn database_id_of(&self) -> i32 {
        self.reservation.id
    }
}

impl From<Reservation> for ReservationNode {
    fn from(reservation: Reservation) -> Self {
        Self {
            reservation,
            user: None,
        }
    }
}

/// Builds a page of reservation nodes, loading their users in one batch when the selection asks for them:
/// one DataLoader call per list rather than one per row, which matters at hundreds of rows per request.
pub async fn reservation_nodes(ctx: &Context<'_>, page: Page<Reservation>) -> Result<Page<ReservationNode>> {
    let selection = ctx.look_ahead();
    let wants_user = selection.field("nodes").field("user").exists()
        || selection.field("edges").field("node").field("user").exists();
    let users = if wants_user {
        let ids: Vec<i32> = page.items.iter().map(|reservation| reservation.user_id).collect();
        load_many::<UserLoader, _>(ctx, ids).await?
    } else {
        HashMap::new()
    };
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|reservation| ReservationNode {
                user: users.get(&reservation.user_id).cloned(),
                reservation,
            })
            .collect(),
        has_previous: page.has_previous,
        has_next: page.has_next,
    })
}

// `serial` (see Product). Lists of reservations load their users ahead, so only `product` waits; a lone
// reservation asked for both `product` and `user` loads them in two rounds instead of one.
#[Object(name = "Reservation", serial, cache_control(private))]
impl ReservationNode {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Reservation, self.reservation.id)
    }

    async fn database_id(&self) -> i32 {
        self.reservation.id
    }

    async fn product(&self, ctx: &Context<'_>) -> Result<Option<ProductNode>> {
        Ok(load_one::<ProductLoader, _>(ctx, self.reservation.product_id)
            .await?
            .map(ProductNode))
    }

    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        match &self.user {
            Some(user) => Ok(Some(UserNode::from(Arc::clone(user)))),
            None => UserNode::load(ctx, self.reservation.user_id).await,
        }
    }

    async fn quantity(&self) -> i32 {
        self.reservation.quantity
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.reservation.created_at
    }
}

#[derive(InputObject)]
pub struct CreateProductInput {
    name: String,
    /// US cents; not negative.
    price_cents: i32,
    initial_stock: i32,
}

#[derive(InputObject)]
pub struct UpdateProductInput {
    name: Option<String>,
    price_cents: Option<i32>,
    /// Not below the units already reserved.
    initial_stock: Option<i32>,
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Every product, oldest first.
    #[graphql(
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(max_age = 30)
    )]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<Cursor, ProductNode, TotalCount>> {
        let page = ConnectionArgs::new(first, after, last, before)
            .parse::<i32>("products")
            .gql()?;
        let service = catalog(ctx).clone();
        let page = service.list_products(&page).await.gql()?;
        let total = TotalCount::counting(service, |service| async move { service.count_products().await });
        Ok(build_connection(
            "products",
            page,
            |product| product.id,
            ProductNode,
            total,
        ))
    }

    /// A product by its global id; null when it does not exist.
    #[graphql(cache_control(max_age = 30))]
    async fn product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ProductNode>> {
        let id = parse_id_of("id", &id, NodeType::Product).gql()?;
        Ok(load_one::<ProductLoader, _>(ctx, id).await?.map(ProductNode))
    }
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Takes `quantity` units of a product for the caller, atomically: `OUT_OF_STOCK` when fewer are left.
    #[graphql(guard = "LoggedIn")]
    async fn reserve_product(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        // Nullable with a default, as the contract writes it: a client's unset `$quantity` variable means 1.
        #[graphql(default = 1)] quantity: Option<i32>,
    ) -> Result<ReservationNode> {
        let caller = require_caller(ctx)?;
        let product_id = parse_id_of("productId", &product_id, NodeType::Product).gql()?;
        let quantity = Quantity::parse("quantity", quantity.unwrap_or(1)).gql()?;
        Ok(ReservationNode::from(
            catalog(ctx).reserve(caller, product_id, quantity).await.gql()?,
        ))
    }

    /// Cancels a reservation (its owner or an admin) and gives its units back; returns what was cancelled.
    #[graphql(guard = "LoggedIn")]
    async fn cancel_reservation(&self, ctx: &Context<'_>, id: ID) -> Result<ReservationNode> {
        let caller = require_caller(ctx)?;
        let id = parse_id_of("id", &id, NodeType::Reservation).gql()?;
        Ok(ReservationNode::from(
            catalog(ctx).cancel_reservation(caller, id).await.gql()?,
        ))
    }

    #[graphql(guard = "AdminOnly")]
    async fn create_product(&self, ctx: &Context<'_>, input: CreateProductInput) -> Result<ProductNode> {
        let new = NewProduct::parse(&input.name, input.price_cents, input.initial_stock).gql()?;
        Ok(ProductNode(catalog(ctx).create_product(new).await.gql()?))
    }

    #[graphql(guard = "AdminOnly")]
    async fn update_product(&self, ctx: &Context<'_>, id: ID, input: UpdateProductInput) -> Result<ProductNode> {
        let id = parse_id_of("id", &id, NodeType::Product).gql()?;
        let change = ProductChange::parse(input.name.as_deref(), input.price_cents, input.initial_stock).gql()?;
        Ok(ProductNode(catalog(ctx).update_product(id, change).await.gql()?))
    }

    /// Deletes a product that has no reservations (cancel them first); returns its id.
    #[graphql(guard = "AdminOnly")]
    async fn delete_product(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let database_id = parse_id_of("id", &id, NodeType::Product).gql()?;
        catalog(ctx).delete_product(database_id).await.gql()?;
        Ok(id)
    }
}

/// Loads nodes for `node`/`nodes`.
pub async fn load_product(ctx: &Context<'_>, id: i32) -> Result<Option<ProductNode>> {
    Ok(load_one::<ProductLoader, _>(ctx, id).await?.map(ProductNode))
}

/// A reservation names its user: only that user and admins may load it.
pub async fn load_reservation(ctx: &Context<'_>, id: i32) -> Result<Option<ReservationNode>> {
    let Some(reservation) = load_one::<ReservationLoader, _>(ctx, id).await? else {
        return Ok(None);
    };
    require_self_or_admin(ctx, reservation.user_id)?;
    Ok(Some(ReservationNode::from(reservation)))
}
