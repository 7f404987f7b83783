/** "Tags": merged tags of the domain, owner and apps, with their source. */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IInsights, ITag } from '../api';
import { sortTags } from '../model';
import { ISectionDefinition } from '../section';
import { IInsightsModel } from '../tokens';
import { fetchPart, PartFooter } from './insights';

function sourceLabel(source: string, trans: TranslationBundle): string {
  switch (source) {
    case 'domain':
      return trans.__('domain');
    case 'user-profile':
      return trans.__('profile');
    case 'space':
      return trans.__('space');
    case 'app':
      return trans.__('app');
    default:
      return source;
  }
}

function TagTable(props: {
  tags: ITag[];
  label: string;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  return (
    <table
      className="jp-smstudio-Table jp-smstudio-TagTable"
      aria-label={props.label}
    >
      <thead>
        <tr>
          <th scope="col">{trans.__('Key')}</th>
          <th scope="col">{trans.__('Value')}</th>
          <th scope="col">{trans.__('From')}</th>
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
                <span className="jp-smstudio-Badge">{trans.__('user id')}</span>
              )}
            </td>
            <td>{t.value}</td>
            <td className="jp-smstudio-Tag-source">
              {sourceLabel(t.source, trans)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TagsView(props: {
  data: IInsights;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const all = sortTags(props.data.tags ?? []);
  const own = all.filter(t => !t.automatic || t.user_id);
  const automatic = all.filter(t => t.automatic && !t.user_id);
  return (
    <div className="jp-smstudio-Tags">
      {own.length > 0 ? (
        <TagTable tags={own} label={trans.__('Tags')} trans={trans} />
      ) : (
        <div className="jp-smstudio-Section-message">
          {trans.__('Only automatic tags.')}
        </div>
      )}
      {automatic.length > 0 && (
        <details className="jp-smstudio-Disclosure">
          <summary>
            {trans._n(
              '%1 automatic tag set by SageMaker',
              '%1 automatic tags set by SageMaker',
              automatic.length
            )}
          </summary>
          <TagTable
            tags={automatic}
            label={trans.__('Automatic tags')}
            trans={trans}
          />
        </details>
      )}
      <PartFooter data={props.data} part="tags" trans={trans} />
    </div>
  );
}

export function tagsSection(
  model: IInsightsModel,
  trans: TranslationBundle
): ISectionDefinition<IInsights> {
  return {
    id: 'tags',
    title: trans.__('Tags'),
    fetch: () => fetchPart(model, 'tags', trans),
    emptyMessage: d =>
      (d.tags ?? []).length
        ? null
        : trans.__('No tags on this app, its owner or the domain.'),
    render: data => <TagsView data={data} trans={trans} />,
    refreshInterval: 300
  };
}
