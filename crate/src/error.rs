//! The library's error type. Every fallible public function returns [`Result`]; panics are
//! reserved for bugs (a broken invariant inside the library), never for bad input or a
//! missing device.

use crate::device::Tier;

/// Everything that can go wrong in the library, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter could be acquired, or the runtime refused it.
    #[error("could not initialise the {tier} device: {reason}")]
    DeviceInit {
        /// The tier that was asked for.
        tier: Tier,
        /// What the runtime said.
        reason: String,
    },
    /// Copying a tensor from the device back to the host failed.
    #[error("reading `{what}` back from the device failed: {reason}")]
    Readback {
        /// Which tensor was being read.
        what: String,
        /// What the runtime said.
        reason: String,
    },
    /// Two sets of numbers that must agree do not.
    #[error("{0}")]
    Mismatch(#[from] crate::numerics::Mismatch),
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
