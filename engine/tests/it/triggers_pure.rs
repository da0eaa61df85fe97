//! The pure trigger pieces: webhook payloads and signatures, cron next-fire times and the misfire
//! policy, with `now` given.

use engine::repos::triggers::schedule::{
    CronSchedule, MAX_CATCH_UP_FIRES, MisfirePolicy, due, next_fire, schedules_in,
};
use engine::repos::triggers::webhook::{
    parse_push, sign, verify_gitea_signature, verify_signature,
};
use engine::repos::triggers::{RefKind, WorkflowFile};
use jiff::Timestamp;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

// --- webhooks ---------------------------------------------------------------------------------

const BODY: &[u8] = br#"{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111","created":true,"deleted":false,"forced":false,"pusher":{"name":"alice","email":"a@example.org"},"repository":{"full_name":"acme/rocket"},"sender":{"login":"alice"}}"#;

#[test]
fn signature_good_bad_and_missing() {
    let header = sign(b"s3cret", BODY);
    assert!(header.starts_with("sha256=") && header.len() == 7 + 64);
    assert!(verify_signature(b"s3cret", BODY, Some(&header)));
    assert!(!verify_signature(b"other", BODY, Some(&header)));
    let mut tampered = BODY.to_vec();
    tampered[10] ^= 1;
    assert!(!verify_signature(b"s3cret", &tampered, Some(&header)));
    assert!(!verify_signature(b"s3cret", BODY, None));
    assert!(!verify_signature(b"s3cret", BODY, Some("")));
    assert!(!verify_signature(
        b"s3cret",
        BODY,
        Some(&header.replace("sha256=", "sha1="))
    ));
    assert!(!verify_signature(
        b"s3cret",
        BODY,
        Some(&header[..header.len() - 2])
    ));
    assert!(!verify_signature(b"s3cret", BODY, Some("sha256=zz")));
    assert!(!verify_signature(b"", BODY, Some(&sign(b"", BODY))));
    let gitea = header.trim_start_matches("sha256=");
    assert!(verify_gitea_signature(b"s3cret", BODY, Some(gitea)));
    assert!(!verify_gitea_signature(b"other", BODY, Some(gitea)));
}

