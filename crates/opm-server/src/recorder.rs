//! The generation pipeline: every finished model call is counted in Prometheus (and OTLP metrics
//! when enabled) on the request path, then queued for a background writer that stores records in
//! batches.
//!
//! Invariants: the request path never waits on the store — a full queue drops the record and
//! counts it (`opm_recorder_dropped_total` plus a rate-limited warning); the writer drains the
//! queue before it stops (graceful shutdown), and on demand ([`GenerationWriter::flush`]), so
//! feedback posted right after a call finds its generation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opm_core::names::ProjectName;
use opm_gateway::{ChannelRecorder, GenerationRecord, GenerationRecorder, GenerationStatus};
use opm_store::{GenerationOutcome, GenerationRow, Store};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// How the generation pipeline is sized.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecorderSettings {
    /// Records the queue holds before new ones are dropped.
    pub queue_capacity: usize,
    /// Most records written in one transaction.
    pub batch_size: usize,
    /// How long the writer waits for more records before writing a partial batch, so a trickle
    /// of calls shares transactions (each SQLite commit is synced to disk) instead of paying one
    /// per call. A flush or shutdown waits at most this long on top.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
}

impl Default for RecorderSettings {
    fn default() -> Self {
        Self { queue_capacity: 65_536, batch_size: 2_000, linger: Duration::from_millis(50) }
    }
}

/// The [`GenerationRecorder`] the server installs: metrics first, then the storage queue.
pub struct TelemetryRecorder {
    metrics: Arc<Metrics>,
    otel: opm_telemetry::Telemetry,
    queue: ChannelRecorder,
}

impl GenerationRecorder for TelemetryRecorder {
    fn record(&self, record: GenerationRecord) {
        self.metrics.generation(&record);
        if self.otel.is_enabled() {
            self.otel.record_model_call(&crate::otel::model_call_metrics(&record));
        }
        let dropped = self.queue.dropped();
        self.queue.record(record);
        let now = self.queue.dropped();
        if now > dropped {
            self.metrics.recorder_dropped(now - dropped);
        }
    }
}

