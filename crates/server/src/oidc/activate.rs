//! The page an invitation links to: the user sets their password, which spends the link and
//! activates their account for password sign-in.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::page::{alert, error_page, escape, form_page, notice, say, store_failure};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct Link {
    token: Option<String>,
}

const UNUSABLE: &str = "activate-unusable";

fn link_unusable() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        UNUSABLE,
        "invitation not found, used or expired",
    )
}

fn set_password_page(
    state: &AppState,
    token: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let error = alert(error);
    let inner = format!(
        "<p>{intro}</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <p><label for=\"password\">{new}</label><br>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"12\" maxlength=\"256\" autofocus></p>\
         <p><label for=\"confirm\">{repeat}</label><br>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required minlength=\"12\" maxlength=\"256\"></p>\
         <p><button type=\"submit\">{go}</button></p></form>",
        intro = say("activate-intro", &[]),
        new = say("activate-new-password", &[]),
        repeat = say("activate-repeat", &[]),
        go = say("activate-submit", &[]),
        action = escape(&state.public_url.join("/auth/activate")),
        token = escape(token),
    );
    form_page(status, "activate-title", &inner)
}

/// `GET /auth/activate?token=…`: the form, if the link is live.
pub async fn page(State(state): State<AppState>, Query(link): Query<Link>) -> Response {
    let Some(token) = link.token.filter(|t| super::clean(t, 200)) else {
        return link_unusable();
    };
    match state
        .store
        .open_invitation(&state.secrets.hash_secret(&token))
        .await
    {
        Ok(Some(_)) => set_password_page(&state, &token, None, StatusCode::OK),
        Ok(None) => link_unusable(),
        Err(e) => store_failure(&e),
    }
}

#[derive(Deserialize)]
pub struct NewPassword {
    token: String,
    password: String,
    confirm: String,
}

/// `POST /auth/activate`: sets the password and spends the link, in one transaction.
pub async fn set_password(
    State(state): State<AppState>,
    Form(form): Form<NewPassword>,
) -> Response {
    if !super::clean(&form.token, 200) {
        return link_unusable();
    }
    let retry = |message: &str| {
        set_password_page(
            &state,
            &form.token,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if crate::validate::password(&form.password).is_err() {
        return retry("activate-password-length");
    }
    if form.password != form.confirm {
        return retry("activate-password-differ");
    }
    let hash_of_link = state.secrets.hash_secret(&form.token);
    // Checked before the slow hash, so a dead link costs nothing.
    match state.store.open_invitation(&hash_of_link).await {
        Ok(Some(_)) => {}
        Ok(None) => return link_unusable(),
        Err(e) => return store_failure(&e),
    }
    let password = form.password.clone();
    let hashed =
        crate::secrets::password_work(move || crate::secrets::hash_password(&password)).await;
    let Some(Ok(password_hash)) = hashed else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "activate-busy",
            "no turn for hashing the password, or hashing failed",
        );
    };
    match state
        .store
        .accept_invitation(&hash_of_link, &password_hash)
        .await
    {
        Ok(Some(_)) => notice("activate-done-title", "activate-done"),
        Ok(None) => link_unusable(),
        Err(e) => store_failure(&e),
    }
}
