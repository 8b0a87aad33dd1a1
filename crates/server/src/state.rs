//! What every surface shares. A surface's own caches and keys live in a state of its own
//! around this one (`ScimState`, `OidcState`, `ApiState`), so this module knows none of them.

use std::sync::Arc;

use lanyard_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::mail::Mailer;
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
    /// Outgoing e-mail, when an SMTP server is configured (`--smtp-url`).
    pub mailer: Option<Arc<Mailer>>,
}
