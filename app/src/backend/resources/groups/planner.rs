//! The group planner: a pure function of the group's spec, the instances observed at the
//! provider and the zones' recent capacity failures, returning bounded steps (launch N in zone
//! Z, terminate these ids) and the conditions to raise (PROVISIONING.md §2.2 and §4).
//!
//! One run of the reconciler applies one plan, then observes again. The planner therefore never
//! plans past what it can see: launches it asked for appear as `launching`/`pending` members,
//! and terminations that would depend on instances not yet running wait for the next run. That
//! is what makes rebalancing and rolling replacement surge-first: an instance is only taken away
//! when enough *running* instances remain.
//!
//! Decisions, in order:
//! 1. Repair: stopped, lost, or unhealthy-after-grace instances (reported unhealthy, or a
//!    status check `impaired`) are replaced, unless more of them than the repair budget are
//!    broken at once; then nothing is replaced and `Degraded` is raised (a cascade of
//!    replacements is how health checks cause outages). Within the grace period an unhealthy
//!    instance is left alone, and not counted as ready either.
//! 2. Targets per zone from `desired` and the distribution, with the zones that recently
//!    refused capacity (`balanced` moves their share elsewhere, `even-strict` waits, `any`
//!    fills wherever capacity is).
//! 3. Terminations: the group's excess over `desired`, chosen by zone balance, then old
//!    template revision, then oldest or newest; never a protected instance; never below
//!    `desired` running instances. Then rolling replacements where `max_unavailable` allows.
//! 4. Launches: each zone's deficit, plus rolling surge where `max_surge` allows, one batched
//!    launch per zone.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::{Duration, OffsetDateTime};

pub use crate::model::groups::{
    CheckStatus, Distribution, Health, InstanceState, RolloutBudget, ScaleInOrder, StatusChecks,
    ZonePlan,
};

/// What the planner needs from the group's spec.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// The group's zones by name, in the order the person gave them (the tie-breaker).
    pub zones: Vec<String>,
    /// The current template revision; instances on a lower one are outdated.
    pub revision: i64,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub distribution: Distribution,
    pub scale_in: ScaleInOrder,
    /// An instance that is unhealthy within this long after launch is still starting.
    pub health_grace: Duration,
    /// Replace unhealthy instances only while at most this share (percent) of `desired` is
    /// unhealthy at once (at least one instance is always repairable).
    pub repair_budget_percent: u32,
    pub max_surge: RolloutBudget,
    pub max_unavailable: RolloutBudget,
    /// A zone that refused capacity within this long is not launched into.
    pub capacity_retry_after: Duration,
}

/// One instance as the reconciler observed it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedInstance {
    /// The provider id, or the write-ahead token while the launch is unconfirmed.
    pub id: String,
    pub zone: String,
    pub revision: i64,
    pub state: InstanceState,
    pub health: Health,
    /// The provider's status checks at this look, while it runs.
    pub checks: Option<StatusChecks>,
    pub launched_at: OffsetDateTime,
    pub protected: bool,
}

impl ObservedInstance {
    /// Reported unhealthy, or a status check `impaired` (grace not considered).
    pub fn unhealthy(&self) -> bool {
        self.health == Health::Unhealthy || self.checks.is_some_and(StatusChecks::impaired)
    }

    /// Why it needs repair, for the job log and `Degraded`.
    fn broken_because(&self) -> String {
        match (self.state, self.checks) {
            (InstanceState::Running, Some(c)) if c.impaired() => c.label(),
            (InstanceState::Running, _) => "unhealthy".into(),
            (state, _) => state.as_str().into(),
        }
    }
}

