//! The trace readers on the real files in `shared/data` (read in place, never copied): the
//! units GAIA's traces use, the Alibaba pods that cannot be replayed, and the Azure LLM
//! trace's hours.

use xisuan_io::shared_data_dir;
use xisuan_io::trace::{read_demand, read_jobs, TimeUnit, TraceFormat};

#[test]
fn gaia_traces_have_the_units_their_data_shows() {
    let dir = shared_data_dir().expect("shared/data").join("gaia_job_traces");
    // pai_1k: seconds; one week of arrivals (604,756 s = 168 h).
    let t = read_jobs(&dir.join("pai_1k.csv"), None, TimeUnit::Auto).unwrap();
    assert_eq!(t.jobs.len(), 1000);
    let last = t.jobs.last().unwrap().arrival_h;
    assert!((last - 604_756.0 / 3600.0).abs() < 1e-9, "{last}");
    assert!(t.diagnostics[0].message.contains("seconds"));
    // pai-100k: hours; one year of arrivals.
    let t = read_jobs(&dir.join("pai-100k.csv"), Some(TraceFormat::Gaia), TimeUnit::Auto).unwrap();
    assert_eq!(t.jobs.len(), 99_998);
    assert!(t.jobs.iter().all(|j| j.arrival_h < 8760.0));
    assert!(t.diagnostics[0].message.contains("hours"));
}

#[test]
fn alibaba_pods_report_what_is_skipped() {
    let dir = shared_data_dir().expect("shared/data").join("alibaba_gpu_v2023");
    let t = read_jobs(&dir.join("openb_pod_list_default.csv"), None, TimeUnit::Auto).unwrap();
    // 8,152 pods: 1,088 without GPU, 897 never scheduled (some overlap), the rest replayable.
    assert!(t.jobs.len() > 5_000 && t.jobs.len() < 8_152, "{}", t.jobs.len());
    assert!(t.diagnostics.iter().any(|d| d.message.contains("CPU-only")));
    assert!(t.diagnostics.iter().any(|d| d.message.contains("never scheduled")));
    // The multi-GPU list has no times: a clear error, not an empty trace.
    let e = read_jobs(&dir.join("openb_pod_list_multigpu50.csv"), Some(TraceFormat::AlibabaPod), TimeUnit::Auto).unwrap_err();
    assert!(e.to_string().contains("creation_time"), "{e}");
}

#[test]
fn azure_llm_trace_is_one_hour_of_requests() {
    let dir = shared_data_dir().expect("shared/data").join("azure_llm_inference_2023");
    let d = read_demand(&dir.join("AzureLLMInferenceTrace_conv.csv")).unwrap();
    // 19,366 requests from 18:15 to 19:14 UTC on 2023-11-16: two UTC hours.
    assert_eq!(d.hours.iter().map(|h| h.requests).sum::<u64>(), 19_366);
    assert_eq!(d.hours.len(), 2);
}