#[test]
fn known_hmac_sha256_vector() {
    // RFC 4231 test case 2.
    let header = sign(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        header,
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn github_push_payload_becomes_a_ref_update() {
    let push = parse_push(BODY).unwrap();
    assert!(push.update.is_created());
    assert_eq!(push.update.kind(), RefKind::Branch("main"));
    assert_eq!(push.repository.as_deref(), Some("acme/rocket"));
    assert_eq!(push.pusher, "alice");
}

#[test]
fn gitea_push_payload_and_deletions() {
    let gitea = br#"{"ref":"refs/tags/v2","before":"2222222222222222222222222222222222222222","after":"0000000000000000000000000000000000000000","compare_url":"","commits":[],"repository":{"full_name":"acme/rocket"},"pusher":{"login":"bob","username":"bob"},"sender":{"login":"bob"}}"#;
    let push = parse_push(gitea).unwrap();
    assert!(push.update.is_deleted());
    assert_eq!(push.update.kind(), RefKind::Tag("v2"));
    assert_eq!(push.pusher, "bob");
    assert!(parse_push(b"{not json").is_err());
    assert!(parse_push(br#"{"ref":"refs/heads/x","before":"1"}"#).is_err());
}

// --- schedules --------------------------------------------------------------------------------

#[test]
fn next_fire_in_utc() {
    let cases = [
        (
            "*/15 * * * *",
            "2024-01-01T10:07:00Z",
            "2024-01-01T10:15:00Z",
        ),
        (
            "*/15 * * * *",
            "2024-01-01T10:15:00Z",
            "2024-01-01T10:30:00Z",
        ),
        (
            "30 4-6 * * *",
            "2024-01-01T05:31:00Z",
            "2024-01-01T06:30:00Z",
        ),
        (
            "0 0 * * MON",
            "2024-01-03T00:00:00Z",
            "2024-01-08T00:00:00Z",
        ),
        (
            "0 12 1 JAN *",
            "2024-06-01T00:00:00Z",
            "2025-01-01T12:00:00Z",
        ),
        // GitHub's own example: minute 20, then every 15 minutes to 59.
        (
            "20/15 * * * *",
            "2024-01-01T10:36:00Z",
            "2024-01-01T10:50:00Z",
        ),
        (
            "20/15 * * * *",
            "2024-01-01T10:51:00Z",
            "2024-01-01T11:20:00Z",
        ),
        // POSIX: both day fields restricted means either day fires.
        (
            "0 0 13 * FRI",
            "2024-09-01T00:00:00Z",
            "2024-09-06T00:00:00Z",
        ),
    ];
    for (cron, after, expected) in cases {
        assert_eq!(
            next_fire(cron, at(after)),
            Some(at(expected)),
            "{cron} after {after}"
        );
    }
}

#[test]
fn github_cron_syntax_only() {
    for bad in [
        "@daily",
        "* * * *",
        "0 * * * * *",
        "0 0 L * *",
        "0 0 ? * *",
        "0 0 1W * *",
        "x * * * *",
    ] {
        assert!(
            CronSchedule::parse(bad, None).is_err(),
            "{bad} should be rejected"
        );
        assert_eq!(next_fire(bad, at("2024-01-01T00:00:00Z")), None);
    }
}

#[test]
fn timezone_schedules_fire_in_their_zone() {
    let Ok(schedule) = CronSchedule::parse("0 9 * * *", Some("Europe/Paris")) else {
        // No time zone database on this machine: nothing to check.
        return;
    };
    // 09:00 in Paris in winter is 08:00 UTC.
    assert_eq!(
        schedule.next_fire(at("2024-01-15T00:00:00Z")),
        Some(at("2024-01-15T08:00:00Z"))
    );
    assert!(CronSchedule::parse("0 9 * * *", Some("Mars/Olympus")).is_err());
}

#[test]
fn misfire_policies() {
    let hourly = "0 * * * *";
    let last = Some(at("2024-01-01T10:00:00Z"));
    // The engine was down from 10:00 to 13:30: 11:00, 12:00 and 13:00 were missed.
    let now = at("2024-01-01T13:30:00Z");
    assert_eq!(
        due(hourly, last, now, MisfirePolicy::RunOnce),
        [at("2024-01-01T13:00:00Z")]
    );
    assert_eq!(due(hourly, last, now, MisfirePolicy::Skip), []);
    assert_eq!(
        due(hourly, last, now, MisfirePolicy::RunAll),
        [
            at("2024-01-01T11:00:00Z"),
            at("2024-01-01T12:00:00Z"),
            at("2024-01-01T13:00:00Z")
        ]
    );
    assert_eq!(MisfirePolicy::default(), MisfirePolicy::RunOnce);
}

#[test]
fn on_time_fires_run_under_every_policy() {
    let last = Some(at("2024-01-01T10:00:00Z"));
    let now = at("2024-01-01T11:00:20Z");
    for policy in [
        MisfirePolicy::RunOnce,
        MisfirePolicy::Skip,
        MisfirePolicy::RunAll,
    ] {
        assert_eq!(
            due("0 * * * *", last, now, policy),
            [at("2024-01-01T11:00:00Z")],
            "{policy:?}"
        );
    }
    // Nothing new since the last fire; a fire at exactly `now` is due; a first sighting is not.
    assert_eq!(
        due(
            "0 * * * *",
            last,
            at("2024-01-01T10:59:59Z"),
            MisfirePolicy::RunAll
        ),
        []
    );
    assert_eq!(
        due(
            "0 * * * *",
            last,
            at("2024-01-01T11:00:00Z"),
            MisfirePolicy::Skip
        ),
        [at("2024-01-01T11:00:00Z")]
    );
    assert_eq!(due("0 * * * *", None, now, MisfirePolicy::RunAll), []);
}

#[test]
fn run_all_is_capped_to_the_latest_fires() {
    let fires = due(
        "* * * * *",
        Some(at("2024-01-01T00:00:00Z")),
        at("2024-03-01T00:00:00Z"),
        MisfirePolicy::RunAll,
    );
    assert_eq!(fires.len(), MAX_CATCH_UP_FIRES);
    assert_eq!(fires.last(), Some(&at("2024-03-01T00:00:00Z")));
    assert!(fires.windows(2).all(|pair| pair[0] < pair[1]));
}

#[test]
fn schedules_are_read_from_workflow_files() {
    let job = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";
    let files = vec![
        WorkflowFile {
            path: ".github/workflows/nightly.yml".into(),
            bytes: format!(
                "on:\n  schedule:\n    - cron: '0 3 * * *'\n    - cron: '30 1 * * SUN'\n{job}"
            )
            .into_bytes(),
        },
        WorkflowFile {
            path: ".github/workflows/push.yml".into(),
            bytes: format!("on: push\n{job}").into_bytes(),
        },
    ];
    let (schedules, errors) = schedules_in(&files);
    assert!(errors.is_empty(), "{errors:?}");
    let crons: Vec<&str> = schedules.iter().map(|s| s.schedule.text.as_str()).collect();
    assert_eq!(crons, ["0 3 * * *", "30 1 * * SUN"]);
    assert!(schedules.iter().all(|s| s.file.ends_with("nightly.yml")));
}
