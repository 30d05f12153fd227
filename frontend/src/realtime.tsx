import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef, useState, type ReactNode } from 'react';
import { io, type Socket } from 'socket.io-client';
import { makeApi, type Api } from './lib/api';
import type { Endpoints } from './lib/config';
import { connReducer, initialConn, type ConnState } from './lib/connection';
import { mergeRecent } from './lib/feed';
import { appendThroughput, type ThroughputPoint } from './lib/routes';
import type { Grade, RouteStats, StudentsEvent, StudentsSelection, TotalEvent } from './lib/types';

export interface Realtime {
  endpoints: Endpoints;
  api: Api;
  conn: ConnState;
  live: TotalEvent | null;
  recent: Grade[];
  routes: RouteStats | null;
  routesAt: number | null;
  throughput: ThroughputPoint[];
  students: StudentsEvent | null;
  studentsError: string | null;
  /** Leaves the previous students room and joins this one (re-sent after every reconnect). */
  subscribeStudents: (sel: StudentsSelection | null) => void;
}

const Ctx = createContext<Realtime | null>(null);

export function useRealtime(): Realtime {
  const v = useContext(Ctx);
  if (!v) throw new Error('useRealtime outside <RealtimeProvider>');
  return v;
}

/** Without a `routes` push for this long, poll `GET /api/stats/routes` instead. */
const ROUTES_STALE_MS = 5000;
const FALLBACK_POLL_MS = 5000;

function sameSelection(a: StudentsSelection | null, b: { curso: string; semestre: string; year: number }): boolean {
  return !!a && a.curso === b.curso && a.semestre === b.semestre && Number(a.year) === Number(b.year);
}

export function RealtimeProvider({ endpoints, children }: { endpoints: Endpoints; children: ReactNode }) {
  const api = useMemo(() => makeApi(endpoints.apiBase), [endpoints.apiBase]);
  const [conn, dispatch] = useReducer(connReducer, initialConn);
  const [live, setLive] = useState<TotalEvent | null>(null);
  const [recent, setRecent] = useState<Grade[]>([]);
  const [routes, setRoutesState] = useState<{ stats: RouteStats; at: number } | null>(null);
  const [throughput, setThroughput] = useState<ThroughputPoint[]>([]);
  const [students, setStudents] = useState<StudentsEvent | null>(null);
  const [studentsError, setStudentsError] = useState<string | null>(null);

  const socketRef = useRef<Socket | null>(null);
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
    const socket = io(endpoints.socketOrigin, {
      path: endpoints.socketPath,
      // WebSocket first (no CORS, no sticky sessions needed); long-polling if it cannot open.
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      timeout: 8000,
    });
    socketRef.current = socket;

    socket.on('connect', () => {
      connectedRef.current = true;
      dispatch({ type: 'connect' });
      const sel = selectionRef.current;
      if (sel) socket.emit('subscribe_students', sel);
    });
    socket.on('disconnect', (reason) => {
      connectedRef.current = false;
      dispatch({ type: 'disconnect', reason });
    });
    socket.on('connect_error', (err) => dispatch({ type: 'connect_error', message: err?.message ?? 'connect error' }));
    socket.io.on('reconnect_attempt', (attempt) => dispatch({ type: 'reconnect_attempt', attempt }));

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
    socket.on('error', (ev: { message?: string }) => setStudentsError(ev?.message ?? 'The realtime service rejected the request'));

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
  }, [endpoints.socketOrigin, endpoints.socketPath, acceptRoutes]);

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

  const value = useMemo<Realtime>(
    () => ({
      endpoints,
      api,
      conn,
      live,
      recent,
      routes: routes?.stats ?? null,
      routesAt: routes?.at ?? null,
      throughput,
      students,
      studentsError,
      subscribeStudents,
    }),
    [endpoints, api, conn, live, recent, routes, throughput, students, studentsError, subscribeStudents],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
