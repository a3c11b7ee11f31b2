//! A model whose embedding is larger than the GPU's largest storage binding (lavapipe: 128
//! MiB) loads with its vocabulary matrix split, and computes what the CPU tier computes (the
//! body is shared with the browser tier: `webtune_tests::embedding_larger_than_a_binding_is_split`).

use webtune::Tier;
use webtune::platform::block_on;

#[test]
fn gpu_embedding_larger_than_a_binding_is_split() {
    let Some(gpu) = super::device(Tier::Gpu) else {
        return;
    };
    let check = block_on(webtune_tests::embedding_larger_than_a_binding_is_split(
        &gpu,
    ))
    .unwrap_or_else(|err| panic!("{err}"));
    eprintln!(
        "split embedding ({} bytes, binding {} bytes, {} pieces): GPU vs CPU max |Δ| {:.1e}",
        check.embedding_bytes, check.binding, check.pieces, check.max_abs_diff
    );
}
