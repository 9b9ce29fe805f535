//! The store's contract, on both backends: each scenario runs on an SQLite file and on a
//! scratch PostgreSQL cluster.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use store::{Cancel, Delivery, DeliveryOutcome, Finish, NewSubmission, State, Store};
use testkit::ScratchPostgres;

const LEASE: Duration = Duration::from_secs(30);
const CAP: u64 = 1_000;

/// A store of its own: an SQLite file in a temp dir, or a fresh PostgreSQL cluster.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(ScratchPostgres),
}

impl Backend {
    fn url(&self) -> String {
        match self {
            Backend::Sqlite(dir) => format!("sqlite:{}", dir.path().join("judgelet.db").display()),
            Backend::Postgres(cluster) => cluster.url(),
        }
    }

    async fn open(&self) -> Store {
        Store::open(&self.url()).await.unwrap()
    }
}

fn sqlite() -> Backend {
    Backend::Sqlite(tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap())
}

fn postgres() -> Backend {
    Backend::Postgres(ScratchPostgres::start().unwrap())
}

/// Each scenario as a test per backend.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite { $( #[tokio::test] async fn $name() { super::$name(super::sqlite()).await } )* }
        mod on_postgres { $( #[tokio::test] async fn $name() { super::$name(super::postgres()).await } )* }
    };
}

on_both!(
    a_submission_goes_from_queued_to_done,
    claims_take_the_oldest_first,
    the_pending_cap_refuses_and_frees,
    cancelling_a_queued_submission_keeps_it_from_running,
    cancelling_a_running_submission_voids_its_claim,
    an_expired_lease_goes_to_another_runner_and_the_result_is_recorded_once,
    callbacks_are_leased_retried_and_settled,
    purge_deletes_only_old_settled_results,
    concurrent_claimers_never_share_a_submission,
);

fn job<'a>(function: &'a str, job: &'a str) -> NewSubmission<'a> {
    NewSubmission {
        api: "function",
        function,
        job,
        meta: None,
        callback_url: None,
    }
}

