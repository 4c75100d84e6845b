//! The job queue's speed (issue 12), measured through the library as a server runs it: the migrations, the
//! services, the bus and the `Worker`. Three figures, each repeated `--runs` times:
//!
//! - `drain`: 20,000 queued jobs whose handler does nothing, drained by one worker; jobs per second.
//! - `latency`: one job every 5 ms (200 jobs/s) to a waiting worker; how long from enqueue to the handler's start.
//! - `events`: two instances on one PostgreSQL (two pools, two buses, two `LISTEN` connections); the worker runs on
//!   one, a `jobUpdated` stream per job follows on the other; how long from a change to its receipt.
//!
//! Usage: `DATABASE_URL=… cargo run --release --example jobs -- drain|latency|events [--help]`. Every run starts
//! from an empty jobs table, so give it a database of its own (`createdb alx_bench_jobs`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alx_backend::{
    accounts::{Caller, Role},
    app,
    bus::{Bus, BusEvent, Channel},
    clock,
    config::Settings,
    db::{self, StatementCounter},
    jobs::{
        Done, Failure, Handlers, Job, JobHandler, JobKind, JobRun, JobsService, NewJob, Priority, Worker,
        WorkerSettings,
    },
    services::Services,
};
use chrono::Utc;
use clap::{Parser, Subcommand};
use futures_util::{StreamExt, future::BoxFuture};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter,
};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

// The server's allocator (`src/main.rs`), so that the figures are the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    figure: Figure,
    /// How often the figure is taken.
    #[arg(long, default_value_t = 3, global = true)]
    runs: usize,
    /// Connections in each instance's pool.
    #[arg(long, default_value_t = 16, global = true)]
    pool: u32,
}

#[derive(Subcommand)]
enum Figure {
    /// Enqueue `--jobs` jobs (1,000 per statement), then time one worker draining them.
    Drain {
        #[arg(long, default_value_t = 20_000)]
        jobs: usize,
        #[arg(long, default_value_t = 500)]
        concurrency: usize,
    },
    /// Enqueue one job at a time at `--rate` per second for `--seconds` (after one second of warm-up) to a worker
    /// that waits for them.
    Latency {
        #[arg(long, default_value_t = 200)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Enqueue on a second instance, which runs no worker: no job is handed over, each is claimed after its
        /// notification, as when a process without a worker (or with busy slots) enqueues.
        #[arg(long)]
        elsewhere: bool,
    },
    /// As `latency`, with the app's own PUSH_NOTIFICATION handler (progress 0, 50, completed) on one instance and a
    /// `jobUpdated` stream per job on the other.
    Events {
        #[arg(long, default_value_t = 200)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
    },
}

/// One process's worth of the app: its pool, its bus (its own `LISTEN` connection on PostgreSQL), its services.
struct Instance {
    db: DatabaseConnection,
    statements: StatementCounter,
    services: Services,
}

async fn instance(settings: &Settings, pool: u32, shutdown: &CancellationToken) -> anyhow::Result<Instance> {
    let (db, statements) = db::connect(&settings.database_url, pool).await?;
    let bus = Bus::start(&db, &settings.database_url, shutdown.clone()).await?;
    let services = app::build_services(settings, db.clone(), clock::system_clock(), bus).await?;
    Ok(Instance {
        db,
        statements,
        services,
    })
}

fn worker_settings(concurrency: usize) -> WorkerSettings {
    WorkerSettings {
        concurrency,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_secs(1),
        time_limit: Duration::from_secs(30),
        retention: Duration::from_secs(7 * 24 * 3600),
        shutdown_grace: Duration::from_secs(5),
    }
}

/// A handler that does nothing, and optionally notes when each job (by the `seq` in its payload) started.
#[derive(Clone, Default)]
struct Noop {
    started: Option<Arc<Mutex<Vec<Option<Instant>>>>>,
}

