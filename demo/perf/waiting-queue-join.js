// k6 load test for POST /api/v1/waiting-queue/join with the contract of the
// service's scripts/perf/k6-waiting-queue-join.js: the same __ENV inputs, the
// same custom metrics and the same thresholds, nothing more. Which replica
// answered is not the script's business: the xtask measures it from outside.
//
//   k6 run demo/perf/waiting-queue-join.js --summary-export summary.json \
//     -e API_HOST=http://127.0.0.1:18080 -e VUS=60 -e DURATION=60s
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';

function input(name, fallback) {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

const API_HOST = input('API_HOST', 'http://127.0.0.1:8080');
const CONCERT_ID = Number(input('CONCERT_ID', '1'));
const VUS = Number(input('VUS', '60'));
const DURATION = input('DURATION', '60s');
const SLEEP_MAX_SEC = Number(input('SLEEP_MAX_SEC', '0.2'));
const USER_ID_BASE = Number(input('USER_ID_BASE', '900000000'));

const joinAccepted = new Counter('join_accepted');
const joinRejected = new Counter('join_rejected');
const joinUnknown = new Counter('join_unknown');
const joinHttpError = new Counter('join_http_error');
const joinValidStatusRate = new Rate('join_valid_status_rate');

export const options = {
  vus: VUS,
  duration: DURATION,
  thresholds: {
    http_req_failed: ['rate==0'],
    http_req_duration: ['p(95)<700', 'p(99)<1200'],
    checks: ['rate==1'],
    join_valid_status_rate: ['rate==1'],
  },
};

function pause() {
  sleep(Math.random() * SLEEP_MAX_SEC);
}

export default function () {
  // A new queue entry per VU and iteration.
  const userId = USER_ID_BASE + __VU * 100000 + __ITER;
  const res = http.post(
    `${API_HOST}/api/v1/waiting-queue/join`,
    JSON.stringify({ userId, concertId: CONCERT_ID }),
    { headers: { 'Content-Type': 'application/json' } },
  );

  if (!check(res, { 'join HTTP 200': (r) => r.status === 200 })) {
    joinHttpError.add(1);
    joinValidStatusRate.add(false);
    pause();
    return;
  }

  let status = '';
  try {
    status = res.json('status');
  } catch (_) {
    status = '';
  }
  joinValidStatusRate.add(status === 'WAITING' || status === 'ACTIVE' || status === 'REJECTED');
  if (status === 'WAITING' || status === 'ACTIVE') {
    joinAccepted.add(1);
  } else if (status === 'REJECTED') {
    joinRejected.add(1);
  } else {
    joinUnknown.add(1);
  }
  pause();
}