async fn a_submission_goes_from_queued_to_done(backend: Backend) {
    let store = backend.open().await;
    let accepted = store
        .submit(
            &NewSubmission {
                meta: Some(r#"{"fields": "*"}"#),
                ..job("python", r#"{"source": "print(1)"}"#)
            },
            CAP,
        )
        .await
        .unwrap();
    assert_eq!(accepted.id.len(), 36, "a UUID: {}", accepted.id);
    let queued = store.get(&accepted.id).await.unwrap().unwrap();
    assert_eq!(queued.state, State::Queued);
    assert_eq!(queued.function, "python");
    assert_eq!(queued.meta.as_deref(), Some(r#"{"fields": "*"}"#));
    assert_eq!(queued.submitted_at, accepted.submitted_at);
    assert_eq!(
        (queued.runner, queued.started_at, queued.result),
        (None, None, None)
    );
    assert_eq!(store.stats().await.unwrap().pending, 1);

    let claim = store.claim("host/a", LEASE).await.unwrap().unwrap();
    assert_eq!(claim.id, accepted.id);
    assert_eq!(claim.job, r#"{"source": "print(1)"}"#);
    assert_eq!(claim.attempt, 1);
    assert!(
        store.claim("host/b", LEASE).await.unwrap().is_none(),
        "claimed once"
    );
    let claimed = store.get(&accepted.id).await.unwrap().unwrap();
    assert_eq!(claimed.state, State::Claimed);
    assert_eq!(claimed.runner.as_deref(), Some("host/a"));
    assert!(
        store.renew(&claim, LEASE).await.unwrap(),
        "a claim is renewed"
    );
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.running, stats.oldest_queued_at),
        (1, 0, None)
    );
    store.start(&claim, store::now()).await.unwrap();
    let running = store.get(&accepted.id).await.unwrap().unwrap();
    assert_eq!(running.state, State::Running);
    assert_eq!(claimed.started_at, None, "not started: it waits for a slot");
    assert!(running.started_at.is_some());
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.running, stats.oldest_queued_at),
        (1, 1, None)
    );

    assert!(store.renew(&claim, LEASE).await.unwrap());
    assert!(store
        .finish(&claim, r#"{"status": "ok"}"#, 200, LEASE)
        .await
        .unwrap()
        .recorded());
    let done = store.get(&accepted.id).await.unwrap().unwrap();
    assert_eq!(done.state, State::Done);
    assert_eq!(done.result.as_deref(), Some(r#"{"status": "ok"}"#));
    assert_eq!(done.status, Some(200));
    assert!(done.finished_at.unwrap() >= done.started_at.unwrap());
    assert_eq!(done.attempts, 1);
    assert!(
        !store
            .finish(&claim, "{}", 200, LEASE)
            .await
            .unwrap()
            .recorded(),
        "finished once"
    );
    assert_eq!(store.stats().await.unwrap(), store::Stats::default());
    assert!(store.get("no-such-id").await.unwrap().is_none());
}

async fn claims_take_the_oldest_first(backend: Backend) {
    let store = backend.open().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            store
                .submit(&job("c", &n.to_string()), CAP)
                .await
                .unwrap()
                .id,
        );
    }
    let oldest = store.stats().await.unwrap().oldest_queued_at;
    assert_eq!(
        oldest,
        Some(store.get(&ids[0]).await.unwrap().unwrap().submitted_at)
    );
    for id in &ids {
        assert_eq!(&store.claim("r", LEASE).await.unwrap().unwrap().id, id);
    }
}

async fn the_pending_cap_refuses_and_frees(backend: Backend) {
    let store = backend.open().await;
    let first = store.submit(&job("c", "1"), 2).await.unwrap();
    store.submit(&job("c", "2"), 2).await.unwrap();
    let refused = store.submit(&job("c", "3"), 2).await.unwrap_err();
    assert!(
        matches!(refused, store::Error::Full { cap: 2 }),
        "{refused}"
    );
    // A running submission is still pending; a finished one is not.
    let claim = store.claim("r", LEASE).await.unwrap().unwrap();
    assert_eq!(claim.id, first.id);
    assert!(store.submit(&job("c", "3"), 2).await.is_err());
    store
        .finish(&claim, "{}", 200, LEASE)
        .await
        .unwrap()
        .recorded();
    let third = store.submit(&job("c", "3"), 2).await.unwrap();
    store.cancel(&third.id).await.unwrap();
    store.submit(&job("c", "4"), 2).await.unwrap();
    assert_eq!(store.stats().await.unwrap().pending, 2);
}

async fn cancelling_a_queued_submission_keeps_it_from_running(backend: Backend) {
    let store = backend.open().await;
    let id = store.submit(&job("c", "1"), CAP).await.unwrap().id;
    assert_eq!(
        store.cancel(&id).await.unwrap(),
        Cancel::Cancelled { running_on: None }
    );
    assert_eq!(
        store.cancel(&id).await.unwrap(),
        Cancel::Finished(State::Cancelled)
    );
    assert_eq!(store.cancel("no-such-id").await.unwrap(), Cancel::NotFound);
    assert!(store.claim("r", LEASE).await.unwrap().is_none());
    let cancelled = store.get(&id).await.unwrap().unwrap();
    assert_eq!(cancelled.state, State::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert_eq!(store.stats().await.unwrap().pending, 0);
}

async fn cancelling_a_running_submission_voids_its_claim(backend: Backend) {
    let store = backend.open().await;
    let id = store.submit(&job("c", "1"), CAP).await.unwrap().id;
    let claim = store.claim("host/a", LEASE).await.unwrap().unwrap();
    store.start(&claim, store::now()).await.unwrap();
    assert_eq!(
        store.cancel(&id).await.unwrap(),
        Cancel::Cancelled {
            running_on: Some("host/a".into())
        }
    );
    assert!(
        !store.renew(&claim, LEASE).await.unwrap(),
        "the runner learns of it"
    );
    assert!(!store
        .finish(&claim, "{}", 200, LEASE)
        .await
        .unwrap()
        .recorded());
    let cancelled = store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (cancelled.state, cancelled.result),
        (State::Cancelled, None)
    );
    let done = store.submit(&job("c", "2"), CAP).await.unwrap().id;
    let claim = store.claim("host/a", LEASE).await.unwrap().unwrap();
    store
        .finish(&claim, "{}", 200, LEASE)
        .await
        .unwrap()
        .recorded();
    assert_eq!(
        store.cancel(&done).await.unwrap(),
        Cancel::Finished(State::Done)
    );
    assert_eq!(store.stats().await.unwrap().pending, 0);
}

async fn an_expired_lease_goes_to_another_runner_and_the_result_is_recorded_once(backend: Backend) {
    let store = backend.open().await;
    let id = store.submit(&job("c", "1"), CAP).await.unwrap().id;
    let dead = store
        .claim("host/dead", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(store.requeue_expired().await.unwrap(), 1);
    assert_eq!(store.requeue_expired().await.unwrap(), 0);
    let alive = store.claim("host/alive", LEASE).await.unwrap().unwrap();
    assert_eq!((alive.id.as_str(), alive.attempt), (id.as_str(), 2));
    // The dead replica comes back: its claim counts for nothing.
    assert!(!store.renew(&dead, LEASE).await.unwrap());
    assert!(!store
        .finish(&dead, r#""stale""#, 200, LEASE)
        .await
        .unwrap()
        .recorded());
    assert!(store
        .finish(&alive, r#""fresh""#, 200, LEASE)
        .await
        .unwrap()
        .recorded());
    let done = store.get(&id).await.unwrap().unwrap();
    assert_eq!(done.result.as_deref(), Some(r#""fresh""#));
    assert_eq!(done.runner.as_deref(), Some("host/alive"));
    assert_eq!(done.attempts, 2);
    assert_eq!(store.stats().await.unwrap().pending, 0);
}

/// Finishes the next claim with `result`: the callback delivery it hands back, if any.
async fn finish_next(store: &Store, result: &str, delivery_lease: Duration) -> Option<Delivery> {
    let claim = store.claim("r", LEASE).await.unwrap().unwrap();
    store.start(&claim, store::now()).await.unwrap();
    match store
        .finish(&claim, result, 200, delivery_lease)
        .await
        .unwrap()
    {
        Finish::Recorded { callback } => callback,
        Finish::NotOurs => panic!("the claim was ours"),
    }
}

async fn callbacks_are_leased_retried_and_settled(backend: Backend) {
    let store = backend.open().await;
    let url = "http://203.0.113.7/hook";
    let with_callback = |n| NewSubmission {
        callback_url: Some(url),
        ..job("python", n)
    };
    let id = store.submit(&with_callback("1"), CAP).await.unwrap().id;
    store.submit(&job("python", "none"), CAP).await.unwrap();
    // Finishing hands the first delivery over at once, leased.
    let first = finish_next(&store, r#"{"stdout": "1\n"}"#, LEASE)
        .await
        .unwrap();
    assert!(
        finish_next(&store, "{}", LEASE).await.is_none(),
        "no callback"
    );
    assert_eq!(
        (first.id.as_str(), first.url.as_str(), first.attempt),
        (id.as_str(), url, 1)
    );
    assert_eq!(
        (first.result.as_str(), first.status),
        (r#"{"stdout": "1\n"}"#, 200)
    );
    assert!(first.finished_at.is_some() && first.started_at.is_some());
    assert!(
        store.due_callbacks(LEASE, 10).await.unwrap().is_empty(),
        "leased"
    );
    assert_eq!(store.stats().await.unwrap().callbacks_due, 1);
    // Not purged while its callback is unsettled.
    assert_eq!(store.purge(store::now() + 60_000).await.unwrap(), 1);

    let retry = DeliveryOutcome::Retry {
        at: store::now(),
        error: "connection refused".into(),
    };
    store.delivered(&first, &retry).await.unwrap();
    let again = store.due_callbacks(LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
    // A stale outcome (of the first attempt) changes nothing.
    store
        .delivered(&first, &DeliveryOutcome::Delivered)
        .await
        .unwrap();
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().callback_outcome,
        None
    );
    store
        .delivered(&again[0], &DeliveryOutcome::Delivered)
        .await
        .unwrap();
    let settled = store.get(&id).await.unwrap().unwrap();
    assert_eq!(settled.callback_outcome.as_deref(), Some("delivered"));
    assert_eq!(settled.callback_attempts, 2);
    assert_eq!(store.stats().await.unwrap().callbacks_due, 0);

    // A replica that dies before delivering: the delivery is due again when its lease ends.
    let orphan = store.submit(&with_callback("2"), CAP).await.unwrap().id;
    finish_next(&store, "{}", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let due = store.due_callbacks(LEASE, 10).await.unwrap();
    assert_eq!(
        (due.len(), due[0].id.as_str(), due[0].attempt),
        (1, orphan.as_str(), 2)
    );
    let failed = DeliveryOutcome::Failed {
        error: "HTTP 500 after 5 tries".into(),
    };
    store.delivered(&due[0], &failed).await.unwrap();
    let outcome = store.get(&orphan).await.unwrap().unwrap().callback_outcome;
    assert_eq!(outcome.as_deref(), Some("failed: HTTP 500 after 5 tries"));
    assert_eq!(store.stats().await.unwrap().callbacks_due, 0);
}

async fn purge_deletes_only_old_settled_results(backend: Backend) {
    let store = backend.open().await;
    let done = store.submit(&job("c", "1"), CAP).await.unwrap().id;
    let claim = store.claim("r", LEASE).await.unwrap().unwrap();
    store
        .finish(&claim, "{}", 200, LEASE)
        .await
        .unwrap()
        .recorded();
    let cancelled = store.submit(&job("c", "2"), CAP).await.unwrap().id;
    store.cancel(&cancelled).await.unwrap();
    let queued = store.submit(&job("c", "3"), CAP).await.unwrap().id;
    assert_eq!(
        store.purge(store::now() - 60_000).await.unwrap(),
        0,
        "too recent"
    );
    assert_eq!(store.purge(store::now() + 1).await.unwrap(), 2);
    assert!(store.get(&done).await.unwrap().is_none());
    assert!(store.get(&cancelled).await.unwrap().is_none());
    assert!(store.get(&queued).await.unwrap().is_some());
}

async fn concurrent_claimers_never_share_a_submission(backend: Backend) {
    // Two handles on one database: two replicas on PostgreSQL. An SQLite file serves one
    // process, so there the claimers share one handle.
    let first = Arc::new(backend.open().await);
    let second = match &backend {
        Backend::Postgres(_) => Arc::new(backend.open().await),
        Backend::Sqlite(_) => first.clone(),
    };
    let mut submitted = HashSet::new();
    for n in 0..60 {
        submitted.insert(
            first
                .submit(&job("c", &n.to_string()), CAP)
                .await
                .unwrap()
                .id,
        );
    }
    let mut claimers = Vec::new();
    for n in 0..8 {
        let store = [&first, &second][n % 2].clone();
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(claim) = store.claim(&format!("r{n}"), LEASE).await.unwrap() {
                assert!(store
                    .finish(&claim, "{}", 200, LEASE)
                    .await
                    .unwrap()
                    .recorded());
                mine.push(claim.id);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }
    assert_eq!(claimed.len(), 60, "each claimed once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), submitted);
    assert_eq!(first.stats().await.unwrap().pending, 0);
}

#[tokio::test]
async fn an_sqlite_file_serves_one_process_and_requeues_what_it_left_running() {
    let backend = sqlite();
    let store = backend.open().await;
    let id = store.submit(&job("c", "1"), CAP).await.unwrap().id;
    store.claim("host/1", LEASE).await.unwrap().unwrap();
    let refused = Store::open(&backend.url()).await.err().unwrap();
    assert!(matches!(refused, store::Error::Locked { .. }), "{refused}");
    assert!(refused
        .to_string()
        .contains("use PostgreSQL for several replicas"));
    drop(store);
    // The process that held the claim is gone: its submission is queued again at once.
    let store = backend.open().await;
    assert_eq!(store.get(&id).await.unwrap().unwrap().state, State::Queued);
    let claim = store.claim("host/2", LEASE).await.unwrap().unwrap();
    assert_eq!((claim.id, claim.attempt), (id, 2));
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    // Port 1 on loopback: refused at once.
    let error = Store::open("postgres://judge:s3cret@127.0.0.1:1/judgelet")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("judge:***@127.0.0.1:1/judgelet"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
    let error = Store::open("mysql://root:pw@db/x")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("unsupported database URL") && !error.contains("pw@"),
        "{error}"
    );
}

#[tokio::test]
async fn a_lost_database_is_an_error_not_a_hang() {
    let mut cluster = ScratchPostgres::start().unwrap();
    let store = Store::open(&cluster.url()).await.unwrap();
    store.submit(&job("c", "1"), CAP).await.unwrap();
    cluster.stop();
    let error = store.submit(&job("c", "2"), CAP).await.unwrap_err();
    assert!(matches!(error, store::Error::Database { .. }), "{error}");
    cluster.restart().unwrap();
    // The pool reconnects when the database is back.
    let mut recovered = None;
    for _ in 0..50 {
        if let Ok(accepted) = store.submit(&job("c", "3"), CAP).await {
            recovered = Some(accepted);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered.is_some(),
        "the store recovers once the database is back"
    );
    assert_eq!(store.stats().await.unwrap().pending, 2);
}
