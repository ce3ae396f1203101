//! Stopping `opm serve`: the signal (SIGINT or SIGTERM), the [`Shutdown`] handle that tells
//! long-lived answers to end, and the bounded drain ([`drain`]).
//!
//! A graceful stop that waits for every connection never ends while one client holds an
//! `/api/v1/watch` stream or a half-sent request open, and the supervisor then kills the process
//! before the queued generations are written. So: on the signal, watch streams end (the SDKs
//! reconnect to another replica), the listener closes, in-flight requests get
//! [`ServeConfig::shutdown_grace`](crate::ServeConfig) to finish, and whatever is still open
//! then is dropped, so the telemetry flush that follows always runs.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use tokio::sync::watch;

/// Default time in-flight requests get after SIGTERM (the Kubernetes manifest allows 40 s
/// minus a 5 s `preStop` pause; the rest is for the telemetry flush).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(20);

/// Whether the server is stopping. Cheap to clone; every clone sees [`Shutdown::begin`].
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self { sender: std::sync::Arc::new(watch::channel(false).0) }
    }
}

impl Shutdown {
    /// Starts the stop: every [`Shutdown::begun`] future resolves. Idempotent.
    pub fn begin(&self) {
        self.sender.send_replace(true);
    }

    /// Whether [`Shutdown::begin`] was called.
    pub fn is_begun(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the stop has begun (at once if it already has).
    pub fn begun(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut receiver = self.sender.subscribe();
        async move {
            // The sender lives as long as any clone of `self`; if it is gone, so is the server.
            let _ = receiver.wait_for(|stopping| *stopping).await;
        }
    }
}

/// How a drain ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Drained {
    /// Every connection closed within the grace.
    Clean,
    /// The grace ran out; the connections still open were dropped.
    TimedOut,
}

/// Runs `server` (built with `with_graceful_shutdown(shutdown.begun())`) until `signal`
/// resolves, then begins `shutdown` and gives the open connections `grace` to finish.
pub async fn drain<S, E>(
    server: S,
    signal: impl Future<Output = ()>,
    shutdown: &Shutdown,
    grace: Duration,
) -> Result<Drained, E>
where
    S: IntoFuture<Output = Result<(), E>>,
    S::IntoFuture: Send + 'static,
    E: Send + 'static,
{
    let mut serving = tokio::spawn(server.into_future());
    tokio::select! {
        joined = &mut serving => return finished(joined).map(|()| Drained::Clean),
        () = signal => {}
    }
    shutdown.begin();
    tracing::info!(grace_ms = grace.as_millis() as u64, "stopping: listener closed, draining open requests");
    match tokio::time::timeout(grace, &mut serving).await {
        Ok(joined) => finished(joined).map(|()| Drained::Clean),
        Err(_) => {
            serving.abort();
            tracing::warn!(grace_ms = grace.as_millis() as u64, "connections still open after the grace; dropped");
            Ok(Drained::TimedOut)
        }
    }
}

fn finished<E>(joined: Result<Result<(), E>, tokio::task::JoinError>) -> Result<(), E> {
    match joined {
        Ok(result) => result,
        Err(error) => {
            // The serve loop never panics by itself; report rather than propagate a panic.
            tracing::error!(%error, "the serve task ended abnormally");
            Ok(())
        }
    }
}

/// Resolves on SIGINT (ctrl-c) or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_ends_by_itself_is_clean_and_the_stop_never_began() {
        let shutdown = Shutdown::default();
        let server = async { Ok::<(), std::io::Error>(()) };
        let drained = drain(server, std::future::pending(), &shutdown, Duration::from_secs(5)).await.unwrap();
        assert_eq!(drained, Drained::Clean);
        assert!(!shutdown.is_begun());
    }

    #[tokio::test(start_paused = true)]
    async fn the_signal_begins_the_stop_and_a_server_that_never_ends_is_dropped_after_the_grace() {
        let shutdown = Shutdown::default();
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let server = async move {
            let _guard = dropped_tx;
            std::future::pending::<Result<(), std::io::Error>>().await
        };
        let started = tokio::time::Instant::now();
        let drained = drain(server, async {}, &shutdown, Duration::from_secs(3)).await.unwrap();
        assert_eq!(drained, Drained::TimedOut);
        assert!(shutdown.is_begun());
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert!(dropped_rx.await.is_err(), "the server future was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_finishes_its_requests_within_the_grace_is_clean() {
        let shutdown = Shutdown::default();
        let begun = shutdown.begun();
        let server = async move {
            begun.await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok::<(), std::io::Error>(())
        };
        let started = tokio::time::Instant::now();
        let drained = drain(server, async {}, &shutdown, Duration::from_secs(3)).await.unwrap();
        assert_eq!(drained, Drained::Clean);
        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }
}
