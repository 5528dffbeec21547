//! Fault injection against real `haul work` processes, real PostgreSQL and
//! real LocalStack: crashes (SIGKILL), deploys (SIGTERM), S3 outages, lost
//! Postgres connections, cancellation mid-way and a zombie worker that wakes
//! up after another one finished its export. Each must end as a delay, never
//! as a wrong, missing or duplicated file.
//!
//! The API runs in the test process (it only reads and queues); exports run
//! in worker processes spawned from the `haul` binary. Run with
//! `--nocapture` to see what each fault did (timings, resumed parts).

use haul_core::Settings;
use haul_core::Status;
use haul_core::units::Span;
use haul_db::MetaDb;
use haul_db::meta::exports::ExportResult;
use haul_db::meta::{LeaseLost, PartCheckpoint};
use haul_encode::ResumableSha256;
use haul_s3::MultipartUpload;
use haul_tests::env::sha256_hex;
use haul_tests::process::HaulProcess;
use haul_tests::{TestEnv, TestOptions, s3};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use uuid::Uuid;

/// About 57 MB of CSV: ten or so 5 MiB parts, enough to stop a worker after
/// the first part and again after several.
const BIG: &str = "CREATE TABLE big (id bigint PRIMARY KEY, payload text, n numeric);
    INSERT INTO big SELECT i, repeat(md5(i::text), 4), i * 1.5 FROM generate_series(1, 420000) i;";

/// 5,000 rows, about 200 KB of CSV: one part.
const SMALL: &str = "CREATE TABLE big (id bigint PRIMARY KEY, payload text, n numeric);
    INSERT INTO big SELECT i, md5(i::text), i FROM generate_series(1, 5000) i;";

const BIG_COPY: &str =
    "COPY (SELECT id, payload, n FROM big ORDER BY id) TO STDOUT (FORMAT csv, HEADER)";

/// The tests below each move tens of megabytes through one LocalStack on a
/// small machine; two at a time keeps their timing meaningful.
static HEAVY: Semaphore = Semaphore::const_new(2);

/// How long a test waits for a checkpoint or a status it expects.
const WAIT: Duration = Duration::from_secs(180);

fn options() -> TestOptions {
    TestOptions {
        workers: false,
        ..TestOptions::default().dataset("big", "public.big", &["id"])
    }
}

/// Settings for worker processes: one part in flight, so checkpoints land
/// one by one; orphans are recovered after 5 s.
fn worker_settings(env: &TestEnv, tweak: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = env.settings.clone();
    s.worker.concurrency = 1;
    s.worker.parts_in_flight = 1;
    s.worker.heartbeat = Span::secs(1);
    s.worker.orphan_after = Span::secs(5);
    s.worker.max_attempts = 5;
    tweak(&mut s);
    s.validate().expect("worker settings are valid");
    s
}

struct Fixture {
    env: TestEnv,
    meta: MetaDb,
    key: String,
}

impl Fixture {
    async fn start(opts: TestOptions) -> Fixture {
        Self::start_with(BIG, opts).await
    }

    async fn start_with(setup_sql: &str, opts: TestOptions) -> Fixture {
        let env = TestEnv::start(setup_sql, opts).await;
        let meta = MetaDb::connect(&env.db_url, 2).await.unwrap();
        let key = env.api_key("acme").await;
        Fixture { env, meta, key }
    }

    async fn export(&self) -> (String, Uuid) {
        let id = self
            .env
            .create_export(&self.key, &json!({"dataset": "big"}))
            .await;
        let uuid = id.parse().unwrap();
        (id, uuid)
    }

    async fn row(&self, id: Uuid) -> haul_db::meta::ExportRow {
        self.meta.export(id).await.unwrap().expect("the export row")
    }

    async fn parts(&self, id: Uuid) -> i64 {
        self.meta.parts(id).await.unwrap().len() as i64
    }

