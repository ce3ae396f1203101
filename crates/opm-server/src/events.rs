//! The change feed: audit entries of changes that affect serving (new versions, label moves and
//! rollbacks, rollout transitions) or govern them (change requests, policy changes and freezes) turned into [`ChangeEventDto`]s, broadcast to `GET /api/v1/watch`
//! subscribers and handed to a sink (the webhooks, on the leader replica).
//!
//! The audit trail is the feed's log: an event's id is its audit sequence number, so a client
//! resumes with `Last-Event-ID` by reading the trail after that number, and every replica sees
//! every other replica's changes (the store announces commits; a periodic poll covers a missed
//! announcement).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use opm_api::events::ChangeEventDto;
use opm_core::audit::{AuditEntry, action};
use opm_store::{AuditFilter, Store};
use tokio::sync::broadcast;

/// Events kept for slow subscribers before they lag (and re-read the trail).
const CHANNEL_CAPACITY: usize = 1024;
/// Audit entries read per query.
const PAGE: u32 = 500;
/// How often the feed reads the trail even without an announcement.
const POLL: Duration = Duration::from_secs(1);

/// Receives every event once, in order (the webhooks).
pub type EventSink = Arc<dyn Fn(&Arc<ChangeEventDto>) + Send + Sync>;

/// The feed. Cheap to share.
pub struct EventFeed {
    store: Arc<dyn Store>,
    sender: broadcast::Sender<Arc<ChangeEventDto>>,
    /// The newest audit seq the feed has read.
    last_seq: AtomicI64,
    pump: tokio::sync::Mutex<()>,
    sink: std::sync::RwLock<Option<EventSink>>,
}

impl EventFeed {
    /// Starts following the audit trail from its current end. Needs a Tokio runtime.
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let feed = Arc::new(Self {
            store: store.clone(),
            sender,
            last_seq: AtomicI64::new(-1),
            pump: tokio::sync::Mutex::new(()),
            sink: std::sync::RwLock::new(None),
        });
        let weak = Arc::downgrade(&feed);
        let mut changes = store.subscribe();
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(POLL);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    change = changes.recv() => {
                        if matches!(change, Err(broadcast::error::RecvError::Closed)) {
                            break;
                        }
                    }
                    _ = poll.tick() => {}
                }
                let Some(feed) = weak.upgrade() else { break };
                if let Err(error) = feed.pump().await {
                    tracing::warn!(%error, "change feed could not read the audit trail");
                }
            }
        });
        feed
    }

    /// Sets the sink every new event is handed to.
    pub fn set_sink(&self, sink: EventSink) {
        *self.sink.write().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }

    /// Stops handing events to the sink.
    pub fn clear_sink(&self) {
        *self.sink.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// New events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEventDto>> {
        self.sender.subscribe()
    }

    /// Reads the trail past what was read and publishes the events in it.
    pub async fn pump(&self) -> Result<(), opm_store::StoreError> {
        let _one_at_a_time = self.pump.lock().await;
        let mut after = self.last_seq.load(Ordering::Acquire);
        if after < 0 {
            after = head_seq(self.store.as_ref()).await?;
            self.last_seq.store(after, Ordering::Release);
            return Ok(());
        }
        loop {
            let page = self.store.audit_chain_page(after, PAGE).await?;
            for entry in &page {
                after = entry.seq;
                if let Some(event) = event(entry) {
                    let event = Arc::new(event);
                    let sink = self.sink.read().unwrap_or_else(|p| p.into_inner()).clone();
                    if let Some(sink) = sink {
                        sink(&event);
                    }
                    let _no_subscribers_is_fine = self.sender.send(event);
                }
            }
            self.last_seq.store(after, Ordering::Release);
            if page.len() < PAGE as usize {
                return Ok(());
            }
        }
    }

    /// The events of `project` after `after_seq` up to what the feed has published, oldest first,
    /// at most `limit` (for a client resuming with `Last-Event-ID`).
    pub async fn replay(
        &self,
        project: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<ChangeEventDto>, opm_store::StoreError> {
        let until = self.last_seq.load(Ordering::Acquire);
        let mut events = Vec::new();
        let mut after = after_seq;
        while after < until && events.len() < limit {
            let page = self.store.audit_chain_page(after, PAGE).await?;
            for entry in &page {
                if entry.seq > until {
                    return Ok(events);
                }
                after = entry.seq;
                if entry.record.project == project
                    && let Some(event) = event(entry)
                {
                    events.push(event);
                }
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        Ok(events)
    }
}

async fn head_seq(store: &dyn Store) -> Result<i64, opm_store::StoreError> {
    let newest = store.list_audit(&AuditFilter { limit: 1, ..AuditFilter::default() }).await?;
    Ok(newest.first().map_or(0, |entry| entry.seq))
}

/// The event an audit entry is, when it changes what is served.
pub fn event(entry: &AuditEntry) -> Option<ChangeEventDto> {
    let record = &entry.record;
    let relevant = matches!(
        record.action.as_str(),
        action::VERSION_CREATE
            | action::LABEL_SET
            | action::LABEL_ROLLBACK
            | action::PROMPT_ARCHIVE
            | action::PROMPT_RESTORE
    ) || record.action.starts_with("rollout.")
        || record.action.starts_with("change_request.")
        || record.action.starts_with("governance.");
    if !relevant {
        return None;
    }
    // Targets read `prompt/NAME[/label/LABEL[/…]]` or `prompt/NAME/version/N`.
    let mut parts = record.target.split('/');
    let prompt = (parts.next() == Some("prompt")).then(|| parts.next()).flatten().map(str::to_owned);
    let label = (parts.next() == Some("label")).then(|| parts.next()).flatten().map(str::to_owned);
    Some(ChangeEventDto {
        id: entry.seq,
        event: record.action.clone(),
        project: record.project.clone(),
        prompt,
        label,
        actor: record.actor.name.clone(),
        at: record.at,
        reason: record.reason.clone(),
        data: record.after.clone(),
    })
}
