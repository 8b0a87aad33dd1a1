//! Each organization's own extension schemas for users, read through a short-lived cache: the
//! definitions change rarely and every SCIM user request needs them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lanyard_scim::extension::ExtensionDef;

use super::error::ScimResult;
use super::resources::{Kind, Which};
use super::ScimState;

/// How long a read stays in use; changes made through this process are seen at once, changes
/// made through another process sharing the database within this time.
const FRESH: Duration = Duration::from_secs(5);

type Entry = (Instant, Arc<Vec<ExtensionDef>>);

#[derive(Default)]
pub struct ExtensionCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl ExtensionCache {
    /// Drops what is known of `org_id` (after its definitions changed).
    pub fn forget(&self, org_id: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(org_id);
    }

    fn fresh(&self, org_id: &str) -> Option<Arc<Vec<ExtensionDef>>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(org_id)
            .filter(|(at, _)| at.elapsed() < FRESH)
            .map(|(_, defs)| defs.clone())
    }
}

/// The organization's extensions that apply to `kind` (users only).
pub async fn for_org(
    state: &ScimState,
    org_id: &str,
    kind: Kind,
) -> ScimResult<Arc<Vec<ExtensionDef>>> {
    if kind.which != Which::User {
        return Ok(Arc::default());
    }
    if let Some(defs) = state.caches.extensions.fresh(org_id) {
        return Ok(defs);
    }
    let defs = Arc::new(crate::extensions::load(&state.app.store, org_id).await?);
    state
        .caches
        .extensions
        .entries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(org_id.to_string(), (Instant::now(), defs.clone()));
    Ok(defs)
}
