import { nullTranslator } from '@jupyterlab/translation';

import { IIdleMode } from '../api';
import { modeText as modeTextIn } from '../idlemode';

const trans = nullTranslator.load('smstudio_ext');
const modeText = (mode: IIdleMode | undefined) => modeTextIn(mode, trans);

function mode(extra: Partial<IIdleMode>): IIdleMode {
  return {
    mode: 'own',
    own_deletes: true,
    platform_deletes: false,
    reasons: [],
    warning: null,
    ...extra
  };
}

describe('modeText', () => {
  it('names who shuts the app down, with the effective timeout', () => {
    expect(modeText(mode({ effective_timeout_minutes: 60 }))).toBe(
      'smstudio (60 min)'
    );
    expect(
      modeText(mode({ mode: 'both', effective_timeout_minutes: 45 }))
    ).toBe('smstudio and Studio: the shorter timeout wins (45 min)');
    expect(modeText(mode({ mode: 'platform' }))).toBe(
      "Studio's idle shutdown (smstudio keeps it informed)"
    );
  });
  it('never quotes a timeout when nothing deletes', () => {
    expect(
      modeText(mode({ mode: 'none', effective_timeout_minutes: 60 }))
    ).toBe('nothing: this app runs until stopped');
    expect(modeText(mode({ mode: 'unknown' }))).toContain('unknown');
  });
  it('copes with a missing or unexpected mode', () => {
    expect(modeText(undefined)).toBeNull();
    expect(modeText(mode({ mode: 'later' as never }))).toBe('later');
  });
});
