//! The listener: HTTP/1.1 connections under a cap, with header-read and keep-alive timeouts, and a shutdown that
//! waits for the requests in flight only as long as its grace.
//!
//! axum's `serve` sets no timer, so hyper's header-read timeout is off and an idle connection is kept forever; it
//! has no connection cap (it sleeps on `EMFILE` instead), and at shutdown it waits for every connection without
//! bound.

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    response::Response,
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot},
    task::AbortHandle,
    time::Instant,
};
use tokio_util::{
    sync::CancellationToken,
    task::{TaskTracker, task_tracker::TaskTrackerToken},
};
use tower::{Service, ServiceExt, util::Oneshot};

/// The limits `ALX_HEADER_READ_TIMEOUT_SECS`, `ALX_KEEP_ALIVE_TIMEOUT_SECS`, `ALX_MAX_CONNECTIONS` and
/// `ALX_SHUTDOWN_GRACE_SECS` set.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

/// Once the grace has expired and the connections left are told to drop their requests, how long `serve` waits
/// for them to do so. A request that never yields (a loop without an `.await`) cannot be dropped: `serve` returns
/// without it, and `main` stops the runtime without waiting for it either.
const ABANDON_WAIT: Duration = Duration::from_secs(1);

/// After an accept error that is not about one connection (`EMFILE`, `ENOBUFS`), the longest wait before trying
/// again; the listener tries again sooner when one of its own connections closes.
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// Serves `service` on `listener` until `shutdown` is cancelled; then stops accepting, tells every connection to
/// close after its answer in flight, and returns once they have, or once `shutdown_grace` has passed.
///
/// Handlers read the client's address from `ConnectInfo<SocketAddr>`, as with axum's
/// `into_make_service_with_connect_info`. An upgraded connection (WebSocket) runs on in a task of its own, out of
/// hyper's reach: it counts under the cap and shutdown waits for it, but only the WebSocket handler can tell it to
/// close; otherwise it is cut when the process exits after the grace.
pub async fn serve<S>(listener: TcpListener, service: S, limits: ServerLimits, shutdown: CancellationToken)
where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let closed = Arc::new(Notify::new());
    // Counts the open sockets, to wait for them at shutdown.
    let connections = TaskTracker::new();
    let abandon = CancellationToken::new();
    let mut builder = http1::Builder::new();
    // hyper's header-read timer is re-armed for every request; `connection` arms one timer per connection instead.
    builder.header_read_timeout(None);
    loop {
        // Past the cap the next connection waits in the kernel's backlog, unaccepted, until a slot frees up.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the slots are never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    tracing::error!(%error, "accepting a connection failed; trying again once one closes");
                    tokio::select! {
                        () = closed.notified() => {}
                        () = tokio::time::sleep(ACCEPT_RETRY) => {}
                        () = shutdown.cancelled() => break,
                    }
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let socket = Socket {
            stream,
            _slot: slot,
            _open: connections.token(),
            closed: closed.clone(),
        };
        // The socket, not the task, is what shutdown waits for: an upgrade outlives the task.
        tokio::spawn(connection(
            builder.clone(),
            socket,
            remote,
            service.clone(),
            limits,
            shutdown.clone(),
            abandon.clone(),
        ));
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(limits.shutdown_grace, connections.wait())
        .await
        .is_ok()
    {
        return;
    }
    tracing::warn!(
        connections = connections.len(),
        "the shutdown grace has expired; abandoning the requests still in flight"
    );
    abandon.cancel();
    if tokio::time::timeout(ABANDON_WAIT, connections.wait()).await.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "connections still open after being abandoned (WebSockets, or requests stuck without yielding); \
             leaving them behind"
        );
    }
}

