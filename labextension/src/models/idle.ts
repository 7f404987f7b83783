/**
 * The idle-shutdown model: GET smstudio/idle polled (standing by while the browser tab is
 * hidden), keep-alive and settings, and the server's decision events.
 *
 * Everything that shows the idle state (the section, the status bar, the shutdown warning, other
 * extensions through the ISageMakerStudio token) reads this one model, so they always agree. A
 * "warning" or "shutting down" decision pushed by the server (events.ts) updates the state at
 * once, then a fetch fills in the rest.
 */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { API, IIdleSettings, IIdleStatus } from '../api';
import { IIdleDecisionEvent, isShuttingDown } from '../events';

export class IdleModel implements IDisposable {
  constructor(options: IdleModel.IOptions) {
    this._settings = options.serverSettings;
    this._poll = new Poll({
      auto: false,
      factory: async () => {
        await this.fetch();
      },
      frequency: {
        interval: (options.interval ?? 30) * 1000,
        backoff: true,
        max: 5 * 60 * 1000
      },
      name: 'smstudio-ext:idle',
      standby: options.standby ?? 'when-hidden'
    });
  }

  /** The last known state, or null before the first answer (or without the idle API). */
  get status(): IIdleStatus | null {
    return this._status;
  }

  /** Emits each new state. */
  get changed(): ISignal<this, IIdleStatus | null> {
    return this._changed;
  }

  /** Emits each decision event the server pushes (every check, every app watched). */
  get decided(): ISignal<this, IIdleDecisionEvent> {
    return this._decided;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Start polling (first fetch right away). */
  start(): Promise<void> {
    return this._poll.start();
  }

  /** Poll now, whatever the schedule (failures back off like a scheduled poll). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  /** GET smstudio/idle now; the new state is emitted. */
  async fetch(): Promise<IIdleStatus> {
    const status = await API.getIdle(this._settings);
    this.update(status);
    return status;
  }

  /** Keep the app running for `minutes` (0 cancels); the new state is emitted. */
  async keepAlive(minutes: number): Promise<IIdleStatus> {
    const status = await API.keepAlive(minutes, this._settings);
    this.update(status);
    return status;
  }

  /** Change the user's settings (timeout within the admin bounds, ...). */
  async setSettings(body: IIdleSettings): Promise<IIdleStatus> {
    const status = await API.putIdleSettings(body, this._settings);
    this.update(status);
    return status;
  }

  /** A state from elsewhere (e.g. a section's own fetch). */
  update(status: IIdleStatus | null): void {
    if (this.isDisposed) {
      return;
    }
    this._status = status;
    this._changed.emit(status);
  }

  /**
   * A decision event from the server. "warning" and "shutting down" change the state at once;
   * any change of decision also asks for the full state.
   */
  handleEvent(event: IIdleDecisionEvent): void {
    if (this.isDisposed) {
      return;
    }
    this._decided.emit(event);
    const key = `${event.app_type ?? ''}/${event.app_name ?? ''}`;
    const previous = this._lastDecision.get(key);
    this._lastDecision.set(key, event.decision);
    const base: IIdleStatus = this._status ?? {
      enabled: true,
      dry_run: !!event.dry_run,
      timeout_minutes: event.timeout_minutes ?? 0,
      bounds: {},
      state: 'idle',
      idle_seconds: event.idle_seconds ?? 0,
      signals: [],
      apps: [],
      history: [],
      last_error: null
    };
    if (isShuttingDown(event)) {
      this.update({ ...base, state: 'shutting_down' });
    } else if (event.decision === 'warning' && !event.dry_run) {
      this.update({
        ...base,
        state: 'warning',
        shutdown_at: event.shutdown_at ?? base.shutdown_at,
        idle_seconds: event.idle_seconds ?? base.idle_seconds
      });
    }
    if (previous !== event.decision) {
      void this.refresh();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _settings: ServerConnection.ISettings;
  private _poll: Poll;
  private _status: IIdleStatus | null = null;
  private _lastDecision = new Map<string, string>();
  private _changed = new Signal<this, IIdleStatus | null>(this);
  private _decided = new Signal<this, IIdleDecisionEvent>(this);
}

export namespace IdleModel {
  export interface IOptions {
    serverSettings: ServerConnection.ISettings;
    /** Seconds between polls (default 30). */
    interval?: number;
    /** When polling stands by (default: while the browser tab is hidden). */
    standby?: Poll.Standby | (() => boolean | Poll.Standby);
  }
}
