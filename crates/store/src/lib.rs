//! Durable submissions: the queue, its leases, the results and their callbacks, kept in
//! SQLite (one server, the embedded default) or PostgreSQL (several replicas of one site).
//!
//! A submission is accepted when [`Store::submit`] returns: it is committed then. A replica
//! [claims](Store::claim) the oldest queued submission with a lease, [renews](Store::renew)
//! it while the run goes on and [finishes](Store::finish) it with the report; a replica that
//! dies stops renewing, its lease expires and [`Store::requeue_expired`] puts the submission
//! back in the queue for another. Every claim carries its attempt number, and a finish or a
//! renewal only counts for the latest claim, so a result is recorded once even when a slow
//! replica comes back after its lease was taken over.
//!
//! The store knows nothing of HTTP or of what a job is: jobs, metadata and results are JSON
//! text that the server writes and reads.
//!
//! ```no_run
//! # async fn example() -> Result<(), store::Error> {
//! let store = store::Store::open("sqlite:judgelet.db").await?;
//! let accepted = store
//!     .submit(&store::NewSubmission { api: "function", function: "python", job: "{}", meta: None, callback_url: None }, 100_000)
//!     .await?;
//! let claim = store.claim("host/1", std::time::Duration::from_secs(30)).await?.expect("queued");
//! assert_eq!(claim.id, accepted.id);
//! let lease = std::time::Duration::from_secs(60);
//! store.finish(&claim, "{\"status\": \"ok\"}", 200, lease).await?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::AnyPool;
use sqlx::Row;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names no backend this store has.
    #[error("unsupported database URL {url:?}: use sqlite:PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl { url: String },
    /// The database could not be reached, or failed a query. The URL is shown without its
    /// password.
    #[error("database {url}: {source}")]
    Database {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought to this version.
    #[error("database {url}: migration failed: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// Another process serves this SQLite file: SQLite serves one process.
    #[error(
        "{} is in use by another judgelet process (it holds {}); an SQLite store serves one \
         process: use PostgreSQL for several replicas",
        path.display(),
        lock.display()
    )]
    Locked { path: PathBuf, lock: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// As many submissions as the cap allows are queued or running.
    #[error("{cap} submissions are pending already")]
    Full { cap: u64 },
    /// A row holds what this version never writes.
    #[error("submission {id}: unreadable row: {detail}")]
    Corrupt { id: String, detail: String },
}

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

pub fn now() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

fn later(lease: Duration) -> Millis {
    now().saturating_add(lease.as_millis().min(i64::MAX as u128) as Millis)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a submission is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Queued,
    /// A replica holds it, about to run it (it waits there for a slot).
    Claimed,
    Running,
    Done,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Claimed => "claimed",
            State::Running => "running",
            State::Done => "done",
            State::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<State> {
        [
            State::Queued,
            State::Claimed,
            State::Running,
            State::Done,
            State::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// What a front door hands the store.
#[derive(Clone, Copy, Debug)]
pub struct NewSubmission<'a> {
    /// The front door (API) it came through, to render it back the same way.
    pub api: &'a str,
    pub function: &'a str,
    /// The core request, JSON.
    pub job: &'a str,
    /// The front door's own fields, JSON.
    pub meta: Option<&'a str>,
    /// Where to deliver the result; the caller has checked it.
    pub callback_url: Option<&'a str>,
}

/// A committed submission.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub id: String,
    pub submitted_at: Millis,
}

/// A submission as stored.
#[derive(Clone, Debug)]
pub struct Submission {
    pub id: String,
    pub api: String,
    pub function: String,
    pub job: String,
    pub meta: Option<String>,
    pub state: State,
    pub submitted_at: Millis,
    /// When its run began (its latest run's), once it had a slot.
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// The replica that ran it (or runs it, or holds it claimed).
    pub runner: Option<String>,
    /// How many times a replica claimed it (more than once when a replica died running it).
    pub attempts: i64,
    /// The report, when done.
    pub result: Option<String>,
    /// The HTTP status the synchronous call would have answered with.
    pub status: Option<u16>,
    pub callback_url: Option<String>,
    pub callback_attempts: i64,
    /// `delivered`, or why delivery failed for good.
    pub callback_outcome: Option<String>,
}

/// A replica's claim on a submission: the right to run it until the lease expires.
#[derive(Clone, Debug)]
pub struct Claim {
    pub id: String,
    pub api: String,
    pub function: String,
    pub job: String,
    pub meta: Option<String>,
    /// The fencing token: only the latest claim may renew or finish.
    pub attempt: i64,
}

/// What finishing a claim did.
#[derive(Clone, Debug)]
pub enum Finish {
    /// The result is recorded; its callback, if any, is to be delivered now.
    Recorded { callback: Option<Delivery> },
    /// The claim was no longer this replica's (cancelled, or taken over): nothing recorded.
    NotOurs,
}

impl Finish {
    pub fn recorded(&self) -> bool {
        matches!(self, Finish::Recorded { .. })
    }
}

/// What cancelling did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cancel {
    NotFound,
    /// It had finished (or was cancelled) already.
    Finished(State),
    /// It was queued (`running_on: None`), or claimed or running on that replica, which is
    /// to stop it.
    Cancelled {
        running_on: Option<String>,
    },
}

