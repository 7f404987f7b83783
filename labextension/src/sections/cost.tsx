/** "Cost": estimate from running apps and prices, billed month-to-date from Cost Explorer. */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ICostApp, ICostBilled, ICostEstimate, IInsights } from '../api';
import { formatMoney, formatSince, NOT_SET } from '../format';
import { ISectionDefinition, KeyValueList } from '../section';
import { IInsightsModel } from '../tokens';
import { fetchPart, PartFooter } from './insights';

function estimateSource(est: ICostEstimate, trans: TranslationBundle): string {
  const parts = [trans.__('estimate')];
  if (est.price_source) {
    parts.push(trans.__('prices: %1', est.price_source));
  }
  if (est.as_of) {
    parts.push(trans.__('as of %1', formatSince(est.as_of, trans)));
  }
  return parts.join(' · ');
}

function perHour(amount: string, trans: TranslationBundle): string {
  return trans.__('%1/h', amount);
}

function billedValue(
  billed: ICostBilled | null | undefined,
  trans: TranslationBundle
): React.ReactNode {
  if (!billed) {
    return NOT_SET;
  }
  if (billed.status === 'ok') {
    const cur = billed.currency ?? 'USD';
    const money = formatMoney(billed.month_to_date, cur);
    return (
      <span>
        {billed.estimated ? trans.__('%1 (estimated by AWS)', money) : money}
      </span>
    );
  }
  const label =
    billed.status === 'disabled'
      ? trans.__('off')
      : billed.status === 'error'
        ? trans.__('error')
        : trans.__('not available');
  return <span className="jp-smstudio-mod-muted">{label}</span>;
}

/** Why the billed figures are missing (or odd), as a note under the figures. */
function billedNote(
  billed: ICostBilled | null | undefined,
  trans: TranslationBundle
): string | null {
  if (!billed?.reason) {
    return null;
  }
  return trans.__(
    'Month to date: %1',
    billed.reason.replace(/^not available: /, '')
  );
}

/** Horizontal bars of each app's hourly cost; only drawn when there are several apps. */
export function CostChart(props: {
  apps: ICostApp[];
  currency: string;
  trans: TranslationBundle;
}): React.ReactElement | null {
  const { trans } = props;
  const apps = props.apps.filter(a => typeof a.per_hour === 'number');
  if (apps.length < 2) {
    return null;
  }
  const max = Math.max(...apps.map(a => a.per_hour as number), 0.0001);
  return (
    <figure className="jp-smstudio-CostChart">
      <figcaption>{trans.__('Cost per hour by app')}</figcaption>
      <ul>
        {apps.map(a => (
          <li key={`${a.app_type}/${a.app_name}`}>
            <span className="jp-smstudio-CostChart-label">
              {a.app_name} ({a.instance_type ?? '?'})
            </span>
            <span
              className="jp-smstudio-CostChart-bar"
              role="img"
              aria-label={trans.__(
                '%1: %2 per hour',
                a.app_name,
                formatMoney(a.per_hour, props.currency)
              )}
              style={{
                width: `${Math.max(2, ((a.per_hour as number) / max) * 100)}%`
              }}
            />
            <span className="jp-smstudio-CostChart-value">
              {perHour(formatMoney(a.per_hour, props.currency), trans)}
            </span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function CostView(props: {
  data: IInsights;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const costs = props.data.costs;
  const est = costs?.estimate ?? null;
  const billed = costs?.billed ?? null;
  const cur = est?.currency ?? 'USD';
  const rows: Array<{ key: string; value: React.ReactNode; title?: string }> =
    [];
  if (est && est.status !== 'error') {
    const src = estimateSource(est, trans);
    rows.push(
      {
        key: trans.__('Per hour now'),
        value: perHour(formatMoney(est.per_hour, cur), trans),
        title: src
      },
      {
        key: trans.__('Since start'),
        value: formatMoney(est.since_start, cur),
        title: src
      },
      { key: trans.__('Today'), value: formatMoney(est.today, cur), title: src }
    );
  } else {
    rows.push({
      key: trans.__('Estimate'),
      value: (
        <span className="jp-smstudio-mod-muted">
          {est?.reason ?? trans.__('not available')}
        </span>
      )
    });
  }
  rows.push({
    key: trans.__('Month to date'),
    value: billedValue(billed, trans),
    title: billed?.as_of
      ? trans.__('billed · as of %1', billed.as_of)
      : trans.__('billed (Cost Explorer)')
  });
  if (
    billed?.status === 'ok' &&
    billed.last_month !== null &&
    billed.last_month !== undefined
  ) {
    rows.push({
      key: trans.__('Last month'),
      value: formatMoney(billed.last_month, billed.currency ?? cur)
    });
  }
  const note = billedNote(billed, trans);
  return (
    <div className="jp-smstudio-Cost">
      <KeyValueList label={trans.__('Cost')} rows={rows} />
      {est && est.status !== 'error' && (
        <div className="jp-smstudio-Freshness">
          {estimateSource(est, trans)}
        </div>
      )}
      {est?.reason && est.status === 'partial' && (
        <div className="jp-smstudio-Notice" role="note">
          {est.reason}
        </div>
      )}
      {note && (
        <div className="jp-smstudio-Freshness jp-smstudio-BilledNote">
          {note}
        </div>
      )}
      {est?.apps && <CostChart apps={est.apps} currency={cur} trans={trans} />}
      <PartFooter data={props.data} part="costs" trans={trans} />
    </div>
  );
}

export function costSection(
  model: IInsightsModel,
  trans: TranslationBundle
): ISectionDefinition<IInsights> {
  return {
    id: 'cost',
    title: trans.__('Cost'),
    fetch: () => fetchPart(model, 'costs', trans),
    render: data => <CostView data={data} trans={trans} />,
    refreshInterval: 120
  };
}