impl JobHandler for Noop {
    fn run<'a>(&'a self, job: &'a Job, _run: &'a JobRun) -> BoxFuture<'a, Result<Done, Failure>> {
        Box::pin(async move {
            if let Some(started) = &self.started {
                let at = Instant::now();
                let seq = job.payload.as_ref().and_then(|payload| payload["seq"].as_u64());
                if let Some(seq) = seq {
                    lock(started)[seq as usize] = Some(at);
                }
            }
            Ok(Done::Completed(None))
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn noop_handlers(handler: Noop) -> Handlers {
    let mut handlers = Handlers::default();
    handlers.register(JobKind::PushNotification, handler);
    handlers
}

fn new_job(seq: usize) -> NewJob {
    NewJob {
        kind: JobKind::PushNotification,
        payload: json!({ "phoneNumber": "+4915112345678", "message": "Your seat is ready", "seq": seq }),
        owner_id: None,
        priority: Priority::parse("priority", None).unwrap_or_else(|_| unreachable!("0 is a valid priority")),
        run_at: Utc::now(),
        max_attempts: 3,
    }
}

/// An empty jobs table, so every run starts alike; on PostgreSQL a checkpoint too, so that none starts mid-run.
async fn reset(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_unprepared("TRUNCATE jobs RESTART IDENTITY").await?;
        db.execute_unprepared("CHECKPOINT").await?;
    } else {
        db.execute_unprepared("DELETE FROM jobs").await?;
    }
    Ok(())
}

async fn count_in(db: &DatabaseConnection, state: &str) -> anyhow::Result<u64> {
    Ok(entity::jobs::Entity::find()
        .filter(entity::jobs::Column::State.eq(state))
        .count(db)
        .await?)
}

/// CPU seconds of this process and of this database's PostgreSQL backends, and PostgreSQL's commits and WAL flushes
/// (the whole server's), around a measurement: what a figure cost, which stays comparable when other work on the
/// machine moves the figure itself.
struct Meter {
    ours: f64,
    postgres: Option<PostgresCounters>,
}

struct PostgresCounters {
    processes: Vec<(u32, f64)>,
    database: DatabaseCounters,
}

#[derive(FromQueryResult)]
struct DatabaseCounters {
    commits: i64,
    wal_syncs: i64,
    wal_bytes: f64,
}

/// Clock ticks per second of `/proc/*/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command (which may hold spaces) start at its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// The backends serving this database (the pools' connections, the listeners, autovacuum at work): other
/// databases' work and the server's shared processes (WAL writer, checkpointer) are left out.
async fn database_backends(db: &DatabaseConnection) -> anyhow::Result<Vec<u32>> {
    let statement = sea_orm::Statement::from_string(
        DatabaseBackend::Postgres,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
    );
    let rows = db.query_all_raw(statement).await?;
    Ok(rows
        .iter()
        .filter_map(|row| row.try_get::<i32>("", "pid").ok())
        .filter_map(|pid| u32::try_from(pid).ok())
        .collect())
}

/// Every PostgreSQL process on this machine with its CPU seconds so far.
fn postgres_processes() -> Vec<(u32, f64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "postgres").then_some(())?;
            Some((pid, cpu_seconds(&pid.to_string())?))
        })
        .collect()
}

async fn database_counters(db: &DatabaseConnection) -> anyhow::Result<DatabaseCounters> {
    let statement = sea_orm::Statement::from_string(
        DatabaseBackend::Postgres,
        "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits, \
         wal_sync AS wal_syncs, CAST(wal_bytes AS DOUBLE PRECISION) AS wal_bytes FROM pg_stat_wal",
    );
    DatabaseCounters::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("pg_stat_wal is empty"))
}

impl Meter {
    async fn start(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let postgres = if db.get_database_backend() == DatabaseBackend::Postgres {
            Some(PostgresCounters {
                processes: postgres_processes(),
                database: database_counters(db).await?,
            })
        } else {
            None
        };
        Ok(Self {
            ours: cpu_seconds("self").unwrap_or_default(),
            postgres,
        })
    }

    /// What happened since `start`, per job. PostgreSQL publishes its counters about a second after the
    /// transactions that moved them, so this waits that long first.
    async fn per_job(self, db: &DatabaseConnection, jobs: usize) -> anyhow::Result<String> {
        let ours = cpu_seconds("self").unwrap_or_default() - self.ours;
        let per_job = |value: f64| value / jobs as f64;
        let mut line = format!("CPU per job: ours {:.1} µs", per_job(ours) * 1e6);
        if let Some(before) = self.postgres {
            let ours_in_postgres = database_backends(db).await?;
            let postgres: f64 = postgres_processes()
                .into_iter()
                .filter(|(pid, _)| ours_in_postgres.contains(pid))
                .map(|(pid, now)| {
                    let earlier = before.processes.iter().find(|(old, _)| *old == pid);
                    now - earlier.map_or(0.0, |(_, cpu)| *cpu)
                })
                .sum();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let after = database_counters(db).await?;
            line.push_str(&format!(
                ", PostgreSQL {:.1} µs; commits per job {:.3}, WAL flushes per job {:.4}, WAL bytes per job {:.0}",
                per_job(postgres) * 1e6,
                per_job((after.commits - before.database.commits) as f64),
                per_job((after.wal_syncs - before.database.wal_syncs) as f64),
                per_job(after.wal_bytes - before.database.wal_bytes)
            ));
        }
        Ok(line)
    }
}

