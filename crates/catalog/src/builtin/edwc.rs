//! The ten national data-centre clusters of "East Data, West Computing" (东数西算), typed
//! in from `shared/data/edwc/edwc_hubs_clusters.csv` (hub, east/west role, start-area
//! coordinates, PUE targets) and `shared/data/china/china_grid_emission_factors_mee.csv`
//! (annual grid factors published by MEE/NBS).
//!
//! China publishes only annual provincial or regional grid factors, no hourly series; the
//! catalog says so for every Chinese site. The latest provincial year in the data is 2022.

use super::{illustrative_capacity, prices};
use crate::ids::{Provider, PueKind, Role, SiteId};
use crate::site::Site;
use std::collections::BTreeMap;
use xisuan_model::{Confidence, KgPerKwh, Sourced};

const HUBS_FILE: &str = "shared/data/edwc/edwc_hubs_clusters.csv (NDRC/CAC/MIIT/NEA approvals, 2022-02)";
const MEE: &str = "MEE/NBS electricity CO2 factor";
const MEE_FILE: &str = "shared/data/china/china_grid_emission_factors_mee.csv";

/// One cluster: id suffix, English name, Chinese name, hub, role, province(s), lat, lon,
/// grid zone, factor t/MWh, the factor's label, its confidence, and how sure the
/// start-area (location) entry is.
struct Cluster {
    slug: &'static str,
    name: &'static str,
    name_zh: &'static str,
    hub: &'static str,
    west: bool,
    provinces: &'static str,
    lat: f64,
    lon: f64,
    zone: &'static str,
    factor_t_per_mwh: f64,
    factor_label: &'static str,
    factor_confidence: Confidence,
    location_confidence: Confidence,
}

const CLUSTERS: &[Cluster] = &[
    Cluster {
        slug: "zhangjiakou",
        name: "Zhangjiakou",
        name_zh: "张家口集群",
        hub: "Beijing-Tianjin-Hebei",
        west: false,
        provinces: "Hebei",
        lat: 40.77,
        lon: 114.88,
        zone: "CN-Hebei",
        factor_t_per_mwh: 0.7252,
        factor_label: "Hebei provincial 2022 (confirmed in news report top5/bottom5)",
        factor_confidence: Confidence::Medium,
        location_confidence: Confidence::Medium,
    },
    Cluster {
        slug: "yrd",
        name: "YRD Eco-Green Integration Demonstration Zone",
        name_zh: "长三角生态绿色一体化发展示范区集群",
        hub: "Yangtze River Delta",
        west: false,
        provinces: "Shanghai/Jiangsu/Zhejiang",
        lat: 31.15,
        lon: 121.12,
        zone: "CN-East-China-grid",
        // The zone spans three provinces (Qingpu, Wujiang, Jiashan), so the East China
        // regional factor is the honest single number.
        factor_t_per_mwh: 0.5500,
        factor_label: "East China regional grid 2023 (zone spans Shanghai, Jiangsu, Zhejiang; confirmed news report)",
        factor_confidence: Confidence::Medium,
        location_confidence: Confidence::High,
    },
    Cluster {
        slug: "wuhu",
        name: "Wuhu",
        name_zh: "芜湖集群",
        hub: "Yangtze River Delta",
        west: false,
        provinces: "Anhui",
        lat: 31.35,
        lon: 118.43,
        zone: "CN-Anhui",
        factor_t_per_mwh: 0.6782,
        factor_label: "Anhui provincial 2022 (confirmed in news report top5/bottom5)",
        factor_confidence: Confidence::Medium,
        location_confidence: Confidence::High,
    },
    Cluster {
        slug: "shaoguan",
        name: "Shaoguan",
        name_zh: "韶关集群",
        hub: "Guangdong-Hong Kong-Macao Greater Bay Area",
        west: false,
        provinces: "Guangdong",
        lat: 24.81,
        lon: 113.60,
        zone: "CN-Guangdong",
        factor_t_per_mwh: 0.4403,
        factor_label: "Guangdong provincial 2022 (single source)",
        factor_confidence: Confidence::Low,
        location_confidence: Confidence::Medium,
    },
    Cluster {
        slug: "tianfu",
        name: "Tianfu (Chengdu)",
        name_zh: "天府集群",
        hub: "Chengdu-Chongqing",
        west: false,
        provinces: "Sichuan",
        lat: 30.57,
        lon: 104.07,
        zone: "CN-Sichuan",
        factor_t_per_mwh: 0.1404,
        factor_label: "Sichuan provincial 2022 (confirmed in news report top5/bottom5)",
        factor_confidence: Confidence::Medium,
        location_confidence: Confidence::Medium,
    },
    Cluster {
        slug: "chongqing",
        name: "Chongqing",
        name_zh: "重庆集群",
        hub: "Chengdu-Chongqing",
        west: false,
        provinces: "Chongqing",
        lat: 29.56,
        lon: 106.55,
        zone: "CN-Chongqing",
        factor_t_per_mwh: 0.5227,
        factor_label: "Chongqing provincial 2022 (single source)",
        factor_confidence: Confidence::Low,
        location_confidence: Confidence::Medium,
    },
    Cluster {
        slug: "horinger",
        name: "Horinger (Hohhot)",
        name_zh: "和林格尔集群",
        hub: "Inner Mongolia",
        west: true,
        provinces: "Inner Mongolia",
        lat: 40.38,
        lon: 111.82,
        zone: "CN-Inner-Mongolia",
        factor_t_per_mwh: 0.6849,
        factor_label: "Inner Mongolia provincial 2022 (confirmed in news report top5/bottom5)",
        factor_confidence: Confidence::Medium,
        location_confidence: Confidence::Medium,
    },
    Cluster {
        slug: "guian",
        name: "Gui'an (Guiyang)",
        name_zh: "贵安集群",
        hub: "Guizhou",
        west: true,
        provinces: "Guizhou",
        lat: 26.45,
        lon: 106.35,
        zone: "CN-Guizhou",
        factor_t_per_mwh: 0.4989,
        factor_label: "Guizhou provincial 2022 (single source)",
        factor_confidence: Confidence::Low,
        location_confidence: Confidence::Medium,
    },
    Cluster {
        slug: "qingyang",
        name: "Qingyang",
        name_zh: "庆阳集群",
        hub: "Gansu",
        west: true,
        provinces: "Gansu",
        lat: 35.71,
        lon: 107.64,
        zone: "CN-Gansu",
        factor_t_per_mwh: 0.4772,
        factor_label: "Gansu provincial 2022 (single source)",
        factor_confidence: Confidence::Low,
        location_confidence: Confidence::Medium,
    },
    Cluster {
        slug: "zhongwei",
        name: "Zhongwei",
        name_zh: "中卫集群",
        hub: "Ningxia",
        west: true,
        provinces: "Ningxia",
        lat: 37.51,
        lon: 105.19,
        zone: "CN-Ningxia",
        factor_t_per_mwh: 0.6423,
        factor_label: "Ningxia provincial 2022 (single source)",
        factor_confidence: Confidence::Low,
        location_confidence: Confidence::Medium,
    },
];

