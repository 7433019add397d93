// Administrator screens: accounts and care teams, invitations, the audit
// trail and alerts (listed from the API and pushed live over the WebSocket).

import { describeError } from '../api';
import type { App } from '../app';
import { field, formatTime, h, replace, statusLine } from '../dom';
import type { View } from '../router';
import { roleLabel, type Account, type Role } from '../session';

const roles: Role[] = ['patient', 'clinician', 'nurse', 'billing', 'admin'];

const accountStatusClasses: Record<string, string> = { active: 'badge-ok', invited: 'badge-warn' };

function statusBadgeOf(a: Account): HTMLElement {
  const cls = accountStatusClasses[a.status] ?? 'badge-danger';
  return h('span', { class: `badge ${cls}` }, a.status);
}

export async function usersView(app: App): Promise<View> {
  const status = statusLine('assertive');
  const tbody = h('tbody');
  const careTeam = h('section', { class: 'panel', hidden: true, 'aria-live': 'polite' });
  let accounts: Account[] = [];

  async function load(): Promise<void> {
    const all: Account[] = [];
    let after = '';
    // Page through every account; the API returns at most 500 per page.
    for (let i = 0; i < 50; i++) {
      const q = new URLSearchParams({ limit: '500' });
      if (after) q.set('after', after);
      const res = await app.api.get<{ users: Account[]; next_after?: string }>(`/api/v1/admin/users?${q}`);
      all.push(...res.users);
      if (!res.next_after) break;
      after = res.next_after;
    }
    accounts = all;
    render();
  }

  async function act(a: Account, path: string, body?: unknown): Promise<void> {
    status.set('');
    try {
      await app.api.post(`/api/v1/admin/users/${encodeURIComponent(a.id)}/${path}`, body);
      status.set(`Updated ${a.email}.`, 'ok');
      await load();
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  }

  function actions(a: Account): HTMLElement {
    const cell = h('div', { class: 'row' });
    const add = (label: string, fn: () => void, cls = '') => {
      const b = h('button', { type: 'button', class: cls, 'aria-label': `${label}: ${a.email}` }, label);
      b.addEventListener('click', fn);
      cell.appendChild(b);
    };
    if (a.status === 'active' || a.status === 'locked') add('Disable', () => void act(a, 'disable'), 'danger');
    if (a.status === 'disabled') add('Enable', () => void act(a, 'enable'));
    if (a.status === 'locked') add('Unlock', () => void act(a, 'unlock'));
    if (a.second_factor) add('Reset two-step sign-in', () => void act(a, 'reset-second-factor'));
    if (a.role === 'patient') add('Care team', () => void showCareTeam(a));
    const sel = h('select', { 'aria-label': `Role of ${a.email}` }, ...roles.map((r) => h('option', { value: r, selected: r === a.role }, roleLabel(r))));
    sel.addEventListener('change', () => void act(a, 'role', { role: sel.value }));
    cell.appendChild(sel);
    return cell;
  }

  function render(): void {
    replace(
      tbody,
      accounts.map((a) =>
        h(
          'tr',
          { 'data-user': a.id },
          h('td', null, h('strong', null, a.display_name || '—'), h('div', { class: 'small muted' }, a.email)),
          h('td', null, roleLabel(a.role)),
          h('td', null, statusBadgeOf(a)),
          h('td', null, a.second_factor ? 'Yes' : 'No'),
          h('td', null, actions(a)),
        ),
      ),
    );
  }

  async function showCareTeam(patient: Account): Promise<void> {
    careTeam.hidden = false;
    const st = statusLine('assertive');
    const list = h('ul', { class: 'list' });
    const staff = accounts.filter((a) => (a.role === 'clinician' || a.role === 'nurse') && a.status !== 'disabled');
    const pick = h('select', null, ...staff.map((s) => h('option', { value: s.id }, `${s.display_name || s.email} (${roleLabel(s.role)})`)));
    const addBtn = h('button', { type: 'submit', class: 'primary' }, 'Add to care team');
    const form = h('form', { class: 'row' }, field('Staff member', pick), addBtn);
    const nameOf = (id: string) => {
      const a = accounts.find((x) => x.id === id);
      return a ? `${a.display_name || a.email} (${roleLabel(a.role)})` : id;
    };
    async function refresh(): Promise<void> {
      const team = await app.api.get<{ members: { user_id: string; role: string }[] }>(
        `/api/v1/patients/${encodeURIComponent(patient.id)}/care-team`,
      );
      replace(
        list,
        team.members.length
          ? team.members.map((m) => {
              const rm = h('button', { type: 'button', 'aria-label': `Remove ${nameOf(m.user_id)}` }, 'Remove');
              rm.addEventListener('click', async () => {
                try {
                  await app.api.delete(`/api/v1/patients/${encodeURIComponent(patient.id)}/care-team/${encodeURIComponent(m.user_id)}`);
                  await refresh();
                } catch (err) {
                  st.set(describeError(err), 'error');
                }
              });
              return h('li', { class: 'row spread' }, nameOf(m.user_id), rm);
            })
          : [h('li', { class: 'muted' }, 'No care team yet.')],
      );
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      st.set('');
      try {
        await app.api.post(`/api/v1/patients/${encodeURIComponent(patient.id)}/care-team`, { user_id: pick.value });
        await refresh();
        st.set('Added.', 'ok');
      } catch (err) {
        st.set(describeError(err), 'error');
      }
    });
    replace(careTeam, h('h2', null, `Care team of ${patient.display_name || patient.email}`), list, form, st);
    try {
      await refresh();
    } catch (err) {
      st.set(describeError(err), 'error');
    }
    careTeam.scrollIntoView({ block: 'nearest' });
  }

  await load();
  const el = h(
    'section',
    null,
    h('h1', null, 'Users'),
    status,
    h(
      'div',
      { class: 'panel table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Accounts table' },
      h(
        'table',
        null,
        h('caption', { class: 'visually-hidden' }, 'Accounts'),
        h(
          'thead',
          null,
          h('tr', null, h('th', null, 'Name'), h('th', null, 'Role'), h('th', null, 'Status'), h('th', null, 'Two-step'), h('th', null, 'Actions')),
        ),
        tbody,
      ),
    ),
    careTeam,
  );
  return { el, title: 'Users' };
}

