/** The left-sidebar panel: a column of independent sections. */
import { ServerConnection } from '@jupyterlab/services';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { studioIcon } from './icons';
import { ISectionDefinition, SectionModel, SectionView } from './section';

export const PANEL_ID = 'smstudio-ext-panel';

export class StudioPanel extends ReactWidget {
  constructor(options: StudioPanel.IOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-smstudio-Panel');
    this.title.icon = studioIcon;
    this.title.caption = 'SageMaker Studio';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'SageMaker Studio panel');
    this._serverSettings = options.serverSettings;
    this._refreshInterval = options.refreshInterval ?? 30;
  }

  /** Add a section; it is shown if its id is in the `sections` setting (or no order is set). */
  addSection<T>(definition: ISectionDefinition<T>): void {
    if (this._models.has(definition.id)) {
      throw new Error(`Section ${definition.id} is already registered`);
    }
    const model = new SectionModel<T>({
      definition,
      serverSettings: this._serverSettings,
      refreshInterval: this._refreshInterval,
      isVisible: () => this.isVisible
    });
    this._models.set(definition.id, model);
    if (this._shown(definition.id)) {
      void model.start();
    }
    this.update();
  }

  /** Which sections to show, in order (the `sections` setting). null shows all. */
  setSectionOrder(ids: string[] | null): void {
    this._order = ids;
    for (const [id, model] of this._models) {
      if (this._shown(id)) {
        void model.start();
      }
    }
    this.update();
  }

  /** Seconds between refreshes (the `refreshInterval` setting). */
  setRefreshInterval(seconds: number): void {
    this._refreshInterval = seconds;
    for (const model of this._models.values()) {
      model.setRefreshInterval(seconds);
    }
  }

  /** Re-fetch every shown section. */
  refreshAll(): void {
    for (const [id, model] of this._models) {
      if (this._shown(id)) {
        void model.refresh();
      }
    }
  }

  /** Re-fetch one section (if shown). */
  refreshSection(id: string): void {
    const model = this._models.get(id);
    if (model && this._shown(id)) {
      void model.refresh();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    for (const model of this._models.values()) {
      model.dispose();
    }
    this._models.clear();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    // Polls stand by while the panel is hidden; catch up when it comes back.
    this.refreshAll();
  }

  protected render(): React.ReactElement {
    const ids = this._order ?? [...this._models.keys()];
    const models = ids
      .map(id => this._models.get(id))
      .filter((m): m is SectionModel<any> => m !== undefined);
    return (
      <div className="jp-smstudio-Panel-content">
        <h2 className="jp-smstudio-Panel-title">SageMaker Studio</h2>
        {models.length === 0 ? (
          <p className="jp-smstudio-Section-message">
            No sections selected. Choose some under Settings → SageMaker Studio.
          </p>
        ) : (
          models.map(model => (
            <SectionView key={model.definition.id} model={model} />
          ))
        )}
      </div>
    );
  }

  private _shown(id: string): boolean {
    return this._order === null || this._order.includes(id);
  }

  private _serverSettings: ServerConnection.ISettings;
  private _refreshInterval: number;
  private _order: string[] | null = null;
  private _models = new Map<string, SectionModel<any>>();
}

export namespace StudioPanel {
  export interface IOptions {
    serverSettings: ServerConnection.ISettings;
    /** Seconds; default 30. */
    refreshInterval?: number;
  }
}
