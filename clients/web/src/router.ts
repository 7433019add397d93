// Path-based routing with the History API. The server returns index.html for
// every app path, so a reload or a shared link opens the same screen.

export type Params = Record<string, string>;

export interface View {
  el: HTMLElement;
  // Heading text announced to screen readers and used as the page title.
  title: string;
  // Release media, sockets and timers when the user leaves the screen.
  dispose?: () => void;
}

export type ViewFactory = (params: Params) => View | Promise<View>;

interface Route {
  pattern: RegExp;
  names: string[];
  factory: ViewFactory;
}

// compileRoute turns "/threads/:id" into a pattern whose groups are the
// named parameters. Other characters match literally.
export function compileRoute(path: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        names.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { pattern: new RegExp(`^${source}/?$`), names };
}

// matchRoute returns the decoded parameters when path matches, or null. A
// parameter that is not valid percent-encoding does not match.
export function matchRoute(route: { pattern: RegExp; names: string[] }, path: string): Params | null {
  const m = route.pattern.exec(path);
  if (!m) return null;
  const params: Params = {};
  try {
    route.names.forEach((n, i) => {
      params[n] = decodeURIComponent(m[i + 1]);
    });
  } catch {
    return null;
  }
  return params;
}

export class Router {
  private routes: Route[] = [];
  private notFound: ViewFactory;
  private listeners: ((path: string) => void)[] = [];

  constructor(notFound: ViewFactory) {
    this.notFound = notFound;
    window.addEventListener('popstate', () => this.emit());
    // Same-origin links navigate inside the app instead of reloading it.
    document.addEventListener('click', (ev) => {
      const a = (ev.target as Element | null)?.closest?.('a');
      if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      if (a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
      if (a.getAttribute('href')?.startsWith('#')) return;
      ev.preventDefault();
      this.go(a.pathname + a.search);
    });
  }

  // Register a route such as "/consultations/:id/call".
  add(path: string, factory: ViewFactory): this {
    this.routes.push({ ...compileRoute(path), factory });
    return this;
  }

  resolve(path: string): { factory: ViewFactory; params: Params } {
    for (const r of this.routes) {
      const params = matchRoute(r, path);
      if (params) return { factory: r.factory, params };
    }
    return { factory: this.notFound, params: {} };
  }

  onChange(fn: (path: string) => void): void {
    this.listeners.push(fn);
  }

  go(path: string, opts: { replace?: boolean } = {}): void {
    if (path === location.pathname + location.search && !opts.replace) return;
    if (opts.replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    this.emit();
  }

  start(): void {
    this.emit();
  }

  private emit(): void {
    for (const fn of this.listeners) fn(location.pathname);
  }
}
