/**
 * Idle decisions pushed by the server as Jupyter events (smstudio_ext/events.py registers the
 * schema smstudio_ext/event_schemas/idle_decision/v1.yaml with the server's event logger). The
 * panel reads them from JupyterLab's event stream (`app.serviceManager.events`, the
 * `GET /api/events/subscribe` websocket), so a "warning" or "shutting down" shows at once
 * instead of at the next poll.
 */
import { Event } from '@jupyterlab/services';

/** The schema's `$id` (its version is part of it). */
export const IDLE_DECISION_SCHEMA =
  'https://smstudio-ext.github.io/events/idle/decision/v1';

/** One decision of the idle monitor (the fields of its JSON log line). */
export interface IIdleDecisionEvent {
  schema_id: string;
  /** ISO 8601 UTC time of the check. */
  at: string;
  /** active, idle, grace, warning, shutdown, dry_run or no_action */
  decision: string;
  reason: string;
  app_type?: string | null;
  app_name?: string | null;
  instance_type?: string | null;
  idle_seconds?: number;
  timeout_minutes?: number;
  shutdown_at?: string | null;
  dry_run?: boolean;
  context?: string;
  active_signals?: string[];
  /** What a "shutdown" did: outcome deleted, gone, denied, failed or cancelled. */
  action?: { outcome: string; detail?: string; error?: unknown } | null;
}

/** The emission as an idle decision, or null for another schema or a malformed one. */
export function asIdleDecision(
  emission: Event.Emission | null | undefined
): IIdleDecisionEvent | null {
  if (!emission || emission.schema_id !== IDLE_DECISION_SCHEMA) {
    return null;
  }
  const decision = emission.decision;
  if (typeof decision !== 'string' || typeof emission.at !== 'string') {
    return null;
  }
  return emission as unknown as IIdleDecisionEvent;
}

/** Whether this decision means the app is being deleted now. */
export function isShuttingDown(event: IIdleDecisionEvent): boolean {
  const outcome = event.action?.outcome;
  return (
    event.decision === 'shutdown' &&
    (outcome === 'deleted' || outcome === 'gone')
  );
}
