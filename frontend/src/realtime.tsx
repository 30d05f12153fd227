import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef, useState, type ReactNode } from 'react';
import { io } from 'socket.io-client';
import { makeApi, type Api } from './lib/api';
import type { Endpoints } from './lib/config';
import { connReducer, initialConn, type ConnState } from './lib/connection';
import { mergeRecent } from './lib/feed';
import { appendThroughput, type ThroughputPoint } from './lib/routes';
import type { Grade, RouteStats, StudentsEvent, StudentsSelection, TotalEvent } from './lib/types';

/*
 * The realtime state is split by how often it changes, one context each, so a Socket.IO push
 * re-renders only the components that show what it carries:
 *   - RealtimeApi: endpoints, the HTTP client and subscribeStudents. Never changes after mount:
 *     the panels that only fetch (pass/fail, top courses, top students, grades) read only this.
 *   - ConnState: the connection indicator (changes on connect/disconnect).
 *   - LiveTotals (`total` push), RecentGrades (`recent_grades`), RouteLive (`routes`),
 *     StudentsLive (`students`): one per push.
 */

/** The stable part: the same object for the provider's lifetime. */
export interface RealtimeApi {
  endpoints: Endpoints;
  api: Api;
  /** Leaves the previous students room and joins this one (re-sent after every reconnect). */
  subscribeStudents: (sel: StudentsSelection | null) => void;
}

export interface RouteLive {
  routes: RouteStats | null;
  /** When the last `routes` sample arrived (ms), null before the first. */
  routesAt: number | null;
  throughput: ThroughputPoint[];
}

export interface StudentsLiveState {
  students: StudentsEvent | null;
  studentsError: string | null;
}

/** The few Socket.IO calls the provider makes; `io()` in the app, a fake in unit tests. */
export interface SocketLike {
  connected: boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  removeAllListeners(): unknown;
  disconnect(): unknown;
  io: { on(event: string, listener: (...args: never[]) => void): unknown; removeAllListeners(): unknown };
}

export type ConnectSocket = (endpoints: Endpoints) => SocketLike;

const connectSocketIo: ConnectSocket = (endpoints) =>
  io(endpoints.socketOrigin, {
    path: endpoints.socketPath,
    // WebSocket first (no CORS, no sticky sessions needed); long-polling if it cannot open.
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    timeout: 8000,
  });

const ApiCtx = createContext<RealtimeApi | null>(null);
const ConnCtx = createContext<ConnState | null>(null);
const TotalsCtx = createContext<TotalEvent | null | undefined>(undefined);
const RecentCtx = createContext<Grade[] | null>(null);
const RoutesCtx = createContext<RouteLive | null>(null);
const StudentsCtx = createContext<StudentsLiveState | null>(null);

function required<T>(value: T | null | undefined, hook: string): T {
  if (value === null || value === undefined) throw new Error(`${hook} outside <RealtimeProvider>`);
  return value;
}

/** Endpoints, the HTTP client and subscribeStudents: never re-renders on a push. */
export function useRealtimeApi(): RealtimeApi {
  return required(useContext(ApiCtx), 'useRealtimeApi');
}

export function useConnection(): ConnState {
  return required(useContext(ConnCtx), 'useConnection');
}

/** The last `total` push (or `GET /api/live` while the socket is down); null before the first. */
export function useLiveTotals(): TotalEvent | null {
  const v = useContext(TotalsCtx);
  if (v === undefined) throw new Error('useLiveTotals outside <RealtimeProvider>');
  return v;
}

/** The newest grades from `recent_grades` pushes, newest first. */
export function useRecentGrades(): Grade[] {
  return required(useContext(RecentCtx), 'useRecentGrades');
}

export function useRouteLive(): RouteLive {
  return required(useContext(RoutesCtx), 'useRouteLive');
}

export function useStudentsLive(): StudentsLiveState {
  return required(useContext(StudentsCtx), 'useStudentsLive');
}

/** Without a `routes` push for this long, poll `GET /api/stats/routes` instead. */
const ROUTES_STALE_MS = 5000;
const FALLBACK_POLL_MS = 5000;

function sameSelection(a: StudentsSelection | null, b: { curso: string; semestre: string; year: number }): boolean {
  return !!a && a.curso === b.curso && a.semestre === b.semestre && Number(a.year) === Number(b.year);
}

