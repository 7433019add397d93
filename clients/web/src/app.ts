// The application context every screen receives, and the page shell around
// the screens: top bar, role-based navigation, the main region and toasts.

import type { Api } from './api';
import { h, replace } from './dom';
import type { Params, Router, View, ViewFactory } from './router';
import { roleLabel, type Role, type Session } from './session';
import { Signaling } from './signaling';
import { Messenger } from './messenger';
import { alertLabel } from './views/admin';
import { browserName, systemName } from './useragent';
import { Toasts } from './toasts';

export type Access = 'public' | 'signed-in' | Role[];

export class App {
  private view: View | null = null;
  private renderSeq = 0;
  private disposers: (() => void)[] = [];
  main!: HTMLElement;
  nav!: HTMLElement;
  who!: HTMLElement;
  readonly toasts = new Toasts({ href: '/admin/alerts', noun: 'alert', linkText: 'Open alerts' });
  // notice carries one message to the next screen, such as "session expired".
  notice = '';
  // prefillEmail fills the sign-in form after an invitation was accepted.
  prefillEmail = '';

  private sig: Signaling | null = null;
  private messengerPromise: Promise<Messenger> | null = null;

  // messenger returns this browser's e2ee device for the signed-in user,
  // creating and registering it on first use.
  messenger(): Promise<Messenger> {
    const me = this.session.me;
    if (!me) return Promise.reject(new Error('Sign in first.'));
    if (!this.messengerPromise) {
      const p = Messenger.open(this.api, me.id);
      this.messengerPromise = p;
      p.catch(() => {
        if (this.messengerPromise === p) this.messengerPromise = null;
      });
      this.onSignOut(() => {
        this.messengerPromise = null;
        this.api.setDevice(null);
      });
    }
    return this.messengerPromise;
  }

  constructor(
    readonly api: Api,
    readonly session: Session,
    readonly router: Router,
  ) {}

  // resetMessenger drops the cached device, after this browser's device
  // was removed.
  resetMessenger(): void {
    this.messengerPromise = null;
    this.api.setDevice(null);
  }

  // signaling returns this tab's one WebSocket connection, created on first
  // use and closed on sign-out. Call connect() before sending.
  signaling(): Signaling {
    if (this.sig) return this.sig;
    const sig = new Signaling(
      () => this.api.currentToken(),
      deviceLabel(),
      (reason) => (reason === 'revoked' ? this.sessionRevoked() : this.sessionExpired()),
    );
    sig.on('session-revoked', () => this.sessionRevoked());
    sig.on('alert', (m) => {
      const a = (m.alert ?? {}) as { type?: string; severity?: string };
      this.toasts.show(
        'Security alert',
        `${alertLabel(String(a.type ?? 'alert'))} (${a.severity ?? 'unknown'} severity).`,
        String(a.severity ?? 'info'),
      );
    });
    this.sig = sig;
    this.onSignOut(() => {
      sig.close();
      if (this.sig === sig) this.sig = null;
    });
    return sig;
  }

  // startBackground opens the WebSocket after sign-in for the pushes a
  // role needs everywhere in the app: live alerts for administrators.
  startBackground(): void {
    if (this.session.me?.role === 'admin' && this.session.secondFactor) {
      this.signaling()
        .connect()
        .catch(() => {
          // The alerts page shows the connection state; retries are automatic.
        });
    }
  }

  sessionRevoked(): void {
    this.releaseSessionResources();
    this.session.clear();
    this.notice = 'Your session was ended, for example from another device or by an administrator. Sign in again.';
    this.go('/signin', { replace: true });
  }

  // Register a screen with the roles that may open it.
  route(path: string, access: Access, factory: ViewFactory): void {
    this.router.add(path, (params: Params) => this.guard(access, factory, params));
  }

  go(path: string, opts?: { replace?: boolean }): void {
    this.router.go(path, opts);
  }

  // Run fn when the signed-in user changes or signs out (sockets, timers).
  onSignOut(fn: () => void): void {
    this.disposers.push(fn);
  }

  sessionExpired(): void {
    this.releaseSessionResources();
    this.session.clear();
    this.notice = 'Your session has expired. Sign in again to continue.';
    this.go('/signin', { replace: true });
  }

  async signOut(): Promise<void> {
    this.releaseSessionResources();
    await this.session.signOut();
    this.notice = 'You are signed out.';
    this.go('/signin', { replace: true });
  }

  homePath(): string {
    switch (this.session.me?.role) {
      case 'admin':
        return '/admin/users';
      case 'clinician':
      case 'nurse':
        return '/day';
      case undefined:
        return '/signin';
      default:
        return '/consultations';
    }
  }