    /// Waits until at least `n` parts are checkpointed; fails if the export
    /// ends first (the fault would then come too late to mean anything).
    async fn wait_parts(&self, id: Uuid, n: i64) -> i64 {
        let started = Instant::now();
        loop {
            let done = self.parts(id).await;
            if done >= n {
                return done;
            }
            let row = self.row(id).await;
            assert!(
                matches!(row.status.as_str(), "queued" | "running"),
                "export {id} ended ({}) before {n} parts were checkpointed",
                row.status
            );
            assert!(
                started.elapsed() < WAIT,
                "export {id} never reached {n} parts"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The export succeeded with exactly `expected`: downloaded bytes,
    /// `result.sha256`, one object, no multipart upload left open.
    async fn assert_exact(&self, id: &str, export: &Value, expected: &[u8]) {
        assert_eq!(export["status"], "succeeded", "{export}");
        let body = self.env.download_bytes(&self.key, id).await;
        assert_eq!(body.len(), expected.len(), "downloaded size");
        assert!(body == expected, "downloaded bytes differ from COPY's");
        assert_eq!(export["result"]["sha256"], sha256_hex(expected));
        assert_eq!(export["result"]["bytes"], expected.len());
        assert_eq!(s3::object_keys(&self.env.storage).await.len(), 1);
        assert!(
            s3::open_uploads(&self.env.storage).await.is_empty(),
            "a multipart upload was left open"
        );
    }

    async fn stop(self) {
        self.env.stop().await;
    }
}

/// The `export attempt started` line of a worker's log.
fn attempt_started(w: &HaulProcess) -> Value {
    w.events("export attempt started")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{} started no attempt; log:\n{}", w.name, w.log_text()))
}

/// Part numbers this worker checkpointed.
fn checkpointed_parts(w: &HaulProcess) -> Vec<i64> {
    w.events("checkpointed part")
        .iter()
        .filter_map(|l| l["part"].as_i64())
        .collect()
}

#[tokio::test]
async fn sigkill_at_several_points_resumes_the_same_upload() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(options()).await;
    let settings = worker_settings(&f.env, |_| {});
    let expected = f.env.copy(BIG_COPY).await;
    let (id, uuid) = f.export().await;
    let started = Instant::now();

    let mut first = HaulProcess::worker("kill-1", &settings).await;
    f.wait_parts(uuid, 1).await;
    first.kill().await;
    let after_first = f.parts(uuid).await;
    let upload = f.row(uuid).await.upload_id.expect("an open upload");
    eprintln!(
        "SIGKILL #1 after {after_first} parts at {:?}",
        started.elapsed()
    );

    let mut second = HaulProcess::worker("kill-2", &settings).await;
    f.wait_parts(uuid, after_first + 3).await;
    second.kill().await;
    let after_second = f.parts(uuid).await;
    eprintln!(
        "SIGKILL #2 after {after_second} parts at {:?}",
        started.elapsed()
    );
    assert_eq!(
        f.row(uuid).await.upload_id.as_deref(),
        Some(upload.as_str())
    );

    let third = HaulProcess::worker("kill-3", &settings).await;
    let export = f.env.wait_until_done(&f.key, &id).await;
    eprintln!(
        "finished by the third worker at {:?}: {} parts, attempt {}",
        started.elapsed(),
        f.parts(uuid).await,
        f.row(uuid).await.attempt
    );
    f.assert_exact(&id, &export, &expected).await;

    // Each later worker continued the same upload right after the last
    // checkpoint, without re-reading or re-uploading earlier parts.
    assert!(!first.events("started multipart upload").is_empty());
    for (w, resumed) in [(&second, after_first), (&third, after_second)] {
        let line = attempt_started(w);
        assert_eq!(line["upload_id"], upload.as_str(), "{line}");
        assert_eq!(line["resumed_parts"], resumed, "{line}");
        assert!(line["resumed_rows"].as_i64() > Some(0), "{line}");
        assert!(w.events("started multipart upload").is_empty());
        let parts = checkpointed_parts(w);
        assert!(!parts.is_empty(), "{} checkpointed nothing", w.name);
        assert_eq!(parts.iter().min(), Some(&(resumed + 1)), "{}", w.name);
    }
    assert_eq!(f.row(uuid).await.attempt, 3);
    drop(third);
    f.stop().await;
}

#[tokio::test]
async fn sigterm_hands_the_export_back_without_waiting_for_the_orphan_timeout() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(options()).await;
    // A dead worker's job would only be recovered after 10 minutes.
    let orphan_after = Duration::from_secs(600);
    let grace = Duration::from_secs(15);
    let settings = worker_settings(&f.env, |s| {
        s.worker.orphan_after = Span(orphan_after);
        s.worker.shutdown_grace = Span(grace);
    });
    let expected = f.env.copy(BIG_COPY).await;
    let (id, uuid) = f.export().await;

    let mut first = HaulProcess::worker("term-1", &settings).await;
    f.wait_parts(uuid, 1).await;
    let signalled = Instant::now();
    first.stop_within("TERM", grace).await;
    first
        .wait_for_log(
            "shutting down; handing the export back at its last checkpoint",
            Duration::from_secs(1),
        )
        .await;
    let handed_back = f.parts(uuid).await;
    // Handed back, not abandoned: released, and the attempt not counted.
    let row = f.row(uuid).await;
    assert_eq!(
        (row.status.as_str(), row.lease, row.attempt),
        ("running", None, 0)
    );

    let second = HaulProcess::worker("term-2", &settings).await;
    let export = f.env.wait_until_done(&f.key, &id).await;
    let finished_after = signalled.elapsed();
    eprintln!("handed back at {handed_back} parts; finished {finished_after:?} after SIGTERM");
    assert!(
        finished_after < orphan_after / 5,
        "the next worker took {finished_after:?}: it waited for orphan recovery"
    );
    f.assert_exact(&id, &export, &expected).await;
    let line = attempt_started(&second);
    assert_eq!(line["resumed_parts"], handed_back, "{line}");
    assert_eq!(line["attempt"], 1, "{line}");
    f.stop().await;
}

#[tokio::test]
async fn s3_outage_mid_export_is_retried_until_s3_is_back() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(TestOptions {
        s3_via_proxy: true,
        ..options()
    })
    .await;
    let settings = worker_settings(&f.env, |s| {
        s.worker.max_attempts = 10;
        s.worker.retry_backoff = Span(Duration::from_millis(500));
    });
    let expected = f.env.copy(BIG_COPY).await;
    let (id, uuid) = f.export().await;
    let proxy = f.env.proxy.clone().unwrap();

