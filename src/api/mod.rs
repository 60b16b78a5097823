//! The wire API: the CRDs this operator owns (`VolumeReplicationGroup`, `Recipe`) and the subset of
//! Velero's objects it drives. These types are the API; `crds/` is generated from them.

mod crds;
mod open_enum;
pub mod progress;
pub mod recipe;
mod schema;
pub mod velero;
pub mod vrg;

pub use crds::{CrdError, crds, crds_yaml};
pub use recipe::Recipe;
pub use vrg::VolumeReplicationGroup;

#[cfg(test)]
mod roundtrip_tests;
