//! recommender-operator: Amazon Pinpoint recommender models as Kubernetes objects.

pub mod account;
pub mod api;
pub mod aws;
pub mod cached;
pub mod checks;
pub mod desired;
pub mod files;
pub mod http;
pub mod leader;
pub mod pinpoint;
pub mod policies;
pub mod reconciler;
pub mod role;
pub mod status;
pub mod telemetry;
pub mod tenancy;
pub mod validation;
