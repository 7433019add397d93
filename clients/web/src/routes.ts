// Every screen of the app and who may open it.

import type { App } from './app';
import { h } from './dom';
import { privacyView } from './views/privacy';
import { enrollView, inviteView, signInView } from './views/signin';
import { accountView } from './views/account';
import { alertsView, auditView, invitationsView, usersView } from './views/admin';
import { callView } from './views/call';
import { consultationsView, dayView } from './views/consultations';
import { threadView, threadsView } from './views/chat';

export function registerRoutes(app: App): void {
  app.route('/', 'public', () => {
    queueMicrotask(() => app.go(app.homePath(), { replace: true }));
    return { el: h('p', null, 'Loading…'), title: 'Bedside' };
  });
  app.route('/privacy', 'public', privacyView);
  app.route('/signin', 'public', () => {
    if (app.session.me) {
      queueMicrotask(() => app.go(app.homePath(), { replace: true }));
      return { el: h('p', null, 'You are signed in. Opening your start page…'), title: 'Bedside' };
    }
    return signInView(app);
  });
  app.route('/invite', 'public', () => inviteView(app));
  // Enrollment is reachable before the second factor exists, so it checks
  // the session itself instead of using the staff guard.
  app.route('/enroll', 'public', () => enrollView(app));
  app.route('/account', 'signed-in', () => accountView(app));

  app.route('/day', ['clinician', 'nurse'], () => dayView(app));
  app.route('/consultations', ['patient', 'clinician', 'nurse'], () => consultationsView(app));
  app.route('/consultations/:id', ['patient', 'clinician', 'nurse'], (p) => callView(app, p));

  app.route('/threads', ['patient', 'clinician', 'nurse'], () => threadsView(app));
  app.route('/threads/:id', ['patient', 'clinician', 'nurse'], (p) => threadView(app, p));

  app.route('/admin/users', ['admin'], () => usersView(app));
  app.route('/admin/invitations', ['admin'], () => invitationsView(app));
  app.route('/invitations', ['clinician', 'nurse'], () => invitationsView(app));
  app.route('/admin/audit', ['admin'], () => auditView(app));
  app.route('/admin/alerts', ['admin'], () => alertsView(app));
}
