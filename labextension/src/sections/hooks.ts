import { ISignal } from '@lumino/signaling';
import * as React from 'react';

/** The current time, re-rendering every `ms` (for countdowns). */
export function useNow(ms = 1000): Date {
  const [now, setNow] = React.useState(() => new Date());
  React.useEffect(() => {
    const timer = window.setInterval(() => setNow(new Date()), ms);
    return () => window.clearInterval(timer);
  }, [ms]);
  return now;
}

/**
 * `initial`, then each non-null value a model's signal emits (e.g. the idle state pushed by a
 * server event, a backup's live progress); a new `initial` (a section refresh) wins again.
 */
export function useLatest<T>(signal: ISignal<any, T | null>, initial: T): T {
  const [value, setValue] = React.useState<T>(initial);
  React.useEffect(() => setValue(initial), [initial]);
  React.useEffect(() => {
    const update = (_: unknown, next: T | null) => {
      if (next !== null && next !== undefined) {
        setValue(next);
      }
    };
    signal.connect(update);
    return () => {
      signal.disconnect(update);
    };
  }, [signal]);
  return value;
}
