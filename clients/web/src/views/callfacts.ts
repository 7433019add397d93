// The call's "Connection and encryption" panel: facts from getStats(),
// refreshed once a second while a media session exists.

import { encryptionLabel, quality, qualityLabel, routeLabel, summarize, type CallSummary, type Stat } from '../callstats';
import { h } from '../dom';

interface Fact {
  dt: HTMLElement;
  dd: HTMLElement;
  initial: string;
}

function fact(label: string, testid: string, initial = '–'): Fact {
  return { dt: h('dt', null, label), dd: h('dd', { 'data-testid': testid }, initial), initial };
}

export class CallFacts {
  readonly el: HTMLElement;
  private facts = {
    call: fact('Call', 'call-encryption', 'Not connected'),
    messages: fact('Messages', 'message-encryption', 'End-to-end encrypted: only the participants’ devices can read them'),
    route: fact('Media route', 'media-route', 'Not connected'),
    quality: fact('Quality', 'call-quality'),
    rtt: fact('Round trip', 'call-rtt'),
    video: fact('Video received', 'video-frames', '0 frames'),
    audio: fact('Audio received', 'audio-packets', '0 packets'),
  };
  private prev: CallSummary | null = null;

  constructor() {
    const list = h('dl', { class: 'facts' }, ...Object.values(this.facts).flatMap((f) => [f.dt, f.dd]));
    this.el = h(
      'section',
      { class: 'panel', 'aria-labelledby': 'conn-h' },
      h('h2', { id: 'conn-h' }, 'Connection and encryption'),
      list,
      h(
        'p',
        { class: 'small muted' },
        'Video and sound are encrypted between your device and the clinic’s server (DTLS-SRTP); the server forwards them ' +
          'to the other participants. ',
        h('a', { href: '/privacy' }, 'What this means'),
      ),
    );
    this.reset();
  }

  // reset shows the facts of no media session, so counts from an earlier
  // session do not carry over to the next one.
  reset(): void {
    this.prev = null;
    for (const f of Object.values(this.facts)) {
      f.dd.textContent = f.initial;
      f.dd.className = '';
      for (const key of Object.keys(f.dd.dataset)) {
        if (key !== 'testid') delete f.dd.dataset[key];
      }
    }
    const { video, audio } = this.facts;
    video.dd.dataset.frames = '0';
    audio.dd.dataset.packets = '0';
    audio.dd.dataset.energy = '0';
  }

  update(stats: Stat[]): void {
    const s = summarize(stats);
    const q = quality(this.prev, s);
    this.prev = s;
    const { call, route, quality: qual, rtt, video, audio } = this.facts;
    call.dd.textContent = encryptionLabel(s.dtlsState, s.srtpCipher);
    call.dd.dataset.state = s.dtlsState;
    route.dd.textContent = routeLabel(s.route) + (s.localCandidateType ? ` · ${s.localCandidateType}` : '');
    route.dd.dataset.route = s.route;
    qual.dd.textContent = qualityLabel(q);
    qual.dd.className = `quality-${q}`;
    rtt.dd.textContent = s.rttMs === null ? '–' : `${s.rttMs} ms`;
    video.dd.textContent =
      `${s.videoFramesDecoded} frames` + (s.videoWidth ? ` · ${s.videoWidth}×${s.videoHeight} at ${Math.round(s.videoFramesPerSecond)} fps` : '');
    video.dd.dataset.frames = String(s.videoFramesDecoded);
    audio.dd.textContent = `${s.audioPacketsReceived} packets` + (s.audioEnergy > 0 ? ' · sound detected' : '');
    audio.dd.dataset.packets = String(s.audioPacketsReceived);
    audio.dd.dataset.energy = String(s.audioEnergy);
  }
}
