//! Catalog use-cases: reservations take and give back stock atomically; admins manage products.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::{
    model::{NewProduct, Product, ProductChange, Quantity, Reservation, ReservationParent},
    repo,
};
use crate::{
    accounts::Caller,
    clock::Clock,
    db::retry_transient,
    error::{AppError, AppResult, ErrorCode, Message},
    freshness::{Invalidations, Tags},
    pagination::{KeysetPage, Page, pages_by_parent},
};

/// The cache tags of the catalog's types (see `freshness`): a write touches those whose data it changes.
pub(super) const PRODUCT: &str = "Product";
pub(super) const RESERVATION: &str = "Reservation";

#[derive(Clone)]
pub struct CatalogService {
    db: DatabaseConnection,
    clock: Clock,
    invalidations: Invalidations,
}

impl CatalogService {
    pub fn new(db: DatabaseConnection, clock: Clock, invalidations: Invalidations) -> Self {
        Self {
            db,
            clock,
            invalidations,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub async fn create_product(&self, new: NewProduct) -> AppResult<Product> {
        let txn = self.db.begin().await?;
        let product = repo::insert_product(&txn, new, self.now()).await?;
        self.invalidations.touch(&txn, Tags::of(&[PRODUCT])).await?;
        txn.commit().await?;
        Ok(product)
    }

    /// The product named `name`, created from `new` when there is none (the idempotent seed).
    pub async fn ensure_product(&self, new: NewProduct) -> AppResult<Product> {
        match repo::find_product_by_name(&self.db, &new.name).await? {
            Some(existing) => Ok(existing),
            None => self.create_product(new).await,
        }
    }

    pub async fn update_product(&self, id: i32, change: ProductChange) -> AppResult<Product> {
        let txn = self.db.begin().await?;
        let updated = repo::update_product(&txn, id, change, self.now()).await?;
        self.invalidations.touch(&txn, Tags::of(&[PRODUCT])).await?;
        txn.commit().await?;
        match updated {
            Some(product) => Ok(product),
            // The update's only condition besides the id is the stock covering what is reserved.
            None => match repo::find_product(&self.db, id).await? {
                None => Err(AppError::NotFound {
                    field: Some("id".into()),
                }),
                Some(product) => Err(AppError::bad_input(
                    "input.initialStock",
                    Message::new("catalog-stock-below-reserved").arg("reserved", product.reserved),
                )),
            },
        }
    }

    /// Deleting a product that has reservations is refused: the reservations are someone's, and silently
    /// dropping them would lose that record. Cancel them first.
    pub async fn delete_product(&self, id: i32) -> AppResult<()> {
        if repo::product_has_reservations(&self.db, id).await? {
            return Err(AppError::bad_input(
                "id",
                Message::new("catalog-product-has-reservations"),
            ));
        }
        let txn = self.db.begin().await?;
        let deleted = repo::delete_product(&txn, id).await;
        if deleted.is_ok() {
            self.invalidations.touch(&txn, Tags::of(&[PRODUCT])).await?;
            txn.commit().await?;
        }
        match deleted {
            Ok(0) => Err(AppError::NotFound {
                field: Some("id".into()),
            }),
            Ok(_) => Ok(()),
            // A reservation landed between the check and the delete; the foreign key refused the delete.
            Err(error) if error.sql_err().is_some() => Err(AppError::bad_input(
                "id",
                Message::new("catalog-product-has-reservations"),
            )),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn products(&self, ids: &[i32]) -> AppResult<Vec<Product>> {
        Ok(repo::find_products(&self.db, ids).await?)
    }

    pub async fn list_products(&self, page: &KeysetPage<i32>) -> AppResult<Page<Product>> {
        Ok(repo::list_products(&self.db, page).await?)
    }

    pub async fn count_products(&self) -> AppResult<u64> {
        Ok(repo::count_products(&self.db).await?)
    }

    /// Takes stock and records the reservation in one transaction; `OUT_OF_STOCK` when too few units are left.
    #[tracing::instrument(skip(self), fields(product.id = product_id, quantity = quantity.get()))]
    pub async fn reserve(&self, caller: Caller, product_id: i32, quantity: Quantity) -> AppResult<Reservation> {
        retry_transient(|| async {
            let now = self.now();
            let txn = self.db.begin().await?;
            if !repo::take_stock(&txn, product_id, quantity.get(), now).await? {
                txn.rollback().await?;
                return Ok(match repo::find_product(&self.db, product_id).await? {
                    None => Err(AppError::NotFound {
                        field: Some("productId".into()),
                    }),
                    Some(product) => Err(AppError::Refused {
                        code: ErrorCode::OutOfStock,
                        message: Message::new("catalog-out-of-stock")
                            .arg("available", product.current_stock())
                            .arg("requested", quantity.get()),
                    }),
                });
            }
            let reservation = repo::insert_reservation(&txn, product_id, caller.user_id, quantity.get(), now).await?;
            self.invalidations
                .touch(&txn, Tags::of(&[PRODUCT, RESERVATION]))
                .await?;
            txn.commit().await?;
            Ok(Ok(reservation))
        })
        .await
    }

    /// Cancels a reservation (its owner or an admin) and gives its stock back, in one transaction.
    pub async fn cancel_reservation(&self, caller: Caller, id: i32) -> AppResult<Reservation> {
        retry_transient(|| async {
            let Some(reservation) = repo::find_reservations(&self.db, &[id]).await?.pop() else {
                return Ok(Err(AppError::NotFound {
                    field: Some("id".into()),
                }));
            };
            if !caller.can_see(reservation.user_id) {
                return Ok(Err(AppError::Forbidden));
            }
            let txn = self.db.begin().await?;
            if !repo::delete_reservation(&txn, id).await? {
                txn.rollback().await?;
                return Ok(Err(AppError::NotFound {
                    field: Some("id".into()),
                }));
            }
            repo::give_back_stock(&txn, reservation.product_id, reservation.quantity, self.now()).await?;
            self.invalidations
                .touch(&txn, Tags::of(&[PRODUCT, RESERVATION]))
                .await?;
            txn.commit().await?;
            Ok(Ok(reservation.clone()))
        })
        .await
    }

    pub async fn reservations(&self, ids: &[i32]) -> AppResult<Vec<Reservation>> {
        Ok(repo::find_reservations(&self.db, ids).await?)
    }

    /// One page of reservations for each parent, in one statement.
    pub async fn reservations_per_parent(
        &self,
        parent: ReservationParent,
        parents: &[i32],
        page: &KeysetPage<i32>,
    ) -> AppResult<HashMap<i32, Page<Reservation>>> {
        let rows = repo::reservations_per_parent(&self.db, parent, parents, page).await?;
        Ok(pages_by_parent(parents, rows, |row| parent.of(row), page))
    }

    /// How many reservations each parent has, for `totalCount` on nested connections.
    pub async fn count_reservations_per_parent(
        &self,
        parent: ReservationParent,
        parents: &[i32],
    ) -> AppResult<HashMap<i32, u64>> {
        Ok(repo::count_reservations_per_parent(&self.db, parent, parents).await?)
    }
}
