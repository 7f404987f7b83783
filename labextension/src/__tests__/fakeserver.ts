/**
 * The smstudio REST API as seen by the models in unit tests: a `fetch` for ServerConnection that
 * answers from per-route handlers and records every call. (The real server is exercised by the
 * browser tests in tests/ui; here only the models' own logic is under test.)
 */
import { ServerConnection } from '@jupyterlab/services';

export type Answer = { status: number; body?: unknown };
export type Handler = (body: unknown, call: number) => Answer;

export class FakeServer {
  readonly calls: string[] = [];

  /** Answer `METHOD path` (below smstudio/, or the server's root; query included). */
  on(route: string, handler: Handler): this {
    this._routes.set(route, handler);
    return this;
  }

  count(route: string): number {
    return this.calls.filter(c => c === route).length;
  }

  get settings(): ServerConnection.ISettings {
    return ServerConnection.makeSettings({
      baseUrl: 'http://127.0.0.1:8888/',
      fetch: (async (input: RequestInfo, init?: RequestInit) => {
        const request =
          input instanceof Request ? input : new Request(input, init);
        const url = new URL(request.url);
        // ServerConnection appends a cache-busting timestamp to the query
        const search = url.search.replace(/[?&]\d{10,}$/, '');
        const path = url.pathname.replace(/^\/(smstudio\/)?/, '') + search;
        const route = `${request.method} ${path}`;
        this.calls.push(route);
        const handler = this._routes.get(route);
        const text = await request.text();
        const answer = handler
          ? handler(text ? JSON.parse(text) : undefined, this.count(route))
          : { status: 404, body: { error: 'not_found', detail: route } };
        return new Response(
          answer.body === undefined ? '' : JSON.stringify(answer.body),
          {
            status: answer.status,
            headers: { 'Content-Type': 'application/json' }
          }
        );
      }) as typeof fetch
    });
  }

  private _routes = new Map<string, Handler>();
}

/** Resolves once `predicate` holds (checked every few milliseconds), or fails after `ms`. */
export async function until(
  predicate: () => boolean,
  ms = 5000
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error('condition not reached in time');
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}
