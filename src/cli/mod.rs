//! Commands besides `run`.

pub mod validate;
