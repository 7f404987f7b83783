/** "Auto-shutdown": state, live signals, countdown, keep running for…, timeout (GET smstudio/idle). */
import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import * as React from 'react';

import { API, IIdleStatus } from '../api';
import {
  formatDuration,
  formatRelative,
  formatSince,
  NOT_SET
} from '../format';
import { IdleWatcher } from '../idle';
import { modeText } from '../idlemode';
import {
  checkTimeout,
  formatMinutes,
  idleView,
  keepAliveChoices
} from '../model';
import { describeError, ISectionDefinition, KeyValueList } from '../section';
import { useNow } from './hooks';

function TimeoutControl(props: {
  status: IIdleStatus;
  settings: ServerConnection.ISettings;
  onChange: (s: IIdleStatus) => void;
}): React.ReactElement {
  const { status } = props;
  const [value, setValue] = React.useState(String(status.timeout_minutes));
  const [message, setMessage] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const min = status.bounds?.min ?? undefined;
  const max = status.bounds?.max ?? undefined;
  const id = 'jp-smstudio-idle-timeout';
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const minutes = Number(value);
    const problem = checkTimeout(minutes, status.bounds);
    if (problem) {
      setMessage(problem);
      return;
    }
    setBusy(true);
    try {
      props.onChange(
        await API.putIdleSettings({ timeout_minutes: minutes }, props.settings)
      );
      setMessage(`Timeout set to ${minutes} min.`);
    } catch (error) {
      setMessage(describeError(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="jp-smstudio-Inline" onSubmit={submit} noValidate>
      <label htmlFor={id}>Shut down after idle for</label>
      <input
        id={id}
        className="jp-mod-styled"
        type="number"
        min={min}
        max={max}
        step={1}
        value={value}
        onChange={e => setValue(e.target.value)}
        aria-describedby={`${id}-help`}
      />
      <span>min</span>
      <button className="jp-smstudio-Button" type="submit" disabled={busy}>
        Set
      </button>
      <div
        id={`${id}-help`}
        className="jp-smstudio-Freshness"
        aria-live="polite"
      >
        {message ??
          (min !== undefined || max !== undefined
            ? `Allowed: ${min ?? 1}–${max ?? '∞'} min`
            : '')}
      </div>
    </form>
  );
}

export function IdleView(props: {
  status: IIdleStatus;
  watcher: IdleWatcher;
  settings: ServerConnection.ISettings;
  refresh: () => void;
}): React.ReactElement {
  const [status, setStatus] = React.useState(props.status);
  React.useEffect(() => setStatus(props.status), [props.status]);
  const now = useNow();
  const view = idleView(status, now);
  const [busy, setBusy] = React.useState(false);
  const choices = keepAliveChoices(status.max_keepalive_minutes);

  const keep = async (minutes: number) => {
    setBusy(true);
    try {
      const next = await props.watcher.keepAlive(minutes);
      setStatus(next);
      Notification.success(
        minutes
          ? `Kept running for ${formatMinutes(minutes)}.`
          : 'Keep-running cancelled.',
        { autoClose: 3000 }
      );
    } catch (error) {
      Notification.error(`Keep running failed: ${describeError(error)}`);
    } finally {
      setBusy(false);
      props.refresh();
    }
  };

  const signals = status.signals ?? [];
  return (
    <div className="jp-smstudio-Idle">
      <div className="jp-smstudio-StateLine">
        <span
          className={`jp-smstudio-Badge jp-smstudio-tone-${view.tone}`}
          data-state={status.state}
        >
          {view.label}
        </span>
        {view.countdown !== null && (
          <span className="jp-smstudio-Countdown" role="timer" aria-live="off">
            shuts down in {formatDuration(view.countdown)}
          </span>
        )}
        {status.dry_run && <span className="jp-smstudio-Badge">dry run</span>}
      </div>
      <KeyValueList
        label="Auto-shutdown"
        rows={[
          {
            key: 'Timeout',
            value: status.enabled ? `${status.timeout_minutes} min idle` : 'off'
          },
          {
            key: 'Idle for',
            value:
              status.state === 'active'
                ? '0s (active now)'
                : formatDuration(status.idle_seconds)
          },
          { key: 'Last active', value: formatSince(status.last_active) },
          {
            key: 'Kept running',
            value:
              view.keepalive !== null
                ? `for ${formatDuration(view.keepalive)} more`
                : NOT_SET
          },
          { key: 'Shut down by', value: modeText(status.mode) ?? NOT_SET }
        ]}
      />
      {status.mode?.warning && (
        <div
          className="jp-smstudio-Freshness jp-smstudio-tone-warn"
          role="note"
          data-mode={status.mode.mode}
          title={(status.mode.reasons ?? []).join('\n')}
        >
          {status.mode.warning}
        </div>
      )}
      {status.platform_file?.error && (
        <div
          className="jp-smstudio-Freshness jp-smstudio-tone-warn"
          role="note"
        >
          {status.platform_file.error}: Studio's idle shutdown cannot see the
          work smstudio sees.
        </div>
      )}
      {status.settings_ignored && (
        <div
          className="jp-smstudio-Freshness jp-smstudio-tone-warn"
          role="note"
        >
          Saved settings {status.settings_ignored}
        </div>
      )}
      {signals.length > 0 && (
        <ul className="jp-smstudio-Signals" aria-label="Activity signals">
          {signals.map(s => (
            <li
              key={s.name}
              title={s.reason}
              className={
                !s.available
                  ? 'jp-smstudio-tone-muted'
                  : s.active
                    ? 'jp-smstudio-tone-ok'
                    : 'jp-smstudio-tone-muted'
              }
            >
              <span aria-hidden="true">{s.active ? '● ' : '○ '}</span>
              <strong>{s.name}</strong>
              <span className="jp-smstudio-visuallyHidden">
                {s.active ? ' (keeping the app alive)' : ' (idle)'}
              </span>
              : {s.reason}
            </li>
          ))}
        </ul>
      )}
      {(status.apps ?? []).length > 1 && (
        <table className="jp-smstudio-Table" aria-label="Apps watched">
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Decision</th>
              <th scope="col">Shutdown</th>
            </tr>
          </thead>
          <tbody>
            {(status.apps ?? []).map(a => (
              <tr
                key={`${a.app_type}/${a.app_name}`}
                title={a.reason ?? undefined}
              >
                <td>
                  {a.app_name} ({a.app_type}
                  {a.instance_type ? `, ${a.instance_type}` : ''})
                </td>
                <td>{a.decision}</td>
                <td>
                  {a.shutdown_at ? formatRelative(a.shutdown_at, now) : NOT_SET}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {status.enabled && (
        <div
          className="jp-smstudio-Actions"
          role="group"
          aria-label="Keep running for"
        >
          <span>Keep running for</span>
          {choices.map(m => (
            <button
              key={m}
              className="jp-smstudio-Button"
              disabled={busy}
              onClick={() => void keep(m)}
              aria-label={`Keep running for ${formatMinutes(m)}`}
            >
              {formatMinutes(m)}
            </button>
          ))}
          {view.keepalive !== null && (
            <button
              className="jp-smstudio-Button"
              disabled={busy}
              onClick={() => void keep(0)}
            >
              Cancel
            </button>
          )}
        </div>
      )}
      {status.enabled && (
        <TimeoutControl
          status={status}
          settings={props.settings}
          onChange={s => {
            setStatus(s);
            props.watcher.update(s);
          }}
        />
      )}
      {status.last_error && (
        <div className="jp-smstudio-Section-error" role="alert">
          {typeof status.last_error === 'string'
            ? status.last_error
            : (status.last_error.detail ?? status.last_error.error)}
        </div>
      )}
    </div>
  );
}

export function idleSection(
  watcher: IdleWatcher
): ISectionDefinition<IIdleStatus> {
  let serverSettings: ServerConnection.ISettings | undefined;
  return {
    id: 'idle',
    title: 'Auto-shutdown',
    fetch: async settings => {
      serverSettings = settings;
      const status = await API.getIdle(settings);
      watcher.update(status);
      return status;
    },
    render: (status, refresh) => (
      <IdleView
        status={status}
        watcher={watcher}
        settings={serverSettings ?? ServerConnection.makeSettings()}
        refresh={refresh}
      />
    ),
    refreshInterval: 15
  };
}
