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
