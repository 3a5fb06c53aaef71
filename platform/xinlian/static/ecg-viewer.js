// 12-lead viewer: standard paper layout (3 x 4 at 25 mm/s, 10 mm/mV) plus a lead II
// rhythm strip, drawn on a canvas from /api/v1/ecgs/{id}/signals (microvolts).
(function () {
  const canvas = document.getElementById("ecg");
  if (!canvas) return;
  const ctx = canvas.getContext("2d");
  const LAYOUT = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]];
  const PX_PER_MM = canvas.width / 250; // 10 s across the canvas width at 25 mm/s
  function grid() {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (let mm = 0; mm * PX_PER_MM < Math.max(canvas.width, canvas.height); mm++) {
      ctx.strokeStyle = mm % 5 === 0 ? "#f0b3b3" : "#fbe3e3";
      ctx.lineWidth = mm % 5 === 0 ? 1 : 0.5;
      const p = mm * PX_PER_MM;
      ctx.beginPath(); ctx.moveTo(p, 0); ctx.lineTo(p, canvas.height); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(0, p); ctx.lineTo(canvas.width, p); ctx.stroke();
    }
  }
  function trace(samples, fs, t0, t1, x0, y0) {
    ctx.beginPath();
    const start = Math.floor(t0 * fs), end = Math.min(samples.length, Math.floor(t1 * fs));
    for (let i = start; i < end; i++) {
      const x = x0 + ((i - start) / fs) * 25 * PX_PER_MM;
      const y = y0 - (samples[i] / 1000) * 10 * PX_PER_MM;
      if (i === start) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    }
    ctx.stroke();
  }
  function draw(sig) {
    grid();
    const idx = {};
    sig.lead_names.forEach((n, i) => { idx[n.toUpperCase()] = i; });
    const rowH = canvas.height / 4;
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1.1; ctx.fillStyle = "#000"; ctx.font = "14px sans-serif";
    const colW = canvas.width / 4, seg = 2.5;
    LAYOUT.forEach((row, r) => row.forEach((lead, c) => {
      const i = idx[lead.toUpperCase()];
      const y0 = rowH * r + rowH / 2;
      ctx.fillText(lead, colW * c + 4, rowH * r + 16);
      if (i !== undefined) trace(sig.data[i], sig.fs, seg * c, seg * (c + 1), colW * c, y0);
    }));
    const ii = idx["II"] !== undefined ? idx["II"] : 0;
    ctx.fillText(sig.lead_names[ii] || "II", 4, rowH * 3 + 16);
    trace(sig.data[ii], sig.fs, 0, 10, 0, rowH * 3 + rowH / 2);
    canvas.dataset.drawn = "1";
  }
  fetch(canvas.dataset.src, { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then(draw)
    .catch((e) => { grid(); ctx.fillStyle = "#c62828"; ctx.fillText("ECG load failed: " + e, 20, 40); });
})();