/// A result to deliver to a callback URL: a delivery leased to this replica.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub api: String,
    pub function: String,
    pub meta: Option<String>,
    pub result: String,
    pub status: u16,
    pub url: String,
    /// 1 for the first try.
    pub attempt: i64,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
}

/// How a delivery went.
#[derive(Clone, Debug)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at this time.
    Retry {
        at: Millis,
        error: String,
    },
    /// No more tries.
    Failed {
        error: String,
    },
}

/// The queue at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Queued or running.
    pub pending: u64,
    pub running: u64,
    pub oldest_queued_at: Option<Millis>,
    /// Results waiting for a callback delivery.
    pub callbacks_due: u64,
}

pub struct Store {
    /// Commits that must survive a power loss: a submission accepted, a result recorded.
    pool: AnyPool,
    /// Commits whose loss only means doing some work again (claims, leases, callback
    /// bookkeeping): not waited for on disk. A later durable commit takes them along (one
    /// log, in order), so after a power loss the store is consistent, only behind.
    relaxed: AnyPool,
    backend: Backend,
    /// The URL without its password, for messages.
    url: String,
    /// SQLite only: held while this process serves the file.
    _lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// Columns of [`Submission`], in [`submission`]'s order.
const SUBMISSION_COLUMNS: &str = "id, api, function, job, meta, state, submitted_at, started_at, \
     finished_at, runner, attempts, result, status, callback_url, callback_attempts, callback_outcome";

/// The two claims (runs and callback deliveries), with the backend's row locking: PostgreSQL
/// skips rows another replica is claiming; SQLite has one writer at a time and no need.
macro_rules! claim_sql {
    ($lock:literal) => {
        [
            concat!(
                "UPDATE submissions SET state = 'claimed', runner = $1, lease_until = $2, \
                 attempts = attempts + 1 \
                 WHERE seq = (SELECT seq FROM submissions WHERE state = 'queued' \
                 ORDER BY seq LIMIT 1",
                $lock,
                ") RETURNING id, api, function, job, meta, attempts"
            ),
            concat!(
                "UPDATE submissions SET callback_due = $1, callback_attempts = callback_attempts + 1 \
                 WHERE seq IN (SELECT seq FROM submissions WHERE callback_due <= $2 \
                 ORDER BY callback_due LIMIT $3",
                $lock,
                ") RETURNING id, api, function, meta, result, status, callback_url, \
                 callback_attempts, started_at, finished_at"
            ),
        ]
    };
}
const CLAIMS_SQLITE: [&str; 2] = claim_sql!("");
const CLAIMS_POSTGRES: [&str; 2] = claim_sql!(" FOR UPDATE SKIP LOCKED");

impl Store {
    /// Opens (creating when missing) the store at `url`, `sqlite:PATH` or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB`, and brings its schema up to date.
    ///
    /// An SQLite file serves one process (a lock beside it says so), which then owns every
    /// submission in it: those left running by a previous process go back to the queue.
    pub async fn open(url: &str) -> Result<Store, Error> {
        sqlx::any::install_default_drivers();
        let (backend, connect_url, lock, shown) = if let Some(path) = sqlite_path(url) {
            let lock = lock_sqlite(path)?;
            warn_if_volatile(path);
            // Percent-encoded: the driver decodes the path, so `?` and `#` may be in it.
            let encoded = path
                .to_string_lossy()
                .replace('%', "%25")
                .replace('?', "%3F")
                .replace('#', "%23");
            let connect = format!("sqlite://{encoded}?mode=rwc");
            (
                Backend::Sqlite,
                connect,
                Some(lock),
                format!("sqlite:{}", path.display()),
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned(), None, redact(url))
        } else {
            return Err(Error::UnsupportedUrl { url: redact(url) });
        };
        let failed = |source| Error::Database {
            url: shown.clone(),
            source,
        };
        let pool = connect(&connect_url, backend, Durability::Durable)
            .await
            .map_err(failed)?;
        if backend == Backend::Sqlite {
            // Once, while the pool has its one first connection: changing the journal mode
            // takes a lock that a busy timeout does not wait for. The mode stays with the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(failed)?;
        }
        let relaxed = connect(&connect_url, backend, Durability::Relaxed)
            .await
            .map_err(failed)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| Error::Migrate {
                url: shown.clone(),
                source,
            })?;
        let store = Store {
            pool,
            relaxed,
            backend,
            url: shown,
            _lock: lock,
        };
        if backend == Backend::Sqlite {
            let requeued = store.requeue(None).await?;
            if requeued > 0 {
                tracing::warn!(
                    requeued,
                    "submissions left running by a previous process are queued again"
                );
            }
        }
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn failed(&self, source: sqlx::Error) -> Error {
        Error::Database {
            url: self.url.clone(),
            source,
        }
    }

