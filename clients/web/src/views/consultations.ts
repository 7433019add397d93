// The consultation list (everyone but admins) and the clinician's day.

import { describeError } from '../api';
import type { App } from '../app';
import { formatTime, h, replace, statusLine } from '../dom';
import type { View } from '../router';
import { requestForm } from './scheduling';

export interface Participant {
  user_id: string;
  kind: 'patient' | 'clinician' | 'guest' | string;
  role?: string;
}

export interface Consultation {
  id: string;
  patient_id: string;
  participants: Participant[];
  start: string;
  end: string;
  status: string;
  created_by: string;
}

interface Schedule {
  from: string;
  to: string;
  consultations: Consultation[];
  truncated: boolean;
}

const statusLabels: Record<string, [string, string]> = {
  requested: ['Requested', 'badge-warn'],
  scheduled: ['Scheduled', ''],
  waiting: ['Patient waiting', 'badge-warn'],
  in_progress: ['In progress', 'badge-ok'],
  completed: ['Completed', ''],
  cancelled: ['Cancelled', 'badge-danger'],
  no_show: ['No-show', 'badge-danger'],
};

export function statusBadge(status: string): HTMLElement {
  const [label, cls] = statusLabels[status] ?? [status, ''];
  return h('span', { class: `badge ${cls}`, 'data-status': status }, label);
}

// The join window the server enforces by default: from 15 minutes before
// the start until 30 minutes after the scheduled end.
const joinBeforeMs = 15 * 60 * 1000;
const joinGraceMs = 30 * 60 * 1000;

// isOpen reports whether a consultation can be entered now: not finished
// and within its join window. The server makes the final decision.
export function isOpen(c: Consultation, now = Date.now()): boolean {
  if (['completed', 'cancelled', 'no_show', 'requested'].includes(c.status)) return false;
  const start = Date.parse(c.start);
  const end = Date.parse(c.end);
  return now >= start - joinBeforeMs && now <= end + joinGraceMs;
}

function describeWith(app: App, c: Consultation): string {
  const me = app.session.me?.id;
  const others = c.participants.filter((p) => p.user_id !== me);
  if (app.session.me?.role === 'patient') {
    const staff = others.filter((p) => p.kind === 'clinician').length;
    return staff === 1 ? 'With your care team (1 clinician)' : `With your care team (${staff} staff)`;
  }
  return others.some((p) => p.kind === 'patient') ? 'Patient consultation' : 'Consultation';
}

function item(app: App, c: Consultation): HTMLElement {
  const open = isOpen(c);
  let action = 'Details';
  if (open) action = app.session.me?.role === 'patient' ? 'Join' : 'Open';
  return h(
    'li',
    { 'data-consultation': c.id },
    h(
      'div',
      { class: 'row spread' },
      h(
        'div',
        null,
        h('strong', null, `${formatTime(c.start)} – ${new Date(c.end).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`),
        ' ',
        statusBadge(c.status),
        h('div', { class: 'muted small' }, describeWith(app, c)),
      ),
      h(
        'a',
        { class: open ? 'button primary' : 'button', href: `/consultations/${encodeURIComponent(c.id)}` },
        action,
      ),
    ),
  );
}

async function load(app: App, from?: Date, to?: Date): Promise<Schedule> {
  const q = new URLSearchParams();
  if (from) q.set('from', from.toISOString());
  if (to) q.set('to', to.toISOString());
  const qs = q.toString();
  return app.api.get<Schedule>(`/api/v1/consultations${qs ? `?${qs}` : ''}`);
}

export async function consultationsView(app: App): Promise<View> {
  const sched = await load(app);
  const now = Date.now();
  const upcoming = sched.consultations.filter((c) => Date.parse(c.end) >= now);
  const past = sched.consultations.filter((c) => Date.parse(c.end) < now).reverse();
  const el = h(
    'section',
    null,
    h('h1', null, 'Consultations'),
    h(
      'div',
      { class: 'panel' },
      h('h2', null, 'Upcoming'),
      upcoming.length
        ? h('ul', { class: 'list', 'aria-label': 'Upcoming consultations' }, ...upcoming.map((c) => item(app, c)))
        : h('p', { class: 'muted' }, 'No upcoming consultations.'),
    ),
    app.session.me?.role === 'patient' && requestForm(app, () => app.go('/consultations', { replace: true })),
    h(
      'div',
      { class: 'panel' },
      h('h2', null, 'Past 30 days'),
      past.length
        ? h('ul', { class: 'list', 'aria-label': 'Past consultations' }, ...past.map((c) => item(app, c)))
        : h('p', { class: 'muted' }, 'None.'),
    ),
    sched.truncated && h('p', { class: 'muted small' }, 'Only the first consultations in this period are shown.'),
  );
  return { el, title: 'Consultations' };
}

// dayView is the clinician's and nurse's day: today's consultations, with
// waiting patients first, refreshed every 15 seconds.
export async function dayView(app: App): Promise<View> {
  const list = h('div');
  const status = statusLine();
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  const end = new Date(start.getTime() + 24 * 60 * 60 * 1000);

  async function refresh(): Promise<void> {
    try {
      const sched = await load(app, start, end);
      const items = [...sched.consultations].sort((a, b) => rank(a) - rank(b) || Date.parse(a.start) - Date.parse(b.start));
      const waiting = items.filter((c) => c.status === 'waiting').length;
      replace(
        list,
        h(
          'p',
          { class: 'muted', 'data-testid': 'day-summary' },
          `${items.length} consultation${items.length === 1 ? '' : 's'} today` +
            (waiting ? `, ${waiting} patient${waiting === 1 ? '' : 's'} waiting` : ''),
        ),
        items.length
          ? h('ul', { class: 'list', 'aria-label': 'Today’s consultations' }, ...items.map((c) => item(app, c)))
          : h('p', null, 'Nothing scheduled today.'),
      );
      status.set('');
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  }
  await refresh();
  const timer = window.setInterval(() => void refresh(), 15000);
  const el = h(
    'section',
    null,
    h('h1', null, 'My day'),
    h('p', { class: 'muted' }, new Date().toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long' })),
    status,
    h('div', { class: 'panel' }, list),
  );
  return { el, title: 'My day', dispose: () => window.clearInterval(timer) };
}

function rank(c: Consultation): number {
  switch (c.status) {
    case 'waiting':
      return 0;
    case 'in_progress':
      return 1;
    case 'scheduled':
      return 2;
    default:
      return 3;
  }
}
