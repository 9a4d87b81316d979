//! Table tests for the planner: every behaviour of issue 14 and each complaint of
//! PROVISIONING.md §4. Each test runs the planner, and where the behaviour spans several
//! reconcile runs, applies the plan to a simulated provider and plans again.

use super::*;

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

const ZONES: [&str; 3] = ["a", "b", "c"];

fn spec(desired: u32) -> GroupSpec {
    GroupSpec {
        zones: ZONES.iter().map(|z| z.to_string()).collect(),
        revision: 1,
        min: 0,
        max: 100,
        desired,
        distribution: Distribution::Balanced,
        scale_in: ScaleInOrder::OldestFirst,
        health_grace: Duration::seconds(60),
        repair_budget_percent: 30,
        max_surge: RolloutBudget::Count(1),
        max_unavailable: RolloutBudget::Count(0),
        capacity_retry_after: Duration::seconds(120),
    }
}

const OK: StatusChecks = StatusChecks {
    instance: CheckStatus::Ok,
    system: CheckStatus::Ok,
};
const INSTANCE_IMPAIRED: StatusChecks = StatusChecks {
    instance: CheckStatus::Impaired,
    system: CheckStatus::Ok,
};
const SYSTEM_IMPAIRED: StatusChecks = StatusChecks {
    instance: CheckStatus::Ok,
    system: CheckStatus::Impaired,
};

/// A running, healthy instance launched `age` seconds before `t0`.
fn inst(id: &str, zone: &str, revision: i64, age: i64) -> ObservedInstance {
    ObservedInstance {
        id: id.into(),
        zone: zone.into(),
        revision,
        state: InstanceState::Running,
        health: Health::Healthy,
        checks: Some(OK),
        launched_at: t0() - Duration::seconds(age),
        protected: false,
    }
}

/// `per_zone` running instances of `revision` in each zone, ids `<zone><n>`, older first.
fn fleet(per_zone: &[(&str, u32)], revision: i64) -> Vec<ObservedInstance> {
    let mut out = Vec::new();
    for (zone, n) in per_zone {
        for k in 0..*n {
            out.push(inst(
                &format!("{zone}{k}"),
                zone,
                revision,
                1000 - i64::from(k),
            ));
        }
    }
    out
}

fn counts(instances: &[ObservedInstance]) -> Vec<u32> {
    ZONES
        .iter()
        .map(|z| {
            instances
                .iter()
                .filter(|i| i.zone == *z && !i.state.is_gone())
                .count() as u32
        })
        .collect()
}

fn running(instances: &[ObservedInstance]) -> u32 {
    instances
        .iter()
        .filter(|i| i.state == InstanceState::Running)
        .count() as u32
}

/// A provider: applies a plan's steps. New instances start `pending`; `settle` makes them
/// running (the next observation).
struct Sim {
    instances: Vec<ObservedInstance>,
    next: u32,
    now: OffsetDateTime,
}

impl Sim {
    fn new(instances: Vec<ObservedInstance>) -> Sim {
        Sim {
            instances,
            next: 0,
            now: t0(),
        }
    }

    fn apply(&mut self, plan: &GroupPlan) {
        for step in &plan.steps {
            match step {
                Step::Launch {
                    zone,
                    count,
                    revision,
                } => {
                    for _ in 0..*count {
                        self.next += 1;
                        self.instances.push(ObservedInstance {
                            id: format!("new{}", self.next),
                            zone: zone.clone(),
                            revision: *revision,
                            state: InstanceState::Pending,
                            health: Health::Unknown,
                            checks: None,
                            launched_at: self.now,
                            protected: false,
                        });
                    }
                }
                Step::Terminate { ids, .. } => {
                    for i in self.instances.iter_mut() {
                        if ids.contains(&i.id) {
                            i.state = InstanceState::Terminated;
                        }
                    }
                }
            }
        }
    }

    fn settle(&mut self) {
        self.now += Duration::seconds(10);
        for i in self.instances.iter_mut() {
            if i.state == InstanceState::Pending {
                i.state = InstanceState::Running;
                i.health = Health::Healthy;
            }
        }
    }

    /// Plans and applies until converged (at most `max` runs), checking `invariant` on what
    /// is running after every step. Returns the number of runs.
    fn converge(
        &mut self,
        spec: &GroupSpec,
        failures: &[CapacityFailure],
        max: usize,
        invariant: impl Fn(&[ObservedInstance]),
    ) -> usize {
        for run in 0..max {
            let p = plan(spec, &self.instances, failures, self.now);
            if p.converged {
                return run;
            }
            self.apply(&p);
            invariant(&self.instances);
            self.settle();
            invariant(&self.instances);
        }
        panic!(
            "not converged after {max} runs: {:?}",
            counts(&self.instances)
        );
    }
}

