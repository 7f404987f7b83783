/**
 * Pure formatting helpers shared by the sections (unit-tested in __tests__/format.spec.ts).
 *
 * Words go through the translation bundle (`trans`, domain `smstudio_ext`); numbers, money and
 * dates through `Intl` in the page's language (`setLanguage`, from `ITranslator.languageCode`
 * at activation), never a hard-coded `en-US`.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

/** Shown for values the server reports as null or empty. */
export const NOT_SET = '—';

let pageLanguage = 'en';

/**
 * The language `Intl` formats in: JupyterLab's (`fr_FR` and `fr-FR` both work); an unknown or
 * empty code falls back to English.
 */
export function setLanguage(code: string | null | undefined): void {
  pageLanguage = normalizeLanguage(code);
}

/** The language numbers and dates are formatted in (a BCP 47 tag). */
export function language(): string {
  return pageLanguage;
}

/** `fr_FR` → `fr-FR`; `default`, empty or invalid → `en`. */
export function normalizeLanguage(code: string | null | undefined): string {
  const tag = (code ?? '').trim().replace(/_/g, '-');
  if (!tag || tag === 'default') {
    return 'en';
  }
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? 'en';
  } catch {
    return 'en';
  }
}

/** A number in the page's language (`1,234.5`, `1 234,5`, ...). */
export function formatNumber(
  value: number,
  options: Intl.NumberFormatOptions = {}
): string {
  return new Intl.NumberFormat(pageLanguage, options).format(value);
}

/**
 * A compact duration: `45s`, `12m`, `3h 05m`, `2d 4h` (the unit letters are translatable).
 *
 * Negative or non-finite input yields `NOT_SET`.
 */
export function formatDuration(
  seconds: number | null | undefined,
  trans: TranslationBundle
): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return NOT_SET;
  }
  if (seconds < 0) {
    return NOT_SET;
  }
  const s = Math.floor(seconds);
  if (s < 60) {
    return trans.__('%1s', s);
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return trans.__('%1m', minutes);
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return trans.__('%1h %2m', hours, String(minutes % 60).padStart(2, '0'));
  }
  const days = Math.floor(hours / 24);
  return trans.__('%1d %2h', days, hours % 24);
}

/** `1 h`, `90 min`, `8 h`: a keep-alive or timeout choice. */
export function formatMinutes(
  minutes: number,
  trans: TranslationBundle
): string {
  return minutes % 60 === 0
    ? trans.__('%1 h', minutes / 60)
    : trans.__('%1 min', minutes);
}

/**
 * Money with its currency in the page's language, two decimals (`$1.23`, `1,23 $US`), or four
 * below one cent so small hourly rates stay visible (`$0.0046`).
 */
export function formatMoney(
  amount: number | null | undefined,
  currency = 'USD'
): string {
  if (amount === null || amount === undefined || !isFinite(amount)) {
    return NOT_SET;
  }
  const abs = Math.abs(amount);
  const digits = abs > 0 && abs < 0.01 ? 4 : 2;
  try {
    return formatNumber(amount, {
      style: 'currency',
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits
    });
  } catch {
    // Unknown currency code: still show the number.
    return `${formatNumber(amount, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits
    })} ${currency}`;
  }
}

/** Seconds from an ISO timestamp to `now`, or null when the timestamp does not parse. */
export function secondsSince(
  iso: string | null | undefined,
  now: Date = new Date()
): number | null {
  const until = secondsUntil(iso, now);
  return until === null ? null : Math.max(0, -until);
}

/** A date and time in the page's language and the browser's time zone (`5/1/24, 2:03 PM`). */
export function formatDateTime(when: Date): string {
  return new Intl.DateTimeFormat(pageLanguage, {
    dateStyle: 'short',
    timeStyle: 'short'
  }).format(when);
}

/** `5/1/24, 2:03 PM (3h 12m ago)`: when, and how long ago. */
export function formatSince(
  iso: string | null | undefined,
  trans: TranslationBundle,
  now: Date = new Date()
): string {
  const elapsed = secondsSince(iso, now);
  if (elapsed === null) {
    return NOT_SET;
  }
  const when = formatDateTime(new Date(Date.parse(iso as string)));
  return trans.__('%1 (%2 ago)', when, formatDuration(elapsed, trans));
}

/** The value, or `NOT_SET` for null/undefined/empty. */
export function orNotSet(value: string | null | undefined): string {
  return value === null || value === undefined || value === ''
    ? NOT_SET
    : value;
}

/** The last path segment of an ARN (`arn:...:image-version/datascience/3` → `datascience/3`). */
export function shortArn(arn: string | null | undefined): string {
  if (!arn) {
    return NOT_SET;
  }
  const resource = arn.split(':').slice(5).join(':');
  if (!resource) {
    return arn;
  }
  const slash = resource.indexOf('/');
  return slash >= 0 ? resource.slice(slash + 1) : resource;
}

/** Bytes in binary units with the page's decimal separator: `512 B`, `1.5 KiB`, `3.2 GiB`. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !isFinite(bytes) || bytes < 0) {
    return NOT_SET;
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) {
    return `${formatNumber(Math.round(value))} B`;
  }
  const digits = value < 10 ? 1 : 0;
  const number = formatNumber(value, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits
  });
  return `${number} ${units[unit]}`;
}

/** Seconds from `now` until an ISO timestamp (negative when past), or null. */
export function secondsUntil(
  iso: string | null | undefined,
  now: Date = new Date()
): number | null {
  if (!iso) {
    return null;
  }
  const then = Date.parse(iso);
  if (isNaN(then)) {
    return null;
  }
  return (then - now.getTime()) / 1000;
}

/** `in 12m` / `3m ago` / `now` for an ISO timestamp, or `NOT_SET`. */
export function formatRelative(
  iso: string | null | undefined,
  trans: TranslationBundle,
  now: Date = new Date()
): string {
  const delta = secondsUntil(iso, now);
  if (delta === null) {
    return NOT_SET;
  }
  if (Math.abs(delta) < 1) {
    return trans.__('now');
  }
  return delta > 0
    ? trans.__('in %1', formatDuration(delta, trans))
    : trans.__('%1 ago', formatDuration(-delta, trans));
}
