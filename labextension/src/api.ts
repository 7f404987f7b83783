/**
 * Typed views of the smstudio REST API (see smstudio_ext/rest-api.yaml).
 *
 * Keep these interfaces in step with the server's JSON: field names are the JSON's, nullable
 * fields are `| null`.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './handler';

/** Which Studio this server runs in. */
export type StudioKind = 'classic' | 'spaces' | 'local';

/** How reading `/opt/ml/metadata/resource-metadata.json` went. */
export type MetadataStatus =
  'ok' | 'missing' | 'empty' | 'unreadable' | 'malformed';

/** Who owns the app: a space (new Studio), a user profile (classic) or nobody (local). */
export type OwnerKind = 'space' | 'user-profile' | 'local';

/** `GET smstudio/context`: who and where this server is. */
export interface IContext {
  kind: StudioKind;
  app_type: string | null;
  domain_id: string | null;
  user_profile_name: string | null;
  space_name: string | null;
  app_name: string | null;
  resource_arn: string | null;
  image_version: string | null;
  region: string | null;
  account_id: string | null;
  partition: string | null;
  home: string | null;
  metadata_path: string | null;
  metadata_status: MetadataStatus;
  warning: string | null;
  in_studio: boolean;
  owner_kind: OwnerKind;
  owner_name: string | null;
  instance_type: string | null;
  app_status: string | null;
  /** ISO 8601 timestamp. */
  app_created: string | null;
  image_arn?: string | null;
  app_arn?: string | null;
  /** Why no AWS call can succeed (e.g. an unknown region). */
  aws_error?: IApiError | null;
  /** Why DescribeApp of this app failed. */
  describe_error?: IApiError | null;
  /** The smstudio-ext version of the server (the panel's footer shows it). */
  version?: string;
}

/** An error as our handlers write it: `{"error": code, "detail": message, ...extra}`. */
export interface IApiError {
  error: string;
  detail: string;
  /** The IAM action that was denied (`access_denied`). */
  action?: string | null;
  [key: string]: unknown;
}

// ----- idle shutdown: GET smstudio/idle ------------------------------------------------------

export type IdleState =
  'active' | 'idle' | 'warning' | 'shutting_down' | 'disabled' | 'error';

/** One activity signal (kernels, terminals, processes, ...) as last checked. */
export interface IIdleSignal {
  name: string;
  available: boolean;
  active: boolean;
  reason: string;
  last_activity: string | null;
  /** Set when the signal failed this check: apps are kept alive. */
  error?: string | null;
}

export interface IIdleApp {
  /** null: nothing to shut down here (local) */
  app_type: string | null;
  app_name: string | null;
  instance_type: string | null;
  decision: string;
  reason: string | null;
  timeout_minutes?: number | null;
  idle_seconds?: number | null;
  shutdown_at?: string | null;
}

export interface IIdleStatus {
  enabled: boolean;
  dry_run: boolean;
  timeout_minutes: number;
  /** Admin bounds of the timeout (minutes). */
  bounds: { min?: number | null; max?: number | null };
  context?: string;
  state: IdleState;
  idle_seconds: number;
  last_active?: string | null;
  checked_at?: string | null;
  check_interval_seconds?: number;
  warning_minutes?: number;
  grace_minutes?: number;
  /** The admin's bound for one keep-alive (minutes). */
  max_keepalive_minutes?: number | null;
  shutdown_at?: string | null;
  warning_at?: string | null;
  keepalive_until?: string | null;
  signals: IIdleSignal[];
  apps: IIdleApp[];
  history: unknown[];
  last_error: string | IApiError | null;
  /** Who shuts this app down when idle (smstudio, the platform, both, nobody). */
  mode?: IIdleMode;
  /** The platform's activity file, kept current while our signals say the app is active. */
  platform_file?: IIdlePlatformFile;
  /** Why the saved user settings (or some values) were ignored at start. */
  settings_ignored?: string | null;
}

/** own: smstudio deletes; platform: Studio's IdleSettings delete (smstudio feeds them);
 * both: the shorter timeout wins; none: nothing does; unknown: the platform's settings could
 * not be read. */
export type IdleModeName = 'own' | 'platform' | 'both' | 'none' | 'unknown';

export interface IIdleMode {
  mode: IdleModeName;
  own_deletes: boolean;
  /** null = unknown */
  platform_deletes: boolean | null;
  own_timeout_minutes?: number | null;
  platform_timeout_minutes?: number | null;
  /** The shorter timeout of whoever deletes. */
  effective_timeout_minutes?: number | null;
  reasons: string[];
  warning: string | null;
  /** The platform's idle shutdown (smstudio_ext.studio_settings); null while unknown. */
  platform?: IPlatformIdle | null;
}

