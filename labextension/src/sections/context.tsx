/** "This app": where this server runs (GET smstudio/context). */
import * as React from 'react';

import { API, IContext } from '../api';
import { formatSince, NOT_SET, orNotSet, shortArn } from '../format';
import { ISectionDefinition, KeyValueList } from '../section';

const KIND_LABEL: Record<IContext['kind'], string> = {
  classic: 'Studio Classic',
  spaces: 'Studio (spaces)',
  local: 'Local (not in Studio)'
};

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

export function ContextView(props: { context: IContext }): React.ReactElement {
  const ctx = props.context;
  const ownerKey = ctx.owner_kind === 'space' ? 'Space' : 'User profile';
  return (
    <div className="jp-smstudio-Context">
      {ctx.warning && (
        <div className="jp-smstudio-Notice" role="note">
          {ctx.warning}
        </div>
      )}
      <KeyValueList
        label="This app"
        rows={[
          { key: 'Studio', value: KIND_LABEL[ctx.kind] ?? ctx.kind },
          { key: 'Domain', value: orNotSet(ctx.domain_id) },
          {
            key: ownerKey,
            value: owner(ctx),
            title:
              ctx.owner_kind === 'space' && ctx.user_profile_name
                ? `Opened by ${ctx.user_profile_name}`
                : undefined
          },
          { key: 'App type', value: appType(ctx) },
          { key: 'Instance', value: orNotSet(ctx.instance_type) },
          {
            key: 'Image',
            value: shortArn(ctx.image_version),
            title: ctx.image_version ?? undefined
          },
          { key: 'Region', value: region(ctx) },
          {
            key: 'Running since',
            value: formatSince(ctx.app_created),
            title: ctx.app_created ?? undefined
          },
          { key: 'Status', value: orNotSet(ctx.app_status) }
        ]}
      />
    </div>
  );
}

export const contextSection: ISectionDefinition<IContext> = {
  id: 'context',
  title: 'This app',
  fetch: settings => API.getContext(settings),
  render: ctx => <ContextView context={ctx} />
};