/// PUE ceilings from `shared/data/edwc/edwc_policy_targets.csv`: cluster average ≤1.25 in
/// east hubs (confirmed for the YRD by a news report, others from memory) and ≤1.2 in west
/// hubs ("widely reported; verify").
fn pue(west: bool, slug: &str) -> Sourced<f64> {
    if west {
        Sourced::new(1.2, "EDWC west-hub cluster PUE ceiling ≤1.2 (NDRC approval letters 2022-02, via shared/data/edwc/edwc_policy_targets.csv: widely reported, verify)", Confidence::Low)
    } else if slug == "yrd" {
        Sourced::new(1.25, "EDWC east-hub cluster PUE ceiling ≤1.25 (NDRC approval 2022-02; confirmed for the YRD by news report, shared/data/edwc/edwc_policy_targets.csv)", Confidence::Medium)
    } else {
        Sourced::new(1.25, "EDWC east-hub cluster PUE ceiling ≤1.25 (NDRC approval letters 2022-02, via shared/data/edwc/edwc_policy_targets.csv: confirmed for YRD only)", Confidence::Low)
    }
}

pub fn sites() -> Vec<Site> {
    CLUSTERS
        .iter()
        .map(|c| Site {
            id: SiteId::parse(&format!("edwc-{}", c.slug)).expect("slug"),
            name: format!("{} cluster ({})", c.name, c.name_zh),
            provider: Provider::Edwc,
            role: if c.west { Role::WestComputeHub } else { Role::EastDemandHub },
            country: "CN".to_string(),
            region: c.provinces.to_string(),
            hub: Some(c.hub.to_string()),
            lat: c.lat,
            lon: c.lon,
            location_source: format!("{HUBS_FILE}: approximate centre of the start area"),
            location_confidence: c.location_confidence,
            grid_zone: Some(c.zone.to_string()),
            carbon_annual: Sourced::new(
                KgPerKwh(c.factor_t_per_mwh),
                format!("{MEE} {} = {} tCO2/MWh ({MEE_FILE})", c.factor_label, c.factor_t_per_mwh),
                c.factor_confidence,
            ),
            low_carbon_share: None,
            price_annual: prices::price(if c.west { "CN-west" } else { "CN-east" }),
            pue: pue(c.west, c.slug),
            pue_kind: PueKind::PolicyTarget,
            capacity: illustrative_capacity(true, c.west),
            gpu_hour_price: BTreeMap::new(),
            dispatch: None,
            storage: None,
        })
        .collect()
}