    fn claims(&self) -> [&'static str; 2] {
        match self.backend {
            Backend::Sqlite => CLAIMS_SQLITE,
            Backend::Postgres => CLAIMS_POSTGRES,
        }
    }

    /// Queues a submission, unless `cap` submissions are pending already. It is committed
    /// when this returns.
    pub async fn submit(&self, new: &NewSubmission<'_>, cap: u64) -> Result<Accepted, Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let submitted_at = now();
        let mut tx = self.pool.begin().await.map_err(|e| self.failed(e))?;
        // The first statement writes, so an SQLite transaction takes the write lock at once
        // (waiting its busy timeout) instead of failing to upgrade a read later.
        let row = sqlx::query(
            "UPDATE queue SET pending = pending + 1, next_seq = next_seq + 1 \
             WHERE singleton = 1 AND pending < $1 RETURNING next_seq",
        )
        .bind(cap.min(i64::MAX as u64) as i64)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        let Some(row) = row else {
            return Err(Error::Full { cap });
        };
        let seq: i64 = row.try_get("next_seq").map_err(|e| self.failed(e))?;
        sqlx::query(
            "INSERT INTO submissions (seq, id, api, function, job, meta, state, submitted_at, \
             callback_url) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8)",
        )
        .bind(seq - 1)
        .bind(&id)
        .bind(new.api)
        .bind(new.function)
        .bind(new.job)
        .bind(new.meta)
        .bind(submitted_at)
        .bind(new.callback_url)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(Accepted { id, submitted_at })
    }

