// One consultation: details, the waiting room (patients), the admit panel
// (hosts), the call with its connection and encryption facts, and the
// consultation's encrypted chat.

import { describeError } from '../api';
import type { App } from '../app';
import { qualityLabel, quality, routeLabel, summarize, type CallSummary } from '../callstats';
import { formatTime, h, replace, statusLine } from '../dom';
import { MediaSession, mediaErrorMessage, openCamera, type IceServerConfig } from '../media';
import type { Params, View } from '../router';
import { roleLabel } from '../session';
import { SignalError, type SignalMessage } from '../signaling';
import { isOpen, statusBadge, type Consultation } from './consultations';
import { mountConsultationChat } from './chat';
import { appointmentPanel } from './scheduling';

interface RosterEntry {
  participant: string;
  user: string;
  role: string;
  host: boolean;
  presence: string;
  device?: string;
}

interface TurnPart {
  urls: string[];
  username: string;
  credential: string;
}

function iceServersOf(msg: SignalMessage): IceServerConfig[] {
  const servers: IceServerConfig[] = [];
  const list = msg.iceServers as IceServerConfig[] | undefined;
  if (Array.isArray(list)) servers.push(...list);
  const turn = msg.turn as TurnPart | undefined;
  if (turn?.urls?.length) servers.push({ urls: turn.urls, username: turn.username, credential: turn.credential });
  return servers;
}

function joinErrorMessage(err: unknown, c: Consultation): string {
  if (err instanceof SignalError) {
    switch (err.code) {
      case 'outside-window':
        return `This consultation opens shortly before ${formatTime(c.start)} and closes at ${formatTime(c.end)}.`;
      case 'not-found':
      case 'forbidden':
        return 'You are not a participant of this consultation.';
      case 'already-joined':
        return 'You are already in this consultation in another tab or device. Leave there first.';
    }
  }
  return describeError(err);
}

