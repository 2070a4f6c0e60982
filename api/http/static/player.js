// The clip page's player controls (issue 16 item 5): speed, frame steps, the capture time of
// the frame shown (the device's clock corrected by the offset observed at docking, UTC+8), and
// the keyframe strip as a seek bar. Without scripts the native controls remain.
"use strict";
(function () {
  const player = document.getElementById("player");
  const panel = document.getElementById("player-controls");
  if (!player || !panel) return;
  panel.hidden = false;
  const frame = 1 / Number(panel.dataset.fps || 25);
  const captured = Number(panel.dataset.captured);
  const clock = document.getElementById("player-time");
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  const show = () => {
    const at = new Date(captured + player.currentTime * 1000 + 8 * 3600 * 1000);
    clock.textContent = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-` +
      `${pad(at.getUTCDate())} ${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:` +
      `${pad(at.getUTCSeconds())}.${pad(at.getUTCMilliseconds(), 3)} (UTC+8)`;
  };
  player.addEventListener("timeupdate", show);
  player.addEventListener("seeked", show);
  show();
  document.getElementById("player-speed").addEventListener("change", (e) => {
    player.playbackRate = Number(e.target.value);
  });
  const step = (by) => {
    player.pause();
    player.currentTime = Math.max(0, Math.min(player.duration || 0, player.currentTime + by));
  };
  document.getElementById("frame-back").addEventListener("click", () => step(-frame));
  document.getElementById("frame-next").addEventListener("click", () => step(frame));
  const strip = document.getElementById("strip");
  if (strip) {
    strip.classList.add("seekable");
    strip.addEventListener("click", (e) => {
      const box = strip.getBoundingClientRect();
      if (player.duration) player.currentTime = player.duration * (e.clientX - box.left) / box.width;
    });
  }
})();
