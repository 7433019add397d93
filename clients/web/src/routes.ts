// Every screen of the app and who may open it.

import type { App } from './app';
import { h } from './dom';
import { privacyView } from './views/privacy';
import { enrollView, inviteView, signInView } from './views/signin';

export function registerRoutes(app: App): void {
  app.route('/', 'public', () => {
    queueMicrotask(() => app.go(app.homePath(), { replace: true }));
    return { el: h('p', null, 'Loading…'), title: 'Bedside' };
  });
  app.route('/privacy', 'public', privacyView);
  app.route('/signin', 'public', () => signInView(app));
  app.route('/invite', 'public', () => inviteView(app));
  // Enrollment is reachable before the second factor exists, so it checks
  // the session itself instead of using the staff guard.
  app.route('/enroll', 'public', () => enrollView(app));
}
