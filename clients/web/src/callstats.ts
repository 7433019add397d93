// Summaries of RTCPeerConnection.getStats() for the call screen: the media
// route (direct to the server or through the TURN relay), the transport
// encryption, what was received and a connection quality label. Pure
// functions over the stats objects, so they are unit-tested without a
// browser. Field names are those of the W3C "Identifiers for WebRTC's
// Statistics API".

export type Stat = Record<string, unknown> & { id: string; type: string };

export type Route = 'direct' | 'relay' | 'unknown';
export type Quality = 'good' | 'fair' | 'poor' | 'unknown';

export interface CallSummary {
  route: Route;
  localCandidateType: string;
  remoteCandidateType: string;
  protocol: string;
  rttMs: number | null;
  dtlsState: string;
  srtpCipher: string;
  dtlsCipher: string;
  tlsVersion: string;
  videoFramesDecoded: number;
  videoFramesPerSecond: number;
  videoWidth: number;
  videoHeight: number;
  audioPacketsReceived: number;
  audioEnergy: number;
  packetsReceived: number;
  packetsLost: number;
  bytesSent: number;
  bytesReceived: number;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

// Find the candidate pair the transport uses: the one named by the
// transport's selectedCandidatePairId, or else a nominated, succeeded pair.
export function selectedPair(stats: Stat[]): Stat | undefined {
  const byId = new Map(stats.map((s) => [s.id, s]));
  for (const s of stats) {
    if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') {
      const pair = byId.get(s.selectedCandidatePairId);
      if (pair) return pair;
    }
  }
  return stats.find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded');
}

// routeOf maps a local candidate type to the route shown to people: a
// "relay" candidate means the media passes through the TURN relay; host,
// srflx and prflx candidates reach the server directly.
export function routeOf(localCandidateType: string): Route {
  switch (localCandidateType) {
    case 'relay':
      return 'relay';
    case 'host':
    case 'srflx':
    case 'prflx':
      return 'direct';
    default:
      return 'unknown';
  }
}

export function summarize(stats: Stat[]): CallSummary {
  const byId = new Map(stats.map((s) => [s.id, s]));
  const pair = selectedPair(stats);
  const local = pair ? byId.get(str(pair.localCandidateId)) : undefined;
  const remote = pair ? byId.get(str(pair.remoteCandidateId)) : undefined;
  const transport = stats.find((s) => s.type === 'transport');
  const localType = str(local?.candidateType);
  const sum: CallSummary = {
    route: routeOf(localType),
    localCandidateType: localType,
    remoteCandidateType: str(remote?.candidateType),
    protocol: str(local?.protocol),
    rttMs: pair && typeof pair.currentRoundTripTime === 'number' ? Math.round(pair.currentRoundTripTime * 1000) : null,
    dtlsState: str(transport?.dtlsState),
    srtpCipher: str(transport?.srtpCipher),
    dtlsCipher: str(transport?.dtlsCipher),
    tlsVersion: str(transport?.tlsVersion),
    videoFramesDecoded: 0,
    videoFramesPerSecond: 0,
    videoWidth: 0,
    videoHeight: 0,
    audioPacketsReceived: 0,
    audioEnergy: 0,
    packetsReceived: 0,
    packetsLost: 0,
    bytesSent: num(transport?.bytesSent),
    bytesReceived: num(transport?.bytesReceived),
  };
  for (const s of stats) {
    if (s.type !== 'inbound-rtp') continue;
    sum.packetsReceived += num(s.packetsReceived);
    sum.packetsLost += Math.max(0, num(s.packetsLost));
    if (s.kind === 'video') {
      sum.videoFramesDecoded += num(s.framesDecoded);
      sum.videoFramesPerSecond = Math.max(sum.videoFramesPerSecond, num(s.framesPerSecond));
      sum.videoWidth = Math.max(sum.videoWidth, num(s.frameWidth));
      sum.videoHeight = Math.max(sum.videoHeight, num(s.frameHeight));
    } else if (s.kind === 'audio') {
      sum.audioPacketsReceived += num(s.packetsReceived);
      sum.audioEnergy += num(s.totalAudioEnergy);
    }
  }
  return sum;
}

// quality rates the connection between two summaries taken a few seconds
// apart, from the packet loss in that interval and the round-trip time.
// The thresholds are estimates of what interactive video tolerates: under
// 2% loss and 150 ms is good, over 8% loss or 400 ms is poor.
// A transport that is not connected has no quality to rate: no packets
// then mean no connection, not a weak network.
export function quality(prev: CallSummary | null, cur: CallSummary): Quality {
  if (cur.dtlsState !== 'connected') return 'unknown';
  if (!prev) return cur.rttMs === null ? 'unknown' : rttQuality(cur.rttMs);
  const received = cur.packetsReceived - prev.packetsReceived;
  const lost = cur.packetsLost - prev.packetsLost;
  if (received + lost <= 0) return cur.packetsReceived > 0 ? 'poor' : 'unknown';
  const loss = lost / (received + lost);
  const byLoss: Quality = loss > 0.08 ? 'poor' : loss > 0.02 ? 'fair' : 'good';
  const byRtt = cur.rttMs === null ? 'good' : rttQuality(cur.rttMs);
  return worst(byLoss, byRtt);
}

function rttQuality(ms: number): Quality {
  if (ms > 400) return 'poor';
  if (ms > 150) return 'fair';
  return 'good';
}

function worst(a: Quality, b: Quality): Quality {
  const order: Quality[] = ['unknown', 'good', 'fair', 'poor'];
  return order.indexOf(a) > order.indexOf(b) ? a : b;
}

export function routeLabel(route: Route): string {
  switch (route) {
    case 'direct':
      return 'Direct to the clinic’s server';
    case 'relay':
      return 'Through the clinic’s relay (TURN)';
    default:
      return 'Connecting…';
  }
}

// encryptionLabel describes the transport encryption from the DTLS state
// (RTCDtlsTransportState: new, connecting, connected, closed, failed).
export function encryptionLabel(dtlsState: string, srtpCipher: string): string {
  switch (dtlsState) {
    case 'connected':
      return `Encrypted in transit to the server (DTLS-SRTP${srtpCipher ? `, ${srtpCipher}` : ''})`;
    case 'new':
    case 'connecting':
      return 'Setting up encryption…';
    case 'failed':
      return 'Encryption could not be set up. Reconnecting…';
    default:
      return 'Not connected';
  }
}

export function qualityLabel(q: Quality): string {
  switch (q) {
    case 'good':
      return 'Good';
    case 'fair':
      return 'Fair: the picture may stutter';
    case 'poor':
      return 'Poor: try moving closer to your router or turning your camera off';
    default:
      return 'Measuring…';
  }
}
