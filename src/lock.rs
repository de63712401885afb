//! The one poison-tolerant lock: a panic while a lock was held leaves plain data (caches,
//! counters) that is still fine to use, so every lock in the operator recovers it.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the data if a holder panicked.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
