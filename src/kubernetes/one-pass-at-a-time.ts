// Runs a controller's reconcile pass one at a time: a change during a pass asks for one more pass
// after it (however many changes came), so passes never overlap and none is lost.
export function onePassAtATime(pass: () => Promise<void>, active: () => boolean): () => void {
  let running = false;
  let again = false;
  const loop = async () => {
    running = true;
    try {
      do {
        again = false;
        await pass();
      } while (again && active());
    } finally {
      running = false;
    }
  };
  return () => {
    if (!active()) return;
    if (running) again = true;
    else void loop();
  };
}
