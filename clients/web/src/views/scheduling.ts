// Appointment forms: a patient requests a consultation, staff confirm,
// reschedule, cancel and book follow-ups. Times are entered in the
// browser's time zone and sent as RFC 3339 UTC.

import { describeError } from '../api';
import type { App } from '../app';
import { field, formatTime, h, statusLine } from '../dom';
import type { Consultation } from './consultations';

const durations = [15, 30, 45, 60];

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

// slotForm returns date, time and duration controls, prefilled with the
// next quarter hour, and a function that reads them as start and end.
function slotForm(): { el: HTMLElement; read(): { start: string; end: string } } {
  const next = new Date(Math.ceil(Date.now() / (15 * 60000)) * 15 * 60000 + 60 * 60000);
  const date = h('input', { type: 'date', required: true, value: `${next.getFullYear()}-${pad(next.getMonth() + 1)}-${pad(next.getDate())}` });
  const time = h('input', { type: 'time', required: true, step: '300', value: `${pad(next.getHours())}:${pad(next.getMinutes())}` });
  const length = h('select', null, ...durations.map((m) => h('option', { value: String(m), selected: m === 30 }, `${m} minutes`)));
  const el = h('div', { class: 'grid' }, field('Date', date), field('Time', time), field('Length', length));
  return {
    el,
    read() {
      const start = new Date(`${date.value}T${time.value}`);
      if (Number.isNaN(start.getTime())) throw new Error('Enter a valid date and time.');
      const end = new Date(start.getTime() + Number(length.value) * 60000);
      return { start: start.toISOString(), end: end.toISOString() };
    },
  };
}

// requestForm lets a patient ask for a consultation; the care team
// confirms it.
export function requestForm(app: App, onDone: () => void): HTMLElement {
  const slot = slotForm();
  const status = statusLine('assertive');
  const form = h(
    'form',
    null,
    h('p', { class: 'muted small' }, 'Choose a time that suits you. Your care team confirms it or suggests another time. Write the reason in the consultation’s messages: only your care team can read them.'),
    slot.el,
    status,
    h('button', { type: 'submit', class: 'primary' }, 'Send request'),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.set('');
    try {
      await app.api.post('/api/v1/consultations/requests', slot.read());
      status.set('Your request was sent. You will see it below as “Requested” until your care team confirms it.', 'ok');
      onDone();
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  });
  return h('details', { class: 'panel' }, h('summary', null, h('strong', null, 'Request a consultation')), form);
}

// appointmentPanel shows the actions the signed-in user may take on a
// consultation. The server decides; the panel only offers the likely ones.
export function appointmentPanel(app: App, c: Consultation, onChange: (c: Consultation) => void): HTMLElement {
  const me = app.session.me!;
  const staff = me.role === 'clinician' || me.role === 'nurse';
  const status = statusLine('assertive');
  const panel = h('details', { class: 'panel' }, h('summary', null, h('strong', null, 'Appointment: '), `${formatTime(c.start)} to ${formatTime(c.end)}`));
  const final = ['completed', 'cancelled', 'no_show'].includes(c.status);
  const path = `/api/v1/consultations/${encodeURIComponent(c.id)}`;

  async function act(sub: string, body?: unknown, done = 'Saved.'): Promise<void> {
    status.set('');
    try {
      const updated = await app.api.post<Consultation>(`${path}/${sub}`, body);
      status.set(done, 'ok');
      onChange(updated);
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  }

  if (staff && c.status === 'requested' && me.role === 'clinician') {
    const confirm = h('button', { type: 'button', class: 'primary' }, 'Confirm this time');
    confirm.addEventListener('click', () => void act('confirm', undefined, 'Confirmed.'));
    panel.appendChild(confirm);
  }
  if (!final && c.status !== 'in_progress') {
    const slot = slotForm();
    const move = h('form', null, h('h3', null, 'Move to another time'), slot.el, h('button', { type: 'submit' }, 'Move'));
    move.addEventListener('submit', (ev) => {
      ev.preventDefault();
      try {
        void act('reschedule', slot.read(), me.role === 'patient' ? 'Moved. Your care team confirms the new time.' : 'Moved.');
      } catch (err) {
        status.set(describeError(err), 'error');
      }
    });
    const cancel = h('button', { type: 'button', class: 'danger' }, 'Cancel the consultation');
    cancel.addEventListener('click', () => {
      if (window.confirm('Cancel this consultation?')) void act('cancel', undefined, 'Cancelled.');
    });
    panel.append(move, cancel);
  }
  if (staff) {
    const slot = slotForm();
    const follow = h('form', null, h('h3', null, 'Book a follow-up'), slot.el, h('button', { type: 'submit' }, 'Book'));
    follow.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      status.set('');
      try {
        const booked = await app.api.post<Consultation>('/api/v1/consultations', { patient_id: c.patient_id, ...slot.read() });
        status.set(`Booked for ${formatTime(booked.start)}.`, 'ok');
      } catch (err) {
        status.set(describeError(err), 'error');
      }
    });
    panel.appendChild(follow);
  }
  panel.appendChild(status);
  return panel;
}
