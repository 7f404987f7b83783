/** "Guardrails": each check with pass/fail/unknown, a reason, and expandable evidence and fix. */
import * as React from 'react';

import { IGuardrail, IInsights } from '../api';
import { guardrailSummary, guardrailView, sortGuardrails } from '../model';
import { ISectionDefinition } from '../section';
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
}): React.ReactElement {
  const c = props.check;
  const view = guardrailView(c.status);
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
              <strong>Why: </strong>
              {c.why}
            </p>
          )}
          <Evidence evidence={c.evidence} />
          {c.fix && c.status !== 'pass' && (
            <p>
              <strong>Fix: </strong>
              {c.fix}
            </p>
          )}
          {c.severity && (
            <p className="jp-smstudio-Freshness">
              severity {c.severity}
              {c.level ? ` · ${c.level} level` : ''}
            </p>
          )}
        </div>
      </details>
    </li>
  );
}

export function GuardrailsView(props: { data: IInsights }): React.ReactElement {
  const checks = sortGuardrails(props.data.guardrails ?? []);
  return (
    <div className="jp-smstudio-Guardrails">
      <div className="jp-smstudio-Summary" role="status">
        {guardrailSummary(checks)}
      </div>
      <ul className="jp-smstudio-GuardrailList" aria-label="Guardrail checks">
        {checks.map(c => (
          <GuardrailItem key={c.id} check={c} />
        ))}
      </ul>
      <PartFooter data={props.data} part="guardrails" />
    </div>
  );
}

export const guardrailsSection: ISectionDefinition<IInsights> = {
  id: 'guardrails',
  title: 'Guardrails',
  fetch: settings => fetchPart('guardrails', settings),
  emptyMessage: d =>
    (d.guardrails ?? []).length ? null : 'No checks configured.',
  render: data => <GuardrailsView data={data} />,
  refreshInterval: 300
};
