/**
 * The translation domain of this extension. JupyterLab looks a prebuilt extension's strings up
 * under its package name with `-` replaced by `_` (smstudio-ext → smstudio_ext), in a language
 * pack's `locale/<lang>/LC_MESSAGES/smstudio_ext.json` or a package registered under the
 * `jupyterlab.locale` entry point (jupyterlab_server translation_utils).
 */
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

export const TRANSLATION_DOMAIN = 'smstudio_ext';

/** This extension's bundle (English when JupyterLab has no translator). */
export function loadTranslation(
  translator: ITranslator | null | undefined
): TranslationBundle {
  return (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
}
