/** "Auto-shutdown": state, live signals, countdown, keep running for…, timeout (GET smstudio/idle). */
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IIdleStatus } from '../api';
import {
  formatDuration,
  formatMinutes,
  formatRelative,
  formatSince,
  NOT_SET
} from '../format';
import { modeText } from '../idlemode';
import { checkTimeout, idleView, keepAliveChoices } from '../model';
import { IdleModel } from '../models/idle';
import { describeError, ISectionDefinition, KeyValueList } from '../section';
import { useLatest, useNow } from './hooks';

function TimeoutControl(props: {
  status: IIdleStatus;
  model: IdleModel;
  trans: TranslationBundle;
}): React.ReactElement {
  const { status, trans } = props;
  const [value, setValue] = React.useState(String(status.timeout_minutes));
  const [message, setMessage] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const min = status.bounds?.min ?? undefined;
  const max = status.bounds?.max ?? undefined;
  const id = 'jp-smstudio-idle-timeout';
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const minutes = Number(value);
    const problem = checkTimeout(minutes, status.bounds, trans);
    if (problem) {
      setMessage(problem);
      return;
    }
    setBusy(true);
    try {
      await props.model.setSettings({ timeout_minutes: minutes });
      setMessage(trans.__('Timeout set to %1 min.', minutes));
    } catch (error) {
      setMessage(describeError(error, trans));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="jp-smstudio-Inline" onSubmit={submit} noValidate>
      <label htmlFor={id}>{trans.__('Shut down after idle for')}</label>
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
      <span>{trans.__('min')}</span>
      <button className="jp-smstudio-Button" type="submit" disabled={busy}>
        {trans.__('Set')}
      </button>
      <div
        id={`${id}-help`}
        className="jp-smstudio-Freshness"
        aria-live="polite"
      >
        {message ??
          (min !== undefined || max !== undefined
            ? trans.__('Allowed: %1–%2 min', min ?? 1, max ?? '∞')
            : '')}
      </div>
    </form>
  );
}

function signalClass(s: { available: boolean; active: boolean }): string {
  return s.available && s.active
    ? 'jp-smstudio-tone-ok'
    : 'jp-smstudio-tone-muted';
}

export function IdleView(props: {
  status: IIdleStatus;
  model: IdleModel;
  trans: TranslationBundle;
  refresh: () => void;
}): React.ReactElement {
  const { model, trans } = props;
  const status = useLatest(model.changed, props.status);
  const now = useNow();
  const view = idleView(status, trans, now);
  const [busy, setBusy] = React.useState(false);
  const choices = keepAliveChoices(status.max_keepalive_minutes);

  const keep = async (minutes: number) => {
    setBusy(true);
    try {
      await model.keepAlive(minutes);
      Notification.success(
        minutes
          ? trans.__('Kept running for %1.', formatMinutes(minutes, trans))
          : trans.__('Keep-running cancelled.'),
        { autoClose: 3000 }
      );
    } catch (error) {
      Notification.error(
        trans.__('Keep running failed: %1', describeError(error, trans))
      );
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
            {trans.__(
              'shuts down in %1',
              formatDuration(view.countdown, trans)
            )}
          </span>
        )}
        {status.dry_run && (
          <span className="jp-smstudio-Badge">{trans.__('dry run')}</span>
        )}
      </div>
      <KeyValueList
        label={trans.__('Auto-shutdown')}
        rows={[
          {
            key: trans.__('Timeout'),
            value: status.enabled
              ? trans.__('%1 min idle', status.timeout_minutes)
              : trans.__('off')
          },
          {
            key: trans.__('Idle for'),
            value:
              status.state === 'active'
                ? trans.__('0s (active now)')
                : formatDuration(status.idle_seconds, trans)
          },
          {
            key: trans.__('Last active'),
            value: formatSince(status.last_active, trans)
          },
          {
            key: trans.__('Kept running'),
            value:
              view.keepalive !== null
                ? trans.__('for %1 more', formatDuration(view.keepalive, trans))
                : NOT_SET
          },
          {
            key: trans.__('Shut down by'),
            value: modeText(status.mode, trans) ?? NOT_SET
          }
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
          {trans.__(
            "%1: Studio's idle shutdown cannot see the work smstudio sees.",
            status.platform_file.error
          )}
        </div>
      )}
      {status.settings_ignored && (
        <div
          className="jp-smstudio-Freshness jp-smstudio-tone-warn"
          role="note"
        >
          {trans.__('Saved settings %1', status.settings_ignored)}
        </div>
      )}
      {signals.length > 0 && (
        <ul
          className="jp-smstudio-Signals"
          aria-label={trans.__('Activity signals')}
        >
          {signals.map(s => (
            <li key={s.name} title={s.reason} className={signalClass(s)}>
              <span aria-hidden="true">{s.active ? '● ' : '○ '}</span>
              <strong>{s.name}</strong>
              <span className="jp-smstudio-visuallyHidden">
                {s.active
                  ? trans.__(' (keeping the app alive)')
                  : trans.__(' (idle)')}
              </span>
              : {s.reason}
            </li>
          ))}
        </ul>
      )}
      {(status.apps ?? []).length > 1 && (
        <table
          className="jp-smstudio-Table"
          aria-label={trans.__('Apps watched')}
        >
          <thead>
            <tr>
              <th scope="col">{trans.__('App')}</th>
              <th scope="col">{trans.__('Decision')}</th>
              <th scope="col">{trans.__('Shutdown')}</th>
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
                  {a.shutdown_at
                    ? formatRelative(a.shutdown_at, trans, now)
                    : NOT_SET}
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
          aria-labelledby="jp-smstudio-keep-label"
        >
          <span id="jp-smstudio-keep-label">
            {trans.__('Keep running for')}
          </span>
          {choices.map(m => (
            <button
              key={m}
              className="jp-smstudio-Button"
              disabled={busy}
              onClick={() => void keep(m)}
              aria-label={trans.__(
                'Keep running for %1',
                formatMinutes(m, trans)
              )}
            >
              {formatMinutes(m, trans)}
            </button>
          ))}
          {view.keepalive !== null && (
            <button
              className="jp-smstudio-Button"
              disabled={busy}
              onClick={() => void keep(0)}
              aria-label={trans.__('Cancel keep running')}
            >
              {trans.__('Cancel')}
            </button>
          )}
        </div>
      )}
      {status.enabled && (
        <TimeoutControl status={status} model={model} trans={trans} />
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
  model: IdleModel,
  trans: TranslationBundle
): ISectionDefinition<IIdleStatus> {
  return {
    id: 'idle',
    title: trans.__('Auto-shutdown'),
    fetch: () => model.fetch(),
    render: (status, refresh) => (
      <IdleView status={status} model={model} trans={trans} refresh={refresh} />
    ),
    refreshInterval: 15
  };
}
