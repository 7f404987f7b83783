/**
 * "Backup": last snapshot, next run, "back up now" with live progress, snapshots with "restore…"
 * (GET/POST smstudio/backup, GET smstudio/backup/snapshots, POST smstudio/restore).
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import {
  API,
  IBackupStatus,
  IRestoreRequest,
  IRestoreResult,
  ISnapshot
} from '../api';
import { formatBytes, formatRelative, formatSince, NOT_SET } from '../format';
import { backupProgressView } from '../model';
import {
  describeError,
  ISectionDefinition,
  KeyValueList,
  SectionUnavailable
} from '../section';

export interface IBackupData {
  status: IBackupStatus;
  snapshots: ISnapshot[];
  /** Why the snapshot list could not be read (the status is still shown). */
  snapshotsError: string | null;
}

export async function fetchBackup(
  settings: ServerConnection.ISettings
): Promise<IBackupData> {
  const [status, snaps] = await Promise.all([
    API.getBackup(settings),
    API.getSnapshots(settings).then(
      s => ({ s, e: null as string | null }),
      e => ({ s: [] as ISnapshot[], e: describeError(e) })
    )
  ]);
  if (!status.configured) {
    throw new SectionUnavailable(
      'no backup bucket is configured (HomeBackup.bucket)'
    );
  }
  const snapshots = [...snaps.s].sort((a, b) =>
    (b.time ?? b.id).localeCompare(a.time ?? a.id)
  );
  return { status, snapshots, snapshotsError: snaps.e };
}

/** Start a backup and wait for it, calling `onProgress` about once a second. */
export async function runBackup(
  settings: ServerConnection.ISettings,
  onProgress: (s: IBackupStatus) => void,
  intervalMs = 1000
): Promise<IBackupStatus> {
  try {
    await API.startBackup(settings);
  } catch (error) {
    // 409: one is already running; follow it instead.
    if (
      !(error instanceof ServerConnection.ResponseError) ||
      error.response.status !== 409
    ) {
      throw error;
    }
  }
  return followBackup(settings, onProgress, intervalMs);
}

/** Follow the running backup (if any) until it ends; never starts one. */
export async function followBackup(
  settings: ServerConnection.ISettings,
  onProgress: (s: IBackupStatus) => void,
  intervalMs = 1000
): Promise<IBackupStatus> {
  for (;;) {
    const status = await API.getBackup(settings);
    onProgress(status);
    if (!status.running) {
      return status;
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs));
  }
}

/** The "restore…" form: paths (one per line, empty = everything), target, overwrite. */
class RestoreForm
  extends Widget
  implements Dialog.IBodyWidget<IRestoreRequest>
{
  constructor(private snapshot: ISnapshot) {
    super();
    this.addClass('jp-smstudio-RestoreForm');
    const when = snapshot.time ? formatSince(snapshot.time) : snapshot.id;
    this.node.innerHTML = `
      <p>Snapshot <code></code> (${when}).</p>
      <label for="jp-smstudio-restore-paths">Paths to restore, one per line, relative to home (empty: everything)</label>
      <textarea id="jp-smstudio-restore-paths" class="jp-mod-styled" rows="3" placeholder="notebooks/&#10;data/config.yaml"></textarea>
      <label for="jp-smstudio-restore-target">Restore into (empty: a new folder smstudio-restore-&lt;time&gt; in home)</label>
      <input id="jp-smstudio-restore-target" class="jp-mod-styled" type="text" placeholder="~/smstudio-restore-…">
      <label class="jp-smstudio-Checkbox"><input id="jp-smstudio-restore-overwrite" type="checkbox"> Overwrite existing files in the target</label>`;
    (this.node.querySelector('code') as HTMLElement).textContent = snapshot.id;
  }

  getValue(): IRestoreRequest {
    const paths = (
      this.node.querySelector(
        '#jp-smstudio-restore-paths'
      ) as HTMLTextAreaElement
    ).value
      .split('\n')
      .map(p => p.trim())
      .filter(p => p.length > 0);
    const target = (
      this.node.querySelector('#jp-smstudio-restore-target') as HTMLInputElement
    ).value.trim();
    const overwrite = (
      this.node.querySelector(
        '#jp-smstudio-restore-overwrite'
      ) as HTMLInputElement
    ).checked;
    const body: IRestoreRequest = { snapshot: this.snapshot.id, overwrite };
    if (paths.length) {
      body.paths = paths;
    }
    if (target) {
      body.target = target;
    }
    return body;
  }
}

/** Ask, confirm an overwrite, restore, and report in a notification. */
export async function restoreDialog(
  snapshot: ISnapshot,
  settings: ServerConnection.ISettings
): Promise<void> {
  const form = await showDialog({
    title: 'Restore from backup',
    body: new RestoreForm(snapshot),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Restore…' })],
    focusNodeSelector: 'textarea'
  });
  if (!form.button.accept || !form.value) {
    return;
  }
  const request = form.value;
  if (request.overwrite && !(await confirmOverwrite(request, null))) {
    return;
  }
  let id = Notification.emit(`Restoring ${snapshot.id}…`, 'in-progress', {
    autoClose: false
  });
  try {
    let result: IRestoreResult;
    try {
      result = await API.restore(request, settings);
    } catch (error) {
      // 409: files in the target differ from the snapshot. Ask, then overwrite.
      if (
        request.overwrite ||
        !(error instanceof ServerConnection.ResponseError) ||
        error.response.status !== 409
      ) {
        throw error;
      }
      Notification.dismiss(id);
      const detail = error.message
        .replace(/^conflict:\s*/, '')
        .replace(/;\s*pass --overwrite.*$/, '');
      if (!(await confirmOverwrite(request, detail))) {
        return;
      }
      id = Notification.emit(`Restoring ${snapshot.id}…`, 'in-progress', {
        autoClose: false
      });
      result = await API.restore({ ...request, overwrite: true }, settings);
    }
    if (result.restored) {
      Notification.update({
        id,
        type: 'success',
        message: `Restored ${result.files_written ?? result.files ?? 0} files (${formatBytes(
          result.bytes_written
        )}) into ${result.target}`,
        autoClose: 8000
      });
    } else {
      Notification.update({
        id,
        type: 'warning',
        message: `Not restored: ${result.reason ?? 'unknown reason'}`,
        autoClose: false
      });
    }
  } catch (error) {
    Notification.update({
      id,
      type: 'error',
      message: `Restore failed: ${describeError(error)}`,
      autoClose: false
    });
  }
}

