/** "Cost": estimate from running apps and prices, billed month-to-date from Cost Explorer. */
import * as React from 'react';

import { ICostApp, ICostBilled, ICostEstimate, IInsights } from '../api';
import { formatMoney, formatSince, NOT_SET } from '../format';
import { ISectionDefinition, KeyValueList } from '../section';
import { fetchPart, PartFooter } from './insights';

function estimateSource(est: ICostEstimate): string {
  const parts = ['estimate'];
  if (est.price_source) {
    parts.push(`prices: ${est.price_source}`);
  }
  if (est.as_of) {
    parts.push(`as of ${formatSince(est.as_of)}`);
  }
  return parts.join(' · ');
}

function billedValue(billed: ICostBilled | null | undefined): React.ReactNode {
  if (!billed) {
    return NOT_SET;
  }
  if (billed.status === 'ok') {
    const cur = billed.currency ?? 'USD';
    return (
      <span>
        {formatMoney(billed.month_to_date, cur)}
        {billed.estimated ? ' (estimated by AWS)' : ''}
      </span>
    );
  }
  const label =
    billed.status === 'disabled'
      ? 'off'
      : billed.status === 'error'
        ? 'error'
        : 'not available';
  return <span className="jp-smstudio-mod-muted">{label}</span>;
}

/** Why the billed figures are missing (or odd), as a note under the figures. */
function billedNote(billed: ICostBilled | null | undefined): string | null {
  if (!billed?.reason) {
    return null;
  }
  return `Month to date: ${billed.reason.replace(/^not available: /, '')}`;
}

/** Horizontal bars of each app's hourly cost; only drawn when there are several apps. */
export function CostChart(props: {
  apps: ICostApp[];
  currency: string;
}): React.ReactElement | null {
  const apps = props.apps.filter(a => typeof a.per_hour === 'number');
  if (apps.length < 2) {
    return null;
  }
  const max = Math.max(...apps.map(a => a.per_hour as number), 0.0001);
  return (
    <figure className="jp-smstudio-CostChart">
      <figcaption>Cost per hour by app</figcaption>
      <ul>
        {apps.map(a => (
          <li key={`${a.app_type}/${a.app_name}`}>
            <span className="jp-smstudio-CostChart-label">
              {a.app_name} ({a.instance_type ?? '?'})
            </span>
            <span
              className="jp-smstudio-CostChart-bar"
              role="img"
              aria-label={`${a.app_name}: ${formatMoney(a.per_hour, props.currency)} per hour`}
              style={{
                width: `${Math.max(2, ((a.per_hour as number) / max) * 100)}%`
              }}
            />
            <span className="jp-smstudio-CostChart-value">
              {formatMoney(a.per_hour, props.currency)}/h
            </span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function CostView(props: { data: IInsights }): React.ReactElement {
  const costs = props.data.costs;
  const est = costs?.estimate ?? null;
  const billed = costs?.billed ?? null;
  const cur = est?.currency ?? 'USD';
  const rows: Array<{ key: string; value: React.ReactNode; title?: string }> =
    [];
  if (est && est.status !== 'error') {
    const src = estimateSource(est);
    rows.push(
      {
        key: 'Per hour now',
        value: `${formatMoney(est.per_hour, cur)}/h`,
        title: src
      },
      {
        key: 'Since start',
        value: formatMoney(est.since_start, cur),
        title: src
      },
      { key: 'Today', value: formatMoney(est.today, cur), title: src }
    );
  } else {
    rows.push({
      key: 'Estimate',
      value: (
        <span className="jp-smstudio-mod-muted">
          {est?.reason ?? 'not available'}
        </span>
      )
    });
  }
  rows.push({
    key: 'Month to date',
    value: billedValue(billed),
    title: billed?.as_of
      ? `billed · as of ${billed.as_of}`
      : 'billed (Cost Explorer)'
  });
  if (
    billed?.status === 'ok' &&
    billed.last_month !== null &&
    billed.last_month !== undefined
  ) {
    rows.push({
      key: 'Last month',
      value: formatMoney(billed.last_month, billed.currency ?? cur)
    });
  }
  return (
    <div className="jp-smstudio-Cost">
      <KeyValueList label="Cost" rows={rows} />
      {est && est.status !== 'error' && (
        <div className="jp-smstudio-Freshness">{estimateSource(est)}</div>
      )}
      {est?.reason && est.status === 'partial' && (
        <div className="jp-smstudio-Notice" role="note">
          {est.reason}
        </div>
      )}
      {billedNote(billed) && (
        <div className="jp-smstudio-Freshness jp-smstudio-BilledNote">
          {billedNote(billed)}
        </div>
      )}
      {est?.apps && <CostChart apps={est.apps} currency={cur} />}
      <PartFooter data={props.data} part="costs" />
    </div>
  );
}

export const costSection: ISectionDefinition<IInsights> = {
  id: 'cost',
  title: 'Cost',
  fetch: settings => fetchPart('costs', settings),
  render: data => <CostView data={data} />,
  refreshInterval: 120
};
