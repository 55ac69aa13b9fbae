//! The read side: queries over the log, run off the event loop.
//!
//! - [`catalog`]: the per-segment indexes, kept current with the durable log.
//! - [`logs`]: `GET /logs`: core's query plan run over the segment files.
//! - [`pool`]: the reader threads jobs run on, and the hand-back of their
//!   answers to the event loop.
//!
//! What a query may see is capped by the durable id: the catalog indexes
//! only durable records, and the plan only names indexed blocks.

pub mod catalog;
pub mod logs;
pub mod pool;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spool_core::handoff::Handoff;

use catalog::{Catalog, CatalogError, LogView};

/// What jobs read: the log's state, its indexes and files.
pub struct ReadSide {
    /// The group commit (read: durable id, segments, stats; `/simulate`
    /// also appends through it).
    pub handoff: Arc<Handoff>,
    /// The indexes.
    pub catalog: Mutex<Catalog>,
    /// A query's time budget (`--query-timeout`).
    pub query_timeout: Duration,
    /// A `/logs` answer's byte budget (`--max-answer`).
    pub max_answer: usize,
    /// Largest record a job may append (`--max-record`).
    pub max_record: u64,
    /// Queries answered.
    pub queries: AtomicU64,
    /// The daemon's histograms.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where `/simulate` notes the records alert rules select.
    pub alert_feed: crate::alerts::feed::Feed,
}

impl ReadSide {
    /// The catalog brought up to the log's current state, locked.
    pub fn current_catalog(&self) -> Result<std::sync::MutexGuard<'_, Catalog>, CatalogError> {
        let view = self.handoff.inspect(LogView::of);
        let mut catalog = match self.catalog.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        catalog.refresh(&view)?;
        Ok(catalog)
    }
}
