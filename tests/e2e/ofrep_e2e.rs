//! The OFREP endpoint end to end: `slipway serve` on loopback, a real git repository watched
//! with `slipway repo add`, releases made with `slipway release …`, and the real OpenFeature
//! Rust SDK with its OFREP provider (`open-feature`, `open-feature-ofrep`) evaluating
//! `release.shop` for 10,000 targeting keys as an application would. Deployment records are
//! written into the store while the engine is stopped (the deploying side is tested elsewhere).

use std::path::Path;
use std::sync::Arc;

use deploy::{Deployment, DeploymentId, DeploymentStatus, Environment, StrategyKind, Version};
use engine::store::{RecordKind, Store};
use open_feature::{EvaluationContext, OpenFeature};
use open_feature_ofrep::{OfrepOptions, OfrepProvider};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::support::engine::TestEngine;

const KEYS: usize = 10_000;

fn git(dir: &Path, args: &[&str]) -> String {
    crate::support::git_as("test", "test@localhost", dir, args)
}

fn slipway(engine: &TestEngine, args: &[&str]) -> String {
    let output = engine.cli_acting(args).output().expect("run slipway");
    assert!(
        output.status.success(),
        "slipway {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// Writes `deployments` (and the production environment) into the stopped engine's store.
async fn seed(data: &Path, deployments: &[Deployment]) {
    let store = Store::open(data).expect("open store");
    store
        .put_record(
            RecordKind::Environments,
            "production",
            &Environment::new("production"),
        )
        .await
        .expect("write environment");
    for deployment in deployments {
        store
            .put_record(RecordKind::Deployments, &deployment.id.0, deployment)
            .await
            .expect("write deployment");
    }
}

fn deployment(id: &str, repository: &str, sha: &str, tag: &str, at: &str) -> Deployment {
    let at: jiff::Timestamp = at.parse().expect("time");
    let mut deployment = Deployment::new(
        DeploymentId(id.into()),
        "production",
        repository,
        Version {
            sha: sha.into(),
            tag: Some(tag.into()),
            committed_at: None,
        },
        format!("refs/tags/{tag}"),
        "erin",
        StrategyKind::BigBang,
        false,
        at,
    );
    deployment.status = DeploymentStatus::Success;
    deployment.finished_at = Some(at);
    deployment
}

/// `release.shop` for every key through the SDK (8 evaluations at a time): the value each got.
async fn evaluate(
    client: &Arc<open_feature::Client>,
    keys: &[String],
    tier: Option<&str>,
) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    let chunk = keys.len().div_ceil(8);
    for (index, part) in keys.chunks(chunk).enumerate() {
        let client = client.clone();
        let part = part.to_vec();
        let tier = tier.map(str::to_string);
        tasks.spawn(async move {
            let mut values = Vec::with_capacity(part.len());
            for key in part {
                let mut context = EvaluationContext::default().with_targeting_key(key);
                if let Some(tier) = &tier {
                    context = context.with_custom_field("tier", tier.clone());
                }
                let value = client
                    .get_string_value("release.shop", Some(&context), None)
                    .await
                    .unwrap_or_else(|error| panic!("evaluation failed: {error:?}"));
                values.push(value);
            }
            (index, values)
        });
    }
    let mut parts = tasks.join_all().await;
    parts.sort_by_key(|(index, _)| *index);
    parts.into_iter().flat_map(|(_, values)| values).collect()
}

async fn ofrep(
    engine: &TestEngine,
    path: &str,
    body: Value,
    etag: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut request = engine
        .client
        .post(format!("{}{path}", engine.url))
        .bearer_auth(engine.admin_token())
        .json(&body);
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    let response = request.send().await.expect("engine answers");
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openfeature_sdk_follows_a_release_from_ten_percent_to_half_to_premium_to_withdrawn() {
    let temp = tempfile::tempdir().expect("temp dir");
    let source = temp.path().join("acme").join("shop");
    let data = temp.path().join("data");
    std::fs::create_dir_all(&source).expect("create repo");
    git(&source, &["init", "-q", "-b", "main"]);
    std::fs::write(source.join("app.txt"), "1.0").expect("write");
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "feat: first"]);
    git(&source, &["tag", "v1.0.0"]);
    std::fs::write(source.join("app.txt"), "1.1").expect("write");
    git(&source, &["commit", "-q", "-am", "feat: faster checkout"]);
    git(&source, &["tag", "v1.1.0"]);
    let old = git(&source, &["rev-parse", "v1.0.0^{commit}"]);
    let new = git(&source, &["rev-parse", "v1.1.0^{commit}"]);
    let probe = temp.path().join("probe.git");
    let mirror =
        engine::repos::triggers::Mirror::open_or_create(&probe, &source.display().to_string())
            .expect("probe mirror");
    mirror.fetch().expect("fetch probe");
    let repository = engine::runs::event::source_at_ref(&probe, "refs/tags/v1.0.0")
        .expect("tag resolves")
        .repository;

    // v1.0.0 is live and released to everyone.
    seed(
        &data,
        &[deployment(
            "d1",
            &repository,
            &old,
            "v1.0.0",
            "2026-03-01T09:00:00Z",
        )],
    )
    .await;
    let mut engine = TestEngine::builder(&data).runners(0).start().await;
    slipway(
        &engine,
        &[
            "repo",
            "add",
            &source.display().to_string(),
            "--name",
            "shop",
        ],
    );
    slipway(&engine, &["release", "create", "v1.0.0", "--as", "alice"]);
    slipway(
        &engine,
        &[
            "release",
            "promote",
            "v1.0.0",
            "--env",
            "production",
            "--audience",
            "all",
            "--as",
            "pat",
        ],
    );

    // Then v1.1.0 is deployed (v1.0.0's deployment is superseded) and released to 10%.
    engine.stop();
    let mut superseded = deployment("d1", &repository, &old, "v1.0.0", "2026-03-01T09:00:00Z");
    superseded.status = DeploymentStatus::Inactive;
    seed(
        &data,
        &[
            superseded,
            deployment("d2", &repository, &new, "v1.1.0", "2026-03-05T09:00:00Z"),
        ],
    )
    .await;
    engine.respawn().await;
    slipway(&engine, &["release", "create", "v1.1.0", "--as", "alice"]);

    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", engine.admin_token())).expect("header"),
    );
    let provider = OfrepProvider::new(OfrepOptions {
        base_url: engine.url.clone(),
        headers,
        ..Default::default()
    })
    .await
    .expect("OFREP provider");
    let client = {
        let mut api = OpenFeature::singleton_mut().await;
        api.set_provider(provider).await;
        Arc::new(api.create_client())
    };
    let keys: Vec<String> = (0..KEYS).map(|n| format!("customer-{n}")).collect();

    // Created, not yet released: everyone stays on v1.0.0.
    let before = evaluate(&client, &keys, None).await;
    assert!(
        before.iter().all(|value| value == "v1.0.0"),
        "{:?}",
        &before[..5]
    );

    let mut shares = Vec::new();
    let mut previous: Vec<bool> = vec![false; KEYS];
    for percent in [10u8, 50] {
        slipway(
            &engine,
            &[
                "release",
                "promote",
                "v1.1.0",
                "--env",
                "production",
                "--audience",
                &format!("{percent}%"),
                "--as",
                "pat",
            ],
        );
        let values = evaluate(&client, &keys, None).await;
        let inside: Vec<bool> = values.iter().map(|value| value == "v1.1.0").collect();
        assert!(
            values
                .iter()
                .all(|value| value == "v1.1.0" || value == "v1.0.0")
        );
        let share = inside.iter().filter(|inside| **inside).count() as f64 * 100.0 / KEYS as f64;
        assert!(
            (share - f64::from(percent)).abs() <= 1.5,
            "{percent}%: {share}% of {KEYS} keys got v1.1.0"
        );
        // Whoever was in stays in as the audience grows.
        let dropped = previous
            .iter()
            .zip(&inside)
            .filter(|(was, is)| **was && !**is)
            .count();
        assert_eq!(dropped, 0, "{dropped} keys lost v1.1.0 going to {percent}%");
        shares.push(share);
        previous = inside;
    }
    eprintln!("ofrep: shares at 10% and 50%: {shares:?}");

    // OFREP's answer for one key, as the wire has it: reasons and metadata.
    let inside_key = keys[previous
        .iter()
        .position(|inside| *inside)
        .expect("someone is in")]
    .clone();
    let outside_key = keys[previous
        .iter()
        .position(|inside| !*inside)
        .expect("someone is out")]
    .clone();
    let (status, _, answer) = ofrep(
        &engine,
        "/ofrep/v1/evaluate/flags/release.shop",
        json!({"context": {"targetingKey": inside_key}}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["key"], "release.shop");
    assert_eq!(answer["value"], "v1.1.0");
    assert_eq!(answer["variant"], "v1.1.0");
    assert_eq!(answer["reason"], "SPLIT");
    assert_eq!(answer["metadata"]["audience"], "50%");
    assert_eq!(answer["metadata"]["environment"], "production");
    assert_eq!(answer["metadata"]["sha"], new.as_str());
    let (_, _, answer) = ofrep(
        &engine,
        "/ofrep/v1/evaluate/flags/release.shop.production",
        json!({"context": {"targetingKey": outside_key}}),
        None,
    )
    .await;
    assert_eq!(
        (answer["value"].as_str(), answer["reason"].as_str()),
        (Some("v1.0.0"), Some("DEFAULT")),
        "{answer}"
    );
    // A percentage cannot place a context without a targeting key.
    let (status, _, answer) = ofrep(
        &engine,
        "/ofrep/v1/evaluate/flags/release.shop",
        json!({"context": {}}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errorCode"], "TARGETING_KEY_MISSING");
    let (status, _, answer) = ofrep(
        &engine,
        "/ofrep/v1/evaluate/flags/release.nope",
        json!({"context": {"targetingKey": "u"}}),
        None,
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["errorCode"], "FLAG_NOT_FOUND");
    assert!(
        answer["errorDetails"]
            .as_str()
            .unwrap_or("")
            .contains("no watched repository `nope`"),
        "{answer}"
    );
    // Without a token: 401.
    let anonymous = engine
        .client
        .post(format!(
            "{}/ofrep/v1/evaluate/flags/release.shop",
            engine.url
        ))
        .json(&json!({"context": {"targetingKey": "u"}}))
        .send()
        .await
        .expect("engine answers");
    assert_eq!(anonymous.status().as_u16(), 401);

    // Bulk: every flag with an ETag; the same ETag is 304 until a release changes.
    let context = json!({"context": {"targetingKey": inside_key}});
    let (status, etag, bulk) =
        ofrep(&engine, "/ofrep/v1/evaluate/flags", context.clone(), None).await;
    assert_eq!(status, 200, "{bulk}");
    let etag = etag.expect("an ETag");
    let flags: Vec<(String, String)> = bulk["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|flag| {
            (
                flag["key"].as_str().unwrap_or("").to_string(),
                flag["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("release.shop.production".to_string(), "v1.1.0".to_string()),
            ("release.shop".to_string(), "v1.1.0".to_string()),
        ]
    );
    let (status, _, _) = ofrep(
        &engine,
        "/ofrep/v1/evaluate/flags",
        context.clone(),
        Some(&etag),
    )
    .await;
    assert_eq!(status, 304);

    // Premium customers get it at `tier:premium`, everyone else goes back to v1.0.0.
    slipway(
        &engine,
        &[
            "release",
            "promote",
            "v1.1.0",
            "--env",
            "production",
            "--audience",
            "tier:premium",
            "--as",
            "pat",
        ],
    );
    let (status, changed, _) = ofrep(
        &engine,
        "/ofrep/v1/evaluate/flags",
        context.clone(),
        Some(&etag),
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(changed.as_deref(), Some(etag.as_str()));
    let premium = evaluate(&client, &keys[..1000], Some("premium")).await;
    assert!(
        premium.iter().all(|value| value == "v1.1.0"),
        "{:?}",
        &premium[..5]
    );
    let basic = evaluate(&client, &keys[..1000], Some("basic")).await;
    assert!(
        basic.iter().all(|value| value == "v1.0.0"),
        "{:?}",
        &basic[..5]
    );
    let (_, _, answer) = ofrep(
        &engine,
        "/ofrep/v1/evaluate/flags/release.shop",
        json!({"context": {"targetingKey": "u", "tier": "premium"}}),
        None,
    )
    .await;
    assert_eq!(answer["reason"], "TARGETING_MATCH", "{answer}");

    // Withdrawn: everyone is back on the previous version, premium or not.
    slipway(
        &engine,
        &[
            "release",
            "withdraw",
            "v1.1.0",
            "--env",
            "production",
            "--as",
            "pat",
            "--reason",
            "error rate",
        ],
    );
    let after = evaluate(&client, &keys, Some("premium")).await;
    assert!(
        after.iter().all(|value| value == "v1.0.0"),
        "{:?}",
        &after[..5]
    );
    let (_, _, answer) = ofrep(
        &engine,
        "/ofrep/v1/evaluate/flags/release.shop",
        json!({"context": {"targetingKey": "u"}}),
        None,
    )
    .await;
    assert_eq!(answer["reason"], "STATIC", "{answer}");
}