interface Invitation {
  account_id: string;
  email: string;
  role: string;
  token: string;
  expires_at: string;
}

// invitationsView creates invitations. Clinicians and nurses reach it too,
// to invite patients. The token is shown once, to hand to the invitee.
export function invitationsView(app: App): View {
  const me = app.session.me!;
  const allowed: Role[] = me.role === 'admin' ? roles : ['patient'];
  const status = statusLine('assertive');
  const result = h('div', { 'aria-live': 'polite' });
  const email = h('input', { type: 'email', required: true, autocomplete: 'off' });
  const name = h('input', { type: 'text', maxlength: '100', autocomplete: 'off' });
  const role = h('select', null, ...allowed.map((r) => h('option', { value: r }, roleLabel(r))));
  const form = h(
    'form',
    null,
    field('Email address', email),
    field('Name', name, 'Optional. The invitee can set it.'),
    field('Role', role),
    status,
    h('button', { type: 'submit', class: 'primary' }, 'Create invitation'),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.set('');
    try {
      const inv = await app.api.post<Invitation>('/api/v1/invitations', {
        email: email.value.trim(),
        role: role.value,
        display_name: name.value.trim(),
      });
      const tokenEl = h('code', { class: 'secret', 'data-testid': 'invitation-token' }, inv.token);
      const copy = h('button', { type: 'button' }, 'Copy code');
      copy.addEventListener('click', () => {
        void navigator.clipboard?.writeText(inv.token).then(() => (copy.textContent = 'Copied'));
      });
      replace(
        result,
        h(
          'div',
          { class: 'panel', 'data-invited': inv.account_id },
          h('h2', null, `Invitation for ${inv.email}`),
          h(
            'p',
            null,
            `Give this code to the ${roleLabel(inv.role).toLowerCase()} in person or by phone. It works once, until ${formatTime(inv.expires_at)}, and is shown only now. They enter it at `,
            h('strong', null, `${location.origin}/invite`),
            '.',
          ),
          h('p', null, tokenEl, ' ', copy),
          me.role !== 'admin' &&
            h(
              'p',
              { class: 'small muted' },
              'To book consultations and message this patient, ask an administrator to add you to the patient’s care team.',
            ),
        ),
      );
      email.value = '';
      name.value = '';
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  });
  const el = h('section', null, h('h1', null, 'Invitations'), h('div', { class: 'panel narrow' }, form), result);
  return { el, title: 'Invitations' };
}

interface AuditRecord {
  seq: number;
  time: string;
  type: string;
  actor?: string;
  target?: string;
  address?: string;
  outcome?: string;
  detail?: Record<string, string>;
}

