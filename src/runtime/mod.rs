//! What runs beside the controller: the HTTP endpoints (metrics, probes) and leader election.

pub mod http;
pub mod leader;
