//! Gateway limits on the three LLM routes: each project's `limits` policy
//! (`opm_core::governance::limits`) enforced before a call is prepared: token buckets for request
//! rates, and spend budgets per UTC day and month against the `spend_daily` ledger.
//!
//! Invariants:
//! - the hot path never waits on the database once a project has been seen: its policy is read
//!   once, then refreshed by the reconcile loop (every [`RECONCILE_INTERVAL`]) or at once after a
//!   policy change through this process ([`Limiter::forget`]); a project without limits costs one
//!   read lock and a map lookup;
//! - spend is the ledger (written by the generation writer with each batch, shared by replicas,
//!   kept across restarts) as of the last reconcile, plus what this process charged since; the
//!   reconcile flushes this process's pending records first, so its own calls are never lost from
//!   the sum between two reconciles (they may count twice for one interval, which only errs on the
//!   side of refusing); another replica's calls count within one interval plus its writer's linger;
//! - request rates are per replica (a token bucket in memory): with N replicas a project's rate is
//!   at most N times its limit;
//! - a budget is checked before a call, and its cost is known after it: calls admitted while under
//!   budget finish, so spend can pass a budget by what was in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use opm_core::governance::GatewayLimits;
use opm_core::governance::limits::{Exceeded, LimitKind, Scope, TokenBucket, check_budget, month_start};
use opm_core::names::ProjectName;
use opm_registry::Registry;

use crate::recorder::GenerationWriter;

/// How often policies and the spend ledger are read again.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);

/// Spend in dollars: today and this month.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Spent {
    today: f64,
    month: f64,
}

impl Spent {
    fn add(&mut self, other: Spent) {
        self.today += other.today;
        self.month += other.month;
    }
}

/// The ledger as last read: spend per project and per (project, key), for `day`'s date and month.
#[derive(Debug, Default)]
struct Ledger {
    day: Option<NaiveDate>,
    projects: HashMap<String, Spent>,
    keys: HashMap<(String, String), Spent>,
}

/// One project's limits and token buckets.
struct ProjectLimits {
    limits: GatewayLimits,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    project: TokenBucket,
    keys: HashMap<String, TokenBucket>,
}

/// The gateway's limiter (one per process).
pub struct Limiter {
    registry: Arc<Registry>,
    /// By project name.
    projects: RwLock<HashMap<String, Arc<ProjectLimits>>>,
    ledger: RwLock<Ledger>,
    /// Costs charged here since the last reconcile started: (project, key or '', day) → dollars.
    pending: Mutex<HashMap<(String, String, NaiveDate), f64>>,
    /// The monotonic origin of the token buckets.
    origin: Instant,
}

