//! `Session::bench` on the tiny Llama: it times a training step and generated tokens, counts
//! the GPU tier's kernel launches (none on the CPU tier), leaves the model as it was, and
//! refuses settings it cannot measure, naming them.

use webtune::bench::BenchConfig;
use webtune::flow::Flow;
use webtune::session::{GenerateOptions, OpenOptions, Session};
use webtune::{ComputeDevice, Error, Result, Tier};

async fn answer(session: &Session) -> Result<String> {
    let options = GenerateOptions::default();
    Ok(session
        .generate("Hello", &options, |_| webtune::flow::Flow::Continue)
        .await?
        .text)
}

pub async fn bench_counts_launches(device: &ComputeDevice) -> Result<()> {
    let mut session = Session::new(device.clone());
    let files = webtune_tests::tiny_files("llama");
    session
        .open_model("llama", files, &OpenOptions::default())
        .await?;
    let before = answer(&session).await?;
    let config = BenchConfig {
        seq: 16,
        prompt_tokens: 8,
        new_tokens: 4,
        ..BenchConfig::default()
    };
    let report = session.bench(&config, || Flow::Continue).await?;
    assert_eq!(report.warm_up_seconds, None);
    for seconds in [
        report.step_seconds,
        report.first_step_seconds,
        report.first_token_seconds,
    ] {
        assert!(seconds > 0.0 && seconds.is_finite(), "{report:?}");
    }
    for speed in [
        report.train_tokens_per_second,
        report.prefill_tokens_per_second,
        report.decode_tokens_per_second,
    ] {
        assert!(speed > 0.0 && speed.is_finite(), "{report:?}");
    }
    match device.tier() {
        Tier::Cpu => {
            assert_eq!(report.launches_per_step, 0);
            assert_eq!(report.launches_per_token, 0.0);
            assert!(report.step_kernels.is_empty());
        }
        Tier::Gpu => {
            // Each layer's matmuls alone are several launches, forward and backward. (Counts
            // are the process's: tests running beside this one add to them, never take away.)
            assert!(report.launches_per_step > 20, "{report:?}");
            assert!(report.launches_per_token > 5.0, "{report:?}");
            let listed: u64 = report.step_kernels.iter().map(|k| k.launches).sum();
            assert!(
                listed > 0 && listed <= report.launches_per_step,
                "{report:?}"
            );
            assert!(
                report
                    .token_kernels
                    .iter()
                    .any(|k| k.kernel.contains("atmul"))
            );
            // A decoded token's attention and norms are webtune's own kernels. (Counted while
            // this answer is generated: other tests' kernels may crowd the report's short list.)
            let counter = webtune::device::LaunchCounter::start();
            answer(&session).await?;
            let seen = counter.by_kernel();
            for fused in ["DecodeAttentionKernel", "RmsNormKernel"] {
                assert!(
                    seen.iter().any(|k| k.kernel == fused && k.launches > 0),
                    "{fused} not launched while answering: {seen:?}"
                );
            }
        }
    }
    if device.tier() == Tier::Gpu {
        // Timed: the kernels come listed by the time they took, longest first.
        let timed = session
            .bench(
                &BenchConfig {
                    timed: true,
                    steps: 1,
                    warm_up: true,
                    ..config.clone()
                },
                || Flow::Continue,
            )
            .await?;
        assert!(timed.warm_up_seconds.is_some_and(|s| s > 0.0), "{timed:?}");
        for kernels in [&timed.step_kernels, &timed.token_kernels] {
            assert!(
                kernels.first().is_some_and(|k| k.seconds > 0.0),
                "{timed:?}"
            );
            assert!(
                kernels.windows(2).all(|w| w[0].seconds >= w[1].seconds),
                "{timed:?}"
            );
        }
    }
    // The warm-up: the engine skips it on both tiers here (the CPU tier compiles nothing,
    // lavapipe is a software renderer); run directly, it trains a throwaway adapter and
    // answers, changing nothing, and stops when asked.
    let run = webtune::train::TrainConfig::default();
    let skipped = session.warm_up(&run, || Flow::Continue).await?;
    let why = match device.tier() {
        Tier::Cpu => "CPU tier",
        Tier::Gpu => "software renderer",
    };
    assert!(!skipped.ran && skipped.reason.contains(why), "{skipped:?}");
    // Runs pad their batches to multiples of 32 tokens on the GPU tier, not on the CPU tier.
    let multiple = webtune::session::policy::pad_multiple(session.device());
    assert_eq!(multiple, if why == "CPU tier" { 1 } else { 32 });
    let model = &session.model()?.loaded.model;
    let shape = webtune::bench::WarmUpShape {
        lora: run.lora.clone(),
        rows: 2,
        seq: 12,
    };
    let warm_up =
        |go_on: fn() -> Flow| webtune::bench::warm_up(model, session.device(), &shape, go_on);
    let seconds = warm_up(|| Flow::Continue).await?;
    assert!(seconds > 0.0);
    let stopped = warm_up(|| Flow::Stop).await;
    assert!(matches!(stopped, Err(Error::Stopped { .. })), "{stopped:?}");
    assert_eq!(
        answer(&session).await?,
        before,
        "the bench or the warm-up changed the model"
    );
    let bad = BenchConfig {
        steps: 0,
        ..config.clone()
    };
    match session.bench(&bad, || Flow::Continue).await {
        Err(Error::Setting { setting, .. }) => assert_eq!(setting, "bench.steps"),
        other => panic!("steps 0: {other:?}"),
    }
    let context = session.model_info().map_or(0, |m| m.context_length);
    for (bad, named) in [
        (
            BenchConfig {
                seq: context + 1,
                ..config.clone()
            },
            "bench.seq",
        ),
        (
            BenchConfig {
                prompt_tokens: context,
                ..config.clone()
            },
            "bench.prompt_tokens",
        ),
        (
            BenchConfig {
                batch: 1 << 20,
                ..config.clone()
            },
            "bench.batch",
        ),
    ] {
        match session.bench(&bad, || Flow::Continue).await {
            Err(Error::Setting { setting, .. }) => assert_eq!(setting, named),
            other => panic!("{named}: {other:?}"),
        }
    }
    // Stopped after the first measured step, and after the first token: stopped, no numbers.
    for asked in [2, 4] {
        let mut calls = 0;
        let stopped = session.bench(&config, || {
            calls += 1;
            match calls < asked {
                true => Flow::Continue,
                false => Flow::Stop,
            }
        });
        match stopped.await {
            Err(err) => assert_eq!((err.kind(), calls), ("stopped", asked), "{err}"),
            other => panic!("stopped at call {asked}: {other:?}"),
        }
    }
    Ok(())
}

/// The engine's last word on a GPU that does not name itself a software renderer: the same
/// timed products on both tiers. lavapipe (a software renderer, so `auto` never times it)
/// computes them slower than the CPU tier, and the timing says so.
#[test]
fn gpu_timed_products_put_lavapipe_behind_the_cpu_tier() {
    use webtune::platform::block_on;
    use webtune::session::TierTiming;
    let Some(gpu) = super::device(Tier::Gpu) else {
        return;
    };
    let timing = block_on(TierTiming::measure(&gpu, &ComputeDevice::cpu())).unwrap();
    eprintln!("timed products: {timing:?}");
    assert!(
        timing.gpu_seconds > 0.0 && timing.cpu_seconds > 0.0,
        "{timing:?}"
    );
    assert!(timing.gpu_speedup() < 1.0, "{timing:?}");
}
