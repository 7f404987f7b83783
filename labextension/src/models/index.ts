/** The service models of the smstudio engines, built once per page (the ISageMakerStudio token). */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';

import { API, ICondaEnvs, IContext } from '../api';
import { ISageMakerStudio } from '../tokens';
import { BackupModel } from './backup';
import { IdleModel } from './idle';
import { InsightsModel } from './insights';
import { ResourceModel } from './resource';

export { BackupModel, IdleModel, InsightsModel, ResourceModel };
export type { IBackupData } from './backup';

export class StudioModels implements ISageMakerStudio, IDisposable {
  constructor(options: StudioModels.IOptions) {
    const serverSettings = options.serverSettings;
    this.context = new ResourceModel<IContext>(() =>
      API.getContext(serverSettings)
    );
    this.idle = new IdleModel({
      serverSettings,
      interval: options.idleInterval ?? 30
    });
    this.backup = new BackupModel({ serverSettings });
    this.conda = new ResourceModel<ICondaEnvs>(async () => {
      const data = await API.getCondaEnvs(serverSettings);
      return { ...data, envs: Array.isArray(data.envs) ? data.envs : [] };
    });
    this.insights = new InsightsModel({ serverSettings });
  }

  readonly context: ResourceModel<IContext>;
  readonly idle: IdleModel;
  readonly backup: BackupModel;
  readonly conda: ResourceModel<ICondaEnvs>;
  readonly insights: InsightsModel;

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.context.dispose();
    this.idle.dispose();
    this.backup.dispose();
    this.conda.dispose();
    this.insights.dispose();
  }

  private _isDisposed = false;
}

export namespace StudioModels {
  export interface IOptions {
    serverSettings: ServerConnection.ISettings;
    /** Seconds between two idle polls (default 30). */
    idleInterval?: number;
  }
}
