// Entry point: builds the shell (top bar, navigation, main region, toasts),
// restores the session and routes to the screens.

import './styles.css';
import { Api } from './api';
import { Session } from './session';
import { Router } from './router';
import { App, mountShell } from './app';
import { registerRoutes } from './routes';
import { h } from './dom';

async function start(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) throw new Error('index.html has no #app element');
  const api = new Api();
  const session = new Session(api);
  const router = new Router(() => ({
    el: h(
      'section',
      { class: 'panel' },
      h('h1', null, 'Page not found'),
      h('p', null, 'This address does not lead to a page of Bedside.'),
      h('a', { href: '/' }, 'Go to your start page'),
    ),
    title: 'Page not found',
  }));
  const app = new App(api, session, router);
  registerRoutes(app);
  mountShell(app, root);
  await session.restore();
  api.onSessionExpired(() => app.sessionExpired());
  router.start();
}

start().catch((err: unknown) => {
  const p = document.createElement('p');
  p.className = 'status status-error';
  p.setAttribute('role', 'alert');
  p.textContent = `Bedside could not start: ${err instanceof Error ? err.message : String(err)}. Reload the page.`;
  document.body.appendChild(p);
});
