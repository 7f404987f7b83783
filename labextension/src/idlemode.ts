/**
 * Who shuts this app down when it is idle, in words (GET smstudio/idle → mode). Pure, so the
 * unit tests run without JupyterLab.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IIdleMode } from './api';

function modeLabel(mode: string, trans: TranslationBundle): string {
  switch (mode) {
    case 'own':
      return trans.__('smstudio');
    case 'platform':
      return trans.__("Studio's idle shutdown (smstudio keeps it informed)");
    case 'both':
      return trans.__('smstudio and Studio: the shorter timeout wins');
    case 'none':
      return trans.__('nothing: this app runs until stopped');
    case 'unknown':
      return trans.__("smstudio is off; Studio's settings are unknown");
    default:
      return String(mode);
  }
}

/** e.g. "smstudio and Studio: the shorter timeout wins (60 min)"; null without a mode. */
export function modeText(
  mode: IIdleMode | undefined | null,
  trans: TranslationBundle
): string | null {
  if (!mode) {
    return null;
  }
  const label = modeLabel(mode.mode, trans);
  const minutes = mode.effective_timeout_minutes;
  const deletes = mode.mode !== 'none' && mode.mode !== 'unknown';
  return deletes && minutes ? trans.__('%1 (%2 min)', label, minutes) : label;
}
