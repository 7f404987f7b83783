/**
 * Pure view-model logic of the sections: REST JSON in, labels/numbers out. No DOM, no React,
 * so it is unit-tested in __tests__/model.spec.ts.
 */
import {
  GuardrailStatus,
  IApiError,
  IBackupProgress,
  IGuardrail,
  IIdleStatus,
  IInsights,
  InsightsPart,
  ITag
} from './api';
import { formatBytes, formatDuration, secondsUntil } from './format';

// ----- idle shutdown ---------------------------------------------------------------------------

/** How a state looks: `ok` (green), `warn` (orange), `danger` (red), `muted` (grey). */
export type Tone = 'ok' | 'warn' | 'danger' | 'muted';

export interface IIdleView {
  /** Short state label: "Active", "Idle", "Shutting down soon", ... */
  label: string;
  tone: Tone;
  /** Seconds until shutdown (>= 0), or null when no shutdown is scheduled. */
  countdown: number | null;
  /** Seconds the keep-alive still runs, or null. */
  keepalive: number | null;
  /** One line for the status bar. */
  statusText: string;
}

const IDLE_LABELS: Record<string, [string, Tone]> = {
  active: ['Active', 'ok'],
  idle: ['Idle', 'warn'],
  warning: ['Shutting down soon', 'danger'],
  shutting_down: ['Shutting down', 'danger'],
  disabled: ['Auto-shutdown off', 'muted'],
  error: ['Check failed', 'danger']
};

/** The state of GET smstudio/idle as the panel and the status bar show it. */
export function idleView(
  status: IIdleStatus,
  now: Date = new Date()
): IIdleView {
  const [label, tone] = IDLE_LABELS[status.state] ?? [
    status.state ? String(status.state) : 'Unknown',
    'muted'
  ];
  const until = secondsUntil(status.shutdown_at, now);
  const countdown =
    until === null || status.state === 'disabled' || status.state === 'active'
      ? null
      : Math.max(0, until);
  const keep = secondsUntil(status.keepalive_until, now);
  const keepalive = keep !== null && keep > 0 ? keep : null;
  let statusText: string;
  if (status.state === 'disabled') {
    statusText = 'Auto-shutdown: off';
  } else if (status.state === 'shutting_down') {
    statusText = 'Shutting down…';
  } else if (countdown !== null) {
    statusText = `Shutdown in ${formatDuration(countdown)}`;
  } else if (keepalive !== null) {
    statusText = `Kept running ${formatDuration(keepalive)}`;
  } else if (status.state === 'error') {
    statusText = 'Auto-shutdown: check failed';
  } else {
    statusText = `Auto-shutdown: ${label.toLowerCase()}`;
  }
  if (status.dry_run && status.state !== 'disabled') {
    statusText += ' (dry run)';
  }
  return { label, tone, countdown, keepalive, statusText };
}

/**
 * Whether to warn the user now: the server says "warning", or the countdown is within the
 * warning window (`warning_minutes`, default 10).
 */
export function shouldWarn(
  status: IIdleStatus,
  now: Date = new Date()
): boolean {
  if (!status.enabled || status.dry_run) {
    return false;
  }
  if (status.state === 'warning') {
    return true;
  }
  const { countdown } = idleView(status, now);
  const window = (status.warning_minutes ?? 10) * 60;
  return (
    countdown !== null &&
    countdown <= window &&
    status.state !== 'shutting_down'
  );
}

/** "Keep running for…" choices (minutes) within the admin's bound. */
export function keepAliveChoices(max: number | null | undefined): number[] {
  const wanted = [60, 120, 240, 480];
  if (max === null || max === undefined || !isFinite(max) || max <= 0) {
    return wanted;
  }
  const within = wanted.filter(m => m <= max);
  if (!within.includes(max) && (within.length === 0 || max < 480)) {
    within.push(Math.floor(max));
  }
  return within;
}

/** `1 h`, `90 min`, `8 h`. */
export function formatMinutes(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
}

/** Validate a timeout typed by the user against the admin bounds; an error message or null. */
export function checkTimeout(
  value: number,
  bounds: { min?: number | null; max?: number | null } | undefined
): string | null {
  if (!Number.isInteger(value) || value <= 0) {
    return 'Enter a whole number of minutes.';
  }
  const min = bounds?.min ?? null;
  const max = bounds?.max ?? null;
  if (min !== null && value < min) {
    return `At least ${min} minutes (admin bound).`;
  }
  if (max !== null && value > max) {
    return `At most ${max} minutes (admin bound).`;
  }
  return null;
}

// ----- guardrails ------------------------------------------------------------------------------

export interface IGuardrailView {
  /** A glyph that does not rely on colour alone. */
  icon: string;
  label: string;
  tone: Tone;
}

const GUARDRAIL_VIEWS: Record<GuardrailStatus, IGuardrailView> = {
  pass: { icon: '✓', label: 'Pass', tone: 'ok' },
  fail: { icon: '✗', label: 'Fail', tone: 'danger' },
  unknown: { icon: '?', label: 'Unknown', tone: 'muted' }
};

export function guardrailView(status: string): IGuardrailView {
  return GUARDRAIL_VIEWS[status as GuardrailStatus] ?? GUARDRAIL_VIEWS.unknown;
}

/** Failures first (high severity first), then unknowns, then passes; stable otherwise. */
export function sortGuardrails(checks: IGuardrail[]): IGuardrail[] {
  const rank: Record<string, number> = { fail: 0, unknown: 1, pass: 2 };
  const sev: Record<string, number> = { high: 0, medium: 1, low: 2 };
  return checks
    .map((c, i) => ({ c, i }))
    .sort(
      (a, b) =>
        (rank[a.c.status] ?? 1) - (rank[b.c.status] ?? 1) ||
        (sev[a.c.severity ?? ''] ?? 3) - (sev[b.c.severity ?? ''] ?? 3) ||
        a.i - b.i
    )
    .map(x => x.c);
}

