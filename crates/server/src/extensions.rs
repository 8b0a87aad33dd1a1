//! Organizations' SCIM extension schemas for users as stored: what SCIM validates user
//! documents against, what the admin API lists, and where ID-token claims are mapped from.

use lanyard_scim::extension::ExtensionDef;
use lanyard_store::{Store, StoreError};

/// The organization's extension definitions as stored (uncached).
pub async fn load(store: &Store, org_id: &str) -> Result<Vec<ExtensionDef>, StoreError> {
    Ok(read_stored(
        org_id,
        &store.list_scim_extensions(org_id).await?,
    ))
}

/// `org_id`'s stored definitions (JSON text) read back; an unreadable one is logged and left
/// out.
pub fn read_stored(org_id: &str, texts: &[String]) -> Vec<ExtensionDef> {
    texts
        .iter()
        .filter_map(|text| {
            let parsed = serde_json::from_str(text)
                .ok()
                .and_then(|v| ExtensionDef::parse_stored(&v).ok());
            if parsed.is_none() {
                tracing::error!(org_id, "a stored SCIM extension definition is unreadable");
            }
            parsed
        })
        .collect()
}
