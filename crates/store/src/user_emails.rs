//! `user_emails`: every address a user can be found by (lower-cased), kept in step with the
//! user's SCIM document and the `email` column, so `emails.value eq` and sign-in lookups are
//! index lookups.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::db::Stmt;

const DELETE_EMAILS: &str = "DELETE FROM user_emails WHERE user_id = $1 AND org_id = $2";
const INSERT_EMAIL: &str =
    "INSERT INTO user_emails (user_id, org_id, value_key) VALUES ($1, $2, $3)";

/// A document's e-mail addresses, lower-cased.
pub(crate) fn document_emails(doc: &Value) -> BTreeSet<String> {
    doc.get("emails")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .filter(|v| !v.is_empty())
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// The addresses a user's e-mail lookups must find: the document's `emails` and the `email`
/// column the admin API edits (which the document shows as primary), lower-cased.
pub(crate) fn lookup_emails(resource: &str, email: Option<&str>) -> BTreeSet<String> {
    let doc: Value = serde_json::from_str(resource).unwrap_or(Value::Null);
    let mut all = document_emails(&doc);
    all.extend(email.map(str::to_lowercase));
    all
}

/// Replaces a user's rows with `emails`.
pub(crate) fn replace_email_stmts<'a>(
    org_id: &'a str,
    user_id: &'a str,
    emails: &'a BTreeSet<String>,
) -> impl Iterator<Item = Stmt> + 'a {
    let delete = Stmt::new(DELETE_EMAILS, vec![user_id.into(), org_id.into()]);
    std::iter::once(delete).chain(email_stmts(org_id, user_id, emails))
}

/// The rows of a new user.
pub(crate) fn email_stmts<'a>(
    org_id: &'a str,
    user_id: &'a str,
    emails: &'a BTreeSet<String>,
) -> impl Iterator<Item = Stmt> + 'a {
    emails.iter().map(move |e| {
        Stmt::new(
            INSERT_EMAIL,
            vec![user_id.into(), org_id.into(), e.as_str().into()],
        )
    })
}