export interface IPlatformIdle {
  state: 'enabled' | 'disabled' | 'not-set' | 'unknown' | 'not-applicable';
  reason: string;
  app_type?: string | null;
  settings_key?: string | null;
  timeout_minutes?: number | null;
  min_timeout_minutes?: number | null;
  max_timeout_minutes?: number | null;
  /** The settings level that set LifecycleManagement. */
  source?: string | null;
  IdleSettings?: Record<string, unknown>;
}

export interface IIdlePlatformFile {
  path: string | null;
  feeding: boolean;
  written_at?: string | null;
  error?: string | null;
}

/** PUT smstudio/idle/settings body (all optional). */
export interface IIdleSettings {
  timeout_minutes?: number;
  enabled?: boolean;
  dry_run?: boolean;
}

// ----- backup: GET smstudio/backup, GET smstudio/backup/snapshots ------------------------------

export interface IBackupProgress {
  operation?: string;
  /** starting → scan → upload → commit → done */
  phase: string;
  entries?: number;
  files_total?: number;
  files_done?: number;
  bytes_total?: number;
  bytes_done?: number;
  elapsed_seconds?: number;
  bytes_per_second?: number;
  eta_seconds?: number | null;
}

export interface IBackupResult {
  snapshot_id: string | null;
  dry_run?: boolean;
  started?: string;
  finished?: string;
  seconds?: number;
  files?: number;
  dirs?: number;
  bytes?: number;
  bytes_uploaded?: number;
  skipped?: unknown[];
  changed_during_read?: unknown[];
  [key: string]: unknown;
}

export interface IBackupStatus {
  configured: boolean;
  config: {
    bucket?: string | null;
    location?: string | null;
    source?: string | null;
    interval_hours?: number;
    keep_last?: number;
    keep_days?: number;
    kms?: boolean;
    excludes?: string[];
    default_excludes?: boolean;
    include_secrets?: boolean;
  };
  running: boolean;
  progress?: IBackupProgress | null;
  last_result?: IBackupResult | null;
  last_error?: IApiError | null;
  next_run?: string | null;
}

export interface ISnapshot {
  id: string;
  time?: string | null;
  host?: string | null;
  source?: string | null;
  parent?: string | null;
  files?: number | null;
  dirs?: number | null;
  bytes?: number | null;
  links?: number | null;
  skipped?: number;
  changed_during_read?: number;
  /** Set when the snapshot's manifest could not be read. */
  error?: string;
}

export interface IRestoreRequest {
  snapshot: string;
  target?: string;
  paths?: string[];
  overwrite?: boolean;
  /** Only restore into an empty target (a fresh home). */
  if_empty?: boolean;
}

export interface IRestoreResult {
  restored: boolean;
  reason?: string;
  snapshot_id?: string;
  target: string;
  files?: number;
  files_written?: number;
  dirs?: number;
  links?: number;
  /** The target held an unfinished restore: this one took it over. */
  resumed?: boolean;
  /** if_empty: files already in the target that differ, kept as they are (and the first 20). */
  kept?: number;
  kept_paths?: string[];
  bytes_written?: number;
  seconds?: number;
  finished?: string;
  /** Requests per S3 operation. */
  requests?: Record<string, number>;
}

// ----- conda: GET smstudio/conda/envs ----------------------------------------------------------

export interface ICondaEnv {
  name: string;
  path: string;
  size_bytes?: number | null;
  python_version?: string | null;
  r_version?: string | null;
  language?: string;
  kernels: string[];
  kernel_name?: string | null;
  /** Why there is no kernel. */
  reason?: string | null;
  /** The command that fixes it. */
  fix?: string | null;
}

export interface ICondaEnvs {
  envs_dir: string | null;
  kernel_mode?: string | null;
  tool?: string | null;
  tool_message?: string | null;
  warnings: string[];
  envs: ICondaEnv[];
}

// ----- insights: GET smstudio/insights?parts=... ----------------------------------------------

export type InsightsPart = 'tags' | 'costs' | 'guardrails';

export interface IPartStatus {
  status: 'ok' | 'partial' | 'error' | 'not_available' | string;
  errors: IApiError[];
  as_of?: string | null;
  /** Why the part is not available. */
  reason?: string;
  /** guardrails: counts of results by status */
  summary?: Record<string, number>;
}

export interface ITag {
  key: string;
  value: string;
  /** domain | space | user-profile | app */
  source: string;
  resource_arn?: string | null;
  automatic: boolean;
  user_id: boolean;
}

