use std::sync::Arc;

use lanyard_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::scim::{ExtensionCache, ScimLimits, TokenCache};
use crate::secrets::Secrets;
use crate::urls::PublicUrl;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub secrets: Arc<Secrets>,
    pub metrics: Option<PrometheusHandle>,
    pub public_url: PublicUrl,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Per-credential request rate limits for `/scim/v2`.
    pub scim_limits: ScimLimits,
    /// Organizations' SCIM extension schemas, briefly cached.
    pub scim_extensions: Arc<ExtensionCache>,
    /// Valid SCIM tokens, briefly cached.
    pub scim_tokens: Arc<TokenCache>,
    /// The key ID tokens are signed with, and the published key set.
    pub id_token_keys: Arc<crate::oidc::IdTokenKeys>,
}
