/*
 * The escalation policy, pure: given an alarm's schedule so far and the time,
 * which step runs now and when the next one is due. No I/O, no clock of its
 * own; the desk stores the result and claims each step in the database.
 *
 * The schedule, from the moment the desk received the alarm (t0):
 * - tier 0 is told at t0;
 * - a tier is told again every `repeatMs` while it is the current tier;
 * - tier k+1 is told `delayMs` of tier k after tier k was first told;
 * - the last tier is told again every `repeatMs` until someone acknowledges.
 * With the defaults (delay 60 s, repeat 120 s) every tier but the last is
 * told once, a minute apart, and the last one every two minutes.
 *
 * Times are the schedule's, not when a step actually ran, so a desk that was
 * down carries on where the schedule says. Catching up after an outage runs
 * every tier in order (each is a different set of people) but only the
 * latest of the missed repeats of one tier.
 */

export interface EscalationPlan {
  tiers: ReadonlyArray<{ delayMs: number }>;
  repeatMs: number;
}

/** One step: which tier is told, the how-manieth time (0 = first), and when it was due. */
export interface Step {
  tier: number;
  attempt: number;
  at: number;
}

export function firstStep(receivedAt: number): Step {
  return { tier: 0, attempt: 0, at: receivedAt };
}

/**
 * The step after `s`. A tier beyond the plan's last (the file lost tiers
 * meanwhile) is treated as the last tier and keeps its number, so (tier,
 * attempt) never repeats and idempotency keys stay unique.
 */
export function nextStep(plan: EscalationPlan, s: Step): Step {
  const last = plan.tiers.length - 1;
  const repeat = { tier: s.tier, attempt: s.attempt + 1, at: s.at + plan.repeatMs };
  if (s.tier >= last) return repeat;
  const tierStart = s.at - s.attempt * plan.repeatMs;
  const nextTierAt = tierStart + plan.tiers[s.tier].delayMs;
  return repeat.at < nextTierAt ? repeat : { tier: s.tier + 1, attempt: 0, at: nextTierAt };
}

/**
 * What to do at `now`: the step to run (undefined: nothing is due yet) and
 * when the following one is due. `last` is the step run most recently
 * (undefined: none yet).
 */
export function dueStep(plan: EscalationPlan, last: Step | undefined, receivedAt: number, now: number): { run?: Step; nextAt: number } {
  let s = last === undefined ? firstStep(receivedAt) : nextStep(plan, last);
  if (s.at > now) return { nextAt: s.at };
  for (let n = nextStep(plan, s); n.at <= now && n.tier === s.tier; n = nextStep(plan, s)) s = n;
  return { run: s, nextAt: nextStep(plan, s).at };
}