/// Errors of one connection that failed before it was accepted; the next one may well succeed.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection, and closes it when it sends no complete first request head within the header-read
/// timeout, when it starts no request for a whole keep-alive timeout, at shutdown, or when its requests are
/// abandoned.
///
/// The timeouts share one timer, checked rather than re-armed per request: a request only raises a flag, and the
/// timer, when it fires, looks at the flag and re-arms itself while the connection is in use. So an idle
/// connection is closed between one and two keep-alive timeouts after its last request started, and a request
/// that outlasts a keep-alive timeout is the connection's last.
async fn connection<S>(
    builder: http1::Builder,
    socket: Socket,
    remote: SocketAddr,
    service: S,
    limits: ServerLimits,
    shutdown: CancellationToken,
    abandon: CancellationToken,
) where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static,
{
    let started = Arc::new(AtomicBool::new(false));
    let service = ConnectionService {
        inner: service,
        remote,
        started: started.clone(),
    };
    let mut connection = pin!(builder.serve_connection(TokioIo::new(socket), service).with_upgrades());
    let header_deadline = Instant::now() + limits.header_read_timeout;
    let mut timer = pin!(tokio::time::sleep(
        limits.header_read_timeout.min(limits.keep_alive_timeout)
    ));
    let mut served = false;
    let mut closing = false;
    // The select below is polled at every wake-up of the connection, several per request; a cancellation token
    // costs a mutex each time it is polled, a oneshot an atomic load. So a task of the connection's own turns
    // the two tokens into oneshots (about 300 of the instructions of a `{ __typename }`, bench/README.md).
    let (mut shutting_down, mut abandoned) = watch_stops(shutdown, abandon);
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %remote, "connection ended with an error");
                }
                return;
            }
            () = timer.as_mut(), if !closing => {
                if started.swap(false, Ordering::Relaxed) {
                    served = true;
                    timer.as_mut().reset(Instant::now() + limits.keep_alive_timeout);
                } else if served {
                    // Closes the connection now if it is between requests, or else once its answer is written.
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                } else if Instant::now() >= header_deadline {
                    tracing::debug!(%remote, "no request head within the header-read timeout; closing");
                    return;
                } else {
                    timer.as_mut().reset(header_deadline);
                }
            }
            _ = &mut shutting_down.signal, if !closing => {
                if !served && !started.load(Ordering::Relaxed) {
                    // Nothing asked yet, nothing to finish; hyper would keep waiting for a first request.
                    return;
                }
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = &mut abandoned => return,
        }
    }
}

/// A connection's view of the two stops, as oneshots that resolve when the shutdown starts and when its grace
/// is over; the task behind them ends with the connection (`Watcher`'s drop).
fn watch_stops(shutdown: CancellationToken, abandon: CancellationToken) -> (Watcher, oneshot::Receiver<()>) {
    let (graceful, graceful_signal) = oneshot::channel();
    let (hard, hard_signal) = oneshot::channel();
    let task = tokio::spawn(async move {
        tokio::select! {
            () = shutdown.cancelled() => {
                let _ = graceful.send(());
                abandon.cancelled().await;
            }
            () = abandon.cancelled() => {}
        }
        let _ = hard.send(());
    });
    (
        Watcher {
            signal: graceful_signal,
            task: task.abort_handle(),
        },
        hard_signal,
    )
}

struct Watcher {
    signal: oneshot::Receiver<()>,
    task: AbortHandle,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The application's service for one connection: gives each request the client's address, and notes that a
/// request started.
struct ConnectionService<S> {
    inner: S,
    remote: SocketAddr,
    started: Arc<AtomicBool>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for ConnectionService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Oneshot<S, Request>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.started.store(true, Ordering::Relaxed);
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.remote));
        self.inner.clone().oneshot(request)
    }
}

/// A connection's socket. For as long as it is open, through an upgrade too, it holds its slot under the cap and
/// counts among the connections that shutdown waits for.
struct Socket {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    _open: TaskTrackerToken,
    closed: Arc<Notify>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.closed.notify_waiters();
    }
}

impl AsyncRead for Socket {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
