//! Estimates per second: how fast the estimator answers, for planners that call it per job.
//!
//! Run with `cargo bench -p xisuan-estimate`; criterion prints time per estimate, whose inverse
//! is estimates per second.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use xisuan_estimate::{estimate_serve, estimate_train, find_accelerator, serve::Demand, ServeInput, TrainInput};
use xisuan_model::Sourced;

fn bench(c: &mut Criterion) {
    let v100 = find_accelerator("v100").unwrap();
    let a100 = find_accelerator("a100-80gb").unwrap();
    let mut g = c.benchmark_group("estimate");
    g.throughput(Throughput::Elements(1));
    g.bench_function("train_gpt3", |b| {
        let input = TrainInput::new(175e9, 300e9, v100, 10_000);
        b.iter(|| estimate_train(black_box(&input)).unwrap())
    });
    g.bench_function("serve_gpt3_13m_users", |b| {
        let mut input = ServeInput::new(175e9, a100);
        input.demand = Some(Demand::from_rps(Sourced::user(13e6 * 10.0 / 86_400.0, "bench")));
        b.iter(|| estimate_serve(black_box(&input)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
