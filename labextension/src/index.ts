import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { studioIcon } from './icons';
import { StudioPanel } from './panel';
import { contextSection } from './sections/context';

const PLUGIN_ID = 'smstudio-ext:plugin';

export namespace CommandIDs {
  export const openPanel = 'smstudio:open-panel';
  export const refresh = 'smstudio:refresh';
}

const DEFAULT_REFRESH_SECONDS = 30;

/** The panel's sections, in default order. Add new sections here. */
const SECTIONS = [contextSection];

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'SageMaker Studio panel: this app, idle shutdown, backup, conda and insights.',
  autoStart: true,
  requires: [ILabShell, ILayoutRestorer],
  optional: [ISettingRegistry, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    restorer: ILayoutRestorer,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null
  ): void => {
    const panel = new StudioPanel({
      serverSettings: app.serviceManager.serverSettings,
      refreshInterval: DEFAULT_REFRESH_SECONDS
    });
    for (const section of SECTIONS) {
      panel.addSection(section);
    }

    labShell.add(panel, 'left', { rank: 1000 });
    restorer.add(panel, panel.id);

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open SageMaker Studio Panel',
      caption: 'Show the SageMaker Studio panel in the left sidebar',
      icon: args => (args.isPalette ? undefined : studioIcon),
      execute: () => {
        labShell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh SageMaker Studio Panel',
      execute: () => {
        panel.refreshAll();
      }
    });
    if (palette) {
      const category = 'SageMaker Studio';
      palette.addItem({ command: CommandIDs.openPanel, category });
      palette.addItem({ command: CommandIDs.refresh, category });
    }

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings): void => {
        const seconds = settings.get('refreshInterval').composite as number;
        const sections = settings.get('sections').composite as string[] | null;
        panel.setRefreshInterval(
          typeof seconds === 'number' && seconds > 0
            ? seconds
            : DEFAULT_REFRESH_SECONDS
        );
        panel.setSectionOrder(Array.isArray(sections) ? sections : null);
      };
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error(
            `smstudio-ext: cannot load settings for ${PLUGIN_ID}`,
            reason
          );
        });
    }
  }
};

export default plugin;