fn failure(zone: &str) -> CapacityFailure {
    CapacityFailure {
        zone: zone.into(),
        at: t0(),
        message: "InsufficientInstanceCapacity: We currently do not have sufficient t3.micro capacity in the Availability Zone you requested".into(),
    }
}

#[test]
fn planner_twelve_over_three_zones_is_four_each_in_one_call_per_zone() {
    let p = plan(&spec(12), &[], &[], t0());
    assert_eq!(
        p.launches(),
        BTreeMap::from([("a".into(), 4), ("b".into(), 4), ("c".into(), 4)])
    );
    assert_eq!(p.steps.len(), 3, "one batched launch per zone");
    assert!(!p.converged);
    let mut sim = Sim::new(Vec::new());
    sim.converge(&spec(12), &[], 5, |_| {});
    assert_eq!(counts(&sim.instances), vec![4, 4, 4]);
}

#[test]
fn planner_scale_twelve_to_seven_is_three_two_two() {
    let mut sim = Sim::new(fleet(&[("a", 4), ("b", 4), ("c", 4)], 1));
    let p = plan(&spec(7), &sim.instances, &[], t0());
    assert_eq!(p.terminations().len(), 5);
    assert!(p.launches().is_empty());
    sim.converge(&spec(7), &[], 5, |_| {});
    let mut c = counts(&sim.instances);
    c.sort();
    assert_eq!(c, vec![2, 2, 3]);
}

#[test]
fn planner_scale_in_never_touches_protected_instances() {
    let mut instances = fleet(&[("a", 4), ("b", 4), ("c", 4)], 1);
    // Everything in zone a is protected: zone a keeps its 4, the others give up the rest.
    for i in instances.iter_mut().filter(|i| i.zone == "a") {
        i.protected = true;
    }
    let p = plan(&spec(7), &instances, &[], t0());
    let gone = p.terminations();
    assert_eq!(gone.len(), 5);
    assert!(gone.iter().all(|id| !id.starts_with('a')), "{gone:?}");
    // Nothing left to give up: the plan says what blocks.
    for i in instances.iter_mut() {
        i.protected = true;
    }
    let p = plan(&spec(7), &instances, &[], t0());
    assert!(p.terminations().is_empty());
    assert!(!p.converged);
    assert!(p.waiting[0].contains("protected"), "{:?}", p.waiting);
}

