//! `/Users` and `/Groups`: one set of handlers over a [`Kind`], composing the protocol rules of
//! `lanyard_scim` with the store.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lanyard_scim::document::ResourceType;
use lanyard_scim::eval::ResourceSchema;
use lanyard_scim::filter::{parse_filter, parse_path, AttrPath};
use lanyard_scim::messages::{
    list_response, parse_attribute_list, project, query_param, sort_order, ListRequest, Paging,
};
use lanyard_scim::resource::{from_request, retain_known};
use lanyard_scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use lanyard_scim::{patch, ScimType};
use lanyard_store::{ScimList, ScimQuery, ScimResource};
use serde_json::Value;

use super::credential::{guard_members, member_ids, ScimCaller};
use super::error::{ScimError, ScimResult, SCIM_JSON};
use super::ScimState;
use crate::etag;

/// Results per page when the client does not say.
pub const DEFAULT_COUNT: u64 = 100;
/// Most results per page (advertised as `filter.maxResults`).
pub const MAX_COUNT: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    User,
    Group,
}

/// A resource type: its name, endpoint and schemas.
#[derive(Clone, Copy)]
pub struct Kind {
    pub which: Which,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub schema: ResourceSchema<'static>,
}

pub const USERS: Kind = Kind {
    which: Which::User,
    name: "User",
    endpoint: "Users",
    schema: ResourceSchema {
        core: &USER_SCHEMA,
        extensions: &[&ENTERPRISE_USER_SCHEMA],
    },
};

pub const GROUPS: Kind = Kind {
    which: Which::Group,
    name: "Group",
    endpoint: "Groups",
    schema: ResourceSchema {
        core: &GROUP_SCHEMA,
        extensions: &[],
    },
};

impl Kind {
    fn action(&self, verb: &str) -> String {
        format!("scim.{}.{verb}", self.name.to_ascii_lowercase())
    }

    /// The multi-valued attribute filled from memberships.
    fn resource_type(&self) -> ResourceType {
        match self.which {
            Which::User => ResourceType::User,
            Which::Group => ResourceType::Group,
        }
    }

    fn links_attribute(&self) -> &'static str {
        self.resource_type().links_attribute()
    }

    fn not_found(&self, id: &str) -> ScimError {
        ScimError::not_found(format!(
            "no {} with id {id:?} in this organization",
            self.name
        ))
    }
}

/// Binds `$schema`: `$kind`'s schemas with the organization's own extensions (for users).
macro_rules! org_schema {
    ($state:expr, $org_id:expr, $kind:expr, $schema:ident) => {
        let defs = super::extensions::for_org($state, $org_id, $kind).await?;
        let attrs: Vec<Vec<lanyard_scim::schema::Attribute<'_>>> =
            defs.iter().map(|d| d.attributes()).collect();
        let own: Vec<lanyard_scim::schema::Schema<'_>> =
            defs.iter().zip(&attrs).map(|(d, a)| d.schema(a)).collect();
        let mut refs: Vec<&lanyard_scim::schema::Schema<'_>> = $kind.schema.extensions.to_vec();
        refs.extend(own.iter());
        let $schema = ResourceSchema {
            core: $kind.schema.core,
            extensions: &refs,
        };
    };
}

