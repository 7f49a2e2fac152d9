// An LRU cache with expiry: generics, interfaces, enums, switch fall-through, try/finally.

export interface Clock {
  now(): number;
}

export enum Policy {
  Strict,
  Lenient,
  Off,
}

interface Entry<V> {
  value: V;
  expires: number;
}

export class LruCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private hits = 0;
  private misses = 0;

  constructor(private capacity: number, private ttl: number, private clock: Clock) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    } else if (entry.expires <= this.clock.now()) {
      this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return entry.value;
  }

  set(key: K, value: V): void {
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expires: this.clock.now() + this.ttl });
  }

  stats(): { hits: number; misses: number } {
    return { hits: this.hits, misses: this.misses };
  }
}

export function allowedAge(policy: Policy): number {
  let age = 0;
  switch (policy) {
    case Policy.Lenient:
      age += 60;
    // falls through
    case Policy.Strict:
      age += 10;
      break;
    case Policy.Off:
      return Number.POSITIVE_INFINITY;
  }
  return age;
}

export function cached<T>(cache: LruCache<string, T>, key: string, load: () => T): T {
  const hit = cache.get(key);
  if (hit !== undefined) {
    return hit;
  }
  let value: T | undefined;
  try {
    value = load();
  } finally {
    if (value !== undefined) {
      cache.set(key, value as T);
    }
  }
  return value as T;
}
