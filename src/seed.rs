//! Demo data for `alx-backend seed`: idempotent, so running it twice changes nothing.

use chrono::{Duration, Utc};

use crate::{
    accounts::{Role, User, parse_new_user},
    catalog::NewProduct,
    error::AppResult,
    events::NewEvent,
    services::Services,
};

/// The password of every demo account; printed by the command, never for production.
pub const DEMO_PASSWORD: &str = "demo-password";

/// The classic four suitcases: (name, price in cents, stock).
const PRODUCTS: &[(&str, i32, i32)] = &[
    ("Suitcase 250", 5_000, 4),
    ("Suitcase 450", 10_000, 10),
    ("Suitcase 650", 35_000, 2),
    ("Suitcase 1050", 55_000, 5),
];

const USERS: &[(&str, &str, Role)] = &[
    ("admin@example.com", "Ada Admin", Role::Admin),
    ("alice@example.com", "Alice", Role::User),
    ("bob@example.com", "Bob", Role::User),
];

pub const EVENT_NAME: &str = "alx-backend launch";

pub struct Seeded {
    pub users: Vec<User>,
    pub products: usize,
    pub event_seats: i32,
}

pub async fn seed(services: &Services) -> AppResult<Seeded> {
    let mut users = Vec::new();
    for (email, name, role) in USERS {
        let new_user = parse_new_user("", email, DEMO_PASSWORD.into(), name, *role, None, None)?;
        users.push(services.accounts.ensure_user(new_user).await?);
    }
    for (name, price_cents, stock) in PRODUCTS {
        services
            .catalog
            .ensure_product(NewProduct::parse(name, *price_cents, *stock)?)
            .await?;
    }
    let event = services
        .events
        .ensure_event(NewEvent::parse(EVENT_NAME, Utc::now() + Duration::days(30), 50, true)?)
        .await?;
    Ok(Seeded {
        users,
        products: PRODUCTS.len(),
        event_seats: event.capacity,
    })
}
