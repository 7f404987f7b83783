/**
 * The plugin `smstudio-ext:plugin`: the service models (provided as the ISageMakerStudio token),
 * the sidebar panel, the status-bar countdown, the shutdown warning, palette commands, settings,
 * and the server's idle decision events.
 *
 * Works in JupyterLab and in Notebook 7: everything the shell offers is optional (Notebook 7 has
 * no ILabShell and no status bar; its left area holds side panels in every view), and the panel
 * goes into whatever `app.shell` is.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator } from '@jupyterlab/translation';

import { asIdleDecision } from './events';
import { formatMinutes, setLanguage } from './format';
import { loadTranslation } from './i18n';
import { studioIcon } from './icons';
import { StudioModels } from './models';
import { StudioPanel } from './panel';
import { describeError } from './section';
import { backUpNow, backupSection } from './sections/backup';
import { condaSection } from './sections/conda';
import { contextSection } from './sections/context';
import { costSection } from './sections/cost';
import { guardrailsSection } from './sections/guardrails';
import { idleSection } from './sections/idle';
import { tagsSection } from './sections/tags';
import { IdleStatusItem } from './statusbar';
import { ISageMakerStudio } from './tokens';
import { ShutdownWarning } from './warning';

export * from './tokens';
export type { IIdleDecisionEvent } from './events';
export { IDLE_DECISION_SCHEMA } from './events';

const PLUGIN_ID = 'smstudio-ext:plugin';

export namespace CommandIDs {
  export const openPanel = 'smstudio:open-panel';
  export const refresh = 'smstudio:refresh';
  export const backupNow = 'smstudio:backup-now';
  export const keepRunning = 'smstudio:keep-running';
}

const DEFAULT_REFRESH_SECONDS = 30;

const plugin: JupyterFrontEndPlugin<ISageMakerStudio> = {
  id: PLUGIN_ID,
  description:
    'SageMaker Studio panel: this app, idle shutdown, backup, conda and insights.',
  autoStart: true,
  provides: ISageMakerStudio,
  optional: [
    ITranslator,
    ILabShell,
    ILayoutRestorer,
    ISettingRegistry,
    ICommandPalette,
    IStatusBar
  ],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null
  ): ISageMakerStudio => {
    const trans = loadTranslation(translator);
    setLanguage(
      translator?.languageCode ||
        (typeof document !== 'undefined' ? document.documentElement.lang : '')
    );
    const serverSettings = app.serviceManager.serverSettings;
    const models = new StudioModels({ serverSettings, idleInterval: 30 });

    // "warning" and "shutting down" as soon as the server decides (GET /api/events/subscribe)
    app.serviceManager.events.stream.connect((_, emission) => {
      const event = asIdleDecision(emission);
      if (event) {
        models.idle.handleEvent(event);
      }
    });

    const panel = new StudioPanel({
      trans,
      context: models.context,
      refreshInterval: DEFAULT_REFRESH_SECONDS,
      showLabel: !labShell
    });
    // Default order; the `sections` setting may reorder or hide them.
    panel.addSection(contextSection(models.context, trans));
    panel.addSection(idleSection(models.idle, trans));
    panel.addSection(costSection(models.insights, trans));
    panel.addSection(tagsSection(models.insights, trans));
    panel.addSection(guardrailsSection(models.insights, trans));
    panel.addSection(backupSection(models.backup, trans));
    panel.addSection(condaSection(models.conda, trans));

    app.shell.add(panel, 'left', { rank: 1000 });
    restorer?.add(panel, panel.id);

    const openPanel = () => app.shell.activateById(panel.id);
    void models.idle.start();
    new ShutdownWarning(models.idle, trans);
    if (statusBar) {
      statusBar.registerStatusItem('smstudio-ext:idle', {
        item: new IdleStatusItem(models.idle, trans, openPanel),
        align: 'left',
        rank: 10,
        isActive: () => true
      });
    }

    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Open SageMaker Studio Panel'),
      caption: trans.__('Show the SageMaker Studio panel in the left sidebar'),
      icon: args => (args.isPalette ? undefined : studioIcon),
      execute: openPanel
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Refresh SageMaker Studio Panel'),
      execute: () => {
        panel.refreshAll();
      }
    });
    app.commands.addCommand(CommandIDs.backupNow, {
      label: trans.__('Back Up Home Now'),
      caption: trans.__(
        'Start a backup of the home folder to S3, or follow the one running (progress in the panel)'
      ),
      execute: async () => {
        panel.refreshSection('backup');
        await backUpNow(models.backup, trans);
      }
    });
    app.commands.addCommand(CommandIDs.keepRunning, {
      label: args =>
        trans.__(
          'Keep This App Running for %1',
          formatMinutes(
            typeof args.minutes === 'number' ? args.minutes : 60,
            trans
          )
        ),
      caption: trans.__('Postpone the automatic idle shutdown'),
      execute: async args => {
        const minutes = typeof args.minutes === 'number' ? args.minutes : 60;
        try {
          await models.idle.keepAlive(minutes);
          Notification.success(
            trans.__('Kept running for %1.', formatMinutes(minutes, trans)),
            { autoClose: 3000 }
          );
        } catch (error) {
          Notification.error(
            trans.__('Keep running failed: %1', describeError(error, trans))
          );
        }
        panel.refreshSection('idle');
      }
    });
    if (palette) {
      const category = trans.__('SageMaker Studio');
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
    return models;
  }
};

export default plugin;
