/** The three insights sections (Cost, Tags, Guardrails): GET smstudio/insights?parts=<part>. */
import { ServerConnection } from '@jupyterlab/services';
import * as React from 'react';

import { API, IInsights, InsightsPart } from '../api';
import { formatSince } from '../format';
import { partNotes, partUnavailable } from '../model';
import { SectionUnavailable } from '../section';

/** Fetch one part; "not available" and failed parts become the section's states. */
export async function fetchPart(
  part: InsightsPart,
  settings: ServerConnection.ISettings
): Promise<IInsights> {
  const data = await API.getInsights([part], settings);
  const { unavailable, error } = partUnavailable(data, part);
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
}): React.ReactElement {
  const notes = partNotes(props.data, props.part);
  const asOf = props.data.parts?.[props.part]?.as_of;
  return (
    <>
      {notes.length > 0 && (
        <ul className="jp-smstudio-Notes" aria-label="Problems">
          {notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      )}
      {asOf && (
        <div className="jp-smstudio-Freshness">
          AWS data as of {formatSince(asOf)}
        </div>
      )}
    </>
  );
}
