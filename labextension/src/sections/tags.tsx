/** "Tags": merged tags of the domain, owner and apps, with their source. */
import * as React from 'react';

import { IInsights, ITag } from '../api';
import { sortTags } from '../model';
import { ISectionDefinition } from '../section';
import { fetchPart, PartFooter } from './insights';

const SOURCE_LABEL: Record<string, string> = {
  domain: 'domain',
  'user-profile': 'profile',
  space: 'space',
  app: 'app'
};

function TagTable(props: { tags: ITag[]; label: string }): React.ReactElement {
  return (
    <table
      className="jp-smstudio-Table jp-smstudio-TagTable"
      aria-label={props.label}
    >
      <thead>
        <tr>
          <th scope="col">Key</th>
          <th scope="col">Value</th>
          <th scope="col">From</th>
        </tr>
      </thead>
      <tbody>
        {props.tags.map((t, i) => (
          <tr
            key={`${t.source}-${t.key}-${i}`}
            className={t.user_id ? 'jp-smstudio-Tag-userId' : undefined}
            title={t.resource_arn ?? undefined}
            data-tag-key={t.key}
          >
            <td>
              {t.key}
              {t.user_id && (
                <span
                  className="jp-smstudio-Badge"
                  aria-label="(the user-id tag)"
                >
                  user id
                </span>
              )}
            </td>
            <td>{t.value}</td>
            <td className="jp-smstudio-Tag-source">
              {SOURCE_LABEL[t.source] ?? t.source}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TagsView(props: { data: IInsights }): React.ReactElement {
  const all = sortTags(props.data.tags ?? []);
  const own = all.filter(t => !t.automatic || t.user_id);
  const automatic = all.filter(t => t.automatic && !t.user_id);
  return (
    <div className="jp-smstudio-Tags">
      {own.length > 0 ? (
        <TagTable tags={own} label="Tags" />
      ) : (
        <div className="jp-smstudio-Section-message">Only automatic tags.</div>
      )}
      {automatic.length > 0 && (
        <details className="jp-smstudio-Disclosure">
          <summary>
            {automatic.length} automatic tag{automatic.length === 1 ? '' : 's'}{' '}
            set by SageMaker
          </summary>
          <TagTable tags={automatic} label="Automatic tags" />
        </details>
      )}
      <PartFooter data={props.data} part="tags" />
    </div>
  );
}

export const tagsSection: ISectionDefinition<IInsights> = {
  id: 'tags',
  title: 'Tags',
  fetch: settings => fetchPart('tags', settings),
  emptyMessage: d =>
    (d.tags ?? []).length
      ? null
      : 'No tags on this app, its owner or the domain.',
  render: data => <TagsView data={data} />,
  refreshInterval: 300
};
