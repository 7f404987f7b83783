import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { API } from './api';
import { IdleWatcher } from './idle';
import { studioIcon } from './icons';
import { formatMinutes } from './model';
import { StudioPanel } from './panel';
import { describeError } from './section';
import { backupSection } from './sections/backup';
import { condaSection } from './sections/conda';
import { contextSection } from './sections/context';
import { costSection } from './sections/cost';
import { guardrailsSection } from './sections/guardrails';
import { idleSection } from './sections/idle';
import { tagsSection } from './sections/tags';
import { IdleStatusItem } from './statusbar';

const PLUGIN_ID = 'smstudio-ext:plugin';

export namespace CommandIDs {
  export const openPanel = 'smstudio:open-panel';
  export const refresh = 'smstudio:refresh';
  export const backupNow = 'smstudio:backup-now';
  export const keepRunning = 'smstudio:keep-running';
}

const DEFAULT_REFRESH_SECONDS = 30;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'SageMaker Studio panel: this app, idle shutdown, backup, conda and insights.',
  autoStart: true,
  requires: [ILabShell, ILayoutRestorer],
  optional: [ISettingRegistry, ICommandPalette, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    restorer: ILayoutRestorer,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null
  ): void => {
    const serverSettings = app.serviceManager.serverSettings;
    const watcher = new IdleWatcher({ serverSettings, interval: 30 });
    const panel = new StudioPanel({
      serverSettings,
      refreshInterval: DEFAULT_REFRESH_SECONDS
    });
    // Default order; the `sections` setting may reorder or hide them.
    panel.addSection(contextSection);
    panel.addSection(idleSection(watcher));
    panel.addSection(costSection);
    panel.addSection(tagsSection);
    panel.addSection(guardrailsSection);
    panel.addSection(backupSection());
    panel.addSection(condaSection);

    labShell.add(panel, 'left', { rank: 1000 });
    restorer.add(panel, panel.id);

    const openPanel = () => labShell.activateById(panel.id);
    void watcher.start();
    if (statusBar) {
      statusBar.registerStatusItem('smstudio-ext:idle', {
        item: new IdleStatusItem(watcher, openPanel),
        align: 'left',
        rank: 10,
        isActive: () => true
      });
    }

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open SageMaker Studio Panel',
      caption: 'Show the SageMaker Studio panel in the left sidebar',
      icon: args => (args.isPalette ? undefined : studioIcon),
      execute: openPanel
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh SageMaker Studio Panel',
      execute: () => {
        panel.refreshAll();
      }
    });
    app.commands.addCommand(CommandIDs.backupNow, {
      label: 'Back Up Home Now',
      caption:
        'Start a backup of the home folder to S3 (progress in the panel)',
      execute: async () => {
        try {
          await API.startBackup(serverSettings);
          Notification.info(
            'Backup started; progress in the SageMaker Studio panel.',
            {
              autoClose: 4000
            }
          );
        } catch (error) {
          Notification.error(`Back up now failed: ${describeError(error)}`);
        }
        panel.refreshSection('backup');
      }
    });
    app.commands.addCommand(CommandIDs.keepRunning, {
      label: args =>
        `Keep This App Running for ${formatMinutes(
          typeof args.minutes === 'number' ? args.minutes : 60
        )}`,
      caption: 'Postpone the automatic idle shutdown',
      execute: async args => {
        const minutes = typeof args.minutes === 'number' ? args.minutes : 60;
        try {
          await watcher.keepAlive(minutes);
          Notification.success(`Kept running for ${formatMinutes(minutes)}.`, {
            autoClose: 3000
          });
        } catch (error) {
          Notification.error(`Keep running failed: ${describeError(error)}`);
        }
        panel.refreshSection('idle');
      }
    });
    if (palette) {
      const category = 'SageMaker Studio';
      for (const command of [
        CommandIDs.openPanel,
        CommandIDs.refresh,
        CommandIDs.backupNow,
        CommandIDs.keepRunning
      ]) {
        palette.addItem({ command, category });
      }
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
