// The end-to-end encrypted chat of a consultation or a care thread, the
// list of care threads, and the safety number panel.

import { describeError } from '../api';
import type { App } from '../app';
import { formatTime, h, replace, statusLine } from '../dom';
import { DeviceUnavailableError, IdentityChangedError, type ChatMessage, type Conversation, type Messenger } from '../messenger';
import type { Params, View } from '../router';
import type { Consultation } from './consultations';
import { labelPeople, namer, type Person } from '../people';

// maxImageBytes bounds photos sent from the browser, which encrypts them
// in memory.
const maxImageBytes = 10 << 20;

// maxNamedThreads bounds the care threads whose patient the thread list
// names, since each name costs one request.
const maxNamedThreads = 50;

type NameOf = (userId: string) => string;

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// notSentMessage explains a failed send. The text stays in the box, and
// the advice to try again is added only when the error does not give it.
export function notSentMessage(err: unknown): string {
  const reason = describeError(err);
  const retry = /try again/i.test(reason) ? '' : ' Try again.';
  return `Not sent. ${reason} Your text is still in the box.${retry}`;
}

// mountChat fills panel with the chat of one conversation and returns a
// function that releases it.
export async function mountChat(app: App, panel: HTMLElement, conversationId: string, nameOf: NameOf): Promise<() => void> {
  const status = statusLine('assertive');
  const list = h('ol', { class: 'messages', 'aria-label': 'Messages', 'aria-live': 'polite' });
  const safety = h('div', { class: 'safety', hidden: true });
  const heading = h('h2', { id: 'chat-h' }, 'Messages', h('span', { class: 'badge badge-ok e2ee-badge' }, 'End-to-end encrypted'));
  replace(panel, heading, h('p', { class: 'muted small' }, 'Setting up encryption on this device…'));

  let conv: Conversation;
  try {
    const m = await app.messenger();
    conv = await m.conversation(conversationId);
  } catch (err) {
    const msg = err instanceof DeviceUnavailableError ? err.message : `Messages are unavailable: ${describeError(err)}`;
    replace(panel, heading, h('p', { class: 'status status-error', role: 'alert' }, msg));
    return () => {};
  }

  const text = h('textarea', {
    id: `compose-${conversationId}`,
    rows: '2',
    maxlength: '10000',
    placeholder: 'Write a message',
    'aria-label': 'Message',
  });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const file = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', 'aria-label': 'Attach a photo' });
  const attach = h('label', { class: 'button' }, 'Attach a photo', file);
  const form = h('form', { class: 'composer' }, text, attach, send);

  const safetyButtons = h(
    'div',
    { class: 'row small' },
    ...conv.others().map((u) => {
      const b = h('button', { type: 'button', class: 'link-button', 'data-peer': u }, `Safety number with ${nameOf(u)}`);
      b.addEventListener('click', () => void showSafety(u));
      return b;
    }),
  );
  const idNote =
    conv.others().some((u) => nameOf(u).includes('(…')) &&
    h(
      'p',
      { class: 'muted small' },
      'Some names could not be loaded, so those people are shown by role and the last characters of their account id.',
    );

  replace(
    panel,
    heading,
    h(
      'p',
      { class: 'muted small' },
      'End-to-end encrypted: messages and photos are locked on this device and only the participants’ devices can unlock them.',
    ),
    idNote,
    safetyButtons,
    safety,
    list,
    status,
    form,
  );

  // Warn at once about correspondents whose keys or devices changed.
  void (async () => {
    const m = await app.messenger();
    for (const u of conv.others()) {
      try {
        const p = await m.peer(u);
        if (p.changed) status.set(`${capitalize(nameOf(u))} added or removed a device. Compare your safety number again.`, 'info');
        if (p.uncertified.length > 0) {
          status.set(`The server lists devices of ${nameOf(u)} that they did not certify. Bedside does not encrypt to them.`, 'error');
        }
      } catch (err) {
        if (err instanceof IdentityChangedError) void showSafety(u);
      }
    }
  })();

  const seen = new Set<string>();
  let lastSeq = 0;
  function markRead(): void {
    if (lastSeq > 0 && !document.hidden) conv.markRead(lastSeq);
  }
  document.addEventListener('visibilitychange', markRead);

  function render(msgs: ChatMessage[]): void {
    for (const msg of msgs) {
      if (seen.has(msg.id)) continue;
      seen.add(msg.id);
      const li = h(
        'li',
        { class: `message${msg.mine ? ' mine' : ''}${msg.error ? ' failed' : ''}`, 'data-message': msg.id },
        h('div', { class: 'meta' }, `${msg.mine ? 'You' : capitalize(nameOf(msg.senderUserId))} · ${formatTime(msg.timeMs)}`),
        msg.error ? h('p', { role: 'alert' }, msg.error) : msg.text && h('p', { class: 'text' }, msg.text),
      );
      for (const a of msg.attachments) {
        const slot = h('div', { class: 'small muted' }, `Decrypting photo ${a.name}…`);
        li.appendChild(slot);
        conv.downloadAttachment(msg.id, a.id).then(
          (url) => {
            if (a.mediaType.startsWith('image/')) {
              replace(slot, h('img', { src: url, alt: `Photo: ${a.name}`, 'data-attachment': a.id }));
            } else {
              replace(slot, h('a', { href: url, download: a.name }, `Download ${a.name}`));
            }
          },
          (err: unknown) => replace(slot, h('span', { class: 'quality-poor' }, `The photo could not be decrypted: ${describeError(err)}`)),
        );
      }
      list.appendChild(li);
      lastSeq = Math.max(lastSeq, msg.seq);
    }
    list.scrollTop = list.scrollHeight;
    markRead();
  }

  let fetching: Promise<void> | null = null;
  const loadError = 'New messages could not be loaded: ';
  async function refresh(): Promise<void> {
    if (fetching) return fetching;
    fetching = (async () => {
      try {
        render(await conv.fetchNew());
        // A successful load ends a load error, but no other message.
        if (status.textContent?.startsWith(loadError)) status.set('');
      } catch (err) {
        status.set(`${loadError}${describeError(err)}`, 'error');
      } finally {
        fetching = null;
      }
    })();
    return fetching;
  }

  // showChangedIdentity explains a changed identity key and lets the user
  // trust it after comparing the new safety number aloud.
  async function showChangedIdentity(m: Messenger, err: IdentityChangedError): Promise<void> {
    const u = err.userId;
    const sn = await m.safetyNumberWith(u, err.newIdentityKey);
    const accept = h('button', { type: 'button', class: 'primary' }, `I compared the new number with ${nameOf(u)}: trust it`);
    accept.addEventListener('click', async () => {
      try {
        await m.acceptIdentity(u);
        await showSafety(u);
      } catch (e) {
        replace(safety, h('p', { class: 'status status-error' }, describeError(e)));
      }
    });
    replace(
      safety,
      h('h3', null, `The encryption keys of ${nameOf(u)} changed`),
      h(
        'p',
        { class: 'status status-error', role: 'alert' },
        `This happens when ${nameOf(u)} starts over on a new phone or computer, but it could also mean someone is trying to ` +
          'read your messages. Nothing is sent to them until you compare the new safety number, for example aloud during a call.',
      ),
      h('ol', { class: 'words', 'data-testid': 'safety-words' }, ...sn.words.map((w) => h('li', null, w))),
      h('p', { class: 'digits', 'aria-label': 'Safety number digits' }, sn.digitGroups),
      accept,
    );
  }

  async function showSafety(userId: string): Promise<void> {
    safety.hidden = false;
    const m = await app.messenger();
    try {
      const peer = await m.peer(userId, true);
      const sn = await m.safetyNumber(userId);
      const mark = h('button', { type: 'button', class: 'primary', hidden: peer.verified }, 'The words match: mark as checked');
      mark.addEventListener('click', async () => {
        await m.markVerified(userId);
        mark.hidden = true;
        state.textContent = 'Checked: you compared this safety number.';
      });
      const state = h(
        'p',
        { 'data-testid': 'safety-state' },
        peer.verified
          ? 'Checked: you compared this safety number.'
          : peer.changed
            ? `${nameOf(userId)} added or removed a device since you last checked. Compare the number again.`
            : 'Not checked yet.',
      );
      const close = h('button', { type: 'button' }, 'Close');
      close.addEventListener('click', () => (safety.hidden = true));
      replace(
        safety,
        h('h3', null, `Safety number with ${nameOf(userId)}`),
        h(
          'p',
          { class: 'small' },
          'Read these words aloud during your call. If ' + nameOf(userId) + ' sees the same words in the same order, nobody has added a device to listen in.',
        ),
        h('ol', { class: 'words', 'data-testid': 'safety-words' }, ...sn.words.map((w) => h('li', null, w))),
        h('p', { class: 'digits', 'aria-label': 'Safety number digits' }, sn.digitGroups),
        peer.uncertified.length > 0 &&
          h(
            'p',
            { class: 'status status-error' },
            `The server lists ${peer.uncertified.length} device(s) of ${nameOf(userId)} that their own devices did not certify. Bedside does not encrypt to them.`,
          ),
        state,
        h('div', { class: 'row' }, mark, close),
      );
    } catch (err) {
      if (err instanceof IdentityChangedError) {
        await showChangedIdentity(m, err);
        return;
      }
      replace(safety, h('p', { class: 'status status-error' }, describeError(err)));
    }
  }

  async function submit(): Promise<void> {
    const body = text.value.trim();
    if (!body) return;
    send.disabled = true;
    status.set('');
    try {
      await conv.sendText(body);
      text.value = '';
      await refresh();
    } catch (err) {
      if (err instanceof IdentityChangedError) {
        status.set(`Not sent. ${describeError(err)}`, 'error');
        void showSafety(err.userId);
        return;
      }
      status.set(notSentMessage(err), 'error');
    } finally {
      send.disabled = false;
      text.focus();
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void submit();
  });
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      void submit();
    }
  });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    file.value = '';
    if (!f) return;
    if (!f.type.startsWith('image/')) {
      status.set('Only photos and other images can be attached.', 'error');
      return;
    }
    if (f.size > maxImageBytes) {
      status.set(`This photo is ${(f.size / 1048576).toFixed(1)} MB. Send one of at most 10 MB.`, 'error');
      return;
    }
    status.set(`Encrypting and sending ${f.name}…`, 'info');
    try {
      await conv.sendImage(f);
      status.set('');
      await refresh();
    } catch (err) {
      status.set(`The photo was not sent: ${describeError(err)}`, 'error');
    }
  });

  const sig = app.signaling();
  const off = sig.on('message', (msg) => {
    if (msg.conversation === conversationId) void refresh();
  });
  const offReconnect = sig.on('reconnected', () => void refresh());
  sig.connect().catch(() => {
    // Without the live connection, the poll below still delivers messages.
  });
  const poll = window.setInterval(() => void refresh(), 15000);
  await refresh();

  return () => {
    document.removeEventListener('visibilitychange', markRead);
    off();
    offReconnect();
    window.clearInterval(poll);
    conv.close();
  };
}

