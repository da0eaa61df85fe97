//! The protection gate in front of an environment: may this run (or this release promotion)
//! go ahead now? Approvals, the wait timer and the ref policy of a [`Protection`].
//!
//! Approvals are keyed by (run, environment): one approval covers every job of that run that
//! deploys to that environment, matrix legs and re-runs of failed jobs included (the key has no
//! job in it). A rejection by any approver closes the gate for the run. The same gate, with the
//! environment's `release_protection`, guards release promotions (keyed by release tag).
//!
//! Who may approve is checked when a decision is recorded ([`approve`]); [`evaluate_gate`] then
//! counts the recorded decisions as they are (it has no group membership to re-check).
//!
//! Decisions are pure: the caller passes the approvals recorded so far and `now`, and stores
//! what comes back. This module must not read a clock or the store.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::audit::{AuditAction, AuditEntry, AuditSubject, SYSTEM_ACTOR};
use super::environment::{Approver, Groups, Protection};

/// What approvals are recorded against: one run in one environment, or one release
/// promotion in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ApprovalKey {
    /// The run, or the release tag, the approvals are for.
    pub subject: AuditSubject,
    /// The environment they open, e.g. `production`.
    pub environment: String,
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let the run or promotion go ahead.
    Approve,
    /// Stop it: the gate closes for the run or promotion.
    Reject,
}

/// One approver's recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approver's login.
    pub approver: String,
    /// Whether they approved or rejected.
    pub decision: Decision,
    /// When they decided.
    pub at: Timestamp,
    /// What they wrote with the decision, if anything.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Everything the gate looks at besides the policy and the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRequest {
    /// The run (or release promotion) and environment the gate guards.
    pub key: ApprovalKey,
    /// Who triggered the run (or asked for the promotion).
    pub actor: String,
    /// The ref being deployed (`refs/heads/main`, `refs/tags/v1.2.0`).
    pub git_ref: String,
    /// Decisions recorded so far for `key`, oldest first.
    pub approvals: Vec<Approval>,
    /// When the job reached the environment; the wait timer counts from here.
    pub waiting_since: Timestamp,
}

/// Where the gate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GateState {
    /// Not yet: approvals are missing and/or the wait timer runs.
    Waiting {
        /// How many more distinct approvals the gate needs.
        missing_approvals: u32,
        /// When the wait timer ends, if it has not yet.
        wait_until: Option<Timestamp>,
        /// Why, in sentences for the UI.
        reasons: Vec<String>,
    },
    /// Go ahead.
    Open,
    /// An approver rejected; the job fails.
    Rejected {
        /// The login of the approver who rejected.
        by: String,
        /// What they wrote with the rejection, if anything.
        comment: Option<String>,
    },
    /// The ref may not deploy here; the job fails without asking anyone.
    Refused {
        /// Why the ref may not deploy here, in words.
        reason: String,
    },
}

/// Why an approver's decision was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// The user is not among the environment's approvers (users or group members).
    #[error("`{user}` is not an approver of `{environment}`")]
    NotAnApprover {
        /// The login of the user who tried to decide.
        user: String,
        /// The environment's name.
        environment: String,
    },
    /// The user triggered the run and the environment prevents self-review.
    #[error("`{user}` triggered this run and may not approve it for `{environment}`")]
    SelfReview {
        /// The login of the user who triggered the run.
        user: String,
        /// The environment's name.
        environment: String,
    },
    /// The environment asks for no approval, so there is nothing to decide.
    #[error("`{environment}` needs no approval")]
    NotRequired {
        /// The environment's name.
        environment: String,
    },
    /// The gate already closed (rejected or refused); a decision would change nothing.
    #[error("the gate of `{environment}` is already closed: {reason}")]
    Closed {
        /// The environment's name.
        environment: String,
        /// Why the gate is closed, e.g. an earlier rejection.
        reason: String,
    },
}

