//! Relay global ids (`base64("User:42")`): every type one can name, encoding, and strict decoding.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::STANDARD};

use crate::error::{AppError, Message};

/// Every type a global id can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeType {
    User,
    Product,
    Reservation,
    Event,
    SeatReservation,
    BabyName,
    Job,
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
            Self::Job => "Job",
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
            "Job" => Some(Self::Job),
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
