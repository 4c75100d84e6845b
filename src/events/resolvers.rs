//! The events part of the schema: events, their seats, and the mutations that take seats and manage events.

use async_graphql::{Context, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};

use super::{
    Event, EventsService, NewEvent, SeatReservation, SeatsService,
    loaders::{EventLoader, SeatReservationLoader, SeatsOfEvent},
    model::EventChange,
};
use crate::{
    accounts::resolvers::UserNode,
    graphql::{
        children::{ChildTotal, child_page},
        connection::{ConnectionArgs, Cursor, TotalCount, build_connection, connection_cost},
        errors::GqlResultExt,
        guards::{AdminOnly, LoggedIn, require_caller, require_self_or_admin},
        ids::{NodeType, global_id, parse_id_of},
        load_one,
    },
    jobs::JobNode,
};

fn events<'a>(ctx: &Context<'a>) -> &'a EventsService {
    ctx.data_unchecked::<EventsService>()
}

/// Something that happens at a time, with a number of seats.
pub struct EventNode(pub Event);

// `serial` (see Product in the catalog): only `seatReservations` waits on a DataLoader.
#[Object(name = "Event", serial)]
impl EventNode {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Event, self.0.id)
    }

    async fn database_id(&self) -> i32 {
        self.0.id
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }

    async fn capacity(&self) -> i32 {
        self.0.capacity
    }

    async fn available_seats(&self) -> i32 {
        self.0.available_seats
    }

    /// Whether seats can be reserved; turns false by itself when the last seat goes.
    async fn reservation_enabled(&self) -> bool {
        self.0.reservation_enabled
    }

    /// Seats taken, oldest first (admins only).
    #[graphql(
        guard = "AdminOnly",
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(private)
    )]
    async fn seat_reservations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<Cursor, SeatReservationNode, ChildTotal>> {
        let page = ConnectionArgs::new(first, after, last, before)
            .parse::<i32>("seatReservations")
            .gql()?;
        let (page, total) = child_page::<SeatsOfEvent>(ctx, self.0.id, page).await?;
        Ok(build_connection(
            "seatReservations",
            page,
            |row| row.id,
            SeatReservationNode,
            total,
        ))
    }
}

/// A seat at an event, held for a user.
pub struct SeatReservationNode(pub SeatReservation);

#[Object(name = "SeatReservation", cache_control(private))]
impl SeatReservationNode {
    pub async fn id(&self) -> ID {
        global_id(NodeType::SeatReservation, self.0.id)
    }

    async fn database_id(&self) -> i32 {
        self.0.id
    }

    async fn event(&self, ctx: &Context<'_>) -> Result<Option<EventNode>> {
        Ok(load_one::<EventLoader, _>(ctx, self.0.event_id).await?.map(EventNode))
    }

    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        UserNode::load(ctx, self.0.user_id).await
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(InputObject)]
pub struct CreateEventInput {
    name: String,
    starts_at: DateTime<Utc>,
    capacity: i32,
    #[graphql(default = true)]
    reservation_enabled: bool,
}

#[derive(InputObject)]
pub struct UpdateEventInput {
    name: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    /// Not below the seats already taken; available seats follow.
    capacity: Option<i32>,
    reservation_enabled: Option<bool>,
}

#[derive(Default)]
pub struct EventsQuery;

#[Object]
impl EventsQuery {
    /// Every event, oldest first.
    #[graphql(
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(max_age = 30)
    )]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<Cursor, EventNode, TotalCount>> {
        let page = ConnectionArgs::new(first, after, last, before)
            .parse::<i32>("events")
            .gql()?;
        let service = events(ctx).clone();
        let page = service.list_events(&page).await.gql()?;
        let total = TotalCount::counting(service, |service| async move { service.count_events().await });
        Ok(build_connection("events", page, |event| event.id, EventNode, total))
    }

    /// An event by its global id; null when it does not exist.
    #[graphql(cache_control(max_age = 30))]
    async fn event(&self, ctx: &Context<'_>, id: ID) -> Result<Option<EventNode>> {
        let id = parse_id_of("id", &id, NodeType::Event).gql()?;
        Ok(load_one::<EventLoader, _>(ctx, id).await?.map(EventNode))
    }
}

#[derive(Default)]
pub struct EventsMutation;

#[Object]
impl EventsMutation {
    /// Queues a seat reservation for the caller and returns its job at once (follow it with `jobUpdated`);
    /// `RESERVATIONS_BLOCKED` when the event takes no more reservations.
    #[graphql(guard = "LoggedIn")]
    async fn reserve_seat(&self, ctx: &Context<'_>, event_id: ID) -> Result<JobNode> {
        let caller = require_caller(ctx)?;
        let event_id = parse_id_of("eventId", &event_id, NodeType::Event).gql()?;
        Ok(JobNode(
            ctx.data_unchecked::<SeatsService>()
                .reserve_seat(caller, event_id)
                .await
                .gql()?,
        ))
    }

    #[graphql(guard = "AdminOnly")]
    async fn create_event(&self, ctx: &Context<'_>, input: CreateEventInput) -> Result<EventNode> {
        let new = NewEvent::parse(&input.name, input.starts_at, input.capacity, input.reservation_enabled).gql()?;
        Ok(EventNode(events(ctx).create_event(new).await.gql()?))
    }

    #[graphql(guard = "AdminOnly")]
    async fn update_event(&self, ctx: &Context<'_>, id: ID, input: UpdateEventInput) -> Result<EventNode> {
        let id = parse_id_of("id", &id, NodeType::Event).gql()?;
        let change = EventChange::parse(
            input.name.as_deref(),
            input.starts_at,
            input.capacity,
            input.reservation_enabled,
        )
        .gql()?;
        Ok(EventNode(events(ctx).update_event(id, change).await.gql()?))
    }
}

/// Loads nodes for `node`/`nodes`.
pub async fn load_event(ctx: &Context<'_>, id: i32) -> Result<Option<EventNode>> {
    Ok(load_one::<EventLoader, _>(ctx, id).await?.map(EventNode))
}

/// A seat reservation names its user: only that user and admins may load it.
pub async fn load_seat_reservation(ctx: &Context<'_>, id: i32) -> Result<Option<SeatReservationNode>> {
    let Some(seat) = load_one::<SeatReservationLoader, _>(ctx, id).await? else {
        return Ok(None);
    };
    require_self_or_admin(ctx, seat.user_id)?;
    Ok(Some(SeatReservationNode(seat)))
}
