/** Strings come from the smstudio_ext catalogue; numbers and dates follow the page's language. */
import {
  nullTranslator,
  TranslationBundle,
  TranslationManager
} from '@jupyterlab/translation';

import {
  formatBytes,
  formatDuration,
  formatMoney,
  normalizeLanguage,
  setLanguage
} from '../format';
import { TRANSLATION_DOMAIN } from '../i18n';
import { guardrailSummary, idleView } from '../model';
import { FakeServer } from './fakeserver';

/**
 * Our bundle in French, as JupyterLab builds it: its TranslationManager fetches
 * GET lab/api/translations/fr_FR, which answers what jupyterlab_server found in the language
 * pack's locale/fr_FR/LC_MESSAGES/smstudio_ext.json.
 */
async function french(): Promise<TranslationBundle> {
  const server = new FakeServer().on('GET lab/api/translations/fr_FR', () => ({
    status: 200,
    body: {
      data: {
        [TRANSLATION_DOMAIN]: {
          '': {
            domain: TRANSLATION_DOMAIN,
            language: 'fr-FR', // as jupyterlab-translate writes it
            plural_forms: 'nplurals=2; plural=(n > 1);',
            version: '0.1.0'
          },
          '%1m': ['%1 min'],
          'Shutdown in %1': ['Arrêt dans %1'],
          '%1 fail': ['%1 échec', '%1 échecs'],
          '%1 pass': ['%1 réussi', '%1 réussis']
        }
      },
      message: ''
    }
  }));
  const settings = server.settings;
  const manager = withPage(
    () => new TranslationManager('lab/api/translations', '', settings)
  );
  await manager.fetch('fr_FR');
  expect(manager.languageCode).toBe('fr_FR');
  // the package name works too: - becomes _
  return withPage(() => manager.load('smstudio-ext'));
}

/**
 * Gettext reads the page's <html lang> when it is built; the node test environment has no DOM,
 * so lend it an English page for that moment only.
 */
function withPage<T>(make: () => T): T {
  (globalThis as any).document = {
    documentElement: { getAttribute: () => 'en' }
  };
  try {
    return make();
  } finally {
    delete (globalThis as any).document;
  }
}

afterEach(() => setLanguage('en'));

describe('translation', () => {
  it('the domain is the package name with - replaced by _', () => {
    expect(TRANSLATION_DOMAIN).toBe('smstudio_ext');
  });

  it('translated words and plurals come from the catalogue; others stay English', async () => {
    const trans = await french();
    const status = {
      enabled: true,
      dry_run: false,
      timeout_minutes: 60,
      bounds: {},
      state: 'idle' as const,
      idle_seconds: 0,
      signals: [],
      apps: [],
      history: [],
      last_error: null,
      shutdown_at: '2026-11-30T12:12:00Z'
    };
    const view = idleView(status, trans, new Date('2026-11-30T12:00:00Z'));
    expect(view.statusText).toBe('Arrêt dans 12 min');
    expect(view.label).toBe('Idle');
    const check = (status: string) => ({
      id: status,
      title: '',
      reason: '',
      status,
      evidence: {},
      why: '',
      fix: '',
      severity: 'medium',
      level: 'owner'
    });
    expect(
      guardrailSummary([check('fail'), check('fail'), check('pass')], trans)
    ).toBe('2 échecs · 1 réussi');
  });

  it('the null translator is English', () => {
    expect(formatDuration(125, nullTranslator.load(TRANSLATION_DOMAIN))).toBe(
      '2m'
    );
  });
});

describe('locale', () => {
  it('formats money and sizes in the page language', () => {
    setLanguage('fr_FR');
    expect(formatMoney(1234.5)).toMatch(/^1\s234,50\s\$US$/);
    expect(formatBytes(1536)).toBe('1,5 KiB');
    setLanguage('de-DE');
    expect(formatMoney(2, 'EUR')).toMatch(/^2,00\s€$/);
  });

  it('normalizes JupyterLab codes and falls back to English', () => {
    expect(normalizeLanguage('fr_FR')).toBe('fr-FR');
    expect(normalizeLanguage('default')).toBe('en');
    expect(normalizeLanguage('')).toBe('en');
    expect(normalizeLanguage('not a language!')).toBe('en');
  });
});
