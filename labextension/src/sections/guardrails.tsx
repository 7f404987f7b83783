/** "Guardrails": each check with pass/fail/unknown, a reason, and expandable evidence and fix. */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IGuardrail, IInsights } from '../api';
import { guardrailSummary, guardrailView, sortGuardrails } from '../model';
import { ISectionDefinition } from '../section';
import { IInsightsModel } from '../tokens';
import { fetchPart, PartFooter } from './insights';

function Evidence(props: {
  evidence?: Record<string, unknown>;
}): React.ReactElement | null {
  const entries = Object.entries(props.evidence ?? {});
  if (entries.length === 0) {
    return null;
  }
  return (
    <dl className="jp-smstudio-KeyValue jp-smstudio-Evidence">
      {entries.map(([k, v]) => (
        <React.Fragment key={k}>
          <dt>{k}</dt>
          <dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
        </React.Fragment>
      ))}
    </dl>
  );
}

export function GuardrailItem(props: {
  check: IGuardrail;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const c = props.check;
  const view = guardrailView(c.status, trans);
  return (
    <li
      className={`jp-smstudio-Guardrail jp-smstudio-tone-${view.tone}`}
      data-check-id={c.id}
    >
      <details>
        <summary>
          <span className="jp-smstudio-Guardrail-icon" aria-hidden="true">
            {view.icon}
          </span>
          <span className="jp-smstudio-Guardrail-title">{c.title}</span>
          <span className="jp-smstudio-visuallyHidden">: {view.label}.</span>
          <span className="jp-smstudio-Guardrail-reason">{c.reason}</span>
        </summary>
        <div className="jp-smstudio-Guardrail-details">
          {c.why && (
            <p>
              <strong>{trans.__('Why:')} </strong>
              {c.why}
            </p>
          )}
          <Evidence evidence={c.evidence} />
          {c.fix && c.status !== 'pass' && (
            <p>
              <strong>{trans.__('Fix:')} </strong>
              {c.fix}
            </p>
          )}
          {c.severity && (
            <p className="jp-smstudio-Freshness">
              {c.level
                ? trans.__('severity %1 · %2 level', c.severity, c.level)
                : trans.__('severity %1', c.severity)}
            </p>
          )}
        </div>
      </details>
    </li>
  );
}

export function GuardrailsView(props: {
  data: IInsights;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const checks = sortGuardrails(props.data.guardrails ?? []);
  return (
    <div className="jp-smstudio-Guardrails">
      <div className="jp-smstudio-Summary" role="status">
        {guardrailSummary(checks, trans)}
      </div>
      <ul
        className="jp-smstudio-GuardrailList"
        aria-label={trans.__('Guardrail checks')}
      >
        {checks.map(c => (
          <GuardrailItem key={c.id} check={c} trans={trans} />
        ))}
      </ul>
      <PartFooter data={props.data} part="guardrails" trans={trans} />
    </div>
  );
}

export function guardrailsSection(
  model: IInsightsModel,
  trans: TranslationBundle
): ISectionDefinition<IInsights> {
  return {
    id: 'guardrails',
    title: trans.__('Guardrails'),
    fetch: () => fetchPart(model, 'guardrails', trans),
    emptyMessage: d =>
      (d.guardrails ?? []).length ? null : trans.__('No checks configured.'),
    render: data => <GuardrailsView data={data} trans={trans} />,
    refreshInterval: 300
  };
}
