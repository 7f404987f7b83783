/** The sidebar panel: a column of independent sections, and the version in the footer. */
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { IContext } from './api';
import { studioIcon } from './icons';
import { ISectionDefinition, SectionModel, SectionView } from './section';
import { IResourceModel } from './tokens';

export const PANEL_ID = 'smstudio-ext-panel';

export class StudioPanel extends ReactWidget {
  constructor(options: StudioPanel.IOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-smstudio-Panel');
    this._trans = options.trans;
    this._context = options.context;
    const name = this._trans.__('SageMaker Studio');
    this.title.icon = studioIcon;
    this.title.caption = name;
    if (options.showLabel) {
      // Notebook 7 lists side panels by label (JupyterLab's sidebar shows the icon only)
      this.title.label = name;
    }
    this.node.setAttribute('role', 'region');
    this.node.setAttribute(
      'aria-label',
      this._trans.__('SageMaker Studio panel')
    );
    this._refreshInterval = options.refreshInterval ?? 30;
  }

  /** Add a section; it is shown if its id is in the `sections` setting (or no order is set). */
  addSection<T>(definition: ISectionDefinition<T>): void {
    if (this._models.has(definition.id)) {
      throw new Error(`Section ${definition.id} is already registered`);
    }
    const model = new SectionModel<T>({
      definition,
      trans: this._trans,
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
    const trans = this._trans;
    const ids = this._order ?? [...this._models.keys()];
    const models = ids
      .map(id => this._models.get(id))
      .filter((m): m is SectionModel<any> => m !== undefined);
    return (
      <div className="jp-smstudio-Panel-content">
        <h2 className="jp-smstudio-Panel-title">
          {trans.__('SageMaker Studio')}
        </h2>
        {models.length === 0 ? (
          <p className="jp-smstudio-Section-message">
            {trans.__(
              'No sections selected. Choose some under Settings → SageMaker Studio.'
            )}
          </p>
        ) : (
          models.map(model => (
            <SectionView
              key={model.definition.id}
              model={model}
              trans={trans}
            />
          ))
        )}
        <UseSignal
          signal={this._context.changed}
          initialArgs={this._context.value ?? undefined}
        >
          {(_, context) => <Footer context={context} trans={trans} />}
        </UseSignal>
      </div>
    );
  }

  private _shown(id: string): boolean {
    return this._order === null || this._order.includes(id);
  }

  private _trans: TranslationBundle;
  private _context: IResourceModel<IContext>;
  private _refreshInterval: number;
  private _order: string[] | null = null;
  private _models = new Map<string, SectionModel<any>>();
}

/** The server's smstudio-ext version (GET smstudio/context: one source for it). */
function Footer(props: {
  context: IContext | undefined;
  trans: TranslationBundle;
}): React.ReactElement | null {
  const version = props.context?.version;
  if (!version) {
    return null;
  }
  return (
    <footer className="jp-smstudio-Panel-footer">
      {props.trans.__('smstudio-ext %1', version)}
    </footer>
  );
}

export namespace StudioPanel {
  export interface IOptions {
    trans: TranslationBundle;
    /** Where the footer reads the server's version. */
    context: IResourceModel<IContext>;
    /** Seconds; default 30. */
    refreshInterval?: number;
    /** Give the panel a text label (shells that list side panels by name). */
    showLabel?: boolean;
  }
}
