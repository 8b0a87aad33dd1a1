use std::sync::Arc;

use lanyard_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::secrets::Secrets;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub secrets: Arc<Secrets>,
    pub metrics: Option<PrometheusHandle>,
    pub public_url: Arc<str>,
}
