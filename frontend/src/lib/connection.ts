/** Connection indicator state machine, fed from socket.io-client and browser events. */

export type ConnStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface ConnState {
  status: ConnStatus;
  /** Failed attempts since the last successful connection. */
  attempts: number;
  lastError: string | null;
  /** Browser reports no network at all. */
  browserOffline: boolean;
}

/** After this many failed attempts in a row, show "offline" (socket.io keeps retrying). */
export const OFFLINE_AFTER_ATTEMPTS = 3;

export const initialConn: ConnState = { status: 'connecting', attempts: 0, lastError: null, browserOffline: false };

export type ConnEvent =
  | { type: 'connect' }
  | { type: 'disconnect'; reason: string }
  | { type: 'connect_error'; message: string }
  | { type: 'reconnect_attempt'; attempt: number }
  | { type: 'browser_offline' }
  | { type: 'browser_online' };

function failing(attempts: number, browserOffline: boolean): ConnStatus {
  return browserOffline || attempts >= OFFLINE_AFTER_ATTEMPTS ? 'offline' : 'reconnecting';
}

export function connReducer(s: ConnState, e: ConnEvent): ConnState {
  switch (e.type) {
    case 'connect':
      return { status: 'connected', attempts: 0, lastError: null, browserOffline: false };
    case 'disconnect':
      // "io client disconnect" = we closed it on purpose; it will not come back by itself.
      if (e.reason === 'io client disconnect') return { ...s, status: 'offline', lastError: null };
      return { ...s, status: s.browserOffline ? 'offline' : 'reconnecting', lastError: e.reason };
    case 'connect_error': {
      const attempts = s.attempts + 1;
      return { ...s, attempts, lastError: e.message, status: failing(attempts, s.browserOffline) };
    }
    case 'reconnect_attempt': {
      if (s.status === 'connected') return s;
      const attempts = Math.max(s.attempts, e.attempt);
      return { ...s, attempts, status: failing(attempts, s.browserOffline) };
    }
    case 'browser_offline':
      return s.status === 'connected' ? { ...s, browserOffline: true } : { ...s, browserOffline: true, status: 'offline' };
    case 'browser_online':
      return { ...s, browserOffline: false, status: s.status === 'offline' ? failing(s.attempts, false) : s.status };
  }
}

export const CONN_LABEL: Record<ConnStatus, string> = {
  connecting: 'Connecting',
  connected: 'Live',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
};
