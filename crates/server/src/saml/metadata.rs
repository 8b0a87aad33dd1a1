//! Our SP metadata toward one connection's IdP, `GET /saml/{connection}`: at the URL that is
//! also the connection's default entity ID, so an IdP that reads metadata from its entity ID
//! finds it. It publishes the connection's signing and encryption certificates (the next ones
//! too, during a rotation).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::oidc::page::{error_page, store_failure};
use crate::state::AppState;

pub async fn sp_metadata(
    State(state): State<AppState>,
    Path(connection): Path<String>,
) -> Response {
    let found = match uuid::Uuid::try_parse(&connection) {
        Ok(_) => state.store.sso_connection_by_id(&connection).await,
        Err(_) => Ok(None),
    };
    let connection = match found {
        Ok(Some(c)) => c,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                "saml-no-connection",
                "metadata of an unknown connection",
            )
        }
        Err(e) => return store_failure(&e),
    };
    // Made on the first read for a connection, once (the IdP reads this before anything else).
    let keys = match crate::sp_keys::keys_of(&state, &connection).await {
        Ok(keys) => keys,
        Err(e) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "signin-unavailable",
                &format!("SP keys of connection {}: {e:#}", connection.id),
            )
        }
    };
    let acs_url = state.public_url.acs();
    let entity_id = state.public_url.audience_of(&connection);
    let xml = lanyard_saml::metadata::write_sp(&lanyard_saml::metadata::SpMetadata {
        id: None,
        entity_id: &entity_id,
        acs_url: &acs_url,
        slo_url: None,
        signing_certs: &keys.signing_certs,
        encryption_certs: &keys.encryption_certs,
        name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
        authn_requests_signed: connection.sign_requests,
        want_assertions_signed: true,
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/samlmetadata+xml"),
        )],
        xml,
    )
        .into_response()
}
