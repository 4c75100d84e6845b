//! Durable jobs through the API: notifications, seats, progress over subscriptions, cancel and retry, and who
//! may see what.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, assert_no_errors, error_code, error_field},
    websocket::{open_initialised, receive_within, send},
};

const JOB_FIELDS: &str = "id databaseId kind state progress attempts maxAttempts priority runAt error payload result createdAt startedAt finishedAt version owner { databaseId }";

/// How long a test waits for a job to reach a state before it fails.
const JOB_DEADLINE: Duration = Duration::from_secs(20);

async fn spawn_with_workers(configure: impl FnOnce(&mut alx_backend::config::Settings)) -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.worker_concurrency = 2;
        // Short waits so that delayed jobs and retries come due quickly in tests.
        settings.job_poll_interval = Duration::from_millis(100);
        settings.job_backoff_base = Duration::from_millis(200);
        configure(settings);
    })
    .await
}

async fn user_token(app: &TestApp, email: &str) -> String {
    app.register(email).await["accessToken"]
        .as_str()
        .expect("token")
        .to_string()
}

async fn send_notification(app: &TestApp, token: &str, phone: &str, message: &str) -> Value {
    let (_, body) = app
        .gql_as(
            Some(token),
            &format!("mutation($p: String!, $m: String!) {{ sendNotification(phoneNumber: $p, message: $m) {{ {JOB_FIELDS} }} }}"),
            json!({ "p": phone, "m": message }),
        )
        .await;
    assert_no_errors(&body);
    body["data"]["sendNotification"].clone()
}

