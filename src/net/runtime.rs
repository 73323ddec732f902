//! The tokio runtimes the labs run on.

/// Which tokio runtime a lab needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// One thread: enough for a lab whose point is not concurrency.
    CurrentThread,
    /// Worker threads: for servers meant to carry load and for benchmarks.
    MultiThread,
}

/// Build a tokio runtime of the given kind.
pub fn runtime(kind: Runtime) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = match kind {
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Runtime::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    };
    Ok(builder.enable_all().build()?)
}
