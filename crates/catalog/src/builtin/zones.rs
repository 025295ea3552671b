//! The 16 grid zones of the green-dcc hourly 2023 files
//! (`shared/data/green_dcc/wide_2023_hourly_*.csv`, from Electricity Maps) and the cloud
//! regions that sit in each. The mapping itself lives in each site's `grid_zone`; this
//! table states it once for people and for the test that keeps the two in step.
//!
//! `US-NY-NYIS` has no hyperscale cloud region in the catalog (New York is served from
//! Virginia and Ohio), so its series loads but attaches to no built-in site; a user site in
//! that zone (`grid_zone = "US-NY-NYIS"` in a catalog TOML) picks it up.

/// (zone key in the green-dcc files, built-in sites in that grid).
pub const GREEN_DCC_ZONES: &[(&str, &[&str])] = &[
    ("AU-NSW", &["aws-ap-southeast-2", "gcp-australia-southeast1", "azure-australiaeast"]),
    ("AU-VIC", &["gcp-australia-southeast2", "azure-australiasoutheast"]),
    ("BR-SP", &["aws-sa-east-1", "gcp-southamerica-east1", "azure-brazilsouth"]),
    ("CA-ON", &["gcp-northamerica-northeast2", "azure-canadacentral"]),
    ("CL-SIC", &["gcp-southamerica-west1"]),
    ("DE-LU", &["aws-eu-central-1", "gcp-europe-west3", "gcp-europe-west10", "azure-germanywestcentral", "alibaba-eu-central-1"]),
    ("GB", &["aws-eu-west-2", "gcp-europe-west2", "azure-uksouth", "azure-ukwest", "alibaba-eu-west-1"]),
    ("IN-WE", &["aws-ap-south-1", "gcp-asia-south1", "azure-westindia", "azure-centralindia"]),
    ("JP-TK", &["aws-ap-northeast-1", "gcp-asia-northeast1", "azure-japaneast", "alibaba-ap-northeast-1"]),
    ("KR", &["aws-ap-northeast-2", "gcp-asia-northeast3", "azure-koreacentral", "alibaba-ap-northeast-2"]),
    ("SG", &["aws-ap-southeast-1", "gcp-asia-southeast1", "azure-southeastasia", "alibaba-ap-southeast-1"]),
    ("US-CAL-CISO", &["aws-us-west-1", "gcp-us-west2", "azure-westus", "alibaba-us-west-1"]),
    (
        "US-MIDA-PJM",
        &[
            "aws-us-east-1",
            "aws-us-east-2",
            "gcp-us-east4",
            "gcp-us-east5",
            "azure-eastus",
            "azure-eastus2",
            "azure-northcentralus",
            "alibaba-us-east-1",
        ],
    ),
    ("US-NY-NYIS", &[]),
    ("US-TEX-ERCO", &["gcp-us-south1", "azure-southcentralus"]),
    ("ZA", &["aws-af-south-1", "gcp-africa-south1", "azure-southafricanorth"]),
];
