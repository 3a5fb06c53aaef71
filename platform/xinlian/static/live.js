// Live worklist: the server sends a `change` event when the list would look different;
// we then fetch the rendered rows. EventSource reconnects by itself after a drop.
(function () {
  const body = document.getElementById("worklist-rows");
  const dot = document.getElementById("live");
  if (!body || !window.EventSource) return;
  let pending = false;
  async function refresh() {
    if (pending) return;
    pending = true;
    try {
      const r = await fetch("/worklist/rows", { headers: { Accept: "text/html" } });
      if (r.ok) body.innerHTML = await r.text();
    } finally { pending = false; }
  }
  const es = new EventSource("/events/worklist");
  es.addEventListener("change", refresh);
  es.onopen = () => dot && dot.classList.remove("off");
  es.onerror = () => dot && dot.classList.add("off");
})();