/** "Overwrite files?" with what would be replaced; true when the user agrees. */
async function confirmOverwrite(
  request: IRestoreRequest,
  detail: string | null
): Promise<boolean> {
  const where = request.target ?? 'the target folder';
  const confirm = await showDialog({
    title: 'Overwrite files?',
    body:
      (detail ? `${detail}. ` : '') +
      `Files in ${where} that also exist in the snapshot will be replaced by the snapshot's version. This cannot be undone.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Overwrite' })]
  });
  return confirm.button.accept;
}

export function BackupView(props: {
  data: IBackupData;
  settings: ServerConnection.ISettings;
  refresh: () => void;
}): React.ReactElement {
  const { data, settings } = props;
  const [live, setLive] = React.useState<IBackupStatus | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const status = live ?? data.status;
  const running = status.running;

  const track = React.useCallback(
    async (start: boolean) => {
      setError(null);
      try {
        const final = start
          ? await runBackup(settings, setLive)
          : await followBackup(settings, setLive);
        if (final.last_error) {
          setError(final.last_error.detail ?? final.last_error.error);
        }
      } catch (e) {
        setError(describeError(e));
      } finally {
        setLive(null);
        props.refresh();
      }
    },
    [settings, props.refresh]
  );
  const backUpNow = () => track(true);

  // A backup started elsewhere (schedule, CLI, palette): follow it live, start nothing.
  React.useEffect(() => {
    if (data.status.running && live === null) {
      void track(false);
    }
  }, [data.status.running]);

  const last = status.last_result;
  const progress = backupProgressView(status.progress);
  return (
    <div className="jp-smstudio-Backup">
      <KeyValueList
        label="Backup"
        rows={[
          {
            key: 'Last snapshot',
            value: last?.finished ? formatSince(last.finished) : 'none yet',
            title: last?.snapshot_id ?? undefined
          },
          {
            key: 'Size',
            value: last
              ? `${formatBytes(last.bytes)} · ${last.files ?? NOT_SET} files`
              : NOT_SET
          },
          {
            key: 'Next run',
            value: status.next_run
              ? formatRelative(status.next_run)
              : 'not scheduled',
            title: status.next_run ?? undefined
          },
          {
            key: 'Location',
            value: status.config?.location ?? status.config?.bucket ?? NOT_SET
          },
          {
            key: 'Secrets',
            value: status.config?.include_secrets
              ? 'backed up (HomeBackup.include_secrets)'
              : 'not backed up (~/.aws/credentials, SSH keys, tokens)'
          }
        ]}
      />
      <div className="jp-smstudio-Actions">
        <button
          className="jp-smstudio-Button jp-mod-accept"
          disabled={running}
          onClick={() => void backUpNow()}
        >
          {running ? 'Backing up…' : 'Back up now'}
        </button>
      </div>
      {running && (
        <div className="jp-smstudio-Progress" role="status" aria-live="polite">
          <progress
            max={1}
            value={progress.fraction ?? undefined}
            aria-label="Backup progress"
          />
          <span>{progress.label}</span>
        </div>
      )}
      {(error || status.last_error) && !running && (
        <div className="jp-smstudio-Section-error" role="alert">
          Last backup failed:{' '}
          {error ?? status.last_error?.detail ?? status.last_error?.error}
        </div>
      )}
      <h4 className="jp-smstudio-Subheading">Snapshots</h4>
      {data.snapshotsError ? (
        <div className="jp-smstudio-Section-error" role="alert">
          {data.snapshotsError}
        </div>
      ) : data.snapshots.length === 0 ? (
        <div className="jp-smstudio-Section-message">No snapshots yet.</div>
      ) : (
        <table
          className="jp-smstudio-Table jp-smstudio-Snapshots"
          aria-label="Snapshots"
        >
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Files</th>
              <th scope="col">Size</th>
              <th scope="col">
                <span className="jp-smstudio-visuallyHidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.snapshots.map(s => (
              <tr key={s.id} data-snapshot-id={s.id} title={s.id}>
                <td>{s.time ? formatRelative(s.time) : s.id}</td>
                <td>{s.error ? 'unreadable' : (s.files ?? NOT_SET)}</td>
                <td>{formatBytes(s.bytes)}</td>
                <td>
                  <button
                    className="jp-smstudio-Button"
                    disabled={!!s.error}
                    aria-label={`Restore from snapshot ${s.id}`}
                    onClick={() => void restoreDialog(s, settings)}
                  >
                    Restore…
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function backupSection(): ISectionDefinition<IBackupData> {
  let serverSettings: ServerConnection.ISettings | undefined;
  return {
    id: 'backup',
    title: 'Backup',
    fetch: settings => {
      serverSettings = settings;
      return fetchBackup(settings);
    },
    render: (data, refresh) => (
      <BackupView
        data={data}
        settings={serverSettings ?? ServerConnection.makeSettings()}
        refresh={refresh}
      />
    ),
    refreshInterval: 60
  };
}
