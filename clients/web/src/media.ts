// The media side of a call: camera and microphone, one RTCPeerConnection to
// the SFU, negotiation over the signaling hub, and remote streams.
//
// Negotiation follows the "perfect negotiation" pattern with the browser as
// the polite peer: the browser offers when it adds tracks, the SFU offers
// when other participants' tracks arrive, and on a collision the browser
// rolls back its own offer and answers the SFU's.

import { SignalError, type SignalMessage, type Signaling } from './signaling';
import type { Stat } from './callstats';

export interface IceServerConfig {
  urls: string[];
  username?: string;
  credential?: string;
}

// Plain sentences for getUserMedia failures.
export function mediaErrorMessage(err: unknown): string {
  const name = err instanceof DOMException ? err.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera and microphone are blocked. Allow them for this site in your browser’s settings, then reload the page.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera or microphone was found. Connect one, or join to see and hear the others without sending video.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera or microphone is in use by another app. Close that app, then reload the page.';
    default:
      return `Could not start the camera or microphone: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export async function openCamera(): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } },
  });
}

export interface MediaEvents {
  onRemoteStream(stream: MediaStream): void;
  onRemoteStreamGone(stream: MediaStream): void;
  onConnectionState(state: RTCPeerConnectionState): void;
  onError(message: string): void;
}

export class MediaSession {
  readonly pc: RTCPeerConnection;
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private unsubscribe: (() => void)[] = [];
  private streams = new Map<string, MediaStream>();
  private closed = false;

  constructor(
    private sig: Signaling,
    iceServers: IceServerConfig[],
    private local: MediaStream | null,
    private events: MediaEvents,
  ) {
    this.pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.wire();
  }

  start(): void {
    if (this.local && this.local.getTracks().length > 0) {
      for (const track of this.local.getTracks()) this.pc.addTrack(track, this.local);
    }
    // Receive audio and video from the others even without a local track
    // of that kind.
    const kinds = new Set(this.local?.getTracks().map((t) => t.kind) ?? []);
    if (!kinds.has('audio')) this.pc.addTransceiver('audio', { direction: 'recvonly' });
    if (!kinds.has('video')) this.pc.addTransceiver('video', { direction: 'recvonly' });
  }

  // Ask for new ICE candidates after a network change or a resumed
  // signaling connection.
  restart(): void {
    if (!this.closed) this.pc.restartIce();
  }

  async stats(): Promise<Stat[]> {
    const report = await this.pc.getStats();
    const out: Stat[] = [];
    report.forEach((s: Stat) => out.push(s));
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.pc.close();
    for (const s of this.streams.values()) this.events.onRemoteStreamGone(s);
    this.streams.clear();
  }

  private wire(): void {
    const pc = this.pc;
    pc.addEventListener('negotiationneeded', () => void this.offer());
    pc.addEventListener('icecandidate', (ev) => {
      // A null candidate ends gathering; the hub takes an empty candidate
      // string as the end-of-candidates mark.
      const candidate = ev.candidate ? ev.candidate.toJSON() : { candidate: '' };
      this.trySend({ type: 'candidate', candidate });
    });
    pc.addEventListener('track', (ev) => {
      const stream = ev.streams[0] ?? new MediaStream([ev.track]);
      if (!this.streams.has(stream.id)) {
        this.streams.set(stream.id, stream);
        stream.addEventListener('removetrack', () => {
          if (stream.getTracks().length === 0) this.dropStream(stream);
        });
        this.events.onRemoteStream(stream);
      }
      ev.track.addEventListener('ended', () => {
        if (stream.getTracks().every((t) => t.readyState === 'ended')) this.dropStream(stream);
      });
    });
    pc.addEventListener('connectionstatechange', () => {
      this.events.onConnectionState(pc.connectionState);
      if (pc.connectionState === 'failed') this.restart();
    });
    this.unsubscribe.push(
      this.sig.on('offer', (m) => void this.onOffer(m)),
      this.sig.on('candidate', (m) => void this.onCandidate(m)),
    );
  }

  private dropStream(stream: MediaStream): void {
    if (this.streams.delete(stream.id)) this.events.onRemoteStreamGone(stream);
  }

  private async offer(): Promise<void> {
    if (this.closed) return;
    let sent = '';
    try {
      await this.pc.setLocalDescription();
      const local = this.pc.localDescription;
      if (!local || local.type !== 'offer') return;
      sent = local.sdp;
      const reply = await this.sig.request({ type: 'offer', sdp: local.sdp });
      // A colliding SFU offer may have rolled ours back; its answer is then stale.
      if (reply.type === 'answer' && this.pc.signalingState === 'have-local-offer') {
        await this.pc.setRemoteDescription({ type: 'answer', sdp: String(reply.sdp) });
        await this.flushCandidates();
      }
    } catch (err) {
      if (this.closed) return;
      // Glare: the SFU's crossing offer rolled ours back, and the hub
      // rejects ours with media-failed. The browser raises
      // negotiationneeded again once it answered the SFU, so the offer
      // (an ICE restart too) goes out again without a failure to show.
      const pending = this.pc.signalingState === 'have-local-offer' && this.pc.localDescription?.sdp === sent;
      if (err instanceof SignalError && err.code === 'media-failed' && !pending) return;
      this.events.onError(`The call could not be set up: ${errText(err)}`);
    }
  }

  private async onOffer(msg: SignalMessage): Promise<void> {
    if (this.closed) return;
    try {
      // Being the polite peer, the browser yields on a collision:
      // setRemoteDescription rolls back its own pending offer.
      await this.pc.setRemoteDescription({ type: 'offer', sdp: String(msg.sdp) });
      await this.flushCandidates();
      await this.pc.setLocalDescription();
      const answer = this.pc.localDescription;
      if (answer) this.trySend({ type: 'answer', sdp: answer.sdp });
    } catch (err) {
      if (!this.closed) this.events.onError(`The call could not be updated: ${errText(err)}`);
    }
  }

  private async onCandidate(msg: SignalMessage): Promise<void> {
    const c = msg.candidate as RTCIceCandidateInit | undefined;
    if (!c || this.closed) return;
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(c);
      return;
    }
    await this.addCandidate(c);
  }

  private async flushCandidates(): Promise<void> {
    const queued = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of queued) await this.addCandidate(c);
  }

  private async addCandidate(c: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate(c.candidate ? c : undefined);
    } catch {
      // A candidate for a rolled-back or replaced description is harmless.
    }
  }

  private trySend(msg: SignalMessage): void {
    try {
      this.sig.send(msg);
    } catch {
      // Offline: the resumed connection restarts ICE.
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
