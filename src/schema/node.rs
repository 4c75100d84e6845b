//! Relay object identification above the domains: the `Node` interface over every domain's node types, `node`
//! and `nodes`.

use async_graphql::{Context, ID, Interface, Object, Result};

use crate::{
    accounts::resolvers::UserNode,
    catalog::resolvers::{self as catalog, ProductNode, ReservationNode},
    error::{AppError, Message},
    events::resolvers::{self as events, EventNode, SeatReservationNode},
    graphql::{
        errors::GqlResultExt,
        ids::{NodeType, parse_global_id},
    },
    jobs::resolvers::{self as jobs, JobNode},
    names::resolvers::BabyNameNode,
};

/// Ids one `nodes` call may name: like a page, a list a client chooses the length of is capped.
const MAX_IDS: usize = 100;

#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "A global, opaque id: pass it to `node` to get this object back."
))]
pub enum Node {
    User(UserNode),
    Product(ProductNode),
    Reservation(ReservationNode),
    Event(EventNode),
    SeatReservation(SeatReservationNode),
    BabyName(BabyNameNode),
    Job(JobNode),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it no longer exists.
    #[graphql(cache_control(no_cache))]
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let (node_type, database_id) = parse_global_id("id", &id).gql()?;
        load_node(ctx, node_type, database_id).await
    }

    /// Objects by their global ids (at most 100), in the order asked; null where one no longer exists.
    #[graphql(
        complexity = "ids.len().saturating_mul(child_complexity).saturating_add(1)",
        cache_control(no_cache)
    )]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_IDS {
            return Err(AppError::bad_input(
                "ids",
                Message::new("error-page-size-too-large")
                    .arg("field", "ids")
                    .arg("max", MAX_IDS),
            ))
            .gql();
        }
        let parsed = ids
            .iter()
            .enumerate()
            .map(|(index, id)| parse_global_id(&format!("ids.{index}"), id))
            .collect::<Result<Vec<_>, _>>()
            .gql()?;
        // Every load goes through a DataLoader, so these awaits batch into one query per type.
        futures_util::future::try_join_all(
            parsed
                .into_iter()
                .map(|(node_type, database_id)| load_node(ctx, node_type, database_id)),
        )
        .await
    }
}

async fn load_node(ctx: &Context<'_>, node_type: NodeType, database_id: i32) -> Result<Option<Node>> {
    match node_type {
        NodeType::User => Ok(UserNode::load(ctx, database_id).await?.map(Node::User)),
        NodeType::Product => Ok(catalog::load_product(ctx, database_id).await?.map(Node::Product)),
        NodeType::Reservation => Ok(catalog::load_reservation(ctx, database_id)
            .await?
            .map(Node::Reservation)),
        NodeType::Event => Ok(events::load_event(ctx, database_id).await?.map(Node::Event)),
        NodeType::SeatReservation => Ok(events::load_seat_reservation(ctx, database_id)
            .await?
            .map(Node::SeatReservation)),
        NodeType::BabyName => Ok(BabyNameNode::load(ctx, database_id).await?.map(Node::BabyName)),
        NodeType::Job => Ok(jobs::load_job(ctx, database_id).await?.map(Node::Job)),
    }
}