/// The routes of one resource type.
pub fn routes(kind: Kind) -> Router<ScimState> {
    let base = format!("/{}", kind.endpoint);
    Router::new()
        .route(
            &base,
            get(
                move |s: State<ScimState>, c: ScimCaller, q: Query<Vec<(String, String)>>| {
                    list(kind, s, c, q)
                },
            )
            .post(
                move |s: State<ScimState>,
                      c: ScimCaller,
                      q: Query<Vec<(String, String)>>,
                      h: HeaderMap,
                      b: Bytes| create(kind, s, c, q, h, b),
            ),
        )
        .route(
            &format!("{base}/.search"),
            post(
                move |s: State<ScimState>, c: ScimCaller, h: HeaderMap, b: Bytes| {
                    search(kind, s, c, h, b)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(
                move |s: State<ScimState>,
                      c: ScimCaller,
                      p: Path<String>,
                      q: Query<Vec<(String, String)>>,
                      h: HeaderMap| fetch(kind, s, c, p, q, h),
            )
            .put(
                move |s: State<ScimState>,
                      c: ScimCaller,
                      p: Path<String>,
                      q: Query<Vec<(String, String)>>,
                      h: HeaderMap,
                      b: Bytes| replace(kind, s, c, p, q, h, b),
            )
            .patch(
                move |s: State<ScimState>,
                      c: ScimCaller,
                      p: Path<String>,
                      q: Query<Vec<(String, String)>>,
                      h: HeaderMap,
                      b: Bytes| modify(kind, s, c, p, q, h, b),
            )
            .delete(
                move |s: State<ScimState>, c: ScimCaller, p: Path<String>, h: HeaderMap| {
                    remove(kind, s, c, p, h)
                },
            ),
        )
}

/// A request body as JSON: `application/scim+json` or `application/json` (or unlabelled).
pub fn json_body(headers: &HeaderMap, body: &Bytes) -> ScimResult<Value> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let essence = ct
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence != SCIM_JSON && essence != "application/json" {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("send the body as {SCIM_JSON} (or application/json), not {essence:?}"),
            ));
        }
    }
    serde_json::from_slice(body).map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// A SCIM JSON response.
pub fn scim_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

/// The full representation: the stored document with `meta.location` and membership references.
fn render(
    state: &ScimState,
    kind: Kind,
    schema: &ResourceSchema<'_>,
    record: &ScimResource,
) -> Value {
    let base = state.app.public_url.scim_base();
    record.representation(kind.resource_type(), schema, &base)
}

/// `attributes` / `excludedAttributes`, from the query or a SearchRequest.
struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl Projection {
    fn read(attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Projection> {
        let list = |text: Option<&str>| -> ScimResult<Vec<AttrPath>> {
            Ok(match text {
                Some(t) => parse_attribute_list(t)?,
                None => Vec::new(),
            })
        };
        Ok(Projection {
            attributes: list(attributes)?,
            excluded: list(excluded)?,
        })
    }

    fn apply(&self, schema: &ResourceSchema<'_>, doc: &Value) -> Value {
        project(doc, schema, &self.attributes, &self.excluded)
    }

    /// Whether `name` is returned (so memberships need reading).
    fn returns(&self, name: &str) -> bool {
        let named = |list: &[AttrPath]| {
            list.iter()
                .any(|p| p.urn.is_none() && p.name.eq_ignore_ascii_case(name))
        };
        !named(&self.excluded) && (self.attributes.is_empty() || named(&self.attributes))
    }
}

async fn list(
    kind: Kind,
    State(state): State<ScimState>,
    caller: ScimCaller,
    Query(query): Query<Vec<(String, String)>>,
) -> ScimResult<Response> {
    let request = ListRequest::from_query(&query)?;
    run_list(kind, &state, &caller, &request).await
}

async fn search(
    kind: Kind,
    State(state): State<ScimState>,
    caller: ScimCaller,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let body = json_body(&headers, &body)?;
    let request = ListRequest::from_search(&body)?;
    run_list(kind, &state, &caller, &request).await
}

/// One page of one resource type: the resources (rendered and projected) and the total.
async fn page(
    kind: Kind,
    state: &ScimState,
    caller: &ScimCaller,
    request: &ListRequest,
    offset: u64,
    count: u64,
) -> ScimResult<(Vec<Value>, u64)> {
    let filter = request.filter.as_deref().map(parse_filter).transpose()?;
    let sort_path = request
        .sort_by
        .as_deref()
        .map(|s| {
            let path = parse_path(s)
                .map_err(|e| ScimError::bad_request(ScimType::InvalidValue, e.message))?;
            if path.filter.is_some() {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    "sortBy takes an attribute path, not a filter",
                ));
            }
            Ok(path.attr)
        })
        .transpose()?;
    let order = sort_order(request.sort_order.as_deref())?;
    let projection = Projection::read(request.attributes.as_deref(), request.excluded.as_deref())?;
    org_schema!(state, &caller.org_id, kind, schema);
    let query = ScimQuery {
        filter: filter.as_ref(),
        sort: sort_path.as_ref().map(|p| (p, order)),
        offset,
        count,
        links: projection.returns(kind.links_attribute()),
    };
    let ScimList { resources, total } = match kind.which {
        Which::User => {
            state
                .app
                .store
                .scim_list_users(&caller.org_id, &schema, &query)
                .await?
        }
        Which::Group => {
            state
                .app
                .store
                .scim_list_groups(&caller.org_id, &schema, &query)
                .await?
        }
    };
    let resources = resources
        .iter()
        .map(|r| projection.apply(&schema, &render(state, kind, &schema, r)))
        .collect();
    Ok((resources, total))
}

