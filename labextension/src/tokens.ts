/**
 * The ISageMakerStudio token: the panel's service models, for other extensions.
 *
 * As jupyterlab-git publishes its model (`IGitExtension`), this extension publishes one model
 * per smstudio engine: an extension that wants the idle state, to start a backup or to read the
 * tags requires `ISageMakerStudio` (optional, to keep working without smstudio-ext) and shares
 * the panel's requests, state and signals instead of calling the REST API itself.
 *
 * ```ts
 * activate: (app, studio: ISageMakerStudio | null) => {
 *   studio?.idle.changed.connect((_, status) => console.log(status?.state));
 * }
 * ```
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import {
  IBackupStatus,
  ICondaEnvs,
  IContext,
  IIdleSettings,
  IIdleStatus,
  IInsights,
  InsightsPart,
  IRestoreRequest,
  IRestoreResult,
  ISnapshot
} from './api';
import { IIdleDecisionEvent } from './events';
import type { IBackupData } from './models/backup';

export const ISageMakerStudio = new Token<ISageMakerStudio>(
  'smstudio-ext:ISageMakerStudio',
  'SageMaker Studio (smstudio-ext): this app, idle shutdown, backup, conda and insights models over the smstudio REST API.'
);

/** The latest answer of one GET route, shared by every reader. */
export interface IResourceModel<T> {
  readonly value: T | null;
  readonly changed: ISignal<any, T>;
  fetch(): Promise<T>;
}

/** GET/POST/PUT smstudio/idle*, plus the server's decision events. */
export interface IIdleModel {
  readonly status: IIdleStatus | null;
  readonly changed: ISignal<any, IIdleStatus | null>;
  /** Each decision the server pushes (Jupyter event `…/idle/decision/v1`). */
  readonly decided: ISignal<any, IIdleDecisionEvent>;
  fetch(): Promise<IIdleStatus>;
  refresh(): Promise<void>;
  keepAlive(minutes: number): Promise<IIdleStatus>;
  setSettings(body: IIdleSettings): Promise<IIdleStatus>;
}

/** smstudio/backup*, smstudio/restore. */
export interface IBackupModel {
  readonly status: IBackupStatus | null;
  readonly snapshots: ISnapshot[];
  readonly running: boolean;
  readonly changed: ISignal<any, IBackupStatus>;
  readonly finished: ISignal<any, IBackupStatus>;
  fetch(): Promise<IBackupData>;
  /** Start a backup, or follow the running one (never an error when one runs). */
  backUpNow(): Promise<{
    started: boolean;
    following: Promise<IBackupStatus>;
  }>;
  follow(): Promise<IBackupStatus>;
  restore(request: IRestoreRequest): Promise<IRestoreResult>;
}

/** GET smstudio/insights, part by part. */
export interface IInsightsModel {
  readonly changed: ISignal<any, { part: InsightsPart; data: IInsights }>;
  part(part: InsightsPart): IInsights | null;
  fetch(part: InsightsPart): Promise<IInsights>;
}

/** What the token provides. */
export interface ISageMakerStudio {
  /** GET smstudio/context: where this server runs, and the smstudio-ext version. */
  readonly context: IResourceModel<IContext>;
  readonly idle: IIdleModel;
  readonly backup: IBackupModel;
  /** GET smstudio/conda/envs. */
  readonly conda: IResourceModel<ICondaEnvs>;
  readonly insights: IInsightsModel;
}