/// The round trip of a one-row update in a table of its own, `samples` times: the smallest durable commit, so the
/// floor under any enqueue-to-run latency at this moment on this disk.
async fn durable_commits(db: &DatabaseConnection, samples: usize) -> anyhow::Result<Vec<f64>> {
    db.execute_unprepared("CREATE TABLE IF NOT EXISTS bench_commit_probe (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
        .await?;
    db.execute_unprepared("INSERT INTO bench_commit_probe VALUES (1, 0) ON CONFLICT DO NOTHING")
        .await?;
    let mut millis = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        db.execute_unprepared("UPDATE bench_commit_probe SET n = n + 1 WHERE id = 1")
            .await?;
        millis.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(millis)
}

async fn drain(settings: &Settings, cli: &Cli, jobs: usize, concurrency: usize) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let app = instance(settings, cli.pool, &shutdown).await?;
    println!(
        "drain: {jobs} jobs, worker concurrency {concurrency}, pool {}",
        cli.pool
    );
    for run in 1..=cli.runs {
        reset(&app.db).await?;
        let enqueue_started = Instant::now();
        for first in (0..jobs).step_by(1000) {
            let batch = (first..(first + 1000).min(jobs)).map(new_job).collect();
            app.services
                .jobs
                .enqueue(batch)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
        }
        let enqueue_took = enqueue_started.elapsed();
        let mut news = app.services.jobs.bus().subscribe();
        let stop = CancellationToken::new();
        let worker = Worker::new(
            app.services.jobs.clone(),
            noop_handlers(Noop::default()),
            worker_settings(concurrency),
        );
        let meter = Meter::start(&app.db).await?;
        let statements_before = app.statements.get();
        let started = Instant::now();
        let running = tokio::spawn(worker.run(stop.clone()));
        // Completions are counted from the bus (the notifications every process receives anyway); when it is
        // quiet or fell behind, from the table.
        let mut completed = 0u64;
        while completed < jobs as u64 {
            match tokio::time::timeout(Duration::from_millis(50), news.recv()).await {
                Ok(Ok(BusEvent::Message {
                    channel: Channel::Jobs,
                    payload,
                })) => completed += payload.matches("\"COMPLETED\"").count() as u64,
                Ok(Ok(_)) => {}
                Ok(Err(RecvError::Closed)) => anyhow::bail!("the bus closed"),
                Err(_) | Ok(Err(RecvError::Lagged(_))) => completed = count_in(&app.db, "COMPLETED").await?,
            }
        }
        let took = started.elapsed();
        let statements = app.statements.get() - statements_before;
        let cost = meter.per_job(&app.db, jobs).await?;
        stop.cancel();
        running.await?;
        let done = count_in(&app.db, "COMPLETED").await?;
        let attempts: i64 = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT CAST(SUM(attempts) AS BIGINT) AS attempts FROM jobs",
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no sum of attempts"))?
            .try_get("", "attempts")?;
        anyhow::ensure!(done == jobs as u64, "only {done} of {jobs} jobs completed");
        anyhow::ensure!(attempts == jobs as i64, "{attempts} attempts for {jobs} jobs");
        println!(
            "run {run}: enqueue {:.0} jobs/s; drain {:.3} s = {:.0} jobs/s ({:.3} statements per job)",
            jobs as f64 / enqueue_took.as_secs_f64(),
            took.as_secs_f64(),
            jobs as f64 / took.as_secs_f64(),
            statements as f64 / jobs as f64
        );
        println!("run {run}: {cost}");
    }
    shutdown.cancel();
    Ok(())
}

/// The `p`-quantile (0–1) of sorted milliseconds, nearest rank.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(mut millis: Vec<f64>) -> String {
    millis.sort_by(f64::total_cmp);
    format!(
        "n {} p50 {:.2} ms p90 {:.2} ms p99 {:.2} ms max {:.2} ms",
        millis.len(),
        quantile(&millis, 0.5),
        quantile(&millis, 0.9),
        quantile(&millis, 0.99),
        millis.last().copied().unwrap_or(f64::NAN)
    )
}

/// When each job of a steady run reached each step, by the `seq` in its payload.
struct Timeline {
    /// The enqueue call began.
    called: Vec<Instant>,
    /// The enqueue call returned (its transaction committed).
    returned: Vec<Instant>,
    /// The job's id, to match the notification of its enqueue.
    ids: Vec<i32>,
    /// This process heard the notification of the enqueue (as the worker did, from the same bus).
    heard: Arc<Mutex<HashMap<i32, Instant>>>,
    /// The handler began.
    started: Arc<Mutex<Vec<Option<Instant>>>>,
}

