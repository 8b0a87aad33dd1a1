//! IdP-initiated sign-in: a Response at `/saml` that answers no request. It is accepted only by
//! a connection that allows it, found by the Response's unverified Audience (and, on the
//! shared audience of seed 000, its `OrganizationName` or else its Issuer), verified with that
//! connection's certificates alone, and spent like any other assertion. It opens no session
//! (see `acs.rs`): the browser goes to the organization's default app, whose own sign-in then
//! goes by the SP-initiated path.

use axum::http::StatusCode;
use axum::response::Response;
use lanyard_saml::response::Hints;
use lanyard_store::{SsoConnection, StoreError};

use super::acs::{
    deactivated, find_user, refused, same_organization, skew_ms, verify, Through, ORGANIZATION_NAME,
};
use super::failures::Signed;
use crate::oidc::page::{notice, store_failure};
use crate::oidc::{see_other, with_query};
use crate::state::AppState;

/// Every refusal before the signature is checked reads the same, so the page tells nobody
/// which organizations use which IdP.
const NOT_ACCEPTED: &str = "saml-idp-initiated-refused";

/// The connection an unsolicited Response is addressed to, or (in `Err(Ok(_))`) why none is,
/// for the log.
async fn addressed(
    state: &AppState,
    hints: &Hints,
) -> Result<SsoConnection, Result<String, StoreError>> {
    let Some(audience) = hints.audience.as_deref() else {
        return Err(Ok("unsolicited Response without an Audience".into()));
    };
    let found = if audience.trim_end_matches('/') == state.public_url.acs() {
        on_shared_audience(state, hints).await?
    } else {
        // A connection on the shared audience no longer answers to its own entity ID.
        let found = state.store.sso_connection_by_sp_entity_id(audience).await;
        found
            .map_err(Err)?
            .filter(|c| !c.shared_audience)
            .ok_or_else(|| {
                Ok(format!(
                    "unsolicited Response for {audience:?}: no such connection"
                ))
            })?
    };
    let c = &found;
    if !(c.allow_idp_initiated && c.enabled) {
        return Err(Ok(format!(
            "unsolicited Response for {audience:?}: connection {} does not accept IdP-initiated sign-in",
            c.id
        )));
    }
    Ok(found)
}

/// On the shared audience: the organization the `OrganizationName` names, and its one shared
/// connection that trusts the Issuer. The Issuer alone never chooses an organization: any
/// organization can register any IdP's public certificate, so an IdP that names nobody could
/// otherwise be made to sign people into whichever organization registered it.
async fn on_shared_audience(
    state: &AppState,
    hints: &Hints,
) -> Result<SsoConnection, Result<String, StoreError>> {
    let issuer = hints
        .assertion_issuer
        .as_deref()
        .or(hints.response_issuer.as_deref())
        .unwrap_or_default();
    let Some(name) = hints.organization_name.as_deref() else {
        return Err(Ok(format!(
            "unsolicited Response to the shared audience from {issuer:?} without {ORGANIZATION_NAME}"
        )));
    };
    let org = state.store.find_org(name).await.map_err(Err)?.ok_or_else(|| {
        Ok(format!(
            "unsolicited Response to the shared audience: {ORGANIZATION_NAME} {name:?} names no organization"
        ))
    })?;
    let all = state.store.list_sso_connections(&org.id).await;
    let candidates = all
        .map_err(Err)?
        .into_iter()
        .filter(|c| c.shared_audience && c.enabled && c.idp_entity_id == issuer)
        .collect::<Vec<_>>();
    match <[SsoConnection; 1]>::try_from(candidates) {
        Ok([connection]) => Ok(connection),
        Err(candidates) => Err(Ok(format!(
            "unsolicited Response to the shared audience from {issuer:?} naming {name:?}: {} of its connections share the audience with that issuer (exactly one must)",
            if candidates.is_empty() { "none" } else { "several" }
        ))),
    }
}

/// An IdP-initiated Response: checked, then the browser is sent to the organization's
/// default app to sign in the ordinary way.
pub(super) async fn answer_nothing(through: &Through<'_>, bytes: &[u8], hints: &Hints) -> Response {
    let state = through.state;
    let connection = match addressed(state, hints).await {
        Ok(found) => found,
        Err(Ok(detail)) => return refused(NOT_ACCEPTED, &detail),
        Err(Err(e)) => return store_failure(&e),
    };
    let identity = match verify(state, bytes, &connection, None).await {
        Ok(identity) => identity,
        Err(e) => return through.unverified(&connection, NOT_ACCEPTED, &e).await,
    };
    if let Err(page) = same_organization(through, &connection, &identity).await {
        return page;
    }
    // Spent like any other assertion: posted twice, it is acted on once.
    let now = lanyard_store::now_ms();
    let expires_at = identity.not_on_or_after.max(now) + skew_ms(&connection);
    let replay_audience = state.public_url.replay_audience_of(&connection);
    match state
        .store
        .spend_assertion(&replay_audience, &identity.assertion_id, expires_at)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let detail = format!(
                "connection {}: assertion {:?} was already used",
                connection.id, identity.assertion_id
            );
            let refusal = (StatusCode::BAD_REQUEST, "saml-spent", Signed::Verified);
            return through.failed(&connection, refusal, &detail).await;
        }
        Err(e) => return store_failure(&e),
    }
    let user_id = match find_user(through, &connection, &identity).await {
        Ok(id) => id,
        Err(page) => return page,
    };
    match state.store.get_user(&connection.org_id, &user_id).await {
        Ok(user) if crate::claims::sign_in_refusal(&user).is_some() => {
            return deactivated(&user_id)
        }
        Ok(_) => {}
        Err(e) => return store_failure(&e),
    }
    match state.store.default_app_client(&connection.org_id).await {
        // OIDC Core §4: the app is asked to start a sign-in at this issuer.
        Ok(Some(app)) => {
            let mut params = vec![("iss", state.public_url.issuer())];
            if identity.name_id.contains('@') {
                params.push(("login_hint", identity.name_id.as_str()));
            }
            see_other(&with_query(
                app.initiate_login_uri.as_deref().unwrap_or_default(),
                &params,
            ))
        }
        Ok(None) => notice("saml-no-app-title", "saml-no-app"),
        Err(e) => store_failure(&e),
    }
}