export interface ICostApp {
  app_type: string;
  app_name: string;
  status?: string | null;
  instance_type: string | null;
  per_hour: number | null;
  since_start: number | null;
  today?: number | null;
  started: string | null;
  price_source?: string | null;
  /** This app's price currency (null when unpriced). */
  currency?: string | null;
}

export interface ICostEstimate {
  status: string;
  reason?: string | null;
  action?: string | null;
  source: string;
  as_of: string | null;
  apps_as_of?: string | null;
  per_hour: number | null;
  since_start: number | null;
  today: number | null;
  currency: string | null;
  /** One sum per currency, never added together (keys are currency codes). */
  totals?: Record<string, Record<string, number | null>>;
  apps: ICostApp[];
  price_source: string | null;
  notes?: string[];
}

export interface ICostBilled {
  /** ok | not_available | disabled | error */
  status: string;
  reason: string | null;
  source: string;
  as_of: string | null;
  month_to_date: number | null;
  last_month: number | null;
  currency?: string | null;
  estimated?: boolean;
  tag_key?: string;
  action?: string | null;
}

export interface ICosts {
  estimate: ICostEstimate | null;
  billed: ICostBilled | null;
}

export type GuardrailStatus = 'pass' | 'fail' | 'unknown';

export interface IGuardrail {
  id: string;
  title: string;
  status: GuardrailStatus | string;
  reason: string;
  evidence: Record<string, unknown>;
  why: string;
  fix: string;
  severity: string;
  level: string;
  action?: string | null;
}

export interface IInsights {
  context: Record<string, unknown>;
  tags?: ITag[];
  costs?: ICosts;
  guardrails?: IGuardrail[];
  parts: Record<string, IPartStatus>;
  generated_at: string;
}

/** Thin typed calls; one per route, so components never build URLs. */
export namespace API {
  export function getContext(
    settings?: ServerConnection.ISettings
  ): Promise<IContext> {
    return requestAPI<IContext>('context', { method: 'GET' }, settings);
  }

  export function getIdle(
    settings?: ServerConnection.ISettings,
    refresh = false
  ): Promise<IIdleStatus> {
    return requestAPI<IIdleStatus>(
      refresh ? 'idle?refresh=1' : 'idle',
      { method: 'GET' },
      settings
    );
  }

  /** Postpone shutdown by `minutes` from now (0 cancels). */
  export function keepAlive(
    minutes: number,
    settings?: ServerConnection.ISettings
  ): Promise<IIdleStatus> {
    return requestAPI<IIdleStatus>(
      'idle/keepalive',
      { method: 'POST', body: JSON.stringify({ minutes }) },
      settings
    );
  }

  export function putIdleSettings(
    body: IIdleSettings,
    settings?: ServerConnection.ISettings
  ): Promise<IIdleStatus> {
    return requestAPI<IIdleStatus>(
      'idle/settings',
      { method: 'PUT', body: JSON.stringify(body) },
      settings
    );
  }

  export function getBackup(
    settings?: ServerConnection.ISettings
  ): Promise<IBackupStatus> {
    return requestAPI<IBackupStatus>('backup', { method: 'GET' }, settings);
  }

  /** Start a backup (202); a 409 means one is already running. */
  export function startBackup(
    settings?: ServerConnection.ISettings
  ): Promise<{ started: boolean; progress?: IBackupProgress | null }> {
    return requestAPI('backup', { method: 'POST', body: '{}' }, settings);
  }

  export async function getSnapshots(
    settings?: ServerConnection.ISettings
  ): Promise<ISnapshot[]> {
    const reply = await requestAPI<{ snapshots?: ISnapshot[] }>(
      'backup/snapshots',
      { method: 'GET' },
      settings
    );
    return Array.isArray(reply?.snapshots) ? reply.snapshots : [];
  }

  export function restore(
    body: IRestoreRequest,
    settings?: ServerConnection.ISettings
  ): Promise<IRestoreResult> {
    return requestAPI<IRestoreResult>(
      'restore',
      { method: 'POST', body: JSON.stringify(body) },
      settings
    );
  }

  export function getCondaEnvs(
    settings?: ServerConnection.ISettings
  ): Promise<ICondaEnvs> {
    return requestAPI<ICondaEnvs>('conda/envs', { method: 'GET' }, settings);
  }

  /** Only the parts asked for are computed; each part carries its own status. */
  export function getInsights(
    parts: InsightsPart[],
    settings?: ServerConnection.ISettings
  ): Promise<IInsights> {
    const query = encodeURIComponent(parts.join(','));
    return requestAPI<IInsights>(
      `insights?parts=${query}`,
      { method: 'GET' },
      settings
    );
  }
}