    pub async fn get(&self, id: &str) -> Result<Option<Submission>, Error> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.relaxed)
            .await
            .map_err(|e| self.failed(e))?;
        row.map(|row| self.submission(&row)).transpose()
    }

    fn submission(&self, row: &AnyRow) -> Result<Submission, Error> {
        let id: String = row.try_get("id").map_err(|e| self.failed(e))?;
        let read = || -> Result<Submission, sqlx::Error> {
            let state: String = row.try_get("state")?;
            let status: Option<i64> = row.try_get("status")?;
            Ok(Submission {
                id: id.clone(),
                api: row.try_get("api")?,
                function: row.try_get("function")?,
                job: row.try_get("job")?,
                meta: row.try_get("meta")?,
                state: State::parse(&state).ok_or_else(|| {
                    sqlx::Error::Decode(format!("unknown state {state:?}").into())
                })?,
                submitted_at: row.try_get("submitted_at")?,
                started_at: row.try_get("started_at")?,
                finished_at: row.try_get("finished_at")?,
                runner: row.try_get("runner")?,
                attempts: row.try_get("attempts")?,
                result: row.try_get("result")?,
                status: status.and_then(|s| u16::try_from(s).ok()),
                callback_url: row.try_get("callback_url")?,
                callback_attempts: row.try_get("callback_attempts")?,
                callback_outcome: row.try_get("callback_outcome")?,
            })
        };
        read().map_err(|e| Error::Corrupt {
            id: id.clone(),
            detail: e.to_string(),
        })
    }

    /// Claims the oldest queued submission for `runner` until `lease` from now.
    pub async fn claim(&self, runner: &str, lease: Duration) -> Result<Option<Claim>, Error> {
        let row = sqlx::query(self.claims()[0])
            .bind(runner)
            .bind(later(lease))
            .fetch_optional(&self.relaxed)
            .await
            .map_err(|e| self.failed(e))?;
        let Some(row) = row else { return Ok(None) };
        let read = || -> Result<Claim, sqlx::Error> {
            Ok(Claim {
                id: row.try_get("id")?,
                api: row.try_get("api")?,
                function: row.try_get("function")?,
                job: row.try_get("job")?,
                meta: row.try_get("meta")?,
                attempt: row.try_get("attempts")?,
            })
        };
        read().map(Some).map_err(|e| self.failed(e))
    }

    /// Extends a claim's lease. `false`: the claim is no longer this replica's (the
    /// submission was cancelled, or its lease expired and another replica claimed it), and
    /// its run should stop.
    pub async fn renew(&self, claim: &Claim, lease: Duration) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE submissions SET lease_until = $1 \
             WHERE id = $2 AND attempts = $3 AND state IN ('claimed', 'running')",
        )
        .bind(later(lease))
        .bind(&claim.id)
        .bind(claim.attempt)
        .execute(&self.relaxed)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a claim's result. A submission with a callback has its first delivery
    /// leased to this replica for `delivery_lease` and returned, to deliver at once (should
    /// this replica fail to, it is due again when the lease ends).
    pub async fn finish(
        &self,
        claim: &Claim,
        result: &str,
        status: u16,
        delivery_lease: Duration,
    ) -> Result<Finish, Error> {
        let mut tx = self.pool.begin().await.map_err(|e| self.failed(e))?;
        let row = sqlx::query(
            "UPDATE submissions SET state = 'done', result = $1, status = $2, finished_at = $3, \
             lease_until = NULL, \
             callback_due = CASE WHEN callback_url IS NULL THEN NULL ELSE $4 END, \
             callback_attempts = CASE WHEN callback_url IS NULL THEN 0 ELSE 1 END \
             WHERE id = $5 AND attempts = $6 AND state IN ('claimed', 'running') \
             RETURNING id, api, function, meta, result, status, callback_url, \
             callback_attempts, started_at, finished_at",
        )
        .bind(result)
        .bind(i64::from(status))
        .bind(now())
        .bind(later(delivery_lease))
        .bind(&claim.id)
        .bind(claim.attempt)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        let Some(row) = row else {
            return Ok(Finish::NotOurs);
        };
        let callback = match row.try_get::<Option<String>, _>("callback_url") {
            Ok(Some(_)) => Some(delivery(&row).map_err(|e| self.failed(e))?),
            _ => None,
        };
        self.unpend(&mut tx).await?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(Finish::Recorded { callback })
    }

    async fn unpend(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(), Error> {
        sqlx::query("UPDATE queue SET pending = pending - 1 WHERE singleton = 1")
            .execute(&mut **tx)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// Marks a claim's run as begun at `at` (when it had its slot): `started_at` is the run's
    /// start, however late this write lands.
    pub async fn start(&self, claim: &Claim, at: Millis) -> Result<(), Error> {
        sqlx::query(
            "UPDATE submissions SET state = 'running', started_at = $1 \
             WHERE id = $2 AND attempts = $3 AND state = 'claimed'",
        )
        .bind(at)
        .bind(&claim.id)
        .bind(claim.attempt)
        .execute(&self.relaxed)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// Gives a claim back to the queue unrun (this replica is stopping).
    pub async fn release(&self, claim: &Claim) -> Result<(), Error> {
        sqlx::query(
            "UPDATE submissions SET state = 'queued', runner = NULL, lease_until = NULL \
             WHERE id = $1 AND attempts = $2 AND state IN ('claimed', 'running')",
        )
        .bind(&claim.id)
        .bind(claim.attempt)
        .execute(&self.relaxed)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// Puts submissions whose lease expired (their replica died) back in the queue, ahead
    /// of later arrivals. Returns how many.
    pub async fn requeue_expired(&self) -> Result<u64, Error> {
        self.requeue(Some(now())).await
    }

    /// Running submissions whose lease ends before `before` (all of them with `None`) go
    /// back to the queue.
    async fn requeue(&self, before: Option<Millis>) -> Result<u64, Error> {
        let done = sqlx::query(
            "UPDATE submissions SET state = 'queued', runner = NULL, lease_until = NULL \
             WHERE state IN ('claimed', 'running') AND lease_until < $1",
        )
        .bind(before.unwrap_or(i64::MAX))
        .execute(&self.relaxed)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected())
    }

    /// Cancels a queued or running submission. A running one is to be killed by the
    /// replica running it, which learns of it from this answer (when it is this one) or
    /// when its next renewal fails.
    pub async fn cancel(&self, id: &str) -> Result<Cancel, Error> {
        let mut tx = self.pool.begin().await.map_err(|e| self.failed(e))?;
        // The runner of a queued submission is always NULL: only a claim sets it.
        let row = sqlx::query(
            "UPDATE submissions SET state = 'cancelled', finished_at = $1, lease_until = NULL \
             WHERE id = $2 AND state IN ('queued', 'claimed', 'running') RETURNING runner",
        )
        .bind(now())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        match row {
            Some(row) => {
                let running_on: Option<String> =
                    row.try_get("runner").map_err(|e| self.failed(e))?;
                self.unpend(&mut tx).await?;
                tx.commit().await.map_err(|e| self.failed(e))?;
                Ok(Cancel::Cancelled { running_on })
            }
            None => {
                drop(tx);
                Ok(match self.get(id).await? {
                    Some(submission) => Cancel::Finished(submission.state),
                    None => Cancel::NotFound,
                })
            }
        }
    }

    /// Leases up to `limit` due callback deliveries to this replica for `lease`: should it
    /// die delivering, they are due again then.
    pub async fn due_callbacks(
        &self,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>, Error> {
        let rows = sqlx::query(self.claims()[1])
            .bind(later(lease))
            .bind(now())
            .bind(limit.min(10_000) as i64)
            .fetch_all(&self.relaxed)
            .await
            .map_err(|e| self.failed(e))?;
        rows.iter()
            .map(delivery)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.failed(e))
    }

    /// Records how a delivery went (ignored when the delivery was leased again since).
    pub async fn delivered(
        &self,
        delivery: &Delivery,
        outcome: &DeliveryOutcome,
    ) -> Result<(), Error> {
        let (due, text) = match outcome {
            DeliveryOutcome::Delivered => (None, Some("delivered".to_owned())),
            DeliveryOutcome::Retry { at, .. } => (Some(*at), None),
            DeliveryOutcome::Failed { error } => (None, Some(format!("failed: {error}"))),
        };
        sqlx::query(
            "UPDATE submissions SET callback_due = $1, callback_outcome = $2 \
             WHERE id = $3 AND callback_attempts = $4",
        )
        .bind(due)
        .bind(text)
        .bind(&delivery.id)
        .bind(delivery.attempt)
        .execute(&self.relaxed)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// Stores a submission that has already run (a client that waited for it): done, with
    /// its result, by `runner`. Returns it as stored.
    pub async fn record(
        &self,
        new: &NewSubmission<'_>,
        runner: &str,
        started_at: Millis,
        result: &str,
        status: u16,
    ) -> Result<Submission, Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let finished_at = now();
        // Not waited for on disk: the client that waited has the result already; a power
        // loss would only forget it for a later read.
        let mut tx = self.relaxed.begin().await.map_err(|e| self.failed(e))?;
        // Numbered like every arrival; not pending, so the cap does not apply.
        let row = sqlx::query(
            "UPDATE queue SET next_seq = next_seq + 1 WHERE singleton = 1 RETURNING next_seq",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        let seq: i64 = row.try_get("next_seq").map_err(|e| self.failed(e))?;
        sqlx::query(
            "INSERT INTO submissions (seq, id, api, function, job, meta, state, submitted_at, \
             started_at, finished_at, runner, attempts, result, status, callback_url) \
             VALUES ($1, $2, $3, $4, $5, $6, 'done', $7, $7, $8, $9, 1, $10, $11, $12)",
        )
        .bind(seq - 1)
        .bind(&id)
        .bind(new.api)
        .bind(new.function)
        .bind(new.job)
        .bind(new.meta)
        .bind(started_at)
        .bind(finished_at)
        .bind(runner)
        .bind(result)
        .bind(i64::from(status))
        .bind(new.callback_url)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.failed(e))?;
        tx.commit().await.map_err(|e| self.failed(e))?;
        Ok(Submission {
            id,
            api: new.api.to_owned(),
            function: new.function.to_owned(),
            job: new.job.to_owned(),
            meta: new.meta.map(str::to_owned),
            state: State::Done,
            submitted_at: started_at,
            started_at: Some(started_at),
            finished_at: Some(finished_at),
            runner: Some(runner.to_owned()),
            attempts: 1,
            result: Some(result.to_owned()),
            status: Some(status),
            callback_url: new.callback_url.map(str::to_owned),
            callback_attempts: 0,
            callback_outcome: None,
        })
    }

    /// A page of the submissions that came through `api`, newest first: `page` from 1, and
    /// how many there are in all.
    pub async fn list(
        &self,
        api: &str,
        page: u64,
        per_page: u64,
    ) -> Result<(Vec<Submission>, u64), Error> {
        let sql = format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE api = $1 \
             ORDER BY seq DESC LIMIT $2 OFFSET $3"
        );
        let per_page = per_page.clamp(1, 1000) as i64;
        let offset = (page.max(1) as i64 - 1).saturating_mul(per_page);
        let rows = sqlx::query(&sql)
            .bind(api)
            .bind(per_page)
            .bind(offset)
            .fetch_all(&self.relaxed)
            .await
            .map_err(|e| self.failed(e))?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS total FROM submissions WHERE api = $1")
            .bind(api)
            .fetch_one(&self.relaxed)
            .await
            .and_then(|row| row.try_get("total"))
            .map_err(|e| self.failed(e))?;
        let submissions = rows
            .iter()
            .map(|row| self.submission(row))
            .collect::<Result<_, _>>()?;
        Ok((submissions, total.max(0) as u64))
    }

    /// Deletes a finished submission (done or cancelled), its source and result with it.
    /// `Ok(None)`: no such submission; `Err(State)` inside: it is not finished.
    pub async fn delete(&self, id: &str) -> Result<Option<Result<Submission, State>>, Error> {
        let Some(submission) = self.get(id).await? else {
            return Ok(None);
        };
        if !matches!(submission.state, State::Done | State::Cancelled) {
            return Ok(Some(Err(submission.state)));
        }
        sqlx::query("DELETE FROM submissions WHERE id = $1 AND state IN ('done', 'cancelled')")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(Some(Ok(submission)))
    }

    /// Stores a file under `id` (replacing one of that id) for runs that name it.
    pub async fn put_file(&self, id: &str, contents: &[u8]) -> Result<(), Error> {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(contents);
        sqlx::query(
            "INSERT INTO files (id, contents, stored_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET contents = excluded.contents, \
             stored_at = excluded.stored_at",
        )
        .bind(id)
        .bind(text)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    /// A stored file's contents.
    pub async fn file(&self, id: &str) -> Result<Option<Vec<u8>>, Error> {
        use base64::Engine;
        let row = sqlx::query("SELECT contents FROM files WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.relaxed)
            .await
            .map_err(|e| self.failed(e))?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get("contents").map_err(|e| self.failed(e))?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                id: format!("file {id}"),
                detail: e.to_string(),
            })
    }

    /// Whether a file of `id` is stored.
    pub async fn has_file(&self, id: &str) -> Result<bool, Error> {
        let row = sqlx::query("SELECT 1 AS found FROM files WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.relaxed)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(row.is_some())
    }

    /// Deletes finished submissions (and their sources) that finished before `before`, and
    /// whose callback is settled, and files stored before it. Returns how many submissions.
    pub async fn purge(&self, before: Millis) -> Result<u64, Error> {
        let done = sqlx::query(
            "DELETE FROM submissions WHERE state IN ('done', 'cancelled') \
             AND finished_at < $1 AND callback_due IS NULL",
        )
        .bind(before)
        .execute(&self.relaxed)
        .await
        .map_err(|e| self.failed(e))?;
        // Stored files last as long (from when they were stored).
        sqlx::query("DELETE FROM files WHERE stored_at < $1")
            .bind(before)
            .execute(&self.relaxed)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected())
    }

    pub async fn stats(&self) -> Result<Stats, Error> {
        let row = sqlx::query(
            "SELECT (SELECT pending FROM queue WHERE singleton = 1) AS pending, \
             (SELECT COUNT(*) FROM submissions WHERE state = 'running') AS running, \
             (SELECT submitted_at FROM submissions WHERE state = 'queued' \
              ORDER BY seq LIMIT 1) AS oldest, \
             (SELECT COUNT(*) FROM submissions WHERE callback_due IS NOT NULL) AS callbacks",
        )
        .fetch_one(&self.relaxed)
        .await
        .map_err(|e| self.failed(e))?;
        let read = || -> Result<Stats, sqlx::Error> {
            let count = |name: &str| -> Result<u64, sqlx::Error> {
                Ok(row.try_get::<i64, _>(name)?.max(0) as u64)
            };
            Ok(Stats {
                pending: count("pending")?,
                running: count("running")?,
                oldest_queued_at: row.try_get("oldest")?,
                callbacks_due: count("callbacks")?,
            })
        };
        read().map_err(|e| self.failed(e))
    }
}

/// A row of the columns the claims of deliveries return, as a delivery.
fn delivery(row: &AnyRow) -> Result<Delivery, sqlx::Error> {
    let status: i64 = row.try_get("status")?;
    let result: Option<String> = row.try_get("result")?;
    let url: Option<String> = row.try_get("callback_url")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        api: row.try_get("api")?,
        function: row.try_get("function")?,
        meta: row.try_get("meta")?,
        result: result.unwrap_or_default(),
        status: u16::try_from(status).unwrap_or(500),
        url: url.unwrap_or_default(),
        attempt: row.try_get("callback_attempts")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// Whether a pool's commits wait for the disk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    Durable,
    Relaxed,
}

/// A pool whose connections commit with `durability`. SQLite: `synchronous = FULL` makes a
/// commit wait for its fsync (0.45 ms per commit on this machine's disk, against 0.01 ms);
/// `NORMAL` in WAL mode leaves it to the next checkpoint or durable commit. PostgreSQL:
/// `synchronous_commit`, the same trade per connection.
async fn connect(
    url: &str,
    backend: Backend,
    durability: Durability,
) -> Result<AnyPool, sqlx::Error> {
    let setting = match (backend, durability) {
        (Backend::Sqlite, Durability::Durable) => Some("PRAGMA synchronous = FULL"),
        (Backend::Sqlite, Durability::Relaxed) => Some("PRAGMA synchronous = NORMAL"),
        (Backend::Postgres, Durability::Durable) => None,
        (Backend::Postgres, Durability::Relaxed) => Some("SET synchronous_commit = off"),
    };
    AnyPoolOptions::new()
        .max_connections(match backend {
            Backend::Sqlite => 3,
            Backend::Postgres => 6,
        })
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |connection, _| {
            Box::pin(async move {
                if let Some(setting) = setting {
                    sqlx::Executor::execute(connection, setting).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// The path of an `sqlite:PATH` (or `sqlite://PATH`) URL.
fn sqlite_path(url: &str) -> Option<&Path> {
    let path = url.strip_prefix("sqlite:")?;
    let path = path.strip_prefix("//").unwrap_or(path);
    Some(Path::new(path.split('?').next().unwrap_or(path)))
}

/// Takes the lock that makes one process the owner of an SQLite store.
fn lock_sqlite(path: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, Error> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|source| Error::Io {
            path: lock.clone(),
            source,
        })?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        Error::Locked {
            path: path.to_owned(),
            lock,
        }
    })
}

/// A store on a tmpfs does not survive a reboot: say so.
fn warn_if_volatile(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(fs) = nix::sys::statfs::statfs(dir) {
        if fs.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC {
            tracing::warn!(
                path = %path.display(),
                "the store is on a tmpfs: submissions and results will not survive a reboot"
            );
        }
    }
}

/// A database URL without its password.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not a URL, so no password field to find: keep what precedes an `@` out of sight.
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("…@{host}"),
            None => url.to_owned(),
        },
    }
}
