//! Outcome figures read from the data itself (both backends, portable SQL): how many
//! conversations finished without a person (containment), escalations by reason, time from a
//! case's creation to a person first claiming it (or resolving it unclaimed) by priority, SLA
//! breaches by priority, and conversations each script finished (bookings, refills,
//! follow-ups). Percentiles are computed here, not in SQL (SQLite has none).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use sqlx::Row;

use super::{SqlStore, StoreResult};

/// Median and 90th percentile (nearest rank) of the waits of one priority, in ms.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Waits {
    pub count: u64,
    pub median_ms: i64,
    pub p90_ms: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Outcomes {
    /// Finished with no escalation: no person was needed.
    pub contained: u64,
    /// Conversations that reached a person's queue (once or more).
    pub escalated: u64,
    /// Still open, never escalated.
    pub active: u64,
    /// contained / (contained + escalated); 0 when neither.
    pub containment: f64,
    /// Escalations by reason kind (red_flag, asked_for_person, low_confidence, ...).
    pub escalations_by_reason: BTreeMap<String, u64>,
    pub time_to_person: BTreeMap<String, Waits>,
    pub sla_breaches: BTreeMap<String, u64>,
    /// Finished conversations by script (appointment, refill, discharge_followup).
    pub completed_by_script: BTreeMap<String, u64>,
}

#[async_trait]
pub trait OutcomeStore: Send + Sync {
    async fn figures(&self) -> StoreResult<Outcomes>;
}

/// The nearest-rank `p` quantile of sorted values.
pub fn nearest_rank(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The `kind` of a stored reason (`{"kind":"red_flag","detail":"chest_pain"}`); a reason
/// stored otherwise counts under "other".
fn reason_kind(stored: &str) -> String {
    serde_json::from_str::<serde_json::Value>(stored)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "other".into())
}

impl SqlStore {
    async fn counts(&self, sql: &'static str) -> StoreResult<Vec<(String, u64)>> {
        let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((r.try_get::<String, _>("k")?, r.try_get::<i64, _>("n")?.max(0) as u64))).collect()
    }

    async fn waits(&self) -> StoreResult<BTreeMap<String, Waits>> {
        let rows = sqlx::query(
            "SELECT priority, COALESCE(claimed_at, resolved_at) - created_at AS wait FROM escalations \
             WHERE COALESCE(claimed_at, resolved_at) IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        let mut by: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for r in &rows {
            by.entry(r.try_get("priority")?).or_default().push(r.try_get::<i64, _>("wait")?.max(0));
        }
        Ok(by
            .into_iter()
            .map(|(p, mut v)| {
                v.sort_unstable();
                let w = Waits { count: v.len() as u64, median_ms: nearest_rank(&v, 0.5), p90_ms: nearest_rank(&v, 0.9) };
                (p, w)
            })
            .collect())
    }
}

#[async_trait]
impl OutcomeStore for SqlStore {
    async fn figures(&self) -> StoreResult<Outcomes> {
        let unescalated = self
            .counts("SELECT status AS k, COUNT(*) AS n FROM conversations WHERE id NOT IN (SELECT conversation_id FROM escalations) GROUP BY status")
            .await?;
        let count_of = |status: &str| unescalated.iter().filter(|(k, _)| k == status).map(|(_, n)| n).sum::<u64>();
        let escalated = self.counts("SELECT 'all' AS k, COUNT(DISTINCT conversation_id) AS n FROM escalations").await?;
        let escalated = escalated.first().map(|(_, n)| *n).unwrap_or(0);
        let contained = count_of("finished");
        let mut by_reason = BTreeMap::new();
        for (reason, n) in self.counts("SELECT reason AS k, COUNT(*) AS n FROM escalations GROUP BY reason").await? {
            *by_reason.entry(reason_kind(&reason)).or_insert(0) += n;
        }
        let total = contained + escalated;
        Ok(Outcomes {
            contained,
            escalated,
            active: count_of("active"),
            containment: if total == 0 { 0.0 } else { contained as f64 / total as f64 },
            escalations_by_reason: by_reason,
            time_to_person: self.waits().await?,
            sla_breaches: self
                .counts("SELECT priority AS k, COUNT(*) AS n FROM escalations WHERE breach_fired = 1 GROUP BY priority")
                .await?
                .into_iter()
                .collect(),
            completed_by_script: self
                .counts(
                    "SELECT script_id AS k, COUNT(*) AS n FROM conversations \
                     WHERE status = 'finished' AND script_id IS NOT NULL GROUP BY script_id",
                )
                .await?
                .into_iter()
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_picks_a_value_that_was_seen() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!((nearest_rank(&v, 0.5), nearest_rank(&v, 0.9)), (50, 90));
        assert_eq!((nearest_rank(&[7], 0.5), nearest_rank(&[7], 0.9)), (7, 7));
        assert_eq!(nearest_rank(&[], 0.5), 0);
        assert_eq!(reason_kind(r#"{"kind":"red_flag","detail":"chest_pain"}"#), "red_flag");
        assert_eq!(reason_kind("garbage"), "other");
    }
}