export function RealtimeProvider({
  endpoints,
  connect = connectSocketIo,
  children,
}: {
  endpoints: Endpoints;
  /** How the Socket.IO connection is opened (unit tests pass a fake). */
  connect?: ConnectSocket;
  children: ReactNode;
}) {
  const api = useMemo(() => makeApi(endpoints.apiBase), [endpoints.apiBase]);
  const [conn, dispatch] = useReducer(connReducer, initialConn);
  const [live, setLive] = useState<TotalEvent | null>(null);
  const [recent, setRecent] = useState<Grade[]>([]);
  const [routes, setRoutesState] = useState<{ stats: RouteStats; at: number } | null>(null);
  const [throughput, setThroughput] = useState<ThroughputPoint[]>([]);
  const [students, setStudents] = useState<StudentsEvent | null>(null);
  const [studentsError, setStudentsError] = useState<string | null>(null);

  const socketRef = useRef<SocketLike | null>(null);
  const selectionRef = useRef<StudentsSelection | null>(null);
  const routesAtRef = useRef<number>(0);
  const connectedRef = useRef(false);

  const acceptRoutes = useCallback((stats: RouteStats) => {
    if (!stats || !Array.isArray(stats.routes)) return;
    const at = Date.now();
    routesAtRef.current = at;
    setRoutesState({ stats, at });
    setThroughput((h) => appendThroughput(h, stats, Math.floor(at / 1000) * 1000));
  }, []);

  useEffect(() => {
    const socket = connect(endpoints);
    socketRef.current = socket;

    socket.on('connect', () => {
      connectedRef.current = true;
      dispatch({ type: 'connect' });
      const sel = selectionRef.current;
      if (sel) socket.emit('subscribe_students', sel);
    });
    socket.on('disconnect', (reason: string) => {
      connectedRef.current = false;
      dispatch({ type: 'disconnect', reason });
    });
    socket.on('connect_error', (err: Error | undefined) => dispatch({ type: 'connect_error', message: err?.message ?? 'connect error' }));
    socket.io.on('reconnect_attempt', (attempt: number) => dispatch({ type: 'reconnect_attempt', attempt }));

    socket.on('total', (ev: TotalEvent) => {
      if (ev && typeof ev.total === 'number') setLive(ev);
    });
    socket.on('recent_grades', (grades: Grade[]) => setRecent((prev) => mergeRecent(prev, grades)));
    socket.on('routes', (stats: RouteStats) => acceptRoutes(stats));
    socket.on('students', (ev: StudentsEvent) => {
      if (ev && sameSelection(selectionRef.current, ev)) {
        setStudents(ev);
        setStudentsError(null);
      }
    });
    socket.on('error', (ev: { message?: string } | undefined) => setStudentsError(ev?.message ?? 'The realtime service rejected the request'));

    const onOffline = () => dispatch({ type: 'browser_offline' });
    const onOnline = () => dispatch({ type: 'browser_online' });
    window.addEventListener('offline', onOffline);
    window.addEventListener('online', onOnline);

    return () => {
      window.removeEventListener('offline', onOffline);
      window.removeEventListener('online', onOnline);
      socket.removeAllListeners();
      socket.io.removeAllListeners();
      socket.disconnect();
      socketRef.current = null;
      connectedRef.current = false;
    };
  }, [endpoints, connect, acceptRoutes]);

  // HTTP fallback: while the socket is down (or routes pushes stop), poll the same data.
  useEffect(() => {
    let ctrl: AbortController | null = null;
    const tick = () => {
      if (document.hidden) return;
      ctrl?.abort();
      ctrl = new AbortController();
      const signal = ctrl.signal;
      if (Date.now() - routesAtRef.current > ROUTES_STALE_MS) {
        api.routes(signal).then(acceptRoutes, () => undefined);
      }
      if (!connectedRef.current) {
        api.live(signal).then(
          (ev) => {
            if (!connectedRef.current && ev && typeof ev.total === 'number') setLive(ev);
          },
          () => undefined,
        );
      }
    };
    const first = window.setTimeout(tick, 2500);
    const id = window.setInterval(tick, FALLBACK_POLL_MS);
    return () => {
      window.clearTimeout(first);
      window.clearInterval(id);
      ctrl?.abort();
    };
  }, [api, acceptRoutes]);

  const subscribeStudents = useCallback((sel: StudentsSelection | null) => {
    const prev = selectionRef.current;
    if (prev && sel && sameSelection(prev, sel)) return;
    selectionRef.current = sel;
    setStudents(null);
    setStudentsError(null);
    const socket = socketRef.current;
    if (sel && socket?.connected) socket.emit('subscribe_students', sel);
  }, []);

  const stable = useMemo<RealtimeApi>(() => ({ endpoints, api, subscribeStudents }), [endpoints, api, subscribeStudents]);
  const routeLive = useMemo<RouteLive>(
    () => ({ routes: routes?.stats ?? null, routesAt: routes?.at ?? null, throughput }),
    [routes, throughput],
  );
  const studentsLive = useMemo<StudentsLiveState>(() => ({ students, studentsError }), [students, studentsError]);

  return (
    <ApiCtx.Provider value={stable}>
      <ConnCtx.Provider value={conn}>
        <TotalsCtx.Provider value={live}>
          <RecentCtx.Provider value={recent}>
            <RoutesCtx.Provider value={routeLive}>
              <StudentsCtx.Provider value={studentsLive}>{children}</StudentsCtx.Provider>
            </RoutesCtx.Provider>
          </RecentCtx.Provider>
        </TotalsCtx.Provider>
      </ConnCtx.Provider>
    </ApiCtx.Provider>
  );
}