    let worker = HaulProcess::worker("s3-outage", &settings).await;
    let before = f.wait_parts(uuid, 1).await;
    proxy.cut();
    let outage = Duration::from_secs(8);
    tokio::time::sleep(outage).await;
    proxy.restore();
    let export = f.env.wait_until_done(&f.key, &id).await;
    let faults = worker
        .events("transient fault; will resume from the last checkpoint")
        .len();
    eprintln!(
        "S3 cut for {outage:?} after {before} parts: {faults} transient faults, attempt {}",
        f.row(uuid).await.attempt
    );
    assert!(
        faults >= 1,
        "the outage was never felt:\n{}",
        worker.log_text()
    );
    f.assert_exact(&id, &export, &expected).await;
    f.stop().await;
}

/// Ends every other session on the test's database: the worker's source
/// connection, its pool for Haul's tables, the queue's, the API's.
async fn terminate_backends(env: &TestEnv) -> i64 {
    let row = env
        .source
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn terminated_postgres_connections_are_retried() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(options()).await;
    let settings = worker_settings(&f.env, |s| s.worker.max_attempts = 10);
    let expected = f.env.copy(BIG_COPY).await;
    let (id, uuid) = f.export().await;

    let worker = HaulProcess::worker("pg-terminate", &settings).await;
    let mut at = f.wait_parts(uuid, 1).await;
    for round in 1..=2 {
        let killed = terminate_backends(&f.env).await;
        eprintln!("pg_terminate_backend #{round}: {killed} sessions ended after {at} parts");
        assert!(killed >= 2, "the worker's sessions were not found");
        if round == 1 {
            at = f.wait_parts(uuid, at + 2).await;
        }
    }
    let export = f.env.wait_until_done(&f.key, &id).await;
    eprintln!(
        "finished after {} attempts; {} transient faults logged",
        f.row(uuid).await.attempt,
        worker
            .events("transient fault; will resume from the last checkpoint")
            .len()
    );
    f.assert_exact(&id, &export, &expected).await;
    f.stop().await;
}

