/** The status-bar item: the auto-shutdown countdown; clicking it opens the panel. */
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IIdleStatus } from './api';
import { idleView } from './model';
import { IIdleModel } from './tokens';
import { useNow } from './sections/hooks';

function IdleStatusText(props: {
  status: IIdleStatus;
  trans: TranslationBundle;
  onClick: () => void;
}): React.ReactElement {
  const { trans } = props;
  const now = useNow();
  const view = idleView(props.status, trans, now);
  return (
    <button
      className={`jp-smstudio-StatusItem jp-smstudio-tone-${view.tone}`}
      onClick={props.onClick}
      title={trans.__('SageMaker Studio auto-shutdown: open the panel')}
      aria-label={trans.__(
        '%1. Open the SageMaker Studio panel',
        view.statusText
      )}
    >
      {view.statusText}
    </button>
  );
}

export class IdleStatusItem extends ReactWidget {
  constructor(
    private model: IIdleModel,
    private trans: TranslationBundle,
    private onClick: () => void
  ) {
    super();
    this.addClass('jp-smstudio-StatusBar');
  }

  protected render(): React.ReactElement {
    return (
      <UseSignal signal={this.model.changed} initialArgs={this.model.status}>
        {(_, status) =>
          status ? (
            <IdleStatusText
              status={status}
              trans={this.trans}
              onClick={this.onClick}
            />
          ) : (
            <span />
          )
        }
      </UseSignal>
    );
  }
}
