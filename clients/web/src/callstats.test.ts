import { describe, expect, it } from 'vitest';
import { encryptionLabel, quality, qualityLabel, routeOf, selectedPair, summarize, type CallSummary, type Stat } from './callstats';

function report(localType: string, extra: Stat[] = []): Stat[] {
  return [
    { id: 'T1', type: 'transport', selectedCandidatePairId: 'CP1', dtlsState: 'connected', srtpCipher: 'AES_CM_128_HMAC_SHA1_80', dtlsCipher: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', tlsVersion: 'FEFD', bytesSent: 10, bytesReceived: 20 },
    { id: 'CP0', type: 'candidate-pair', localCandidateId: 'L0', remoteCandidateId: 'R1', nominated: false, state: 'failed' },
    { id: 'CP1', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R1', nominated: true, state: 'succeeded', currentRoundTripTime: 0.0123 },
    { id: 'L0', type: 'local-candidate', candidateType: 'host', protocol: 'udp' },
    { id: 'L1', type: 'local-candidate', candidateType: localType, protocol: 'udp' },
    { id: 'R1', type: 'remote-candidate', candidateType: 'host', protocol: 'udp' },
    ...extra,
  ];
}

describe('routeOf', () => {
  it.each([
    ['relay', 'relay'],
    ['host', 'direct'],
    ['srflx', 'direct'],
    ['prflx', 'direct'],
    ['', 'unknown'],
  ])('maps candidate type %s to %s', (type, want) => {
    expect(routeOf(type)).toBe(want);
  });
});

describe('summarize', () => {
  it('uses the pair the transport selected', () => {
    const s = summarize(report('relay'));
    expect(s.route).toBe('relay');
    expect(s.localCandidateType).toBe('relay');
    expect(s.rttMs).toBe(12);
    expect(s.dtlsState).toBe('connected');
    expect(s.srtpCipher).toBe('AES_CM_128_HMAC_SHA1_80');
  });

  it('falls back to the nominated succeeded pair', () => {
    const stats = report('srflx').map((s) => (s.type === 'transport' ? { ...s, selectedCandidatePairId: undefined } : s));
    expect(selectedPair(stats)?.id).toBe('CP1');
    expect(summarize(stats).route).toBe('direct');
  });

  it('reports unknown before a pair is selected', () => {
    const s = summarize([{ id: 'T1', type: 'transport', dtlsState: 'new' }]);
    expect(s.route).toBe('unknown');
    expect(s.rttMs).toBeNull();
  });

  it('adds up inbound audio and video', () => {
    const s = summarize(
      report('host', [
        { id: 'IV', type: 'inbound-rtp', kind: 'video', framesDecoded: 120, framesPerSecond: 29, frameWidth: 640, frameHeight: 480, packetsReceived: 300, packetsLost: 3 },
        { id: 'IA', type: 'inbound-rtp', kind: 'audio', packetsReceived: 250, packetsLost: -1, totalAudioEnergy: 0.5 },
      ]),
    );
    expect(s.videoFramesDecoded).toBe(120);
    expect(s.videoWidth).toBe(640);
    expect(s.audioPacketsReceived).toBe(250);
    expect(s.audioEnergy).toBe(0.5);
    expect(s.packetsReceived).toBe(550);
    expect(s.packetsLost).toBe(3); // negative loss (duplicates) counts as none
  });
});

describe('quality', () => {
  const base = summarize(report('host'));
  const at = (received: number, lost: number, rttMs: number | null): CallSummary => ({ ...base, packetsReceived: received, packetsLost: lost, rttMs });

  it.each([
    ['no loss, low rtt', at(1000, 0, 20), 'good'],
    ['5% loss', at(950, 50, 20), 'fair'],
    ['10% loss', at(900, 100, 20), 'poor'],
    ['high rtt', at(1000, 0, 500), 'poor'],
    ['medium rtt', at(1000, 0, 200), 'fair'],
  ])('rates %s', (_, cur, want) => {
    expect(quality(at(0, 0, 20), cur)).toBe(want);
  });

  it('rates a stalled stream as poor', () => {
    expect(quality(at(500, 0, 20), at(500, 0, 20))).toBe('poor');
  });

  it('rates from rtt alone without a previous sample', () => {
    expect(quality(null, at(10, 0, 30))).toBe('good');
    expect(quality(null, at(0, 0, null))).toBe('unknown');
  });

  it.each(['closed', 'failed', 'connecting', ''])('does not rate a transport in DTLS state %j', (state) => {
    const stalled = { ...at(500, 0, 20), dtlsState: state };
    expect(quality(at(500, 0, 20), stalled)).toBe('unknown');
    expect(qualityLabel(quality(at(500, 0, 20), stalled))).not.toMatch(/router/);
  });
});

describe('encryptionLabel', () => {
  it.each([
    ['connected', 'AES_CM_128_HMAC_SHA1_80', 'Encrypted in transit to the server (DTLS-SRTP, AES_CM_128_HMAC_SHA1_80)'],
    ['connected', '', 'Encrypted in transit to the server (DTLS-SRTP)'],
    ['new', '', 'Setting up encryption…'],
    ['connecting', '', 'Setting up encryption…'],
    ['failed', '', 'Encryption could not be set up. Reconnecting…'],
    ['closed', 'AES_CM_128_HMAC_SHA1_80', 'Not connected'],
    ['', '', 'Not connected'],
  ])('describes DTLS state %j', (state, cipher, want) => {
    expect(encryptionLabel(state, cipher)).toBe(want);
  });
});