enum Command {
    Flush(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// A handle on the background writer.
#[derive(Clone)]
pub struct GenerationWriter {
    commands: mpsc::Sender<Command>,
}

impl GenerationWriter {
    /// Starts the writer task and returns the recorder that feeds it.
    pub fn start(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        otel: opm_telemetry::Telemetry,
        settings: &RecorderSettings,
    ) -> (GenerationWriter, TelemetryRecorder) {
        let (queue, receiver) = ChannelRecorder::new(settings.queue_capacity);
        let (commands, command_receiver) = mpsc::channel(16);
        metrics.recorder_queue(0, settings.queue_capacity.max(1));
        let task = WriterTask {
            store,
            metrics: metrics.clone(),
            receiver,
            commands: command_receiver,
            batch_size: settings.batch_size.max(1),
            capacity: settings.queue_capacity.max(1),
            linger: settings.linger,
        };
        tokio::spawn(task.run());
        (GenerationWriter { commands }, TelemetryRecorder { metrics, otel, queue })
    }

    /// Returns once every record queued before the call is stored (or given up on).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.commands.send(Command::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Drains the queue and stops the writer.
    pub async fn shutdown(&self) {
        let (ack, done) = oneshot::channel();
        if self.commands.send(Command::Stop(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

struct WriterTask {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    receiver: mpsc::Receiver<GenerationRecord>,
    commands: mpsc::Receiver<Command>,
    batch_size: usize,
    capacity: usize,
    linger: Duration,
}

/// Attempts per batch before its records are given up on.
const WRITE_ATTEMPTS: u32 = 3;

impl WriterTask {
    async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.batch_size);
        loop {
            tokio::select! {
                biased;
                command = self.commands.recv() => {
                    self.drain(&mut batch).await;
                    match command {
                        Some(Command::Flush(ack)) => {
                            let _ = ack.send(());
                        }
                        Some(Command::Stop(ack)) => {
                            let _ = ack.send(());
                            tracing::info!("generation writer stopped");
                            return;
                        }
                        None => return,
                    }
                }
                received = self.receiver.recv_many(&mut batch, self.batch_size) => {
                    if received == 0 {
                        return;
                    }
                    self.linger(&mut batch).await;
                    self.write(&mut batch).await;
                }
            }
        }
    }

    /// Gathers more records for up to `linger`, or until the batch is full.
    async fn linger(&mut self, batch: &mut Vec<GenerationRecord>) {
        if self.linger.is_zero() {
            return;
        }
        let deadline = tokio::time::Instant::now() + self.linger;
        while batch.len() < self.batch_size {
            let room = self.batch_size - batch.len();
            tokio::select! {
                more = self.receiver.recv_many(batch, room) => {
                    if more == 0 {
                        return;
                    }
                }
                () = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Writes everything queued so far.
    async fn drain(&mut self, batch: &mut Vec<GenerationRecord>) {
        loop {
            while batch.len() < self.batch_size {
                match self.receiver.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
            self.write(batch).await;
        }
    }

    async fn write(&mut self, batch: &mut Vec<GenerationRecord>) {
        self.metrics.recorder_queue(self.receiver.len(), self.capacity);
        let rows: Vec<GenerationRow> = batch
            .drain(..)
            .filter_map(row)
            .filter(|row| match row.check() {
                Ok(()) => true,
                // One bad row would fail the whole batch: set it aside, loudly.
                Err(error) => {
                    tracing::error!(%error, generation_id = %row.id, "generation record refused by the store; dropped");
                    self.metrics.recorder_batch(0, true, Duration::ZERO);
                    false
                }
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        let started = Instant::now();
        for attempt in 1..=WRITE_ATTEMPTS {
            match self.store.insert_generations(&rows).await {
                Ok(_) => {
                    self.metrics.recorder_batch(rows.len() as u64, false, started.elapsed());
                    return;
                }
                Err(error) if attempt < WRITE_ATTEMPTS => {
                    tracing::warn!(%error, attempt, records = rows.len(), "storing generation records failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(error) => {
                    tracing::error!(%error, records = rows.len(), "storing generation records failed; they are lost");
                    self.metrics.recorder_batch(0, true, started.elapsed());
                }
            }
        }
    }
}

/// The stored form of a record; records without a usable project are not stored.
fn row(record: GenerationRecord) -> Option<GenerationRow> {
    let project = record.project.as_deref().and_then(|p| ProjectName::parse(p).ok())?;
    Some(GenerationRow {
        id: record.id,
        project,
        started_at: record.started_at,
        prompt: record.prompt,
        prompt_version: record.prompt_version,
        label: record.label,
        arm: record.arm,
        sticky: record.sticky,
        provider: record.provider,
        model: record.model,
        status: match record.status {
            GenerationStatus::Ok => GenerationOutcome::Ok,
            GenerationStatus::Error => GenerationOutcome::Error,
            GenerationStatus::Cancelled => GenerationOutcome::Cancelled,
        },
        error_kind: record.error_kind,
        latency_ms: record.latency_ms,
        ttft_ms: record.ttft_ms,
        upstream_ms: record.upstream_ms,
        input_tokens: record.usage.input_tokens,
        output_tokens: record.usage.output_tokens,
        cached_tokens: record.usage.cached_input_tokens,
        cost_usd: record.cost_usd,
        key_id: record.key_id,
        attempts: record.attempts,
        fallback_index: u32::try_from(record.fallback_index).unwrap_or(u32::MAX),
        streamed: record.streamed,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use opm_gateway::Usage;

    use super::*;

    fn record(latency_ms: f64) -> GenerationRecord {
        GenerationRecord {
            id: GenerationRecord::new_id(),
            arm: None,
            sticky: None,
            started_at: Utc::now(),
            prompt: Some("p".into()),
            prompt_version: Some(1),
            label: None,
            project: Some("default".into()),
            provider: "mock".into(),
            model: "m".into(),
            status: GenerationStatus::Ok,
            error_kind: None,
            latency_ms,
            ttft_ms: None,
            upstream_ms: 0.0,
            usage: Usage::default(),
            cost_usd: None,
            key_id: None,
            attempts: 1,
            fallback_index: 0,
            streamed: false,
        }
    }

    #[tokio::test]
    async fn a_bad_record_is_set_aside_and_the_rest_of_its_batch_is_stored() {
        let store = opm_store::connect("sqlite::memory:").await.unwrap();
        let metrics = Arc::new(Metrics::new());
        let settings = RecorderSettings { queue_capacity: 16, batch_size: 16, linger: Duration::from_millis(20) };
        let (writer, recorder) =
            GenerationWriter::start(store.clone(), metrics.clone(), opm_telemetry::Telemetry::disabled(), &settings);
        for latency in [1.0, f64::NAN, 2.0, -5.0, 3.0] {
            recorder.record(record(latency));
        }
        writer.flush().await;
        assert_eq!(store.count_generations().await.unwrap(), 3);
        let text = metrics.render();
        assert!(text.contains("opm_recorder_write_errors_total 2"), "{text}");
        assert!(text.contains("opm_recorder_written_total 3"), "{text}");

        // A full queue drops and counts instead of blocking; the writer keeps what fitted.
        for _ in 0..200 {
            recorder.record(record(1.0));
        }
        writer.shutdown().await;
        let stored = store.count_generations().await.unwrap() - 3;
        let dropped =
            metrics.render().lines().find_map(|l| l.strip_prefix("opm_recorder_dropped_total ")?.parse::<u64>().ok());
        assert_eq!(stored + dropped.unwrap(), 200, "every record is either stored or counted as dropped");
        assert!(dropped.unwrap() > 0, "a 16-record queue cannot take 200 records at once");
    }
}