/// Evaluates the gate. The order: a refused ref refuses; any rejection rejects; then approvals
/// (distinct approvers, unexpired, not the actor when self-review is prevented) and the wait
/// timer must both be satisfied.
pub fn evaluate_gate(protection: &Protection, request: &GateRequest, now: Timestamp) -> GateState {
    match protection.allows_ref(&request.git_ref) {
        Err(problem) => {
            return GateState::Refused {
                reason: format!(
                    "the ref policy of `{}` is broken: {problem}",
                    request.key.environment
                ),
            };
        }
        Ok(false) => {
            return GateState::Refused {
                reason: format!(
                    "ref `{}` may not deploy to `{}` (allowed: {})",
                    request.git_ref,
                    request.key.environment,
                    describe_ref_policy(protection)
                ),
            };
        }
        Ok(true) => {}
    }
    if let Some(rejection) = request
        .approvals
        .iter()
        .rev()
        .find(|approval| approval.decision == Decision::Reject)
    {
        return GateState::Rejected {
            by: rejection.approver.clone(),
            comment: rejection.comment.clone(),
        };
    }

    let mut reasons = Vec::new();
    let mut counted: HashSet<&str> = HashSet::new();
    for approval in &request.approvals {
        if approval.decision != Decision::Approve {
            continue;
        }
        if protection.prevent_self_review && approval.approver == request.actor {
            continue;
        }
        if let Some(expiry) = protection.approval_expiry
            && expiry.after(approval.at) <= now
        {
            // A later approval by the same person may still count; say so only if it does not.
            continue;
        }
        counted.insert(approval.approver.as_str());
    }
    for approval in &request.approvals {
        if approval.decision == Decision::Approve
            && !counted.contains(approval.approver.as_str())
            && protection
                .approval_expiry
                .is_some_and(|expiry| expiry.after(approval.at) <= now)
        {
            let expired_at = protection
                .approval_expiry
                .map(|expiry| expiry.after(approval.at))
                .unwrap_or(now);
            let reason = format!(
                "the approval by `{}` expired at {expired_at}",
                approval.approver
            );
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
    }
    let approved = u32::try_from(counted.len()).unwrap_or(u32::MAX);
    let missing_approvals = protection.required_approvals.saturating_sub(approved);
    if missing_approvals > 0 {
        reasons.push(format!(
            "{missing_approvals} more approval(s) needed from {}",
            describe_approvers(&protection.approvers)
        ));
    }
    let wait_end = protection.wait.after(request.waiting_since);
    let wait_until = (!protection.wait.is_zero() && now < wait_end).then_some(wait_end);
    if let Some(until) = wait_until {
        reasons.push(format!(
            "the wait timer of {} runs until {until}",
            protection.wait
        ));
    }
    if missing_approvals == 0 && wait_until.is_none() {
        GateState::Open
    } else {
        GateState::Waiting {
            missing_approvals,
            wait_until,
            reasons,
        }
    }
}

/// Records an approver's decision, refusing self-approval (when prevented), non-approvers and
/// decisions on a gate that is already closed. Deciding twice is allowed: both are kept, the
/// approver still counts once, and the later approval restarts its expiry. Returns the approval
/// to store and its audit entry.
pub fn approve(
    protection: &Protection,
    groups: &Groups,
    request: &GateRequest,
    approver: &str,
    decision: Decision,
    comment: Option<String>,
    now: Timestamp,
) -> Result<(Approval, AuditEntry), ApprovalError> {
    let environment = request.key.environment.clone();
    if protection.required_approvals == 0 {
        return Err(ApprovalError::NotRequired { environment });
    }
    if !protection.is_approver(approver, groups) {
        return Err(ApprovalError::NotAnApprover {
            user: approver.to_string(),
            environment,
        });
    }
    if protection.prevent_self_review && approver == request.actor {
        return Err(ApprovalError::SelfReview {
            user: approver.to_string(),
            environment,
        });
    }
    match evaluate_gate(protection, request, now) {
        GateState::Rejected { by, .. } => {
            return Err(ApprovalError::Closed {
                environment,
                reason: format!("`{by}` rejected it"),
            });
        }
        GateState::Refused { reason } => {
            return Err(ApprovalError::Closed {
                environment,
                reason,
            });
        }
        GateState::Open | GateState::Waiting { .. } => {}
    }
    let approval = Approval {
        approver: approver.to_string(),
        decision,
        at: now,
        comment: comment.clone(),
    };
    let action = match decision {
        Decision::Approve => AuditAction::Approved,
        Decision::Reject => AuditAction::Rejected,
    };
    let entry = AuditEntry::new(
        now,
        approver,
        action,
        environment,
        request.key.subject.clone(),
        comment.unwrap_or_default(),
    );
    Ok((approval, entry))
}

/// The audit entry for a gate that reached a decision (opened, refused, rejected); `None`
/// while it waits. The actor is [`SYSTEM_ACTOR`]: the engine observed the decision.
pub fn gate_audit(request: &GateRequest, state: &GateState, now: Timestamp) -> Option<AuditEntry> {
    let (action, reason) = match state {
        GateState::Waiting { .. } => return None,
        GateState::Open => (
            AuditAction::GateOpened,
            "approvals and wait timer satisfied".to_string(),
        ),
        GateState::Refused { reason } => (AuditAction::GateRefused, reason.clone()),
        GateState::Rejected { by, comment } => (
            AuditAction::Rejected,
            match comment {
                Some(comment) => format!("rejected by `{by}`: {comment}"),
                None => format!("rejected by `{by}`"),
            },
        ),
    };
    Some(AuditEntry::new(
        now,
        SYSTEM_ACTOR,
        action,
        request.key.environment.clone(),
        request.key.subject.clone(),
        reason,
    ))
}

impl ApprovalKey {
    /// The key of a run's approvals for an environment (shared by all its jobs there).
    pub fn for_run(run_id: impl Into<String>, environment: impl Into<String>) -> ApprovalKey {
        ApprovalKey {
            subject: AuditSubject::Run {
                run_id: run_id.into(),
            },
            environment: environment.into(),
        }
    }

    /// The key of a release promotion's approvals for an environment.
    pub fn for_release(tag: impl Into<String>, environment: impl Into<String>) -> ApprovalKey {
        ApprovalKey {
            subject: AuditSubject::Release { tag: tag.into() },
            environment: environment.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn describe_approvers(approvers: &[Approver]) -> String {
    if approvers.is_empty() {
        return "anyone".to_string();
    }
    approvers
        .iter()
        .map(|approver| format!("`{approver}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_ref_policy(protection: &Protection) -> String {
    let mut parts = Vec::new();
    if !protection.branches.is_empty() {
        parts.push(format!("branches {}", protection.branches.join(", ")));
    }
    if !protection.tags.is_empty() {
        parts.push(format!("tags {}", protection.tags.join(", ")));
    }
    parts.join("; ")
}

/// The canary approval policy: the protection a canary phase's approval is recorded under.
/// A phase is approved by the environment's approvers, like the gate, and always needs at least
/// one decision; the ref rules are left out (the deployment passed them at the gate). An
/// environment without approvers lets whoever answers (`approver`) decide, as `slipway run`
/// and an unprotected environment expect.
pub fn phase_protection(protection: &Protection, approver: &str) -> Protection {
    let mut phase = protection.clone();
    phase.required_approvals = phase.required_approvals.max(1);
    phase.branches.clear();
    phase.tags.clear();
    if phase.approvers.is_empty() {
        phase.approvers.push(Approver::User(approver.to_string()));
    }
    phase
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::Duration;
    use crate::environment::parse_approvers;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn production() -> Protection {
        Protection {
            required_approvals: 2,
            approvers: parse_approvers("alice,bob,carol").unwrap(),
            prevent_self_review: true,
            wait: Duration::ZERO,
            approval_expiry: None,
            branches: vec!["main".into()],
            tags: vec!["v*".into()],
        }
    }

    /// (approver, decision, when) of one recorded decision.
    type Recorded<'a> = (&'a str, Decision, &'a str);

    fn request(approvals: &[Recorded]) -> GateRequest {
        GateRequest {
            key: ApprovalKey::for_run("42", "production"),
            actor: "alice".into(),
            git_ref: "refs/heads/main".into(),
            approvals: approvals
                .iter()
                .map(|(who, decision, when)| Approval {
                    approver: who.to_string(),
                    decision: *decision,
                    at: at(when),
                    comment: None,
                })
                .collect(),
            waiting_since: at("2026-03-02T10:00:00Z"),
        }
    }

    const NOW: &str = "2026-03-02T11:00:00Z";
    use Decision::{Approve, Reject};

    fn missing(state: &GateState) -> Option<u32> {
        match state {
            GateState::Waiting {
                missing_approvals, ..
            } => Some(*missing_approvals),
            _ => None,
        }
    }

    #[test]
    fn two_approvals_of_three_approvers() {
        let protection = production();
        let cases: &[(&[Recorded], Option<u32>)] = &[
            (&[], Some(2)),
            (&[("bob", Approve, "2026-03-02T10:05:00Z")], Some(1)),
            // Duplicate approvals by one person count once.
            (
                &[
                    ("bob", Approve, "2026-03-02T10:05:00Z"),
                    ("bob", Approve, "2026-03-02T10:06:00Z"),
                ],
                Some(1),
            ),
            // The actor's own approval never counts (recorded before the rule was turned on).
            (
                &[
                    ("bob", Approve, "2026-03-02T10:05:00Z"),
                    ("alice", Approve, "2026-03-02T10:06:00Z"),
                ],
                Some(1),
            ),
            (
                &[
                    ("bob", Approve, "2026-03-02T10:05:00Z"),
                    ("carol", Approve, "2026-03-02T10:06:00Z"),
                ],
                None,
            ),
        ];
        for (approvals, expected_missing) in cases {
            let state = evaluate_gate(&protection, &request(approvals), at(NOW));
            assert_eq!(
                missing(&state),
                *expected_missing,
                "approvals {approvals:?}"
            );
            if expected_missing.is_none() {
                assert_eq!(state, GateState::Open);
            }
        }
        let waiting = evaluate_gate(&protection, &request(&[]), at(NOW));
        assert_eq!(
            waiting,
            GateState::Waiting {
                missing_approvals: 2,
                wait_until: None,
                reasons: vec!["2 more approval(s) needed from `alice`, `bob`, `carol`".to_string()],
            }
        );
    }

    #[test]
    fn self_approval_is_refused_unless_allowed() {
        let protection = production();
        let groups = Groups::default();
        let gate = request(&[]);
        assert_eq!(
            approve(&protection, &groups, &gate, "alice", Approve, None, at(NOW)),
            Err(ApprovalError::SelfReview {
                user: "alice".into(),
                environment: "production".into()
            })
        );
        assert_eq!(
            approve(&protection, &groups, &gate, "alice", Approve, None, at(NOW))
                .unwrap_err()
                .to_string(),
            "`alice` triggered this run and may not approve it for `production`"
        );
        let relaxed = Protection {
            prevent_self_review: false,
            ..production()
        };
        let (approval, entry) = approve(
            &relaxed,
            &groups,
            &gate,
            "alice",
            Approve,
            Some("ship it".into()),
            at(NOW),
        )
        .unwrap();
        assert_eq!(approval.approver, "alice");
        assert_eq!(entry.action, AuditAction::Approved);
        assert_eq!(entry.reason, "ship it");
        let approved = request(&[("alice", Approve, NOW), ("bob", Approve, NOW)]);
        assert_eq!(evaluate_gate(&relaxed, &approved, at(NOW)), GateState::Open);
    }

    #[test]
    fn approvers_are_checked() {
        let mut protection = production();
        protection.approvers = parse_approvers("bob,@ops").unwrap();
        let mut groups = Groups::default();
        groups.members.insert("ops".into(), vec!["erin".into()]);
        let gate = request(&[]);
        assert_eq!(
            approve(
                &protection,
                &groups,
                &gate,
                "mallory",
                Approve,
                None,
                at(NOW)
            )
            .unwrap_err()
            .to_string(),
            "`mallory` is not an approver of `production`"
        );
        let (_, entry) =
            approve(&protection, &groups, &gate, "erin", Approve, None, at(NOW)).unwrap();
        assert_eq!(entry.actor, "erin");
        assert_eq!(
            entry.subject,
            AuditSubject::Run {
                run_id: "42".into()
            }
        );
        let open = Protection {
            required_approvals: 0,
            approvers: Vec::new(),
            ..production()
        };
        assert_eq!(
            approve(&open, &groups, &gate, "bob", Approve, None, at(NOW)),
            Err(ApprovalError::NotRequired {
                environment: "production".into()
            })
        );
    }

    #[test]
    fn approvals_expire() {
        let protection = Protection {
            approval_expiry: Some(Duration::from_mins(30)),
            ..production()
        };
        // bob approved 40 minutes ago: expired; carol 10 minutes ago: counts.
        let gate = request(&[
            ("bob", Approve, "2026-03-02T10:20:00Z"),
            ("carol", Approve, "2026-03-02T10:50:00Z"),
        ]);
        assert_eq!(
            evaluate_gate(&protection, &gate, at(NOW)),
            GateState::Waiting {
                missing_approvals: 1,
                wait_until: None,
                reasons: vec![
                    "the approval by `bob` expired at 2026-03-02T10:50:00Z".to_string(),
                    "1 more approval(s) needed from `alice`, `bob`, `carol`".to_string(),
                ],
            }
        );
        // Exactly at the expiry instant the approval no longer counts.
        let edge = request(&[
            ("bob", Approve, "2026-03-02T10:30:00Z"),
            ("carol", Approve, "2026-03-02T10:50:00Z"),
        ]);
        assert_eq!(
            missing(&evaluate_gate(&protection, &edge, at(NOW))),
            Some(1)
        );
        // bob approving again refreshes it.
        let refreshed = request(&[
            ("bob", Approve, "2026-03-02T10:20:00Z"),
            ("carol", Approve, "2026-03-02T10:50:00Z"),
            ("bob", Approve, "2026-03-02T10:55:00Z"),
        ]);
        assert_eq!(
            evaluate_gate(&protection, &refreshed, at(NOW)),
            GateState::Open
        );
        // Without an expiry, old approvals keep counting.
        assert_eq!(
            evaluate_gate(&production(), &gate, at("2027-01-01T00:00:00Z")),
            GateState::Open
        );
    }

    #[test]
    fn a_rejection_rejects() {
        let protection = production();
        let mut gate = request(&[
            ("bob", Approve, "2026-03-02T10:05:00Z"),
            ("carol", Approve, "2026-03-02T10:06:00Z"),
        ]);
        gate.approvals.push(Approval {
            approver: "carol".into(),
            decision: Reject,
            at: at("2026-03-02T10:07:00Z"),
            comment: Some("wrong build".into()),
        });
        let state = evaluate_gate(&protection, &gate, at(NOW));
        assert_eq!(
            state,
            GateState::Rejected {
                by: "carol".into(),
                comment: Some("wrong build".into())
            }
        );
        let entry = gate_audit(&gate, &state, at(NOW)).unwrap();
        assert_eq!(entry.reason, "rejected by `carol`: wrong build");
        assert_eq!(
            approve(
                &protection,
                &Groups::default(),
                &gate,
                "bob",
                Approve,
                None,
                at(NOW)
            ),
            Err(ApprovalError::Closed {
                environment: "production".into(),
                reason: "`carol` rejected it".into()
            })
        );
    }

    #[test]
    fn wait_timer() {
        let protection = Protection {
            required_approvals: 0,
            approvers: Vec::new(),
            wait: Duration::from_mins(90),
            ..production()
        };
        let gate = request(&[]);
        let cases = [
            ("2026-03-02T10:00:00Z", Some("2026-03-02T11:30:00Z")),
            ("2026-03-02T11:29:59Z", Some("2026-03-02T11:30:00Z")),
            ("2026-03-02T11:30:00Z", None),
            ("2026-03-02T12:00:00Z", None),
        ];
        for (now, wait_until) in cases {
            let state = evaluate_gate(&protection, &gate, at(now));
            match wait_until {
                Some(until) => assert_eq!(
                    state,
                    GateState::Waiting {
                        missing_approvals: 0,
                        wait_until: Some(at(until)),
                        reasons: vec![format!("the wait timer of 1h30m runs until {until}")],
                    },
                    "now {now}"
                ),
                None => assert_eq!(state, GateState::Open, "now {now}"),
            }
        }
        // Approvals and the timer must both be satisfied.
        let both = Protection {
            wait: Duration::from_mins(90),
            ..production()
        };
        let approved = request(&[("bob", Approve, NOW), ("carol", Approve, NOW)]);
        assert_eq!(missing(&evaluate_gate(&both, &approved, at(NOW))), Some(0));
        assert_eq!(
            evaluate_gate(&both, &approved, at("2026-03-02T11:30:00Z")),
            GateState::Open
        );
    }

    #[test]
    fn ref_policy_refuses_before_anything_else() {
        let protection = production();
        let cases = [
            ("refs/heads/main", true),
            ("refs/tags/v1.2.0", true),
            ("refs/heads/feature/x", false),
            ("refs/tags/nightly", false),
            ("refs/pull/7/merge", false),
        ];
        for (git_ref, allowed) in cases {
            let mut gate = request(&[("bob", Approve, NOW), ("carol", Approve, NOW)]);
            gate.git_ref = git_ref.into();
            let state = evaluate_gate(&protection, &gate, at(NOW));
            if allowed {
                assert_eq!(state, GateState::Open, "{git_ref}");
            } else {
                assert_eq!(
                    state,
                    GateState::Refused {
                        reason: format!(
                            "ref `{git_ref}` may not deploy to `production` (allowed: branches main; tags v*)"
                        )
                    },
                    "{git_ref}"
                );
                assert_eq!(
                    gate_audit(&gate, &state, at(NOW)).map(|entry| entry.action),
                    Some(AuditAction::GateRefused)
                );
            }
        }
    }

    #[test]
    fn one_approval_covers_the_run() {
        // Two jobs of run 42 deploying to production share one key, hence one set of approvals;
        // run 43 has its own.
        let first_job = ApprovalKey::for_run("42", "production");
        let second_job = ApprovalKey::for_run("42", "production");
        let other_run = ApprovalKey::for_run("43", "production");
        let other_environment = ApprovalKey::for_run("42", "staging");
        assert_eq!(first_job, second_job);
        assert_ne!(first_job, other_run);
        assert_ne!(first_job, other_environment);
        assert_ne!(first_job, ApprovalKey::for_release("42", "production"));
    }

    #[test]
    fn gate_opening_is_audited_as_the_system() {
        let gate = request(&[("bob", Approve, NOW), ("carol", Approve, NOW)]);
        let state = evaluate_gate(&production(), &gate, at(NOW));
        let entry = gate_audit(&gate, &state, at(NOW)).unwrap();
        assert_eq!(entry.actor, SYSTEM_ACTOR);
        assert_eq!(entry.action, AuditAction::GateOpened);
        assert_eq!(
            gate_audit(
                &request(&[]),
                &evaluate_gate(&production(), &request(&[]), at(NOW)),
                at(NOW)
            ),
            None
        );
    }

    #[test]
    fn canary_phase_policy() {
        // The environment's approvers decide, at least one decision counts, refs do not matter.
        let mut protection = production();
        protection.required_approvals = 0;
        let phase = phase_protection(&protection, "dave");
        assert_eq!(phase.required_approvals, 1);
        assert!(phase.branches.is_empty() && phase.tags.is_empty());
        assert_eq!(phase.approvers, protection.approvers);
        let groups = Groups::default();
        let phase_request = GateRequest {
            git_ref: "refs/heads/feature".into(),
            ..request(&[])
        };
        assert!(
            approve(
                &phase,
                &groups,
                &phase_request,
                "dave",
                Approve,
                None,
                at(NOW)
            )
            .is_err()
        );
        let (approval, _) = approve(
            &phase,
            &groups,
            &phase_request,
            "bob",
            Approve,
            None,
            at(NOW),
        )
        .unwrap();
        let decided = GateRequest {
            approvals: vec![approval],
            ..phase_request
        };
        assert_eq!(evaluate_gate(&phase, &decided, at(NOW)), GateState::Open);
        // Two required stay two.
        assert_eq!(phase_protection(&production(), "x").required_approvals, 2);
        // No approvers: whoever answers decides.
        let open = Protection {
            approvers: Vec::new(),
            ..production()
        };
        let phase = phase_protection(&open, "dave");
        assert_eq!(phase.approvers, vec![Approver::User("dave".into())]);
    }
}