#[test]
fn planner_scale_in_takes_zone_balance_then_old_revision_then_age() {
    let mut s = spec(5);
    s.revision = 2;
    // a: 3 (one on revision 1, the newest), b: 2, c: 1 → desired 5 → take one from a.
    let mut instances = vec![
        inst("a-old-rev", "a", 1, 10),
        inst("a-oldest", "a", 2, 500),
        inst("a-newest", "a", 2, 5),
        inst("b1", "b", 1, 900),
        inst("b2", "b", 2, 900),
        inst("c1", "c", 2, 900),
    ];
    let p = plan(&s, &instances, &[], t0());
    let scale_in: Vec<String> = p
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::Terminate {
                ids,
                reason: TerminateReason::ScaleIn,
                ..
            } => Some(ids.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    // Zone balance beats revision (b1 is old too, but b is not over its share).
    assert_eq!(scale_in, vec!["a-old-rev".to_string()]);

    // Same revision everywhere: oldest or newest decides.
    for i in instances.iter_mut() {
        i.revision = 2;
    }
    let p = plan(&s, &instances, &[], t0());
    assert_eq!(p.terminations(), vec!["a-oldest".to_string()]);
    s.scale_in = ScaleInOrder::NewestFirst;
    let p = plan(&s, &instances, &[], t0());
    assert_eq!(p.terminations(), vec!["a-newest".to_string()]);
}

#[test]
fn planner_capacity_failure_balanced_fills_other_zones_then_rebalances_surge_first() {
    let s = spec(12);
    let fail = [failure("a")];
    let p = plan(&s, &[], &fail, t0());
    assert_eq!(
        p.launches(),
        BTreeMap::from([("b".into(), 6), ("c".into(), 6)])
    );
    assert!(
        p.waiting[0].contains("InsufficientInstanceCapacity"),
        "{:?}",
        p.waiting
    );
    let z = p
        .zones
        .iter()
        .find(|z| z.zone == "a")
        .map(|z| z.capacity_failure.clone());
    assert!(matches!(z, Some(Some(ref m)) if m.contains("capacity")));
    let mut sim = Sim::new(Vec::new());
    sim.apply(&p);
    sim.settle();
    let p = plan(&s, &sim.instances, &fail, sim.now);
    assert!(p.steps.is_empty());
    let imbalance = p.condition(GroupCondition::ZoneImbalanced).cloned();
    assert!(matches!(imbalance, Some(ref c) if c.active && c.reason == "CapacityUnavailable"));

    // The zone recovers: launch in it first, and only take from b and c once the new
    // instances run; never fewer than 12 running.
    let later = sim.now + Duration::seconds(600);
    sim.now = later;
    let p = plan(&s, &sim.instances, &fail, sim.now);
    assert_eq!(p.launches(), BTreeMap::from([("a".into(), 4)]));
    assert!(p.terminations().is_empty(), "surge first: {:?}", p.steps);
    sim.converge(&s, &fail, 5, |i| assert!(running(i) >= 12));
    assert_eq!(counts(&sim.instances), vec![4, 4, 4]);
    let p = plan(&s, &sim.instances, &fail, sim.now);
    assert!(!p
        .condition(GroupCondition::ZoneImbalanced)
        .is_some_and(|c| c.active));
}

#[test]
fn planner_capacity_failure_even_strict_waits_and_says_why() {
    let mut s = spec(12);
    s.distribution = Distribution::EvenStrict;
    let fail = [failure("a")];
    let p = plan(&s, &[], &fail, t0());
    // Zones differ by at most one: b and c may hold one more than a (zero).
    assert_eq!(
        p.launches(),
        BTreeMap::from([("b".into(), 1), ("c".into(), 1)])
    );
    assert!(
        p.waiting
            .iter()
            .any(|w| w.contains("zone a cannot launch 4")),
        "{:?}",
        p.waiting
    );
    assert!(
        p.waiting.iter().any(|w| w.contains("even-strict")),
        "{:?}",
        p.waiting
    );
    assert!(!p.converged);
}

#[test]
fn planner_capacity_failure_any_fills_wherever_capacity_is() {
    let mut s = spec(12);
    s.distribution = Distribution::Any;
    let p = plan(&s, &[], &[failure("a"), failure("b")], t0());
    assert_eq!(p.launches(), BTreeMap::from([("c".into(), 12)]));
    // No rebalance later.
    let mut sim = Sim::new(Vec::new());
    sim.apply(&p);
    sim.settle();
    let p = plan(&s, &sim.instances, &[], sim.now);
    assert!(p.converged, "{p:?}");
}

#[test]
fn planner_rebalances_after_manual_removals() {
    // Someone terminated three instances in zone b by hand: they come back in b.
    let s = spec(12);
    let mut instances = fleet(&[("a", 4), ("b", 4), ("c", 4)], 1);
    for i in instances.iter_mut().filter(|i| i.zone == "b").take(3) {
        i.state = InstanceState::Terminated;
    }
    let p = plan(&s, &instances, &[], t0());
    assert_eq!(p.launches(), BTreeMap::from([("b".into(), 3)]));
    assert!(p.terminations().is_empty());
}

#[test]
fn planner_repairs_stopped_and_unhealthy_within_budget_and_respects_grace() {
    let s = spec(12);
    let mut instances = fleet(&[("a", 4), ("b", 4), ("c", 4)], 1);
    instances[0].state = InstanceState::Stopped;
    instances[5].health = Health::Unhealthy; // launched long ago: past grace
    let p = plan(&s, &instances, &[], t0());
    let mut gone = p.terminations();
    gone.sort();
    assert_eq!(gone, vec!["a0".to_string(), "b1".to_string()]);
    assert_eq!(
        p.launches(),
        BTreeMap::from([("a".into(), 1), ("b".into(), 1)])
    );

    // Unhealthy but within its grace period: still starting, left alone.
    let mut young = fleet(&[("a", 4), ("b", 4), ("c", 4)], 1);
    young[0].health = Health::Unhealthy;
    young[0].launched_at = t0() - Duration::seconds(10);
    let p = plan(&s, &young, &[], t0());
    assert!(p.steps.is_empty(), "{:?}", p.steps);
}

#[test]
fn planner_repair_budget_exceeded_raises_degraded_instead_of_replacing() {
    let s = spec(12); // 30% of 12 = 3 at once
    let mut instances = fleet(&[("a", 4), ("b", 4), ("c", 4)], 1);
    for i in instances.iter_mut().take(5) {
        i.health = Health::Unhealthy;
    }
    let p = plan(&s, &instances, &[], t0());
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    let d = p.condition(GroupCondition::Degraded).cloned();
    assert!(
        matches!(d, Some(ref c) if c.active && c.reason == "RepairBudgetExceeded"),
        "{d:?}"
    );
    // Three at once is within budget.
    for i in instances.iter_mut().skip(3) {
        i.health = Health::Healthy;
    }
    let p = plan(&s, &instances, &[], t0());
    assert_eq!(p.terminations().len(), 3);
    assert!(!p
        .condition(GroupCondition::Degraded)
        .is_some_and(|c| c.active));
}

/// EC2's status checks: a running instance past its grace with a check `impaired` is broken
/// like a stopped one; within grace it is left alone (and not counted as ready).
#[test]
fn planner_treats_impaired_status_checks_as_unhealthy() {
    struct Case {
        name: &'static str,
        checks: &'static [(usize, StatusChecks, i64)], // (instance, checks, age in seconds)
        replaced: &'static [&'static str],
        degraded: bool,
    }
    let cases = [
        Case {
            name: "one instance check impaired past grace: replaced",
            checks: &[(0, INSTANCE_IMPAIRED, 1000)],
            replaced: &["a0"],
            degraded: false,
        },
        Case {
            name: "one system check impaired past grace: replaced",
            checks: &[(5, SYSTEM_IMPAIRED, 1000)],
            replaced: &["b1"],
            degraded: false,
        },
        Case {
            name: "impaired within grace: still starting, not replaced",
            checks: &[(0, INSTANCE_IMPAIRED, 10)],
            replaced: &[],
            degraded: false,
        },
        Case {
            name: "three impaired of 12 (budget 30% = 3): all replaced",
            checks: &[
                (0, INSTANCE_IMPAIRED, 1000),
                (4, SYSTEM_IMPAIRED, 1000),
                (8, INSTANCE_IMPAIRED, 1000),
            ],
            replaced: &["a0", "b0", "c0"],
            degraded: false,
        },
        Case {
            name: "four impaired of 12: over budget, none replaced, Degraded",
            checks: &[
                (0, INSTANCE_IMPAIRED, 1000),
                (1, INSTANCE_IMPAIRED, 1000),
                (4, SYSTEM_IMPAIRED, 1000),
                (8, INSTANCE_IMPAIRED, 1000),
            ],
            replaced: &[],
            degraded: true,
        },
        Case {
            name: "four impaired, one within grace: three counted, all three replaced",
            checks: &[
                (0, INSTANCE_IMPAIRED, 1000),
                (1, INSTANCE_IMPAIRED, 10),
                (4, SYSTEM_IMPAIRED, 1000),
                (8, INSTANCE_IMPAIRED, 1000),
            ],
            replaced: &["a0", "b0", "c0"],
            degraded: false,
        },
        Case {
            name: "checks not reported (initializing): left alone",
            checks: &[(
                2,
                StatusChecks {
                    instance: CheckStatus::Initializing,
                    system: CheckStatus::Initializing,
                },
                1000,
            )],
            replaced: &[],
            degraded: false,
        },
    ];
    for case in cases {
        let s = spec(12); // grace 60 s, repair budget 30%
        let mut instances = fleet(&[("a", 4), ("b", 4), ("c", 4)], 1);
        for (i, checks, age) in case.checks {
            instances[*i].checks = Some(*checks);
            instances[*i].launched_at = t0() - Duration::seconds(*age);
        }
        let p = plan(&s, &instances, &[], t0());
        let mut gone = p.terminations();
        gone.sort();
        assert_eq!(gone, case.replaced, "{}", case.name);
        assert!(
            p.steps.iter().all(|step| matches!(
                step,
                Step::Launch { .. }
                    | Step::Terminate {
                        reason: TerminateReason::Repair,
                        ..
                    }
            )),
            "{}: {:?}",
            case.name,
            p.steps
        );
        // Each replaced instance is launched again in its own zone, in the same step.
        let mut launched: Vec<(String, u32)> = p.launches().into_iter().collect();
        launched.sort();
        let mut expected: BTreeMap<String, u32> = BTreeMap::new();
        for id in case.replaced {
            *expected.entry(id[..1].to_string()).or_default() += 1;
        }
        assert_eq!(
            launched,
            expected.into_iter().collect::<Vec<_>>(),
            "{}",
            case.name
        );
        let degraded = p.condition(GroupCondition::Degraded).cloned();
        assert_eq!(
            degraded.as_ref().is_some_and(|c| c.active),
            case.degraded,
            "{}: {degraded:?}",
            case.name
        );
        if case.degraded {
            let message = degraded.map(|c| c.message).unwrap_or_default();
            assert!(
                message.contains("a0 (instance status impaired)")
                    && message.contains("b0 (system status impaired)"),
                "{}: {message}",
                case.name
            );
            assert!(
                p.waiting
                    .iter()
                    .any(|w| w.starts_with("repair budget exceeded")),
                "{}: {:?}",
                case.name,
                p.waiting
            );
        }
        // Within grace the group says what it waits for.
        for (i, checks, age) in case.checks {
            if checks.impaired() && *age < 60 {
                let id = &instances[*i].id;
                assert!(
                    p.waiting.iter().any(|w| w.starts_with(&format!("{id}: "))
                        && w.contains("within its health grace period (60 s)")),
                    "{}: {:?}",
                    case.name,
                    p.waiting
                );
            }
        }
        // An impaired instance is never ready: the group is not converged while one remains.
        let impaired = case.checks.iter().filter(|(_, c, _)| c.impaired()).count();
        let impaired_left = impaired > case.replaced.len();
        if impaired_left {
            assert!(!p.converged, "{}", case.name);
        }
    }
}

