/** The three insights sections (Cost, Tags, Guardrails): GET smstudio/insights?parts=<part>. */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IInsights, InsightsPart } from '../api';
import { formatSince } from '../format';
import { partNotes, partUnavailable } from '../model';
import { SectionUnavailable } from '../section';
import { IInsightsModel } from '../tokens';

/** Fetch one part; "not available" and failed parts become the section's states. */
export async function fetchPart(
  model: IInsightsModel,
  part: InsightsPart,
  trans: TranslationBundle
): Promise<IInsights> {
  const data = await model.fetch(part);
  const { unavailable, error } = partUnavailable(data, part, trans);
  if (unavailable !== null) {
    throw new SectionUnavailable(unavailable);
  }
  if (error !== null) {
    throw new Error(error);
  }
  return data;
}

/** Notes on a partial answer plus its freshness. */
export function PartFooter(props: {
  data: IInsights;
  part: InsightsPart;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const notes = partNotes(props.data, props.part, trans);
  const asOf = props.data.parts?.[props.part]?.as_of;
  return (
    <>
      {notes.length > 0 && (
        <ul className="jp-smstudio-Notes" aria-label={trans.__('Problems')}>
          {notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      )}
      {asOf && (
        <div className="jp-smstudio-Freshness">
          {trans.__('AWS data as of %1', formatSince(asOf, trans))}
        </div>
      )}
    </>
  );
}