async fn job(app: &TestApp, token: &str, id: &str) -> Value {
    let (_, body) = app
        .gql_as(
            Some(token),
            &format!("query($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert_no_errors(&body);
    body["data"]["job"].clone()
}

/// Polls the job until `done` holds, failing the test after `JOB_DEADLINE`.
async fn wait_for_job(app: &TestApp, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
    loop {
        let current = job(app, token, id).await;
        if done(&current) {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} never reached the expected state: {current}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is_final(job: &Value) -> bool {
    matches!(job["state"].as_str(), Some("COMPLETED" | "FAILED" | "CANCELLED"))
}

#[tokio::test]
async fn a_notification_job_completes_with_progress_100() {
    let app = spawn_with_workers(|_| {}).await;
    let token = user_token(&app, "notify@example.com").await;
    let queued = send_notification(
        &app,
        &token,
        "4153518780",
        "This is the code 1234 to verify your account",
    )
    .await;
    // This server's idle worker usually takes the job in its INSERT (handed over: ACTIVE at once); when its slots
    // were busy for a moment, the job waits to be claimed.
    assert!(
        matches!(queued["state"].as_str(), Some("QUEUED" | "ACTIVE")),
        "{queued}"
    );
    assert_eq!(queued["kind"], "PUSH_NOTIFICATION");
    assert_eq!(queued["payload"]["phoneNumber"], "4153518780");
    let done = wait_for_job(&app, &token, queued["id"].as_str().expect("present"), is_final).await;
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert_eq!(done["progress"], 100);
    assert_eq!(done["attempts"], 1);
    assert!(done["error"].is_null());
    assert!(done["version"].as_i64().expect("present") > queued["version"].as_i64().expect("present"));
}

#[tokio::test]
async fn a_blocked_number_fails_for_good_with_a_translated_error() {
    let app = spawn_with_workers(|settings| settings.blocked_phone_numbers = vec!["4153518743".into()]).await;
    let token = user_token(&app, "blocked@example.com").await;
    let queued = send_notification(&app, &token, "4153518743", "hello").await;
    let id = queued["id"].as_str().expect("present").to_string();
    let failed = wait_for_job(&app, &token, &id, is_final).await;
    assert_eq!(failed["state"], "FAILED");
    assert_eq!(failed["error"], "Phone number 4153518743 is blocked");
    assert_eq!(failed["attempts"], 1, "a permanent failure is not retried");
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .header("accept-language", "fr")
        .json(&json!({ "query": "query($id: ID!) { job(id: $id) { error } }", "variables": { "id": id } }))
        .send()
        .await
        .expect("sent");
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["data"]["job"]["error"],
        "Le numéro de téléphone 4153518743 est bloqué"
    );
}

#[tokio::test]
async fn progress_reaches_a_subscriber_as_0_50_100_in_order() {
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let app = spawn_with_workers(|settings| settings.worker_concurrency = 0).await;
        let token = user_token(&app, "follower@example.com").await;
        let queued = send_notification(&app, &token, "+4915112345678", "progress").await;
        let mut socket = crate::websocket::open(&app, protocol).await;
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
        )
        .await;
        assert_eq!(
            receive_within(&mut socket, JOB_DEADLINE).await["type"],
            "connection_ack"
        );
        let subscribe = if protocol == "graphql-ws" { "start" } else { "subscribe" };
        send(
            &mut socket,
            json!({ "id": "1", "type": subscribe, "payload": {
                "query": "subscription($id: ID!) { jobUpdated(id: $id) { state progress version } }",
                "variables": { "id": queued["id"] } } }),
        )
        .await;
        let first = receive_within(&mut socket, JOB_DEADLINE).await;
        assert_eq!(first["payload"]["data"]["jobUpdated"]["state"], "QUEUED", "{first}");
        // The worker starts only now, so every step happens after the subscription began.
        let worker = alx_backend::jobs::Worker::new(
            app.app_services.jobs.clone(),
            app.app_services.job_handlers.clone(),
            worker_settings(),
        );
        let stop = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(worker.run(stop.clone()));
        let mut seen = Vec::new();
        let mut versions = Vec::new();
        loop {
            let message = receive_within(&mut socket, JOB_DEADLINE).await;
            if message["type"] == "complete" {
                break;
            }
            let update = &message["payload"]["data"]["jobUpdated"];
            assert!(update.is_object(), "{message}");
            seen.push((
                update["state"].as_str().expect("present").to_string(),
                update["progress"].as_i64().expect("present"),
            ));
            versions.push(update["version"].as_i64().expect("present"));
        }
        assert!(versions.windows(2).all(|pair| pair[0] < pair[1]), "{versions:?}");
        let progress: Vec<i64> = seen.iter().map(|(_, progress)| *progress).collect();
        assert_eq!(progress, vec![0, 0, 50, 100], "{protocol}: {seen:?}");
        assert_eq!(seen.last().expect("present").0, "COMPLETED");
        stop.cancel();
        running.await.expect("worker stops");
    }
}

fn worker_settings() -> alx_backend::jobs::WorkerSettings {
    alx_backend::jobs::WorkerSettings {
        concurrency: 2,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(100),
        time_limit: Duration::from_secs(30),
        retention: Duration::from_secs(7 * 24 * 3600),
        shutdown_grace: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn subscribing_to_a_finished_job_sends_its_final_state_and_completes() {
    let app = spawn_with_workers(|_| {}).await;
    let token = user_token(&app, "late@example.com").await;
    let queued = send_notification(&app, &token, "4153518780", "fast").await;
    let id = queued["id"].as_str().expect("present").to_string();
    wait_for_job(&app, &token, &id, is_final).await;
    let mut socket = open_initialised(&app, Some(&token)).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { jobUpdated(id: $id) { state progress } }", "variables": { "id": id } } }),
    )
    .await;
    let next = receive_within(&mut socket, JOB_DEADLINE).await;
    assert_eq!(next["payload"]["data"]["jobUpdated"]["state"], "COMPLETED");
    assert_eq!(receive_within(&mut socket, JOB_DEADLINE).await["type"], "complete");
}

#[tokio::test]
async fn strangers_and_anonymous_callers_cannot_see_or_follow_a_job() {
    let app = spawn_with_workers(|settings| settings.worker_concurrency = 0).await;
    let owner = user_token(&app, "owner@example.com").await;
    let stranger = user_token(&app, "stranger@example.com").await;
    let queued = send_notification(&app, &owner, "4153518780", "mine").await;
    let id = queued["id"].as_str().expect("present");
    assert!(job(&app, &stranger, id).await.is_null());
    let (_, body) = app
        .gql("query($id: ID!) { job(id: $id) { id } }", json!({ "id": id }))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let (_, body) = app
        .gql_as(Some(&stranger), "{ jobs { totalCount nodes { id } } }", json!({}))
        .await;
    assert_eq!(body["data"]["jobs"]["totalCount"], 0);
    for mutation in ["cancelJob", "retryJob"] {
        let (_, body) = app
            .gql_as(
                Some(&stranger),
                &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
                json!({ "id": id }),
            )
            .await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{mutation}: {body}");
    }
    let (_, body) = app
        .gql_as(
            Some(&stranger),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(body["data"]["node"].is_null(), "{body}");
    let admin = app.admin_token().await;
    assert_eq!(job(&app, &admin, id).await["id"], *id);
    let (_, body) = app.gql_as(Some(&admin), "{ jobs { totalCount } }", json!({})).await;
    assert_eq!(body["data"]["jobs"]["totalCount"], 1);

    let mut socket = open_initialised(&app, Some(&stranger)).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { jobUpdated(id: $id) { state } }", "variables": { "id": id } } }),
    )
    .await;
    let refused = receive_within(&mut socket, JOB_DEADLINE).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    let mut anonymous = open_initialised(&app, None).await;
    send(
        &mut anonymous,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { jobEvents { id } }" } }),
    )
    .await;
    let refused = receive_within(&mut anonymous, JOB_DEADLINE).await;
    let code = refused["payload"][0]["extensions"]["code"]
        .as_str()
        .or(refused["payload"]["errors"][0]["extensions"]["code"].as_str());
    assert_eq!(code, Some("UNAUTHENTICATED"), "{refused}");
}

#[tokio::test]
async fn bad_notifications_are_refused_whole_naming_the_field() {
    let app = spawn_with_workers(|settings| settings.worker_concurrency = 0).await;
    let token = user_token(&app, "bad@example.com").await;
    let mutation = "mutation($input: [NotificationInput!]!) { sendNotifications(input: $input) { id } }";
    let good = json!({ "phoneNumber": "4153518780", "message": "ok" });
    let cases = [
        (
            json!([good, { "phoneNumber": "12-34", "message": "x" }]),
            "input.1.phoneNumber",
        ),
        (
            json!([good, { "phoneNumber": "1234567890123456", "message": "x" }]),
            "input.1.phoneNumber",
        ),
        (
            json!([{ "phoneNumber": "4153518780", "message": "" }]),
            "input.0.message",
        ),
        (
            json!([{ "phoneNumber": "4153518780", "message": "x".repeat(1001) }]),
            "input.0.message",
        ),
        (
            json!([{ "phoneNumber": "4153518780", "message": "x", "priority": 5000 }]),
            "input.0.priority",
        ),
        (
            json!([{ "phoneNumber": "4153518780", "message": "x", "runAt": "2100-01-01T00:00:00Z" }]),
            "input.0.runAt",
        ),
        (json!(vec![good.clone(); 1001]), "input"),
    ];
    for (input, field) in cases {
        let (_, body) = app.gql_as(Some(&token), mutation, json!({ "input": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{field}: {body}");
        assert_eq!(error_field(&body), field);
    }
    let (_, body) = app.gql_as(Some(&token), "{ jobs { totalCount } }", json!({})).await;
    assert_eq!(body["data"]["jobs"]["totalCount"], 0, "nothing was enqueued");
    let (_, body) = app
        .gql(
            "mutation { sendNotification(phoneNumber: \"4153518780\", message: \"x\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let (_, body) = app
        .gql_as(Some(&token), mutation, json!({ "input": vec![good; 1000] }))
        .await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["sendNotifications"].as_array().map(Vec::len), Some(1000));
}

#[tokio::test]
async fn sixty_requests_for_fifty_seats_complete_fifty_and_fail_ten() {
    let app = spawn_with_workers(|_| {}).await;
    let admin = app.admin_token().await;
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "mutation { createEvent(input: { name: \"Concert\", startsAt: \"2027-01-01T20:00:00Z\", capacity: 50 }) { id } }",
            json!({}),
        )
        .await;
    assert_no_errors(&body);
    let event = body["data"]["createEvent"]["id"].as_str().expect("present").to_string();
    let token = user_token(&app, "fan@example.com").await;
    let mut ids = Vec::new();
    for _ in 0..60 {
        let (_, body) = app
            .gql_as(
                Some(&token),
                "mutation($e: ID!) { reserveSeat(eventId: $e) { id state kind } }",
                json!({ "e": event }),
            )
            .await;
        match body["data"]["reserveSeat"]["id"].as_str() {
            Some(id) => ids.push(id.to_string()),
            // Once the last seat went, reservations are off: later requests are refused at once.
            None => assert_eq!(error_code(&body), "RESERVATIONS_BLOCKED", "{body}"),
        }
    }
    let mut completed = 0;
    let mut failed = 0;
    for id in &ids {
        let done = wait_for_job(&app, &token, id, is_final).await;
        match done["state"].as_str() {
            Some("COMPLETED") => completed += 1,
            Some("FAILED") => {
                assert_eq!(done["error"], "Not enough seats available");
                failed += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(completed, 50);
    assert_eq!(failed + (60 - ids.len()), 10);
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "query($e: ID!) { event(id: $e) { availableSeats reservationEnabled seatReservations { totalCount } } }",
            json!({ "e": event }),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["event"]["availableSeats"], 0);
    assert_eq!(body["data"]["event"]["reservationEnabled"], false);
    assert_eq!(body["data"]["event"]["seatReservations"]["totalCount"], 50);
    let (_, body) = app
        .gql_as(
            Some(&token),
            "mutation($e: ID!) { reserveSeat(eventId: $e) { id } }",
            json!({ "e": event }),
        )
        .await;
    assert_eq!(error_code(&body), "RESERVATIONS_BLOCKED");
}

#[tokio::test]
async fn a_queued_job_can_be_cancelled_and_retried() {
    let app = spawn_with_workers(|_| {}).await;
    let token = user_token(&app, "cancel@example.com").await;
    let run_at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, body) = app
        .gql_as(
            Some(&token),
            "mutation($r: DateTime) { sendNotification(phoneNumber: \"4153518780\", message: \"later\", runAt: $r) { id state runAt } }",
            json!({ "r": run_at }),
        )
        .await;
    assert_no_errors(&body);
    let id = body["data"]["sendNotification"]["id"]
        .as_str()
        .expect("present")
        .to_string();
    let (_, body) = app
        .gql_as(
            Some(&token),
            "mutation($id: ID!) { cancelJob(id: $id) { state } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["cancelJob"]["state"], "CANCELLED", "{body}");
    let (_, body) = app
        .gql_as(
            Some(&token),
            "mutation($id: ID!) { cancelJob(id: $id) { state } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "BAD_USER_INPUT",
        "a cancelled job cannot be cancelled again"
    );
    let (_, body) = app
        .gql_as(
            Some(&token),
            "mutation($id: ID!) { retryJob(id: $id) { state attempts } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["retryJob"]["state"], "QUEUED", "{body}");
    let done = wait_for_job(&app, &token, &id, is_final).await;
    assert_eq!(done["state"], "COMPLETED", "a retried job runs at once: {done}");
    let (_, body) = app
        .gql_as(
            Some(&token),
            "mutation($id: ID!) { retryJob(id: $id) { state } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "a completed job is not retried");
}

#[tokio::test]
async fn a_job_waits_for_its_run_at_and_jobs_run_in_priority_order() {
    let app = spawn_with_workers(|settings| settings.worker_concurrency = 1).await;
    let token = user_token(&app, "order@example.com").await;
    let run_at = chrono::Utc::now() + chrono::Duration::milliseconds(800);
    let input: Vec<Value> = [5, -5, 0, 10, -10]
        .iter()
        .map(|priority| {
            json!({ "phoneNumber": "4153518780", "message": format!("p{priority}"), "priority": priority, "runAt": run_at.to_rfc3339() })
        })
        .collect();
    let (_, body) = app
        .gql_as(
            Some(&token),
            "mutation($input: [NotificationInput!]!) { sendNotifications(input: $input) { id priority } }",
            json!({ "input": input }),
        )
        .await;
    assert_no_errors(&body);
    let mut finished = Vec::new();
    for queued in body["data"]["sendNotifications"].as_array().expect("present") {
        let done = wait_for_job(&app, &token, queued["id"].as_str().expect("present"), is_final).await;
        assert_eq!(done["state"], "COMPLETED");
        let started: chrono::DateTime<chrono::Utc> =
            done["startedAt"].as_str().expect("present").parse().expect("present");
        assert!(started >= run_at, "started {started} before its runAt {run_at}");
        finished.push((started, done["priority"].as_i64().expect("present")));
    }
    finished.sort();
    let order: Vec<i64> = finished.into_iter().map(|(_, priority)| priority).collect();
    assert_eq!(order, vec![-10, -5, 0, 5, 10]);
}

#[tokio::test]
async fn user_jobs_lists_a_users_jobs_for_that_user_and_admins() {
    let app = spawn_with_workers(|settings| settings.worker_concurrency = 0).await;
    let auth = app.register("lister@example.com").await;
    let token = auth["accessToken"].as_str().expect("present");
    for index in 0..3 {
        send_notification(&app, token, "4153518780", &format!("n{index}")).await;
    }
    let (_, body) = app
        .gql_as(
            Some(token),
            "{ me { jobs(first: 2) { totalCount nodes { kind state } pageInfo { hasNextPage } } } jobs(kind: PUSH_NOTIFICATION, state: QUEUED) { totalCount } }",
            json!({}),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["me"]["jobs"]["totalCount"], 3);
    assert_eq!(body["data"]["me"]["jobs"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(body["data"]["jobs"]["totalCount"], 3);
    let (_, body) = app
        .gql_as(
            Some(token),
            "{ jobs(kind: SEAT_RESERVATION) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["jobs"]["totalCount"], 0);
}

#[tokio::test]
async fn job_events_streams_the_callers_jobs_of_a_kind_and_an_admin_sees_everyones() {
    let app = spawn_with_workers(|_| {}).await;
    let alice = app.register("alice@example.com").await;
    let alice_token = alice["accessToken"].as_str().expect("token").to_string();
    let alice_id = alice["user"]["databaseId"].as_i64().expect("id");
    let bob_token = user_token(&app, "bob@example.com").await;
    let admin_token = app.admin_token().await;
    let query =
        "subscription { jobEvents(kind: PUSH_NOTIFICATION) { databaseId kind state version owner { databaseId } } }";
    let mut alice_socket = open_initialised(&app, Some(&alice_token)).await;
    let mut admin_socket = open_initialised(&app, Some(&admin_token)).await;
    for socket in [&mut alice_socket, &mut admin_socket] {
        send(
            socket,
            json!({ "id": "events", "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
    }
    // The subscriptions are live once a query on the same sockets answers: messages are handled in order.
    for socket in [&mut alice_socket, &mut admin_socket] {
        send(
            socket,
            json!({ "id": "probe", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
        )
        .await;
        loop {
            let message = receive_within(socket, JOB_DEADLINE).await;
            if message["id"] == "probe" && message["type"] == "complete" {
                break;
            }
        }
    }
    let mine = [
        send_notification(&app, &alice_token, "4153518780", "one").await,
        send_notification(&app, &alice_token, "4153518781", "two").await,
    ];
    let theirs = send_notification(&app, &bob_token, "4153518782", "bob's").await;
    let mine_ids: Vec<i64> = mine.iter().map(|job| job["databaseId"].as_i64().expect("id")).collect();
    let theirs_id = theirs["databaseId"].as_i64().expect("id");

    let mut versions: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    let mut completed = std::collections::HashSet::new();
    while completed.len() < mine_ids.len() {
        let message = receive_within(&mut alice_socket, JOB_DEADLINE).await;
        let event = &message["payload"]["data"]["jobEvents"];
        assert!(event.is_object(), "{message}");
        let id = event["databaseId"].as_i64().expect("id");
        assert!(mine_ids.contains(&id), "alice saw a job that is not hers: {event}");
        assert_eq!(event["owner"]["databaseId"], alice_id);
        let version = event["version"].as_i64().expect("version");
        if let Some(previous) = versions.insert(id, version) {
            assert!(version > previous, "job {id} went from version {previous} to {version}");
        }
        if event["state"] == "COMPLETED" {
            completed.insert(id);
        }
    }
    let mut admin_saw = std::collections::HashSet::new();
    while !admin_saw.contains(&theirs_id) {
        let message = receive_within(&mut admin_socket, JOB_DEADLINE).await;
        admin_saw.insert(
            message["payload"]["data"]["jobEvents"]["databaseId"]
                .as_i64()
                .expect("id"),
        );
    }
}

#[tokio::test]
async fn job_metrics_are_exported() {
    let app = spawn_with_workers(|_| {}).await;
    let token = user_token(&app, "metrics@example.com").await;
    let queued = send_notification(&app, &token, "4153518780", "counted").await;
    wait_for_job(&app, &token, queued["id"].as_str().expect("id"), is_final).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    for name in ["job_pickup_latency_seconds", "job_attempt_duration_seconds"] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}