/// A capacity refusal from the provider (`InsufficientInstanceCapacity`), in its own words.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityFailure {
    pub zone: String,
    pub at: OffsetDateTime,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TerminateReason {
    /// Unhealthy, stopped or lost: replaced.
    Repair,
    /// More instances than `desired`.
    ScaleIn,
    /// Old template revision, replaced within `max_unavailable`.
    Rollout,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// One batched launch call in one zone.
    Launch {
        zone: String,
        count: u32,
        revision: i64,
    },
    Terminate {
        zone: String,
        ids: Vec<String>,
        reason: TerminateReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum GroupCondition {
    Degraded,
    ZoneImbalanced,
}

impl GroupCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupCondition::Degraded => "Degraded",
            GroupCondition::ZoneImbalanced => "ZoneImbalanced",
        }
    }
}

/// A condition the reconciler should set (true) or clear (false).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlannedCondition {
    pub condition: GroupCondition,
    pub active: bool,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupPlan {
    /// `desired` clamped to `[min, max]`.
    pub desired: u32,
    pub steps: Vec<Step>,
    pub zones: Vec<ZonePlan>,
    pub conditions: Vec<PlannedCondition>,
    /// Nothing to do and nothing in flight: the group is Ready.
    pub converged: bool,
    /// Why the group is not converged, for the job log ("waiting for capacity in ...").
    pub waiting: Vec<String>,
}

impl GroupPlan {
    pub fn launches(&self) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for step in &self.steps {
            if let Step::Launch { zone, count, .. } = step {
                *out.entry(zone.clone()).or_insert(0) += count;
            }
        }
        out
    }

    pub fn terminations(&self) -> Vec<String> {
        self.steps
            .iter()
            .flat_map(|s| match s {
                Step::Terminate { ids, .. } => ids.clone(),
                Step::Launch { .. } => Vec::new(),
            })
            .collect()
    }

    pub fn condition(&self, c: GroupCondition) -> Option<&PlannedCondition> {
        self.conditions.iter().find(|p| p.condition == c)
    }
}

/// Spreads `total` over `zones` as evenly as possible; the remainder goes to the zones that
/// already hold the most (fewest moves), ties by the zones' order.
fn spread(total: u32, zones: &[String], have: &BTreeMap<String, u32>) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    if zones.is_empty() {
        return out;
    }
    let n = zones.len() as u32;
    let (base, mut rem) = (total / n, total % n);
    let mut order: Vec<(usize, &String)> = zones.iter().enumerate().collect();
    order.sort_by_key(|(i, z)| (std::cmp::Reverse(have.get(*z).copied().unwrap_or(0)), *i));
    for (_, z) in order {
        let extra = if rem > 0 {
            rem -= 1;
            1
        } else {
            0
        };
        out.insert(z.clone(), base + extra);
    }
    out
}

/// Resolves a rollout budget for each zone. A count is for the whole group, so it is handed
/// to the zones that still have outdated instances, in order (a count of 1 means one instance
/// at a time, not one per zone); a percentage applies to each zone's target, surge rounding up
/// and unavailability down.
fn resolve_budget(
    budget: RolloutBudget,
    surge: bool,
    zones: &[String],
    target: &BTreeMap<String, u32>,
    outdated: &BTreeMap<String, u32>,
) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    match budget {
        RolloutBudget::Count(mut n) => {
            for z in zones {
                let need = outdated.get(z).copied().unwrap_or(0);
                let give = n.min(need);
                n -= give;
                out.insert(z.clone(), give);
            }
        }
        RolloutBudget::Percent(p) => {
            for z in zones {
                let t = u64::from(target.get(z).copied().unwrap_or(0));
                let scaled = t * u64::from(p);
                let v = if surge {
                    scaled.div_ceil(100)
                } else {
                    scaled / 100
                };
                out.insert(z.clone(), u32::try_from(v).unwrap_or(u32::MAX));
            }
        }
    }
    out
}

/// Scale-in preference within a zone: old revision first, then by the termination order.
fn victim_order(
    spec: &GroupSpec,
    a: &ObservedInstance,
    b: &ObservedInstance,
) -> std::cmp::Ordering {
    let age = match spec.scale_in {
        ScaleInOrder::OldestFirst => a.launched_at.cmp(&b.launched_at),
        ScaleInOrder::NewestFirst => b.launched_at.cmp(&a.launched_at),
    };
    a.revision.cmp(&b.revision).then(age).then(a.id.cmp(&b.id))
}

