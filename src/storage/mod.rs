//! Ramen's storage configuration as Velero BackupStorageLocations (pure: no client, no I/O).
//!
//! A Ramen installation describes its object stores as `s3StoreProfiles` in the operator's
//! ConfigMap, not as BackupStorageLocations. [`profile`] reads that document into profiles;
//! [`desired`] says which BackupStorageLocation and credentials Secret each profile needs in
//! Velero's namespace, and what to apply and delete given what is there. The shell that reads the
//! cluster and writes these is `controller::storage`.

pub mod desired;
pub mod profile;

#[cfg(test)]
mod tests;

pub use desired::{Existing, Plan, plan};
pub use profile::{ConfigError, ConfigRef, Parsed, Profile, ProfileError, parse};
