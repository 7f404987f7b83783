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
}

/** Thin typed calls; one per route, so components never build URLs. */
export namespace API {
  export function getContext(
    settings?: ServerConnection.ISettings
  ): Promise<IContext> {
    return requestAPI<IContext>('context', { method: 'GET' }, settings);
  }
}
