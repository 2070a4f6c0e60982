// The 采集站 board, kept current by the server's events (/ui/stations/events): each event
// carries the whole board, rendered on the server; without scripts the page still shows it.
"use strict";
(function () {
  const board = document.getElementById("board");
  if (!board || !window.EventSource) return;
  const source = new EventSource(board.dataset.events);
  source.addEventListener("board", (event) => {
    board.innerHTML = event.data;
    board.dataset.updated = String(Date.now());
  });
})();
