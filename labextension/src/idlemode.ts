/**
 * Who shuts this app down when it is idle, in words (GET smstudio/idle → mode). Pure, so the
 * unit tests run without JupyterLab.
 */
import { IdleModeName, IIdleMode } from './api';

const MODE_LABELS: Record<IdleModeName, string> = {
  own: 'smstudio',
  platform: "Studio's idle shutdown (smstudio keeps it informed)",
  both: 'smstudio and Studio: the shorter timeout wins',
  none: 'nothing: this app runs until stopped',
  unknown: "smstudio is off; Studio's settings are unknown"
};

/** e.g. "smstudio and Studio: the shorter timeout wins (60 min)"; null without a mode. */
export function modeText(mode: IIdleMode | undefined | null): string | null {
  if (!mode) {
    return null;
  }
  const label = MODE_LABELS[mode.mode] ?? String(mode.mode);
  const minutes = mode.effective_timeout_minutes;
  const deletes = mode.mode !== 'none' && mode.mode !== 'unknown';
  return deletes && minutes ? `${label} (${minutes} min)` : label;
}
