// Signaling payloads of the call view and the texts for join errors.

import { describeError } from '../api';
import { formatTime } from '../dom';
import type { IceServerConfig } from '../media';
import { SignalError, type SignalMessage } from '../signaling';
import type { Consultation } from './consultations';

export interface RosterEntry {
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

export function iceServersOf(msg: SignalMessage): IceServerConfig[] {
  const servers: IceServerConfig[] = [];
  const list = msg.iceServers as IceServerConfig[] | undefined;
  if (Array.isArray(list)) servers.push(...list);
  const turn = msg.turn as TurnPart | undefined;
  if (turn?.urls?.length) servers.push({ urls: turn.urls, username: turn.username, credential: turn.credential });
  return servers;
}

export function joinErrorMessage(err: unknown, c: Consultation): string {
  if (err instanceof SignalError) {
    switch (err.code) {
      case 'outside-window':
        return `This consultation opens shortly before ${formatTime(c.start)} and closes at ${formatTime(c.end)}.`;
      case 'not-found':
      case 'forbidden':
        return 'You are not a participant of this consultation.';
      case 'too-many-joins':
        return 'Too many attempts to join from this tab. Wait a few seconds, then try again.';
      case 'too-many-connections':
        return err.message;
      case 'already-joined':
        // The hub reports this for a second join on the same connection,
        // that is from this tab; another tab has a connection of its own.
        return 'This tab is already in the consultation. Reload the page if the call does not appear.';
    }
  }
  return describeError(err);
}

// Signaling errors after which the connection is being re-established and
// the "reconnected" event joins again.
export const connectionLostCodes = new Set(['closed', 'not-connected', 'timeout']);
