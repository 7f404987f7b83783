/**
 * The shutdown warning: a JupyterLab notification when a shutdown comes within the warning
 * window (or the server says "warning"), offering "Keep running 1 h"; one per scheduled
 * shutdown, dismissed when the app is active again. And a notification when the server says it
 * is shutting the app down now. Both follow the idle model, which learns a warning from the
 * server's events at once.
 */
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';

import { IIdleStatus } from './api';
import { formatDuration } from './format';
import { idleView, warningStep } from './model';
import { describeError } from './section';
import { IIdleModel } from './tokens';

export class ShutdownWarning implements IDisposable {
  constructor(
    private model: IIdleModel,
    private trans: TranslationBundle
  ) {
    model.changed.connect(this._onChanged, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.model.changed.disconnect(this._onChanged, this);
    this._dismiss();
  }

  private _onChanged(_: unknown, status: IIdleStatus | null): void {
    if (status?.state === 'shutting_down' && !status.dry_run) {
      this._shuttingDown();
      return;
    }
    const { step, key } = warningStep(this._warnedFor, status);
    if (step === 'dismiss') {
      this._dismiss();
    }
    if (step !== 'show' || !status) {
      return;
    }
    this._dismiss();
    this._warnedFor = key;
    const trans = this.trans;
    const { countdown } = idleView(status, trans);
    const idleFor = formatDuration(status.idle_seconds ?? 0, trans);
    const message =
      countdown !== null
        ? trans.__(
            'This SageMaker Studio app shuts down in %1: no activity for %2. Unsaved work in open notebooks may be lost.',
            formatDuration(countdown, trans),
            idleFor
          )
        : trans.__(
            'This SageMaker Studio app shuts down soon: no activity for %1. Unsaved work in open notebooks may be lost.',
            idleFor
          );
    this._notificationId = Notification.warning(message, {
      autoClose: false,
      actions: [
        {
          label: trans.__('Keep running 1 h'),
          caption: trans.__('Postpone the automatic shutdown by one hour'),
          displayType: 'accent',
          callback: () => {
            this.model.keepAlive(60).catch(reason => {
              Notification.error(
                trans.__(
                  'Keep running failed: %1',
                  describeError(reason, trans)
                )
              );
            });
          }
        }
      ]
    });
  }

  private _shuttingDown(): void {
    if (this._shutdownShown) {
      return;
    }
    this._dismiss();
    this._shutdownShown = true;
    Notification.error(
      this.trans.__(
        'This SageMaker Studio app is shutting down (idle). Save your work elsewhere; reopen the space from Studio to continue.'
      ),
      { autoClose: false }
    );
  }

  private _dismiss(): void {
    if (this._notificationId) {
      Notification.dismiss(this._notificationId);
      this._notificationId = null;
    }
    this._warnedFor = null;
  }

  private _notificationId: string | null = null;
  private _warnedFor: string | null = null;
  private _shutdownShown = false;
  private _isDisposed = false;
}
