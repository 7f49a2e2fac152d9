// A tiny task scheduler: classes, closures, switch fall-through, try/catch/finally.
'use strict';

class Task {
  constructor(name, priority, run) {
    this.name = name;
    this.priority = priority;
    this.run = run;
    this.attempts = 0;
  }
}

class Scheduler {
  #queue = [];

  add(task) {
    this.#queue.push(task);
    this.#queue.sort((a, b) => b.priority - a.priority);
    return this;
  }

  runAll(maxAttempts = 3) {
    const results = { ok: [], failed: [] };
    while (this.#queue.length > 0) {
      const task = this.#queue.shift();
      if (task.priority < 0) {
        continue;
      }
      try {
        task.attempts += 1;
        task.run();
        results.ok.push(task.name);
      } catch (err) {
        if (task.attempts < maxAttempts) {
          this.#queue.push(task);
        } else {
          results.failed.push(`${task.name}: ${err.message}`);
        }
      } finally {
        if (results.failed.length > 5) {
          break;
        }
      }
    }
    return results;
  }
}

function describe(level) {
  let text = '';
  switch (level) {
    case 3:
      text += 'critical ';
    // falls through
    case 2:
      text += 'important ';
    // falls through
    case 1:
      text += 'task';
      break;
    default:
      return 'ignored';
  }
  return text;
}

function makeCounter() {
  let count = 0;
  return () => ++count;
}

const next = makeCounter();
const scheduler = new Scheduler();
scheduler
  .add(new Task('index', 2, () => next()))
  .add(new Task('flaky', 1, () => {
    if (next() % 2 === 0) throw new Error('flaked');
  }))
  .add(new Task('skipped', -1, () => null));
console.log(scheduler.runAll(), describe(3), describe(0));
