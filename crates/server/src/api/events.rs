use crate::extract::Params;
use axum::extract::{Path, State};
use axum::Json;
use lanyard_store::Event;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::timestamp;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::permissions::EMPLOYEES_VIEW;
use crate::state::AppState;

/// Most events in one answer.
const MAX_EVENTS: i64 = 1000;

/// Where to read from.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The cursor: the `seq` of the last event already read (0, or absent, for the first).
    pub after: Option<i64>,
    /// Events per answer, 1–1000 (default 100).
    pub limit: Option<i64>,
}

/// A change to a user or group, as provisioning made it.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// The cursor: pass the last one read as `after` to read on.
    pub seq: i64,
    pub id: String,
    /// `user.created`, `user.updated`, `user.deactivated`, `user.reactivated`, `user.deleted`,
    /// `group.created`, `group.updated`, `group.deleted`, `group.member.added` or
    /// `group.member.removed`.
    pub kind: String,
    /// `User` or `Group`.
    pub resource_type: String,
    pub resource_id: String,
    /// The resource after the change (SCIM representation); for member events, the group and
    /// the member; for deletions, the id.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: String,
}

/// A page of events in order, and the cursor to read on from.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventView>,
    /// The `after` for the next call (unchanged when there was nothing new).
    pub next: i64,
}

impl From<Event> for EventView {
    fn from(e: Event) -> EventView {
        EventView {
            seq: e.seq,
            id: e.id,
            kind: e.kind,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            data: e.data,
            created_at: timestamp(e.created_at),
        }
    }
}

/// An organization's provisioning events, oldest first, after a cursor (employees.view).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/events", tag = "events",
    params(("org" = String, Path, description = "Organization id or short name"), EventQuery),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Path(org): Path<String>,
    Params(q): Params<EventQuery>,
) -> ApiResult<Json<EventPage>> {
    let org = who.org(&state, &org).await?;
    who.require(&state, &org, "events.list", EMPLOYEES_VIEW)
        .await?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request(
            "after must be 0 or a seq already read",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_EVENTS).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_EVENTS}"
        )));
    }
    let events = state.store.list_events(&org.id, after, limit).await?;
    let next = events.last().map_or(after, |e| e.seq);
    Ok(Json(EventPage {
        items: events.into_iter().map(EventView::from).collect(),
        next,
    }))
}