export async function auditView(app: App): Promise<View> {
  const tbody = h('tbody');
  const status = statusLine('assertive');
  const more = h('button', { type: 'button' }, 'Show more');
  let after = 0;

  async function loadPage(): Promise<void> {
    try {
      const q = new URLSearchParams({ limit: '100' });
      if (after) q.set('after', String(after));
      const page = await app.api.get<{ records: AuditRecord[]; next_after?: number }>(`/api/v1/admin/audit?${q}`);
      for (const r of page.records) {
        tbody.appendChild(
          h(
            'tr',
            null,
            h('td', null, String(r.seq)),
            h('td', null, formatTime(r.time)),
            h('td', null, h('code', null, r.type)),
            h('td', { class: r.outcome === 'success' ? '' : 'quality-poor' }, r.outcome ?? ''),
            h('td', { class: 'small mono' }, r.actor ?? ''),
            h('td', { class: 'small mono' }, r.target ?? ''),
            h('td', { class: 'small' }, r.address ?? ''),
            h(
              'td',
              { class: 'small' },
              Object.entries(r.detail ?? {})
                .map(([k, v]) => `${k}=${v}`)
                .join(', '),
            ),
          ),
        );
      }
      if (page.next_after) after = page.next_after;
      more.hidden = !page.next_after;
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  }
  more.addEventListener('click', () => void loadPage());
  await loadPage();
  const el = h(
    'section',
    null,
    h('h1', null, 'Audit trail'),
    h(
      'p',
      { class: 'muted' },
      'Every sign-in, access decision and administrative change, oldest first. Records hold ids, sizes and outcomes, never content. ' +
        'Run “bedside audit verify” on the server to check the hash chain.',
    ),
    status,
    h(
      'div',
      { class: 'panel table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Audit records' },
      h(
        'table',
        null,
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ...['#', 'Time', 'Event', 'Outcome', 'Actor', 'Target', 'Address', 'Detail'].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        tbody,
      ),
      more,
    ),
  );
  return { el, title: 'Audit trail' };
}

interface Alert {
  id: string;
  type: string;
  severity: string;
  time: string;
  subject?: string;
  target?: string;
  address?: string;
  detail?: Record<string, string>;
  acked_by?: string;
  acked_at?: string;
}

// alertLabel turns an alert type such as "failed_logins.account" into words.
export function alertLabel(type: string): string {
  const words = type.replace(/[._]/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export async function alertsView(app: App): Promise<View> {
  const list = h('ul', { class: 'list', 'aria-label': 'Alerts', 'aria-live': 'polite' });
  const status = statusLine('assertive');
  const live = statusLine();

  function row(a: Alert): HTMLElement {
    const ack = h('button', { type: 'button', hidden: Boolean(a.acked_by) }, 'Acknowledge');
    ack.addEventListener('click', async () => {
      try {
        await app.api.post(`/api/v1/admin/alerts/${encodeURIComponent(a.id)}/ack`);
        await refresh();
      } catch (err) {
        status.set(describeError(err), 'error');
      }
    });
    const sevClass = a.severity === 'critical' || a.severity === 'high' ? 'badge-danger' : 'badge-warn';
    return h(
      'li',
      { 'data-alert': a.id },
      h(
        'div',
        { class: 'row spread' },
        h(
          'div',
          null,
          h('span', { class: `badge ${sevClass}` }, a.severity),
          ' ',
          h('strong', null, alertLabel(a.type)),
          h(
            'div',
            { class: 'small muted' },
            formatTime(a.time),
            a.subject ? ` · account ${a.subject}` : '',
            a.address ? ` · from ${a.address}` : '',
            a.acked_by ? ' · acknowledged' : '',
          ),
        ),
        ack,
      ),
    );
  }

  async function refresh(): Promise<void> {
    try {
      const res = await app.api.get<{ alerts: Alert[] }>('/api/v1/admin/alerts?limit=100');
      replace(list, res.alerts.length ? res.alerts.map(row) : [h('li', { class: 'muted' }, 'No alerts.')]);
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  }

  await refresh();
  const sig = app.signaling();
  const off = sig.on('alert', () => void refresh());
  const offState = sig.onState((s) => live.set(s === 'open' ? 'Live: new alerts appear here at once.' : 'Live updates paused: reconnecting…'));
  sig.connect().then(
    () => live.set('Live: new alerts appear here at once.'),
    (err) => live.set(`Live updates unavailable: ${describeError(err)}`, 'error'),
  );
  const el = h('section', null, h('h1', null, 'Alerts'), live, status, h('div', { class: 'panel' }, list));
  return {
    el,
    title: 'Alerts',
    dispose: () => {
      off();
      offState();
    },
  };
}
