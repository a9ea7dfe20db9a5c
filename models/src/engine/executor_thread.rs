//! What every executor handle shares: a named compute thread fed by a bounded command queue, a full queue
//! answered with a typed overload error, and a shutdown that joins the thread once.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::error::EngineError;

/// The sending side of one executor thread. Cloning shares the thread.
pub(crate) struct ExecutorThread<C> {
    commands: SyncSender<C>,
    queue: &'static str,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl<C> Clone for ExecutorThread<C> {
    fn clone(&self) -> Self {
        Self { commands: self.commands.clone(), queue: self.queue, thread: self.thread.clone() }
    }
}

impl<C: Send + 'static> ExecutorThread<C> {
    /// Starts thread `name` running `body` over a command queue of `capacity`; `queue` names it in errors.
    pub(crate) fn spawn(
        name: String,
        queue: &'static str,
        capacity: usize,
        body: impl FnOnce(Receiver<C>) + Send + 'static,
    ) -> Self {
        Self::spawn_with_nice(name, queue, capacity, 0, body)
    }

    /// [`spawn`](Self::spawn) at OS niceness `nice` (negative: favoured over the other compute threads when
    /// the cores are contended — the real-time audio executor). Without the privilege to raise it the thread
    /// runs at the default, with a warning.
    pub(crate) fn spawn_with_nice(
        name: String,
        queue: &'static str,
        capacity: usize,
        nice: i32,
        body: impl FnOnce(Receiver<C>) + Send + 'static,
    ) -> Self {
        let (commands, rx) = mpsc::sync_channel(capacity.max(1));
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                if nice != 0
                    && let Err(e) = parley_kernels::parallel::set_current_thread_nice(nice)
                {
                    tracing::warn!(thread = %name, nice, error = %e, "could not change the thread's priority");
                }
                body(rx)
            })
            .unwrap_or_else(|e| panic!("spawning the {queue} thread: {e}"));
        Self { commands, queue, thread: Arc::new(Mutex::new(Some(thread))) }
    }

    /// Queues a command without waiting; a full queue is `Overloaded`.
    pub(crate) fn try_send(&self, command: C) -> Result<(), EngineError> {
        match self.commands.try_send(command) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(EngineError::Overloaded { what: self.queue }),
            Err(TrySendError::Disconnected(_)) => Err(EngineError::Stopped),
        }
    }

    /// Queues a control command (cancel, close), waiting for room: these must not be dropped.
    pub(crate) fn send(&self, command: C) {
        let _ = self.commands.send(command);
    }

    /// Sends `shutdown` and waits for the thread (once; later calls return at once).
    pub(crate) fn shutdown(&self, shutdown: C) {
        self.send(shutdown);
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}