export async function callView(app: App, params: Params): Promise<View> {
  const c = await app.api.get<Consultation>(`/api/v1/consultations/${encodeURIComponent(params.id)}`);
  const me = app.session.me!;
  const sig = app.signaling();
  const status = statusLine('assertive');
  const info = statusLine();

  // Video stage.
  const localVideo = h('video', { class: 'local', autoplay: true, playsinline: true, 'aria-label': 'Your camera' });
  localVideo.muted = true;
  const placeholder = h('div', { class: 'placeholder' }, 'Your camera preview appears here.');
  const remoteArea = h('div', { class: 'remote-area' });
  const stage = h('div', { class: 'stage' }, remoteArea, placeholder, localVideo);

  // Controls.
  const joinBtn = h('button', { type: 'button', class: 'primary' }, me.role === 'patient' ? 'Enter the waiting room' : 'Start the consultation');
  const muteBtn = h('button', { type: 'button', 'aria-pressed': 'false', disabled: true }, 'Mute microphone');
  const camBtn = h('button', { type: 'button', 'aria-pressed': 'false', disabled: true }, 'Turn camera off');
  const leaveBtn = h('button', { type: 'button', class: 'danger', disabled: true }, 'Leave');
  const controls = h('div', { class: 'controls', role: 'group', 'aria-label': 'Call controls' }, joinBtn, muteBtn, camBtn, leaveBtn);

  // Facts about the connection, from getStats.
  const fact = (label: string, testid: string, text = '–') => {
    const dd = h('dd', { 'data-testid': testid }, text);
    return { dt: h('dt', null, label), dd };
  };
  const facts = {
    call: fact('Call', 'call-encryption', 'Not connected'),
    messages: fact('Messages', 'message-encryption', 'End-to-end encrypted: only the participants’ devices can read them'),
    route: fact('Media route', 'media-route', 'Not connected'),
    quality: fact('Quality', 'call-quality'),
    rtt: fact('Round trip', 'call-rtt'),
    video: fact('Video received', 'video-frames', '0 frames'),
    audio: fact('Audio received', 'audio-packets', '0 packets'),
  };
  const factList = h('dl', { class: 'facts' }, ...Object.values(facts).flatMap((f) => [f.dt, f.dd]));
  const connPanel = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'conn-h' },
    h('h2', { id: 'conn-h' }, 'Connection and encryption'),
    factList,
    h(
      'p',
      { class: 'small muted' },
      'Video and sound are encrypted between your device and the clinic’s server (DTLS-SRTP); the server forwards them ' +
        'to the other participants. ',
      h('a', { href: '/privacy' }, 'What this means'),
    ),
  );

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
  const setStatus = (s: string) => replace(badgeSlot, statusBadge(s));

  const el = h(
    'section',
    null,
    h('div', { class: 'row spread' }, h('h1', null, `Consultation at ${formatTime(c.start)}`), badgeSlot),
    status,
    info,
    h(
      'div',
      { class: 'call' },
      h('div', null, stage, controls),
      h('div', null, admitPanel, connPanel, rosterPanel, appointmentPanel(app, c, (u) => setStatus(u.status))),
    ),
    chatPanel,
  );

  // State. The resume token survives a reload of the tab, so the
  // participant gets its place back within the hub's grace period.
  const resumeKey = `bedside.resume.${c.id}`;
  let local: MediaStream | null = null;
  let media: MediaSession | null = null;
  let joined = false;
  let resumeToken = sessionStorage.getItem(resumeKey) ?? '';
  let statsTimer: number | undefined;
  let connectionLost = false;
  let prevSummary: CallSummary | null = null;
  const offs: (() => void)[] = [];
  const roster = new Map<string, RosterEntry>();

  function renderRoster(): void {
    rosterPanel.hidden = roster.size === 0;
    replace(
      rosterList,
      [...roster.values()].map((r) =>
        h('li', null, r.user === me.id ? 'You' : roleLabel(r.role), r.host ? ' (host)' : '', r.presence !== 'active' ? ` · ${r.presence}` : ''),
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
        admit.addEventListener('click', () => void hostAction('admit', w.participant));
        deny.addEventListener('click', () => void hostAction('deny', w.participant));
        return h(
          'li',
          { 'data-participant': w.participant },
          h('div', { class: 'row spread' }, h('span', null, `${roleLabel(w.role)} waiting`), h('span', { class: 'row' }, admit, deny)),
        );
      }),
    );
  }

  async function hostAction(type: 'admit' | 'deny', participant: string): Promise<void> {
    try {
      await sig.request({ type, participant });
      info.set(type === 'admit' ? 'Admitted.' : 'Turned away.', 'ok');
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
    media?.close();
    media = new MediaSession(sig, iceServersOf(msg), local, {
      onRemoteStream: showRemote,
      onRemoteStreamGone: hideRemote,
      onConnectionState: (s) => {
        if (s === 'connected') info.set('Connected.', 'ok');
        if (s === 'disconnected') info.set('The connection is unstable. Trying to recover…', 'info');
        if (s === 'failed') status.set('The media connection failed. Trying again…', 'error');
      },
      onError: (m) => status.set(m, 'error'),
    });
    media.start();
    placeholder.textContent = 'Connecting to the others…';
    window.clearInterval(statsTimer);
    statsTimer = window.setInterval(() => void updateStats(), 1000);
  }

  async function updateStats(): Promise<void> {
    if (!media) return;
    const s = summarize(await media.stats());
    const q = quality(prevSummary, s);
    prevSummary = s;
    facts.call.dd.textContent =
      s.dtlsState === 'connected'
        ? `Encrypted in transit to the server (DTLS-SRTP${s.srtpCipher ? `, ${s.srtpCipher}` : ''})`
        : s.dtlsState
          ? `Setting up encryption (${s.dtlsState})`
          : 'Not connected';
    facts.call.dd.dataset.state = s.dtlsState;
    facts.route.dd.textContent = routeLabel(s.route) + (s.localCandidateType ? ` · ${s.localCandidateType}` : '');
    facts.route.dd.dataset.route = s.route;
    facts.quality.dd.textContent = qualityLabel(q);
    facts.quality.dd.className = `quality-${q}`;
    facts.rtt.dd.textContent = s.rttMs === null ? '–' : `${s.rttMs} ms`;
    facts.video.dd.textContent =
      `${s.videoFramesDecoded} frames` + (s.videoWidth ? ` · ${s.videoWidth}×${s.videoHeight} at ${Math.round(s.videoFramesPerSecond)} fps` : '');
    facts.video.dd.dataset.frames = String(s.videoFramesDecoded);
    facts.audio.dd.textContent = `${s.audioPacketsReceived} packets` + (s.audioEnergy > 0 ? ' · sound detected' : '');
    facts.audio.dd.dataset.packets = String(s.audioPacketsReceived);
    facts.audio.dd.dataset.energy = String(s.audioEnergy);
  }

  // reconnectMedia replaces the peer connection after the SFU closed its
  // side: the SFU's next peer has new DTLS keys, so the browser needs a new
  // RTCPeerConnection too, with fresh TURN credentials.
  let lastIce: SignalMessage | null = null;
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
    el.dataset.callState = 'admitted';
    info.set('You are in the consultation.', 'ok');
    startMedia(msg);
  }

  async function join(): Promise<void> {
    status.set('');
    joinBtn.disabled = true;
    try {
      await cameraReady;
      await sig.connect();
      const msg = await sig.request({ type: 'join', consultation: c.id, ...(resumeToken ? { resume: resumeToken } : {}) });
      joined = true;
      resumeToken = String(msg.resume ?? '');
      if (resumeToken) sessionStorage.setItem(resumeKey, resumeToken);
      leaveBtn.disabled = false;
      joinBtn.hidden = true;
      if (msg.host) renderWaiting((msg.waiting as RosterEntry[] | undefined) ?? []);
      if (msg.state === 'admitted') {
        if (msg.resumed && media) media.restart();
        else onAdmitted(msg);
      } else {
        el.dataset.callState = 'waiting';
        info.set('You are in the waiting room. Your clinician will let you in shortly. Keep this page open.', 'info');
        placeholder.textContent = 'Waiting room: your clinician will let you in.';
      }
    } catch (err) {
      if (resumeToken && err instanceof SignalError && err.code !== 'outside-window') {
        // The saved place has expired: join afresh once.
        resumeToken = '';
        sessionStorage.removeItem(resumeKey);
        return join();
      }
      joinBtn.disabled = false;
      status.set(joinErrorMessage(err, c), 'error');
    }
  }

  function leave(navigate: boolean): void {
    if (joined) {
      try {
        sig.send({ type: 'leave' });
      } catch {
        // Offline: the hub drops the participant after its grace period.
      }
    }
    joined = false;
    resumeToken = '';
    sessionStorage.removeItem(resumeKey);
    el.dataset.callState = 'left';
    media?.close();
    media = null;
    window.clearInterval(statsTimer);
    if (navigate) app.go('/consultations');
  }

  offs.push(
    sig.on('admitted', (m) => {
      if (m.consultation === c.id) onAdmitted(m);
    }),
    sig.on('denied', (m) => {
      if (m.consultation !== c.id) return;
      leave(false);
      status.set('The clinician could not see you now. Contact the clinic to arrange another time.', 'error');
    }),
    sig.on('removed', (m) => {
      if (m.consultation !== c.id) return;
      leave(false);
      status.set('You were removed from the consultation.', 'error');
    }),
    sig.on('waiting-list', (m) => {
      if (m.consultation === c.id) renderWaiting((m.waiting as RosterEntry[]) ?? []);
    }),
    sig.on('participant-joined', (m) => {
      const p = m.participant as RosterEntry;
      roster.set(p.participant, p);
      renderRoster();
    }),
    sig.on('participant-left', (m) => {
      const p = m.participant as RosterEntry;
      roster.delete(p.participant);
      renderRoster();
      info.set(`${roleLabel(p.role)} left the call.`, 'info');
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
      info.set('Reconnected.', 'ok');
      void join();
    }),
    sig.onState((s) => {
      if (s === 'reconnecting' && joined) {
        connectionLost = true;
        status.set('The connection to the server was lost. Reconnecting…', 'error');
      }
      // Clear only the message this handler set, not a camera error.
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
    },
    (err: unknown) => {
      status.set(mediaErrorMessage(err), 'error');
      localVideo.hidden = true;
    },
  );

  const chatDispose = await mountConsultationChat(app, chatPanel, c);

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
