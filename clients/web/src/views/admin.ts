// Administrator screens: accounts and care teams, invitations, the audit
// trail and alerts (listed from the API and pushed live over the WebSocket).

import { describeError } from '../api';
import type { App } from '../app';
import { confirmAction, type ConfirmOptions } from '../confirm';
import { field, formatTime, h, replace, statusLine } from '../dom';
import type { View } from '../router';
import { roleLabel, type Account, type Role } from '../session';

const roles: Role[] = ['patient', 'clinician', 'nurse', 'billing', 'admin'];

const accountStatusClasses: Record<string, string> = { active: 'badge-ok', invited: 'badge-warn' };

// personOf names an account for people: its display name, or its email.
function personOf(a: Account): string {
  return a.display_name || a.email;
}

function articleRole(r: Role | string): string {
  const label = roleLabel(r).toLowerCase();
  return /^[aeiou]/.test(label) ? `an ${label}` : `a ${label}`;
}

// The confirmation dialogs name the person, what changes and that their
// sessions end, because each of these actions signs them out at once.
export function roleDialog(a: Account, next: Role): ConfirmOptions {
  const who = personOf(a);
  return {
    title: `Change the role of ${who}?`,
    paragraphs: [
      `${who} (${a.email}) changes from ${roleLabel(a.role)} to ${roleLabel(next)}.`,
      `Every session of ${who} ends now, including a call in progress, and ${who} must sign in again.`,
    ],
    confirmLabel: `Change role to ${roleLabel(next)}`,
    danger: true,
  };
}

export function disableDialog(a: Account): ConfirmOptions {
  const who = personOf(a);
  return {
    title: `Disable ${who}?`,
    paragraphs: [
      `${who} (${a.email}, ${roleLabel(a.role)}) can no longer sign in.`,
      `Every session of ${who} ends now, including a call in progress. You can enable the account again later.`,
    ],
    confirmLabel: 'Disable account',
    danger: true,
  };
}

export function resetDialog(a: Account): ConfirmOptions {
  const who = personOf(a);
  return {
    title: `Reset two-step sign-in of ${who}?`,
    paragraphs: [
      `The authenticator app and recovery codes of ${who} (${a.email}, ${roleLabel(a.role)}) stop working.`,
      a.role === 'patient'
        ? `Every session of ${who} ends now. ${who} then signs in with the password alone until setting up two-step sign-in again.`
        : `Every session of ${who} ends now, and ${who} must set up two-step sign-in again at the next sign-in.`,
    ],
    confirmLabel: 'Reset two-step sign-in',
    danger: true,
  };
}

function statusBadgeOf(a: Account): HTMLElement {
  const cls = accountStatusClasses[a.status] ?? 'badge-danger';
  return h('span', { class: `badge ${cls}` }, a.status);
}

