//! Whether long work goes on: what a progress callback (a streamed token, a training event,
//! an advisor stage) answers to the loop that called it.

/// Whether to go on after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on (generate the next token, take the next step).
    Continue,
    /// Stop here (a stop string matched, the user pressed stop, …).
    Stop,
}
