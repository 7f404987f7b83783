import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A cloud with a small bar chart. `jp-icon3` lets JupyterLab recolour it for light and dark
 * themes.
 */
const studioSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path fill-rule="evenodd" d="M6.5 19.5a4.75 4.75 0 0 1-.93-9.41A6.25 6.25 0 0 1 17.7 8.55a5.5 5.5 0 0 1-.2 10.95h-11zm0-1.9h11a3.6 3.6 0 0 0 .13-7.2l-1.5-.05-.3-1.47a4.35 4.35 0 0 0-8.53.66l-.16 1.33-1.32.2A2.85 2.85 0 0 0 6.5 17.6z"/>
    <rect x="8.6" y="13" width="1.7" height="3.2" rx=".4"/>
    <rect x="11.15" y="10.8" width="1.7" height="5.4" rx=".4"/>
    <rect x="13.7" y="12" width="1.7" height="4.2" rx=".4"/>
  </g>
</svg>`;

export const studioIcon = new LabIcon({
  name: 'smstudio-ext:studio',
  svgstr: studioSvg
});
