//! Relay object identification: global ids (`base64("User:42")`), the `Node` interface, `node` and `nodes`.

use async_graphql::{Context, ID, Interface, Object, Result};
use base64::{Engine, engine::general_purpose::STANDARD};

use super::errors::GqlResultExt;
use crate::{
    accounts::resolvers::UserNode,
    catalog::resolvers::{self as catalog, EventNode, ProductNode, ReservationNode, SeatReservationNode},
    error::{AppError, Message},
    names::resolvers::BabyNameNode,
};

/// Every type a global id can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeType {
    User,
    Product,
    Reservation,
    Event,
    SeatReservation,
    BabyName,
}

impl NodeType {
    fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Product => "Product",
            Self::Reservation => "Reservation",
            Self::Event => "Event",
            Self::SeatReservation => "SeatReservation",
            Self::BabyName => "BabyName",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "User" => Some(Self::User),
            "Product" => Some(Self::Product),
            "Reservation" => Some(Self::Reservation),
            "Event" => Some(Self::Event),
            "SeatReservation" => Some(Self::SeatReservation),
            "BabyName" => Some(Self::BabyName),
            _ => None,
        }
    }
}

pub fn global_id(node_type: NodeType, database_id: i32) -> ID {
    ID(STANDARD.encode(format!("{}:{database_id}", node_type.name())))
}

/// Decodes any global id; `field` names the argument in the error.
pub fn parse_global_id(field: &str, id: &str) -> Result<(NodeType, i32), AppError> {
    let invalid = || AppError::bad_input(field, Message::new("error-invalid-id").arg("field", field));
    let decoded = STANDARD.decode(id.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (type_name, database_id) = text.split_once(':').ok_or_else(invalid)?;
    let node_type = NodeType::from_name(type_name).ok_or_else(invalid)?;
    let database_id = database_id.parse::<i32>().map_err(|_| invalid())?;
    if database_id < 1 {
        return Err(invalid());
    }
    Ok((node_type, database_id))
}

/// Decodes a global id that must name a `expected`, as a mutation argument does.
pub fn parse_id_of(field: &str, id: &str, expected: NodeType) -> Result<i32, AppError> {
    let (node_type, database_id) = parse_global_id(field, id)?;
    if node_type == expected {
        Ok(database_id)
    } else {
        Err(AppError::bad_input(
            field,
            Message::new("error-wrong-id-type")
                .arg("field", field)
                .arg("expected", expected.name()),
        ))
    }
}

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
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it no longer exists.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let (node_type, database_id) = parse_global_id("id", &id).gql()?;
        load_node(ctx, node_type, database_id).await
    }

    /// Objects by their global ids, in the order asked; null where one no longer exists.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
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
        NodeType::Event => Ok(catalog::load_event(ctx, database_id).await?.map(Node::Event)),
        NodeType::SeatReservation => Ok(catalog::load_seat_reservation(ctx, database_id)
            .await?
            .map(Node::SeatReservation)),
        NodeType::BabyName => Ok(BabyNameNode::load(ctx, database_id).await?.map(Node::BabyName)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_reject_garbage() {
        let id = global_id(NodeType::User, 42);
        assert_eq!(id.as_str(), "VXNlcjo0Mg==");
        assert_eq!(parse_global_id("id", &id).expect("valid"), (NodeType::User, 42));
        for bad in ["", "not base64!", "VXNlcg==", "Q2F0OjQy", "VXNlcjp4"] {
            assert!(parse_global_id("id", bad).is_err(), "{bad:?} should be refused");
        }
    }
}