interface MemberSummary {
  user_id: string;
  role?: string;
  display_name: string;
}

// memberNames fetches the display names and roles of a conversation's
// members. It returns an empty map when the request fails, so that callers
// fall back to labels by role and account id.
async function memberNames(app: App, conversationId: string): Promise<Map<string, MemberSummary>> {
  try {
    const res = await app.api.get<{ members: MemberSummary[] }>(
      `/api/v1/conversations/${encodeURIComponent(conversationId)}/members`,
    );
    return new Map(res.members.map((m) => [m.user_id, m]));
  } catch {
    return new Map();
  }
}

// consultationNamer labels a consultation's participants by display name
// and role, or by role and the end of their account id when names are
// unavailable. The chat and the call's roster share these labels.
export async function consultationNamer(app: App, c: Consultation): Promise<NameOf> {
  const names = await memberNames(app, `consultation:${c.id}`);
  const labels = labelPeople(
    c.participants.map((p) => {
      const m = names.get(p.user_id);
      return { userId: p.user_id, role: m?.role || p.role || 'clinician', kind: p.kind, displayName: m?.display_name };
    }),
    c.patient_id,
  );
  return namer(labels, 'Participant');
}

export function mountConsultationChat(app: App, panel: HTMLElement, c: Consultation, nameOf: NameOf): Promise<() => void> {
  return mountChat(app, panel, `consultation:${c.id}`, nameOf);
}

