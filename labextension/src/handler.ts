import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Every route of the server extension lives under `<base_url>/smstudio/`. */
export const API_NAMESPACE = 'smstudio';

/**
 * A non-2xx answer of the smstudio REST API, with the error code of the body (`conflict`,
 * `not_configured`, `access_denied`, ...): callers decide by the code, not the status alone
 * (409 is both "already running" and "not configured").
 */
export class ApiError extends ServerConnection.ResponseError {
  constructor(
    response: Response,
    message: string,
    readonly code: string | null
  ) {
    super(response, message);
    this.name = 'ApiError';
  }
}

/** The error code of a failed call (`conflict`, `not_configured`, ...), or null. */
export function errorCode(error: unknown): string | null {
  return error instanceof ApiError ? error.code : null;
}

/**
 * Call the smstudio REST API and return the decoded JSON body.
 *
 * @param endPoint path below `smstudio/`, e.g. `context` or `idle/keepalive`
 * @param init fetch options (method, body, ...); auth and XSRF headers are added by ServerConnection
 * @param settings server settings; defaults to the page's settings
 * @throws ServerConnection.NetworkError when the server cannot be reached
 * @throws ApiError (a ServerConnection.ResponseError) on a non-2xx answer, with the server's
 *   message and error code
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: unknown = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new ServerConnection.ResponseError(
          response,
          `Invalid JSON from ${endPoint}`
        );
      }
      data = text;
    }
  }

  if (!response.ok) {
    throw new ApiError(response, errorMessage(data, response), bodyCode(data));
  }
  return data as T;
}

/**
 * The message to show for a failed call.
 *
 * Our handlers answer `{"error", "detail"}`; jupyter_server's own errors (e.g. 403 before our
 * handler runs) answer `{"message", "reason"}`; a proxy may answer HTML.
 */
export function errorMessage(data: unknown, response: Response): string {
  if (data && typeof data === 'object') {
    const body = data as Record<string, unknown>;
    const error = asText(body.error) ?? asText(body.message);
    const detail = asText(body.detail) ?? asText(body.reason);
    if (error && detail && detail !== error) {
      return `${error}: ${detail}`;
    }
    if (error || detail) {
      return (error ?? detail) as string;
    }
  }
  const status = `${response.status} ${response.statusText}`.trim();
  return `Request failed (${status})`;
}

function bodyCode(data: unknown): string | null {
  if (data && typeof data === 'object') {
    return asText((data as Record<string, unknown>).error) ?? null;
  }
  return null;
}

function asText(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
