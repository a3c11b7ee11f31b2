// Line charts by step on a canvas: the Train view's loss, learning-rate and speed charts and
// the Runs view's comparison. Drawing only; the numbers come from the runs' records.

/// Draws `lines` (each `{points: [[step, value]], color, dash?, dots?, label?}`) on `canvas`,
/// with the step axis to `maxStep` (at least the last point's) and the value axis from
/// `floor` (or the smallest value, if lower) to the largest. `format` writes the axis values.
export function plot(canvas, lines, { maxStep = 1, floor = 0, format = (v) => v.toFixed(2) } = {}) {
  const g = canvas.getContext('2d');
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  const points = lines.flatMap((l) => l.points);
  if (!points.length) return;
  const last = Math.max(maxStep, ...points.map(([s]) => s), 1);
  const hi = Math.max(...points.map(([, v]) => v));
  const lo = Math.min(...points.map(([, v]) => v), floor);
  const x = (s) => 50 + (s / last) * (width - 60);
  const y = (v) => height - 20 - ((v - lo) / Math.max(hi - lo, 1e-12)) * (height - 30);
  g.strokeStyle = '#8888';
  g.setLineDash([]);
  g.strokeRect(50, 10, width - 60, height - 30);
  g.font = '12px system-ui';
  g.fillStyle = '#888';
  g.fillText(format(hi), 2, 16);
  g.fillText(format(lo), 2, height - 20);
  g.fillText(`step ${last}`, width - 60, height - 4);
  let legend = 60;
  for (const line of lines) {
    g.strokeStyle = line.color;
    g.fillStyle = line.color;
    g.setLineDash(line.dash ?? []);
    g.beginPath();
    line.points.forEach(([s, v], i) => (i ? g.lineTo(x(s), y(v)) : g.moveTo(x(s), y(v))));
    g.stroke();
    if (line.dots) for (const [s, v] of line.points) g.fillRect(x(s) - 2, y(v) - 2, 4, 4);
    if (line.label) {
      g.fillText(line.label, legend, height - 4);
      legend += g.measureText(line.label).width + 16;
    }
  }
  g.setLineDash([]);
}
