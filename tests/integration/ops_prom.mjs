// Reading /metrics in the ops tests: the real Prometheus text parser, and the
// value of one series by its exact label set.
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export const parseMetrics = (text) => parsePrometheusTextFormat(text);

// The value of the series with exactly these labels (0 when absent: counters
// that never moved are not listed).
export function metricValue(families, name, labels = {}) {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `${name} is exposed`);
  const m = f.metrics.find((s) => {
    const l = s.labels ?? {};
    return Object.keys(l).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => l[k] === v);
  });
  return m ? Number(m.value) : 0;
}
