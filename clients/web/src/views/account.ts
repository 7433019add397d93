// The signed-in user's own account: two-step sign-in, password and the
// sessions that are signed in, each of which can be ended.

import { ApiError, describeError } from '../api';
import type { App } from '../app';
import { field, formatTime, h, replace, statusLine } from '../dom';
import type { View } from '../router';
import { roleLabel } from '../session';
import { ownDevices, removeOwnDevice } from '../messenger';
import { describeUserAgent } from '../useragent';
import { minPasswordLength, passwordHint } from './signin';

interface SessionInfo {
  id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  second_factor: boolean;
  address?: string;
  user_agent?: string;
  current: boolean;
}

function sessionLabel(s: SessionInfo): string {
  const name = s.user_agent ? describeUserAgent(s.user_agent) : 'Unknown browser';
  return s.current ? `This browser (${name})` : name;
}

export async function accountView(app: App): Promise<View> {
  const me = await app.session.refresh();
  const sessionsList = h('ul', { class: 'list', 'aria-label': 'Signed-in sessions' });
  const sessStatus = statusLine('assertive');

  async function loadSessions(): Promise<void> {
    const res = await app.api.get<{ sessions: SessionInfo[] }>('/api/v1/auth/sessions');
    replace(
      sessionsList,
      res.sessions.map((s) => {
        const end = h('button', { type: 'button', hidden: s.current }, 'End this session');
        end.addEventListener('click', async () => {
          try {
            await app.api.delete(`/api/v1/auth/sessions/${encodeURIComponent(s.id)}`);
            await loadSessions();
            sessStatus.set('The session was ended.', 'ok');
          } catch (err) {
            sessStatus.set(describeError(err), 'error');
          }
        });
        return h(
          'li',
          { class: 'row spread' },
          h(
            'div',
            null,
            h('strong', null, sessionLabel(s)),
            h(
              'div',
              { class: 'small muted' },
              `Signed in ${formatTime(s.created_at)} · last active ${formatTime(s.last_seen_at)}` +
                (s.address ? ` · from ${s.address}` : '') +
                (s.second_factor ? ' · with two-step sign-in' : ''),
            ),
          ),
          end,
        );
      }),
    );
  }

  // Password change.
  const pwStatus = statusLine('assertive');
  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: String(minPasswordLength(me.role)) });
  const pwForm = h(
    'form',
    null,
    field('Current password', current),
    field('New password', next, passwordHint(me.role)),
    pwStatus,
    h('button', { type: 'submit', class: 'primary' }, 'Change password'),
  );
  pwForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    pwStatus.set('');
    try {
      await app.api.post('/api/v1/me/password', { current_password: current.value, new_password: next.value });
      current.value = '';
      next.value = '';
      pwStatus.set('Your password was changed.', 'ok');
    } catch (err) {
      pwStatus.set(
        err instanceof ApiError && err.code === 'wrong_password' ? 'The current password is not correct.' : describeError(err),
        'error',
      );
    }
  });

  await loadSessions().catch((err: unknown) => sessStatus.set(describeError(err), 'error'));

  // Messaging devices: staff and patients who message have at least one.
  const devList = h('ul', { class: 'list', 'aria-label': 'Messaging devices' });
  const devStatus = statusLine('assertive');
  async function loadDevices(): Promise<void> {
    const devs = await ownDevices(app.api, me.id);
    if (devs.length === 0) {
      replace(devList, h('li', { class: 'muted' }, 'None yet. Opening a conversation sets up this browser.'));
      return;
    }
    replace(
      devList,
      devs.map((d) => {
        const rm = h('button', { type: 'button', 'aria-label': `Remove device ${d.deviceId}` }, 'Remove');
        rm.addEventListener('click', async () => {
          const warning = d.thisBrowser
            ? 'Remove this browser? It can no longer read your messages.'
            : 'Remove this device? It can no longer read new messages. Do this for a lost or replaced phone or computer.';
          if (!window.confirm(warning)) return;
          try {
            await removeOwnDevice(app.api, me.id, d.deviceId);
            if (d.thisBrowser) app.resetMessenger();
            devStatus.set('The device was removed.', 'ok');
            await loadDevices();
          } catch (err) {
            devStatus.set(describeError(err), 'error');
          }
        });
        return h(
          'li',
          { class: 'row spread', 'data-device': d.deviceId },
          h('div', null, h('strong', null, d.thisBrowser ? 'This browser' : 'Another device'), h('div', { class: 'small muted mono' }, `${d.deviceId} · added ${formatTime(d.createdAt)}`)),
          rm,
        );
      }),
    );
  }
  if (me.role !== 'admin' && me.role !== 'billing') {
    await loadDevices().catch((err: unknown) => devStatus.set(describeError(err), 'error'));
  }

  const el = h(
    'section',
    null,
    h('h1', null, 'Your account'),
    h(
      'div',
      { class: 'panel' },
      h('p', null, h('strong', null, me.display_name || me.email), ` · ${roleLabel(me.role)}`),
      h('p', { class: 'muted' }, me.email),
    ),
    h(
      'div',
      { class: 'panel', 'aria-labelledby': 'tfa-h' },
      h('h2', { id: 'tfa-h' }, 'Two-step sign-in'),
      me.second_factor
        ? h(
            'p',
            { 'data-testid': 'second-factor-on' },
            `On. You have ${me.recovery_codes_left} unused recovery code${me.recovery_codes_left === 1 ? '' : 's'}.`,
          )
        : h(
            'div',
            null,
            h('p', null, 'Off. A code from your phone protects your account even if someone learns your password.'),
            h('a', { href: '/enroll', class: 'button primary' }, 'Set up two-step sign-in'),
          ),
    ),
    h('div', { class: 'panel', 'aria-labelledby': 'sess-h' }, h('h2', { id: 'sess-h' }, 'Where you are signed in'), sessStatus, sessionsList),
    me.role !== 'admin' &&
      me.role !== 'billing' &&
      h(
        'div',
        { class: 'panel', 'aria-labelledby': 'dev-h' },
        h('h2', { id: 'dev-h' }, 'Devices that can read your messages'),
        h(
          'p',
          { class: 'small muted' },
          'Each device has its own keys. Remove a lost or replaced device here. If you remove every device, the next one ' +
            'starts with new keys and your contacts see a new safety number.',
        ),
        devStatus,
        devList,
      ),
    h('div', { class: 'panel narrow' }, h('h2', null, 'Change password'), pwForm),
  );
  return { el, title: 'Your account' };
}
