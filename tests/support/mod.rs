//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod admin;
pub mod cluster;
pub mod deploy;
pub mod emulator;
pub mod env;
pub mod installed;
pub mod pipeline;
pub mod table;
