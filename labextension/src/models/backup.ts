/**
 * The backup model: status and snapshots (GET smstudio/backup, GET smstudio/backup/snapshots),
 * "back up now", following a running backup's progress, restore.
 *
 * One action, one behaviour: `backUpNow()` starts a backup or, when one already runs (the
 * server's 409 `conflict`: started by the schedule, the CLI, another tab), follows that one; the
 * section's button, the palette command and other extensions all call it. A backup seen running
 * by any fetch is followed too, so its progress shows wherever it was started.
 */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  API,
  IBackupStatus,
  IRestoreRequest,
  IRestoreResult,
  ISnapshot
} from '../api';
import { errorCode } from '../handler';

/** What the Backup section shows. */
export interface IBackupData {
  status: IBackupStatus;
  snapshots: ISnapshot[];
  /** Why the snapshot list could not be read (the status is still shown), or null. */
  snapshotsError: unknown;
}

export class BackupModel implements IDisposable {
  constructor(options: BackupModel.IOptions) {
    this._settings = options.serverSettings;
    this._interval = options.followInterval ?? 1000;
  }

  /** The last known status, or null before the first answer. */
  get status(): IBackupStatus | null {
    return this._status;
  }

  /** The last snapshot list (newest first). */
  get snapshots(): ISnapshot[] {
    return this._snapshots;
  }

  /** Whether a backup is running (as last seen). */
  get running(): boolean {
    return !!this._status?.running;
  }

  /** Emits each new status (about once a second while a backup runs). */
  get changed(): ISignal<this, IBackupStatus> {
    return this._changed;
  }

  /** Emits the final status when a followed backup ends (the snapshot list is then fresh). */
  get finished(): ISignal<this, IBackupStatus> {
    return this._finished;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Status and snapshots now. Throws what GET smstudio/backup throws (e.g. 409 not_configured);
   * a failing snapshot list is reported in `snapshotsError`. A running backup is followed.
   */
  async fetch(): Promise<IBackupData> {
    const [status, snaps] = await Promise.all([
      API.getBackup(this._settings),
      this.fetchSnapshots().then(
        s => ({ s, e: null as unknown }),
        e => ({ s: this._snapshots, e: e as unknown })
      )
    ]);
    this._setStatus(status);
    if (status.running) {
      void this.follow().catch(() => undefined);
    }
    return { status, snapshots: snaps.s, snapshotsError: snaps.e };
  }

  /** GET smstudio/backup/snapshots, newest first. */
  async fetchSnapshots(): Promise<ISnapshot[]> {
    const list = await API.getSnapshots(this._settings);
    this._snapshots = [...list].sort((a, b) =>
      (b.time ?? b.id).localeCompare(a.time ?? a.id)
    );
    return this._snapshots;
  }

  /**
   * Back up now: start a backup, or follow the one already running. Resolves once it is under
   * way (`started` false when it was already running); `following` resolves when it ends.
   */
  async backUpNow(): Promise<{
    started: boolean;
    following: Promise<IBackupStatus>;
  }> {
    let started = true;
    try {
      await API.startBackup(this._settings);
    } catch (error) {
      if (errorCode(error) !== 'conflict') {
        throw error;
      }
      started = false; // one is already running: follow it instead
    }
    return { started, following: this.follow() };
  }

  /** Follow the running backup (if any) until it ends; never starts one. One loop at a time. */
  follow(): Promise<IBackupStatus> {
    if (!this._following) {
      this._following = this._follow().finally(() => {
        this._following = null;
      });
    }
    return this._following;
  }

  /** POST smstudio/restore (a 409 `conflict` means files in the target differ). */
  restore(request: IRestoreRequest): Promise<IRestoreResult> {
    return API.restore(request, this._settings);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private async _follow(): Promise<IBackupStatus> {
    for (;;) {
      const status = await API.getBackup(this._settings);
      this._setStatus(status);
      if (!status.running || this._isDisposed) {
        await this.fetchSnapshots().catch(() => undefined);
        if (!this._isDisposed) {
          this._finished.emit(status);
        }
        return status;
      }
      await new Promise(resolve => setTimeout(resolve, this._interval));
    }
  }

  private _setStatus(status: IBackupStatus): void {
    this._status = status;
    if (!this._isDisposed) {
      this._changed.emit(status);
    }
  }

  private _settings: ServerConnection.ISettings;
  private _interval: number;
  private _status: IBackupStatus | null = null;
  private _snapshots: ISnapshot[] = [];
  private _following: Promise<IBackupStatus> | null = null;
  private _changed = new Signal<this, IBackupStatus>(this);
  private _finished = new Signal<this, IBackupStatus>(this);
  private _isDisposed = false;
}

export namespace BackupModel {
  export interface IOptions {
    serverSettings: ServerConnection.ISettings;
    /** Milliseconds between two status requests while following a backup (default 1000). */
    followInterval?: number;
  }
}
