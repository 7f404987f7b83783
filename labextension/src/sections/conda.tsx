/** "Conda": persisted environments, size, kernel status, and the fix when there is no kernel. */
import * as React from 'react';

import { API, ICondaEnv, ICondaEnvs } from '../api';
import { formatBytes, NOT_SET } from '../format';
import { ISectionDefinition } from '../section';

function version(env: ICondaEnv): string {
  if (env.python_version) {
    return `Python ${env.python_version}`;
  }
  if (env.r_version) {
    return `R ${env.r_version}`;
  }
  return env.language ?? NOT_SET;
}

export function CondaEnvItem(props: { env: ICondaEnv }): React.ReactElement {
  const env = props.env;
  const kernels = env.kernels ?? [];
  return (
    <li className="jp-smstudio-CondaEnv" data-env={env.name}>
      <div className="jp-smstudio-CondaEnv-head">
        <strong title={env.path}>{env.name}</strong>
        <span>{version(env)}</span>
        <span>{formatBytes(env.size_bytes)}</span>
      </div>
      {kernels.length > 0 ? (
        <div className="jp-smstudio-tone-ok">
          <span aria-hidden="true">✓ </span>kernel {kernels.join(', ')}
        </div>
      ) : (
        <div className="jp-smstudio-tone-warn">
          <span aria-hidden="true">! </span>no kernel
          {env.reason ? `: ${env.reason}` : ''}
          {env.fix && (
            <pre
              className="jp-smstudio-Command"
              aria-label={`Fix for ${env.name}`}
            >
              {env.fix}
            </pre>
          )}
        </div>
      )}
    </li>
  );
}

export function CondaView(props: { data: ICondaEnvs }): React.ReactElement {
  const d = props.data;
  return (
    <div className="jp-smstudio-Conda">
      {d.envs_dir && (
        <div className="jp-smstudio-Freshness">in {d.envs_dir}</div>
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
        aria-label="Persisted conda environments"
      >
        {d.envs.map(env => (
          <CondaEnvItem key={env.path || env.name} env={env} />
        ))}
      </ul>
    </div>
  );
}

export const condaSection: ISectionDefinition<ICondaEnvs> = {
  id: 'conda',
  title: 'Conda',
  fetch: async settings => {
    const data = await API.getCondaEnvs(settings);
    return { ...data, envs: Array.isArray(data.envs) ? data.envs : [] };
  },
  emptyMessage: d =>
    d.envs.length
      ? null
      : `No persisted environments${d.envs_dir ? ` in ${d.envs_dir}` : ''}. Create one with: conda create -p ${d.envs_dir ?? '~/.conda/envs'}/NAME python ipykernel`,
  render: data => <CondaView data={data} />,
  refreshInterval: 120
};
