// k6 load test for POST /api/v1/waiting-queue/join, same contract as the service's
// scripts/perf/k6-waiting-queue-join.js (env vars, custom metrics, thresholds), plus a
// per-replica counter so a run can show that the load balancer spread the load.
//
//   k6 run demo/perf/waiting-queue-join.js --summary-export summary.json \
//     -e API_HOST=http://127.0.0.1:8080 -e VUS=60 -e DURATION=60s -e INSTANCES=app-1,app-2
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';

function env(name, fallback) {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

const API_HOST = env('API_HOST', 'http://127.0.0.1:8080').replace(/\/+$/, '');
const CONCERT_ID = Number(env('CONCERT_ID', '1'));
const VUS = Number(env('VUS', '60'));
const DURATION = env('DURATION', '60s');
const SLEEP_MAX_SEC = Number(env('SLEEP_MAX_SEC', '0.2'));
const USER_ID_BASE = Number(env('USER_ID_BASE', '900000000'));
// Replica ids expected behind the load balancer (X-Instance values), comma-separated.
const INSTANCES = env('INSTANCES', '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s.length > 0);

const VALID_STATUSES = ['WAITING', 'ACTIVE', 'REJECTED'];

const joinAccepted = new Counter('join_accepted');
const joinRejected = new Counter('join_rejected');
const joinUnknown = new Counter('join_unknown');
const joinHttpError = new Counter('join_http_error');
const joinValidStatusRate = new Rate('join_valid_status_rate');
const joinByInstance = new Counter('join_by_instance');

const thresholds = {
  http_req_failed: ['rate==0'],
  http_req_duration: ['p(95)<700', 'p(99)<1200'],
  checks: ['rate==1'],
};
// k6 only reports a tagged submetric in the summary when a threshold names it,
// so declare an always-true threshold per expected replica.
for (const id of INSTANCES) {
  thresholds[`join_by_instance{instance:${id}}`] = ['count>=0'];
}

export const options = {
  vus: VUS,
  duration: DURATION,
  thresholds,
};

export default function () {
  // Unique per VU and iteration, so every request is a new queue entry.
  const userId = USER_ID_BASE + __VU * 1000000 + __ITER;
  const res = http.post(
    `${API_HOST}/api/v1/waiting-queue/join`,
    JSON.stringify({ userId, concertId: CONCERT_ID }),
    { headers: { 'Content-Type': 'application/json' }, tags: { name: 'waiting-queue-join' } },
  );

  if (res.status !== 0) {
    joinByInstance.add(1, { instance: res.headers['X-Instance'] || 'unknown' });
  }

  let status = null;
  if (res.status === 200) {
    try {
      status = res.json('status');
    } catch (e) {
      status = null;
    }
  }
  const valid = res.status === 200 && VALID_STATUSES.includes(status);

  check(res, {
    'join status is 200': (r) => r.status === 200,
    'join returns WAITING/ACTIVE/REJECTED': () => valid,
  });

  // Add 0 rather than nothing, so every counter shows up in the summary even when unused.
  const httpError = res.status !== 200;
  joinHttpError.add(httpError ? 1 : 0);
  joinAccepted.add(!httpError && (status === 'WAITING' || status === 'ACTIVE') ? 1 : 0);
  joinRejected.add(!httpError && status === 'REJECTED' ? 1 : 0);
  joinUnknown.add(!httpError && !valid ? 1 : 0);
  joinValidStatusRate.add(valid);

  if (SLEEP_MAX_SEC > 0) {
    sleep(Math.random() * SLEEP_MAX_SEC);
  }
}
