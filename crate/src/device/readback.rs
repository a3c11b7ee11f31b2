//! Async copies from the device to the host — the only kind the browser allows.

use burn::tensor::Tensor;

use crate::error::{Error, Result};

/// Reads a float tensor back to the host as a flat row-major `Vec<f32>`.
///
/// `what` names the tensor in the error if the read fails. The data is copied out at once:
/// a read-back buffer held while later GPU work runs has been seen overwritten on lavapipe.
pub async fn read_f32<const D: usize>(tensor: Tensor<D>, what: &str) -> Result<Vec<f32>> {
    let failed = |reason: String| Error::Readback {
        what: what.to_string(),
        reason,
    };
    let data = tensor
        .into_data_async()
        .await
        .map_err(|err| failed(format!("{err:?}")))?;
    data.try_to_vec_as::<f32>()
        .map_err(|err| failed(format!("{err:?}")))
}
