/**
 * "Backup": last snapshot, next run, "back up now" with live progress, snapshots with "restore…"
 * (the backup model: GET/POST smstudio/backup, GET smstudio/backup/snapshots, POST
 * smstudio/restore).
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import {
  IBackupStatus,
  IRestoreRequest,
  IRestoreResult,
  ISnapshot
} from '../api';
import { formatBytes, formatRelative, formatSince, NOT_SET } from '../format';
import { errorCode } from '../handler';
import { backupProgressView } from '../model';
import { BackupModel, IBackupData } from '../models/backup';
import {
  describeError,
  ISectionDefinition,
  KeyValueList,
  SectionUnavailable
} from '../section';
import { useLatest } from './hooks';

/** The "restore…" form: paths (one per line, empty = everything), target, overwrite. */
class RestoreForm
  extends Widget
  implements Dialog.IBodyWidget<IRestoreRequest>
{
  constructor(
    private snapshot: ISnapshot,
    trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-smstudio-RestoreForm');
    const when = snapshot.time ? formatSince(snapshot.time, trans) : null;
    const intro = document.createElement('p');
    intro.textContent = when
      ? trans.__('Snapshot %1 (%2).', snapshot.id, when)
      : trans.__('Snapshot %1.', snapshot.id);
    this._paths = document.createElement('textarea');
    this._paths.id = 'jp-smstudio-restore-paths';
    this._paths.className = 'jp-mod-styled';
    this._paths.rows = 3;
    this._paths.placeholder = 'notebooks/\ndata/config.yaml';
    this._target = document.createElement('input');
    this._target.id = 'jp-smstudio-restore-target';
    this._target.className = 'jp-mod-styled';
    this._target.type = 'text';
    this._target.placeholder = '~/smstudio-restore-…';
    this._overwrite = document.createElement('input');
    this._overwrite.id = 'jp-smstudio-restore-overwrite';
    this._overwrite.type = 'checkbox';
    const overwriteLabel = document.createElement('label');
    overwriteLabel.className = 'jp-smstudio-Checkbox';
    overwriteLabel.append(
      this._overwrite,
      ` ${trans.__('Overwrite existing files in the target')}`
    );
    this.node.append(
      intro,
      label(
        this._paths,
        trans.__(
          'Paths to restore, one per line, relative to home (empty: everything)'
        )
      ),
      this._paths,
      label(
        this._target,
        trans.__(
          'Restore into (empty: a new folder smstudio-restore-<time> in home)'
        )
      ),
      this._target,
      overwriteLabel
    );
  }

  getValue(): IRestoreRequest {
    const paths = this._paths.value
      .split('\n')
      .map(p => p.trim())
      .filter(p => p.length > 0);
    const target = this._target.value.trim();
    const body: IRestoreRequest = {
      snapshot: this.snapshot.id,
      overwrite: this._overwrite.checked
    };
    if (paths.length) {
      body.paths = paths;
    }
    if (target) {
      body.target = target;
    }
    return body;
  }

  private _paths: HTMLTextAreaElement;
  private _target: HTMLInputElement;
  private _overwrite: HTMLInputElement;
}

function label(control: HTMLElement, text: string): HTMLLabelElement {
  const node = document.createElement('label');
  node.htmlFor = control.id;
  node.textContent = text;
  return node;
}

/** Ask, confirm an overwrite, restore, and report in a notification. */
export async function restoreDialog(
  snapshot: ISnapshot,
  model: BackupModel,
  trans: TranslationBundle
): Promise<void> {
  const form = await showDialog({
    title: trans.__('Restore from backup'),
    body: new RestoreForm(snapshot, trans),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Restore…') })
    ],
    focusNodeSelector: 'textarea'
  });
  if (!form.button.accept || !form.value) {
    return;
  }
  const request = form.value;
  if (request.overwrite && !(await confirmOverwrite(request, null, trans))) {
    return;
  }
  const restoring = trans.__('Restoring %1…', snapshot.id);
  let id = Notification.emit(restoring, 'in-progress', { autoClose: false });
  try {
    let result: IRestoreResult;
    try {
      result = await model.restore(request);
    } catch (error) {
      // 409 conflict: files in the target differ from the snapshot. Ask, then overwrite.
      if (request.overwrite || errorCode(error) !== 'conflict') {
        throw error;
      }
      Notification.dismiss(id);
      const detail = (error as Error).message
        .replace(/^conflict:\s*/, '')
        .replace(/;\s*pass --overwrite.*$/, '');
      if (!(await confirmOverwrite(request, detail, trans))) {
        return;
      }
      id = Notification.emit(restoring, 'in-progress', { autoClose: false });
      result = await model.restore({ ...request, overwrite: true });
    }
    if (result.restored) {
      Notification.update({
        id,
        type: 'success',
        message: trans._n(
          'Restored %1 file (%2) into %3',
          'Restored %1 files (%2) into %3',
          result.files_written ?? result.files ?? 0,
          formatBytes(result.bytes_written),
          result.target
        ),
        autoClose: 8000
      });
    } else {
      Notification.update({
        id,
        type: 'warning',
        message: trans.__(
          'Not restored: %1',
          result.reason ?? trans.__('unknown reason')
        ),
        autoClose: false
      });
    }
  } catch (error) {
    Notification.update({
      id,
      type: 'error',
      message: trans.__('Restore failed: %1', describeError(error, trans)),
      autoClose: false
    });
  }
}