/// A group over its repair budget is Degraded and keeps its instances; when the checks pass
/// again (the fault is lifted) it is healthy and converged without anything replaced.
#[test]
fn planner_degraded_by_impaired_checks_recovers_when_they_pass() {
    let mut s = spec(4);
    s.repair_budget_percent = 25; // one of four at once
    let mut instances = fleet(&[("a", 2), ("b", 1), ("c", 1)], 1);
    instances[0].checks = Some(INSTANCE_IMPAIRED);
    instances[2].checks = Some(INSTANCE_IMPAIRED);
    let p = plan(&s, &instances, &[], t0());
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert!(!p.converged);
    assert!(p
        .condition(GroupCondition::Degraded)
        .is_some_and(|c| c.active && c.reason == "RepairBudgetExceeded"));
    for i in &mut instances {
        i.checks = Some(OK);
    }
    let p = plan(&s, &instances, &[], t0());
    assert!(p.steps.is_empty() && p.converged, "{p:?}");
    assert!(!p
        .condition(GroupCondition::Degraded)
        .is_some_and(|c| c.active));
}

#[test]
fn planner_rolling_update_with_max_unavailable_zero_never_below_desired() {
    let mut s = spec(12);
    s.revision = 2;
    s.max_surge = RolloutBudget::Percent(25);
    s.max_unavailable = RolloutBudget::Count(0);
    let mut sim = Sim::new(fleet(&[("a", 4), ("b", 4), ("c", 4)], 1));
    let p = plan(&s, &sim.instances, &[], t0());
    // 25% of 4 per zone = 1 surge each, shown in the plan.
    assert!(p
        .zones
        .iter()
        .all(|z| z.max_surge == 1 && z.max_unavailable == 0));
    assert!(p.terminations().is_empty(), "surge first");
    let runs = sim.converge(&s, &[], 40, |i| assert!(running(i) >= 12, "{}", running(i)));
    assert!(runs > 1);
    let live: Vec<&ObservedInstance> = sim
        .instances
        .iter()
        .filter(|i| !i.state.is_gone())
        .collect();
    assert_eq!(live.len(), 12);
    assert!(live.iter().all(|i| i.revision == 2));
    assert_eq!(counts(&sim.instances), vec![4, 4, 4]);
}

