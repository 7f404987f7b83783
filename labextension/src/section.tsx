/**
 * The frame every panel section lives in.
 *
 * A section is declared once as an `ISectionDefinition` (what to fetch, how to render it). The
 * panel wraps each definition in a `SectionModel`, which polls on its own schedule and keeps its
 * own state, and renders it with `SectionView`, which draws the loading / empty / error /
 * unavailable states and catches render errors. One failing section therefore never blanks the
 * others.
 */
import { ServerConnection } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  caretDownIcon,
  caretRightIcon,
  refreshIcon,
  UseSignal
} from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';
import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { errorCode } from './handler';

/** Throw this from a section's `fetch` when the section does not apply here (with why). */
export class SectionUnavailable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'SectionUnavailable';
  }
}

/** What a section shows right now. */
export type SectionState<T> =
  | { status: 'loading' }
  | { status: 'ready'; data: T; updated: Date }
  | { status: 'empty'; message: string; updated: Date }
  | { status: 'unavailable'; reason: string }
  | {
      status: 'error';
      message: string;
      /** The last good data, still shown (marked stale) under the error. */
      stale?: T;
    };

/** Everything the panel needs to know about one section. */
export interface ISectionDefinition<T> {
  /** Stable id, used in the `sections` setting and in DOM ids. */
  id: string;
  /** Heading shown to the user (translated). */
  title: string;
  /** Load the data (through a service model); throw `SectionUnavailable` when the section does
   * not apply. */
  fetch(): Promise<T>;
  /** A message when the data has nothing to show, else null. */
  emptyMessage?(data: T): string | null;
  /** Why the section does not apply for this data (e.g. not in Studio), else null. */
  unavailableReason?(data: T): string | null;
  /** Draw the data. `refresh` re-fetches (e.g. after a POST). */
  render(data: T, refresh: () => void): React.ReactElement;
  /** Seconds between refreshes; defaults to the panel's `refreshInterval` setting. */
  refreshInterval?: number;
}

/** Upper bound of the backoff after repeated failures. */
const MAX_BACKOFF_MS = 5 * 60 * 1000;

