/** "This app": where this server runs (GET smstudio/context). */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IContext } from '../api';
import { formatSince, NOT_SET, orNotSet, shortArn } from '../format';
import { ISectionDefinition, KeyValueList } from '../section';
import { IResourceModel } from '../tokens';

function kindLabel(kind: string, trans: TranslationBundle): string {
  switch (kind) {
    case 'classic':
      return trans.__('Studio Classic');
    case 'spaces':
      return trans.__('Studio (spaces)');
    case 'local':
      return trans.__('Local (not in Studio)');
    default:
      return kind;
  }
}

/** "space my-space" / "user profile alice" / "—". */
function owner(ctx: IContext): string {
  if (ctx.owner_kind === 'space') {
    return orNotSet(ctx.owner_name ?? ctx.space_name);
  }
  if (ctx.owner_kind === 'user-profile') {
    return orNotSet(ctx.owner_name ?? ctx.user_profile_name);
  }
  return NOT_SET;
}

function appType(ctx: IContext): string {
  if (!ctx.app_type) {
    return NOT_SET;
  }
  return ctx.app_name ? `${ctx.app_type} (${ctx.app_name})` : ctx.app_type;
}

function region(ctx: IContext): string {
  if (!ctx.region) {
    return NOT_SET;
  }
  return ctx.account_id ? `${ctx.region} · ${ctx.account_id}` : ctx.region;
}

export function ContextView(props: {
  context: IContext;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const ctx = props.context;
  const ownerKey =
    ctx.owner_kind === 'space' ? trans.__('Space') : trans.__('User profile');
  return (
    <div className="jp-smstudio-Context">
      {ctx.warning && (
        <div className="jp-smstudio-Notice" role="note">
          {ctx.warning}
        </div>
      )}
      <KeyValueList
        label={trans.__('This app')}
        rows={[
          { key: trans.__('Studio'), value: kindLabel(ctx.kind, trans) },
          { key: trans.__('Domain'), value: orNotSet(ctx.domain_id) },
          {
            key: ownerKey,
            value: owner(ctx),
            title:
              ctx.owner_kind === 'space' && ctx.user_profile_name
                ? trans.__('Opened by %1', ctx.user_profile_name)
                : undefined
          },
          { key: trans.__('App type'), value: appType(ctx) },
          { key: trans.__('Instance'), value: orNotSet(ctx.instance_type) },
          {
            key: trans.__('Image'),
            value: shortArn(ctx.image_version),
            title: ctx.image_version ?? undefined
          },
          { key: trans.__('Region'), value: region(ctx) },
          {
            key: trans.__('Running since'),
            value: formatSince(ctx.app_created, trans),
            title: ctx.app_created ?? undefined
          },
          { key: trans.__('Status'), value: orNotSet(ctx.app_status) }
        ]}
      />
    </div>
  );
}

export function contextSection(
  model: IResourceModel<IContext>,
  trans: TranslationBundle
): ISectionDefinition<IContext> {
  return {
    id: 'context',
    title: trans.__('This app'),
    fetch: () => model.fetch(),
    render: ctx => <ContextView context={ctx} trans={trans} />
  };
}