#[tokio::test]
async fn cancel_mid_export_stops_within_seconds_and_leaves_nothing() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(options()).await;
    let settings = worker_settings(&f.env, |_| {});
    let (id, uuid) = f.export().await;

    let worker = HaulProcess::worker("cancel", &settings).await;
    f.wait_parts(uuid, 1).await;
    let asked = Instant::now();
    let res = f
        .env
        .http
        .delete(f.env.url(&format!("/v1/exports/{id}")))
        .bearer_auth(&f.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let export = f.env.wait_until_done(&f.key, &id).await;
    let took = asked.elapsed();
    eprintln!("cancelled {took:?} after DELETE");
    assert_eq!(export["status"], "cancelled", "{export}");
    assert!(took < Duration::from_secs(15), "cancel took {took:?}");
    assert!(export["result"].is_null());
    assert!(s3::object_keys(&f.env.storage).await.is_empty());
    assert!(s3::open_uploads(&f.env.storage).await.is_empty());
    assert!(!worker.events("export cancelled").is_empty());
    // Repeating it is harmless.
    let again = f
        .env
        .http
        .delete(f.env.url(&format!("/v1/exports/{id}")))
        .bearer_auth(&f.key)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(f.row(uuid).await.status, "cancelled");
    f.stop().await;
}