impl Timeline {
    fn new(count: usize) -> Self {
        Self {
            called: Vec::with_capacity(count),
            returned: Vec::with_capacity(count),
            ids: Vec::with_capacity(count),
            heard: Arc::default(),
            started: Arc::new(Mutex::new(vec![None; count])),
        }
    }

    /// Milliseconds from the call to `step`, for the jobs from `first` on.
    fn since_call(&self, first: usize, step: impl Fn(usize) -> Option<Instant>) -> Vec<f64> {
        (first..self.called.len())
            .filter_map(|seq| Some(step(seq)?.duration_since(self.called[seq]).as_secs_f64() * 1e3))
            .collect()
    }
}

/// Notes when each enqueue notification reaches this process, until `stop`.
fn listen_for_enqueues(bus: &Bus, heard: Arc<Mutex<HashMap<i32, Instant>>>, stop: CancellationToken) {
    let mut news = bus.subscribe();
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                () = stop.cancelled() => return,
                received = news.recv() => received,
            };
            let at = Instant::now();
            match received {
                Ok(BusEvent::Message {
                    channel: Channel::Jobs,
                    payload,
                }) => {
                    let news: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
                    if let Some(first) = news["enqueued"][0].as_i64() {
                        lock(&heard).insert(first as i32, at);
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// Enqueues one job per tick, `seq` 0 onward. Each enqueue is awaited before the next tick, as one client would
/// send them.
async fn steady(jobs: &JobsService, rate: u32, count: usize, timeline: &mut Timeline) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for seq in 0..count {
        ticks.tick().await;
        timeline.called.push(Instant::now());
        let job = jobs
            .enqueue(vec![new_job(seq)])
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        timeline.returned.push(Instant::now());
        timeline.ids.push(job.first().map(|job| job.id).unwrap_or_default());
    }
    Ok(())
}

async fn wait_until_completed(db: &DatabaseConnection, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_in(db, "COMPLETED").await? < count as u64 {
        anyhow::ensure!(Instant::now() < deadline, "jobs did not complete within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn latency(
    settings: &Settings,
    cli: &Cli,
    rate: u32,
    seconds: u64,
    concurrency: usize,
    elsewhere: bool,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let app = instance(settings, cli.pool, &shutdown).await?;
    let enqueuing = if elsewhere {
        instance(settings, cli.pool, &shutdown).await?.services.jobs.clone()
    } else {
        app.services.jobs.clone()
    };
    let warm_up = rate as usize;
    let count = warm_up + rate as usize * seconds as usize;
    let place = if elsewhere {
        "another instance"
    } else {
        "the worker's instance"
    };
    println!(
        "latency: {rate} jobs/s for {seconds} s after {warm_up} warm-up jobs, worker concurrency {concurrency}, \
         enqueued on {place}"
    );
    for run in 1..=cli.runs {
        reset(&app.db).await?;
        if app.db.get_database_backend() == DatabaseBackend::Postgres {
            let floor = durable_commits(&app.db, 200).await?;
            println!("run {run}: a bare durable commit, before: {}", summary(floor));
        }
        let mut timeline = Timeline::new(count);
        let stop = CancellationToken::new();
        listen_for_enqueues(app.services.jobs.bus(), timeline.heard.clone(), stop.clone());
        let worker = Worker::new(
            app.services.jobs.clone(),
            noop_handlers(Noop {
                started: Some(timeline.started.clone()),
            }),
            worker_settings(concurrency),
        );
        let running = tokio::spawn(worker.run(stop.clone()));
        let meter = Meter::start(&app.db).await?;
        // Enqueued from a task of the runtime, as a request handler enqueues, not from `main`'s own thread: a job
        // handed to this process's worker wakes it through the runtime's queue instead of a parked thread.
        let jobs = enqueuing.clone();
        let timeline =
            tokio::spawn(async move { steady(&jobs, rate, count, &mut timeline).await.map(|()| timeline) }).await??;
        wait_until_completed(&app.db, count).await?;
        let cost = meter.per_job(&app.db, count).await?;
        stop.cancel();
        running.await?;
        let started = lock(&timeline.started).clone();
        let heard = lock(&timeline.heard).clone();
        let rows = entity::jobs::Entity::find().all(&app.db).await?;
        let in_table: Vec<f64> = rows
            .iter()
            .filter(|row| {
                serde_json::from_str::<serde_json::Value>(&row.payload)
                    .ok()
                    .and_then(|payload| payload["seq"].as_u64())
                    .is_some_and(|seq| seq >= warm_up as u64)
            })
            .filter_map(|row| Some((row.started_at? - row.created_at).num_microseconds()? as f64 / 1e3))
            .collect();
        let returned = timeline.since_call(warm_up, |seq| Some(timeline.returned[seq]));
        let notified = timeline.since_call(warm_up, |seq| heard.get(&timeline.ids[seq]).copied());
        let handled = timeline.since_call(warm_up, |seq| started[seq]);
        println!("run {run}: enqueue call to handler start: {}", summary(handled));
        println!("run {run}: created_at to started_at:      {}", summary(in_table));
        println!("run {run}: enqueue call to its return:    {}", summary(returned));
        println!("run {run}: enqueue call to notification:  {}", summary(notified));
        println!("run {run}: {cost}");
    }
    shutdown.cancel();
    Ok(())
}

async fn events(settings: &Settings, cli: &Cli, rate: u32, seconds: u64, concurrency: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.database_url.starts_with("postgres"),
        "events needs PostgreSQL: two instances share one database only there"
    );
    let shutdown = CancellationToken::new();
    let working = instance(settings, cli.pool, &shutdown).await?;
    let following = instance(settings, cli.pool, &shutdown).await?;
    let warm_up = rate as usize;
    let count = warm_up + rate as usize * seconds as usize;
    let admin = Caller {
        user_id: 0,
        role: Role::Admin,
    };
    println!(
        "events: {rate} jobs/s for {seconds} s after {warm_up} warm-up jobs, enqueued and followed on one instance, \
         run by the other (worker concurrency {concurrency}, the app's PUSH_NOTIFICATION handler)"
    );
    for run in 1..=cli.runs {
        reset(&working.db).await?;
        let stop = CancellationToken::new();
        let worker = Worker::new(
            working.services.jobs.clone(),
            working.services.job_handlers.clone(),
            worker_settings(concurrency),
        );
        let running = tokio::spawn(worker.run(stop.clone()));
        let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
        let finished: Arc<Mutex<usize>> = Arc::default();
        let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut followers = tokio::task::JoinSet::new();
        for seq in 0..count {
            ticks.tick().await;
            let job = following
                .services
                .jobs
                .enqueue(vec![new_job(seq)])
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let id = job.first().map(|job| job.id).unwrap_or_default();
            // Subscribed before this returns: every change after the enqueue's commit reaches the stream.
            let stream = alx_backend::jobs::feed::follow(following.services.jobs.clone(), admin, id);
            let latencies = latencies.clone();
            let finished = finished.clone();
            let measured = seq >= warm_up;
            followers.spawn(async move {
                let mut stream = std::pin::pin!(stream);
                let mut first = true;
                while let Some(Ok(job)) = stream.next().await {
                    let received = Utc::now();
                    // The first item is the job as read when the stream began, not a change heard.
                    if !first && measured {
                        let delay = (received - job.updated_at).num_microseconds().unwrap_or_default();
                        lock(&latencies).push(delay as f64 / 1e3);
                    }
                    first = false;
                    if job.state.is_final() {
                        *lock(&finished) += 1;
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while followers.join_next().await.is_some() {
            anyhow::ensure!(Instant::now() < deadline, "streams did not end within a minute");
        }
        stop.cancel();
        running.await?;
        let ended = *lock(&finished);
        anyhow::ensure!(ended == count, "{ended} of {count} streams saw their job end");
        let latencies = std::mem::take(&mut *lock(&latencies));
        println!(
            "run {run}: change to receipt on the other instance: {}",
            summary(latencies)
        );
    }
    shutdown.cancel();
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load()?;
    // The benchmark signs no tokens; a fixed secret keeps it from writing a development secret file.
    settings.jwt_secret = Some("bench-only-secret-bench-only-secret-0123".to_string().into());
    let (db, _) = db::connect(&settings.database_url, 1).await?;
    db::migrate_up(&db).await?;
    db.close().await?;
    match cli.figure {
        Figure::Drain { jobs, concurrency } => drain(&settings, &cli, jobs, concurrency).await,
        Figure::Latency {
            rate,
            seconds,
            concurrency,
            elsewhere,
        } => latency(&settings, &cli, rate, seconds, concurrency, elsewhere).await,
        Figure::Events {
            rate,
            seconds,
            concurrency,
        } => events(&settings, &cli, rate, seconds, concurrency).await,
    }
}