interface ConversationSummary {
  id: string;
  kind: 'consultation' | 'care';
  subject_id: string;
  last_seq: number;
  read_seq: number;
}

export async function threadsView(app: App): Promise<View> {
  const res = await app.api.get<{ conversations: ConversationSummary[] }>('/api/v1/conversations');
  const me = app.session.me!;
  const care = res.conversations.filter((c) => c.kind === 'care');
  // One members request per thread names each thread's patient. Threads
  // past maxNamedThreads keep the id, so a visit sends at most that many.
  const patientNames = await Promise.all(
    care.map(async (c, i) => {
      if (c.subject_id === me.id || i >= maxNamedThreads) return '';
      return (await memberNames(app, c.id)).get(c.subject_id)?.display_name ?? '';
    }),
  );
  const label = (c: ConversationSummary, i: number) => {
    if (me.role === 'patient' && c.subject_id === me.id) return 'Your care team';
    return patientNames[i] ? `Care thread of ${patientNames[i]}` : `Care thread of patient ${c.subject_id.slice(0, 8)}`;
  };
  const el = h(
    'section',
    null,
    h('h1', null, 'Messages'),
    h(
      'p',
      { class: 'muted' },
      'Care threads connect a patient with the care team between consultations. Each consultation also has its own chat on its page.',
    ),
    h(
      'div',
      { class: 'panel' },
      care.length
        ? h(
            'ul',
            { class: 'list' },
            ...care.map((c, i) =>
              h(
                'li',
                { class: 'row spread' },
                h('a', { href: `/threads/${encodeURIComponent(c.id)}` }, label(c, i)),
                c.last_seq > c.read_seq && h('span', { class: 'badge badge-warn' }, `${c.last_seq - c.read_seq} new`),
              ),
            ),
          )
        : h('p', null, 'No care threads yet.'),
    ),
  );
  return { el, title: 'Messages' };
}

