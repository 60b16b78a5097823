//! The operator settings for shared clusters, as flags of `run` (and of `validate` and `plan`,
//! which must answer as the running operator would).

use std::time::Duration;

use clap::Args;

use crate::recipe::Settings;
use crate::recipe::scope::Allowed;

/// What VRG authors may ask of the operator.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// The shortest captureInterval a VRG may ask for; a shorter one is a validation error, and a
    /// VRG that names none gets the default (5m) raised to this.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = humantime::parse_duration)]
    min_capture_interval: Duration,
    /// Whose recipes may run exec and job hooks (commands in the application's pods, or Jobs of the
    /// recipe's templates): every VRG's, only those of VRGs in admin namespaces, or none.
    #[arg(long, value_enum, default_value_t = AllowedArg::All)]
    exec_hooks: AllowedArg,
    /// Whose groups may set restoreOverwriteResources (restores that replace live objects).
    #[arg(long, value_enum, default_value_t = AllowedArg::All)]
    restore_overwrite: AllowedArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AllowedArg {
    All,
    Admin,
    None,
}

impl From<AllowedArg> for Allowed {
    fn from(a: AllowedArg) -> Self {
        match a {
            AllowedArg::All => Allowed::All,
            AllowedArg::Admin => Allowed::Admin,
            AllowedArg::None => Allowed::None,
        }
    }
}

impl PolicyArgs {
    /// The settings for `admin_namespaces` under this policy.
    pub fn settings(&self, admin_namespaces: Vec<String>) -> Settings {
        Settings {
            admin_namespaces,
            min_capture_interval: self.min_capture_interval,
            exec_hooks: self.exec_hooks.into(),
            restore_overwrite: self.restore_overwrite.into(),
            ..Settings::default()
        }
    }
}
