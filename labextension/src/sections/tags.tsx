/** "Tags": merged tags of the domain, owner and apps, with their source. */
import * as React from 'react';

import { IInsights } from '../api';
import { sortTags } from '../model';
import { ISectionDefinition } from '../section';
import { fetchPart, PartFooter } from './insights';

const SOURCE_LABEL: Record<string, string> = {
  domain: 'domain',
  'user-profile': 'profile',
  space: 'space',
  app: 'app'
};

export function TagsView(props: { data: IInsights }): React.ReactElement {
  const tags = sortTags(props.data.tags ?? []);
  return (
    <div className="jp-smstudio-Tags">
      <table className="jp-smstudio-Table" aria-label="Tags">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Value</th>
            <th scope="col">Source</th>
          </tr>
        </thead>
        <tbody>
          {tags.map((t, i) => (
            <tr
              key={`${t.source}-${t.key}-${i}`}
              className={t.user_id ? 'jp-smstudio-Tag-userId' : undefined}
              title={t.resource_arn ?? undefined}
            >
              <td>
                {t.key}
                {t.user_id && (
                  <span className="jp-smstudio-Badge" aria-label="user-id tag">
                    user id
                  </span>
                )}
              </td>
              <td>{t.value}</td>
              <td>{SOURCE_LABEL[t.source] ?? t.source}</td>
            </tr>
          ))}
        </tbody>
      </table>
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
