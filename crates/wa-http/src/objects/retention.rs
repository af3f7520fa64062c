//! Retention: each account's objects older than its `retention_days` (0: kept forever) are
//! deleted by a periodic sweep. The media directory goes by file modification time; S3 by
//! listing `users/<id>/` and deleting what was last modified before the cutoff (object_store
//! has no lifecycle API, and a bucket's lifecycle rules belong to its owner).

use std::time::{Duration, SystemTime};

use wa_store::Account;

use crate::error::ApiError;
use crate::objects::key::user_prefix;
use crate::state::AppState;

/// How often [`spawn_retention`]'s sweep runs by default.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Deletes `account`'s objects older than its retention at `now`; returns how many.
pub(crate) async fn sweep_account(
    state: &AppState,
    account: &Account,
    now: SystemTime,
) -> Result<usize, ApiError> {
    let days = account.s3.retention_days;
    if days == 0 {
        return Ok(0);
    }
    let cutoff = now
        .checked_sub(DAY * days)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let backend = state.objects.backend(account)?;
    backend
        .delete_older(&user_prefix(&account.id.to_string()), Some(cutoff))
        .await
}

/// One sweep over every account at `now` (failures are logged and the sweep goes on); returns
/// how many objects it deleted.
pub async fn sweep_all(state: &AppState, now: SystemTime) -> usize {
    let accounts = match state.gateway.all_accounts().await {
        Ok(accounts) => accounts,
        Err(e) => {
            tracing::warn!(error = %e, "media retention: listing accounts failed");
            return 0;
        }
    };
    let mut deleted = 0;
    for account in &accounts {
        match sweep_account(state, account, now).await {
            Ok(n) => deleted += n,
            Err(e) => tracing::warn!(account = %account.id, error = %e, "media retention failed"),
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "media retention: old objects deleted");
    }
    deleted
}

/// Runs [`sweep_all`] now and every `every` after, until the task is aborted.
pub fn spawn_retention(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            sweep_all(&state, SystemTime::now()).await;
        }
    })
}

/// Deletes every object of `account` (`DELETE /admin/users/{id}/full`, CONTRACTS §A.1): in
/// its bucket when S3 is enabled and in the media directory; returns how many.
pub(crate) async fn delete_all(state: &AppState, account: &Account) -> Result<usize, ApiError> {
    let prefix = user_prefix(&account.id.to_string());
    let mut n = 0;
    if state.objects.media_dir().is_some() {
        n += state.objects.local()?.delete_older(&prefix, None).await?;
    }
    if account.s3.enabled {
        let bucket = state.objects.s3(&account.id, &account.s3)?;
        n += bucket
            .delete_older(&prefix, None)
            .await
            .map_err(ApiError::ObjectStore)?;
    }
    state.objects.forget(&account.id);
    Ok(n)
}
