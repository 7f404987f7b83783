import { nullTranslator } from '@jupyterlab/translation';

import { IGuardrail, IIdleStatus, IInsights } from '../api';
import {
  formatBytes,
  formatRelative,
  secondsUntil,
  setLanguage
} from '../format';
import {
  backupProgressView,
  checkTimeout,
  guardrailSummary,
  guardrailView,
  idleView,
  keepAliveChoices,
  partUnavailable,
  shouldWarn,
  sortGuardrails,
  sortTags,
  warningStep
} from '../model';

const trans = nullTranslator.load('smstudio_ext');
const NOW = new Date('2026-11-30T12:00:00Z');

beforeEach(() => setLanguage('en'));
const at = (seconds: number) =>
  new Date(NOW.getTime() + seconds * 1000).toISOString();

function idle(extra: Partial<IIdleStatus>): IIdleStatus {
  return {
    enabled: true,
    dry_run: false,
    timeout_minutes: 60,
    bounds: { min: 15, max: 240 },
    state: 'idle',
    idle_seconds: 0,
    warning_minutes: 10,
    signals: [],
    apps: [],
    history: [],
    last_error: null,
    ...extra
  };
}

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1,023 B'],
    [1536, '1.5 KiB'],
    [10 * 1024 * 1024, '10 MiB'],
    [3.25 * 1024 ** 3, '3.3 GiB']
  ])('%p → %p', (n, text) => expect(formatBytes(n)).toBe(text));
  it('shows missing and negative values as not set', () => {
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
  });
});

describe('secondsUntil / formatRelative', () => {
  it('counts towards the future and past', () => {
    expect(secondsUntil(at(90), NOW)).toBe(90);
    expect(formatRelative(at(90), trans, NOW)).toBe('in 1m');
    expect(formatRelative(at(-7200), trans, NOW)).toBe('2h 00m ago');
    expect(formatRelative(at(0), trans, NOW)).toBe('now');
    expect(formatRelative('garbage', trans, NOW)).toBe('—');
  });
});

describe('idleView', () => {
  it('maps each server state to a label and tone', () => {
    expect(idleView(idle({ state: 'active' }), trans, NOW)).toMatchObject({
      label: 'Active',
      tone: 'ok',
      countdown: null,
      statusText: 'Auto-shutdown: active'
    });
    expect(
      idleView(idle({ state: 'disabled', enabled: false }), trans, NOW)
    ).toMatchObject({
      label: 'Auto-shutdown off',
      tone: 'muted',
      statusText: 'Auto-shutdown: off'
    });
    expect(
      idleView(idle({ state: 'shutting_down' }), trans, NOW).statusText
    ).toBe('Shutting down…');
    expect(idleView(idle({ state: 'error' }), trans, NOW).tone).toBe('danger');
    expect(
      idleView(idle({ state: 'mystery' as never }), trans, NOW).label
    ).toBe('mystery');
  });

  it('counts down to shutdown_at, never below zero', () => {
    const v = idleView(
      idle({ state: 'idle', shutdown_at: at(750) }),
      trans,
      NOW
    );
    expect(v.countdown).toBe(750);
    expect(v.statusText).toBe('Shutdown in 12m');
    expect(idleView(idle({ shutdown_at: at(-30) }), trans, NOW).countdown).toBe(
      0
    );
  });

  it('ignores a shutdown time while active', () => {
    expect(
      idleView(idle({ state: 'active', shutdown_at: at(60) }), trans, NOW)
        .countdown
    ).toBeNull();
  });

  it('shows a running keep-alive and flags dry runs', () => {
    const v = idleView(
      idle({ state: 'active', keepalive_until: at(3000) }),
      trans,
      NOW
    );
    expect(v.keepalive).toBe(3000);
    expect(v.statusText).toBe('Kept running 50m');
    expect(
      idleView(idle({ state: 'active', keepalive_until: at(-5) }), trans, NOW)
        .keepalive
    ).toBeNull();
    expect(
      idleView(idle({ state: 'active', dry_run: true }), trans, NOW).statusText
    ).toBe('Auto-shutdown: active (dry run)');
  });
});

