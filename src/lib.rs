//! recommender-operator: Amazon Pinpoint recommender models as Kubernetes objects.
//!
//! The layers, each importing only those above it in this list:
//! - `api`: the CRD types and the names of annotations and the finalizer;
//! - `domain`: the pure rules (validation, the desired configuration, policy documents,
//!   conditions, tenancy);
//! - `lock`, `telemetry`: the poison-tolerant lock; metrics and logs, used by every layer below;
//! - `aws`: the AWS side (one error type, Pinpoint, IAM/Personalize/Lambda);
//! - `pipeline`: validate, role, checks, create/update/adopt, delete, with no Kubernetes in it;
//! - `controller`: the Kubernetes controller around the pipeline;
//! - `runtime`, `cli`: HTTP endpoints and leader election; the offline `validate` command.

pub mod api;
pub mod aws;
pub mod cli;
pub mod controller;
pub mod domain;
pub mod lock;
pub mod pipeline;
pub mod runtime;
pub mod telemetry;