// careTeamNamer labels the members of a patient's care thread by display
// name and role, or by their role in the care team and the end of the
// account id when names are unavailable. Someone no longer on the team
// keeps a label with the end of the account id.
async function careTeamNamer(app: App, patientId: string): Promise<NameOf> {
  const [names, team] = await Promise.all([
    memberNames(app, `care:${patientId}`),
    app.api
      .get<{ members: { user_id: string; role: string }[] }>(`/api/v1/patients/${encodeURIComponent(patientId)}/care-team`)
      .catch(() => ({ members: [] })),
  ]);
  const people: Person[] = [
    { userId: patientId, role: 'patient', kind: 'patient', displayName: names.get(patientId)?.display_name },
  ];
  for (const m of team.members) {
    people.push({ userId: m.user_id, role: m.role, kind: 'clinician', displayName: names.get(m.user_id)?.display_name });
  }
  // The members endpoint also names members whose care team entry could
  // not be loaded.
  for (const [id, m] of names) {
    if (!people.some((p) => p.userId === id)) {
      people.push({ userId: id, role: m.role || 'clinician', kind: 'clinician', displayName: m.display_name });
    }
  }
  return namer(labelPeople(people, patientId), 'Care team member');
}

export async function threadView(app: App, params: Params): Promise<View> {
  const id = params.id;
  const me = app.session.me!;
  const panel = h('section', { class: 'panel chat', 'aria-labelledby': 'chat-h' });
  const subject = id.startsWith('care:') ? id.slice(5) : '';
  const dispose = await mountChat(app, panel, id, await careTeamNamer(app, subject));
  const el = h(
    'section',
    null,
    h('h1', null, subject === me.id ? 'Messages with your care team' : 'Care thread'),
    h('p', null, h('a', { href: '/threads' }, 'All messages')),
    panel,
  );
  return { el, title: 'Messages', dispose };
}
