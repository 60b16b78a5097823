//! The validating admission webhook: VolumeReplicationGroups and Recipes are checked at
//! `kubectl apply` with the same rules, and the same lines, as `vrg-operator validate`.
//! A Recipe is also checked against the VRGs that use it. `decide` is the pure verdict on one
//! AdmissionRequest; `serve` is the HTTPS endpoint that reads the Recipe a VRG references, or the
//! VRGs that may use a Recipe, and answers the API server.

pub mod certs;
pub mod decide;
pub mod serve;

/// The paths the API server calls, one per kind.
pub const VRG_PATH: &str = "/validate-volumereplicationgroups";
pub const RECIPE_PATH: &str = "/validate-recipes";
