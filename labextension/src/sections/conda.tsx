/** "Conda": persisted environments, size, kernel status, and the fix when there is no kernel. */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ICondaEnv, ICondaEnvs } from '../api';
import { formatBytes, NOT_SET } from '../format';
import { ISectionDefinition } from '../section';
import { IResourceModel } from '../tokens';

function version(env: ICondaEnv, trans: TranslationBundle): string {
  if (env.python_version) {
    return trans.__('Python %1', env.python_version);
  }
  if (env.r_version) {
    return trans.__('R %1', env.r_version);
  }
  return env.language ?? NOT_SET;
}

export function CondaEnvItem(props: {
  env: ICondaEnv;
  trans: TranslationBundle;
}): React.ReactElement {
  const { env, trans } = props;
  const kernels = env.kernels ?? [];
  return (
    <li className="jp-smstudio-CondaEnv" data-env={env.name}>
      <div className="jp-smstudio-CondaEnv-head">
        <strong title={env.path}>{env.name}</strong>
        <span>{version(env, trans)}</span>
        <span>{formatBytes(env.size_bytes)}</span>
      </div>
      {kernels.length > 0 ? (
        <div className="jp-smstudio-tone-ok">
          <span aria-hidden="true">✓ </span>
          {trans.__('kernel %1', kernels.join(', '))}
        </div>
      ) : (
        <div className="jp-smstudio-tone-warn">
          <span aria-hidden="true">! </span>
          {env.reason
            ? trans.__('no kernel: %1', env.reason)
            : trans.__('no kernel')}
          {env.fix && (
            <pre
              className="jp-smstudio-Command"
              aria-label={trans.__('Fix for %1', env.name)}
            >
              {env.fix}
            </pre>
          )}
        </div>
      )}
    </li>
  );
}

export function CondaView(props: {
  data: ICondaEnvs;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const d = props.data;
  return (
    <div className="jp-smstudio-Conda">
      {d.envs_dir && (
        <div className="jp-smstudio-Freshness">
          {trans.__('in %1', d.envs_dir)}
        </div>
      )}
      {d.tool_message && (
        <div className="jp-smstudio-Notice" role="note">
          {d.tool_message}
        </div>
      )}
      {(d.warnings ?? []).map((w, i) => (
        <div key={i} className="jp-smstudio-Notice" role="note">
          {w}
        </div>
      ))}
      <ul
        className="jp-smstudio-CondaList"
        aria-label={trans.__('Persisted conda environments')}
      >
        {d.envs.map(env => (
          <CondaEnvItem key={env.path || env.name} env={env} trans={trans} />
        ))}
      </ul>
    </div>
  );
}

export function condaSection(
  model: IResourceModel<ICondaEnvs>,
  trans: TranslationBundle
): ISectionDefinition<ICondaEnvs> {
  return {
    id: 'conda',
    title: trans.__('Conda'),
    fetch: () => model.fetch(),
    emptyMessage: d => {
      if (d.envs.length) {
        return null;
      }
      const create = `conda create -p ${d.envs_dir ?? '~/.conda/envs'}/NAME python ipykernel`;
      return d.envs_dir
        ? trans.__(
            'No persisted environments in %1. Create one with: %2',
            d.envs_dir,
            create
          )
        : trans.__('No persisted environments. Create one with: %1', create);
    },
    render: data => <CondaView data={data} trans={trans} />,
    refreshInterval: 120
  };
}