impl Limiter {
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            projects: RwLock::new(HashMap::new()),
            ledger: RwLock::new(Ledger::default()),
            pending: Mutex::new(HashMap::new()),
            origin: Instant::now(),
        }
    }

    /// Starts the reconcile loop; it stops when the limiter is dropped.
    pub fn spawn_reconcile(self: &Arc<Self>, writer: GenerationWriter) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECONCILE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(limiter) = weak.upgrade() else { return };
                limiter.reconcile(&writer).await;
            }
        });
    }

    /// Admits a call by `key_id` in `project`, or says which limit it hit. Takes a token from the
    /// project's and the key's buckets (both or neither).
    pub async fn admit(&self, project: &ProjectName, key_id: &str) -> Result<(), Exceeded> {
        let entry = self.project(project).await;
        if entry.limits.is_empty() {
            return Ok(());
        }
        let limits = &entry.limits;
        let key_limits = limits.for_key(key_id);
        if limits.project.limits_spend() || key_limits.limits_spend() {
            let now = self.registry.clock().now();
            let (project_spent, key_spent) = self.spent(project.as_str(), key_id, now);
            check_budget(&limits.project, Scope::Project, project_spent.today, project_spent.month, now)?;
            check_budget(key_limits, Scope::Key, key_spent.today, key_spent.month, now)?;
        }
        if limits.project.requests_per_second.is_none() && key_limits.requests_per_second.is_none() {
            return Ok(());
        }
        let now = self.origin.elapsed().as_secs_f64();
        let mut buckets = entry.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut project_bucket = buckets.project;
        let mut key_bucket = buckets.keys.get(key_id).copied().unwrap_or_else(|| TokenBucket::full(key_limits, now));
        let rate = |retry_after, scope| Exceeded { scope, kind: LimitKind::Rate, retry_after, spent_usd: None };
        project_bucket.take(&limits.project, now).map_err(|wait| rate(wait, Scope::Project))?;
        key_bucket.take(key_limits, now).map_err(|wait| rate(wait, Scope::Key))?;
        buckets.project = project_bucket;
        if key_limits.requests_per_second.is_some() {
            buckets.keys.insert(key_id.to_owned(), key_bucket);
        }
        Ok(())
    }

    /// Adds a finished call's cost (dollars) to what this process charged since the last reconcile.
    pub fn charge(&self, project: &str, key_id: Option<&str>, started_at: DateTime<Utc>, cost_usd: f64) {
        if !(cost_usd.is_finite() && cost_usd > 0.0) {
            return;
        }
        let spends = self
            .projects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(project)
            .is_some_and(|entry| entry.limits.limits_spend());
        if !spends {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *pending
            .entry((project.to_owned(), key_id.unwrap_or_default().to_owned(), started_at.date_naive()))
            .or_default() += cost_usd;
    }

    /// Drops what is known of `project`'s policy (after a change through this process), so the
    /// next call reads it again.
    pub fn forget(&self, project: &ProjectName) {
        self.projects.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(project.as_str());
    }

    /// The project's limits, read from the store the first time.
    async fn project(&self, project: &ProjectName) -> Arc<ProjectLimits> {
        if let Some(entry) = self.projects.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(project.as_str())
        {
            return entry.clone();
        }
        let limits = match self.registry.policy(project).await {
            Ok(stored) => stored.policy.limits,
            Err(error) => {
                // Without its policy the call cannot be checked, so it is admitted: refusing every
                // call would turn a database outage into a gateway outage. The project is noted
                // without limits so later calls do not wait on the store; the reconcile loop reads
                // the policy again.
                tracing::warn!(%project, %error, "gateway limits: the policy could not be read; call admitted");
                GatewayLimits::default()
            }
        };
        let fresh = !limits.is_empty() && self.ledger_day().is_none();
        let entry = self.install(project, limits);
        if fresh {
            // The first limited project: read the ledger now rather than at the next tick.
            self.read_ledger().await;
        }
        entry
    }

    fn install(&self, project: &ProjectName, limits: GatewayLimits) -> Arc<ProjectLimits> {
        let now = self.origin.elapsed().as_secs_f64();
        let mut projects = self.projects.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let buckets = match projects.get(project.as_str()) {
            // Keep the buckets' state across a refresh with the same limits.
            Some(old) if old.limits == limits => return old.clone(),
            _ => Buckets { project: TokenBucket::full(&limits.project, now), keys: HashMap::new() },
        };
        let entry = Arc::new(ProjectLimits { limits, buckets: Mutex::new(buckets) });
        projects.insert(project.to_string(), entry.clone());
        entry
    }

    fn ledger_day(&self) -> Option<NaiveDate> {
        self.ledger.read().unwrap_or_else(|poisoned| poisoned.into_inner()).day
    }

    /// Spend of the project and of the key at `now`: the ledger plus what was charged here since.
    fn spent(&self, project: &str, key_id: &str, now: DateTime<Utc>) -> (Spent, Spent) {
        let today = now.date_naive();
        let (mut project_spent, mut key_spent) = {
            let ledger = self.ledger.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            match ledger.day {
                Some(day) if day == today => (
                    ledger.projects.get(project).copied().unwrap_or_default(),
                    ledger.keys.get(&(project.to_owned(), key_id.to_owned())).copied().unwrap_or_default(),
                ),
                // A new month since the ledger was read: nothing spent yet (the next reconcile
                // reads the new day); a new day of the same month keeps the month's spend.
                Some(day) if month_start(day) == month_start(today) => (
                    Spent { today: 0.0, month: ledger.projects.get(project).map_or(0.0, |spent| spent.month) },
                    Spent {
                        today: 0.0,
                        month: ledger.keys.get(&(project.to_owned(), key_id.to_owned())).map_or(0.0, |s| s.month),
                    },
                ),
                _ => (Spent::default(), Spent::default()),
            }
        };
        let pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for ((p, k, day), cost) in pending.iter() {
            if p != project {
                continue;
            }
            let add = spent_on(*day, today, *cost);
            project_spent.add(add);
            if k == key_id {
                key_spent.add(add);
            }
        }
        (project_spent, key_spent)
    }

    /// One reconcile: refresh the policies of the projects seen, then (when any limits spend)
    /// flush this process's pending records and read the ledger again.
    pub async fn reconcile(&self, writer: &GenerationWriter) {
        let seen: Vec<ProjectName> = self
            .projects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .filter_map(|name| ProjectName::parse(name).ok())
            .collect();
        for project in &seen {
            match self.registry.policy(project).await {
                Ok(stored) => {
                    self.install(project, stored.policy.limits);
                }
                Err(error) => tracing::debug!(%project, %error, "gateway limits: policy refresh failed"),
            }
        }
        let spends = self
            .projects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .any(|entry| entry.limits.limits_spend());
        if !spends {
            return;
        }
        // What was charged until now is in the queue: once flushed, the ledger holds it.
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        writer.flush().await;
        if !self.read_ledger().await {
            // The ledger could not be read: keep counting what was charged on top of the old one.
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (key, cost) in taken {
                *pending.entry(key).or_default() += cost;
            }
        }
    }

    /// Reads this month's ledger; false when the store could not answer.
    async fn read_ledger(&self) -> bool {
        let today = self.registry.clock().now().date_naive();
        let rows = match self.registry.store().spend_since(month_start(today)).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "gateway limits: the spend ledger could not be read");
                return false;
            }
        };
        let mut ledger = Ledger { day: Some(today), ..Ledger::default() };
        for row in rows {
            let spent = spent_on(row.day, today, row.cost_usd);
            ledger.projects.entry(row.project.clone()).or_default().add(spent);
            let key = row.key_id.unwrap_or_default();
            ledger.keys.entry((row.project, key)).or_default().add(spent);
        }
        *self.ledger.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = ledger;
        true
    }
}

/// What `cost` spent on `day` counts toward, seen from `today`.
fn spent_on(day: NaiveDate, today: NaiveDate, cost: f64) -> Spent {
    let same_month = day.year() == today.year() && day.month() == today.month();
    Spent { today: if day == today { cost } else { 0.0 }, month: if same_month { cost } else { 0.0 } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_counts_toward_its_day_and_month() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        assert_eq!(spent_on(day(3), day(3), 2.0), Spent { today: 2.0, month: 2.0 });
        assert_eq!(spent_on(day(1), day(3), 2.0), Spent { today: 0.0, month: 2.0 });
        let november = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(spent_on(november, day(3), 2.0), Spent::default());
    }
}
