//! The rules every issuance of a session, code or token follows, and what ends them.
//!
//! Whatever lets a user in is issued only inside a transaction that first reads the user's row
//! with a shared lock and finds them active. Deactivation takes that row with an exclusive lock
//! and deletes everything issued to them in the same transaction ([`end_sign_in_stmts`]), so
//! one always follows the other: nothing issued can outlive a deactivation that commits around
//! it. Locks are taken in one order everywhere: organization, connection, user, grant, client,
//! then the rows themselves.

use crate::db::{Bind, Lock, Serial, Stmt, Tx};
use crate::oauth_clients::ACCESS_KEY_CLIENT_PREFIX;
use crate::Result;

/// The statements that end everything a user was issued: sessions, codes and tokens. Run in
/// the transaction that deactivates them, after their row is locked.
pub(crate) fn end_sign_in_stmts(user_id: &str) -> Vec<Stmt> {
    ending_stmts("user_id", user_id)
}

/// The statements that end what a connection let in: its sessions, and the codes and tokens
/// issued through it. Run after the connection's row is locked.
pub(crate) fn end_connection_stmts(connection_id: &str) -> Vec<Stmt> {
    ending_stmts("connection_id", connection_id)
}

fn ending_stmts(column: &str, value: &str) -> Vec<Stmt> {
    ["sessions", "oauth_codes", "oauth_tokens"]
        .into_iter()
        .map(|table| {
            Stmt::new(
                format!("DELETE FROM {table} WHERE {column} = $1"),
                vec![Bind::Text(value.to_string())],
            )
        })
        .collect()
}

/// Holds the organization row against deletion for the transaction: everything issued
/// references it, and taking it first keeps the lock order of an organization's deletion
/// (organization, then its users) and avoids a cycle with it. False when it is gone.
pub(crate) async fn org_exists(tx: &mut Tx<'_>, org_id: &str) -> Result<bool> {
    let sql = format!(
        "SELECT CAST(1 AS BIGINT) FROM organizations WHERE id = $1{}",
        tx.lock(Lock::KeyShare)
    );
    tx.exists(&sql, &[org_id.into()]).await
}

/// Takes a connection's row for change, before what hangs off it: sign-ins completing through
/// it take it shared first, so the two never cross. False when it is not there.
pub(crate) async fn lock_connection(tx: &mut Tx<'_>, org_id: &str, id: &str) -> Result<bool> {
    let sql = format!(
        "SELECT CAST(1 AS BIGINT) FROM sso_connections WHERE org_id = $1 AND id = $2{}",
        tx.lock(Lock::Update)
    );
    tx.exists(&sql, &[org_id.into(), id.into()]).await
}

/// Whether the connection an issuance came through (if any) is still there, read under a
/// shared lock: a deletion or a certificate taken off, in flight, is waited for, and what it
/// ends is then seen gone. Taken after the organization and before the user.
pub(crate) async fn connection_is_there(
    tx: &mut Tx<'_>,
    connection_id: Option<&str>,
) -> Result<bool> {
    let Some(id) = connection_id else {
        return Ok(true);
    };
    let sql = format!(
        "SELECT CAST(1 AS BIGINT) FROM sso_connections WHERE id = $1{}",
        tx.lock(Lock::Share)
    );
    tx.exists(&sql, &[id.into()]).await
}

/// Whether the user may be issued anything now, read under a shared row lock: a deactivation
/// in flight is waited for and then seen. Service accounts count too: one signs in only
/// through its own access key (the server checks which user a client admits).
pub(crate) async fn user_is_active(tx: &mut Tx<'_>, org_id: &str, user_id: &str) -> Result<bool> {
    let sql = format!(
        "SELECT active FROM users WHERE org_id = $1 AND id = $2{}",
        tx.lock(Lock::Share)
    );
    Ok(tx
        .value::<bool>(&sql, &[org_id.into(), user_id.into()])
        .await?
        == Some(true))
}

/// Whether the client (an OAuth client, or an access key acting as one) is still registered
/// in `org_id` and not revoked, read under a shared lock so a revocation in flight is waited
/// for (it deletes the client's codes and tokens after it).
pub(crate) async fn client_is_live(tx: &mut Tx<'_>, org_id: &str, client_id: &str) -> Result<bool> {
    let table = if client_id.starts_with(ACCESS_KEY_CLIENT_PREFIX) {
        "access_keys"
    } else {
        "oauth_clients"
    };
    let sql = format!(
        "SELECT revoked_at FROM {table} WHERE id = $1 AND org_id = $2{}",
        tx.lock(Lock::Share)
    );
    let revoked: Option<Option<i64>> = tx.value(&sql, &[client_id.into(), org_id.into()]).await?;
    Ok(matches!(revoked, Some(None)))
}

/// Serializes everything that changes one grant's tokens (refresh, reuse detection,
/// revocation).
pub(crate) async fn lock_grant(tx: &mut Tx<'_>, grant_id: &str) -> Result<()> {
    tx.serialize(Serial::Grant(grant_id)).await
}
