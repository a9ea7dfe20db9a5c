//! The live sessions: a bounded set (a semaphore of `server.max_sessions` places, so concurrent offers can
//! never exceed it) and, by id, each session's peer for `DELETE /v1/sessions/{id}`. A session's place is
//! held by its driver task and freed when the task ends, whatever ended it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use parley_media::PeerSession;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// See the module docs.
pub struct Sessions {
    places: Arc<Semaphore>,
    max: usize,
    live: Mutex<HashMap<String, Live>>,
}

/// A registered session: its peer, and how to tell its driver to stop.
#[derive(Clone)]
pub struct Live {
    pub peer: Arc<PeerSession>,
    pub stop: Arc<tokio::sync::Notify>,
}

/// A place for one session; dropping it frees the place.
pub struct Place {
    _permit: OwnedSemaphorePermit,
    sessions: Arc<Sessions>,
    id: Option<String>,
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            self.sessions.live.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        }
        metrics::gauge!("parley_sessions_active").set(self.sessions.active() as f64 - 1.0);
    }
}

impl Place {
    /// Registers the session's peer under `id` (removed when the place is dropped).
    pub fn register(&mut self, id: &str, live: Live) {
        self.sessions.live.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), live);
        self.id = Some(id.to_string());
    }
}

impl Sessions {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { places: Arc::new(Semaphore::new(max)), max, live: Mutex::new(HashMap::new()) })
    }

    /// A place, or `None` when all are taken.
    pub fn admit(self: &Arc<Self>) -> Option<Place> {
        let permit = self.places.clone().try_acquire_owned().ok()?;
        metrics::gauge!("parley_sessions_active").set(self.active() as f64);
        Some(Place { _permit: permit, sessions: self.clone(), id: None })
    }

    /// A live session.
    pub fn get(&self, id: &str) -> Option<Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Sessions holding a place now (connecting or connected).
    pub fn active(&self) -> usize {
        self.max - self.places.available_permits()
    }

    pub fn max(&self) -> usize {
        self.max
    }
}
