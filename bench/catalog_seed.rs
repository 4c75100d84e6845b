//! Seeds the catalog benchmark's data set: 1,000 users, 2,000 products, 100,000 reservations, through the real
//! migrations. Usage: `DATABASE_URL=… cargo run --release --example catalog_seed`.

use alx_backend::{
    accounts::{Role, parse_new_user},
    app, clock,
    config::Settings,
    db,
};
use sea_orm::{ConnectionTrait, Statement};

const USERS: i32 = 1_000;
const PRODUCTS: i32 = 2_000;
const RESERVATIONS: i32 = 100_000;
const BATCH: i32 = 1_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let (connection, _) = db::connect(&settings.database_url, 4).await?;
    db::migrate_up(&connection).await?;
    let services = app::build_services(
        &settings,
        connection.clone(),
        clock::system_clock(),
        alx_backend::bus::Bus::publishing_only(&connection),
    )
    .await?;
    let admin = parse_new_user(
        "",
        "bench-admin@example.com",
        "bench-password".into(),
        "Bench Admin",
        Role::Admin,
        None,
        None,
    )
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let admin = services
        .accounts
        .ensure_user(admin)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let hash: String = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            format!("SELECT password_hash FROM users WHERE id = {}", admin.id),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("admin row"))?
        .try_get("", "password_hash")?;
    let now = "'2026-01-01T00:00:00+00:00'";
    let backend = connection.get_database_backend();
    let run = |sql: String| {
        let connection = connection.clone();
        async move { connection.execute_raw(Statement::from_string(backend, sql)).await }
    };
    for start in (0..USERS).step_by(BATCH as usize) {
        let rows: Vec<String> = (start..(start + BATCH).min(USERS))
            .map(|i| format!("('user{i}@bench.example', 'User {i}', '{hash}', 'USER', {now}, {now})"))
            .collect();
        run(format!(
            "INSERT INTO users (email, name, password_hash, role, created_at, updated_at) VALUES {}",
            rows.join(",")
        ))
        .await?;
    }
    let per_product = RESERVATIONS / PRODUCTS;
    for start in (0..PRODUCTS).step_by(BATCH as usize) {
        let rows: Vec<String> = (start..(start + BATCH).min(PRODUCTS))
            .map(|i| format!("('Product {i}', {}, 1000, {per_product}, {now}, {now})", 100 + i))
            .collect();
        run(format!(
            "INSERT INTO products (name, price_cents, initial_stock, reserved, created_at, updated_at) VALUES {}",
            rows.join(",")
        ))
        .await?;
    }
    let first_user: i32 = admin.id + 1;
    let first_product: i32 = connection
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT MIN(id) AS id FROM products".to_string(),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("products"))?
        .try_get("", "id")?;
    for start in (0..RESERVATIONS).step_by(BATCH as usize) {
        let rows: Vec<String> = (start..start + BATCH)
            .map(|i| {
                let product = first_product + i % PRODUCTS;
                let user = first_user + (i * 7919) % USERS;
                format!("({product}, {user}, 1, {now})")
            })
            .collect();
        run(format!(
            "INSERT INTO reservations (product_id, user_id, quantity, created_at) VALUES {}",
            rows.join(",")
        ))
        .await?;
    }
    println!(
        "seeded {USERS} users, {PRODUCTS} products, {RESERVATIONS} reservations; admin bench-admin@example.com / bench-password"
    );
    Ok(())
}
