//! What an event writes about itself: its log and webhook calls, kept in memory while it runs and
//! written when it starts and when it settles ([`super::settle`]).

use crate::db::events::{LogEntry, LogKind, WebhookCall};
use crate::db::now_ms;

/// The log and calls of one event.
#[derive(Debug, Default)]
pub struct Journal {
    entries: Vec<LogEntry>,
    /// How many of `entries` are already stored.
    written: usize,
    /// How many entries earlier steps of the event stored before this journal's first.
    before: usize,
    calls: Vec<WebhookCall>,
}

impl Journal {
    /// Adds a log entry, timestamped now.
    pub fn log(&mut self, kind: LogKind, detail: impl Into<String>) {
        self.entries.push(LogEntry {
            at: now_ms(),
            kind,
            detail: detail.into(),
        });
    }

    /// Adds a webhook call.
    pub fn call(&mut self, call: WebhookCall) {
        self.calls.push(call);
    }

    /// Continues the log of an event that already has `stored` entries (a waiting event that a
    /// later call settles).
    pub fn follow(&mut self, stored: usize) {
        self.before = stored;
    }

    /// Entries not stored yet, with the sequence number of the first.
    pub fn unwritten(&self) -> (usize, &[LogEntry]) {
        (self.before + self.written, &self.entries[self.written..])
    }

    /// Marks every entry as stored.
    pub fn mark_written(&mut self) {
        self.written = self.entries.len();
    }

    /// The calls made.
    pub fn calls(&self) -> &[WebhookCall] {
        &self.calls
    }
}