#[tokio::test]
async fn a_queued_export_cancelled_before_any_worker_never_starts() {
    let f = Fixture::start(options()).await;
    let (id, uuid) = f.export().await;
    let res = f
        .env
        .http
        .delete(f.env.url(&format!("/v1/exports/{id}")))
        .bearer_auth(&f.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let worker = HaulProcess::worker("queued-cancel", &worker_settings(&f.env, |_| {})).await;
    // The worker polls every second; give it a few rounds to (not) start it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let row = f.row(uuid).await;
    assert_eq!(row.status, "cancelled");
    assert_eq!(row.attempt, 0, "a cancelled export was claimed");
    assert!(row.started_at.is_none() && row.upload_id.is_none());
    assert!(worker.events("export attempt started").is_empty());
    assert!(s3::open_uploads(&f.env.storage).await.is_empty());
    f.stop().await;
}

#[tokio::test]
async fn a_zombie_worker_woken_after_another_finished_changes_nothing() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(options()).await;
    let settings = worker_settings(&f.env, |_| {});
    let expected = f.env.copy(BIG_COPY).await;
    let (id, uuid) = f.export().await;

    let zombie = HaulProcess::worker("zombie", &settings).await;
    let frozen_at = f.wait_parts(uuid, 1).await;
    zombie.signal("STOP").await;
    let frozen = Instant::now();
    let lease = f.row(uuid).await.lease;

    let rescuer = HaulProcess::worker("rescuer", &settings).await;
    let export = f.env.wait_until_done(&f.key, &id).await;
    eprintln!(
        "zombie frozen at {frozen_at} parts; the rescuer finished {:?} later",
        frozen.elapsed()
    );
    f.assert_exact(&id, &export, &expected).await;
    assert_ne!(attempt_started(&rescuer)["upload_id"], Value::Null);

    zombie.signal("CONT").await;
    let woke = Instant::now();
    let stopped = loop {
        let lost = zombie
            .logs()
            .into_iter()
            .find(|l| {
                let m = l["message"].as_str().unwrap_or("");
                m.starts_with("another attempt owns this export")
            })
            .map(|l| l["message"].clone());
        if let Some(m) = lost {
            break m;
        }
        assert!(
            woke.elapsed() < WAIT,
            "the zombie never noticed it lost its lease:\n{}",
            zombie.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "zombie woke and stopped after {:?}: {stopped}",
        woke.elapsed()
    );
    // Give it a moment to do anything else it would.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let row = f.row(uuid).await;
    assert_eq!(row.status, "succeeded");
    assert_ne!(row.lease, lease);
    assert!(zombie.events("export succeeded").is_empty());
    assert!(zombie.events("completed multipart upload").is_empty());
    let (_, after) = f.env.get_json(&f.key, &format!("/v1/exports/{id}")).await;
    f.assert_exact(&id, &after, &expected).await;
    assert_eq!(after["result"], export["result"]);
    f.stop().await;
}

#[tokio::test]
async fn two_workers_share_exports_and_never_run_one_twice() {
    let _turn = HEAVY.acquire().await.unwrap();
    const SMALL: &str = "CREATE TABLE big (id bigint PRIMARY KEY, payload text, n numeric);
        INSERT INTO big SELECT i, repeat(md5(i::text), 4), i * 1.5 FROM generate_series(1, 60000) i;";
    let env = TestEnv::start(SMALL, options()).await;
    let key = env.api_key("acme").await;
    let meta = MetaDb::connect(&env.db_url, 2).await.unwrap();
    let settings = worker_settings(&env, |_| {});
    let expected = env.copy(BIG_COPY).await;
    let workers = [
        HaulProcess::worker("share-1", &settings).await,
        HaulProcess::worker("share-2", &settings).await,
    ];
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(env.create_export(&key, &json!({"dataset": "big"})).await);
    }
    for id in &ids {
        let export = env.wait_until_done(&key, id).await;
        assert_eq!(export["status"], "succeeded", "{export}");
        assert_eq!(env.download_bytes(&key, id).await, expected);
        assert_eq!(export["result"]["sha256"], sha256_hex(&expected));
        // Claimed once: no second attempt ever ran beside the first.
        let row = meta.export(id.parse().unwrap()).await.unwrap().unwrap();
        assert_eq!(
            row.attempt, 1,
            "export {id} was claimed {} times",
            row.attempt
        );
    }
    let ran_by = |w: &HaulProcess| -> Vec<String> {
        w.events("export attempt started")
            .iter()
            .filter_map(|l| l["span"]["export_id"].as_str().map(String::from))
            .collect()
    };
    let (one, two) = (ran_by(&workers[0]), ran_by(&workers[1]));
    eprintln!("worker 1 ran {}, worker 2 ran {}", one.len(), two.len());
    for id in &ids {
        let runs = one.iter().chain(&two).filter(|r| *r == id).count();
        assert_eq!(runs, 1, "export {id} ran {runs} times");
    }
    assert!(
        !one.is_empty() && !two.is_empty(),
        "one worker ran everything"
    );
    assert!(s3::open_uploads(&env.storage).await.is_empty());
    env.stop().await;
}

fn assert_lease_lost(result: anyhow::Result<()>, what: &str) {
    let err = result.expect_err(what);
    assert!(err.downcast_ref::<LeaseLost>().is_some(), "{what}: {err:#}");
}

