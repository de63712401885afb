//! recommender-operator: Amazon Pinpoint recommender models as Kubernetes objects.

pub mod api;
pub mod desired;
pub mod files;
pub mod http;
pub mod leader;
pub mod pinpoint;
pub mod reconciler;
pub mod status;
pub mod telemetry;
pub mod tenancy;
pub mod validation;
