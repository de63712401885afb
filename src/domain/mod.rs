//! The pure rules: data in, data out, no I/O.

pub mod accounts;
pub mod arn;
pub mod conditions;
pub mod desired;
pub mod import;
pub mod plan;
pub mod policies;
pub mod tenancy;
pub mod validation;
