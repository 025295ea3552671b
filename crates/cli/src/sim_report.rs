//! The HTML report of `xisuan simulate --report DIR`: one self-contained page with the policy
//! tables and charts drawn by `plotters` into SVG strings and embedded inline. No JavaScript,
//! no fonts or styles fetched from anywhere: it opens the same offline as online.

use plotters::prelude::*;
use xisuan_io::simulation::{Params, SiteOut};
use xisuan_model::Diagnostic;
use xisuan_sim::{RunResult, World};

const W: u32 = 760;
const H: u32 = 330;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(127, 127, 127),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

/// A bar chart of one value per policy.
fn bars(title: &str, unit: &str, labels: &[String], values: &[f64]) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let top = values.iter().copied().fold(0.0f64, f64::max).max(1e-9) * 1.15;
        let bottom = values.iter().copied().fold(0.0f64, f64::min).min(0.0) * 1.15;
        let n = labels.len();
        let chart = ChartBuilder::on(&root)
            .caption(format!("{title} ({unit})"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d((0..n.saturating_sub(1)).into_segmented(), bottom..top);
        let Ok(mut chart) = chart else {
            return String::new();
        };
        let labels2 = labels.to_vec();
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(unit)
            .x_label_formatter(&move |v| match v {
                SegmentValue::CenterOf(i) => labels2.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw();
        let _ = chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let mut r = Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)], color(i).filled());
            r.set_margin(0, 0, 8, 8);
            r
        }));
        let _ = root.present();
    }
    svg
}

/// Lines over hours, one per series.
fn lines(title: &str, unit: &str, series: &[(String, Vec<f64>)]) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H + 40)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let len = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(1);
        let top = series.iter().flat_map(|s| s.1.iter().copied()).fold(0.0f64, f64::max).max(1e-9) * 1.1;
        let chart = ChartBuilder::on(&root)
            .caption(format!("{title} ({unit})"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..len as f64, 0f64..top);
        let Ok(mut chart) = chart else {
            return String::new();
        };
        let _ = chart.configure_mesh().x_desc("hour of the simulation (h)").y_desc(unit).draw();
        for (i, (name, v)) in series.iter().enumerate() {
            // At most ~2,000 points per line: average neighbours so a year stays readable.
            let step = (v.len() / 2000).max(1);
            let pts: Vec<(f64, f64)> = v.chunks(step).enumerate().map(|(k, c)| ((k * step) as f64, c.iter().sum::<f64>() / c.len() as f64)).collect();
            let c = color(i);
            if let Ok(s) = chart.draw_series(LineSeries::new(pts, c.stroke_width(1))) {
                s.label(name.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
            }
        }
        let _ = chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).position(SeriesLabelPosition::UpperRight).draw();
        let _ = root.present();
    }
    svg
}

