// @vitest-environment jsdom
import { act, type ComponentProps, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GradesTable } from './components/GradesTable';
import { LiveTotal } from './components/LiveTotal';
import { PassFail } from './components/PassFail';
import { RecentFeed } from './components/RecentFeed';
import { RouteComparison } from './components/RouteComparison';
import { StudentsLive } from './components/StudentsLive';
import { TopCourses } from './components/TopCourses';
import { TopStudents } from './components/TopStudents';
import type { Endpoints } from './lib/config';
import type { Course, Grade, RouteStats } from './lib/types';
import { RealtimeProvider, type SocketLike } from './realtime';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

// Every panel draws its frame with ui's <Panel>, which is not memoised: it renders exactly when the
// panel component around it renders. Counting its renders by test id counts the panels' renders.
const panelRenders = vi.hoisted(() => new Map<string, number>());
vi.mock('./components/ui', async (importOriginal) => {
  const ui = await importOriginal<typeof import('./components/ui')>();
  return {
    ...ui,
    Panel: (props: ComponentProps<typeof ui.Panel>) => {
      panelRenders.set(props.testId ?? '?', (panelRenders.get(props.testId ?? '?') ?? 0) + 1);
      return ui.Panel(props);
    },
  };
});

/** Stands in for the Socket.IO connection: the test fires the server's pushes itself. */
class FakeSocket implements SocketLike {
  connected = false;
  emitted: [string, unknown[]][] = [];
  private listeners = new Map<string, ((...args: never[]) => void)[]>();
  io = { on: () => this.io, removeAllListeners: () => this.io };
  on(event: string, listener: (...args: never[]) => void) {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  emit(event: string, ...args: unknown[]) {
    this.emitted.push([event, args]);
    return this;
  }
  removeAllListeners() {
    this.listeners.clear();
    return this;
  }
  disconnect() {
    this.connected = false;
    return this;
  }
  fire(event: string, ...args: unknown[]) {
    if (event === 'connect') this.connected = true;
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }
}

const endpoints: Endpoints = { apiBase: 'http://realtime.test', socketOrigin: 'http://realtime.test', socketPath: '/socket.io' };
const courses: Course[] = [{ code: 'SO1', name: 'Sistemas Operativos 1' }];
const grade = (id: number): Grade => ({
  id,
  carnet: 201900000 + id,
  nombre: `Alumno ${id}`,
  curso: 'SO1',
  nota: 80,
  semestre: '2S',
  year: 2024,
  route: 'rest',
  created_at: '2026-11-28T00:00:00Z',
});
const routes: RouteStats = {
  window_seconds: 60,
  routes: [
    { route: 'grpc', stored: 1, requests: 1, throughput_per_sec: 0.1, p50_ms: 2, p50_interval_ms: null, p99_ms: 3 },
    { route: 'rest', stored: 2, requests: 2, throughput_per_sec: 0.2, p50_ms: 2, p50_interval_ms: null, p99_ms: 3 },
  ],
};

/** Every panel of the dashboard, with the test id of its <Panel>. */
const PANEL_IDS = {
  LiveTotal: 'panel-total',
  RouteComparison: 'panel-routes',
  RecentFeed: 'panel-feed',
  StudentsLive: 'panel-students',
  PassFail: 'panel-passfail',
  TopCourses: 'panel-topcourses',
  TopStudents: 'panel-topstudents',
  GradesTable: 'panel-grades',
} as const;
type PanelName = keyof typeof PANEL_IDS;
const PANELS = Object.keys(PANEL_IDS) as PanelName[];
const FETCH_ONLY: PanelName[] = ['PassFail', 'TopCourses', 'TopStudents', 'GradesTable'];

function panel(name: PanelName): ReactNode {
  switch (name) {
    case 'LiveTotal':
      return <LiveTotal />;
    case 'RouteComparison':
      return <RouteComparison />;
    case 'RecentFeed':
      return <RecentFeed />;
    case 'StudentsLive':
      return <StudentsLive courses={courses} defaultTerm={null} />;
    case 'PassFail':
      return <PassFail courses={courses} defaultTerm={null} refreshAll={0} />;
    case 'TopCourses':
      return <TopCourses defaultTerm={null} refreshAll={0} />;
    case 'TopStudents':
      return <TopStudents refreshAll={0} />;
    case 'GradesTable':
      return <GradesTable courses={courses} refreshAll={0} />;
  }
}

describe('RealtimeProvider: a push re-renders only the panels that show it', () => {
  let container: HTMLDivElement;
  let root: Root;
  let socket: FakeSocket;

  beforeEach(async () => {
    // The fetching panels' requests never answer: they stay "loading", so only pushes can change them.
    vi.stubGlobal('fetch', vi.fn(() => new Promise(() => undefined)));
    socket = new FakeSocket();
    panelRenders.clear();
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
    act(() => {
      root.render(
        <RealtimeProvider endpoints={endpoints} connect={() => socket}>
          {PANELS.map((name) => (
            <div key={name}>{panel(name)}</div>
          ))}
        </RealtimeProvider>,
      );
    });
    act(() => {
      socket.fire('connect');
    });
    // Let the year filters' debounce settle before counting.
    await act(async () => new Promise((resolve) => setTimeout(resolve, 500)));
  });

  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    vi.unstubAllGlobals();
  });

