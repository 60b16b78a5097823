//! Pure helpers for the Velero objects a VRG drives (no client, no I/O): deterministic names and
//! labels ([`names`]), what a Velero phase means for a step ([`phase`]), and full objects built
//! from a plan's spec templates ([`spec`]).

pub mod names;
pub mod phase;
pub mod spec;

#[cfg(test)]
mod proptests;

pub use names::{CaptureRef, ObjectIdentity, Workflow};
pub use phase::Progress;
