/**
 * Pure view logic of the sections: REST JSON in, labels/numbers out. No DOM, no React, so it is
 * unit-tested in __tests__/model.spec.ts. Every word goes through `trans` (domain smstudio_ext).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

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

function idleLabel(
  state: string,
  trans: TranslationBundle
): [string, Tone] | null {
  switch (state) {
    case 'active':
      return [trans.__('Active'), 'ok'];
    case 'idle':
      return [trans.__('Idle'), 'warn'];
    case 'warning':
      return [trans.__('Shutting down soon'), 'danger'];
    case 'shutting_down':
      return [trans.__('Shutting down'), 'danger'];
    case 'disabled':
      return [trans.__('Auto-shutdown off'), 'muted'];
    case 'error':
      return [trans.__('Check failed'), 'danger'];
    default:
      return null;
  }
}

/** The state of GET smstudio/idle as the panel and the status bar show it. */
export function idleView(
  status: IIdleStatus,
  trans: TranslationBundle,
  now: Date = new Date()
): IIdleView {
  const [label, tone] = idleLabel(status.state, trans) ?? [
    status.state ? String(status.state) : trans.__('Unknown'),
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
    statusText = trans.__('Auto-shutdown: off');
  } else if (status.state === 'shutting_down') {
    statusText = trans.__('Shutting down…');
  } else if (countdown !== null) {
    statusText = trans.__('Shutdown in %1', formatDuration(countdown, trans));
  } else if (keepalive !== null) {
    statusText = trans.__('Kept running %1', formatDuration(keepalive, trans));
  } else if (status.state === 'error') {
    statusText = trans.__('Auto-shutdown: check failed');
  } else if (status.state === 'active') {
    statusText = trans.__('Auto-shutdown: active');
  } else if (status.state === 'idle') {
    statusText = trans.__('Auto-shutdown: idle');
  } else {
    statusText = trans.__('Auto-shutdown: %1', label);
  }
  if (status.dry_run && status.state !== 'disabled') {
    statusText = trans.__('%1 (dry run)', statusText);
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
  if (status.state === 'active' || status.state === 'shutting_down') {
    return false;
  }
  const until = secondsUntil(status.shutdown_at, now);
  const window = (status.warning_minutes ?? 10) * 60;
  return until !== null && Math.max(0, until) <= window;
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

/** Validate a timeout typed by the user against the admin bounds; an error message or null. */
export function checkTimeout(
  value: number,
  bounds: { min?: number | null; max?: number | null } | undefined,
  trans: TranslationBundle
): string | null {
  if (!Number.isInteger(value) || value <= 0) {
    return trans.__('Enter a whole number of minutes.');
  }
  const min = bounds?.min ?? null;
  const max = bounds?.max ?? null;
  if (min !== null && value < min) {
    return trans.__('At least %1 minutes (admin bound).', min);
  }
  if (max !== null && value > max) {
    return trans.__('At most %1 minutes (admin bound).', max);
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

export function guardrailView(
  status: string,
  trans: TranslationBundle
): IGuardrailView {
  switch (status as GuardrailStatus) {
    case 'pass':
      return { icon: '✓', label: trans.__('Pass'), tone: 'ok' };
    case 'fail':
      return { icon: '✗', label: trans.__('Fail'), tone: 'danger' };
    default:
      return { icon: '?', label: trans.__('Unknown'), tone: 'muted' };
  }
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
export function guardrailSummary(
  checks: IGuardrail[],
  trans: TranslationBundle
): string {
  const counts = { fail: 0, unknown: 0, pass: 0 };
  for (const c of checks) {
    const key = (
      c.status in counts ? c.status : 'unknown'
    ) as keyof typeof counts;
    counts[key] += 1;
  }
  const parts: string[] = [];
  if (counts.fail > 0) {
    parts.push(trans._n('%1 fail', '%1 fail', counts.fail));
  }
  if (counts.unknown > 0) {
    parts.push(trans._n('%1 unknown', '%1 unknown', counts.unknown));
  }
  if (counts.pass > 0) {
    parts.push(trans._n('%1 pass', '%1 pass', counts.pass));
  }
  return parts.join(' · ');
}

// ----- backup ------------------------------------------------------------------------------------

export interface IProgressView {
  /** 0..1, or null while the total is unknown (scan). */
  fraction: number | null;
  label: string;
}

function phaseLabel(phase: string, trans: TranslationBundle): string {
  switch (phase) {
    case 'starting':
      return trans.__('Starting');
    case 'scan':
      return trans.__('Scanning');
    case 'upload':
      return trans.__('Uploading');
    case 'restore':
      return trans.__('Restoring');
    default:
      return phase;
  }
}

export function backupProgressView(
  p: IBackupProgress | null | undefined,
  trans: TranslationBundle
): IProgressView {
  if (!p) {
    return { fraction: null, label: trans.__('Starting…') };
  }
  if (p.phase === 'done') {
    return { fraction: 1, label: trans.__('Done') };
  }
  if (p.phase === 'commit') {
    return { fraction: 1, label: trans.__('Committing the snapshot…') };
  }
  const phase = phaseLabel(p.phase, trans);
  const total = p.bytes_total ?? 0;
  const done = p.bytes_done ?? 0;
  if (p.phase === 'upload' || p.phase === 'restore') {
    const fraction = total > 0 ? Math.min(1, done / total) : null;
    const parts = [
      trans.__('%1 %2/%3 files', phase, p.files_done ?? 0, p.files_total ?? 0),
      trans.__('%1 of %2', formatBytes(done), formatBytes(total))
    ];
    if (p.eta_seconds !== null && p.eta_seconds !== undefined) {
      parts.push(trans.__('~%1 left', formatDuration(p.eta_seconds, trans)));
    }
    return { fraction, label: parts.join(' · ') };
  }
  // starting / scan: totals still growing
  const seen = p.entries ?? p.files_total ?? 0;
  return {
    fraction: null,
    label: trans._n('%2… %1 entry', '%2… %1 entries', seen, phase)
  };
}

// ----- insights parts --------------------------------------------------------------------------

/** The error of an insights part that means "this role may not do that", if any. */
function deniedAction(errors: IApiError[] | undefined): string | null {
  for (const e of errors ?? []) {
    if (e.error === 'access_denied') {
      return e.action ?? 'AWS';
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
  part: InsightsPart,
  trans: TranslationBundle
): { unavailable: string | null; error: string | null } {
  const status = data.parts?.[part];
  const value = data[part];
  const empty =
    value === undefined ||
    value === null ||
    (Array.isArray(value) && value.length === 0);
  if (status?.status === 'not_available') {
    return {
      unavailable: status.errors?.[0]?.detail ?? trans.__('not available here'),
      error: null
    };
  }
  const errors = status?.errors ?? [];
  const denied = deniedAction(errors);
  const allDenied =
    errors.length > 0 && errors.every(e => e.error === 'access_denied');
  if ((status?.status === 'error' || empty) && denied && allDenied) {
    return {
      unavailable: trans.__('permission missing (%1)', denied),
      error: null
    };
  }
  if (status?.status === 'error') {
    const first = errors[0];
    return {
      unavailable: null,
      error: first
        ? `${first.error}: ${first.detail ?? ''}`.trim()
        : trans.__('failed')
    };
  }
  return { unavailable: null, error: null };
}

/** Part errors worth a note under partial data (e.g. one tag source denied). */
export function partNotes(
  data: IInsights,
  part: InsightsPart,
  trans: TranslationBundle
): string[] {
  const errors = data.parts?.[part]?.errors ?? [];
  return errors.map(e => {
    const where = e.source ? `${e.source}: ` : '';
    if (e.error === 'access_denied') {
      return where + trans.__('permission missing (%1)', e.action ?? 'AWS');
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
