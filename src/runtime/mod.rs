//! What runs beside the controller: the HTTP endpoints (metrics, probes), leader election, and
//! the tenancy file's reload.

pub mod http;
pub mod leader;
pub mod metrics_auth;
pub mod tenancy_file;
