// What another request on the event loop waits while some work runs on it: a timer asks for the
// loop every millisecond, and each turn's lateness is how much later than asked it came.

/** Runs `work`; how late each turn of the loop came meanwhile (ms, sorted), and the seconds it took. */
export async function loopLatenessDuring(work: () => Promise<unknown>): Promise<{ lateness: number[]; seconds: number }> {
  const lateness: number[] = [];
  let running = true;
  let asked = performance.now();
  const ask = () => {
    lateness.push(performance.now() - asked - 1);
    asked = performance.now();
    if (running) setTimeout(ask, 1);
  };
  setTimeout(ask, 1);
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  running = false;
  // A copy: the timer's last turn still comes after this returns.
  return { lateness: [...lateness].sort((a, b) => a - b), seconds };
}