/// The fence itself, without processes: an attempt whose lease was taken
/// over can no longer checkpoint, lock, complete or end the export, and the
/// current holder's completion keeps every new claim waiting until success
/// is recorded.
#[tokio::test]
async fn a_stale_lease_can_neither_checkpoint_nor_complete_nor_end() {
    let f = Fixture::start_with(
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text, n numeric);",
        options(),
    )
    .await;
    let (_, id) = f.export().await;
    let meta = &f.meta;
    let part = |n: i32| PartCheckpoint {
        part_number: n,
        etag: format!("\"etag-{n}\""),
        cursor: Some(vec![n.to_string()]),
        rows: n as i64,
        bytes: n as i64,
        sha: ResumableSha256::new(),
        is_final: false,
    };

    let stale = meta.claim_export(id).await.unwrap().unwrap();
    let old = stale.lease.unwrap();
    meta.checkpoint(id, old, &part(1)).await.unwrap();
    let current = meta.claim_export(id).await.unwrap().unwrap();
    let new = current.lease.unwrap();
    assert_ne!(old, new);
    assert_eq!(current.attempt, 2);
    let result = ExportResult {
        object_key: "acme/big.csv",
        high_water: None,
        rows: 1,
        bytes: 1,
        sha256: "00",
        content_type: "text/csv",
        filename: "big.csv",
        // Any time will do here.
        expires_at: current.created_at,
    };

    assert_lease_lost(meta.checkpoint(id, old, &part(2)).await, "stale checkpoint");
    assert_lease_lost(meta.succeed_export(id, old, &result).await, "stale success");
    assert_lease_lost(
        meta.end_export(id, old, Status::Failed, Some(("x", "stale")), false)
            .await,
        "stale ending",
    );
    assert_lease_lost(
        meta.lock_export(id, old).await.map(|_| ()),
        "stale completion lock",
    );
    assert_eq!(meta.parts(id).await.unwrap().len(), 1);
    assert_eq!(f.row(id).await.status, "running");

    // The holder locks the row to complete; a claim meanwhile waits, then
    // finds the export finished.
    let locked = meta.lock_export(id, new).await.unwrap();
    let claim = tokio::spawn({
        let meta = meta.clone();
        async move { meta.claim_export(id).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!claim.is_finished(), "a claim went past the locked row");
    locked.succeed(&result).await.unwrap();
    assert!(claim.await.unwrap().unwrap().is_none());

    let row = f.row(id).await;
    assert_eq!(
        (row.status.as_str(), row.attempt, row.lease),
        ("succeeded", 2, None)
    );
    assert_lease_lost(
        meta.succeed_export(id, old, &result).await,
        "late stale success",
    );
    assert_lease_lost(
        meta.succeed_export(id, new, &result).await,
        "second success",
    );
    f.stop().await;
}

/// Two exports whose earlier attempt checkpointed its last part, completed
/// the upload and died before recording success. The next attempt's
/// CompleteMultipartUpload answers NoSuchUpload: it keeps the object when
/// its size is the checkpointed one, and fails the export (leaving nothing at
/// the key) when someone else's object of another size sits there.
#[tokio::test]
async fn an_upload_completed_by_a_dead_attempt_is_kept_only_if_its_size_matches() {
    let f = Fixture::start_with(SMALL, options()).await;
    let body = f.env.copy(BIG_COPY).await;
    let (kept_id, kept) = f.export().await;
    let (lost_id, lost) = f.export().await;
    stage_completed_upload(&f, kept, &body).await;
    let lost_key = stage_completed_upload(&f, lost, &body).await;
    f.env
        .storage
        .client
        .put_object()
        .bucket(&f.env.storage.bucket)
        .key(&lost_key)
        .body(b"someone else's object".to_vec().into())
        .send()
        .await
        .unwrap();

    let worker = HaulProcess::worker("completed", &worker_settings(&f.env, |_| {})).await;
    let export = f.env.wait_until_done(&f.key, &kept_id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    assert_eq!(f.env.download_bytes(&f.key, &kept_id).await, body);
    assert_eq!(export["result"]["sha256"], sha256_hex(&body));
    assert_eq!(export["result"]["bytes"], body.len());
    assert_eq!(
        worker
            .events("upload was already completed by an earlier attempt; keeping its object")
            .len(),
        1,
        "{}",
        worker.log_text()
    );

    let export = f.env.wait_until_done(&f.key, &lost_id).await;
    assert_eq!(export["status"], "failed", "{export}");
    assert_eq!(export["error"]["code"], "upload-lost", "{export}");
    let keys = s3::object_keys(&f.env.storage).await;
    assert!(!keys.contains(&lost_key), "{keys:?}");
    assert_eq!(keys.len(), 1);
    assert!(s3::open_uploads(&f.env.storage).await.is_empty());
    f.stop().await;
}

/// A file that fits in one part goes up in one PutObject, with no multipart
/// upload. An attempt that put such a file and died before recording its
/// success leaves an object no row points to: when the export then fails,
/// the failing attempt removes it all the same.
#[tokio::test]
async fn a_one_part_file_is_one_put_and_a_failed_export_leaves_none_behind() {
    let f = Fixture::start_with(SMALL, options()).await;
    let body = f.env.copy(BIG_COPY).await;
    let (put_id, _) = f.export().await;
    let (failing_id, failing) = f.export().await;
    let storage = &f.env.storage;
    let row = f.row(failing).await;
    let stray_key = storage.object_key(&row.tenant, &failing_id, &row.spec.0.filename);
    storage
        .put(&stray_key, "text/csv", bytes::Bytes::copy_from_slice(&body))
        .await
        .unwrap();
    // Five attempts died: the next claim is past worker.max_attempts.
    for _ in 0..5 {
        f.meta.claim_export(failing).await.unwrap().unwrap();
    }

    let worker = HaulProcess::worker("one-part", &worker_settings(&f.env, |_| {})).await;
    let export = f.env.wait_until_done(&f.key, &put_id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    assert_eq!(f.env.download_bytes(&f.key, &put_id).await, body);
    assert_eq!(export["result"]["sha256"], sha256_hex(&body));
    assert_eq!(export["progress"]["rows_estimate"], 5000, "{export}");
    let etag = haul_tests::golden::object_etag(&f.env, "acme", &export).await;
    assert!(!etag.contains('-'), "a multipart ETag: {etag}");

    let failed = f.env.wait_until_done(&f.key, &failing_id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "attempts-exhausted", "{failed}");
    let keys = s3::object_keys(storage).await;
    assert!(!keys.contains(&stray_key), "{keys:?}");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        worker.events("started multipart upload").is_empty(),
        "{}",
        worker.log_text()
    );
    assert_eq!(
        worker.events("put the whole object").len(),
        1,
        "{}",
        worker.log_text()
    );
    assert!(s3::open_uploads(storage).await.is_empty());
    f.stop().await;
}

/// Plays an attempt that uploaded `body` as its only part, checkpointed it
/// as final, completed the upload and died. Returns the object key.
async fn stage_completed_upload(f: &Fixture, id: Uuid, body: &[u8]) -> String {
    let row = f.row(id).await;
    let storage = &f.env.storage;
    let key = storage.object_key(&row.tenant, &id.to_string(), &row.spec.0.filename);
    let upload = MultipartUpload::create(&storage.client, &storage.bucket, &key, "text/csv")
        .await
        .unwrap();
    let part = upload
        .upload_part(1, bytes::Bytes::copy_from_slice(body))
        .await
        .unwrap();
    let claimed = f.meta.claim_export(id).await.unwrap().unwrap();
    let lease = claimed.lease.unwrap();
    let last_key = vec!["5000".to_string()];
    f.meta
        .record_upload(id, lease, &key, &upload.upload_id, Some(&last_key), None)
        .await
        .unwrap();
    let mut sha = ResumableSha256::new();
    sha.update(body);
    let checkpoint = PartCheckpoint {
        part_number: 1,
        etag: part.etag.clone(),
        cursor: Some(last_key),
        rows: 5000,
        bytes: body.len() as i64,
        sha,
        is_final: true,
    };
    f.meta.checkpoint(id, lease, &checkpoint).await.unwrap();
    upload.complete(&[part]).await.unwrap();
    key
}

/// Options for the in-process workers of the permanent-fault tests.
fn in_process() -> TestOptions {
    TestOptions {
        workers: true,
        ..options()
    }
    .with(|s| s.worker.parts_in_flight = 1)
}

/// Changes the source under a running export; it must fail at once (first
/// attempt, no retries) with `code`, leaving no object and no open upload.
async fn permanent_fault_mid_export(f: &Fixture, sql: &str, code: &str) {
    let (id, uuid) = f.export().await;
    f.wait_parts(uuid, 1).await;
    f.env.source.batch_execute(sql).await.unwrap();
    let export = f.env.wait_until_done(&f.key, &id).await;
    eprintln!("{sql}: {}", export["error"]);
    assert_eq!(export["status"], "failed", "{export}");
    assert_eq!(export["error"]["code"], code, "{export}");
    assert!(
        export["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SQLSTATE")
    );
    assert_eq!(
        f.row(uuid).await.attempt,
        1,
        "a permanent fault was retried"
    );
    assert!(s3::object_keys(&f.env.storage).await.is_empty());
    assert!(s3::open_uploads(&f.env.storage).await.is_empty());
}

#[tokio::test]
async fn a_dropped_table_fails_the_export_at_once() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(in_process()).await;
    permanent_fault_mid_export(&f, "DROP TABLE big", "dataset-unavailable").await;
    f.stop().await;
}

#[tokio::test]
async fn a_dropped_column_fails_the_export_at_once() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(in_process()).await;
    permanent_fault_mid_export(&f, "ALTER TABLE big DROP COLUMN n", "column-unavailable").await;
    f.stop().await;
}