pub fn plan(
    spec: &GroupSpec,
    observed: &[ObservedInstance],
    failures: &[CapacityFailure],
    now: OffsetDateTime,
) -> GroupPlan {
    let desired = spec.desired.clamp(spec.min, spec.max.max(spec.min));
    let mut steps = Vec::new();
    let mut conditions = Vec::new();
    let mut waiting = Vec::new();

    // Zones refusing capacity now, with the provider's latest words.
    let mut failing: BTreeMap<String, String> = BTreeMap::new();
    for f in failures {
        if now - f.at < spec.capacity_retry_after && spec.zones.contains(&f.zone) {
            failing.insert(f.zone.clone(), f.message.clone());
        }
    }

    // 1. Members, and the broken ones to repair.
    let live: Vec<&ObservedInstance> = observed.iter().filter(|i| !i.state.is_gone()).collect();
    let is_broken = |i: &ObservedInstance| match i.state {
        InstanceState::Stopping | InstanceState::Stopped | InstanceState::Lost => true,
        InstanceState::Running => i.unhealthy() && now - i.launched_at >= spec.health_grace,
        _ => false,
    };
    let broken: Vec<&ObservedInstance> = live.iter().copied().filter(|i| is_broken(i)).collect();
    // Unhealthy but still in its grace period: not replaced yet, not ready either; say so,
    // or the group would seem to wait for nothing.
    for i in live.iter().filter(|i| {
        i.state == InstanceState::Running
            && i.unhealthy()
            && now - i.launched_at < spec.health_grace
    }) {
        waiting.push(format!(
            "{}: {}, within its health grace period ({} s); replaced when it ends if still unhealthy",
            i.id,
            i.broken_because(),
            spec.health_grace.whole_seconds()
        ));
    }
    let repair_allowed = (u64::from(desired) * u64::from(spec.repair_budget_percent) / 100).max(1);
    let repairing = !broken.is_empty() && broken.len() as u64 <= repair_allowed;
    let mut repaired: BTreeSet<&str> = BTreeSet::new();
    if repairing {
        let mut by_zone: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for i in &broken {
            by_zone.entry(&i.zone).or_default().push(i.id.clone());
            repaired.insert(&i.id);
        }
        for (zone, ids) in by_zone {
            steps.push(Step::Terminate {
                zone: zone.into(),
                ids,
                reason: TerminateReason::Repair,
            });
        }
    }
    conditions.push(if !broken.is_empty() && !repairing {
        let ids: Vec<String> = broken
            .iter()
            .map(|i| format!("{} ({})", i.id, i.broken_because()))
            .collect();
        let message = format!(
            "{} of {} instances are unhealthy at once (budget {}%: {}); not replacing them: {}",
            broken.len(),
            desired,
            spec.repair_budget_percent,
            repair_allowed,
            ids.join(", ")
        );
        waiting.push(format!("repair budget exceeded: {message}"));
        PlannedCondition {
            condition: GroupCondition::Degraded,
            active: true,
            reason: "RepairBudgetExceeded".into(),
            message,
        }
    } else {
        PlannedCondition {
            condition: GroupCondition::Degraded,
            active: false,
            reason: "WithinRepairBudget".into(),
            message: String::new(),
        }
    });

    let members: Vec<&ObservedInstance> = live
        .iter()
        .copied()
        .filter(|i| !repaired.contains(i.id.as_str()))
        .collect();
    // Ready: running and not reported unhealthy. Only ready instances count toward the floor.
    let is_ready = |i: &ObservedInstance| i.state == InstanceState::Running && !i.unhealthy();

    // Every zone that holds a member or is in the spec; zones dropped from the spec get a
    // target of zero, so their instances are the first scale-in victims.
    let mut all_zones = spec.zones.clone();
    for i in &members {
        if !all_zones.contains(&i.zone) {
            all_zones.push(i.zone.clone());
        }
    }
    let mut have: BTreeMap<String, u32> = all_zones.iter().map(|z| (z.clone(), 0)).collect();
    let mut ready: BTreeMap<String, u32> = have.clone();
    let mut outdated: BTreeMap<String, u32> = have.clone();
    for i in &members {
        *have.entry(i.zone.clone()).or_default() += 1;
        if is_ready(i) {
            *ready.entry(i.zone.clone()).or_default() += 1;
        }
        if i.revision < spec.revision && !i.protected {
            *outdated.entry(i.zone.clone()).or_default() += 1;
        }
    }

    // 2. Targets.
    let even = spread(desired, &spec.zones, &have);
    let usable: Vec<String> = spec
        .zones
        .iter()
        .filter(|z| !failing.contains_key(*z))
        .cloned()
        .collect();
    let mut target: BTreeMap<String, u32> = all_zones.iter().map(|z| (z.clone(), 0)).collect();
    match spec.distribution {
        Distribution::EvenStrict => target.extend(even.clone()),
        Distribution::Balanced => {
            if usable.is_empty() {
                target.extend(even.clone());
            } else {
                // A failing zone keeps what it has (up to its share); the rest goes elsewhere.
                let mut kept = 0;
                for z in failing.keys() {
                    let t = have[z].min(even[z]);
                    target.insert(z.clone(), t);
                    kept += t;
                }
                target.extend(spread(desired - kept, &usable, &have));
            }
        }
        Distribution::Any => {
            // Keep what exists where it is; add to the emptiest usable zones, remove from the
            // fullest.
            let mut t: BTreeMap<String, u32> =
                spec.zones.iter().map(|z| (z.clone(), have[z])).collect();
            let mut total: u32 = t.values().sum();
            while total > desired {
                let z = spec
                    .zones
                    .iter()
                    .max_by_key(|z| {
                        (
                            t[*z],
                            std::cmp::Reverse(spec.zones.iter().position(|x| x == *z)),
                        )
                    })
                    .cloned()
                    .unwrap_or_default();
                *t.entry(z).or_default() -= 1;
                total -= 1;
            }
            let fill: &[String] = if usable.is_empty() {
                &spec.zones
            } else {
                &usable
            };
            while total < desired && !fill.is_empty() {
                let z = fill
                    .iter()
                    .min_by_key(|z| t[*z])
                    .cloned()
                    .unwrap_or_default();
                *t.entry(z).or_default() += 1;
                total += 1;
            }
            target.extend(t);
        }
    }

    let surge = resolve_budget(spec.max_surge, true, &spec.zones, &target, &outdated);
    let mut unavailable =
        resolve_budget(spec.max_unavailable, false, &spec.zones, &target, &outdated);
    let mut surge = surge;
    // Both zero would never roll: a percentage budget then surges one at a time per zone; a
    // group-wide count of zero for both surges one instance for the group.
    let total_budget: u32 = surge.values().sum::<u32>() + unavailable.values().sum::<u32>();
    for z in &spec.zones {
        let both_zero = surge[z] == 0 && unavailable[z] == 0;
        let percent = matches!(spec.max_surge, RolloutBudget::Percent(_))
            || matches!(spec.max_unavailable, RolloutBudget::Percent(_));
        if both_zero && outdated[z] > 0 && (percent || total_budget == 0) {
            surge.insert(z.clone(), 1);
            if !percent {
                break;
            }
        }
    }
    for z in &all_zones {
        surge.entry(z.clone()).or_insert(0);
        unavailable.entry(z.clone()).or_insert(0);
    }

    // 3. Terminations. Excess first: never below `desired` ready instances (surge-first).
    let have_total: u32 = have.values().sum();
    let ready_total: u32 = ready.values().sum();
    let excess = have_total
        .saturating_sub(desired)
        .min(ready_total.saturating_sub(desired));
    let mut candidates: BTreeMap<String, Vec<&ObservedInstance>> = BTreeMap::new();
    for i in &members {
        if !i.protected && is_ready(i) {
            candidates.entry(i.zone.clone()).or_default().push(i);
        }
    }
    for list in candidates.values_mut() {
        list.sort_by(|a, b| victim_order(spec, a, b));
    }
    let mut now_have = have.clone();
    let mut now_ready = ready.clone();
    let mut chosen: BTreeMap<String, Vec<(String, TerminateReason)>> = BTreeMap::new();
    let zone_rank = |z: &String| all_zones.iter().position(|x| x == z).unwrap_or(usize::MAX);
    for _ in 0..excess {
        // Zone balance first: the zone most over its target that can give one up without
        // going below its own floor; if protection leaves none, any zone with a candidate.
        let over = |z: &String, h: &BTreeMap<String, u32>| i64::from(h[z]) - i64::from(target[z]);
        let mut zones: Vec<String> = candidates
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(z, _)| z.clone())
            .collect();
        zones.sort_by_key(|z| (std::cmp::Reverse(over(z, &now_have)), zone_rank(z)));
        let pick = zones
            .iter()
            .find(|z| {
                over(z, &now_have) > 0 && now_ready[*z] > target[*z].saturating_sub(unavailable[*z])
            })
            .or_else(|| zones.iter().find(|z| over(z, &now_have) > 0))
            .or_else(|| zones.first())
            .cloned();
        let Some(z) = pick else { break };
        let Some(list) = candidates.get_mut(&z) else {
            break;
        };
        let victim = list.remove(0);
        *now_have.entry(z.clone()).or_default() -= 1;
        *now_ready.entry(z.clone()).or_default() -= 1;
        chosen
            .entry(z)
            .or_default()
            .push((victim.id.clone(), TerminateReason::ScaleIn));
    }
    let not_removed: u32 = now_have.values().sum::<u32>().saturating_sub(desired);
    if not_removed > 0 && ready_total > desired {
        let blocked: Vec<&str> = members
            .iter()
            .filter(|i| i.protected)
            .map(|i| i.id.as_str())
            .collect();
        if !blocked.is_empty() && candidates.values().all(|l| l.is_empty()) {
            waiting.push(format!(
                "scale-in of {not_removed} blocked by protected instances: {}",
                blocked.join(", ")
            ));
        }
    }
    // Rolling replacement within `max_unavailable`, per zone.
    for z in &spec.zones {
        let floor = target[z].saturating_sub(unavailable[z]);
        let Some(list) = candidates.get_mut(z) else {
            continue;
        };
        while now_ready[z] > floor {
            let Some(pos) = list.iter().position(|i| i.revision < spec.revision) else {
                break;
            };
            let victim = list.remove(pos);
            *now_have.entry(z.clone()).or_default() -= 1;
            *now_ready.entry(z.clone()).or_default() -= 1;
            chosen
                .entry(z.clone())
                .or_default()
                .push((victim.id.clone(), TerminateReason::Rollout));
        }
    }
    for (zone, list) in &chosen {
        for reason in [TerminateReason::ScaleIn, TerminateReason::Rollout] {
            let ids: Vec<String> = list
                .iter()
                .filter(|(_, r)| *r == reason)
                .map(|(id, _)| id.clone())
                .collect();
            if !ids.is_empty() {
                steps.push(Step::Terminate {
                    zone: zone.clone(),
                    ids,
                    reason,
                });
            }
        }
    }

    // 4. Launches: deficits, then rolling surge, never into a zone refusing capacity.
    let strict_cap: Option<u32> = match spec.distribution {
        Distribution::EvenStrict if !failing.is_empty() => {
            failing.keys().map(|z| now_have[z]).min().map(|m| m + 1)
        }
        _ => None,
    };
    let mut launch: BTreeMap<String, u32> = BTreeMap::new();
    for z in &spec.zones {
        let mut n = target[z].saturating_sub(now_have[z]);
        // Outdated instances still here after this step's terminations; surge instances
        // already in flight (members above target) replace that many of them.
        let outdated_left = members
            .iter()
            .filter(|i| &i.zone == z && i.revision < spec.revision && !i.protected)
            .count() as u32
            - chosen
                .get(z)
                .map(|l| {
                    l.iter()
                        .filter(|(id, _)| {
                            members
                                .iter()
                                .any(|i| &i.id == id && i.revision < spec.revision)
                        })
                        .count() as u32
                })
                .unwrap_or(0);
        if outdated_left > 0 {
            let in_flight = (now_have[z] + n).saturating_sub(target[z]);
            n += surge[z].min(outdated_left).saturating_sub(in_flight);
        }
        if let Some(message) = failing.get(z) {
            let short = even
                .get(z)
                .copied()
                .unwrap_or(0)
                .saturating_sub(now_have[z]);
            if n == 0 && short > 0 {
                waiting.push(format!(
                    "zone {z} cannot launch; {short} of its share run in other zones until it recovers: {message}"
                ));
            }
            if n > 0 {
                waiting.push(format!("zone {z} cannot launch {n}: {message}"));
            }
            n = 0;
        }
        if let Some(cap) = strict_cap {
            let allowed = cap.saturating_sub(now_have[z]);
            if n > allowed {
                let zones: Vec<&str> = failing.keys().map(String::as_str).collect();
                waiting.push(format!(
                    "even-strict: zone {z} waits for capacity in {} before launching {} more",
                    zones.join(", "),
                    n - allowed
                ));
                n = allowed;
            }
        }
        if n > 0 {
            launch.insert(z.clone(), n);
            steps.push(Step::Launch {
                zone: z.clone(),
                count: n,
                revision: spec.revision,
            });
        }
    }

    // Balance as people see it: members against an even spread.
    let imbalanced: Vec<String> = spec
        .zones
        .iter()
        .filter(|z| have[*z] != even[*z])
        .map(|z| format!("{z} has {} of {}", have[z], even[z]))
        .collect();
    let extra_zone_members: u32 = all_zones
        .iter()
        .filter(|z| !spec.zones.contains(z))
        .map(|z| have[z])
        .sum();
    let active = spec.distribution != Distribution::Any
        && (!imbalanced.is_empty() || extra_zone_members > 0)
        && (have_total >= desired || !failing.is_empty());
    conditions.push(PlannedCondition {
        condition: GroupCondition::ZoneImbalanced,
        active,
        reason: if !active {
            "Balanced".into()
        } else if failing.is_empty() {
            "Rebalancing".into()
        } else {
            "CapacityUnavailable".into()
        },
        message: if active {
            let mut parts = imbalanced;
            for (z, m) in &failing {
                parts.push(format!("{z}: {m}"));
            }
            parts.join("; ")
        } else {
            String::new()
        },
    });

    let zones = all_zones
        .iter()
        .map(|z| ZonePlan {
            zone: z.clone(),
            current: have[z],
            target: target[z],
            even_share: even.get(z).copied().unwrap_or(0),
            launch: launch.get(z).copied().unwrap_or(0),
            terminate: chosen.get(z).map(|l| l.len() as u32).unwrap_or(0)
                + steps
                    .iter()
                    .map(|s| match s {
                        Step::Terminate {
                            zone,
                            ids,
                            reason: TerminateReason::Repair,
                        } if zone == z => ids.len() as u32,
                        _ => 0,
                    })
                    .sum::<u32>(),
            outdated: outdated[z],
            max_surge: surge[z],
            max_unavailable: unavailable[z],
            capacity_failure: failing.get(z).cloned(),
        })
        .collect();

    let in_flight = members.iter().any(|i| !is_ready(i));
    let outdated_total: u32 = outdated.values().sum();
    let converged = steps.is_empty()
        && !in_flight
        && have_total == desired
        && outdated_total == 0
        && waiting.is_empty();
    GroupPlan {
        desired,
        steps,
        zones,
        conditions,
        converged,
        waiting,
    }
}

#[cfg(test)]
mod tests;
