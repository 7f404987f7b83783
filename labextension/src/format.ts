/** Pure formatting helpers shared by the sections (unit-tested in __tests__/format.spec.ts). */

/** Shown for values the server reports as null or empty. */
export const NOT_SET = '—';

/**
 * A compact duration: `45s`, `12m`, `3h 05m`, `2d 4h`.
 *
 * Negative or non-finite input yields `NOT_SET`.
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return NOT_SET;
  }
  if (seconds < 0) {
    return NOT_SET;
  }
  const s = Math.floor(seconds);
  if (s < 60) {
    return `${s}s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes}m`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  }
  const days = Math.floor(hours / 24);
  return `${days}d ${hours % 24}h`;
}

/**
 * Money with its currency, two decimals (`$1.23`), or four below one cent so small hourly
 * rates stay visible (`$0.0046`).
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
    return new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits
    }).format(amount);
  } catch {
    // Unknown currency code: still show the number.
    return `${amount.toFixed(digits)} ${currency}`;
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

/** `2024-05-01 14:03 (3h 12m ago)` in the browser's time zone. */
export function formatSince(
  iso: string | null | undefined,
  now: Date = new Date()
): string {
  const elapsed = secondsSince(iso, now);
  if (elapsed === null) {
    return NOT_SET;
  }
  const when = new Date(Date.parse(iso as string));
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp =
    `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ` +
    `${pad(when.getHours())}:${pad(when.getMinutes())}`;
  return `${stamp} (${formatDuration(elapsed)} ago)`;
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

/** Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 GiB`. */
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
    return `${Math.round(value)} B`;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
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
  now: Date = new Date()
): string {
  const delta = secondsUntil(iso, now);
  if (delta === null) {
    return NOT_SET;
  }
  if (Math.abs(delta) < 1) {
    return 'now';
  }
  return delta > 0
    ? `in ${formatDuration(delta)}`
    : `${formatDuration(-delta)} ago`;
}
