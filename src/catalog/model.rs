//! Catalog types; the `parse` constructors are the only way in, so a value that exists is a valid one.

use chrono::{DateTime, Utc};

use crate::error::{AppError, Message};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub id: i32,
    pub name: String,
    pub price_cents: i32,
    pub initial_stock: i32,
    pub reserved: i32,
    pub created_at: DateTime<Utc>,
}

impl Product {
    pub fn current_stock(&self) -> i32 {
        self.initial_stock - self.reserved
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub id: i32,
    pub product_id: i32,
    pub user_id: i32,
    pub quantity: i32,
    pub created_at: DateTime<Utc>,
}

/// What a list of reservations hangs from: a product's reservations, or a user's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReservationParent {
    Product,
    User,
}

impl ReservationParent {
    /// The id of this kind of parent that `reservation` belongs to.
    pub fn of(self, reservation: &Reservation) -> i32 {
        match self {
            Self::Product => reservation.product_id,
            Self::User => reservation.user_id,
        }
    }
}

fn non_negative(field: &str, value: i32, message: &'static str) -> Result<i32, AppError> {
    if value < 0 {
        Err(AppError::bad_input(field, Message::new(message)))
    } else {
        Ok(value)
    }
}

#[derive(Clone, Debug)]
pub struct NewProduct {
    pub name: String,
    pub price_cents: i32,
    pub initial_stock: i32,
}

impl NewProduct {
    pub fn parse(name: &str, price_cents: i32, initial_stock: i32) -> Result<Self, AppError> {
        Ok(Self {
            name: crate::text::name("input.name", name, "catalog-product-name-empty")?,
            price_cents: non_negative("input.priceCents", price_cents, "catalog-price-negative")?,
            initial_stock: non_negative("input.initialStock", initial_stock, "catalog-stock-negative")?,
        })
    }
}

/// A validated change to a product; `None` keeps the field.
#[derive(Clone, Debug, Default)]
pub struct ProductChange {
    pub name: Option<String>,
    pub price_cents: Option<i32>,
    pub initial_stock: Option<i32>,
}

impl ProductChange {
    pub fn parse(name: Option<&str>, price_cents: Option<i32>, initial_stock: Option<i32>) -> Result<Self, AppError> {
        Ok(Self {
            name: name
                .map(|value| crate::text::name("input.name", value, "catalog-product-name-empty"))
                .transpose()?,
            price_cents: price_cents
                .map(|value| non_negative("input.priceCents", value, "catalog-price-negative"))
                .transpose()?,
            initial_stock: initial_stock
                .map(|value| non_negative("input.initialStock", value, "catalog-stock-negative"))
                .transpose()?,
        })
    }
}

/// How many units one reservation takes: at least one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i32);

impl Quantity {
    pub fn parse(field: &str, value: i32) -> Result<Self, AppError> {
        if value < 1 {
            Err(AppError::bad_input(
                field,
                Message::new("catalog-quantity-not-positive"),
            ))
        } else {
            Ok(Self(value))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}
