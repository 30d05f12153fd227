import { describe, expect, it } from 'vitest';
import { buildUrl, problemMessage } from './api';
import { averageAxisMin, averageAxisTicks, toTopCourseBars, toTopStudentBars } from './charts';
import { resolveEndpoints } from './config';
import { connReducer, initialConn, OFFLINE_AFTER_ATTEMPTS } from './connection';
import { describeTerm, newestTerm, parseYear } from './terms';
import type { Grade } from './types';

describe('resolveEndpoints (runtime config)', () => {
  it('uses apiBaseUrl', () => {
    expect(resolveEndpoints({ apiBaseUrl: 'http://localhost:8003' }, 'http://dash:8080')).toEqual({
      apiBase: 'http://localhost:8003',
      socketOrigin: 'http://localhost:8003',
      socketPath: '/socket.io',
    });
  });
  it('falls back to the page origin on empty / missing', () => {
    for (const cfg of [{ apiBaseUrl: '' }, { apiBaseUrl: '   ' }, {}, undefined]) {
      expect(resolveEndpoints(cfg, 'https://grades.example')).toEqual({
        apiBase: 'https://grades.example',
        socketOrigin: 'https://grades.example',
        socketPath: '/socket.io',
      });
    }
  });
  it('keeps a path prefix for HTTP and the socket path, strips trailing slashes', () => {
    expect(resolveEndpoints({ apiBaseUrl: 'https://h.example/realtime/' }, 'https://x')).toEqual({
      apiBase: 'https://h.example/realtime',
      socketOrigin: 'https://h.example',
      socketPath: '/realtime/socket.io',
    });
    expect(resolveEndpoints({ apiBaseUrl: '/rt' }, 'http://page:1').apiBase).toBe('http://page:1/rt');
  });
});

describe('buildUrl / problemMessage', () => {
  it('drops empty params', () => {
    expect(buildUrl('http://h/', '/api/grades', { curso: 'SO1', semestre: '', year: null, limit: 20, cursor: undefined })).toBe(
      'http://h/api/grades?curso=SO1&limit=20',
    );
    expect(buildUrl('http://h', '/api/courses')).toBe('http://h/api/courses');
  });
  it('prefers detail, then title, then status', () => {
    expect(problemMessage(422, { title: 'Unprocessable', detail: 'unknown course XYZ' })).toBe('unknown course XYZ');
    expect(problemMessage(503, { title: 'Service Unavailable' })).toBe('Service Unavailable');
    expect(problemMessage(500, null)).toBe('Request failed (HTTP 500)');
    expect(problemMessage(422, { detail: 'invalid', errors: [{ field: 'year', message: 'out of range' }] })).toBe(
      'invalid (year: out of range)',
    );
    // realtime's style: detail = "{field} {message}", errors repeat it -> no duplicate.
    expect(
      problemMessage(422, { detail: 'year must be between 1990 and 2100', errors: [{ field: 'year', message: 'must be between 1990 and 2100' }] }),
    ).toBe('year must be between 1990 and 2100');
  });
});

describe('charts shaping', () => {
  it('top courses sorted and capped', () => {
    const bars = toTopCourseBars({
      semestre: '2S',
      year: null,
      items: [
        { curso: 'BD1', name: 'Bases 1', students: 5 },
        { curso: 'SO1', name: 'Sistemas Operativos 1', students: 40 },
        { curso: 'LFP', name: '', students: 5 },
        { curso: 'SA', name: 'SA', students: 1 },
      ],
    });
    expect(bars.map((b) => b.curso)).toEqual(['SO1', 'BD1', 'LFP']);
    expect(bars[2].name).toBe('LFP');
  });
  it('top students sorted, labels shortened, axis min', () => {
    const bars = toTopStudentBars(
      {
        semestre: null,
        year: null,
        items: [
          { carnet: 2, nombre: 'Ana', average: 90, grades: 2 },
          { carnet: 1, nombre: 'Un nombre muy pero muy largo', average: 97.5, grades: 4 },
        ],
      },
      5,
      10,
    );
    expect(bars.map((b) => b.carnet)).toEqual([1, 2]);
    expect(bars[0].label).toBe('Un nombre…');
    expect(averageAxisMin(bars)).toBe(80);
    expect(averageAxisMin([])).toBe(0);
    expect(toTopStudentBars(null)).toEqual([]);
  });
});

describe('terms', () => {
  it('describes terms', () => {
    expect(describeTerm({ curso: 'SO1', semestre: '2S', year: 2023 })).toBe('SO1 2S 2023');
    expect(describeTerm({ curso: 'SO1', semestre: '2S', year: null })).toBe('SO1 2S (all years)');
  });
  it('parses years', () => {
    expect(parseYear('')).toEqual({ ok: true, year: null });
    expect(parseYear(' 2099 ')).toEqual({ ok: true, year: 2099 });
    expect(parseYear('20').ok).toBe(false);
    expect(parseYear('abcd').ok).toBe(false);
  });
  it('finds the newest term', () => {
    const grades = [
      { id: 1, curso: 'BD1', semestre: '1S', year: 2022 },
      { id: 9, curso: 'SO1', semestre: '2S', year: 2023 },
    ] as Grade[];
    expect(newestTerm(grades)).toEqual({ curso: 'SO1', semestre: '2S', year: 2023 });
    expect(newestTerm([])).toBeNull();
  });
});

describe('connection state', () => {
  it('connects, drops, reconnects', () => {
    let s = connReducer(initialConn, { type: 'connect' });
    expect(s.status).toBe('connected');
    s = connReducer(s, { type: 'disconnect', reason: 'transport close' });
    expect(s.status).toBe('reconnecting');
    s = connReducer(s, { type: 'connect' });
    expect(s).toEqual({ status: 'connected', attempts: 0, lastError: null, browserOffline: false });
  });
  it('goes offline after repeated failures, back on success', () => {
    let s = initialConn;
    for (let i = 0; i < OFFLINE_AFTER_ATTEMPTS - 1; i++) s = connReducer(s, { type: 'connect_error', message: 'xhr poll error' });
    expect(s.status).toBe('reconnecting');
    s = connReducer(s, { type: 'connect_error', message: 'xhr poll error' });
    expect(s.status).toBe('offline');
    expect(s.lastError).toBe('xhr poll error');
    s = connReducer(s, { type: 'connect' });
    expect(s.status).toBe('connected');
  });
  it('honours browser offline / online and deliberate disconnects', () => {
    let s = connReducer(initialConn, { type: 'browser_offline' });
    expect(s.status).toBe('offline');
    s = connReducer(s, { type: 'browser_online' });
    expect(s.status).toBe('reconnecting');
    expect(connReducer(initialConn, { type: 'disconnect', reason: 'io client disconnect' }).status).toBe('offline');
    const live = connReducer(initialConn, { type: 'connect' });
    expect(connReducer(live, { type: 'reconnect_attempt', attempt: 5 })).toBe(live);
  });
});

describe('averageAxisTicks', () => {
  it('picks round steps', () => {
    expect(averageAxisTicks(80)).toEqual([80, 85, 90, 95, 100]);
    expect(averageAxisTicks(50)).toEqual([50, 60, 70, 80, 90, 100]);
    expect(averageAxisTicks(0)).toEqual([0, 20, 40, 60, 80, 100]);
  });
});