/** `2 fail · 1 unknown · 5 pass`. */
export function guardrailSummary(checks: IGuardrail[]): string {
  const counts = { fail: 0, unknown: 0, pass: 0 };
  for (const c of checks) {
    const key = (
      c.status in counts ? c.status : 'unknown'
    ) as keyof typeof counts;
    counts[key] += 1;
  }
  return (['fail', 'unknown', 'pass'] as const)
    .filter(k => counts[k] > 0)
    .map(k => `${counts[k]} ${k}`)
    .join(' · ');
}

// ----- backup ------------------------------------------------------------------------------------

export interface IProgressView {
  /** 0..1, or null while the total is unknown (scan). */
  fraction: number | null;
  label: string;
}

const PHASES: Record<string, string> = {
  starting: 'Starting',
  scan: 'Scanning',
  upload: 'Uploading',
  commit: 'Committing',
  done: 'Done',
  restore: 'Restoring'
};

export function backupProgressView(
  p: IBackupProgress | null | undefined
): IProgressView {
  if (!p) {
    return { fraction: null, label: 'Starting…' };
  }
  const phase = PHASES[p.phase] ?? p.phase;
  if (p.phase === 'done') {
    return { fraction: 1, label: 'Done' };
  }
  if (p.phase === 'commit') {
    return { fraction: 1, label: 'Committing the snapshot…' };
  }
  const total = p.bytes_total ?? 0;
  const done = p.bytes_done ?? 0;
  if (p.phase === 'upload' || p.phase === 'restore') {
    const fraction = total > 0 ? Math.min(1, done / total) : null;
    const parts = [
      `${phase} ${p.files_done ?? 0}/${p.files_total ?? 0} files`,
      `${formatBytes(done)} of ${formatBytes(total)}`
    ];
    if (p.eta_seconds !== null && p.eta_seconds !== undefined) {
      parts.push(`~${formatDuration(p.eta_seconds)} left`);
    }
    return { fraction, label: parts.join(' · ') };
  }
  // starting / scan: totals still growing
  const seen = p.entries ?? p.files_total ?? 0;
  return { fraction: null, label: `${phase}… ${seen} entries` };
}

// ----- insights parts --------------------------------------------------------------------------

/** The error of an insights part that means "this role may not do that", if any. */
function deniedAction(errors: IApiError[] | undefined): string | null {
  for (const e of errors ?? []) {
    if (e.error === 'access_denied') {
      return e.action ?? 'an AWS permission';
    }
  }
  return null;
}

/**
 * Why an insights part cannot be shown at all, or null when there is something to show.
 * A part that failed only because a permission is missing is "not available", naming the action;
 * other failures are real errors (the caller throws them so the section backs off).
 */
export function partUnavailable(
  data: IInsights,
  part: InsightsPart
): { unavailable: string | null; error: string | null } {
  const status = data.parts?.[part];
  const value = data[part];
  const empty =
    value === undefined ||
    value === null ||
    (Array.isArray(value) && value.length === 0);
  if (status?.status === 'not_available') {
    return {
      unavailable: status.errors?.[0]?.detail ?? 'not available here',
      error: null
    };
  }
  const errors = status?.errors ?? [];
  const denied = deniedAction(errors);
  const allDenied =
    errors.length > 0 && errors.every(e => e.error === 'access_denied');
  if ((status?.status === 'error' || empty) && denied && allDenied) {
    return { unavailable: `permission missing (${denied})`, error: null };
  }
  if (status?.status === 'error') {
    const first = errors[0];
    return {
      unavailable: null,
      error: first ? `${first.error}: ${first.detail ?? ''}`.trim() : 'failed'
    };
  }
  return { unavailable: null, error: null };
}

/** Part errors worth a note under partial data (e.g. one tag source denied). */
export function partNotes(data: IInsights, part: InsightsPart): string[] {
  const errors = data.parts?.[part]?.errors ?? [];
  return errors.map(e => {
    const where = e.source ? `${e.source}: ` : '';
    if (e.error === 'access_denied') {
      return `${where}permission missing (${e.action ?? 'AWS'})`;
    }
    return `${where}${e.detail ?? e.error}`;
  });
}

/** Tags in display order: the user-id tag first, then by source, then by key. */
export function sortTags(tags: ITag[]): ITag[] {
  const order: Record<string, number> = {
    domain: 0,
    'user-profile': 1,
    space: 2,
    app: 3
  };
  return [...tags].sort(
    (a, b) =>
      Number(!!b.user_id) - Number(!!a.user_id) ||
      (order[a.source] ?? 9) - (order[b.source] ?? 9) ||
      a.key.localeCompare(b.key)
  );
}

/**
 * What the shutdown warning should do now: show a (new) notification, keep the current one, or
 * dismiss it. One warning per scheduled shutdown: `shown` is the key of the one on screen.
 */
export function warningStep(
  shown: string | null,
  status: IIdleStatus | null,
  now: Date = new Date()
): { step: 'show' | 'keep' | 'dismiss' | 'none'; key: string | null } {
  if (!status || !shouldWarn(status, now)) {
    return { step: shown ? 'dismiss' : 'none', key: null };
  }
  const key = status.shutdown_at ?? 'warning';
  return key === shown ? { step: 'keep', key } : { step: 'show', key };
}