/** "Overwrite files?" with what would be replaced; true when the user agrees. */
async function confirmOverwrite(
  request: IRestoreRequest,
  detail: string | null,
  trans: TranslationBundle
): Promise<boolean> {
  const where = request.target ?? trans.__('the target folder');
  const body = trans.__(
    "Files in %1 that also exist in the snapshot will be replaced by the snapshot's version. This cannot be undone.",
    where
  );
  const confirm = await showDialog({
    title: trans.__('Overwrite files?'),
    body: detail ? `${detail}. ${body}` : body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Overwrite') })
    ]
  });
  return confirm.button.accept;
}

/**
 * Start a backup, or follow the one already running, telling the user either way. The one
 * behaviour of "back up now", whether from the section's button or the command palette.
 */
export async function backUpNow(
  model: BackupModel,
  trans: TranslationBundle
): Promise<IBackupStatus | null> {
  try {
    const { started, following } = await model.backUpNow();
    Notification.info(
      started
        ? trans.__('Backup started; progress in the SageMaker Studio panel.')
        : trans.__(
            'A backup is already running; its progress is in the SageMaker Studio panel.'
          ),
      { autoClose: 4000 }
    );
    return await following;
  } catch (error) {
    Notification.error(
      trans.__('Back up now failed: %1', describeError(error, trans))
    );
    return null;
  }
}

export function BackupView(props: {
  data: IBackupData;
  model: BackupModel;
  trans: TranslationBundle;
  refresh: () => void;
}): React.ReactElement {
  const { data, model, trans, refresh } = props;
  const status = useLatest<IBackupStatus>(model.changed, data.status);
  const running = status.running;

  // When a followed backup ends (started here, by the schedule, the CLI or the palette), show
  // the new snapshot list.
  React.useEffect(() => {
    const done = () => refresh();
    model.finished.connect(done);
    return () => {
      model.finished.disconnect(done);
    };
  }, [model, refresh]);

  const last = status.last_result;
  const progress = backupProgressView(status.progress, trans);
  const lastError = status.last_error;
  return (
    <div className="jp-smstudio-Backup">
      <KeyValueList
        label={trans.__('Backup')}
        rows={[
          {
            key: trans.__('Last snapshot'),
            value: last?.finished
              ? formatSince(last.finished, trans)
              : trans.__('none yet'),
            title: last?.snapshot_id ?? undefined
          },
          {
            key: trans.__('Size'),
            value: last
              ? trans._n(
                  '%2 · %1 file',
                  '%2 · %1 files',
                  last.files ?? 0,
                  formatBytes(last.bytes)
                )
              : NOT_SET
          },
          {
            key: trans.__('Next run'),
            value: status.next_run
              ? formatRelative(status.next_run, trans)
              : trans.__('not scheduled'),
            title: status.next_run ?? undefined
          },
          {
            key: trans.__('Location'),
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
          onClick={() => void backUpNow(model, trans)}
        >
          {running ? trans.__('Backing up…') : trans.__('Back up now')}
        </button>
      </div>
      {running && (
        <div className="jp-smstudio-Progress" role="status" aria-live="polite">
          <progress
            max={1}
            value={progress.fraction ?? undefined}
            aria-label={trans.__('Backup progress')}
          />
          <span>{progress.label}</span>
        </div>
      )}
      {lastError && !running && (
        <div className="jp-smstudio-Section-error" role="alert">
          {trans.__(
            'Last backup failed: %1',
            lastError.detail ?? lastError.error
          )}
        </div>
      )}
      <h4 className="jp-smstudio-Subheading">{trans.__('Snapshots')}</h4>
      {data.snapshotsError ? (
        <div className="jp-smstudio-Section-error" role="alert">
          {describeError(data.snapshotsError, trans)}
        </div>
      ) : data.snapshots.length === 0 ? (
        <div className="jp-smstudio-Section-message">
          {trans.__('No snapshots yet.')}
        </div>
      ) : (
        <table
          className="jp-smstudio-Table jp-smstudio-Snapshots"
          aria-label={trans.__('Snapshots')}
        >
          <thead>
            <tr>
              <th scope="col">{trans.__('When')}</th>
              <th scope="col">{trans.__('Files')}</th>
              <th scope="col">{trans.__('Size')}</th>
              <th scope="col">
                <span className="jp-smstudio-visuallyHidden">
                  {trans.__('Actions')}
                </span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.snapshots.map(s => (
              <tr key={s.id} data-snapshot-id={s.id} title={s.id}>
                <td>{s.time ? formatRelative(s.time, trans) : s.id}</td>
                <td>
                  {s.error ? trans.__('unreadable') : (s.files ?? NOT_SET)}
                </td>
                <td>{formatBytes(s.bytes)}</td>
                <td>
                  <button
                    className="jp-smstudio-Button"
                    disabled={!!s.error}
                    aria-label={trans.__('Restore from snapshot %1', s.id)}
                    onClick={() => void restoreDialog(s, model, trans)}
                  >
                    {trans.__('Restore…')}
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

export function backupSection(
  model: BackupModel,
  trans: TranslationBundle
): ISectionDefinition<IBackupData> {
  return {
    id: 'backup',
    title: trans.__('Backup'),
    fetch: async () => {
      const data = await model.fetch();
      if (!data.status.configured) {
        throw new SectionUnavailable(
          trans.__('no backup bucket is configured (HomeBackup.bucket)')
        );
      }
      return data;
    },
    render: (data, refresh) => (
      <BackupView data={data} model={model} trans={trans} refresh={refresh} />
    ),
    refreshInterval: 60
  };
}
