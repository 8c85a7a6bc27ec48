/** Outcome of one doctor check: pass (✓), fail (✗, a Must is broken) or warn (!). */
export type CheckStatus = 'pass' | 'fail' | 'warn';

/** One line of the doctor report. */
export interface CheckResult {
  /** Stable identifier, e.g. `start-script`, for tools reading `--json`. */
  readonly id: string;
  /** The contract rule number it checks (1–7), when it maps to one. */
  readonly rule?: number;
  readonly status: CheckStatus;
  /** What was found. */
  readonly message: string;
  /** What to do about it (failures and warnings). */
  readonly fix?: string;
  /** Extra lines for people, e.g. the last output of the app under `--run`. */
  readonly detail?: string;
}

/** A passing check (✓). */
export function pass(id: string, message: string, rule?: number): CheckResult {
  return { id, rule, status: 'pass', message };
}

/** A broken Must (✗), with what to do about it. */
export function fail(id: string, message: string, fix: string, rule?: number): CheckResult {
  return { id, rule, status: 'fail', message, fix };
}

/** A warning (!), with what to do about it. */
export function warn(id: string, message: string, fix: string, rule?: number): CheckResult {
  return { id, rule, status: 'warn', message, fix };
}
