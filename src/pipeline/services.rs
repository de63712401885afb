//! What the pipeline calls in the account besides Pinpoint: the IAM, Personalize and Lambda
//! client, how the operator uses them, and which checks passed recently.

use crate::{
    aws::account::{Account, Unconfigured},
    pipeline::checks::Passed,
};

/// How the operator uses the account: whether it checks before publishing, and how it makes
/// roles.
#[derive(Clone, Debug)]
pub struct AccountSettings {
    /// Check the campaign, the function and the role before each Create or Update.
    pub checks: bool,
    /// The IAM path of roles the operator creates (`/` or `/a/b/`).
    pub role_path: String,
    /// A managed policy ARN set as the permissions boundary of roles the operator creates.
    pub permissions_boundary: Option<String>,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            checks: true,
            role_path: "/recommender-operator/".to_owned(),
            permissions_boundary: None,
        }
    }
}

/// The account client with its settings, and what recent checks found.
pub struct AccountServices {
    pub client: Box<dyn Account>,
    pub settings: AccountSettings,
    pub passed: Passed,
}

impl AccountServices {
    pub fn new(client: Box<dyn Account>, settings: AccountSettings) -> Self {
        Self {
            client,
            settings,
            passed: Default::default(),
        }
    }

    /// No account at all: checks off, and every call refused (for tests of Pinpoint alone).
    pub fn unconfigured() -> Self {
        Self::new(
            Box::new(Unconfigured),
            AccountSettings {
                checks: false,
                ..AccountSettings::default()
            },
        )
    }
}