describe('shouldWarn', () => {
  it('warns inside the warning window or when the server says so', () => {
    expect(shouldWarn(idle({ shutdown_at: at(300) }), NOW)).toBe(true);
    expect(shouldWarn(idle({ shutdown_at: at(1200) }), NOW)).toBe(false);
    expect(shouldWarn(idle({ state: 'warning' }), NOW)).toBe(true);
    expect(
      shouldWarn(idle({ shutdown_at: at(1200), warning_minutes: 30 }), NOW)
    ).toBe(true);
  });
  it('never warns when off, in dry run, active or already shutting down', () => {
    expect(shouldWarn(idle({ enabled: false, state: 'warning' }), NOW)).toBe(
      false
    );
    expect(shouldWarn(idle({ dry_run: true, state: 'warning' }), NOW)).toBe(
      false
    );
    expect(
      shouldWarn(idle({ state: 'active', shutdown_at: at(60) }), NOW)
    ).toBe(false);
    expect(
      shouldWarn(idle({ state: 'shutting_down', shutdown_at: at(60) }), NOW)
    ).toBe(false);
  });
});

describe('keepAliveChoices / checkTimeout', () => {
  it('offers choices within the admin bound', () => {
    expect(keepAliveChoices(undefined)).toEqual([60, 120, 240, 480]);
    expect(keepAliveChoices(240)).toEqual([60, 120, 240]);
    expect(keepAliveChoices(180)).toEqual([60, 120, 180]);
    expect(keepAliveChoices(30)).toEqual([30]);
    expect(keepAliveChoices(1440)).toEqual([60, 120, 240, 480]);
  });
  it('checks a timeout against the bounds', () => {
    expect(checkTimeout(60, { min: 15, max: 240 }, trans)).toBeNull();
    expect(checkTimeout(5, { min: 15, max: 240 }, trans)).toMatch(
      /At least 15/
    );
    expect(checkTimeout(500, { min: 15, max: 240 }, trans)).toMatch(
      /At most 240/
    );
    expect(checkTimeout(1.5, undefined, trans)).toMatch(/whole number/);
    expect(checkTimeout(NaN, undefined, trans)).toMatch(/whole number/);
  });
});

describe('guardrails', () => {
  const check = (
    id: string,
    status: string,
    severity = 'medium'
  ): IGuardrail => ({
    id,
    title: id,
    status,
    evidence: {},
    why: '',
    fix: '',
    level: 'owner',
    reason: 'r',
    severity
  });

  it('maps status to icon, label and tone (unknown for anything else)', () => {
    expect(guardrailView('pass', trans)).toEqual({
      icon: '✓',
      label: 'Pass',
      tone: 'ok'
    });
    expect(guardrailView('fail', trans)).toEqual({
      icon: '✗',
      label: 'Fail',
      tone: 'danger'
    });
    expect(guardrailView('unknown', trans).label).toBe('Unknown');
    expect(guardrailView('weird', trans).label).toBe('Unknown');
  });

  it('sorts failures first, by severity, and summarises', () => {
    const checks = [
      check('a', 'pass'),
      check('b', 'fail', 'low'),
      check('c', 'unknown'),
      check('d', 'fail', 'high')
    ];
    expect(sortGuardrails(checks).map(c => c.id)).toEqual(['d', 'b', 'c', 'a']);
    expect(guardrailSummary(checks, trans)).toBe('2 fail · 1 unknown · 1 pass');
    expect(guardrailSummary([], trans)).toBe('');
  });
});

