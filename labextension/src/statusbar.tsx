/** The status-bar item: the auto-shutdown countdown; clicking it opens the panel. */
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IIdleStatus } from './api';
import { IdleWatcher } from './idle';
import { idleView } from './model';
import { useNow } from './sections/hooks';

function IdleStatusText(props: {
  status: IIdleStatus;
  onClick: () => void;
}): React.ReactElement {
  const now = useNow();
  const view = idleView(props.status, now);
  return (
    <button
      className={`jp-smstudio-StatusItem jp-smstudio-tone-${view.tone}`}
      onClick={props.onClick}
      title="SageMaker Studio auto-shutdown: open the panel"
      aria-label={`${view.statusText}. Open the SageMaker Studio panel`}
    >
      {view.statusText}
    </button>
  );
}

export class IdleStatusItem extends ReactWidget {
  constructor(
    private watcher: IdleWatcher,
    private onClick: () => void
  ) {
    super();
    this.addClass('jp-smstudio-StatusBar');
  }

  protected render(): React.ReactElement {
    return (
      <UseSignal
        signal={this.watcher.changed}
        initialArgs={this.watcher.status}
      >
        {(_, status) =>
          status ? (
            <IdleStatusText status={status} onClick={this.onClick} />
          ) : (
            <span />
          )
        }
      </UseSignal>
    );
  }
}