export async function usersView(app: App): Promise<View> {
  const status = statusLine('assertive');
  const tbody = h('tbody', { role: 'rowgroup' });
  const careTeam = h('section', { class: 'panel', hidden: true, 'aria-live': 'polite' });
  const me = app.session.me!;
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

  async function act(a: Account, path: string, done: string, body?: unknown): Promise<void> {
    status.set('');
    try {
      await app.api.post(`/api/v1/admin/users/${encodeURIComponent(a.id)}/${path}`, body);
      status.set(done, 'ok');
      await load();
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  }

  function actions(a: Account): HTMLElement {
    const cell = h('div', { class: 'row' });
    if (a.id === me.id) {
      // The server rejects these for one's own account, so explain
      // instead of offering buttons that fail.
      cell.appendChild(
        h(
          'p',
          { class: 'small muted', 'data-testid': 'own-account' },
          'This is your account. Another administrator can change its role, disable it or reset its two-step sign-in.',
        ),
      );
      return cell;
    }
    const add = (label: string, fn: () => void, cls = '') => {
      const b = h('button', { type: 'button', class: cls, 'aria-label': `${label}: ${a.email}` }, label);
      b.addEventListener('click', fn);
      cell.appendChild(b);
    };
    const who = personOf(a);
    if (a.status === 'active' || a.status === 'locked') {
      add('Disable', () => void confirmThen(disableDialog(a), () => act(a, 'disable', `${who} is disabled and signed out everywhere.`)), 'danger');
    }
    if (a.status === 'disabled') add('Enable', () => void act(a, 'enable', `${who} can sign in again.`));
    if (a.status === 'locked') add('Unlock', () => void act(a, 'unlock', `${who} can sign in again.`));
    if (a.second_factor) {
      add('Reset two-step sign-in', () =>
        void confirmThen(resetDialog(a), () => act(a, 'reset-second-factor', `Two-step sign-in of ${who} was reset and ${who} is signed out everywhere.`)),
      );
    }
    if (a.role === 'patient') add('Care team', () => void showCareTeam(a));
    cell.appendChild(roleControl(a));
    return cell;
  }

  // roleControl changes a role only through its button and a confirmation,
  // never on the select's change event: arrow keys on a focused select
  // change its value, and a role change ends the person's sessions.
  function roleControl(a: Account): HTMLElement {
    const sel = h(
      'select',
      { 'aria-label': `New role for ${a.email}` },
      ...roles.map((r) => h('option', { value: r, selected: r === a.role }, roleLabel(r))),
    );
    const apply = h('button', { type: 'button', 'aria-label': `Apply role to ${a.email}` }, 'Apply role');
    apply.addEventListener('click', async () => {
      const next = sel.value as Role;
      if (next === a.role) {
        status.set(`${personOf(a)} already has the role ${roleLabel(a.role)}. Choose another role first.`, 'info');
        sel.focus();
        return;
      }
      const ok = await confirmAction(roleDialog(a, next));
      if (!ok) {
        sel.value = a.role;
        return;
      }
      await act(a, 'role', `${personOf(a)} is now ${articleRole(next)} and must sign in again.`, { role: next });
    });
    return h('div', { class: 'row role-control' }, sel, apply);
  }

  async function confirmThen(opts: ConfirmOptions, fn: () => Promise<void>): Promise<void> {
    if (await confirmAction(opts)) await fn();
  }

  function render(): void {
    const cell = (label: string, ...children: (Node | string)[]) => h('td', { role: 'cell', 'data-label': label }, ...children);
    replace(
      tbody,
      accounts.map((a) =>
        h(
          'tr',
          { 'data-user': a.id, role: 'row' },
          cell('Name', h('strong', null, a.display_name || '—'), h('div', { class: 'small muted' }, a.email)),
          cell('Role', roleLabel(a.role)),
          cell('Status', statusBadgeOf(a)),
          cell('Two-step', a.second_factor ? 'Yes' : 'No'),
          cell('Actions', actions(a)),
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
      { class: 'panel table-wrap cards', tabindex: '0', role: 'region', 'aria-label': 'Accounts table' },
      // Explicit roles keep the table semantics when narrow screens show
      // each row as a card (display: block drops them in some browsers).
      h(
        'table',
        { role: 'table' },
        h('caption', { class: 'visually-hidden' }, 'Accounts'),
        h(
          'thead',
          { role: 'rowgroup' },
          h('tr', { role: 'row' }, ...['Name', 'Role', 'Status', 'Two-step', 'Actions'].map((t) => h('th', { scope: 'col', role: 'columnheader' }, t))),
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
  let careTeamNote: HTMLElement = h('p');

  // explainCareTeam tells the inviting clinician or nurse whether the
  // server put them on the new patient's care team. It does so for a new
  // patient, but a patient invited again keeps the care team he has.
  async function explainCareTeam(patientId: string): Promise<void> {
    const note = careTeamNote;
    let member = false;
    try {
      const team = await app.api.get<{ members: { user_id: string }[] }>(
        `/api/v1/patients/${encodeURIComponent(patientId)}/care-team`,
      );
      member = team.members.some((m) => m.user_id === me.id);
    } catch {
      // Not a member: the care team is not readable to outsiders.
    }
    note.textContent = member
      ? 'You are on this patient’s care team, so you can book consultations and message the patient once the account is set up.'
      : 'You are not on this patient’s care team, because the patient already had one. A member of that team or an administrator can add you.';
    note.hidden = false;
  }

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
      careTeamNote = h('p', { class: 'small muted', 'data-testid': 'care-team-note', hidden: true });
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
          careTeamNote,
        ),
      );
      if (me.role !== 'admin' && inv.role === 'patient') void explainCareTeam(inv.account_id);
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
