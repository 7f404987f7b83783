import { IBackupStatus, IIdleStatus } from '../api';
import { asIdleDecision, IDLE_DECISION_SCHEMA } from '../events';
import { ApiError } from '../handler';
import { BackupModel } from '../models/backup';
import { IdleModel } from '../models/idle';
import { InsightsModel } from '../models/insights';
import { ResourceModel } from '../models/resource';
import { FakeServer, until } from './fakeserver';

const idle = (extra: Partial<IIdleStatus> = {}): IIdleStatus => ({
  enabled: true,
  dry_run: false,
  timeout_minutes: 60,
  bounds: {},
  state: 'idle',
  idle_seconds: 0,
  signals: [],
  apps: [],
  history: [],
  last_error: null,
  ...extra
});

const backupStatus = (running: boolean, phase = 'upload'): IBackupStatus => ({
  configured: true,
  config: {},
  running,
  progress: running ? { phase, files_done: 1, files_total: 2 } : null,
  last_result: running ? null : { snapshot_id: 'snap-2', files: 2 }
});

describe('BackupModel', () => {
  /** A backup that runs for `ticks` status requests after it was started. */
  function server(options: { runningAlready?: boolean; ticks?: number } = {}) {
    const s = new FakeServer();
    let left = options.runningAlready ? (options.ticks ?? 2) : 0;
    s.on('POST backup', () =>
      left > 0
        ? {
            status: 409,
            body: { error: 'conflict', detail: 'a backup is running' }
          }
        : ((left = options.ticks ?? 2),
          { status: 202, body: { started: true } })
    );
    s.on('GET backup', () => {
      const running = left > 0;
      left = Math.max(0, left - 1);
      return { status: 200, body: backupStatus(running) };
    });
    s.on('GET backup/snapshots', () => ({
      status: 200,
      body: {
        snapshots: [
          { id: 'snap-1', time: '2026-01-01T00:00:00Z' },
          { id: 'snap-2', time: '2026-01-02T00:00:00Z' }
        ]
      }
    }));
    return s;
  }

  it('starts a backup and follows it to the end, emitting its progress', async () => {
    const s = server({ ticks: 2 });
    const model = new BackupModel({
      serverSettings: s.settings,
      followInterval: 1
    });
    const seen: boolean[] = [];
    model.changed.connect((_, st) => seen.push(st.running));
    const finished = jest.fn();
    model.finished.connect(finished);
    const { started, following } = await model.backUpNow();
    expect(started).toBe(true);
    const final = await following;
    expect(final.running).toBe(false);
    expect(seen).toEqual([true, true, false]);
    expect(finished).toHaveBeenCalledTimes(1);
    expect(model.snapshots.map(x => x.id)).toEqual(['snap-2', 'snap-1']);
    model.dispose();
  });

  it('follows the running backup when one is already running (409 conflict is no error)', async () => {
    const s = server({ runningAlready: true, ticks: 2 });
    const model = new BackupModel({
      serverSettings: s.settings,
      followInterval: 1
    });
    const { started, following } = await model.backUpNow();
    expect(started).toBe(false);
    expect((await following).running).toBe(false);
    expect(s.count('POST backup')).toBe(1);
    model.dispose();
  });

  it('reports a 409 not_configured as the error it is', async () => {
    const s = new FakeServer().on('POST backup', () => ({
      status: 409,
      body: { error: 'not_configured', detail: 'no bucket' }
    }));
    const model = new BackupModel({ serverSettings: s.settings });
    await expect(model.backUpNow()).rejects.toBeInstanceOf(ApiError);
    await expect(model.backUpNow()).rejects.toMatchObject({
      code: 'not_configured'
    });
    model.dispose();
  });

  it('runs one follow loop however many callers follow', async () => {
    const s = server({ runningAlready: true, ticks: 3 });
    const model = new BackupModel({
      serverSettings: s.settings,
      followInterval: 1
    });
    const [a, b] = await Promise.all([model.follow(), model.follow()]);
    expect(a).toBe(b);
    expect(s.count('GET backup')).toBe(4); // 3 running + the final one
    model.dispose();
  });

  it('a fetch that finds a backup running follows it (started elsewhere)', async () => {
    const s = server({ runningAlready: true, ticks: 2 });
    const model = new BackupModel({
      serverSettings: s.settings,
      followInterval: 1
    });
    const finished = jest.fn();
    model.finished.connect(finished);
    const data = await model.fetch();
    expect(data.status.running).toBe(true);
    await until(() => finished.mock.calls.length === 1);
    expect(model.running).toBe(false);
    model.dispose();
  });

  it('keeps the status when only the snapshot list fails', async () => {
    const s = new FakeServer()
      .on('GET backup', () => ({ status: 200, body: backupStatus(false) }))
      .on('GET backup/snapshots', () => ({
        status: 403,
        body: { error: 'access_denied', detail: 'no s3:ListBucket' }
      }));
    const model = new BackupModel({ serverSettings: s.settings });
    const data = await model.fetch();
    expect(data.status.configured).toBe(true);
    expect(data.snapshotsError).toBeInstanceOf(ApiError);
    model.dispose();
  });
});