  const renders = (): Record<PanelName, number> =>
    Object.fromEntries(PANELS.map((p) => [p, panelRenders.get(PANEL_IDS[p]) ?? 0])) as Record<PanelName, number>;
  const snapshot = renders;
  const rerendered = (before: Record<PanelName, number>) => {
    const now = renders();
    return PANELS.filter((p) => now[p] !== before[p]);
  };

  it('every panel rendered (the counts are real)', () => {
    const counts = renders();
    for (const p of PANELS) expect(counts[p], p).toBeGreaterThan(0);
  });

  it('a `total` push re-renders the live total and the route panel, not the fetching panels', () => {
    const before = snapshot();
    act(() => {
      socket.fire('total', { total: 42, route_count: { grpc: 40, rest: 2 } });
    });
    expect(container.querySelector('[data-testid="live-total"]')?.getAttribute('data-value')).toBe('42');
    const changed = rerendered(before);
    expect(changed).toContain('LiveTotal');
    expect(changed).toContain('RouteComparison');
    for (const p of [...FETCH_ONLY, 'RecentFeed', 'StudentsLive'] as PanelName[]) expect(changed).not.toContain(p);
  });

  it('a `recent_grades` push re-renders only the feed', () => {
    const before = snapshot();
    act(() => {
      socket.fire('recent_grades', [grade(1), grade(2)]);
    });
    expect(container.querySelectorAll('[data-testid="recent-item"]').length).toBe(2);
    expect(rerendered(before)).toEqual(['RecentFeed']);
  });

  it('a `routes` push re-renders the panels that show route figures, not the fetching panels', () => {
    const before = snapshot();
    act(() => {
      socket.fire('routes', routes);
    });
    expect(container.querySelector('[data-testid="routes-samples-rest"]')?.textContent).toBe('2');
    const changed = rerendered(before);
    expect(changed).toContain('RouteComparison');
    for (const p of [...FETCH_ONLY, 'RecentFeed', 'StudentsLive'] as PanelName[]) expect(changed).not.toContain(p);
  });

  it('a `students` push for the subscribed term re-renders only the students panel', () => {
    const [, [selection]] = socket.emitted.filter(([event]) => event === 'subscribe_students').at(-1)!;
    const before = snapshot();
    act(() => {
      socket.fire('students', { ...(selection as object), students: 7 });
    });
    expect(container.querySelector('[data-testid="students-count"]')?.getAttribute('data-value')).toBe('7');
    expect(rerendered(before)).toEqual(['StudentsLive']);
  });

  it('the fetching panels never re-render across a burst of pushes of every kind', () => {
    const before = snapshot();
    act(() => {
      for (let i = 0; i < 20; i++) {
        socket.fire('total', { total: 100 + i, route_count: { grpc: 50, rest: 50 + i } });
        socket.fire('recent_grades', [grade(10 + i)]);
        socket.fire('routes', routes);
      }
    });
    const after = renders();
    for (const p of FETCH_ONLY) expect(after[p], p).toBe(before[p]);
    expect(after.LiveTotal).toBeGreaterThan(before.LiveTotal);
    expect(after.RecentFeed).toBeGreaterThan(before.RecentFeed);
  });
});
