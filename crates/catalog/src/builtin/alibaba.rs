//! Alibaba Cloud regions. Grid factors: for mainland China,
//! `shared/data/ccf/ccf_region_emission_factors.csv` (Cloud Carbon Footprint's Alibaba
//! constants by grid), except Chengdu, which CCF lacks and which takes the MEE/NBS Sichuan
//! 2022 factor; outside China, CCF's AWS factor for the same country, since CCF gives
//! Alibaba factors only for Chinese regions. Cities: Alibaba Cloud's region list. PUE: the
//! average of Alibaba's self-built data centres, 1.200 in fiscal 2024 (Alibaba Group 2024 ESG
//! report, as reported by Caixin). GPU-hour prices: `shared/data/cloud_gpu_prices/
//! alicloud_gpu_price_excerpt.csv` (SkyPilot catalog excerpt), on-demand price of the
//! one-GPU instance, which includes its vCPUs and memory.

use super::{cloud_site, gpu_price, CloudRow};
use crate::ids::{Provider, PueKind};
use crate::site::Site;
use xisuan_model::{Confidence, KgPerKwh, Sourced};

const CCF: &str = "shared/data/ccf/ccf_region_emission_factors.csv";

/// (row, where the factor comes from, its confidence).
const ROWS: &[(CloudRow, &str, Confidence)] = &[
    (
        ("cn-hangzhou", "Hangzhou", "CN", "Zhejiang", 30.27, 120.16, Some("CN-Zhejiang"), 626.0, "CN-east"),
        "CCF Alibaba factor CN_HANGZHOU (East China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-shanghai", "Shanghai", "CN", "Shanghai", 31.23, 121.47, Some("CN-Shanghai"), 626.0, "CN-east"),
        "CCF Alibaba factor CN_SHANGHAI (East China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-nanjing", "Nanjing", "CN", "Jiangsu", 32.06, 118.80, Some("CN-Jiangsu"), 626.0, "CN-east"),
        "CCF Alibaba factor CN_NANJING (East China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-shenzhen", "Shenzhen", "CN", "Guangdong", 22.54, 114.06, Some("CN-Guangdong"), 585.0, "CN-east"),
        "CCF Alibaba factor CN_SHENZHEN (South China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-heyuan", "Heyuan", "CN", "Guangdong", 23.74, 114.70, Some("CN-Guangdong"), 585.0, "CN-east"),
        "CCF Alibaba factor CN_HEYUAN (South China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-guangzhou", "Guangzhou", "CN", "Guangdong", 23.13, 113.26, Some("CN-Guangdong"), 585.0, "CN-east"),
        "CCF Alibaba factor CN_GUANGZHOU (South China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-qingdao", "Qingdao", "CN", "Shandong", 36.07, 120.38, Some("CN-Shandong"), 665.0, "CN-east"),
        "CCF Alibaba factor CN_QINGDAP [sic] (North China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-beijing", "Beijing", "CN", "Beijing", 39.90, 116.41, Some("CN-Beijing"), 665.0, "CN-east"),
        "CCF Alibaba factor CN_BEIJING (North China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-zhangjiakou", "Zhangjiakou", "CN", "Hebei", 40.77, 114.88, Some("CN-Hebei"), 665.0, "CN-east"),
        "CCF Alibaba factor CN_ZHANGJIAKOU (North China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-huhehaote", "Hohhot", "CN", "Inner Mongolia", 40.84, 111.75, Some("CN-Inner-Mongolia"), 665.0, "CN-west"),
        "CCF Alibaba factor CN_HUHEHAOTE (North China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-wulanchabu", "Ulanqab", "CN", "Inner Mongolia", 41.03, 113.13, Some("CN-Inner-Mongolia"), 665.0, "CN-west"),
        "CCF Alibaba factor CN_WULANCHABU (North China grid)",
        Confidence::Medium,
    ),
    (
        ("cn-chengdu", "Chengdu", "CN", "Sichuan", 30.57, 104.07, Some("CN-Sichuan"), 140.4, "CN-east"),
        "MEE/NBS Sichuan provincial 2022 factor 0.1404 t/MWh (shared/data/china/china_grid_emission_factors_mee.csv; CCF has no Chengdu entry)",
        Confidence::Medium,
    ),
    (
        ("cn-hongkong", "Hong Kong", "HK", "Hong Kong", 22.32, 114.17, Some("HK"), 710.0, "HK"),
        "CCF AWS factor for Hong Kong (ap-east-1), same grid",
        Confidence::Medium,
    ),
    (
        ("ap-southeast-1", "Singapore", "SG", "Singapore", 1.35, 103.82, Some("SG"), 408.0, "SG"),
        "CCF AWS factor for Singapore (ap-southeast-1), same grid",
        Confidence::Medium,
    ),
    (
        ("ap-northeast-1", "Tokyo", "JP", "Tokyo", 35.68, 139.69, Some("JP-TK"), 465.8, "JP"),
        "CCF AWS factor for Tokyo (ap-northeast-1), same grid",
        Confidence::Medium,
    ),
    (
        ("ap-northeast-2", "Seoul", "KR", "Seoul", 37.57, 126.98, Some("KR"), 415.6, "KR"),
        "CCF AWS factor for Seoul (ap-northeast-2), same grid",
        Confidence::Medium,
    ),
    (
        ("ap-southeast-5", "Jakarta", "ID", "Jakarta", -6.21, 106.85, Some("ID"), 717.7, "ID"),
        "CCF AWS factor for Jakarta (ap-southeast-3), same grid",
        Confidence::Medium,
    ),
    (
        ("us-west-1", "Silicon Valley", "US", "California", 37.34, -121.89, Some("US-CAL-CISO"), 322.167, "US-CA"),
        "CCF AWS factor for us-west-1 (NERC WECC), same grid",
        Confidence::Medium,
    ),
    (
        ("us-east-1", "Virginia", "US", "Virginia", 39.04, -77.49, Some("US-MIDA-PJM"), 379.069, "US-VA"),
        "CCF AWS factor for us-east-1 (NERC SERC), same grid",
        Confidence::Medium,
    ),
    (
        ("eu-central-1", "Frankfurt", "DE", "Hesse", 50.11, 8.68, Some("DE-LU"), 311.0, "DE"),
        "CCF AWS factor for eu-central-1, same grid",
        Confidence::Medium,
    ),
    (
        ("eu-west-1", "London", "GB", "England", 51.51, -0.13, Some("GB"), 225.0, "GB"),
        "CCF AWS factor for eu-west-2 (London), same grid",
        Confidence::Medium,
    ),
    (
        ("me-east-1", "Dubai", "AE", "Dubai", 25.20, 55.27, Some("AE"), 404.1, "AE"),
        "CCF AWS factor for me-central-1 (UAE), same grid",
        Confidence::Medium,
    ),
];

