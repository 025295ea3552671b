//! Identifiers and small closed vocabularies: site ids, the role a site plays in the
//! East-Data-West-Computing picture, who runs it, and what kind of number its PUE is.

use serde::Serialize;
use std::fmt;

/// A site id: a lowercase slug such as `edwc-zhongwei`, `aws-us-east-1`, `gcp-europe-west1`,
/// `azure-westeurope` or `alibaba-cn-zhangjiakou`. Constructed only through `parse`, so a
/// `SiteId` in hand is always well formed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SiteId(String);

impl SiteId {
    /// Accepts 1 to 64 characters of `a-z`, `0-9` and `-`, not starting or ending with `-`.
    pub fn parse(text: &str) -> Result<SiteId, String> {
        let ok_chars = text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if text.is_empty() || text.len() > 64 || !ok_chars || text.starts_with('-') || text.ends_with('-') {
            return Err(format!("`{text}` is not a site id (lowercase letters, digits and '-', e.g. `edwc-zhongwei`)"));
        }
        Ok(SiteId(text.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The part a site plays. East hubs are where demand (users, data) is; west hubs are where
/// land and power are cheap; cloud regions are everything rented from a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    EastDemandHub,
    WestComputeHub,
    CloudRegion,
    UserDefined,
}

impl Role {
    pub fn parse(text: &str) -> Result<Role, String> {
        match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "east" | "east_demand_hub" => Ok(Role::EastDemandHub),
            "west" | "west_compute_hub" => Ok(Role::WestComputeHub),
            "cloud" | "cloud_region" => Ok(Role::CloudRegion),
            "user" | "user_defined" => Ok(Role::UserDefined),
            _ => Err(format!("`{text}` is not a role (east, west, cloud, user_defined)")),
        }
    }
    pub fn short(self) -> &'static str {
        match self {
            Role::EastDemandHub => "east",
            Role::WestComputeHub => "west",
            Role::CloudRegion => "cloud",
            Role::UserDefined => "user",
        }
    }
}

/// Who runs a site. `Edwc` stands for the national clusters of the East Data, West Computing
/// programme (operated by many firms; the cluster is the unit the policy speaks of).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Edwc,
    Aws,
    Azure,
    Gcp,
    Alibaba,
    User,
}

impl Provider {
    pub fn parse(text: &str) -> Result<Provider, String> {
        match text.to_ascii_lowercase().as_str() {
            "edwc" => Ok(Provider::Edwc),
            "aws" => Ok(Provider::Aws),
            "azure" => Ok(Provider::Azure),
            "gcp" | "google" => Ok(Provider::Gcp),
            "alibaba" | "aliyun" | "alicloud" => Ok(Provider::Alibaba),
            "user" => Ok(Provider::User),
            _ => Err(format!("`{text}` is not a provider (edwc, aws, azure, gcp, alibaba, user)")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Edwc => "edwc",
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
            Provider::Alibaba => "alibaba",
            Provider::User => "user",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a PUE number is: a measured fleet or site average, a figure a provider reports
/// without method detail, a policy ceiling the site must meet, or our assumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PueKind {
    Measured,
    Reported,
    PolicyTarget,
    Assumed,
}

impl PueKind {
    pub fn parse(text: &str) -> Result<PueKind, String> {
        match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "measured" => Ok(PueKind::Measured),
            "reported" => Ok(PueKind::Reported),
            "policy_target" | "target" => Ok(PueKind::PolicyTarget),
            "assumed" => Ok(PueKind::Assumed),
            _ => Err(format!("`{text}` is not a PUE kind (measured, reported, policy_target, assumed)")),
        }
    }
    pub fn short(self) -> &'static str {
        match self {
            PueKind::Measured => "measured",
            PueKind::Reported => "reported",
            PueKind::PolicyTarget => "target",
            PueKind::Assumed => "assumed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_ids_are_lowercase_slugs() {
        assert!(SiteId::parse("edwc-zhongwei").is_ok());
        assert!(SiteId::parse("gcp-europe-west1").is_ok());
        assert!(SiteId::parse("Edwc-Zhongwei").is_err());
        assert!(SiteId::parse("-x").is_err());
        assert!(SiteId::parse("a b").is_err());
        assert!(SiteId::parse("").is_err());
    }
}