/// The whole page.
pub fn html(p: &Params, sites: &[SiteOut], world: &World, results: &[(RunResult, f64)], diags: &[Diagnostic]) -> String {
    let labels: Vec<String> = results.iter().map(|r| r.0.metrics.policy.clone()).collect();
    let m = |f: fn(&xisuan_sim::Metrics) -> f64| results.iter().map(|r| f(&r.0.metrics)).collect::<Vec<f64>>();
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>xisuan simulate</h1><p>{} jobs from <code>{}</code> ({}), arrivals over {} h from {}, {} sites, seed {}.</p>",
        p.jobs,
        esc(&p.trace),
        esc(&p.format),
        p.arrival_hours,
        esc(&p.start_utc),
        sites.len(),
        p.seed
    ));
    body.push_str("<h2>Policies</h2><table><tr><th>policy</th><th>cost (USD)</th><th>carbon (kgCO2e)</th><th>energy (kWh)</th><th>wait mean (h)</th><th>wait p99 (h)</th><th>queue mean (h)</th><th>completion mean (h)</th><th>completion p99 (h)</th><th>deadline misses</th><th>SLO violations (site-h)</th><th>moved (GB)</th><th>unfinished</th></tr>");
    for (r, _) in results {
        let x = &r.metrics;
        body.push_str(&format!(
            "<tr><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(&x.policy),
            x.cost_usd,
            x.carbon_kg,
            x.energy_kwh,
            x.wait_h.mean,
            x.wait_h.p99,
            x.queue_h.mean,
            x.completion_h.mean,
            x.completion_h.p99,
            x.deadline_misses,
            x.slo_violation_site_hours,
            x.bytes_moved / 1e9,
            x.unfinished + x.unplaceable
        ));
    }
    body.push_str("</table><div class=charts>");
    body.push_str(&bars("Carbon, location-based", "kgCO2e", &labels, &m(|x| x.carbon_kg)));
    body.push_str(&bars("Cost", "USD", &labels, &m(|x| x.cost_usd)));
    body.push_str(&bars("Mean wait before the first run", "h", &labels, &m(|x| x.wait_h.mean)));
    body.push_str(&bars("p99 completion time", "h", &labels, &m(|x| x.completion_h.p99)));
    let busy: Vec<(String, Vec<f64>)> = results
        .iter()
        .map(|(r, _)| {
            let mut total = vec![0.0; world.hours as usize];
            for row in &r.busy_hourly {
                for (t, v) in total.iter_mut().zip(row) {
                    *t += v;
                }
            }
            (r.metrics.policy.clone(), total)
        })
        .collect();
    body.push_str(&lines("Accelerators busy, all sites", "accelerators", &busy));
    let ci: Vec<(String, Vec<f64>)> = world.sites.iter().map(|s| (s.id.clone(), s.kg_per_kwh.iter().map(|v| v * 1000.0).collect())).collect();
    body.push_str(&lines("Grid carbon intensity by site", "gCO2e/kWh", &ci));
    body.push_str("</div><h2>Sites</h2><table><tr><th>site</th><th>zone</th><th>capacity (accelerators)</th><th>PUE</th><th>mean carbon (gCO2e/kWh)</th><th>mean price (USD/MWh)</th><th>carbon from</th><th>price from</th>");
    for l in &labels {
        body.push_str(&format!("<th>{} utilisation (%)</th>", esc(l)));
    }
    body.push_str("</tr>");
    for (i, s) in sites.iter().enumerate() {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.1}</td><td>{:.2}</td><td>{}</td><td>{}</td>",
            esc(&s.id),
            esc(s.zone.as_deref().unwrap_or("-")),
            s.capacity,
            s.pue,
            s.mean_carbon_g_per_kwh,
            s.mean_price_usd_per_mwh,
            esc(&s.carbon_source),
            esc(&s.price_source)
        ));
        for (r, _) in results {
            body.push_str(&format!("<td>{:.3}</td>", r.metrics.sites[i].utilisation * 100.0));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table><h2>Policies and parameters</h2><ul>");
    for (r, _) in results {
        body.push_str(&format!("<li><b>{}</b>: {}</li>", esc(&r.metrics.policy), esc(&r.metrics.description)));
    }
    body.push_str(&format!(
        "</ul><p>{} kW per accelerator ({}); {} GB moved per job placed away from home unless the trace says; waits {} h / {} h for jobs under / over 2 h unless the trace gives deadlines; resume overhead {} h; planner carbon price {} USD/tCO2e and delay penalty {} USD per accelerator-hour; links: {}; queues: {}.</p>",
        p.kw_per_gpu,
        esc(&p.accelerator),
        p.data_gb_default,
        p.max_wait_h[0],
        p.max_wait_h[1],
        p.resume_overhead_h,
        p.carbon_usd_per_t,
        p.delay_usd_per_gpu_hour,
        p.link_model,
        p.queue_model
    ));
    if !diags.is_empty() {
        body.push_str("<h2>Notes</h2><ul>");
        for d in diags {
            body.push_str(&format!("<li>{}</li>", esc(&d.to_string())));
        }
        body.push_str("</ul>");
    }
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>xisuan simulate</title><style>\
body{{font-family:sans-serif;margin:2em;max-width:1600px}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
.charts svg{{margin:6px;border:1px solid #eee}}</style></head><body>{body}</body></html>\n"
    )
}