const GPU_SRC: &str =
    "shared/data/cloud_gpu_prices/alicloud_gpu_price_excerpt.csv (SkyPilot catalog v8 alicloud, on-demand 1-GPU instance incl. vCPU/memory)";

/// (region, accelerator id, USD per GPU-hour) from the 1-GPU rows of the excerpt.
const GPU_PRICES: &[(&str, &str, f64)] = &[
    ("ap-northeast-1", "a100-80gb", 5.14026954),
    ("ap-northeast-1", "a10", 2.48901313),
    ("ap-northeast-1", "l20", 2.91309444),
    ("ap-northeast-2", "a100-80gb", 5.25828783),
    ("ap-southeast-1", "a10", 2.50219944),
    ("ap-southeast-1", "v100", 3.81637344),
    ("ap-southeast-5", "a100-80gb", 4.76746944),
    ("ap-southeast-5", "a10", 1.62796944),
    ("ap-southeast-5", "l20", 2.89369164),
    ("cn-beijing", "a100-80gb", 4.805988),
    ("cn-beijing", "a10", 1.3270908),
    ("cn-beijing", "l20", 2.169912),
    ("cn-beijing", "h20", 5.0327496),
    ("cn-beijing", "v100", 3.663072),
    ("cn-beijing", "t4", 1.616532),
    ("cn-chengdu", "a10", 1.3270908),
    ("cn-chengdu", "t4", 1.455072),
    ("cn-guangzhou", "a10", 1.3270908),
    ("cn-guangzhou", "t4", 1.616532),
    ("cn-hangzhou", "l20", 2.00087642),
    ("cn-hangzhou", "h20", 5.0327496),
];

pub fn sites() -> Vec<Site> {
    ROWS.iter()
        .map(|(row, src, conf)| {
            let g = row.7;
            let carbon = Sourced::new(
                KgPerKwh::from_g_per_kwh(g),
                format!("{src} = {g} g/kWh ({CCF})"),
                *conf,
            );
            let pue = Sourced::new(
                1.20,
                "Alibaba self-built data centres average PUE 1.200 in FY2024 (Alibaba Group 2024 ESG report, via Caixin); fleet average, not per region",
                Confidence::Medium,
            );
            let mut site = cloud_site(Provider::Alibaba, row, carbon, pue, PueKind::Reported);
            for (region, acc, usd) in GPU_PRICES.iter().filter(|(r, _, _)| *r == row.0) {
                let note = if *acc == "h20" {
                    format!("{GPU_SRC}; listed as `H 96GB`, taken to be the H20")
                } else {
                    format!("{GPU_SRC}; region {region}")
                };
                site.gpu_hour_price.insert(acc.to_string(), gpu_price(*usd, &note, Confidence::Medium));
            }
            site
        })
        .collect()
}