describe('backupProgressView', () => {
  it('is indeterminate while scanning', () => {
    expect(backupProgressView({ phase: 'scan', entries: 42 }, trans)).toEqual({
      fraction: null,
      label: 'Scanning… 42 entries'
    });
    expect(backupProgressView(null, trans).fraction).toBeNull();
  });
  it('reports the upload fraction, files, bytes and eta', () => {
    const v = backupProgressView(
      {
        phase: 'upload',
        files_done: 3,
        files_total: 10,
        bytes_done: 1024,
        bytes_total: 4096,
        eta_seconds: 75
      },
      trans
    );
    expect(v.fraction).toBe(0.25);
    expect(v.label).toBe(
      'Uploading 3/10 files · 1.0 KiB of 4.0 KiB · ~1m left'
    );
  });
  it('is full when committing or done, and safe with a zero total', () => {
    expect(backupProgressView({ phase: 'commit' }, trans).fraction).toBe(1);
    expect(backupProgressView({ phase: 'done' }, trans).label).toBe('Done');
    expect(
      backupProgressView({ phase: 'upload', bytes_total: 0 }, trans).fraction
    ).toBeNull();
  });
});

describe('partUnavailable', () => {
  const denied = {
    error: 'access_denied',
    detail: 'no',
    action: 'sagemaker:ListTags'
  };
  it('is fine for ok and partial parts with data', () => {
    const data: IInsights = {
      context: {},
      generated_at: NOW.toISOString(),
      tags: [
        {
          key: 'k',
          value: 'v',
          source: 'domain',
          automatic: false,
          user_id: false
        }
      ],
      parts: { tags: { status: 'partial', errors: [denied] } }
    };
    expect(partUnavailable(data, 'tags', trans)).toEqual({
      unavailable: null,
      error: null
    });
  });
  it('names the denied action when nothing could be read', () => {
    const data: IInsights = {
      context: {},
      generated_at: NOW.toISOString(),
      tags: [],
      parts: { tags: { status: 'partial', errors: [denied] } }
    };
    expect(partUnavailable(data, 'tags', trans).unavailable).toBe(
      'permission missing (sagemaker:ListTags)'
    );
  });
  it('reports other failures as errors', () => {
    const data: IInsights = {
      context: {},
      generated_at: NOW.toISOString(),
      guardrails: [],
      parts: {
        guardrails: {
          status: 'error',
          errors: [{ error: 'aws_error', detail: 'boom' }]
        }
      }
    };
    expect(partUnavailable(data, 'guardrails', trans)).toEqual({
      unavailable: null,
      error: 'aws_error: boom'
    });
  });
  it('passes a not_available part through', () => {
    const data: IInsights = {
      context: {},
      generated_at: NOW.toISOString(),
      parts: {
        costs: {
          status: 'not_available',
          errors: [{ error: 'x', detail: 'not in Studio' }]
        }
      }
    };
    expect(partUnavailable(data, 'costs', trans).unavailable).toBe(
      'not in Studio'
    );
  });
});

describe('sortTags', () => {
  it('puts the user-id tag first, then by source and key', () => {
    const tags = sortTags([
      { key: 'b', value: '', source: 'app', automatic: false, user_id: false },
      {
        key: 'a',
        value: '',
        source: 'domain',
        automatic: false,
        user_id: false
      },
      {
        key: 'uid',
        value: 'alice',
        source: 'user-profile',
        automatic: false,
        user_id: true
      },
      {
        key: 'c',
        value: '',
        source: 'domain',
        automatic: false,
        user_id: false
      }
    ]);
    expect(tags.map(t => t.key)).toEqual(['uid', 'a', 'c', 'b']);
  });
});

describe('warningStep', () => {
  const soon = idle({ shutdown_at: at(300) });
  it('shows one warning per scheduled shutdown', () => {
    expect(warningStep(null, soon, NOW)).toEqual({
      step: 'show',
      key: at(300)
    });
    expect(warningStep(at(300), soon, NOW)).toEqual({
      step: 'keep',
      key: at(300)
    });
    // the shutdown moved (activity, then idle again): a new warning
    expect(warningStep(at(300), idle({ shutdown_at: at(420) }), NOW).step).toBe(
      'show'
    );
  });
  it('dismisses the warning when the app is kept running or active again', () => {
    expect(warningStep(at(300), idle({ state: 'active' }), NOW)).toEqual({
      step: 'dismiss',
      key: null
    });
    expect(warningStep(at(300), null, NOW).step).toBe('dismiss');
    expect(warningStep(null, idle({ state: 'active' }), NOW).step).toBe('none');
  });
});
