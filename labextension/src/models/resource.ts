/**
 * The latest answer of one GET route, shared: whoever asks (a panel section, another extension
 * through the ISageMakerStudio token) gets the same value and the same `changed` signal, and
 * concurrent fetches share one request.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

export class ResourceModel<T> implements IDisposable {
  constructor(load: () => Promise<T>) {
    this._load = load;
  }

  /** The last value fetched, or null before the first answer. */
  get value(): T | null {
    return this._value;
  }

  /** Emits each new value. */
  get changed(): ISignal<this, T> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Fetch now; callers during a fetch in flight share its answer. */
  fetch(): Promise<T> {
    if (!this._pending) {
      this._pending = this._load()
        .then(value => {
          this._value = value;
          if (!this._isDisposed) {
            this._changed.emit(value);
          }
          return value;
        })
        .finally(() => {
          this._pending = null;
        });
    }
    return this._pending;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private _load: () => Promise<T>;
  private _value: T | null = null;
  private _pending: Promise<T> | null = null;
  private _changed = new Signal<this, T>(this);
  private _isDisposed = false;
}