fn paging(request: &ListRequest) -> Paging {
    Paging::new(request.start_index, request.count, DEFAULT_COUNT, MAX_COUNT)
}

async fn run_list(
    kind: Kind,
    state: &ScimState,
    caller: &ScimCaller,
    request: &ListRequest,
) -> ScimResult<Response> {
    let paging = paging(request);
    let (resources, total) =
        page(kind, state, caller, request, paging.offset(), paging.count).await?;
    Ok(scim_response(
        StatusCode::OK,
        &list_response(resources, total, paging),
    ))
}

/// `POST /.search`: Users, then Groups, as one list. A filter naming attributes only one type
/// has matches nothing of the other.
pub async fn search_all(
    State(state): State<ScimState>,
    caller: ScimCaller,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let body = json_body(&headers, &body)?;
    let request = ListRequest::from_search(&body)?;
    let paging = paging(&request);
    let mut resources = Vec::new();
    let mut total = 0;
    let mut offset = paging.offset();
    let mut understood = false;
    let mut first_error = None;
    for kind in [USERS, GROUPS] {
        let want = paging.count - resources.len() as u64;
        match page(kind, &state, &caller, &request, offset, want).await {
            Ok((found, count)) => {
                understood = true;
                offset = offset.saturating_sub(count);
                total += count;
                resources.extend(found);
            }
            Err(e) if e.scim_type == Some(ScimType::InvalidFilter) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if !understood {
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    Ok(scim_response(
        StatusCode::OK,
        &list_response(resources, total, paging),
    ))
}

async fn load(kind: Kind, state: &ScimState, org_id: &str, id: &str) -> ScimResult<ScimResource> {
    let found = match kind.which {
        Which::User => state.app.store.scim_get_user(org_id, id).await?,
        Which::Group => state.app.store.scim_get_group(org_id, id).await?,
    };
    found.ok_or_else(|| kind.not_found(id))
}

/// A single resource response with its ETag (and Location for a creation).
fn one(
    status: StatusCode,
    kind: Kind,
    schema: &ResourceSchema<'_>,
    state: &ScimState,
    record: &ScimResource,
    projection: &Projection,
) -> Response {
    let doc = render(state, kind, schema, record);
    let location = doc["meta"]["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = projection.apply(schema, &doc);
    let mut response = scim_response(status, &body);
    let headers = response.headers_mut();
    // The ETag goes with `meta`: a response projected without it carries neither (some
    // clients fail to reconcile a version header with a resource that has no meta).
    if body.get("meta").is_some() {
        if let Some(v) = etag::header_value(record.version) {
            headers.insert(header::ETAG, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    response
}

fn query_projection(query: &[(String, String)]) -> ScimResult<Projection> {
    Projection::read(
        query_param(query, "attributes"),
        query_param(query, "excludedAttributes"),
    )
}

async fn fetch(
    kind: Kind,
    State(state): State<ScimState>,
    caller: ScimCaller,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let projection = query_projection(&query)?;
    org_schema!(&state, &caller.org_id, kind, schema);
    let record = load(kind, &state, &caller.org_id, &id).await?;
    if etag::none_match(&headers, record.version) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Some(v) = etag::header_value(record.version) {
            response.headers_mut().insert(header::ETAG, v);
        }
        return Ok(response);
    }
    Ok(one(
        StatusCode::OK,
        kind,
        &schema,
        &state,
        &record,
        &projection,
    ))
}

/// The version `If-Match` requires, if any: `*` requires none.
fn if_match(headers: &HeaderMap) -> Option<i64> {
    // A tag this server never issued cannot match the current version.
    etag::if_match_first(headers).unwrap_or(Some(-1))
}

pub(super) async fn create(
    kind: Kind,
    State(state): State<ScimState>,
    caller: ScimCaller,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let projection = query_projection(&query)?;
    let body = json_body(&headers, &body)?;
    org_schema!(&state, &caller.org_id, kind, schema);
    let doc = from_request(&body, &schema)?;
    let audit = caller.audit(&kind.action("create"));
    let record = match kind.which {
        Which::User => {
            state
                .app
                .store
                .scim_create_user(&caller.org_id, &doc, &audit)
                .await?
        }
        Which::Group => {
            let protected = caller.protected_users(&state).await?;
            guard_members(protected.as_ref(), &BTreeSet::new(), &member_ids(&doc))?;
            state
                .app
                .store
                .scim_create_group(&caller.org_id, &doc, &audit)
                .await?
        }
    };
    Ok(one(
        StatusCode::CREATED,
        kind,
        &schema,
        &state,
        &record,
        &projection,
    ))
}

/// Applies `change` to the stored document under the store's lock; answers the new resource.
async fn change(
    kind: Kind,
    state: &ScimState,
    caller: &ScimCaller,
    id: &str,
    headers: &HeaderMap,
    verb: &str,
    change: impl FnOnce(&Value) -> Result<Value, lanyard_scim::Error>,
) -> ScimResult<ScimResource> {
    let expected = if_match(headers);
    let audit = caller.audit(&kind.action(verb));
    let outcome = match kind.which {
        Which::User => {
            caller.may_act_on_user(state, id).await?;
            let change = |doc: &Value| change(doc).map_err(ScimError::from);
            state
                .app
                .store
                .scim_update_user(&caller.org_id, id, expected, change, &audit)
                .await
        }
        Which::Group => {
            let protected = caller.protected_users(state).await?;
            let change = |before: &Value| {
                let after = change(before)?;
                guard_members(protected.as_ref(), &member_ids(before), &member_ids(&after))?;
                Ok(after)
            };
            state
                .app
                .store
                .scim_update_group(&caller.org_id, id, expected, change, &audit)
                .await
        }
    };
    match outcome {
        Ok(Ok(record)) => Ok(record),
        Ok(Err(e)) => Err(e),
        Err(lanyard_store::StoreError::NotFound) => Err(kind.not_found(id)),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn replace(
    kind: Kind,
    State(state): State<ScimState>,
    caller: ScimCaller,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let projection = query_projection(&query)?;
    let body = json_body(&headers, &body)?;
    org_schema!(&state, &caller.org_id, kind, schema);
    let doc = from_request(&body, &schema)?;
    let record = change(kind, &state, &caller, &id, &headers, "replace", |_| Ok(doc)).await?;
    Ok(one(
        StatusCode::OK,
        kind,
        &schema,
        &state,
        &record,
        &projection,
    ))
}

pub(super) async fn modify(
    kind: Kind,
    State(state): State<ScimState>,
    caller: ScimCaller,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult<Response> {
    let projection = query_projection(&query)?;
    let body = json_body(&headers, &body)?;
    let ops = patch::parse_request(&body)?;
    org_schema!(&state, &caller.org_id, kind, schema);
    let record = change(kind, &state, &caller, &id, &headers, "patch", |current| {
        let mut doc = current.clone();
        retain_known(&mut doc, &schema);
        patch::apply(&mut doc, &ops, &schema)?;
        // The patched document is held to the same rules as a PUT body.
        from_request(&doc, &schema)
    })
    .await?;
    Ok(one(
        StatusCode::OK,
        kind,
        &schema,
        &state,
        &record,
        &projection,
    ))
}

pub(super) async fn remove(
    kind: Kind,
    State(state): State<ScimState>,
    caller: ScimCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    let expected = if_match(&headers);
    let audit = caller.audit(&kind.action("delete"));
    let done = match kind.which {
        Which::User => {
            caller.may_act_on_user(&state, &id).await?;
            state
                .app
                .store
                .scim_delete_user(&caller.org_id, &id, expected, &audit)
                .await
        }
        Which::Group => {
            if let Some(protected) = caller.protected_users(&state).await? {
                let group = load(kind, &state, &caller.org_id, &id).await?;
                let members = group.links.iter().map(|l| l.id.clone()).collect();
                guard_members(Some(&protected), &members, &BTreeSet::new())?;
            }
            state
                .app
                .store
                .scim_delete_group(&caller.org_id, &id, expected, &audit)
                .await
        }
    };
    match done {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(lanyard_store::StoreError::NotFound) => Err(kind.not_found(&id)),
        Err(e) => Err(e.into()),
    }
}