#[test]
fn planner_rolling_update_with_max_unavailable_replaces_in_place() {
    let mut s = spec(6);
    s.revision = 2;
    s.max_surge = RolloutBudget::Count(0);
    s.max_unavailable = RolloutBudget::Percent(50);
    let mut sim = Sim::new(fleet(&[("a", 2), ("b", 2), ("c", 2)], 1));
    let p = plan(&s, &sim.instances, &[], t0());
    assert_eq!(p.terminations().len(), 3, "{:?}", p.steps);
    assert_eq!(p.launches().values().sum::<u32>(), 3);
    sim.converge(&s, &[], 10, |i| assert!(running(i) >= 3));
    assert!(sim
        .instances
        .iter()
        .filter(|i| !i.state.is_gone())
        .all(|i| i.revision == 2));
}

#[test]
fn planner_one_instance_group_rolls_without_downtime() {
    // "Min healthy 100%" must not kill the only instance: surge one, then retire the old one.
    let mut s = spec(1);
    s.zones = vec!["a".into()];
    s.revision = 2;
    s.max_surge = RolloutBudget::Count(0);
    s.max_unavailable = RolloutBudget::Count(0);
    let mut sim = Sim::new(vec![inst("only", "a", 1, 100)]);
    let p = plan(&s, &sim.instances, &[], t0());
    assert_eq!(p.launches(), BTreeMap::from([("a".into(), 1)]));
    assert!(p.terminations().is_empty());
    sim.converge(&s, &[], 5, |i| assert!(running(i) >= 1));
    let live: Vec<&ObservedInstance> = sim
        .instances
        .iter()
        .filter(|i| !i.state.is_gone())
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].revision, 2);
}

