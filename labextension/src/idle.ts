/**
 * The idle-shutdown watcher behind the status-bar item and the shutdown warning.
 *
 * One `Poll` of GET smstudio/idle (standing by while the browser tab is hidden). The idle section
 * feeds its own fetches in too (`update`), so both views agree. When a shutdown comes within the
 * warning window, a JupyterLab notification offers "Keep running 1 h".
 */
import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { API, IIdleStatus } from './api';
import { formatDuration } from './format';
import { idleView, warningStep } from './model';

export class IdleWatcher implements IDisposable {
  constructor(options: IdleWatcher.IOptions) {
    this._settings = options.serverSettings;
    this._poll = new Poll({
      auto: false,
      factory: async () => {
        const status = await API.getIdle(this._settings);
        this.update(status);
      },
      frequency: {
        interval: (options.interval ?? 30) * 1000,
        backoff: true,
        max: 5 * 60 * 1000
      },
      name: 'smstudio-ext:idle-watcher',
      standby: 'when-hidden'
    });
  }

  get status(): IIdleStatus | null {
    return this._status;
  }

  /** Emits each new status (null when the idle API is missing). */
  get changed(): ISignal<this, IIdleStatus | null> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  start(): Promise<void> {
    return this._poll.start();
  }

  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  /** Keep the app running for `minutes` (0 cancels); updates the status at once. */
  async keepAlive(minutes: number): Promise<IIdleStatus> {
    const status = await API.keepAlive(minutes, this._settings);
    this.update(status);
    return status;
  }

  update(status: IIdleStatus | null): void {
    this._status = status;
    this._changed.emit(status);
    this._notify(status);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this._dismiss();
    Signal.clearData(this);
  }

  private _notify(status: IIdleStatus | null): void {
    const { step, key } = warningStep(this._warnedFor, status);
    if (step === 'dismiss') {
      this._dismiss();
    }
    if (step !== 'show' || !status) {
      return;
    }
    this._dismiss();
    this._warnedFor = key;
    const { countdown } = idleView(status);
    const when =
      countdown !== null ? `in ${formatDuration(countdown)}` : 'soon';
    this._notificationId = Notification.warning(
      `This SageMaker Studio app shuts down ${when}: no activity for ${formatDuration(
        status.idle_seconds ?? 0
      )}. Unsaved work in open notebooks may be lost.`,
      {
        autoClose: false,
        actions: [
          {
            label: 'Keep running 1 h',
            caption: 'Postpone the automatic shutdown by one hour',
            displayType: 'accent',
            callback: () => {
              this.keepAlive(60).catch(reason => {
                Notification.error(`Keep running failed: ${String(reason)}`);
              });
            }
          }
        ]
      }
    );
  }

  private _dismiss(): void {
    if (this._notificationId) {
      Notification.dismiss(this._notificationId);
      this._notificationId = null;
    }
    this._warnedFor = null;
  }

  private _settings: ServerConnection.ISettings;
  private _poll: Poll;
  private _status: IIdleStatus | null = null;
  private _changed = new Signal<this, IIdleStatus | null>(this);
  private _notificationId: string | null = null;
  private _warnedFor: string | null = null;
}

export namespace IdleWatcher {
  export interface IOptions {
    serverSettings: ServerConnection.ISettings;
    /** Seconds between polls (default 30). */
    interval?: number;
  }
}