#[tokio::test]
async fn a_revoked_permission_fails_the_export_at_once() {
    let _turn = HEAVY.acquire().await.unwrap();
    // The worker reads the source as a role of its own.
    let role = format!("haul_reader_{}", &Uuid::new_v4().simple().to_string()[..12]);
    let setup = format!("{BIG} CREATE ROLE {role} LOGIN; GRANT SELECT ON big TO {role};");
    let reader = role.clone();
    let f = Fixture::start_with(
        &setup,
        in_process().with(move |s| {
            s.worker.parts_in_flight = 1;
            s.source.url = Some(
                s.database
                    .url
                    .replacen("postgres@", &format!("{reader}@"), 1),
            );
        }),
    )
    .await;
    permanent_fault_mid_export(
        &f,
        &format!("REVOKE SELECT ON big FROM {role}"),
        "permission-denied",
    )
    .await;
    f.stop().await;
    let admin = haul_tests::pg::connect(&haul_tests::pg::admin_url()).await;
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn sigint_on_haul_all_hands_back_and_exits_cleanly() {
    let _turn = HEAVY.acquire().await.unwrap();
    let f = Fixture::start(options()).await;
    let grace = Duration::from_secs(15);
    let addr = haul_tests::process::free_local_addr();
    let settings = worker_settings(&f.env, |s| {
        s.worker.orphan_after = Span::secs(600);
        s.worker.shutdown_grace = Span(grace);
        s.server.bind = addr.to_string();
        s.server.public_url = format!("http://{addr}");
    });
    let expected = f.env.copy(BIG_COPY).await;

    let mut all = HaulProcess::spawn("all", "all", &settings).await;
    all.wait_for_log("API listening", WAIT).await;
    all.wait_for_log("export worker started", WAIT).await;
    // The export is created through this process's own API.
    let res = f
        .env
        .http
        .post(format!("http://{addr}/v1/exports"))
        .bearer_auth(&f.key)
        .json(&json!({"dataset": "big"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uuid: Uuid = id.parse().unwrap();
    f.wait_parts(uuid, 1).await;

    let signalled = Instant::now();
    all.stop_within("INT", grace).await;
    for message in [
        "SIGINT received; shutting down",
        "shutting down; handing the export back at its last checkpoint",
        "API stopped",
        "export worker stopped",
    ] {
        all.wait_for_log(message, Duration::from_secs(1)).await;
    }

    let _next = HaulProcess::worker("after-all", &settings).await;
    let export = f.env.wait_until_done(&f.key, &id).await;
    assert!(signalled.elapsed() < Duration::from_secs(120));
    f.assert_exact(&id, &export, &expected).await;
    f.stop().await;
}