  async render(path: string): Promise<void> {
    const seq = ++this.renderSeq;
    const { factory, params } = this.router.resolve(path);
    let next: View;
    try {
      next = await factory(params);
    } catch (err) {
      next = errorView(err);
    }
    if (seq !== this.renderSeq) {
      next.dispose?.();
      return; // a later navigation won
    }
    this.view?.dispose?.();
    this.view = next;
    replace(this.main, next.el);
    document.title = `${next.title} · Bedside`;
    this.updateNav(path);
    // Move focus to the new content so keyboard and screen reader users
    // start at the top of the new screen.
    const heading = this.main.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: false });
    } else {
      this.main.focus();
    }
  }

  private async guard(access: Access, factory: ViewFactory, params: Params): Promise<View> {
    if (access === 'public') return factory(params);
    const me = this.session.me;
    if (!me) {
      queueMicrotask(() => this.go('/signin', { replace: true }));
      return { el: h('p', null, 'Redirecting to sign-in…'), title: 'Sign in' };
    }
    if (me.role !== 'patient' && !this.session.secondFactor) {
      queueMicrotask(() => this.go('/enroll', { replace: true }));
      return { el: h('p', null, 'Two-step sign-in must be set up first…'), title: 'Set up two-step sign-in' };
    }
    if (Array.isArray(access) && !access.includes(me.role)) {
      return {
        el: h(
          'section',
          { class: 'panel' },
          h('h1', null, 'Not available'),
          h('p', null, `This page is not available to the ${roleLabel(me.role).toLowerCase()} role.`),
          h('a', { href: this.homePath() }, 'Go to your start page'),
        ),
        title: 'Not available',
      };
    }
    return factory(params);
  }

  private releaseSessionResources(): void {
    this.toasts.clear();
    const fns = this.disposers;
    this.disposers = [];
    for (const fn of fns) {
      try {
        fn();
      } catch {
        // Closing a socket that is already closed is fine.
      }
    }
  }

  updateNav(path: string): void {
    const me = this.session.me;
    const links: [string, string][] = [];
    if (me && (me.role === 'patient' || this.session.secondFactor)) {
      if (me.role === 'clinician' || me.role === 'nurse') {
        links.push(['/day', 'My day']);
        links.push(['/invitations', 'Invite a patient']);
      }
      if (me.role !== 'admin') {
        links.push(['/consultations', 'Consultations']);
        links.push(['/threads', 'Messages']);
      }
      if (me.role === 'admin') {
        links.push(['/admin/users', 'Users']);
        links.push(['/admin/invitations', 'Invitations']);
        links.push(['/admin/audit', 'Audit trail']);
        links.push(['/admin/alerts', 'Alerts']);
      }
      links.push(['/account', 'Account']);
    }
    links.push(['/privacy', 'Your privacy']);
    replace(
      this.nav,
      links.map(([href, label]) =>
        h('a', { href, 'aria-current': path === href || path.startsWith(href + '/') ? 'page' : false }, label),
      ),
    );
    if (me) {
      const out = h('button', { type: 'button' }, 'Sign out');
      out.addEventListener('click', () => void this.signOut());
      replace(this.who, h('span', null, `${me.display_name || me.email} · ${roleLabel(me.role)}`), ' ', out);
    } else {
      replace(this.who, h('a', { href: '/signin' }, 'Sign in'));
    }
  }
}

// deviceLabel names this browser in the signaling roster, for people only.
// The hub accepts letters, digits, '.', '_' and '-' in it.
function deviceLabel(): string {
  const ua = navigator.userAgent;
  const os = systemName(ua);
  return (os ? `${browserName(ua)}-${os}` : browserName(ua)).toLowerCase();
}

function errorView(err: unknown): View {
  const msg = err instanceof Error ? err.message : String(err);
  return {
    el: h(
      'section',
      { class: 'panel' },
      h('h1', null, 'Something went wrong'),
      h('p', { class: 'status status-error', role: 'alert' }, msg),
      h('p', null, 'Reload the page to try again.'),
    ),
    title: 'Error',
  };
}

export function mountShell(app: App, root: HTMLElement): void {
  app.nav = h('nav', { class: 'nav', 'aria-label': 'Main' });
  app.who = h('div', { class: 'who row' });
  app.main = h('main', { id: 'main', tabindex: '-1' });
  const header = h('header', { class: 'topbar' }, h('a', { class: 'brand', href: '/' }, 'Bedside'), app.nav, app.who);
  const footer = h(
    'footer',
    { class: 'footer' },
    h('a', { href: '/privacy' }, 'How Bedside protects your data'),
  );
  replace(root, header, app.main, footer, app.toasts.el);
  // The skip link targets #main; focus it without changing the route.
  document.querySelector('.skip-link')?.addEventListener('click', (ev) => {
    ev.preventDefault();
    app.main.focus();
  });
  app.router.onChange((path) => void app.render(path));
  app.session.onChange((me) => {
    app.updateNav(location.pathname);
    if (me) app.startBackground();
  });
}
