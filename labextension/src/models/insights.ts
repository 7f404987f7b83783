/** GET smstudio/insights, one part at a time (tags, costs, guardrails), each part shared. */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { API, IInsights, InsightsPart } from '../api';
import { ResourceModel } from './resource';

export class InsightsModel implements IDisposable {
  constructor(options: { serverSettings: ServerConnection.ISettings }) {
    this._settings = options.serverSettings;
  }

  /** Emits each part's new answer. */
  get changed(): ISignal<this, { part: InsightsPart; data: IInsights }> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The last answer for `part`, or null. */
  part(part: InsightsPart): IInsights | null {
    return this._parts.get(part)?.value ?? null;
  }

  /** Fetch one part now (only that part is computed by the server). */
  fetch(part: InsightsPart): Promise<IInsights> {
    let model = this._parts.get(part);
    if (!model) {
      model = new ResourceModel(() => API.getInsights([part], this._settings));
      model.changed.connect((_, data) => this._changed.emit({ part, data }));
      this._parts.set(part, model);
    }
    return model.fetch();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    for (const model of this._parts.values()) {
      model.dispose();
    }
    Signal.clearData(this);
  }

  private _settings: ServerConnection.ISettings;
  private _parts = new Map<InsightsPart, ResourceModel<IInsights>>();
  private _changed = new Signal<this, { part: InsightsPart; data: IInsights }>(
    this
  );
  private _isDisposed = false;
}
