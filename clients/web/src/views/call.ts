// One consultation: details, the waiting room (patients), the admit panel
// (hosts), the call with its connection and encryption facts, and the
// consultation's encrypted chat.

import { describeError } from '../api';
import { confirmAction } from '../confirm';
import type { App } from '../app';
import { formatTime, h, replace, statusLine } from '../dom';
import { MediaSession, mediaErrorMessage, openCamera } from '../media';
import type { Params, View } from '../router';
import { roleLabel } from '../session';
import { SignalError, type SignalMessage } from '../signaling';
import { isOpen, statusBadge, type Consultation } from './consultations';
import { consultationNamer, mountConsultationChat } from './chat';
import { CallFacts } from './callfacts';
import { connectionLostCodes, iceServersOf, joinErrorMessage, type RosterEntry } from './callsignal';
import { appointmentPanel } from './scheduling';

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export async function callView(app: App, params: Params): Promise<View> {
  const c = await app.api.get<Consultation>(`/api/v1/consultations/${encodeURIComponent(params.id)}`);
  const me = app.session.me!;
  const sig = app.signaling();
  const nameOf = await consultationNamer(app, c);
  const personOf = (userId: string) => (userId === me.id ? 'You' : capitalize(nameOf(userId)));
  // cameraStatus shows camera and microphone problems, which last until a
  // reload. status shows call problems, which every change of the call's
  // state clears, so no banner outlives the situation it describes.
  const cameraStatus = statusLine('assertive');
  const status = statusLine('assertive');
  const info = statusLine();

  // Video stage.
  const localVideo = h('video', { class: 'local', autoplay: true, playsinline: true, 'aria-label': 'Your camera' });
  localVideo.muted = true;
  const placeholder = h('div', { class: 'placeholder' }, 'Starting your camera…');
  const remoteArea = h('div', { class: 'remote-area' });
  const stage = h('div', { class: 'stage' }, remoteArea, placeholder, localVideo);

  // Controls.
  const joinBtn = h('button', { type: 'button', class: 'primary' }, me.role === 'patient' ? 'Enter the waiting room' : 'Start the consultation');
  const muteBtn = h('button', { type: 'button', 'aria-pressed': 'false', disabled: true }, 'Mute microphone');
  const camBtn = h('button', { type: 'button', 'aria-pressed': 'false', disabled: true }, 'Turn camera off');
  const leaveBtn = h('button', { type: 'button', class: 'danger', disabled: true }, 'Leave');
  const endBtn = h('button', { type: 'button', class: 'danger', hidden: true }, 'End consultation for everyone');
  const controls = h('div', { class: 'controls', role: 'group', 'aria-label': 'Call controls' }, joinBtn, muteBtn, camBtn, leaveBtn, endBtn);

  const facts = new CallFacts();
  const waitingList = h('ul', { class: 'list', 'aria-label': 'Waiting room' });
  const admitPanel = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'admit-h', hidden: true },
    h('h2', { id: 'admit-h' }, 'Waiting room'),
    waitingList,
  );
  const rosterList = h('ul', { class: 'list small', 'aria-label': 'In the call' });
  const rosterPanel = h('section', { class: 'panel', hidden: true }, h('h2', null, 'In the call'), rosterList);
  const chatPanel = h('section', { class: 'panel chat', 'aria-labelledby': 'chat-h' });
  const badgeSlot = h('span', null, statusBadge(c.status));
  let consultationStatus = c.status;
  const setStatus = (s: string) => {
    consultationStatus = s;
    replace(badgeSlot, statusBadge(s));
  };

  const callArea = h(
    'div',
    { class: 'call' },
    h('div', null, stage, controls),
    h('div', null, admitPanel, facts.el, rosterPanel, appointmentPanel(app, c, (u) => setStatus(u.status))),
  );
  const el = h(
    'section',
    null,
    h('div', { class: 'row spread' }, h('h1', null, `Consultation at ${formatTime(c.start)}`), badgeSlot),
    cameraStatus,
    status,
    info,
    callArea,
    chatPanel,
  );

  // State. The resume token survives a reload of the tab, so the
  // participant gets its place back within the hub's grace period.
  const resumeKey = `bedside.resume.${c.id}`;
  let local: MediaStream | null = null;
  let media: MediaSession | null = null;
  let joined = false;
  let joining: Promise<void> | null = null;
  let resumeToken = sessionStorage.getItem(resumeKey) ?? '';
  let statsTimer: number | undefined;
  let connectionLost = false;
  let lastIce: SignalMessage | null = null;
  // ended is set once the consultation ended, after which nothing joins
  // again. endRequested is set while this tab's end request is in flight.
  let ended = false;
  let endRequested = false;
  const offs: (() => void)[] = [];
  const roster = new Map<string, RosterEntry>();

  // enterState records the call's state for the page and the tests and
  // clears the messages shown for the previous state.
  function enterState(state: 'waiting' | 'admitted' | 'left' | 'ended'): void {
    el.dataset.callState = state;
    status.set('');
    info.set('');
  }

  function renderRoster(): void {
    rosterPanel.hidden = roster.size === 0;
    replace(
      rosterList,
      [...roster.values()].map((r) =>
        h('li', null, personOf(r.user), r.host ? ' (host)' : '', r.presence !== 'active' ? ` · ${r.presence}` : ''),
      ),
    );
  }

  function renderWaiting(entries: RosterEntry[]): void {
    admitPanel.hidden = false;
    if (entries.length === 0) {
      replace(waitingList, h('li', { class: 'muted' }, 'Nobody is waiting.'));
      return;
    }
    replace(
      waitingList,
      entries.map((w) => {
        const admit = h('button', { type: 'button', class: 'primary' }, `Admit ${roleLabel(w.role).toLowerCase()}`);
        const deny = h('button', { type: 'button' }, 'Turn away');
        admit.addEventListener('click', () => void hostAction('admit', w));
        deny.addEventListener('click', () => void hostAction('deny', w));
        return h(
          'li',
          { 'data-participant': w.participant },
          h('div', { class: 'row spread' }, h('span', null, `${capitalize(nameOf(w.user))} is waiting`), h('span', { class: 'row' }, admit, deny)),
        );
      }),
    );
  }

  async function hostAction(type: 'admit' | 'deny', w: RosterEntry): Promise<void> {
    try {
      await sig.request({ type, participant: w.participant });
      const who = nameOf(w.user);
      if (type === 'deny') {
        info.set(`You turned ${who} away. They can enter the waiting room again.`, 'ok');
      } else if (!roster.has(w.participant)) {
        // participant-joined, which may come before this reply, says more.
        info.set(`You let ${who} in. Their video appears here once their connection is ready.`, 'ok');
      }
    } catch (err) {
      status.set(describeError(err), 'error');
    }
  }

  function showRemote(stream: MediaStream): void {
    const v = h('video', { class: 'remote', autoplay: true, playsinline: true, 'data-stream': stream.id, 'aria-label': 'Video of another participant' });
    v.srcObject = stream;
    remoteArea.appendChild(v);
    placeholder.hidden = true;
    stage.dataset.remoteStreams = String(remoteArea.querySelectorAll('video').length);
  }

  function hideRemote(stream: MediaStream): void {
    remoteArea.querySelector(`video[data-stream="${CSS.escape(stream.id)}"]`)?.remove();
    stage.dataset.remoteStreams = String(remoteArea.querySelectorAll('video').length);
    if (!remoteArea.querySelector('video')) {
      placeholder.hidden = false;
      placeholder.textContent = joined ? 'Waiting for the others’ video…' : 'The call has ended.';
    }
  }

  function startMedia(msg: SignalMessage): void {
    lastIce = msg;
    stopMedia();
    media = new MediaSession(sig, iceServersOf(msg), local, {
      onRemoteStream: showRemote,
      onRemoteStreamGone: hideRemote,
      onConnectionState: (s) => {
        if (s === 'connected') {
          status.set('');
          info.set('Connected.', 'ok');
        }
        if (s === 'disconnected') info.set('The connection is unstable. Trying to recover…', 'info');
        if (s === 'failed') status.set('The media connection failed. Trying again…', 'error');
      },
      onError: (m) => status.set(m, 'error'),
    });
    media.start();
    placeholder.hidden = remoteArea.querySelector('video') !== null;
    placeholder.textContent = 'Connecting to the others…';
    statsTimer = window.setInterval(() => void updateStats(), 1000);
  }

  // stopMedia closes the peer connection, which removes the remote videos,
  // and resets the connection facts.
  function stopMedia(): void {
    window.clearInterval(statsTimer);
    media?.close();
    media = null;
    facts.reset();
  }

  async function updateStats(): Promise<void> {
    const current = media;
    if (!current) return;
    const stats = await current.stats();
    if (current === media) facts.update(stats);
  }

  // reconnectMedia replaces the peer connection after the SFU closed its
  // side: the SFU's next peer has new DTLS keys, so the browser needs a new
  // RTCPeerConnection too, with fresh TURN credentials.
  async function reconnectMedia(): Promise<void> {
    info.set('The media connection was lost. Reconnecting…', 'info');
    let ice = lastIce;
    try {
      ice = await sig.request({ type: 'turn' });
    } catch {
      // Keep the earlier servers; their credentials may still be valid.
    }
    if (joined && ice) startMedia(ice);
  }

  function onAdmitted(msg: SignalMessage): void {
    const entries = (msg.roster as RosterEntry[] | undefined) ?? [];
    roster.clear();
    for (const r of entries) roster.set(r.participant, r);
    renderRoster();
    setStatus('in_progress');
    enterState('admitted');
    info.set('You are in the consultation.', 'ok');
    startMedia(msg);
  }

  // onWaiting shows the waiting room. A participant who was in the call
  // lands here when the hub lost his place, for example in a server
  // restart, and must be admitted again.
  function onWaiting(): void {
    const wasAdmitted = el.dataset.callState === 'admitted';
    stopMedia();
    roster.clear();
    renderRoster();
    enterState('waiting');
    info.set(
      wasAdmitted
        ? 'You are in the waiting room again: the connection to the clinic was interrupted, so your clinician must let you in again. Keep this page open.'
        : 'You are in the waiting room. Your clinician will let you in shortly. Keep this page open.',
      'info',
    );
    placeholder.hidden = false;
    placeholder.textContent = 'Waiting room: your clinician will let you in.';
  }

  function onJoined(msg: SignalMessage): void {
    joined = true;
    resumeToken = String(msg.resume ?? '');
    if (resumeToken) sessionStorage.setItem(resumeKey, resumeToken);
    leaveBtn.disabled = false;
    joinBtn.hidden = true;
    endBtn.hidden = msg.host !== true;
    if (msg.host) renderWaiting((msg.waiting as RosterEntry[] | undefined) ?? []);
    if (msg.state !== 'admitted') {
      onWaiting();
      return;
    }
    // The hub kept the SFU peer ("kept", or no media field from a hub
    // that predates it): restart ICE on the same RTCPeerConnection.
    // Otherwise start a new one.
    if (msg.resumed === true && media && msg.media !== 'new') {
      enterState('admitted');
      info.set('Reconnected.', 'ok');
      media.restart();
      return;
    }
    onAdmitted(msg);
  }

  // join sends one join at a time: a reconnect that arrives while a join
  // is in flight waits for it instead of sending a second one.
  function join(): Promise<void> {
    if (ended) return Promise.resolve();
    joining ??= sendJoin().finally(() => (joining = null));
    return joining;
  }

  async function sendJoin(): Promise<void> {
    joinBtn.disabled = true;
    try {
      await cameraReady;
      await sig.connect();
      const req: SignalMessage = { type: 'join', consultation: c.id };
      if (resumeToken) {
        req.resume = resumeToken;
        // Without a peer connection (after a reload), the kept SFU peer is
        // of no use: ask for a new one.
        if (!media) req.media = 'new';
      }
      onJoined(await sig.request(req));
    } catch (err) {
      if (joined && err instanceof SignalError && connectionLostCodes.has(err.code)) {
        // The "reconnected" event joins again.
        return;
      }
      if (resumeToken && err instanceof SignalError && err.code === 'bad-request') {
        // A hub that predates resume fields rejects them: join afresh once.
        resumeToken = '';
        sessionStorage.removeItem(resumeKey);
        return sendJoin();
      }
      if (err instanceof SignalError && err.code === 'outside-window' && (await endedOnServer())) {
        onEnded();
        return;
      }
      status.set(joinErrorMessage(err, c), 'error');
      if (err instanceof SignalError && err.code === 'too-many-joins') {
        // The hub allows a few joins per minute: a retry right away fails too.
        window.setTimeout(() => (joinBtn.disabled = false), 5000);
      } else {
        joinBtn.disabled = false;
      }
    }
  }

  // endedOnServer reports whether the clinic records the consultation as
  // completed, which is how a join after a host's end learns of it.
  async function endedOnServer(): Promise<boolean> {
    try {
      const fresh = await app.api.get<Consultation>(`/api/v1/consultations/${encodeURIComponent(c.id)}`);
      return fresh.status === 'completed';
    } catch {
      return false;
    }
  }

  // endForEveryone asks for confirmation, then sends end. The hub sends
  // ended to every participant, this tab included, before its ok reply.
  async function endForEveryone(): Promise<void> {
    const confirmed = await confirmAction({
      title: 'End the consultation for everyone?',
      paragraphs: [
        'Everyone leaves the call now, and nobody can rejoin it, you included.',
        'The consultation is recorded as completed. Its messages stay available.',
      ],
      confirmLabel: 'End consultation',
      danger: true,
    });
    if (!confirmed || !joined) return;
    endRequested = true;
    endBtn.disabled = true;
    try {
      await sig.request({ type: 'end' });
      onEnded();
    } catch (err) {
      if (err instanceof SignalError && err.code === 'not-started') {
        status.set('The call has not started, so there is nothing to end. Leave the call instead.', 'error');
        leaveBtn.focus();
      } else {
        status.set(describeError(err), 'error');
      }
    } finally {
      endRequested = false;
      endBtn.disabled = false;
    }
  }

  // onEnded closes the call for good after a host ended the consultation:
  // it stops the camera and the peer connection, drops the resume token
  // and hides the call, so nothing rejoins or resumes.
  function onEnded(): void {
    if (ended) return;
    const byMe = endRequested;
    ended = true;
    endCall();
    local?.getTracks().forEach((t) => t.stop());
    localVideo.srcObject = null;
    remoteArea.replaceChildren();
    stage.dataset.remoteStreams = '0';
    callArea.hidden = true;
    setStatus('completed');
    enterState('ended');
    info.set(byMe ? 'You ended the consultation.' : 'The consultation has ended.', 'info');
  }

  // endCall drops the local call state: media, roster and the resume token.
  function endCall(): void {
    joined = false;
    resumeToken = '';
    sessionStorage.removeItem(resumeKey);
    stopMedia();
    roster.clear();
    renderRoster();
    enterState('left');
    endBtn.hidden = true;
  }

  // outOfRoom ends the call after the hub took this participant out of
  // the room (denied, removed, or resumed elsewhere). No leave is sent,
  // and the participant may join again.
  function outOfRoom(message: string): void {
    if (!joined) return;
    endCall();
    joinBtn.hidden = false;
    joinBtn.disabled = false;
    leaveBtn.disabled = true;
    status.set(message, 'error');
  }

  function leave(navigate: boolean): void {
    if (joined) {
      try {
        sig.send({ type: 'leave' });
      } catch {
        // Offline: the hub drops the participant after its grace period.
      }
    }
    endCall();
    if (!navigate) return;
    if (consultationStatus !== 'in_progress') {
      app.go('/consultations');
      return;
    }
    // The consultation continues without this participant, who may come back.
    joinBtn.textContent = 'Rejoin call';
    joinBtn.hidden = false;
    joinBtn.disabled = false;
    leaveBtn.disabled = true;
    placeholder.hidden = false;
    placeholder.textContent = 'You left the call.';
    info.set('You left the call. The consultation is still in progress, so you can rejoin it.', 'info');
    joinBtn.focus();
  }

  offs.push(
    sig.on('admitted', (m) => {
      if (m.consultation === c.id) onAdmitted(m);
    }),
    sig.on('denied', (m) => {
      if (m.consultation === c.id) outOfRoom('The clinician could not see you now. Contact the clinic to arrange another time.');
    }),
    sig.on('removed', (m) => {
      if (m.consultation === c.id) outOfRoom('You were removed from the consultation.');
    }),
    sig.on('ended', (m) => {
      if (m.consultation === c.id) onEnded();
    }),
    sig.on('too-many-connections', (m) => {
      if (joined) endCall();
      joinBtn.hidden = false;
      joinBtn.disabled = false;
      leaveBtn.disabled = true;
      status.set(String(m.message), 'error');
    }),
    sig.on('waiting-list', (m) => {
      if (m.consultation === c.id) renderWaiting((m.waiting as RosterEntry[]) ?? []);
    }),
    sig.on('participant-joined', (m) => {
      const p = m.participant as RosterEntry;
      // A resumed host hears again about everyone in the call: announce
      // only people who are new to the roster.
      const isNew = !roster.has(p.participant);
      roster.set(p.participant, p);
      renderRoster();
      if (isNew && p.user !== me.id) info.set(`${personOf(p.user)} joined the call.`, 'ok');
    }),
    sig.on('participant-left', (m) => {
      const p = m.participant as RosterEntry;
      roster.delete(p.participant);
      renderRoster();
      info.set(`${personOf(p.user)} left the call.`, 'info');
    }),
    sig.on('presence', (m) => {
      const p = roster.get(String(m.participant));
      if (p) {
        p.presence = String(m.status);
        renderRoster();
      }
    }),
    sig.on('media-closed', () => {
      if (joined) void reconnectMedia();
    }),
    sig.on('reconnected', () => {
      if (!joined) return;
      info.set('Reconnected. Returning to the consultation…', 'info');
      void join();
    }),
    sig.on('superseded', () => {
      // The hub closes a connection with 4010 only when its participant
      // resumed on another connection, which only a tab holding this tab's
      // resume token can do: a duplicate of this tab.
      outOfRoom('You are already in this consultation in another tab or window, so this tab left the call. Continue there, or join again here.');
    }),
    sig.onState((s) => {
      if (s === 'reconnecting' && joined) {
        connectionLost = true;
        status.set('The connection to the server was lost. Reconnecting…', 'error');
      }
      // Clear only the message this handler set.
      if (s === 'open' && connectionLost) {
        connectionLost = false;
        status.set('');
      }
    }),
  );

  // Tell the others when this tab is in the background.
  const onVisibility = () => {
    if (!joined || el.dataset.callState !== 'admitted') return;
    try {
      sig.send({ type: 'presence', status: document.hidden ? 'away' : 'active' });
    } catch {
      // Offline: presence resumes with the connection.
    }
  };
  document.addEventListener('visibilitychange', onVisibility);
  offs.push(() => document.removeEventListener('visibilitychange', onVisibility));

  joinBtn.addEventListener('click', () => void join());
  leaveBtn.addEventListener('click', () => leave(true));
  endBtn.addEventListener('click', () => void endForEveryone());
  muteBtn.addEventListener('click', () => {
    const tracks = local?.getAudioTracks() ?? [];
    const muted = muteBtn.getAttribute('aria-pressed') !== 'true';
    tracks.forEach((t) => (t.enabled = !muted));
    muteBtn.setAttribute('aria-pressed', String(muted));
    muteBtn.textContent = muted ? 'Unmute microphone' : 'Mute microphone';
  });
  camBtn.addEventListener('click', () => {
    const tracks = local?.getVideoTracks() ?? [];
    const off = camBtn.getAttribute('aria-pressed') !== 'true';
    tracks.forEach((t) => (t.enabled = !off));
    camBtn.setAttribute('aria-pressed', String(off));
    camBtn.textContent = off ? 'Turn camera on' : 'Turn camera off';
    localVideo.hidden = off;
  });

  if (!isOpen(c)) {
    joinBtn.disabled = true;
    info.set(
      ['completed', 'cancelled', 'no_show'].includes(c.status)
        ? 'This consultation has ended.'
        : `You can join from 15 minutes before ${formatTime(c.start)}.`,
      'info',
    );
  }

  // Camera preview; a blocked camera still allows joining to see and hear.
  const cameraReady = openCamera().then(
    (stream) => {
      local = stream;
      localVideo.srcObject = stream;
      muteBtn.disabled = stream.getAudioTracks().length === 0;
      camBtn.disabled = stream.getVideoTracks().length === 0;
      if (!joined) placeholder.textContent = 'Your camera is on: the small picture shows what the others will see.';
    },
    (err: unknown) => {
      cameraStatus.set(mediaErrorMessage(err), 'error');
      localVideo.hidden = true;
      if (!joined) placeholder.textContent = 'No camera picture. You can still join to see and hear the others.';
    },
  );

  const chatDispose = await mountConsultationChat(app, chatPanel, c, nameOf);

  return {
    el,
    title: 'Consultation',
    dispose: () => {
      leave(false);
      for (const off of offs) off();
      local?.getTracks().forEach((t) => t.stop());
      chatDispose();
    },
  };
}
