//! Velero objects this operator created that its cache has not shown yet. A reconcile woken
//! before the cache caught up with our own POST (our status write's watch event often arrives
//! first) would see the step's object missing and create it again: harmless (the name is
//! deterministic, the API server answers 409) but an API write wasted per such pass. A name stays
//! here only until the cache sees it, and never longer than [`IN_FLIGHT_FOR`]: an object that
//! vanished before the cache saw it is created again after that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longer than any cache lag seen (milliseconds at 10,000 VRGs), short beside a step's timeout.
const IN_FLIGHT_FOR: Duration = Duration::from_secs(30);

#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<String, Instant>>>);

impl InFlight {
    fn names(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// We just created `name` (or found it existing).
    pub fn created(&self, name: &str) {
        let mut names = self.names();
        names.retain(|_, at| at.elapsed() < IN_FLIGHT_FOR);
        names.insert(name.to_owned(), Instant::now());
    }

    /// `name` was created by us and the cache has not shown it yet.
    pub fn contains(&self, name: &str) -> bool {
        self.names()
            .get(name)
            .is_some_and(|at| at.elapsed() < IN_FLIGHT_FOR)
    }

    /// The cache holds `name` now (or saw it go).
    pub fn seen(&self, name: &str) {
        let mut names = self.names();
        if !names.is_empty() {
            names.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InFlight;

    #[test]
    fn a_name_is_in_flight_from_its_creation_until_the_cache_sees_it() {
        let in_flight = InFlight::default();
        assert!(!in_flight.contains("b1"));
        in_flight.created("b1");
        assert!(in_flight.contains("b1"));
        assert!(!in_flight.contains("b2"));
        in_flight.seen("b1");
        assert!(!in_flight.contains("b1"));
    }
}
