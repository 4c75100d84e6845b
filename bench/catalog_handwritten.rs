//! The ceiling for `bench/catalog.sh`: one axum handler that runs the same three SQL statements as the GraphQL
//! server (a page of products, each one's first reservations through one window query, their users) and writes
//! the same JSON by hand. No GraphQL, no middleware, no auth. Usage: `catalog_handwritten ADDRESS` with
//! `DATABASE_URL` set.

use std::{collections::HashMap, fmt::Write};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::post};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn handler(State(db): State<DatabaseConnection>) -> impl IntoResponse {
    let backend = db.get_database_backend();
    let products = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, name FROM products ORDER BY id LIMIT 51".to_string(),
        ))
        .await
        .unwrap_or_default();
    let products: Vec<(i32, String)> = products
        .iter()
        .take(50)
        .filter_map(|row| Some((row.try_get("", "id").ok()?, row.try_get("", "name").ok()?)))
        .collect();
    let ids: Vec<String> = products.iter().map(|(id, _)| id.to_string()).collect();
    let reservations = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT id, product_id, user_id, quantity FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY product_id \
                 ORDER BY id ASC) AS row_in_parent FROM reservations WHERE product_id IN ({})) AS ranked \
                 WHERE row_in_parent <= 11 ORDER BY product_id ASC, id ASC",
                ids.join(",")
            ),
        ))
        .await
        .unwrap_or_default();
    let mut per_product: HashMap<i32, Vec<(i32, i32)>> = HashMap::new();
    for row in &reservations {
        let (Ok(product), Ok(user), Ok(quantity)) = (
            row.try_get::<i32>("", "product_id"),
            row.try_get::<i32>("", "user_id"),
            row.try_get::<i32>("", "quantity"),
        ) else {
            continue;
        };
        let list = per_product.entry(product).or_default();
        if list.len() < 10 {
            list.push((quantity, user));
        }
    }
    let mut user_ids: Vec<String> = per_product
        .values()
        .flatten()
        .map(|(_, user)| user.to_string())
        .collect();
    user_ids.sort();
    user_ids.dedup();
    let users = db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT id, name, email FROM users WHERE id IN ({})", user_ids.join(",")),
        ))
        .await
        .unwrap_or_default();
    let users: HashMap<i32, (String, String)> = users
        .iter()
        .filter_map(|row| {
            Some((
                row.try_get("", "id").ok()?,
                (row.try_get("", "name").ok()?, row.try_get("", "email").ok()?),
            ))
        })
        .collect();
    let mut out = String::from(r#"{"data":{"products":{"nodes":["#);
    for (index, (id, name)) in products.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"name":{},"reservations":{{"nodes":["#,
            serde_json::Value::from(name.as_str())
        );
        for (position, (quantity, user)) in per_product.get(id).into_iter().flatten().enumerate() {
            if position > 0 {
                out.push(',');
            }
            let (user_name, email) = users.get(user).cloned().unwrap_or_default();
            let _ = write!(
                out,
                r#"{{"quantity":{quantity},"user":{{"name":{},"email":{}}}}}"#,
                serde_json::Value::from(user_name),
                serde_json::Value::from(email)
            );
        }
        out.push_str("]}}");
    }
    out.push_str("]}}}");
    ([(header::CONTENT_TYPE, "application/json")], out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18083".into());
    let url = std::env::var("DATABASE_URL")?;
    let (db, _) = alx_backend::db::connect(&url, 16).await?;
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(listener, Router::new().route("/graphql", post(handler)).with_state(db)).await?;
    Ok(())
}