describe('IdleModel', () => {
  const event = (extra: Record<string, unknown>) =>
    asIdleDecision({
      schema_id: IDLE_DECISION_SCHEMA,
      at: '2026-11-30T12:00:00Z',
      reason: 'r',
      app_type: 'JupyterLab',
      app_name: 'default',
      decision: 'idle',
      ...extra
    })!;

  function model(status: IIdleStatus = idle({ state: 'active' })) {
    const s = new FakeServer().on('GET idle', () => ({
      status: 200,
      body: status
    }));
    return {
      s,
      m: new IdleModel({ serverSettings: s.settings, standby: 'never' })
    };
  }

  it('a warning event shows at once, then the full state is asked for', async () => {
    const { s, m } = model(
      idle({ state: 'warning', shutdown_at: '2026-11-30T12:10:00Z' })
    );
    m.update(idle({ state: 'active' }));
    const states: string[] = [];
    m.changed.connect((_, st) => states.push(st?.state ?? 'null'));
    m.handleEvent(
      event({
        decision: 'warning',
        shutdown_at: '2026-11-30T12:10:00Z',
        idle_seconds: 3000
      })
    );
    expect(m.status).toMatchObject({
      state: 'warning',
      shutdown_at: '2026-11-30T12:10:00Z',
      idle_seconds: 3000
    });
    await until(() => s.count('GET idle') === 1);
    await until(() => states.length === 2);
    m.dispose();
  });

  it('a shutdown that deleted the app is "shutting down"', () => {
    const { m } = model();
    m.handleEvent(
      event({ decision: 'shutdown', action: { outcome: 'deleted' } })
    );
    expect(m.status?.state).toBe('shutting_down');
    m.dispose();
  });

  it('a failed or dry-run decision changes nothing locally', () => {
    const { m } = model();
    m.update(idle({ state: 'idle' }));
    m.handleEvent(
      event({ decision: 'shutdown', action: { outcome: 'denied' } })
    );
    m.handleEvent(event({ decision: 'warning', dry_run: true }));
    expect(m.status?.state).toBe('idle');
    m.dispose();
  });

  it('asks for the state only when an app decision changes', async () => {
    const { s, m } = model();
    const decided = jest.fn();
    m.decided.connect(decided);
    m.handleEvent(event({ decision: 'idle' }));
    await until(() => s.count('GET idle') === 1);
    m.handleEvent(event({ decision: 'idle' }));
    m.handleEvent(event({ decision: 'idle' }));
    expect(decided).toHaveBeenCalledTimes(3);
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(s.count('GET idle')).toBe(1);
    m.dispose();
  });

  it('keep-alive and settings answer with the new state', async () => {
    const s = new FakeServer()
      .on('POST idle/keepalive', body => ({
        status: 200,
        body: idle({
          state: 'active',
          keepalive_until: `+${(body as any).minutes}`
        })
      }))
      .on('PUT idle/settings', body => ({
        status: 200,
        body: idle({ timeout_minutes: (body as any).timeout_minutes })
      }));
    const m = new IdleModel({ serverSettings: s.settings, standby: 'never' });
    const seen = jest.fn();
    m.changed.connect(seen);
    await m.keepAlive(120);
    expect(m.status?.keepalive_until).toBe('+120');
    await m.setSettings({ timeout_minutes: 90 });
    expect(m.status?.timeout_minutes).toBe(90);
    expect(seen).toHaveBeenCalledTimes(2);
    m.dispose();
  });
});

describe('asIdleDecision', () => {
  it('takes only our schema with a decision', () => {
    expect(
      asIdleDecision({
        schema_id: 'https://events.jupyter.org/x',
        decision: 'warning',
        at: 'x'
      })
    ).toBeNull();
    expect(
      asIdleDecision({ schema_id: IDLE_DECISION_SCHEMA, at: 'x' })
    ).toBeNull();
    expect(asIdleDecision(null)).toBeNull();
    expect(
      asIdleDecision({
        schema_id: IDLE_DECISION_SCHEMA,
        decision: 'idle',
        at: 'x'
      })?.decision
    ).toBe('idle');
  });
});

describe('ResourceModel and InsightsModel', () => {
  it('share one request between concurrent readers', async () => {
    let answer = 0;
    const model = new ResourceModel(async () => {
      answer += 1;
      await new Promise(resolve => setTimeout(resolve, 5));
      return answer;
    });
    const seen = jest.fn();
    model.changed.connect(seen);
    expect(await Promise.all([model.fetch(), model.fetch()])).toEqual([1, 1]);
    expect(seen).toHaveBeenCalledTimes(1);
    expect(await model.fetch()).toBe(2);
    expect(model.value).toBe(2);
    model.dispose();
  });

  it('asks the server for one insights part at a time', async () => {
    const s = new FakeServer()
      .on('GET insights?parts=tags', () => ({
        status: 200,
        body: { tags: [] }
      }))
      .on('GET insights?parts=costs', () => ({
        status: 200,
        body: { costs: {} }
      }));
    const model = new InsightsModel({ serverSettings: s.settings });
    const parts: string[] = [];
    model.changed.connect((_, x) => parts.push(x.part));
    await Promise.all([
      model.fetch('tags'),
      model.fetch('tags'),
      model.fetch('costs')
    ]);
    expect(s.calls.sort()).toEqual([
      'GET insights?parts=costs',
      'GET insights?parts=tags'
    ]);
    expect(parts.sort()).toEqual(['costs', 'tags']);
    expect(model.part('tags')).toEqual({ tags: [] });
    model.dispose();
  });
});