#[test]
fn planner_count_budget_is_for_the_group_not_per_zone() {
    let mut s = spec(12);
    s.revision = 2;
    s.max_surge = RolloutBudget::Count(1);
    s.max_unavailable = RolloutBudget::Count(0);
    let mut sim = Sim::new(fleet(&[("a", 4), ("b", 4), ("c", 4)], 1));
    let p = plan(&s, &sim.instances, &[], t0());
    assert_eq!(p.launches().values().sum::<u32>(), 1, "{:?}", p.steps);
    sim.converge(&s, &[], 40, |i| {
        let live = i.iter().filter(|x| !x.state.is_gone()).count();
        assert!(live <= 13, "surge of one at a time: {live}");
        assert!(running(i) >= 12);
    });
}

#[test]
fn planner_protected_instances_are_not_rolled_and_block_nothing_else() {
    let mut s = spec(3);
    s.revision = 2;
    let mut instances = fleet(&[("a", 1), ("b", 1), ("c", 1)], 1);
    instances[0].protected = true;
    let mut sim = Sim::new(instances);
    sim.converge(&s, &[], 20, |i| assert!(running(i) >= 3));
    let live: Vec<&ObservedInstance> = sim
        .instances
        .iter()
        .filter(|i| !i.state.is_gone())
        .collect();
    assert_eq!(live.len(), 3);
    assert!(live.iter().any(|i| i.id == "a0" && i.revision == 1));
}

#[test]
fn planner_desired_is_clamped_and_kept() {
    // The spec carries `desired`; a change that omits it keeps the stored value (the write
    // path merges), so the planner sees the same desired and plans nothing.
    let s = spec(12);
    let instances = fleet(&[("a", 4), ("b", 4), ("c", 4)], 1);
    let p = plan(&s, &instances, &[], t0());
    assert!(p.converged);
    let mut widened = s.clone();
    widened.max = 50;
    widened.min = 2;
    assert!(plan(&widened, &instances, &[], t0()).converged);
    let mut narrowed = s.clone();
    narrowed.max = 9;
    let p = plan(&narrowed, &instances, &[], t0());
    assert_eq!(p.desired, 9);
    assert_eq!(p.terminations().len(), 3);
    let mut raised = s;
    raised.min = 15;
    assert_eq!(plan(&raised, &instances, &[], t0()).desired, 15);
}

#[test]
fn planner_moves_instances_out_of_a_removed_zone_surge_first() {
    let mut s = spec(6);
    s.zones = vec!["a".into(), "b".into()];
    let mut sim = Sim::new(fleet(&[("a", 2), ("b", 2), ("c", 2)], 1));
    let p = plan(&s, &sim.instances, &[], t0());
    assert_eq!(
        p.launches(),
        BTreeMap::from([("a".into(), 1), ("b".into(), 1)])
    );
    assert!(p.terminations().is_empty());
    sim.converge(&s, &[], 5, |i| assert!(running(i) >= 6));
    assert_eq!(counts(&sim.instances), vec![3, 3, 0]);
}

#[test]
fn planner_launching_rows_count_so_nothing_is_launched_twice() {
    let s = spec(3);
    let mut instances = fleet(&[("a", 1)], 1);
    let mut w = inst("tok-b", "b", 1, 0);
    w.state = InstanceState::Launching;
    instances.push(w);
    let p = plan(&s, &instances, &[], t0());
    assert_eq!(p.launches(), BTreeMap::from([("c".into(), 1)]));
}