/** Polls one section's data and holds its state. */
export class SectionModel<T> implements IDisposable {
  constructor(options: SectionModel.IOptions<T>) {
    this.definition = options.definition;
    this._trans = options.trans;
    this._isVisible = options.isVisible;
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: this._frequency(options.refreshInterval),
      name: `smstudio-ext:${this.definition.id}`,
      standby: () => (this._isVisible() ? 'when-hidden' : true)
    });
  }

  readonly definition: ISectionDefinition<T>;

  get state(): SectionState<T> {
    return this._state;
  }

  get stateChanged(): ISignal<this, SectionState<T>> {
    return this._stateChanged;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Start polling (first tick right away). */
  start(): Promise<void> {
    return this._poll.start();
  }

  /** Fetch now, whatever the schedule. */
  refresh = (): Promise<void> => {
    return this._poll.refresh();
  };

  /** Change the refresh interval (seconds). A section's own interval wins. */
  setRefreshInterval(seconds: number): void {
    this._poll.frequency = this._frequency(seconds);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _frequency(panelSeconds: number): IPoll.Frequency {
    const seconds = this.definition.refreshInterval ?? panelSeconds;
    const interval = Math.max(1, seconds) * 1000;
    return {
      interval,
      backoff: true,
      max: Math.max(interval, MAX_BACKOFF_MS)
    };
  }

  private async _tick(): Promise<void> {
    const def = this.definition;
    try {
      const data = await def.fetch();
      const reason = def.unavailableReason?.(data) ?? null;
      const empty = def.emptyMessage?.(data) ?? null;
      if (reason !== null) {
        this._setState({ status: 'unavailable', reason });
      } else if (empty !== null) {
        this._setState({
          status: 'empty',
          message: empty,
          updated: new Date()
        });
      } else {
        this._setState({ status: 'ready', data, updated: new Date() });
      }
    } catch (error) {
      const reason = unavailableReason(error, this._trans);
      if (reason !== null) {
        // Not a failure: the feature is not there. Keep the normal schedule.
        this._setState({ status: 'unavailable', reason });
        return;
      }
      const previous = this._state;
      const stale =
        previous.status === 'ready'
          ? previous.data
          : previous.status === 'error'
            ? previous.stale
            : undefined;
      this._setState({
        status: 'error',
        message: describeError(error, this._trans),
        stale
      });
      // Rethrow so the poll backs off.
      throw error;
    }
  }

  private _setState(state: SectionState<T>): void {
    this._state = state;
    this._stateChanged.emit(state);
  }

  private _trans: TranslationBundle;
  private _isVisible: () => boolean;
  private _poll: Poll;
  private _state: SectionState<T> = { status: 'loading' };
  private _stateChanged = new Signal<this, SectionState<T>>(this);
}

export namespace SectionModel {
  export interface IOptions<T> {
    definition: ISectionDefinition<T>;
    trans: TranslationBundle;
    /** Seconds between refreshes. */
    refreshInterval: number;
    /** Whether the panel is on screen; polling stands by while it is not. */
    isVisible: () => boolean;
  }
}

/** Why an error means "not available" rather than "failed", or null. */
export function unavailableReason(
  error: unknown,
  trans: TranslationBundle
): string | null {
  if (error instanceof SectionUnavailable) {
    return error.message;
  }
  if (error instanceof ServerConnection.ResponseError) {
    const status = error.response.status;
    if (status === 404) {
      return trans.__(
        'this server has no such API (HTTP 404): the smstudio server extension, or this part of it, is not installed or not enabled'
      );
    }
    if (status === 501) {
      return error.message;
    }
    // 409 not_configured: the engine is installed but not set up here (e.g. no bucket).
    if (errorCode(error) === 'not_configured') {
      return error.message.replace(/^not_configured:\s*/, '');
    }
  }
  return null;
}

/** One line for the user. */
export function describeError(
  error: unknown,
  trans: TranslationBundle
): string {
  if (error instanceof ServerConnection.NetworkError) {
    return trans.__('Cannot reach the Jupyter server. Retrying…');
  }
  if (error instanceof ServerConnection.ResponseError) {
    const status = error.response.status;
    const prefix =
      status === 403
        ? trans.__('Permission denied')
        : status === 503
          ? trans.__('Service unavailable')
          : trans.__('Error %1', status);
    return error.message ? `${prefix}: ${error.message}` : prefix;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/** Draws one section and its states. */
export function SectionView<T>(props: {
  model: SectionModel<T>;
  trans: TranslationBundle;
}): React.ReactElement {
  const { model, trans } = props;
  const def = model.definition;
  const [expanded, setExpanded] = React.useState(true);
  const headingId = `jp-smstudio-section-${def.id}-heading`;
  const bodyId = `jp-smstudio-section-${def.id}-body`;

  return (
    <UseSignal signal={model.stateChanged} initialArgs={model.state}>
      {(_, state) => {
        const current = state ?? model.state;
        const busy = current.status === 'loading';
        return (
          <section
            className={`jp-smstudio-Section jp-smstudio-mod-${current.status}`}
            aria-labelledby={headingId}
            aria-busy={busy}
            data-section-id={def.id}
          >
            <div className="jp-smstudio-Section-header">
              <button
                className="jp-smstudio-Section-toggle"
                aria-expanded={expanded}
                aria-controls={bodyId}
                onClick={() => setExpanded(!expanded)}
              >
                {expanded ? (
                  <caretDownIcon.react tag="span" />
                ) : (
                  <caretRightIcon.react tag="span" />
                )}
                <h3 id={headingId} className="jp-smstudio-Section-title">
                  {def.title}
                </h3>
              </button>
              <button
                className="jp-smstudio-Section-refresh"
                aria-label={trans.__('Refresh %1', def.title)}
                title={trans.__('Refresh %1', def.title)}
                onClick={() => void model.refresh()}
              >
                <refreshIcon.react tag="span" />
              </button>
            </div>
            {expanded && (
              <div id={bodyId} className="jp-smstudio-Section-body">
                <SectionErrorBoundary title={def.title} trans={trans}>
                  <SectionBody state={current} model={model} trans={trans} />
                </SectionErrorBoundary>
              </div>
            )}
          </section>
        );
      }}
    </UseSignal>
  );
}

function SectionBody<T>(props: {
  state: SectionState<T>;
  model: SectionModel<T>;
  trans: TranslationBundle;
}): React.ReactElement {
  const { state, model, trans } = props;
  const def = model.definition;
  switch (state.status) {
    case 'loading':
      return (
        <div className="jp-smstudio-Section-message" role="status">
          {trans.__('Loading…')}
        </div>
      );
    case 'empty':
      return (
        <div className="jp-smstudio-Section-message jp-smstudio-Section-emptyMessage">
          {state.message}
        </div>
      );
    case 'unavailable':
      return (
        <div className="jp-smstudio-Section-message jp-smstudio-Section-unavailableMessage">
          {trans.__('Not available: %1', state.reason)}
        </div>
      );
    case 'error':
    case 'ready': {
      // The data sits at the same place in the tree whether fresh or stale, so a transient
      // error (or its recovery) re-renders the section instead of remounting it: what the
      // user is typing and a control's own message survive.
      const error = state.status === 'error' ? state : null;
      const data = state.status === 'ready' ? state.data : state.stale;
      return (
        <>
          {error && (
            <div className="jp-smstudio-Section-error" role="alert">
              <span>{error.message}</span>
              <button
                className="jp-smstudio-Button"
                onClick={() => void model.refresh()}
              >
                {trans.__('Retry')}
              </button>
            </div>
          )}
          {data !== undefined && (
            <div
              className={
                error ? 'jp-smstudio-Section-stale' : 'jp-smstudio-Section-data'
              }
              aria-label={error ? trans.__('Last known values') : undefined}
            >
              {def.render(data, model.refresh)}
            </div>
          )}
        </>
      );
    }
  }
}

/** Keeps a render error inside its own section. */
class SectionErrorBoundary extends React.Component<
  { title: string; trans: TranslationBundle; children?: React.ReactNode },
  { error: Error | null }
> {
  state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error): { error: Error } {
    return { error };
  }

  componentDidCatch(error: Error): void {
    console.error(`smstudio-ext: section "${this.props.title}" failed`, error);
  }

  render(): React.ReactNode {
    const trans = this.props.trans;
    if (this.state.error) {
      return (
        <div className="jp-smstudio-Section-error" role="alert">
          <span>
            {trans.__(
              'This section could not be displayed: %1',
              this.state.error.message
            )}
          </span>
          <button
            className="jp-smstudio-Button"
            onClick={() => this.setState({ error: null })}
          >
            {trans.__('Retry')}
          </button>
        </div>
      );
    }
    return this.props.children;
  }
}

/** A labelled list of values, the usual body of a section. */
export function KeyValueList(props: {
  label: string;
  rows: Array<{ key: string; value: React.ReactNode; title?: string }>;
}): React.ReactElement {
  return (
    <dl className="jp-smstudio-KeyValue" aria-label={props.label}>
      {props.rows.map(row => (
        <React.Fragment key={row.key}>
          <dt>{row.key}</dt>
          <dd title={row.title}>{row.value}</dd>
        </React.Fragment>
      ))}
    </dl>
  );
}
